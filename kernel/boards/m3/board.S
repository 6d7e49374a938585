/*
 * Board m3: the hand-over from m1n1 (boot_args), the console UART, the
 * counters, the FIQ sources, the watchdog.  Addresses come from the ADT
 * (kernel/boards/m3/discover.S); the interrupt controller is
 * kernel/boards/m3/aic.S.  The interface the rest of the kernel calls is
 * listed in docs/kernel.md ("The board interface").
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

/* boot_args (XNU layout, docs/hardware.md boot_args; m1n1 proxyclient/m1n1/
   tgtypes.py BootArgs_r1..r3): the fields before cmdline do not move with
   the revision (at 0x00), so it is not read. */
#define BA_VIRT_BASE    0x08
#define BA_PHYS_BASE    0x10
#define BA_MEM_SIZE     0x18
#define BA_TOP_KDATA    0x20
#define BA_VIDEO_BASE   0x28
#define BA_VIDEO_STRIDE 0x38
#define BA_VIDEO_WIDTH  0x40
#define BA_VIDEO_HEIGHT 0x48
#define BA_VIDEO_DEPTH  0x50
#define BA_DEVTREE      0x60            /* virtual: phys = devtree - virt_base + phys_base */
#define BA_DEVTREE_SIZE 0x68            /* u32 */
#define BA_CMDLINE      0x6c            /* not 0x70: m1n1 passes the bytes as XNU lays them */

    .text

/*
 * board_boot_info ( x0 = what m1n1 passed: boot_args ): memory, free RAM
 * (16 KiB aligned above everything m1n1 put after the image), the command
 * line, the framebuffer; then the machine from the ADT.  MMU off: the
 * loads here are aligned (Device memory).  Clobbers x0-x23.
 */
    .globl board_boot_info
