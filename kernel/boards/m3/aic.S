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
 * The one interrupt used is the console UART's receive: a thread waiting
 * for a console byte (kernel/console.S console_block) unmasks it; the
 * event read masks it again.  If no AIC was found, or the IRQ never comes,
 * the console's timed wait polls instead (counted: console-stats).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

    .text

/*
 * board_irq_init: the AIC as above, and the UART raising its interrupt
 * when a byte is received (RX threshold and timeout, never TX).  From
 * forth_cold, MMU on.  Clobbers x0-x7.
 */
    .globl board_irq_init
board_irq_init:
    mov     x7, x30
    bl      board_fiq_init              /* the FIQ sources this kernel does not use: quiet */
    mov     x30, x7
    ladr    x6, m3_state
    ldr     x0, [x6, #M3_UART]
    cbz     x0, 1f
    ldr     w1, [x0, #UCON]
    orr     w1, w1, #UCON_RXTO_ENA
    orr     w1, w1, #UCON_RXTHR_ENA
    bic     w1, w1, #UCON_TXTHR_ENA
    str     w1, [x0, #UCON]
    mov     w1, #UTRSTAT_IRQS
    str     w1, [x0, #UTRSTAT]
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
9:  ret

/*
 * board_rx_wait: the console found no byte: wait for one.  Here the
 * thread blocks until the UART's interrupt or the console's poll period
 * (kernel/console.S console_block).  Clobbers x0-x23.
 */
    .globl board_rx_wait
board_rx_wait:
    b       console_block

/*
 * board_rx_prepare ( -- x0 = 1 if a byte is already there ): before the
 * console sleeps: the UART's old interrupt causes cleared, then one more
 * look (a byte that came meanwhile would raise no new interrupt).
 * Clobbers x0, x1.
 */
    .globl board_rx_prepare
board_rx_prepare:
    ladr    x1, m3_state
    ldr     x1, [x1, #M3_UART]
    mov     x0, #0
    cbz     x1, 1f
    mov     w0, #UTRSTAT_IRQS
    str     w0, [x1, #UTRSTAT]
    ldr     w0, [x1, #UTRSTAT]
    and     x0, x0, #UTRSTAT_RXDR
1:  ret

/*
 * aic_irq: vector 0x080 on m3.  Saves the frame as the timer path does
 * (x0-x30, SP_EL0, ELR, SPSR), reads the event (which masks the IRQ it
 * names), and hands the console's interrupt to kernel/console.S.
 * Anything else would be an IRQ nobody unmasked: returned from.
 */
    .globl aic_irq
aic_irq:
    frame_push
    ladr    x2, m3_state
    ldr     x3, [x2, #M3_AIC_EVENT]
    ldr     w1, [x3]                    /* die 31:24, type 23:16, number 15:0 */
    ldr     x3, [x2, #M3_UART_IRQ]
    movz    w4, #AIC_EVENT_TYPE_HW, lsl #16
    orr     w3, w4, w3                  /* the UART's event: die 0, type HW */
    cmp     w1, w3
    b.eq    console_rx_interrupt        /* the frame stays on the stack */
    frame_pop_eret
