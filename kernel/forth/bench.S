/*
 * Benchmark support: one execution of an xt bracketed by the board's
 * counters (Apple PMC1/PMC0 on m3, which the emulated M3 serves from its
 * model; the ARM PMU on virt).  The driver is forth/90-bench.fth.
 */

/* bench-sample ( i*x xt -- j*x instructions cycles ) */
word "bench-sample", w_benchsample
    str     x30, [sp, #-32]!
    mov     x0, tos
    ldr     tos, [dsp], #8
    str     x0, [sp, #8]
    bl      board_instructions
    mov     x12, x0
    bl      board_cycles
    mov     x13, x0
    stp     x12, x13, [sp, #-16]!   /* counters survive the xt on the return stack */
    ldr     x0, [sp, #24]
    blr     x0
    bl      board_cycles
    mov     x13, x0
    bl      board_instructions
    ldp     x1, x2, [sp], #16
    sub     x0, x0, x1              /* instructions */
    sub     x13, x13, x2            /* cycles */
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x13
    ldr     x30, [sp], #32
    ret
endword w_benchsample
