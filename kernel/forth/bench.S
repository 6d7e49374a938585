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

/* bench-remap ( addr -- instructions cycles ) a TLB shootdown as a kernel
   pays it when it changes a live mapping: the 16 KiB page holding addr
   (page-mapped and valid: else THROW -9) broken and made again as it was
   (break-before-make): its level-3 entry zeroed, DSB ISHST, TLBI VAE2IS,
   DSB ISH (the TLBI complete on every core of the inner-shareable
   domain: every other running core has dropped the entry), then the
   entry written back, DSB ISHST, ISB.  The counters are read right before
   the break's store and right after the DSB ISH (cycles; the ISB the DSB
   needs comes before the instructions are read); the same pair of reads
   with nothing between is measured first and subtracted, so the figures
   are the window's alone.  Interrupts are masked throughout (the window
   is one core's, as in the kernel's own BBM sequences). */
/* bench: tlb_shootdown (budget 175 cycles; a live page remapped while every other core runs) */
word "bench-remap", w_benchremap
    str     x30, [sp, #-16]!
    mov     x0, tos
    bl      mmu_l3_entry            /* x1 = its level-3 entry, or 0 */
    cbz     x1, 9f
    ldr     x16, [x1]
    tbz     x16, #0, 9f             /* not valid: nothing to shoot down */
    mov     x17, x1
    lsr     x18, tos, #12           /* the TLBI's operand: VA >> 12 */
    mrs     x19, daif
    msr     daifset, #3
    bl      board_instructions      /* the bracket alone */
    mov     x12, x0
    bl      board_cycles
    mov     x13, x0
    bl      board_cycles
    mov     x14, x0
    isb                             /* as after the window's DSB */
    bl      board_instructions
    sub     x20, x0, x12            /* the bracket's instructions */
    sub     x21, x14, x13           /* and cycles */
    bl      board_instructions      /* the window */
    mov     x12, x0
    bl      board_cycles
    mov     x13, x0
    str     xzr, [x17]              /* break */
    dsb     ishst
    tlbi    vae2is, x18
    dsb     ish                     /* complete on every core */
    bl      board_cycles
    mov     x14, x0
    isb                             /* the new translation in use from here */
    bl      board_instructions
    str     x16, [x17]              /* make */
    dsb     ishst
    isb
    msr     daif, x19
    sub     x0, x0, x12
    sub     x0, x0, x20             /* instructions */
    sub     x14, x14, x13
    sub     x14, x14, x21           /* cycles */
    str     x0, [dsp, #-8]!
    mov     tos, x14
    ldr     x30, [sp], #16
    ret
9:  ldr     x30, [sp], #16
    mov     x0, #-9
    b       throw_x0
endword w_benchremap
