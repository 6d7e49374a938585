/*
 * Board m3: console UART and the MMIO windows the identity map must cover.
 * Everything else in the kernel is shared with the other boards.
 */
#include "macros.inc"
#include BOARD_INC

    .text

/* uart_putc ( w0 = byte ): wait for room, then transmit. Clobbers x1, x2. */
    .globl uart_putc
uart_putc:
    movq    x1, UART_BASE
1:  ldr     w2, [x1, #UTRSTAT]
    tbz     w2, #1, 1b              /* TX buffer empty? */
    strb    w0, [x1, #UTXH]
    ret

/* uart_rx_ready ( -- x0 = 1 if a byte waits ). Clobbers x1. */
    .globl uart_rx_ready
uart_rx_ready:
    movq    x1, UART_BASE
    ldr     w0, [x1, #UTRSTAT]
    and     x0, x0, #UTRSTAT_RXDR
    ret

/* uart_getc ( -- x0 = byte ): wait for a byte. Clobbers x1, x2. */
    .globl uart_getc
uart_getc:
    movq    x1, UART_BASE
1:  ldr     w2, [x1, #UTRSTAT]
    tbz     w2, #0, 1b              /* RX data ready? */
    ldrb    w0, [x1, #URXH]
    ret

/*
 * Device windows for the identity map: (base, size) pairs, 32 MiB aligned
 * as the level-2 block mapping needs, ended by a zero size.  Mapped
 * Device-nGnRnE.
 */
    .section .rodata
    .balign 8
    .globl board_mmio
board_mmio:
    .quad   0x2A0000000, 0x2000000      /* UART0 and its neighbours */
    .quad   0x2D0000000, 0x2000000      /* AIC3, PMGR */
    .quad   0, 0

    .globl board_name
board_name:
    .asciz  BOARD_NAME
