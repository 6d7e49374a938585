/*
 * QUIT: the console.  Read a line, interpret it under CATCH, print " ok"
 * (" compiled" inside a definition) or the error, and again; after an
 * error the stacks are emptied and a half-made definition removed.
 */

/* quit ( -- ) ( R: i*x -- ) empty the return stack, interpret from the
   console */
word "quit", w_quit
    str     xzr, [up, #U_STATE]
    b       quit_restart
endword w_quit

/* Console transcript words used by QUIT and the boot. */

/* prompt: " ok" after a line interpreted, " compiled" inside a definition */
print_prompt:
    mov     x5, x30
    ldr     x0, [up, #U_STATE]
    ladr    x1, msg_ok
    ladr    x2, msg_compiled
    cmp     x0, #0
    csel    x0, x1, x2, eq
    bl      console_puts
    bl      console_newline
    ret     x5

/*
 * quit: the console.  Empties the return stack, then forever: read a line,
 * interpret it under CATCH, print " ok" or the error.  After an error the
 * data stack is emptied, a half-made definition is removed and the
 * interpreter is back in interpretation state; the dictionary is intact.
 */
    .globl quit
quit:
    current_tcb x0        /* the thread Ctrl-C interrupts (kernel/console.S) */
    ladr    x1, console_thread
    str     x0, [x1]
quit_restart:
    ldr     x0, [up, #U_R0]
    mov     sp, x0
    str     xzr, [up, #U_HANDLER]
    str     xzr, [up, #U_SOURCEID]
    mov     lix, #0
    mov     llim, #0
1:  ladr    x0, w_refill
    dpush   x0
    bl      w_catch
    cbnz    tos, 5f
    ldr     tos, [dsp], #8          /* the 0 from catch */
    ldr     tos, [dsp], #8          /* refill's flag (always true here) */
    mov     x0, #' '                /* the transcript: input, space, output */
    bl      console_putc
    ladr    x0, w_interpret
    dpush   x0
    bl      w_catch
    cbnz    tos, 5f
    ldr     tos, [dsp], #8
    bl      print_prompt
    b       1b
5:  mov     x0, tos
    bl      report_error
    bl      console_newline
    bl      reset_after_error
    b       1b

/* reset_after_error: empty the data stack, drop a half-made definition,
   back to interpretation state and decimal-preserving defaults */
    .globl reset_after_error
reset_after_error:
    ldr     dsp, [up, #U_S0]
    mov     tos, #0
    str     xzr, [up, #U_STATE]
    str     xzr, [up, #U_SOURCEID]
    ladr    x1, colon_state
    ldr     x2, [x1, #24]
    cbz     x2, 1f
    mov     x10, x30
    ldr     x2, [x1]                /* HERE and LATEST as before the : */
    ladr    x3, dp
    str     x2, [x3]
    ldr     x0, [x1, #8]
    bl      dict_forget_to
    ladr    x1, colon_state
    stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    mov     x30, x10
1:  ret

    .section .rodata
msg_ok:         .asciz " ok"
msg_compiled:   .asciz " compiled"
    .text
