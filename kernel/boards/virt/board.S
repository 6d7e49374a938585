/*
 * Board virt: QEMU's virt machine at EL2 (-M virt,virtualization=on,
 * gic-version=3 -cpu max).  PL011 console, GICv3, PSCI over SMC, the ARM
 * PMU.  Everything else in the kernel is shared with the other boards.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

/* Flattened device tree (big-endian) */
#define FDT_MAGIC_LE    0xedfe0dd0      /* 0xd00dfeed as a little-endian load sees it */
#define FDT_BEGIN_NODE  1
#define FDT_END_NODE    2
#define FDT_PROP        3
#define FDT_NOP         4

    .text

/*
 * board_boot_info ( x0 = what QEMU's loader passed: the DTB, or 0 ):
 * memory from the DTB's first /memory node (root #address-cells and
 * #size-cells honoured), the command line from /chosen/bootargs, free RAM
 * 16 KiB aligned above both the image and the DTB, no framebuffer.  Then
 * the console FIFO and the interrupt controller.  MMU off: every load here
 * is naturally aligned (32-bit big-endian cells).  Clobbers x0-x17.
 */
    .globl board_boot_info
board_boot_info:
    mov     x17, x30
    movq    x2, FDT_MAGIC_LE
    cbz     x0, 1f
    ldr     w3, [x0]
    cmp     w3, w2
    b.eq    2f
1:  movq    x0, DRAM_BASE           /* QEMU leaves the DTB at the base of RAM */
    ldr     w3, [x0]
    cmp     w3, w2
    b.ne    no_dtb
