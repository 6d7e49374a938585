/*
 * Kernel console output: the routines the boot path, the exception
 * handlers and the Forth I/O words share.  Each clobbers x0-x4 only, so
 * callers keep their state in x5 and up.
 */
#include "macros.inc"
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

#ifndef AIC_BASE
/* console_getc ( -- x0 = byte ): polled here; on a board with an
   interrupt controller model the waiting thread sleeps until the UART's
   interrupt (kernel/irq.S).  Clobbers x0-x2 only. */
    .globl console_getc
console_getc:
    b       uart_getc
#endif

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
