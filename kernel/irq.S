/*
 * Device interrupts on boards with an AIC (m3): the UART's receive
 * interrupt wakes the thread waiting for a console byte.
 *
 * The console's KEY (console_getc) reads the UART if a byte is there;
 * otherwise the thread names itself the waiter, unmasks the UART's IRQ at
 * the AIC and blocks (state TS_INPUT).  The byte's interrupt (vector 0x080,
 * IRQ) reads the AIC event, which masks the IRQ again, makes the waiter
 * ready and, if it outranks the interrupted thread, switches to it at once
 * (the interrupted thread keeps its place at the front of its queue, as
 * with the timer).  One interrupt per wait: the IRQ stays masked until the
 * next wait, so a stream of typed bytes costs no interrupts while the
 * console is busy with them.
 *
 * Interrupt context touches the ready queues, so it follows kernel/
 * thread.S's rule: if the interrupted PC is inside .text.critical, the
 * handler changes nothing; it leaves the IRQ masked, notes byte 1 of
 * PC_PENDING, and the section's exit (critical_exit, or the resume paths)
 * unmasks it at the AIC: the line is still high, so the interrupt comes
 * back at once, outside the section.
 *
 * The virt board keeps polling (its IRQ vector is the GIC timer path).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#ifdef AIC_BASE


    .data
    .balign 8
    .globl rx_waiter
rx_waiter:  .quad 0             /* the thread waiting for a console byte */

    .text

/*
 * board_irq_init: the UART raises its interrupt when a byte is received
 * (RX threshold and timeout, never TX), and the AIC routes IRQ 757 to this
 * core, masked until someone waits.  Clobbers x0-x2.
 */
    .globl board_irq_init
board_irq_init:
    movq    x0, UART_BASE
    ldr     w1, [x0, #UCON]
    orr     w1, w1, #UCON_RXTO_ENA
    orr     w1, w1, #UCON_RXTHR_ENA
    bic     w1, w1, #UCON_TXTHR_ENA
    str     w1, [x0, #UCON]
    mov     w1, #UTRSTAT_IRQS
    str     w1, [x0, #UTRSTAT]
    movq    x0, (AIC_BASE + AIC_MASK_SET + AIC_UART_WORD)
    mov     w1, #AIC_UART_BIT
    str     w1, [x0]
    movq    x0, (AIC_BASE + AIC_CONFIG + 4 * UART_IRQ)
    mov     w1, #1                      /* target: CPU 0 (bits 3:0) */
    str     w1, [x0]
    ret

/*
 * console_getc ( -- x0 = byte ): a byte from the UART; while there is
 * none, sleep until its interrupt.  Clobbers x0-x2 only (read_line keeps
 * its state in x5-x9), so the wait saves what a switch clobbers.
 */
    .globl console_getc
console_getc:
    movq    x1, UART_BASE
    ldr     w2, [x1, #UTRSTAT]
    tbz     w2, #0, 1f                  /* RX data ready? */
    ldrb    w0, [x1, #URXH]
    ret
1:  stp     x29, x30, [sp, #-176]!
    stp     x3, x4, [sp, #16]
    stp     x5, x6, [sp, #32]
    stp     x7, x8, [sp, #48]
    stp     x9, x10, [sp, #64]
    stp     x11, x12, [sp, #80]
    stp     x13, x14, [sp, #96]
    stp     x15, x16, [sp, #112]
    stp     x17, x19, [sp, #128]
    stp     x20, x21, [sp, #144]
    stp     x22, x23, [sp, #160]
    mrs     x9, tpidr_el2
    bl      rx_block
    ldp     x3, x4, [sp, #16]
    ldp     x5, x6, [sp, #32]
    ldp     x7, x8, [sp, #48]
    ldp     x9, x10, [sp, #64]
    ldp     x11, x12, [sp, #80]
    ldp     x13, x14, [sp, #96]
    ldp     x15, x16, [sp, #112]
    ldp     x17, x19, [sp, #128]
    ldp     x20, x21, [sp, #144]
    ldp     x22, x23, [sp, #160]
    ldp     x29, x30, [sp], #176
    b       console_getc

    .section .text.critical, "ax"

/*
 * rx_block ( x9 ): wait for the UART's interrupt, unless a byte is
 * already there.  Returns when woken (or at once).  Clobbers x0-x23.
 */
rx_block:
    ladr    x1, rx_waiter
    ldr     x2, [x1]
    cbnz    x2, 8f                      /* another thread waits: take turns */
    movq    x3, UART_BASE
    mov     w4, #UTRSTAT_IRQS           /* old interrupt causes: gone */
    str     w4, [x3, #UTRSTAT]
    ldr     w4, [x3, #UTRSTAT]
    tbnz    w4, #0, 9f                  /* a byte came meanwhile */
    sub     x10, up, #T_USER
    str     x10, [x1]
    mov     x2, #TS_INPUT
    str     x2, [x10, #T_STATE]
    movq    x3, (AIC_BASE + AIC_MASK_CLR + AIC_UART_WORD)
    mov     w4, #AIC_UART_BIT
    str     w4, [x3]                    /* from here the IRQ may come: deferred */
    b       block_current
8:  b       thread_yield
9:  b       critical_exit

    .text

/*
 * irq_from_thread: vector 0x080 on m3 (board_irq_vector).  Saves the frame
 * as the timer path does (x0-x30, SP_EL0, ELR, SPSR), so a preempted
 * thread's frame moves into its TCB the same way.
 */
    .globl irq_from_thread
irq_from_thread:
    frame_push
    movq    x2, (AIC_BASE + AIC_EVENT)
    ldr     w1, [x2]                    /* the event; the AIC masks that IRQ */
    and     w1, w1, #0xffffff           /* type and number (die 0) */
    movz    w3, #(AIC_EVENT_HW >> 16), lsl #16
    add     w3, w3, #UART_IRQ
    cmp     w1, w3
    b.ne    irq_return                  /* nothing else is unmasked: spurious */
    mrs     x9, tpidr_el2
    outside_critical x0, 1f             /* inside a critical section: defer */
    mov     w1, #1
    strb    w1, [x9, #(PC_PENDING + 1)] /* byte 1: unmask at the section's exit */
    b       irq_return
1:  ladr    x1, rx_waiter
    ldr     x10, [x1]
    cbz     x10, irq_return
    str     xzr, [x1]
    enqueue_tail x10
    ldr     x11, [x9, #PC_CURRENT]
    ldr     x2, [x10, #T_PRIO]
    ldr     x3, [x11, #T_PRIO]
    cmp     x2, x3
    b.gt    2f
irq_return:
    frame_pop_eret
2:  /* the woken thread outranks the interrupted one: switch now */
    frame_to_tcb x11
    enqueue_head x11
    dequeue_best x0
    b       resume_from_handler

#endif /* AIC_BASE */
