/*
 * Exception vectors (VBAR_EL2).
 *
 * Forth runs in EL2t (SP_EL0), so its faults arrive at the "current EL,
 * SP0" entries and are handled on SP_EL2, which a broken Forth stack
 * cannot touch.  A fault in Forth becomes a THROW: the console prints the
 * standard message with the decoded cause and carries on.  A fault in the
 * kernel itself (EL2h, on SP_EL2) is a panic: a full report on the
 * console, then the core halts at kernel_halted, where the emulated M3
 * reports it too.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

.macro save_frame
    frame_push                          /* kernel/percpu.inc: EF_* is its layout */
    mrs     x0, esr_el2
    mrs     x1, far_el2
    stp     x0, x1, [sp, #EF_ESR]
.endm

.macro ventry target
    .balign 0x80
    b       \target
.endm

    .text
    .balign 2048
    .globl vectors
vectors:
    ventry  el2_sync_sp0        /* current EL, SP0: Forth threads (soft page
                                   faults first: kernel/domain.S) */
    ventry  board_irq_vector    /* IRQ: the timer on virt (GIC); the AIC on m3 */
    ventry  timer_from_thread   /* FIQ on Apple cores: the timers, fast IPIs, the PMU
                                   (board_timer_ack acknowledges all but the timer) */
    ventry  unexpected_serror
    ventry  kernel_sync         /* current EL, SPx: the kernel itself */
    ventry  unexpected_irq
    ventry  unexpected_fiq
    ventry  unexpected_serror
    ventry  domain_sync         /* lower EL, AArch64: domains (kernel/domain.S) */
    ventry  domain_interrupt
    ventry  domain_interrupt
    ventry  domain_serror
    ventry  unexpected_lower    /* lower EL, AArch32: never */
    ventry  unexpected_lower
    ventry  unexpected_lower
    ventry  unexpected_lower

/*
 * A synchronous exception in Forth: record it, pick the THROW code and
 * return into throw_x0 (still in EL2t) with it.
 */
    .globl forth_sync
forth_sync:
    save_frame
    ldr     x0, [sp, #EF_ESR]
    lsr     x1, x0, #26
    cmp     x1, #0x07                   /* FP/SIMD trapped: switched lazily */
    b.eq    fp_trap
    ldr     x1, [sp, #EF_FAR]
    ldr     x2, [sp, #EF_ELR]
    ladr    x3, fault_info
    mov     x4, #1
    stp     x4, x0, [x3]
    stp     x1, x2, [x3, #16]
    lsr     x4, x0, #26             /* EC */
    mov     x5, #-9                 /* aborts: invalid memory address */
    cmp     x4, #0x00
    mov     x6, #-256               /* undefined instruction */
    csel    x5, x6, x5, eq
    cmp     x4, #0x3c
    mov     x6, #-258               /* BRK */
    csel    x5, x6, x5, eq
    mov     x6, #-23                /* PC or SP alignment */
    cmp     x4, #0x22
    csel    x5, x6, x5, eq
    cmp     x4, #0x26
    csel    x5, x6, x5, eq
    /* a data abort in a stack's guard page is that stack's over- or
       underflow: 16 KiB below its limit or above its base */
    cmp     x4, #0x25
    b.ne    1f
    mov     x8, #16384
    ldr     x7, [up, #U_RLIMIT]
    sub     x6, x7, x1
    sub     x6, x6, #1
    cmp     x6, x8
    mov     x6, #-5                 /* return stack overflow */
    csel    x5, x6, x5, lo
    ldr     x7, [up, #U_R0]
    sub     x6, x1, x7
    cmp     x6, x8
    mov     x6, #-6                 /* return stack underflow */
    csel    x5, x6, x5, lo
    ldr     x7, [up, #U_SLIMIT]
    sub     x6, x7, x1
    sub     x6, x6, #1
    cmp     x6, x8
    mov     x6, #-3                 /* data stack overflow */
    csel    x5, x6, x5, lo
    ldr     x7, [up, #U_S0]
    sub     x6, x1, x7
    cmp     x6, x8
    mov     x6, #-4                 /* data stack underflow */
    csel    x5, x6, x5, lo
1:  str     x5, [sp, #EF_X(0)]
    ladr    x0, throw_x0
    msr     elr_el2, x0
    ldp     x0, x1, [sp, #EF_X(0)]
    ldp     x2, x3, [sp, #EF_X(2)]
    ldp     x4, x5, [sp, #EF_X(4)]
    ldp     x6, x7, [sp, #EF_X(6)]
    add     sp, sp, #EF_SIZE
    eret

/* A synchronous exception in the kernel itself: panic. */
kernel_sync:
    save_frame
    ladr    x0, msg_kernel_fault
    b       panic

unexpected_irq:
    save_frame
    ladr    x0, msg_irq
    b       panic
unexpected_fiq:
    save_frame
    ladr    x0, msg_fiq
    b       panic
unexpected_serror:
    save_frame
    ladr    x0, msg_serror
    b       panic
unexpected_lower:
    save_frame
    ladr    x0, msg_lower
    b       panic

/*
 * panic ( x0 = what, frame on SP_EL2 ): print the cause, ESR decoded,
 * ELR, FAR and all registers, then halt.
 */
panic:
    mov     x19, x0
    mov     x20, sp
    bl      console_newline
    ladr    x0, msg_panic
    bl      console_puts
    mov     x0, x19
    bl      console_puts
    ladr    x0, msg_ec
    bl      console_puts
    ldr     x0, [x20, #EF_ESR]
    lsr     x0, x0, #26
    bl      ec_text
    bl      console_puts
    ladr    x0, msg_esr
    bl      console_puts
    ldr     x0, [x20, #EF_ESR]
    bl      console_hex
    ladr    x0, msg_elr
    bl      console_puts
    ldr     x0, [x20, #EF_ELR]
    bl      console_hex
    ladr    x0, msg_far
    bl      console_puts
    ldr     x0, [x20, #EF_FAR]
    bl      console_hex
    bl      console_newline
    mov     x21, #0                 /* registers, four to a line */
1:  mov     x0, #'x'
    bl      console_putc
    mov     x0, x21
    bl      console_dec
    mov     x0, #'='
    bl      console_putc
    ldr     x0, [x20, x21, lsl #3]
    bl      console_hex
    add     x21, x21, #1
    tst     x21, #3
    b.ne    2f
    bl      console_newline
    b       3f
2:  mov     x0, #' '
    bl      console_putc
3:  cmp     x21, #31
    b.lo    1b
    bl      console_newline
    .globl kernel_halted
kernel_halted:                      /* the emulated M3 stops and reports here */
    wfi
    b       kernel_halted

    .section .rodata
msg_panic:          .asciz "KERNEL PANIC: "
msg_kernel_fault:   .asciz "synchronous exception in the kernel"
msg_irq:            .asciz "unexpected IRQ"
msg_fiq:            .asciz "unexpected FIQ"
msg_serror:         .asciz "SError"
msg_lower:          .asciz "exception from a lower exception level"
msg_ec:             .asciz "\r\n  class: "
msg_esr:            .asciz " (ESR "
msg_elr:            .asciz ")\r\n  ELR "
msg_far:            .asciz "  FAR "
