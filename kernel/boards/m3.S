/*
 * Board m3: console UART and the MMIO windows the identity map must cover.
 * Everything else in the kernel is shared with the other boards.
 */
#include "macros.inc"
#include BOARD_INC

/* boot_args offsets (XNU layout, shared/spec/m1n1-boot.md) */
#define BA_REVISION     0x00
#define BA_PHYS_BASE    0x10
#define BA_MEM_SIZE     0x18
#define BA_TOP_KDATA    0x20
#define BA_VIDEO_BASE   0x28
#define BA_VIDEO_STRIDE 0x38
#define BA_VIDEO_WIDTH  0x40
#define BA_VIDEO_HEIGHT 0x48
#define BA_VIDEO_DEPTH  0x50
#define BA_CMDLINE      0x6c            /* not 0x70: m1n1 passes the bytes as XNU lays them */

    .text

/*
 * board_boot_info ( x0 = what m1n1 passed: boot_args ): fill boot_info
 * with memory, free RAM (16 KiB aligned above everything m1n1 put after
 * the image), the command line and the framebuffer.  Clobbers x0-x3.
 */
    .globl board_boot_info
board_boot_info:
    ladr    x1, boot_info
    ldr     x2, [x0, #BA_PHYS_BASE]
    str     x2, [x1, #BI_PHYS_BASE]
    ldr     x3, [x0, #BA_MEM_SIZE]
    str     x3, [x1, #BI_MEM_SIZE]
    add     x3, x2, x3
    str     x3, [x1, #BI_MEM_END]
    ldr     x2, [x0, #BA_TOP_KDATA]
    mov     x3, #0x3fff
    add     x2, x2, x3
    and     x2, x2, #~0x3fff
    str     x2, [x1, #BI_FREE]
    str     x2, [x1, #BI_FREE0]
    add     x2, x0, #BA_CMDLINE
    str     x2, [x1, #BI_CMDLINE]
    ldr     x2, [x0, #BA_VIDEO_BASE]
    str     x2, [x1, #BI_FB_BASE]
    ldr     x2, [x0, #BA_VIDEO_STRIDE]
    str     x2, [x1, #BI_FB_STRIDE]
    ldr     x2, [x0, #BA_VIDEO_WIDTH]
    str     x2, [x1, #BI_FB_WIDTH]
    ldr     x2, [x0, #BA_VIDEO_HEIGHT]
    str     x2, [x1, #BI_FB_HEIGHT]
    ldr     x2, [x0, #BA_VIDEO_DEPTH]
    str     x2, [x1, #BI_FB_DEPTH]
    ret

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

/*
 * Counters for the benchmark words: the Apple PMU.  PMC0 counts core
 * cycles, PMC1 retired instructions once PMCR0 enables them (bits 0 and 1).
 * In the emulated M3 the harness serves these registers from its model.
 */
#define PMCR0_EL1   S3_1_C15_C0_0
#define PMCR1_EL1   S3_1_C15_C1_0       /* which exception levels count */
#define PMC0_EL1    S3_2_C15_C0_0
#define PMC1_EL1    S3_2_C15_C1_0

    .text
    .globl board_counters_init
board_counters_init:
    mrs     x0, PMCR1_EL1
    movz    x1, #0x0303             /* PMC0/PMC1 count at EL0 (bits 8-9) and */
    movk    x1, #0x0003, lsl #16    /* EL1/EL2 (bits 16-17): UNVERIFIED on M3 */
    orr     x0, x0, x1
    msr     PMCR1_EL1, x0
    mrs     x0, PMCR0_EL1
    orr     x0, x0, #3              /* enable PMC0 (cycles) and PMC1 (instructions) */
    msr     PMCR0_EL1, x0
    isb
    ret

/* board_cycles ( -- x0 ) */
    .globl board_cycles
board_cycles:
    mrs     x0, PMC0_EL1
    ret

/* board_instructions ( -- x0 ) */
    .globl board_instructions
board_instructions:
    mrs     x0, PMC1_EL1
    ret

/*
 * board_poweroff: nothing to switch off through m1n1's proxy, so the core
 * parks here; the emulated M3 ends the run cleanly when it arrives.
 */
    .globl board_poweroff
board_poweroff:
    msr     daifset, #0xf
    .globl powered_off
powered_off:
    wfi
    b       powered_off

/*
 * The timer interrupt: on Apple cores every timer is a FIQ of its own,
 * nothing to acknowledge at an interrupt controller.
 * board_timer_ack ( -- x0 = token, x1 = 1 if it may be the timer )
 * board_timer_eoi ( x0 = token ) Both clobber x0, x1 only.
 */
    .globl board_timer_ack, board_timer_eoi
board_timer_ack:
    mov     x0, #0
    mov     x1, #1
    ret
board_timer_eoi:
    ret

/* IRQ (vector 0x080): device interrupts through the AIC (kernel/irq.S). */
    .globl board_irq_vector
board_irq_vector:
    b       irq_from_thread
