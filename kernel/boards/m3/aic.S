/*
 * The Apple Interrupt Controller (AIC2 on M2, AIC3 on M3), driven as
 * Linux drives AICv2 (drivers/irqchip/irq-apple-aic.c aic_of_ic_init)
 * with AIC3's layout from the ADT as m1n1 reads it (src/aic.c
 * aic23_init): every IRQ masked and its software bit cleared, IRQ_CFG left
 * alone (on AIC2/3 its bits 3:0 are a route group and only 0 works: m1n1
 * proxyclient/experiments/aic2_vms.py; Linux and OpenBSD never write it),
 * then the global enable, bit 0 of the register at base + 0x14 (Linux
 * AIC2_CONFIG; m1n1's own M3 experiment dockchannel_irq.py sets it too,
 * m1n1's aic_init does not, so nothing guarantees it at hand-over).
 *
 * The one interrupt used is the console UART's, both directions on one
 * line, unmasked from board_irq_init on: the receive side always (the
 * console moves every byte into its ring at once, which is how a Ctrl-C
 * reaches a running word: kernel/console.S), the transmit side while
 * bytes wait in the console's TX ring (tx_pump).  The event read masks
 * the line, and the handler unmasks it again.  If no AIC was found, or the IRQ never comes,
 * the console's timed waits poll instead (counted: console-stats,
 * console-tx-stats).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

    .text

/*
 * board_irq_init: the AIC as above, and the UART as Linux's Apple S5L
 * driver sets it up (samsung_tty.c apple_s5l_serial_startup, enable_tx_pio):
 * FIFO mode with the TX interrupt at the FIFO empty (UFCON FIFO enable,
 * TX trigger 0; the FIFOs are not reset: bytes m1n1 left may still be on
 * their way), RX and TX in interrupt mode, every cause cleared, the RX
 * interrupts (threshold and timeout) on and TX's off: the console turns
 * that on while bytes wait in its ring (board_tx_arm).  Then the console's TX ring is on
 * (console_tx_mode).  From forth_cold, MMU on.  Clobbers x0-x7.
 */
    .globl board_irq_init