board_boot_info:
    str     x30, [sp, #-16]!
    mov     x19, x0
    ladr    x20, boot_info
    ldr     x2, [x19, #BA_PHYS_BASE]
    str     x2, [x20, #BI_PHYS_BASE]
    ldr     x3, [x19, #BA_MEM_SIZE]
    and     x3, x3, #~0x3fff            /* whole pages only: never map past the end */
    str     x3, [x20, #BI_MEM_SIZE]
    add     x3, x2, x3
    str     x3, [x20, #BI_MEM_END]
    ldr     x2, [x19, #BA_TOP_KDATA]
    mov     x3, #0x3fff
    add     x2, x2, x3
    and     x2, x2, #~0x3fff
    str     x2, [x20, #BI_FREE]
    str     x2, [x20, #BI_FREE0]
    bl      m3_ramdisk_find             /* a RAM disk in the payload: free memory above it */
    add     x2, x19, #BA_CMDLINE
    str     x2, [x20, #BI_CMDLINE]
    ldr     x2, [x19, #BA_VIDEO_BASE]
    str     x2, [x20, #BI_FB_BASE]
    ldr     x2, [x19, #BA_VIDEO_STRIDE]
    str     x2, [x20, #BI_FB_STRIDE]
    ldr     x2, [x19, #BA_VIDEO_WIDTH]
    str     x2, [x20, #BI_FB_WIDTH]
    ldr     x2, [x19, #BA_VIDEO_HEIGHT]
    str     x2, [x20, #BI_FB_HEIGHT]
    ldr     x2, [x19, #BA_VIDEO_DEPTH]
    str     x2, [x20, #BI_FB_DEPTH]

    /* the ADT: inside usable RAM, or there is none */
    ldr     x0, [x19, #BA_DEVTREE]
    ldr     x1, [x19, #BA_VIRT_BASE]
    ldr     x2, [x19, #BA_PHYS_BASE]
    sub     x0, x0, x1
    add     x0, x0, x2                  /* physical */
    ldr     w1, [x19, #BA_DEVTREE_SIZE]
    ldr     x3, [x20, #BI_MEM_END]
    cmp     x0, x2
    b.lo    1f
    add     x4, x0, x1
    cmp     x4, x3
    b.hi    1f
    cmp     x4, x0
    b.ls    1f                          /* no size */
    /* in free memory (at or above BI_FREE)?  Then free memory starts above it */
    ldr     x5, [x20, #BI_FREE]
    cmp     x4, x5
    b.ls    2f
    mov     x6, #0x3fff
    add     x4, x4, x6
    and     x4, x4, #~0x3fff
    str     x4, [x20, #BI_FREE]
    str     x4, [x20, #BI_FREE0]
    stp     x0, x1, [sp, #-16]!
    bl      m3_note_adt_free
    ldp     x0, x1, [sp], #16
    b       2f
1:  mov     x0, #0
    mov     x1, #0
2:  bl      m3_discover
    ldr     x30, [sp], #16
    ret

/* uart_base reg: the console UART's base, or branch to `none` if the ADT
   had none (output is dropped then; input never comes). */
.macro uart_base reg, none
    ladr    \reg, m3_state
    ldr     \reg, [\reg, #M3_UART]
    cbz     \reg, \none
.endm

/*
 * The console UART's transmit side.  The UART sends one byte a frame time
 * (start, data, parity, stop bits x 16 x (UBRDIV + 1) cycles of its 24 MHz
 * clock: 86.7 us at 115200 baud 8N1) from a 16-byte FIFO.  A byte
 * written with the FIFO full is lost, so every write first looks.
 *
 * uart_putc ( w0 = byte ): polled, for where no thread can wait (kernel/
 * console.S): wait until the TX buffer is empty, as m1n1's uart_putbyte
 * does (UTRSTAT TXBE: the FIFO empty, right with FIFO mode on or off),
 * then transmit.  The wait is m3_tx_pause, not a spin.  Clobbers x1, x2.
 */
    .globl uart_putc
uart_putc:
    uart_base x1, 2f
1:  ldr     w2, [x1, #UTRSTAT]
    tbz     w2, #1, 3f                  /* TX buffer not empty: wait */
    str     w0, [x1, #UTXH]
2:  ret
3:  stp     x0, x30, [sp, #-16]!
    bl      m3_tx_pause                 /* about a frame (clobbers x0-x2) */
    ldp     x0, x30, [sp], #16
    uart_base x1, 2b
    b       1b

/* uart_flush: wait until the UART has sent everything (UTRSTAT TXE: FIFO
   and shift register empty; m1n1 src/uart.c uart_flush).  Clobbers x0-x2. */
    .globl uart_flush
uart_flush:
    uart_base x1, 2f
    ldr     w2, [x1, #UTRSTAT]
    tbnz    w2, #2, 2f
    str     x30, [sp, #-16]!
    bl      m3_tx_pause
    ldr     x30, [sp], #16
    b       uart_flush
2:  ret

/*
 * m3_tx_frame ( -- x0 = counter ticks one byte takes on the wire ): from
 * ULCON and UBRDIV as the UART has them (m1n1 leaves iBoot's 115200 baud,
 * or 1500000 after its proxy ran over this UART), rounded up; cached in
 * m3_state M3_TX_FRAME.  Clobbers x0-x2.
 */
    .globl m3_tx_frame
m3_tx_frame:
    ladr    x0, m3_state
    ldr     x1, [x0, #M3_TX_FRAME]
    cbnz    x1, 9f
    ldr     x1, [x0, #M3_UART]
    cbz     x1, 8f
    ldr     w2, [x1, #ULCON]
    and     w0, w2, #ULCON_CS_MASK
    add     w0, w0, #7                  /* start + 5 + n data bits + one stop */
    tst     w2, #ULCON_STOPB
    cinc    w0, w0, ne
    tst     w2, #ULCON_PARITY
    cinc    w0, w0, ne
    ldr     w2, [x1, #UBRDIV]
    and     w2, w2, #0xffff
    add     w2, w2, #1
    mul     x0, x0, x2
    lsl     x0, x0, #4                  /* reference clock cycles a frame */
    mrs     x1, cntfrq_el0
    mul     x0, x0, x1
    movq    x1, (UART_REF_HZ - 1)
    add     x0, x0, x1
    movq    x1, UART_REF_HZ
    udiv    x0, x0, x1
    add     x1, x0, #1                  /* and a tick: never short */
    ladr    x0, m3_state
    str     x1, [x0, #M3_TX_FRAME]
9:  mov     x0, x1
    ret
8:  mrs     x0, cntfrq_el0              /* no UART: anything short will do */
    lsr     x0, x0, #13
    ret

/*
 * m3_tx_pause: wait about a frame time without spinning.  The EL2 virtual
 * timer (this kernel leaves it masked: board_fiq_init) set to a frame from
 * now, then WFI with IRQ and FIQ masked at PSTATE: its FIQ only wakes the
 * core (WFI wakes on a pending interrupt whatever PSTATE masks, Arm ARM
 * D1 "wait for interrupt"), and none is taken.  The EL2 physical timer
 * (the scheduler's; due, it would end every WFI at once) is masked
 * meanwhile and put back as it was, so the scheduler's interrupt comes
 * after.  If the WFI still ends early (another interrupt pending, e.g. a
 * key's at the AIC), a short spin stands in.  Clobbers x0-x2.
 */
m3_tx_pause:
    stp     x3, x30, [sp, #-16]!
    bl      m3_tx_frame
    mrs     x3, daif
    msr     daifset, #3
    mrs     x2, cnthp_ctl_el2
    and     x2, x2, #3                  /* ENABLE, IMASK as they were */
    orr     x1, x2, #2
    msr     cnthp_ctl_el2, x1
    msr     cntv_tval_el0, x0
    mov     x0, #1                      /* ENABLE, not masked */
    msr     cntv_ctl_el0, x0
    isb
    wfi
    mrs     x0, cntv_ctl_el0
    tbnz    x0, #2, 2f                  /* ISTATUS: the frame time has passed */
    mov     x0, #4096                   /* woken by something else */
1:  subs    x0, x0, #1
    b.ne    1b
2:  mov     x0, #2                      /* masked and off, as board_fiq_init leaves it */
    msr     cntv_ctl_el0, x0
    msr     cnthp_ctl_el2, x2
    msr     daif, x3
    isb
    ldp     x3, x30, [sp], #16
    ret

    .section .text.critical, "ax"

/* uart_tx_try ( w0 = byte -- x0 = 1 if the UART took it, 0 if its FIFO is
   full ): never waits (samsung_tty.c s3c24xx_serial_tx_chars: UFSTAT TX
   full, then UTXH).  No UART: taken (dropped).  In the critical section:
   the interrupt fills the FIFO too.  Clobbers x1, x2. */
    .globl uart_tx_try
uart_tx_try:
    uart_base x1, 2f
    ldr     w2, [x1, #UFSTAT]
    tbnz    w2, #UFSTAT_TXFULL, 1f
    str     w0, [x1, #UTXH]
2:  mov     x0, #1
    ret
1:  mov     x0, #0
    ret

/* uart_tx_room ( -- x0 = bytes the TX FIFO takes now ): 0 if UFSTAT says
   full, else 16 - its TX count (FIFO mode: board_irq_init).  No UART: a
   lot (the bytes are dropped).  Clobbers x1, x2. */
    .globl uart_tx_room
uart_tx_room:
    uart_base x1, 2f
    ldr     w2, [x1, #UFSTAT]
    mov     x0, #0
    tbnz    w2, #UFSTAT_TXFULL, 1f
    ubfx    w2, w2, #UFSTAT_TXCNT, #4
    mov     x0, #UART_FIFO
    sub     x0, x0, x2
1:  ret
2:  mov     x0, #TX_NO_UART
    ret

/* uart_tx_put ( w0 = byte ): UTXH, no look (the caller knows there is
   room: uart_tx_room).  Clobbers x1. */
    .globl uart_tx_put
uart_tx_put:
    uart_base x1, 1f
    str     w0, [x1, #UTXH]
1:  ret

    .text

/* The receive side is read in the critical section: the console's
   interrupt (kernel/console.S rx_drain) reads the FIFO too, and a thread
   between its read of a byte and the byte's store into the ring must not
   be overtaken by the interrupt, which would put later bytes first. */
    .section .text.critical, "ax"

/* uart_rx_ready ( -- x0 = 1 if a byte waits ). Clobbers x1. */
    .globl uart_rx_ready
uart_rx_ready:
    mov     x0, #0
    uart_base x1, 1f
    ldr     w0, [x1, #UTRSTAT]
    and     x0, x0, #UTRSTAT_RXDR
1:  ret

/* uart_getc ( -- x0 = byte ): wait for a byte. Clobbers x1, x2. */
    .globl uart_getc
uart_getc:
    uart_base x1, 2f
1:  ldr     w2, [x1, #UTRSTAT]
    tbz     w2, #0, 1b              /* RX data ready? */
    ldr     w0, [x1, #URXH]
    and     w0, w0, #0xff
    ret
2:  wfi                             /* no console: nothing will ever come */
    b       2b

    .text

    .section .rodata
    .globl board_name
board_name:
    .asciz  BOARD_NAME

    .text
/*
 * Counters for the benchmark words: the Apple PMU.  PMC0 counts core
 * cycles, PMC1 retired instructions once PMCR0 enables them (bits 0 and 1).
 * In the emulated M3 the harness serves these registers from its model.
 */
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
 * board_poweroff: BYE.  Through m1n1's proxy there is nothing to switch
 * off, so the machine reboots as m1n1's own wdt_reboot does (src/wdt.c):
 * the ADT's watchdog with ALARM = 0x100000 ticks (44 ms at 24 MHz),
 * COUNT = 0, CTL = reset enable.  The emulated M3 models the watchdog
 * and ends the run when it bites.  Without a watchdog the core parks.
 */
    .globl board_poweroff
board_poweroff:
    msr     daifset, #0xf
    msr     cnthp_ctl_el2, xzr          /* no timer to wake the wait below */
    isb
    ladr    x0, m3_state
    ldr     x0, [x0, #M3_WDT]
    cbz     x0, powered_off
    mov     w1, #0x100000
    str     w1, [x0, #WDT_ALARM]
    str     wzr, [x0, #WDT_COUNT]
    mov     w1, #WDT_CTL_RESET
    str     w1, [x0, #WDT_CTL]
    dsb     sy
    .globl powered_off
powered_off:
    wfi
    b       powered_off

/*
 * FIQs on Apple cores: the EL2 timers, fast IPIs, the PMU and the guest
 * timers all arrive as FIQ, with no controller to say which (Linux
 * drivers/irqchip/irq-apple-aic.c aic_handle_fiq checks each "since not
 * dealing with any of these results in a FIQ storm").  Each source this
 * kernel does not use is acknowledged or masked and counted, so none can
 * re-enter forever; the EL2 physical timer is left to the caller.
 *
 * board_timer_ack ( -- x0 = token, x1 = 1 if the EL2 timer is due:
 *   enabled, ISTATUS, not masked; 2 if a fast IPI came (kernel/thread.S
 *   tick_request); else 0 )
 * board_timer_eoi ( x0 = token ) Clobber x0-x3 only.
 * The timer is looked at first: it is nearly every FIQ, and then nothing
 * else is read.  Another source asserted at the same time keeps FIQ
 * asserted, so it is acknowledged at the entry that follows the ERET.
 */
.macro count field
    ladr    x2, m3_state
    ldr     x3, [x2, #\field]
    add     x3, x3, #1
    str     x3, [x2, #\field]
.endm

    .globl board_timer_ack, board_timer_eoi
board_timer_ack:
    mrs     x0, cnthp_ctl_el2           /* the EL2 timer first */
    and     x0, x0, #7
    cmp     x0, #5                      /* ENABLE and ISTATUS, not masked */
    b.ne    5f
    mov     x0, #0
    mov     x1, #1
    ret
5:  mov     x1, #0                      /* x1: a source was found (bit 0), an IPI (bit 1) */
    mrs     x0, IPI_SR_EL1              /* a fast IPI: another core left work */
    tbz     x0, #0, 1f
    mov     x0, #1
    msr     IPI_SR_EL1, x0              /* write 1 to clear */
    isb
    count   M3_FIQ_IPI
    mov     x1, #3
1:  mrs     x0, PMCR0_EL1               /* the PMU's interrupt */
    and     x2, x0, #(PMCR0_IMODE_MASK | PMCR0_IACT)
    cmp     x2, #(PMCR0_IMODE_FIQ | PMCR0_IACT)
    b.ne    2f
    bic     x0, x0, #PMCR0_IACT
    msr     PMCR0_EL1, x0
    isb
    count   M3_FIQ_PMU
    orr     x1, x1, #1
2:  mrs     x0, cntv_ctl_el0            /* the EL2 virtual timer (VHE): unused */
    and     x2, x0, #7
    cmp     x2, #5                      /* ENABLE and ISTATUS, not masked */
    b.ne    3f
    orr     x0, x0, #2                  /* IMASK */
    msr     cntv_ctl_el0, x0
    isb
    count   M3_FIQ_VTIMER
    orr     x1, x1, #1
3:  cbnz    x1, 4f
    count   M3_FIQ_UNKNOWN              /* none: spurious, or a source we cannot see */
4:  mov     x0, #0
    and     x1, x1, #2                  /* not the timer: 2 if an IPI came, else 0 */
board_timer_eoi:
    ret

/*
 * board_fiq_init: the FIQ sources this kernel does not use, quiet: no
 * pending fast IPI, the guest timers' FIQs off (VM_TMR_FIQ_ENA_EL2 = 0,
 * as Linux's aic_init_cpu does), the EL2 virtual timer masked, the PMU's
 * interrupt mode off.  Clobbers x0.
 */
    .globl board_fiq_init
board_fiq_init:
    mov     x0, #1
    msr     IPI_SR_EL1, x0
    msr     VM_TMR_FIQ_ENA_EL2, xzr
    mov     x0, #2                      /* IMASK, disabled */
    msr     cntv_ctl_el0, x0
    mrs     x0, PMCR0_EL1
    bic     x0, x0, #(PMCR0_IMODE_MASK | PMCR0_IACT)
    msr     PMCR0_EL1, x0
    isb
    ret

/* board_ipi ( x0 = the target core's per-core state ): a fast IPI,
   immediate, through IPI_RR_GLOBAL_EL1 (cpu 7:0, cluster 23:16; Linux
   irq-apple-aic.c aic_ipi_send_fast), after a DSB so that what was left
   for it is seen first.  Clobbers x0-x2. */
    .globl board_ipi
board_ipi:
    ldr     x0, [x0, #PC_KEY]           /* cluster 15:8, core 7:0 */
    and     x1, x0, #0xff
    ubfx    x2, x0, #8, #8
    orr     x1, x1, x2, lsl #16
    dsb     ishst
    msr     IPI_RR_GLOBAL_EL1, x1
    isb
    ret

/* IRQ (vector 0x080): device interrupts through the AIC (aic.S). */
    .globl board_irq_vector
board_irq_vector:
    b       aic_irq

/*
 * board_report: after the banner, what the ADT said and what it did not:
 * the chip, the cores, the console UART, the AIC, the watchdog, and a
 * line for each problem (discover.S DIAG_*).  Clobbers x0-x21.
 */

.macro say msg
    ladr    x0, \msg
    bl      console_puts
.endm
.macro say_hex field
    ldr     x0, [x20, #\field]
    bl      console_hex
.endm

    .globl board_report
board_report:
    mov     x21, x30
    ladr    x20, m3_state
    bl      m3_diag_flags
    mov     x19, x0
    tbnz    x19, #0, 8f                 /* no ADT: nothing to report but that */
    say     msg_chip
    say_hex M3_CHIP
    ladr    x1, known_chips             /* (id, name) pairs, 0 ends */
    ldr     x2, [x20, #M3_CHIP]
1:  ldr     x3, [x1], #16
    cbz     x3, 2f
    cmp     x3, x2
    b.ne    1b
    ldur    x0, [x1, #-8]
    ladr    x3, known_chips
    add     x17, x3, x0                 /* names are offsets: the image is PIC */
    say     msg_open
    mov     x0, x17
    bl      console_puts
    say     msg_close
    b       3f
2:  say     msg_unknown_chip
3:  say     msg_cores
    ldr     x0, [x20, #M3_NCPU]
    bl      console_dec
    say     msg_uart
    say_hex M3_UART
    say     msg_irq
    ldr     x0, [x20, #M3_UART_IRQ]
    bl      console_dec
    ldr     x0, [x20, #M3_AIC]
    cbz     x0, 4f
    say     msg_aic
    ldr     x0, [x20, #M3_AIC_VER]
    bl      console_dec
    say     msg_at
    say_hex M3_AIC
4:  ldr     x0, [x20, #M3_WDT]
    cbz     x0, 5f
    say     msg_wdt
    say_hex M3_WDT
5:  ldr     x0, [x20, #M3_DISK]
    cbz     x0, 6f
    say     msg_disk
    ldr     x0, [x20, #M3_DISK_SECTORS]
    bl      console_dec
    say     msg_disk_at
    say_hex M3_DISK
6:  bl      console_newline
    /* the problems: a line for each DIAG_* bit set, from diag_lines */
8:  ladr    x16, diag_lines
    mov     x17, #0
9:  lsr     x0, x19, x17
    tbz     x0, #0, 10f
    ldr     w0, [x16, x17, lsl #2]      /* offsets from diag_lines: the image is PIC */
    add     x0, x16, x0
    bl      console_puts
10: add     x17, x17, #1
    cmp     x17, #DIAG_BITS
    b.lo    9b
    ret     x21

    .section .rodata
    .balign 8
known_chips:                            /* m1n1 src/soc.h; Linux arch/arm64/boot/dts/apple */
    .quad   0x8122, name_m3 - known_chips
    .quad   0x6030, name_m3pro - known_chips
    .quad   0x6031, name_m3max - known_chips
    .quad   0x6034, name_m3max - known_chips
    .quad   0, 0
name_m3:            .asciz "t8122, M3"
name_m3pro:         .asciz "t6030, M3 Pro"
name_m3max:         .asciz "t603x, M3 Max"
msg_chip:           .asciz "m3: chip "
msg_open:           .asciz " ("
msg_close:          .asciz ")"
msg_unknown_chip:   .asciz " (not one this kernel knows: running on what its ADT says)"
msg_cores:          .asciz ", cores "
msg_uart:           .asciz "; console UART "
msg_irq:            .asciz " irq "
msg_aic:            .asciz "; AIC"
msg_at:             .asciz " "
msg_wdt:            .asciz "; watchdog "
msg_disk:           .asciz "; RAM disk "
msg_disk_at:        .asciz " sectors at "
    .balign 4
diag_lines:                             /* by DIAG_* bit (board.inc) */
    .word   msg_no_adt - diag_lines, msg_no_chip - diag_lines, msg_no_uart - diag_lines
    .word   msg_no_aic - diag_lines, msg_no_wdt - diag_lines, msg_no_cpus - diag_lines
    .word   msg_adt_free - diag_lines, msg_aic_ver - diag_lines, msg_dev_in_ram - diag_lines
    .word   msg_disk_bad - diag_lines, msg_disk_free - diag_lines
msg_no_adt:         .asciz "m3: no Apple Device Tree from m1n1 (boot_args devtree): no console UART, interrupts or watchdog\r\n"
msg_no_chip:        .asciz "m3: the ADT has no /chosen chip-id\r\n"
msg_no_uart:        .asciz "m3: no console UART in the ADT (/arm-io/uart0): the screen is the only console\r\n"
msg_no_aic:         .asciz "m3: no usable /arm-io/aic: console input is polled every 10 ms\r\n"
msg_aic_ver:        .asciz "m3: the AIC is not aic,2 or aic,3: not driven, console input is polled\r\n"
msg_no_wdt:         .asciz "m3: no /arm-io/wdt: BYE halts the core instead of rebooting\r\n"
msg_no_cpus:        .asciz "m3: no cores in /cpus\r\n"
msg_adt_free:       .asciz "m3: the ADT lay in free memory: free memory starts above it\r\n"
msg_dev_in_ram:     .asciz "m3: the ADT puts a device inside usable RAM: not mapped as a device\r\n"
msg_disk_bad:       .asciz "m3: the image's header names a RAM disk that is not a whole number of sectors past the image in usable RAM: no disk\r\n"
msg_disk_free:      .asciz "m3: the RAM disk lay in free memory (the loader did not count it): free memory starts above it\r\n"