2:  ladr    x16, boot_info
    str     x0, [x16, #BI_ARGS]     /* boot_args on m3, the DTB here */
    ldr     w1, [x0, #4]            /* totalsize */
    rev     w1, w1
    add     x15, x0, x1             /* end of the DTB */
    ldr     w1, [x0, #8]
    rev     w1, w1
    add     x10, x0, x1             /* x10: structure block cursor */
    ldr     w1, [x0, #12]
    rev     w1, w1
    add     x11, x0, x1             /* x11: strings block */
    mov     x12, #0                 /* depth */
    mov     x13, #0                 /* depth-1 node: 1 memory, 2 chosen */
    mov     x8, #2                  /* #address-cells (root) */
    mov     x9, #1                  /* #size-cells (root) */
    mov     x14, #0                 /* memory found */
    mov     x7, #1                  /* /cpus #address-cells */

next_token:
    ldr     w1, [x10], #4
    rev     w1, w1
    cmp     w1, #FDT_NOP
    b.eq    next_token
    cmp     w1, #FDT_BEGIN_NODE
    b.eq    begin_node
    cmp     w1, #FDT_END_NODE
    b.eq    end_node
    cmp     w1, #FDT_PROP
    b.eq    prop
    b       fdt_done                /* FDT_END or anything unknown */

begin_node:
    add     x12, x12, #1
    cmp     x12, #2
    b.ne    skip_name
    mov     x13, #0
    mov     x0, x10
    ladr    x1, str_memory
    bl      str_prefix
    cbz     x0, 3f
    ldrb    w2, [x10, #6]           /* "memory" or "memory@..." */
    cmp     w2, #'@'
    ccmp    w2, #0, #4, ne          /* Z if '@', else w2 == 0 */
    b.ne    3f
    mov     x13, #1
    b       skip_name
3:  mov     x0, x10
    ladr    x1, str_chosen
    bl      str_prefix
    cbz     x0, 31f
    ldrb    w2, [x10, #6]
    cbnz    w2, skip_name
    mov     x13, #2
    b       skip_name
31: mov     x0, x10
    ladr    x1, str_cpus
    bl      str_prefix
    cbz     x0, 32f
    ldrb    w2, [x10, #4]
    cbnz    w2, skip_name
    mov     x13, #3
    b       skip_name
32: mov     x0, x10                 /* a virtio,mmio transport (hw/arm/virt.c */
    ladr    x1, str_virtio_mmio     /*   names them virtio_mmio@<base>) */
    bl      str_prefix
    cbz     x0, skip_name
    mov     x13, #4
    ladr    x0, vblk_cand           /* its reg and interrupts: virtio.S vblk_probe */
    stp     xzr, xzr, [x0]
    str     xzr, [x0, #16]
skip_name:
    ldrb    w2, [x10], #1
    cbnz    w2, skip_name
    add     x10, x10, #3
    and     x10, x10, #~3
    b       next_token

end_node:
    cmp     x12, #2
    ccmp    x13, #4, #0, eq
    b.ne    1f
    bl      vblk_probe              /* the transport just read: the disk? (clobbers x0-x6) */
    mov     x13, #0
1:  sub     x12, x12, #1
    b       next_token

prop:
    ldr     w2, [x10]               /* value length */
    rev     w2, w2
    ldr     w3, [x10, #4]           /* name offset */
    rev     w3, w3
    add     x4, x10, #8             /* x4: value */
    add     x10, x4, x2
    add     x10, x10, #3
    and     x10, x10, #~3
    add     x5, x11, x3             /* x5: name */
    cmp     x12, #1
    b.ne    4f
    mov     x0, x5                  /* root properties */
    ladr    x1, str_addr_cells
    bl      str_equal
    cbz     x0, 3f
    ldr     w8, [x4]
    rev     w8, w8
    b       next_token
3:  mov     x0, x5
    ladr    x1, str_size_cells
    bl      str_equal
    cbz     x0, next_token
    ldr     w9, [x4]
    rev     w9, w9
    b       next_token
4:  cmp     x13, #3                 /* /cpus: its #address-cells, its cpus' reg */
    b.ne    41f
    cmp     x12, #2
    b.ne    42f
    mov     x0, x5
    ladr    x1, str_addr_cells
    bl      str_equal
    cbz     x0, next_token
    ldr     w7, [x4]
    rev     w7, w7
    b       next_token
42: cmp     x12, #3                 /* a cpu@N (the cpu-map has no reg) */
    b.ne    next_token
    mov     x0, x5
    ladr    x1, str_reg
    bl      str_equal
    cbz     x0, next_token
    mov     x0, x4
    mov     x1, x7
    bl      read_cells              /* its MPIDR affinity */
    ladr    x1, virt_cpus
    ldr     x2, [x1]
    cmp     x2, #NCORES_MAX
    b.hs    next_token
    add     x3, x1, #8
    str     x0, [x3, x2, lsl #3]
    add     x2, x2, #1
    str     x2, [x1]
    b       next_token
41: cmp     x12, #2
    b.ne    next_token
    cmp     x13, #1
    b.ne    5f
    cbnz    x14, next_token         /* the first memory node only */
    mov     x0, x5
    ladr    x1, str_reg
    bl      str_equal
    cbz     x0, next_token
    mov     x0, x4
    mov     x1, x8
    bl      read_cells
    str     x0, [x16, #BI_PHYS_BASE]
    mov     x2, x0
    mov     x0, x4
    mov     x1, x9
    bl      read_cells
    str     x0, [x16, #BI_MEM_SIZE]
    add     x0, x0, x2
    str     x0, [x16, #BI_MEM_END]
    mov     x14, #1
    b       next_token
5:  cmp     x13, #2
    b.ne    6f
    mov     x0, x5
    ladr    x1, str_bootargs
    bl      str_equal
    cbz     x0, next_token
    str     x4, [x16, #BI_CMDLINE]
    b       next_token
6:  cmp     x13, #4                 /* a virtio,mmio transport: reg, interrupts */
    b.ne    next_token
    mov     x0, x5
    ladr    x1, str_reg
    bl      str_equal
    cbz     x0, 61f
    mov     x1, x8
    bl      read_cells              /* its base (#address-cells of the root) */
    ladr    x1, vblk_cand
    str     x0, [x1]
    b       next_token
61: mov     x0, x5
    ladr    x1, str_interrupts
    bl      str_equal
    cbz     x0, next_token
    ldr     w2, [x4, #-8]           /* the value's length: three cells (the */
    rev     w2, w2                  /*   GIC's #interrupt-cells: type, number, */
    cmp     w2, #12                 /*   flags; Linux arm,gic-v3 binding) */
    b.ne    next_token
    ldr     w0, [x4]
    ldr     w1, [x4, #4]
    ldr     w2, [x4, #8]
    rev     w0, w0
    rev     w1, w1
    rev     w2, w2
    cbnz    w0, next_token          /* 0: an SPI; INTID = 32 + its number */
    add     w1, w1, #32
    ladr    x3, vblk_cand
    stp     x1, x2, [x3, #8]
    b       next_token

fdt_done:
    cbz     x14, no_dtb
    /* free RAM: above the image and the DTB, 16 KiB aligned */
    ldr     x0, [x16, #BI_IMAGE_END]
    cmp     x0, x15
    csel    x0, x0, x15, hs
    mov     x1, #0x3fff
    add     x0, x0, x1
    and     x0, x0, #~0x3fff
    str     x0, [x16, #BI_FREE]
    str     x0, [x16, #BI_FREE0]
    movq    x0, MMIO_WINDOW             /* the devices, for the map */
    movq    x1, MMIO_WINDOW_SIZE
    stp     x0, x1, [x16, #BI_DEVS]
    mov     x0, #1
    str     x0, [x16, #BI_NDEV]
    bl      vblk_window                 /* the disk's transport, outside that window */
    cbz     x0, 1f
    mov     x1, #0x4000
    stp     x0, x1, [x16, #(BI_DEVS + 16)]
    mov     x0, #2
    str     x0, [x16, #BI_NDEV]
1:
    bl      uart_init
    bl      gic_init
    bl      timer_irq_selftest
    ret     x17

/* No usable device tree: say so on the console (QEMU's PL011 needs no
   set-up) and stop, as a panic does. */
no_dtb:
    ladr    x3, msg_no_dtb
1:  ldrb    w0, [x3], #1
    cbz     w0, 2f
    bl      uart_putc
    b       1b
2:  b       kernel_halted

/* read_cells ( x0 = address, x1 = cells -- x0 = value; x4 advanced ) */
read_cells:
    mov     x0, #0
1:  cbz     x1, 2f
    ldr     w3, [x4], #4
    rev     w3, w3
    orr     x0, x3, x0, lsl #32
    sub     x1, x1, #1
    b       1b
2:  ret

/* str_prefix ( x0 = string, x1 = NUL-terminated prefix -- x0 = 1 if it
   starts with it ); str_equal: the whole string equal.  Clobbers x0-x3. */
str_prefix:
    mov     x3, #0
    b       1f
str_equal:
    mov     x3, #1
1:  ldrb    w2, [x1], #1
    cbz     w2, 2f
    ldrb    w6, [x0], #1
    cmp     w2, w6
    b.eq    1b
    mov     x0, #0
    ret
2:  cbz     x3, 3f
    ldrb    w6, [x0]
    cbz     w6, 3f
    mov     x0, #0
    ret
3:  mov     x0, #1
    ret

/* uart_init: 8 bits, FIFOs on (16 bytes each way instead of one). */
uart_init:
    movq    x1, UART_BASE
    mov     w0, #0x70               /* WLEN = 8 bits, FEN */
    str     w0, [x1, #UARTLCR_H]
    str     wzr, [x1, #UARTIMSC]    /* no UART interrupts until a driver asks */
    ret

/*
 * gic_init: GICv3 for this core at EL2 (QEMU's GIC has one security state,
 * GICD_CTLR.DS = 1): affinity routing and group 1 on in the distributor,
 * the redistributor awake, the system-register CPU interface on, every
 * priority let through.  The EL2 physical timer (PPI 26) and the UART
 * (SPI 33) are group 1, priority 0x80, enabled, routed to this core; they
 * reach the core only when their source asserts them (CNTHP_CTL, UARTIMSC)
 * and PSTATE.I is clear.  Clobbers x0-x2.
 */
gic_init:
    movq    x1, GICD_BASE
    mov     w0, #0x12               /* ARE | EnableGrp1 */
    str     w0, [x1]
1:  ldr     w0, [x1]                /* RWP: wait for the write to take */
    tbnz    w0, #31, 1b
    mov     w0, #(1 << (INTID_UART - 32))
    str     w0, [x1, #0x84]         /* GICD_IGROUPR1: group 1 */
    mov     w0, #0x80
    strb    w0, [x1, #(0x400 + INTID_UART)]    /* GICD_IPRIORITYR */
    add     x2, x1, #0x6000
    str     xzr, [x2, #(INTID_UART * 8)]       /* GICD_IROUTER: affinity 0.0.0.0 */
    mov     w0, #(1 << (INTID_UART - 32))
    str     w0, [x1, #0x104]        /* GICD_ISENABLER1 */

    b       gic_cpu_init

/*
 * gic_cpu_init: this core's part of the GICv3: its redistributor, found
 * by its affinity (GICR_TYPER bits 63:32 = Aff3.Aff2.Aff1.Aff0; the frames
 * run from GICR_BASE until GICR_TYPER.Last, 128 KiB apart, 256 KiB with
 * VLPIS: GICv3 spec 9.11.35), awake, the EL2 physical timer's PPI on, and
 * the system-register CPU interface on.  No redistributor for us: the
 * core gets no interrupts (said by nothing: the boot core's is always
 * there).  Clobbers x0-x4.
 */
gic_cpu_init:
    mrs     x2, mpidr_el1
    and     x3, x2, #0xffffff
    ubfx    x2, x2, #32, #8
    orr     x3, x3, x2, lsl #24     /* the affinity as GICR_TYPER has it */
    movq    x1, GICR_BASE
5:  ldr     x0, [x1, #0x8]          /* GICR_TYPER */
    cmp     x3, x0, lsr #32
    b.eq    6f
    tbnz    x0, #4, 7f              /* Last */
    tst     x0, #2                  /* VLPIS: two more frames */
    mov     x2, #0x20000
    mov     x4, #0x40000
    csel    x2, x2, x4, eq
    add     x1, x1, x2
    b       5b
7:  ret
6:  ldr     w0, [x1, #0x14]         /* GICR_WAKER: clear ProcessorSleep */
    and     w0, w0, #~2
    str     w0, [x1, #0x14]
2:  ldr     w0, [x1, #0x14]
    tbnz    w0, #2, 2b              /* ChildrenAsleep */
    add     x1, x1, #0x10000        /* SGI_base */
    movq    x0, ((1 << INTID_CNTHP) | (1 << INTID_IPI))
    str     w0, [x1, #0x80]         /* GICR_IGROUPR0: group 1 */
    str     w0, [x1, #0x100]        /* GICR_ISENABLER0 */
    mov     w0, #0x80
    strb    w0, [x1, #(0x400 + INTID_CNTHP)]   /* GICR_IPRIORITYR */
    strb    w0, [x1, #(0x400 + INTID_IPI)]

    mrs     x0, icc_sre_el2
    orr     x0, x0, #0xf            /* SRE, DFB, DIB, Enable (EL1 may use it too) */
    msr     icc_sre_el2, x0
    isb
    mov     x0, #0xff
    msr     icc_pmr_el1, x0         /* let every priority through */
    msr     icc_bpr1_el1, xzr
    mov     x0, #1
    msr     icc_igrpen1_el1, x0
    isb
    ret

/*
 * timer_irq_selftest: the EL2 physical timer's interrupt must come through
 * the GIC: arm CNTHP 16 ticks ahead, poll ISR_EL1.I (IRQs stay masked),
 * acknowledge, switch the timer off, end the interrupt.  Records the INTID
 * taken (26 expected; 0 if nothing came within 2^20 polls) and the number of
 * polls in timer_selftest, which the QEMU tests read.  Clobbers x0-x2.
 */
timer_irq_selftest:
    ladr    x2, timer_selftest
    msr     cnthp_ctl_el2, xzr
    mrs     x0, cntpct_el0
    add     x0, x0, #16
    msr     cnthp_cval_el2, x0
    mov     x0, #1                  /* ENABLE, not IMASK */
    msr     cnthp_ctl_el2, x0
    isb
    mov     x1, #0
1:  mrs     x0, isr_el1
    tbnz    x0, #7, 2f              /* I: an IRQ is pending at this core */
    add     x1, x1, #1
    tbz     x1, #20, 1b
    mov     x0, #0
    b       3f
2:  mrs     x0, icc_iar1_el1
    msr     cnthp_ctl_el2, xzr      /* the line drops */
    msr     icc_eoir1_el1, x0
    isb
3:  stp     x0, x1, [x2]
    ret

/* uart_putc ( w0 = byte ): wait for room, then transmit. Clobbers x1, x2. */
    .globl uart_putc
uart_putc:
    movq    x1, UART_BASE
1:  ldr     w2, [x1, #UARTFR]
    tbnz    w2, #FR_TXFF, 1b
    strb    w0, [x1, #UARTDR]
    ret

/* uart_flush: everything sent (PL011 FR.BUSY clear).  Clobbers x1, x2. */
    .globl uart_flush
uart_flush:
    movq    x1, UART_BASE
1:  ldr     w2, [x1, #UARTFR]
    tbnz    w2, #FR_BUSY, 1b
    ret

/*
 * The console's TX ring (kernel/console.S) runs here too (board_irq_init
 * turns it on, as m3's does: the same code on both boards, which the
 * QEMU cross-check counts), but QEMU's PL011 takes every byte at once
 * (FR.TXFF never set), so a byte never waits in the ring.  There is no
 * TX interrupt: a byte that did wait would move on at the next write or
 * at the end of the console's TX wait's period.
 */

    .section .text.critical, "ax"

/* uart_tx_try ( w0 = byte -- x0 = 1 if taken, 0 if the FIFO is full ).
   In the critical section, as m3's.  Clobbers x1, x2. */
    .globl uart_tx_try
uart_tx_try:
    movq    x1, UART_BASE
    ldr     w2, [x1, #UARTFR]
    tbnz    w2, #FR_TXFF, 1f
    strb    w0, [x1, #UARTDR]
    mov     x0, #1
    ret
1:  mov     x0, #0
    ret

/* uart_tx_room ( -- x0 = bytes the FIFO takes now: 1 unless FR.TXFF; the
   PL011 has no count to read ).  Clobbers x1, x2. */
    .globl uart_tx_room
uart_tx_room:
    movq    x1, UART_BASE
    ldr     w2, [x1, #UARTFR]
    ubfx    w2, w2, #FR_TXFF, #1
    mov     x0, #1
    sub     x0, x0, x2
    ret

/* uart_tx_put ( w0 = byte ): DR, no look.  Clobbers x1. */
    .globl uart_tx_put
uart_tx_put:
    movq    x1, UART_BASE
    strb    w0, [x1, #UARTDR]
    ret

    .text

/* board_rx_pause, board_rx_resume: the console's ring is full: the
   UART's interrupt off at the GIC (GICD_ICENABLER1; UARTIMSC is the
   console's own unmasking store), bytes left in the PL011's FIFO; room
   again: back on (GICD_ISENABLER1).  Clobber x0, x1. */
    .globl board_rx_pause, board_rx_resume
board_rx_pause:
    movq    x1, GICD_BASE
    mov     w0, #(1 << (INTID_UART - 32))
    str     w0, [x1, #0x184]
    ret
board_rx_resume:
    movq    x1, GICD_BASE
    mov     w0, #(1 << (INTID_UART - 32))
    str     w0, [x1, #0x104]
    ret

/* board_tx_arm, board_tx_disarm: no TX interrupt here.  Clobber nothing. */
    .globl board_tx_arm, board_tx_disarm
board_tx_arm:
board_tx_disarm:
    ret

/*
 * board_uart_causes ( -- x0 = bit 0 an RX cause ): in the UART's
 * interrupt (board_irq_vector masked it at the UART and ended it at the
 * GIC): the PL011's raw status (UARTRIS: RXRIS, RTRIS; the masked one
 * reads 0 now), cleared in UARTICR.  The PL011's RX interrupt is a level
 * that drops when its FIFO is read empty (QEMU hw/char/pl011.c raises it
 * at the first byte: read_trigger 1), which the console's handler does
 * next (kernel/console.S rx_drain).  No TX interrupt here.  Clobbers
 * x0-x2.
 */
    .globl board_uart_causes
board_uart_causes:
    movq    x1, UART_BASE
    ldr     w2, [x1, #UARTRIS]
    mov     w0, #(IMSC_RX | IMSC_RT)
    and     w2, w2, w0
    str     w2, [x1, #UARTICR]
    cmp     w2, #0
    cset    x0, ne
    ret

/* board_tx_ticks ( -- x0 ): 1 ms in counter ticks (never used here). */
    .globl board_tx_ticks
board_tx_ticks:
    mrs     x0, cntfrq_el0
    mov     x1, #1000
    udiv    x0, x0, x1
    ret

/* The receive side is read in the critical section: the console's
   interrupt (kernel/console.S rx_drain) reads the FIFO too, and a thread
   between its read of a byte and the byte's store into the ring must not
   be overtaken by the interrupt, which would put later bytes first. */
    .section .text.critical, "ax"

/* uart_rx_ready ( -- x0 = 1 if a byte waits ). Clobbers x1. */
    .globl uart_rx_ready
uart_rx_ready:
    movq    x1, UART_BASE
    ldr     w0, [x1, #UARTFR]
    ubfx    x0, x0, #FR_RXFE, #1
    eor     x0, x0, #1
    ret

/*
 * uart_getc ( -- x0 = byte ): wait for a byte. Clobbers x1, x2.
 * uart_rx_count counts the bytes taken.
 */
    .globl uart_getc
uart_getc:
    movq    x1, UART_BASE
1:  ldr     w2, [x1, #UARTFR]
    tbnz    w2, #FR_RXFE, 1b
    ldrb    w0, [x1, #UARTDR]
    ladr    x1, uart_rx_count
    ldr     x2, [x1]
    add     x2, x2, #1
    str     x2, [x1]
    ret

    .text

/*
 * board_rx_wait: the console found its ring and the FIFO empty: poll the
 * FIFO until a byte is there (the timer still preempts), the UART's
 * interrupt off meanwhile (else it would take the byte from under the
 * poll; Ctrl-C then reaches the console thread through console_getc,
 * which is where it waits).  The first call only turns the interrupt off
 * and returns: the console looks at its ring once more (a byte the
 * interrupt took just before).  uart_rx_wait is the instruction
 * that runs only while the console waits on an empty FIFO.  The QEMU
 * runner (harness/qemu.py) puts a breakpoint there and calls the console
 * idle when uart_rx_count equals what it has sent: the same "all input
 * consumed, waiting for more" as the emulated M3's.  Clobbers x0-x2.
 */
    .globl board_rx_wait
board_rx_wait:
    movq    x1, UART_BASE
    ldr     w2, [x1, #UARTIMSC]
    cbz     w2, 1f
    str     wzr, [x1, #UARTIMSC]        /* the interrupt off while we poll; */
    ret                                 /* the console looks once more first */
1:  ldr     w2, [x1, #UARTFR]
    tbz     w2, #FR_RXFE, 2f
    ldr     w2, [x1, #UARTIMSC]         /* unmasked meanwhile (a deferred */
    cbnz    w2, 3f                      /* interrupt let in): it reads for us */
    .globl uart_rx_wait
uart_rx_wait:
    b       1b
2:  mov     w2, #(IMSC_RX | IMSC_RT)    /* a byte: the interrupt back on */
    str     w2, [x1, #UARTIMSC]
3:  ret

/* board_report: the DTB gave memory and the command line (read above);
   the devices are QEMU's fixed virt map but for the disk: its line, if a
   virtio-blk device was found (virtio.S vblk_report).  Clobbers x0-x6,
   x19. */
    .globl board_report
board_report:
    b       vblk_report

    .section .rodata
    .globl board_name
board_name:
    .asciz  BOARD_NAME

str_memory:     .asciz "memory"
str_chosen:     .asciz "chosen"
str_cpus:       .asciz "cpus"
str_reg:        .asciz "reg"
str_bootargs:   .asciz "bootargs"
str_interrupts: .asciz "interrupts"
str_virtio_mmio: .asciz "virtio_mmio"
str_addr_cells: .asciz "#address-cells"
str_size_cells: .asciz "#size-cells"
msg_no_dtb:     .asciz "\r\nvirt: no device tree with a /memory node (in x0 or at the base of RAM)\r\n"

    .bss
    .balign 8
    .globl uart_rx_count
uart_rx_count:
    .quad   0
    .globl timer_selftest
timer_selftest:                     /* INTID taken, polls waited */
    .quad   0, 0
virt_cpus:                          /* cores in the DTB, then each one's "reg" */
    .quad   0
    .space  8 * NCORES_MAX

/*
 * Counters for the benchmark words: the ARM PMU.  PMCCNTR_EL0 counts
 * cycles, event counter 0 INST_RETIRED (0x08); NSH (bit 27) in their
 * filters makes both count at EL2.  MDCR_EL2: every counter belongs to
 * the PMCR_EL0 enables (HPMN = N), no traps, counting at EL2 allowed.
 * Under QEMU, INST_RETIRED counts only with -icount, and then exactly.
 */
#define PMU_NSH     (1 << 27)

    .text
    .globl board_counters_init
board_counters_init:
    mrs     x0, pmcr_el0
    ubfx    x0, x0, #11, #5         /* N: the number of event counters */
    msr     mdcr_el2, x0
    movq    x0, (PMU_NSH | 0x08)
    msr     pmevtyper0_el0, x0
    mov     x0, #PMU_NSH
    msr     pmccfiltr_el0, x0
    mov     x0, #0xc7               /* E, P and C (reset), LC, LP: 64-bit counters */
    msr     pmcr_el0, x0
    movq    x0, (1 << 31 | 1)
    msr     pmcntenset_el0, x0      /* cycle counter and event counter 0 */
    isb
    ret

/* board_cycles ( -- x0 ) */
    .globl board_cycles
board_cycles:
    mrs     x0, pmccntr_el0
    ret

/* board_instructions ( -- x0 ) */
    .globl board_instructions
board_instructions:
    mrs     x0, pmevcntr0_el0
    ret

/*
 * board_poweroff: PSCI SYSTEM_OFF through the SMC conduit; QEMU exits
 * with status 0.  Should it return (no PSCI), the core parks as on m3.
 */
    .globl board_poweroff
board_poweroff:
    msr     daifset, #0xf
    movq    x0, 0x84000008
    smc     #0
    .globl powered_off
powered_off:
    wfi
    b       powered_off

/*
 * The cores (kernel/smp.S), as the DTB's /cpus lists them (virt_cpus).
 * board_cpu_count ( -- x0 = cores listed )
 * board_cpu_key ( x0 = index -- x0 = its key (mpidr_key), x1 = 1 if it
 *   is this core )  Clobbers x0-x2.
 * board_cpu_start ( x0 = index, x1 = entry (physical) -- x0 = START_* ):
 *   PSCI CPU_ON over the SMC conduit, as SYSTEM_OFF (DEN0022 5.6: x1 the
 *   target's MPIDR, x2 the entry, x3 the context; QEMU starts the core
 *   at the caller's EL, EL2: target/arm/arm-powerctl.c).  Clobbers
 *   x0-x17 (SMCCC lets the call clobber them).
 * board_core_init ( x9 = per-core ): on a started core, MMU on: its
 *   redistributor and CPU interface.  Clobbers x0-x8.
 */
    .globl board_cpu_count, board_cpu_key, board_cpu_start, board_core_init
board_cpu_count:
    ladr    x0, virt_cpus
    ldr     x0, [x0]
    ret
board_cpu_key:
    ladr    x1, virt_cpus + 8
    ldr     x0, [x1, x0, lsl #3]
    mpidr_key x0
    mrs     x1, mpidr_el1
    mpidr_key x1
    cmp     x0, x1
    cset    x1, eq
    ret
board_cpu_start:
    ladr    x2, virt_cpus + 8
    ldr     x0, [x2, x0, lsl #3]
    mov     x2, x1
    mov     x1, x0
    movq    x0, 0xC4000003              /* CPU_ON, SMC64 */
    mov     x3, #0
    smc     #0
    cmp     x0, #0
    mov     x1, #START_REFUSED
    csel    x0, xzr, x1, eq
    ret
board_core_init:
    b       gic_cpu_init

/* board_ipi ( x0 = the target core's per-core state ): SGI INTID_IPI to
   it through ICC_SGI1R_EL1 (GICv3 spec 12.11.40: TargetList 15:0 a bit
   for Aff0 mod 16, Aff1 23:16, INTID 27:24, Aff2 39:32, RS 47:44 = Aff0
   / 16, Aff3 55:48), after a DSB so that what was left for it is seen
   first (Linux irq-gic-v3.c gic_ipi_send_mask).  Clobbers x0-x2. */
    .globl board_ipi
board_ipi:
    ldr     x0, [x0, #PC_KEY]           /* Aff2.Aff1.Aff0 */
    and     x1, x0, #0xf
    mov     x2, #1
    lsl     x2, x2, x1
    ubfx    x1, x0, #4, #4
    orr     x2, x2, x1, lsl #44
    ubfx    x1, x0, #8, #8
    orr     x2, x2, x1, lsl #16
    ubfx    x1, x0, #16, #8
    orr     x2, x2, x1, lsl #32
    orr     x2, x2, #(INTID_IPI << 24)
    dsb     ishst
    msr     icc_sgi1r_el1, x2
    isb
    ret

/*
 * The timer interrupt, for kernel/thread.S: the EL2 physical timer is
 * PPI 26 through the GICv3 (an IRQ).
 * board_timer_ack ( -- x0 = INTID, x1 = 1 if it is the timer and due:
 *   enabled, ISTATUS, not masked )
 * board_timer_eoi ( x0 = INTID ) Both clobber x0, x1 only.
 */
    .globl board_timer_ack, board_timer_eoi
board_timer_ack:
    mrs     x0, tpidr_el2               /* the INTID board_irq_vector acknowledged */
    ldr     x0, [x0, #PC_INTID]
    cmp     x0, #26
    b.ne    1f
    mrs     x1, cnthp_ctl_el2
    and     x1, x1, #7
    cmp     x1, #5
    cset    x1, eq
    ret
1:  cmp     x0, #16                     /* an SGI: another core's IPI */
    mov     x1, #2
    csel    x1, x1, xzr, lo
    ret
board_timer_eoi:
    cmp     x0, #1020                   /* special INTIDs take no EOI */
    b.hs    1f
    msr     icc_eoir1_el1, x0
    isb
1:  ret

/*
 * IRQ (vector 0x080): the GIC, two sources.  The frame is saved first
 * (kernel/percpu.inc tf_enter: x0 = per-core, x7 = the frame), then the
 * interrupt acknowledged (ICC_IAR1_EL1).  The PL011's is masked at the
 * UART (UARTIMSC 0: its level drops) and ended at the GIC at once, then
 * handed to the console (kernel/console.S console_uart_interrupt), which
 * unmasks it again by the one store board_irq_init left in
 * console_rx_unmask, at once or when a critical section it deferred in
 * is left: the same contract as the AIC's on m3.  Anything else goes to
 * the timer's path after its own tf_enter (kernel/thread.S
 * timer_entered), the INTID left in PC_INTID for board_timer_ack.
 */
    .globl board_irq_vector, board_irq_init
board_irq_vector:
    tf_enter
    mrs     x1, icc_iar1_el1
    cmp     x1, #INTID_UART
    b.lo    1f                          /* the timer, an SGI: below every SPI */
    b.ne    2f
    movq    x2, UART_BASE               /* masked at its source, as the AIC's event */
    str     wzr, [x2, #UARTIMSC]        /* read masks the line on m3: the console */
    msr     icc_eoir1_el1, x1           /* unmasks it (console_rx_unmask) */
    b       console_uart_interrupt
2:  mov     x3, x0
    bl      vblk_intid                  /* the disk's (virtio.S vblk_irq), if driven */
    cmp     x1, x0
    mov     x0, x3
    b.eq    vblk_irq
1:  str     x1, [x0, #PC_INTID]
    b       timer_entered

/* board_irq_init: the console's TX ring on (it never fills here) and the
   PL011's receive interrupts (RXIM, RTIM) unmasked, the store that does
   it left in console_rx_unmask: the console listens from here
   (kernel/console.S: Ctrl-C).  Clobbers x0-x2. */
board_irq_init:
    mov     x0, #1
    ladr    x1, console_tx_mode
    str     x0, [x1]
    movq    x0, (UART_BASE + UARTIMSC)
    mov     x1, #(IMSC_RX | IMSC_RT)
    ladr    x2, console_rx_unmask       /* the store that unmasks it */
    stp     x0, x1, [x2]
    str     w1, [x0]
    ret
