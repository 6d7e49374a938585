/*
 * Kernel console output: the routines the boot path, the exception
 * handlers and the Forth I/O words share.  Each clobbers x0-x4 only, so
 * callers keep their state in x5 and up.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

    .text

/* console_putc ( w0 = byte ): the UART, mirrored on the screen
   (kernel/fbcon.S).  Clobbers x0-x2 only. */
    .globl console_putc
console_putc:
    str     x30, [sp, #-16]!
    bl      uart_putc
    ldr     x30, [sp], #16
    b       fbcon_putc

/*
 * Console input.  console_getc takes a byte from the UART if one is there;
 * otherwise the board waits (board_rx_wait): on a board with the UART's
 * receive interrupt (m3) that is console_block below, a timed sleep that
 * the interrupt ends early; on virt a poll of the FIFO.
 *
 * The timed sleep is what keeps a dead interrupt path from making the
 * console deaf (an AIC that is not enabled, an IRQ routed where nothing
 * delivers it): every POLL_MS the thread wakes and looks at the UART
 * itself.  A byte found that way came without its interrupt: counted in
 * console_stats (the Forth word console-stats shows them).
 */
#define POLL_MS     10

    .data
    .balign 8
    .globl rx_waiter, console_rx_unmask, console_stats
rx_waiter:  .quad 0             /* the thread waiting for a console byte */
console_rx_unmask:              /* the store that unmasks the UART's interrupt */
    .quad   0, 0                /*   (address, 32-bit value; 0: no interrupt) */
console_stats:
    .quad   0, 0, 0             /* wake-ups by the interrupt, by the poll period,
                                   bytes found by polling */

    .text

/*
 * console_getc ( -- x0 = byte ): a byte from the console.  Clobbers x0-x2
 * only (read_line keeps its state in x5-x9), so the wait saves what a
 * thread switch clobbers.
 */
    .globl console_getc
console_getc:
    stp     x29, x30, [sp, #-16]!
1:  bl      uart_rx_ready
    cbz     x0, 2f
    bl      uart_getc
    ldp     x29, x30, [sp], #16
    ret
2:  sub     sp, sp, #176
    stp     x3, x4, [sp, #0]
    stp     x5, x6, [sp, #16]
    stp     x7, x8, [sp, #32]
    stp     x9, x10, [sp, #48]
    stp     x11, x12, [sp, #64]
    stp     x13, x14, [sp, #80]
    stp     x15, x16, [sp, #96]
    stp     x17, x19, [sp, #112]
    stp     x20, x21, [sp, #128]
    stp     x22, x23, [sp, #144]
    sub     x0, up, #T_USER
    str     xzr, [x0, #T_RESULT]        /* set to -1 if the poll period ends the wait */
    bl      board_rx_wait
    sub     x0, up, #T_USER
    ldr     x0, [x0, #T_RESULT]
    str     x0, [sp, #160]
    ldp     x3, x4, [sp, #0]
    ldp     x5, x6, [sp, #16]
    ldp     x7, x8, [sp, #32]
    ldp     x9, x10, [sp, #48]
    ldp     x11, x12, [sp, #64]
    ldp     x13, x14, [sp, #80]
    ldp     x15, x16, [sp, #96]
    ldp     x17, x19, [sp, #112]
    ldp     x20, x21, [sp, #128]
    ldp     x22, x23, [sp, #144]
    ldr     x0, [sp, #160]
    add     sp, sp, #176
    cbz     x0, 1b                      /* the interrupt woke us, or no timed wait */
    bl      uart_rx_ready
    cbz     x0, 1b
    ladr    x1, console_stats           /* a byte there, and no interrupt for it */
    ldr     x2, [x1, #16]
    add     x2, x2, #1
    str     x2, [x1, #16]
    b       1b

    .section .text.critical, "ax"

/*
 * console_block: wait for the UART's interrupt, at most POLL_MS, unless
 * a byte is already there (board_rx_prepare).  From console_getc (via
 * board_rx_wait) in thread context.  Returns when woken, or at once.
 * Clobbers x0-x23.
 */
    .globl console_block
console_block:
    mrs     x9, tpidr_el2
    ladr    x1, rx_waiter
    ldr     x2, [x1]
    cbnz    x2, thread_yield            /* another thread waits: take turns */
    mov     x20, x30                    /* the switch returns to our caller */
    bl      board_rx_prepare
    mov     x30, x20
    cbnz    x0, critical_exit           /* a byte came meanwhile */
    sub     x10, up, #T_USER
    ladr    x1, rx_waiter
    str     x10, [x1]
    mov     x2, #TS_INPUT
    str     x2, [x10, #T_STATE]
    mrs     x0, cntfrq_el0              /* the deadline: now + POLL_MS */
    mov     x1, #(1000 / POLL_MS)
    udiv    x0, x0, x1
    mrs     x1, cntpct_el0
    add     x0, x0, x1
    str     x0, [x10, #T_DEADLINE]
    bl      sleeper_insert
    ladr    x16, console_rx_unmask      /* from here the IRQ may come: deferred */
    ldp     x16, x17, [x16]
    cbz     x16, 1f
    str     w17, [x16]
1:  mov     x30, x20
    b       block_current

    .text

/*
 * console_rx_interrupt: the board's IRQ handler found the UART's receive
 * interrupt (the frame pushed by frame_push on the exception stack; the
 * board's event read has masked the IRQ).  Inside a critical section it
 * only defers (byte 1 of PC_PENDING: release_deferred unmasks it on the
 * section's way out, and the interrupt comes back at once).  Otherwise
 * the waiter is made ready and, if it outranks the interrupted thread,
 * runs now (the interrupted one keeps its place at the front, as with
 * the timer).
 */
    .globl console_rx_interrupt
console_rx_interrupt:
    mrs     x9, tpidr_el2
    ldr     x0, [sp, #XF_ELR]
    outside_critical x0, 1f             /* inside a critical section: defer */
    mov     w1, #1
    strb    w1, [x9, #(PC_PENDING + 1)]
    b       8f
1:  ladr    x1, rx_waiter
    ldr     x10, [x1]
    cbz     x10, 8f
    str     xzr, [x1]
    bl      sleeper_remove_x10          /* its poll deadline is moot */
    ladr    x1, console_stats
    ldr     x2, [x1]
    add     x2, x2, #1
    str     x2, [x1]
    enqueue_tail x10
    ldr     x11, [x9, #PC_CURRENT]
    ldr     x2, [x10, #T_PRIO]
    ldr     x3, [x11, #T_PRIO]
    cmp     x2, x3
    b.gt    2f
8:  frame_pop_eret
2:  frame_to_tcb x11
    enqueue_head x11
    dequeue_best x0
    b       resume_from_handler

/* console_rx_timeout ( x10 = the waiter, whose poll deadline passed ):
   from the timer interrupt, which makes it ready.  Clobbers x1, x2. */
    .globl console_rx_timeout
console_rx_timeout:
    ladr    x1, rx_waiter
    str     xzr, [x1]
    mov     x2, #-1
    str     x2, [x10, #T_RESULT]
    ladr    x1, console_stats
    ldr     x2, [x1, #8]
    add     x2, x2, #1
    str     x2, [x1, #8]
    ret

/* console_newline: CR LF, what serial terminals expect */
    .globl console_newline
console_newline:
    mov     x4, x30
    mov     x0, #'\r'
    bl      console_putc
    mov     x0, #'\n'
    bl      console_putc
    ret     x4

/* console_write ( x0 = address, x1 = length ) */
    .globl console_write
console_write:
    mov     x4, x30
    mov     x3, x0
    add     x1, x0, x1
    stp     x1, x4, [sp, #-16]!
1:  ldr     x1, [sp]
    cmp     x3, x1
    b.hs    2f
    ldrb    w0, [x3], #1
    bl      console_putc
    b       1b
2:  ldp     x1, x4, [sp], #16
    ret     x4

/* console_puts ( x0 = NUL-terminated string ) */
    .globl console_puts
console_puts:
    mov     x4, x30
    mov     x3, x0
1:  ldrb    w0, [x3], #1
    cbz     w0, 2f
    bl      console_putc
    b       1b
2:  ret     x4

/* console_hex ( x0 = value ): "0x" and the hex digits, no leading zeros */
    .globl console_hex
console_hex:
    str     x30, [sp, #-16]!
    mov     x3, x0
    mov     x0, #'0'
    bl      console_putc
    mov     x0, #'x'
    bl      console_putc
    orr     x4, x3, #1
    clz     x4, x4
    mov     x0, #63
    sub     x4, x0, x4              /* highest set bit */
    and     x4, x4, #~3             /* shift of the leading digit */
1:  lsr     x0, x3, x4
    and     x0, x0, #15
    cmp     x0, #10
    add     x1, x0, #'0'
    add     x0, x0, #('a' - 10)
    csel    x0, x1, x0, lo
    bl      console_putc
    subs    x4, x4, #4
    b.pl    1b
    ldr     x30, [sp], #16
    ret

/* console_dec ( x0 = unsigned value ): decimal digits */
    .globl console_dec
console_dec:
    str     x30, [sp, #-48]!
    add     x3, sp, #40             /* digits are built downwards */
    mov     x4, #10
1:  udiv    x1, x0, x4
    msub    x2, x1, x4, x0
    add     x2, x2, #'0'
    strb    w2, [x3, #-1]!
    mov     x0, x1
    cbnz    x0, 1b
2:  ldrb    w0, [x3], #1
    bl      console_putc
    add     x0, sp, #40
    cmp     x3, x0
    b.lo    2b
    ldr     x30, [sp], #48
    ret