board_irq_init:
    mov     x7, x30
    bl      board_fiq_init              /* the FIQ sources this kernel does not use: quiet */
    mov     x30, x7
    ladr    x6, m3_state
    ldr     x0, [x6, #M3_UART]
    cbz     x0, 1f
    ldr     w1, [x0, #UFCON]
    bic     w1, w1, #UFCON_TXTRIG
    bic     w1, w1, #UFCON_RESETS
    orr     w1, w1, #UFCON_FIFO_ENA
    str     w1, [x0, #UFCON]
    ldr     w1, [x0, #UCON]
    bic     w1, w1, #UCON_MODES
    mov     w2, #UCON_MODES_IRQ
    orr     w1, w1, w2
    orr     w1, w1, #UCON_RXTO_ENA      /* the console always listens (Ctrl-C) */
    orr     w1, w1, #UCON_RXTHR_ENA
    bic     w1, w1, #UCON_TXTHR_ENA
    str     w1, [x0, #UCON]
    mov     w1, #UTRSTAT_IRQS
    str     w1, [x0, #UTRSTAT]
    str     xzr, [x6, #M3_TX_FRAME]     /* the line's timing, read again */
    bl      m3_tx_frame
    mov     x30, x7
    mov     x0, #1
    ladr    x1, console_tx_mode         /* the console's TX ring from here on */
    str     x0, [x1]
1:  ldr     x0, [x6, #M3_AIC]
    cbz     x0, 9f                      /* no AIC: the console polls */
    ldr     x1, [x6, #M3_AIC_MASKSET]   /* discovery left CAP0's offset here */
    ldr     w1, [x0, x1]
    and     w1, w1, #0xffff             /* IRQs implemented */
    str     x1, [x6, #M3_AIC_NRIRQ]
    ldr     x2, [x6, #M3_AIC_MASKCLR]   /* and MAXNUMIRQ's */
    ldr     w2, [x0, x2]
    and     w2, w2, #0xffff             /* max_irq: the layout's stride */
    /* after IRQ_CFG (a word per IRQ): SW_SET, SW_CLR, MASK_SET, MASK_CLR,
       HW_STATE, max_irq / 32 words each (m1n1 aic23_init) */
    ldr     x3, [x6, #M3_AIC_CFG]
    add     x3, x3, x2, lsl #2          /* SW_SET */
    lsr     x4, x2, #3                  /* bytes per bitmap: max_irq / 8 */
    add     x3, x3, x4                  /* SW_CLR */
    str     x3, [x6, #M3_AIC_SWCLR]
    add     x3, x3, x4
    str     x3, [x6, #M3_AIC_MASKSET]
    add     x3, x3, x4
    str     x3, [x6, #M3_AIC_MASKCLR]
    /* everything masked, no software IRQ pending */
    add     x1, x1, #31
    lsr     x1, x1, #5                  /* words in use */
    ldr     x3, [x6, #M3_AIC_MASKSET]
    ldr     x4, [x6, #M3_AIC_SWCLR]
    mov     w5, #-1
2:  cbz     x1, 3f
    str     w5, [x3], #4
    str     w5, [x4], #4
    sub     x1, x1, #1
    b       2b
3:  ldr     w1, [x0, #AIC_CONFIG]       /* the global enable */
    orr     w1, w1, #AIC_CONFIG_ENABLE
    str     w1, [x0, #AIC_CONFIG]
    dsb     sy
    /* the console's receive interrupt: unmasked by one store (kernel/
       console.S console_rx_unmask), if the UART has an IRQ the AIC has */
    ldr     x0, [x6, #M3_UART]
    cbz     x0, 9f
    ldr     x1, [x6, #M3_UART_BIT]
    cbz     x1, 9f
    ldr     x0, [x6, #M3_UART_IRQ]
    ldr     x2, [x6, #M3_AIC_NRIRQ]
    cmp     x0, x2
    b.hs    9f                          /* an IRQ this AIC does not have */
    ldr     x0, [x6, #M3_AIC_MASKCLR]
    ldr     x2, [x6, #M3_UART_WORD]
    add     x0, x0, x2
    ladr    x2, console_rx_unmask
    stp     x0, x1, [x2]
    str     w1, [x0]                    /* and unmasked: the console listens from here */
9:  ret

/*
 * board_rx_wait: the console found no byte: wait for one.  Here the
 * thread blocks until the UART's interrupt or the console's poll period
 * (kernel/console.S console_block).  Clobbers x0-x23.
 */
    .globl board_rx_wait
board_rx_wait:
    b       console_block

    .section .text.critical, "ax"

/* The UART's interrupt enables are changed by read-modify-write of UCON
   from thread context (below, in the critical section, where the UART's
   interrupt is deferred) and from its handler: never both at once. */

/*
 * board_rx_pause, board_rx_resume: the console's ring is full: the RX
 * interrupts (threshold and timeout) off, bytes left in the FIFO (the
 * UART's FIFO holds them, and the sender waits); room again: back on,
 * and a cause the FIFO's bytes raise comes at once.  From the console's
 * interrupt or the critical section.  Clobber x0-x2.
 */
    .globl board_rx_pause, board_rx_resume
board_rx_pause:
    ladr    x1, m3_state
    ldr     x1, [x1, #M3_UART]
    cbz     x1, 1f
    ldr     w0, [x1, #UCON]
    bic     w0, w0, #UCON_RXTO_ENA
    bic     w0, w0, #UCON_RXTHR_ENA
    str     w0, [x1, #UCON]
    mov     w0, #UTRSTAT_RXCAUSE
    str     w0, [x1, #UTRSTAT]
1:  ret
board_rx_resume:
    ladr    x1, m3_state
    ldr     x1, [x1, #M3_UART]
    cbz     x1, 1f
    ldr     w0, [x1, #UCON]
    orr     w0, w0, #UCON_RXTO_ENA
    orr     w0, w0, #UCON_RXTHR_ENA
    str     w0, [x1, #UCON]
1:  ret

/* board_tx_arm: the UART's TX threshold interrupt on: it fires when the
   FIFO has drained to its trigger level, an edge (samsung_tty.c
   enable_tx_pio), so the console arms it only with bytes in the FIFO.
   Clobbers x0, x1. */
    .globl board_tx_arm
board_tx_arm:
    ladr    x1, m3_state
    ldr     x1, [x1, #M3_UART]
    cbz     x1, 1f
    ldr     w0, [x1, #UCON]
    orr     w0, w0, #UCON_TXTHR_ENA
    str     w0, [x1, #UCON]
1:  ret

/* board_tx_disarm: off, and a cause it latched cleared (Linux
   s3c24xx_serial_stop_tx).  Clobbers x0, x1. */
    .globl board_tx_disarm
board_tx_disarm:
    ladr    x1, m3_state
    ldr     x1, [x1, #M3_UART]
    cbz     x1, 1f
    ldr     w0, [x1, #UCON]
    bic     w0, w0, #UCON_TXTHR_ENA
    str     w0, [x1, #UCON]
    mov     w0, #UTRSTAT_TXCAUSE
    str     w0, [x1, #UTRSTAT]
1:  ret

    .text

/*
 * board_uart_causes ( -- x0 = bit 0 an RX cause, bit 1 the TX cause ):
 * in the UART's interrupt: UTRSTAT's causes, cleared by writing them back
 * (Linux apple_serial_handle_irq).  The RX interrupts stay on: the
 * console's handler empties the FIFO (kernel/console.S rx_drain), which
 * is what drops the line.  Clobbers x0-x2.
 */
    .globl board_uart_causes
board_uart_causes:
    ladr    x1, m3_state
    ldr     x1, [x1, #M3_UART]
    mov     x0, #0
    cbz     x1, 9f
    ldr     w2, [x1, #UTRSTAT]
    mov     w0, #UTRSTAT_IRQS
    and     w2, w2, w0
    mov     x0, #0
    cbz     w2, 9f
    str     w2, [x1, #UTRSTAT]
    tst     w2, #UTRSTAT_TXCAUSE
    cset    x0, ne
    lsl     x0, x0, #1
    mov     w1, #UTRSTAT_RXCAUSE
    tst     w2, w1
    b.eq    9f
    orr     x0, x0, #1
9:  ret

/* board_tx_ticks ( -- x0 = counter ticks the TX FIFO takes to drain ):
   the console's TX wait's period (twice this).  Clobbers x0-x2. */
    .globl board_tx_ticks
board_tx_ticks:
    str     x30, [sp, #-16]!
    bl      m3_tx_frame
    lsl     x0, x0, #4                  /* UART_FIFO bytes */
    ldr     x30, [sp], #16
    ret

/*
 * aic_irq: vector 0x080 on m3.  Saves x0-x7, x29, x30 into the running
 * thread's TCB frame as the timer path does (kernel/percpu.inc tf_enter:
 * x0 = per-core, x7 = the frame), reads the event (which masks the IRQ it
 * names), and hands the console UART's interrupt (either direction) to
 * kernel/console.S.  Anything else would be an IRQ nobody unmasked:
 * returned from.  Uses x1-x4.
 */
/* bench: keystroke (budget 52500 cycles; from here: kernel/console.S console_uart_interrupt, the echo in kernel/fbcon.S fbcon_putc) */
    .globl aic_irq
aic_irq:
    tf_enter
    ladr    x2, m3_state
    ldr     x3, [x2, #M3_AIC_EVENT]
    ldr     w1, [x3]                    /* die 31:24, type 23:16, number 15:0 */
    ldr     x3, [x2, #M3_UART_IRQ]
    movz    w4, #AIC_EVENT_TYPE_HW, lsl #16
    orr     w3, w4, w3                  /* the UART's event: die 0, type HW */
    cmp     w1, w3
    b.eq    console_uart_interrupt      /* what is saved stays saved */
    tf_leave
