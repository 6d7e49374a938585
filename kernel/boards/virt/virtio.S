/*
 * Board virt's disk: virtio-blk over virtio-mmio (docs/storage.md, "Block
 * devices").  QEMU's virt machine has 32 virtio,mmio transports of 0x200
 * bytes from 0x0a00_0000, each with its SPI (hw/arm/virt.c
 * create_virtio_devices; the DTB lists them: board.S reads each node's
 * reg and interrupts and vblk_probe looks at the device behind it); a
 * transport with nothing plugged in reads DeviceID 0 (hw/virtio/
 * virtio-mmio.c virtio_mmio_read, "no backend is present").  The first
 * one whose DeviceID is 2, a block device (VIRTIO 1.1 5, Device Types), is
 * the disk; `python -m harness qemu --disk IMAGE` plugs one in
 * (`-drive if=none,file=IMAGE,format=raw,id=d -device
 * virtio-blk-device,drive=d`).
 *
 * The transport must be the modern one, Version 2 (VIRTIO 1.1 4.2.2):
 * QEMU 7.2's virtio-mmio is legacy (Version 1) unless told otherwise
 * (hw/virtio/virtio-mmio.c: DEFINE_PROP_BOOL("force-legacy", ..., true)),
 * so harness/qemu.py always passes `-global virtio-mmio.force-legacy=false`;
 * a legacy device is found, said, and not driven.  Why not legacy too:
 * its queue is one guest-page-aligned block given by page number
 * (QueuePFN, GuestPageSize), a second layout and register set for the
 * same result.
 *
 * One virtqueue (5.2.2), a split virtqueue (2.6) of QSIZE entries in
 * .bss (identity mapped: its addresses are physical, as the device needs;
 * QEMU's DMA is coherent with the cores: the DTB marks every transport
 * dma-coherent, so no cache maintenance), and one request in flight at a
 * time (kernel/blk.S serialises them): descriptors 0, 1, 2 are the
 * request's header (device-readable), its data (device-writable for a
 * read) and its status byte (device-writable), chained with NEXT (5.2.6;
 * a flush has no data: 0 then 2).  Feature bits accepted (2.2, 5.2.3):
 * VIRTIO_F_VERSION_1 (32, required of a modern device), VIRTIO_BLK_F_RO
 * (5) and VIRTIO_BLK_F_FLUSH (9) if offered; nothing else (no indirect
 * descriptors, no event index: the device interrupts for every used
 * buffer, 2.6.7).  Completion is the transport's interrupt (4.2.2
 * InterruptStatus bit 0, "used buffer notification"), a GIC SPI as the
 * DTB says; the handler (vblk_irq) acknowledges it and branches to
 * kernel/blk.S blk_interrupt, which collects the result (board_blk_done).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

/* virtio-mmio registers, version 2 (VIRTIO 1.1 4.2.2, "MMIO Device
   Register Layout"; Linux include/uapi/linux/virtio_mmio.h).  32 bits
   each; the device's configuration space from 0x100. */
#define VIO_MAGIC           0x000       /* 0x74726976, "virt" */
#define VIO_VERSION         0x004       /* 2: modern; 1: legacy */
#define VIO_DEVICE_ID       0x008       /* 2: block device; 0: nothing plugged in */
#define VIO_DEV_FEATURES    0x010       /* 32 bits of the device's features, */
#define VIO_DEV_FEAT_SEL    0x014       /*   which 32 (0: bits 0-31, 1: 32-63) */
#define VIO_DRV_FEATURES    0x020       /* the driver's, the same way */
#define VIO_DRV_FEAT_SEL    0x024
#define VIO_QUEUE_SEL       0x030
#define VIO_QUEUE_NUM_MAX   0x034       /* 0: no such queue */
#define VIO_QUEUE_NUM       0x038
#define VIO_QUEUE_READY     0x044
#define VIO_QUEUE_NOTIFY    0x050       /* the queue's index: there is work in it */
#define VIO_INT_STATUS      0x060       /* bit 0 used buffer, bit 1 configuration change */
#define VIO_INT_ACK         0x064
#define VIO_STATUS          0x070       /* device status (2.1); 0 resets the device */
#define VIO_QUEUE_DESC      0x080       /* low, high at + 4 */
#define VIO_QUEUE_DRIVER    0x090       /* the available ring */
#define VIO_QUEUE_DEVICE    0x0a0       /* the used ring */
#define VIO_CONFIG_GEN      0x0fc       /* changes while the configuration space does */
#define VIO_CONFIG          0x100
#define VIRT_MAGIC          0x74726976

/* Device status bits (VIRTIO 1.1 2.1) */
#define ST_ACKNOWLEDGE      1
#define ST_DRIVER           2
#define ST_DRIVER_OK        4
#define ST_FEATURES_OK      8
#define ST_NEEDS_RESET      64
#define ST_FAILED           128

/* virtio-blk (VIRTIO 1.1 5.2) */
#define VIRTIO_ID_BLOCK     2
#define VIRTIO_BLK_F_RO     5           /* the device is read-only */
#define VIRTIO_BLK_F_FLUSH  9           /* the FLUSH command (a write cache) */
#define VIRTIO_BLK_T_IN     0           /* read */
#define VIRTIO_BLK_T_OUT    1           /* write */
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_S_OK     0           /* status byte: OK, IOERR 1, UNSUPP 2 */
#define BLK_CAPACITY        0           /* config: le64, in 512-byte sectors (5.2.4) */

/* A split virtqueue (VIRTIO 1.1 2.6): the descriptor table 16-byte
   aligned, the driver area (available ring) 2, the device area (used
   ring) 4 (2.6, "Virtqueue Part Alignment"); all in one 4 KiB block. */
#define QSIZE               8           /* a power of 2 (2.6) */
#define VQ_DESC             0           /* QSIZE x: addr le64, len le32, flags le16, next le16 (2.6.5) */
#define VQ_AVAIL            128         /* flags le16, idx le16, ring[QSIZE] le16, used_event (2.6.6) */
#define VQ_USED             256         /* flags le16, idx le16, ring[QSIZE] of id le32, len le32 (2.6.8) */
#define VQ_REQ              384         /* the request's header: type le32, reserved le32, sector le64 (5.2.6) */
#define VQ_STATUS           400         /* its status byte */
#define VQ_SIZE             512
#define DESC_F_NEXT         1           /* VIRTQ_DESC_F_NEXT (2.6.5) */
#define DESC_F_WRITE        2           /* VIRTQ_DESC_F_WRITE: device-writable */

/* vblk: what was found and how it is driven */
#define VB_BASE             0           /* the transport (0: no disk found) */
#define VB_INTID            8           /* its interrupt (an SPI's INTID) */
#define VB_TRIGGER          16          /* the DTB's flags for it: 1 edge rising, 4 level high */
#define VB_SECTORS          24          /* capacity; 0 until driven (no disk for kernel/blk.S) */
#define VB_FLAGS            32          /* BLKF_* (kernel/macros.inc) */
#define VB_AVAIL            40          /* requests made: the available ring's idx */
#define VB_USED             48          /* requests collected: the used ring's idx as last seen */
#define VB_LEGACY           56          /* a block device on a legacy transport was found there */
#define VB_FAILED           64          /* why it is not driven (a FAIL_* code, 0: it is) */
#define VB_BROKEN           72          /* the device asked for a reset: every request fails */
#define VB_SIZE             80
assert_adjacent VB_INTID, VB_TRIGGER
#define FAIL_NOT_MODERN     1           /* no VIRTIO_F_VERSION_1 offered */
#define FAIL_FEATURES       2           /* FEATURES_OK did not stick */
#define FAIL_QUEUE          3           /* queue 0 missing, in use, or smaller than QSIZE */
#define FAIL_RESET          4           /* Status did not read 0 after the reset */

    .bss
    .balign 4096
vblk_queue: .space  VQ_SIZE
    .balign 8
vblk:       .space  VB_SIZE
    .globl vblk_cand
vblk_cand:  .quad   0, 0, 0             /* the DTB node being read: reg, INTID, flags (board.S) */

    .text

/*
 * vblk_probe: the virtio,mmio node just read from the DTB (vblk_cand): if
 * no disk is chosen yet and a block device sits behind it (MagicValue
 * "virt", DeviceID 2: VIRTIO 1.1 4.2.3.1.1, the driver's first reads), it
 * is the disk, if its transport is Version 2 and the DTB gave an SPI.
 * From board_boot_info's DTB walk, MMU off (Device memory: aligned
 * 32-bit loads).  Clobbers x0-x6.
 */
    .globl vblk_probe
vblk_probe:
    ladr    x0, vblk
    ldr     x1, [x0, #VB_BASE]
    cbnz    x1, 9f
    ladr    x2, vblk_cand
    ldr     x1, [x2]
    cbz     x1, 9f
    ldr     w3, [x1, #VIO_MAGIC]
    movq    x4, VIRT_MAGIC
    cmp     w3, w4
    b.ne    9f
    ldr     w3, [x1, #VIO_DEVICE_ID]
    cmp     w3, #VIRTIO_ID_BLOCK
    b.ne    9f
    ldr     w3, [x1, #VIO_VERSION]
    cmp     w3, #2
    b.eq    1f
    str     x1, [x0, #VB_LEGACY]        /* said by board_report, not driven */
    b       9f
1:  ldp     x3, x4, [x2, #8]            /* INTID, flags */
    cbz     x3, 9f                      /* no SPI in the DTB */
    str     x1, [x0, #VB_BASE]
    stp     x3, x4, [x0, #VB_INTID]
9:  ret

/* vblk_window ( -- x0 = the disk's transport, 16 KiB aligned, or 0 ):
   for board_boot_info's device windows.  Clobbers x0. */
    .globl vblk_window
vblk_window:
    ladr    x0, vblk
    ldr     x0, [x0, #VB_BASE]
    and     x0, x0, #~0x3fff
    ret

/*
 * board_blk_init: the disk found at boot set up, MMU on (VIRTIO 1.1 3.1.1,
 * "Driver Requirements: Device Initialization", with the MMIO specifics
 * of 4.2.3.1 and 4.2.3.2): reset (Status 0, read back 0), ACKNOWLEDGE,
 * DRIVER, the features (VERSION_1 required; RO, FLUSH as offered),
 * FEATURES_OK and its re-read, queue 0 (QueueSel; QueueReady 0 and
 * QueueNumMax at least QSIZE; QueueNum, the three areas' addresses,
 * QueueReady 1), the capacity (read until ConfigGeneration holds still,
 * 4.2.2), DRIVER_OK.  Then its SPI at the GIC (as gic_init does the
 * UART's): group 1, priority 0x80, edge or level as the DTB's flags say
 * (GICD_ICFGR<n>: Int_config bit 1 of the INTID's two bits set for edge:
 * GICv3 spec IHI 0069, GICD_ICFGR<n>; the DTB's third cell, Linux include/dt-bindings/
 * interrupt-controller/irq.h: 1 edge rising, 4 level high), routed to
 * this core, the boot core (kernel/blk.S waits only there), enabled.  A step the device refuses: Status FAILED (2.1), the reason in
 * VB_FAILED (board_report says it), no disk.  Clobbers x0-x9.
 */
    .globl board_blk_init
board_blk_init:
    ladr    x9, vblk
    ldr     x1, [x9, #VB_BASE]
    cbz     x1, 9f
    str     wzr, [x1, #VIO_STATUS]      /* reset */
    mov     x2, #(1 << 20)
1:  ldr     w0, [x1, #VIO_STATUS]       /* the reset is over when it reads 0 */
    cbz     w0, 2f                      /*   (VIRTIO 1.2 2.4, Device Reset) */
    subs    x2, x2, #1
    b.ne    1b
    mov     x3, #FAIL_RESET
    b       8f
2:  mov     w0, #ST_ACKNOWLEDGE
    str     w0, [x1, #VIO_STATUS]
    mov     w0, #(ST_ACKNOWLEDGE | ST_DRIVER)
    str     w0, [x1, #VIO_STATUS]
    str     wzr, [x1, #VIO_DEV_FEAT_SEL]
    ldr     w2, [x1, #VIO_DEV_FEATURES] /* bits 0-31 */
    mov     w0, #1
    str     w0, [x1, #VIO_DEV_FEAT_SEL]
    ldr     w3, [x1, #VIO_DEV_FEATURES] /* bits 32-63: VERSION_1 is bit 0 here */
    tbnz    w3, #0, 3f
    mov     x3, #FAIL_NOT_MODERN
    b       8f
3:  mov     w0, #((1 << VIRTIO_BLK_F_RO) | (1 << VIRTIO_BLK_F_FLUSH))
    and     w2, w2, w0
    str     wzr, [x1, #VIO_DRV_FEAT_SEL]
    str     w2, [x1, #VIO_DRV_FEATURES]
    mov     w0, #1
    str     w0, [x1, #VIO_DRV_FEAT_SEL]
    str     w0, [x1, #VIO_DRV_FEATURES] /* VIRTIO_F_VERSION_1 */
    mov     w0, #(ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK)
    str     w0, [x1, #VIO_STATUS]
    ldr     w0, [x1, #VIO_STATUS]
    tbnz    w0, #3, 4f                  /* the device took them */
    mov     x3, #FAIL_FEATURES
    b       8f
4:  mov     x3, #BLKF_ASYNC             /* what kernel/blk.S is told */
    tst     w2, #(1 << VIRTIO_BLK_F_RO)
    orr     x4, x3, #BLKF_RO
    csel    x3, x4, x3, ne
    tst     w2, #(1 << VIRTIO_BLK_F_FLUSH)
    orr     x4, x3, #BLKF_FLUSH
    csel    x3, x4, x3, ne
    str     x3, [x9, #VB_FLAGS]
    str     wzr, [x1, #VIO_QUEUE_SEL]   /* queue 0, the requests (5.2.2) */
    ldr     w0, [x1, #VIO_QUEUE_READY]
    mov     x3, #FAIL_QUEUE
    cbnz    w0, 8f
    ldr     w0, [x1, #VIO_QUEUE_NUM_MAX]
    cmp     w0, #QSIZE
    b.lo    8f
    mov     w0, #QSIZE
    str     w0, [x1, #VIO_QUEUE_NUM]
    ladr    x4, vblk_queue
    str     w4, [x1, #VIO_QUEUE_DESC]
    lsr     x0, x4, #32
    str     w0, [x1, #(VIO_QUEUE_DESC + 4)]
    add     x5, x4, #VQ_AVAIL
    str     w5, [x1, #VIO_QUEUE_DRIVER]
    lsr     x0, x5, #32
    str     w0, [x1, #(VIO_QUEUE_DRIVER + 4)]
    add     x5, x4, #VQ_USED
    str     w5, [x1, #VIO_QUEUE_DEVICE]
    lsr     x0, x5, #32
    str     w0, [x1, #(VIO_QUEUE_DEVICE + 4)]
    mov     w0, #1
    str     w0, [x1, #VIO_QUEUE_READY]
5:  ldr     w6, [x1, #VIO_CONFIG_GEN]
    ldr     w4, [x1, #(VIO_CONFIG + BLK_CAPACITY)]
    ldr     w5, [x1, #(VIO_CONFIG + BLK_CAPACITY + 4)]
    ldr     w0, [x1, #VIO_CONFIG_GEN]
    cmp     w0, w6
    b.ne    5b
    orr     x4, x4, x5, lsl #32
    mov     w0, #(ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK)
    str     w0, [x1, #VIO_STATUS]
    str     x4, [x9, #VB_SECTORS]       /* from here kernel/blk.S sees a disk */

    movq    x1, GICD_BASE
    ldr     x2, [x9, #VB_INTID]
    lsr     x3, x2, #5
    lsl     x3, x3, #2                  /* its 32-bit register's offset in a bank */
    and     x4, x2, #31
    mov     w5, #1
    lsl     w5, w5, w4                  /* its bit there */
    add     x6, x1, #0x80               /* GICD_IGROUPR<n>: group 1 */
    ldr     w0, [x6, x3]
    orr     w0, w0, w5
    str     w0, [x6, x3]
    add     x6, x1, #0x400              /* GICD_IPRIORITYR: a byte each */
    mov     w0, #0x80
    strb    w0, [x6, x2]
    lsr     x3, x2, #4
    lsl     x3, x3, #2                  /* GICD_ICFGR<n>: 16 INTIDs a register */
    and     x4, x2, #15
    lsl     x4, x4, #1
    add     x4, x4, #1                  /* its Int_config bit: 1 edge, 0 level */
    mov     w7, #1
    lsl     w7, w7, w4
    add     x6, x1, #0xc00
    ldr     w0, [x6, x3]
    bic     w0, w0, w7
    ldr     x8, [x9, #VB_TRIGGER]
    and     x8, x8, #0xf
    cmp     x8, #1                      /* IRQ_TYPE_EDGE_RISING */
    orr     w8, w0, w7
    csel    w0, w8, w0, eq
    str     w0, [x6, x3]
    mrs     x0, mpidr_el1               /* GICD_IROUTER<n>: this core (the boot */
    movq    x8, 0xff00ffffff            /*   core), Aff3 39:32, Aff2-Aff0 23:0, */
    and     x0, x0, x8                  /*   as MPIDR holds them; mode 0 (GICv3 */
    add     x6, x1, #0x6000             /*   spec IHI 0069, GICD_IROUTER<n>) */
    str     x0, [x6, x2, lsl #3]
    lsr     x3, x2, #5
    lsl     x3, x3, #2
    add     x6, x1, #0x100              /* GICD_ISENABLER<n> */
    str     w5, [x6, x3]
9:  ret
8:  mov     w0, #ST_FAILED              /* give up on it (2.1: FAILED) */
    str     w0, [x1, #VIO_STATUS]
    str     x3, [x9, #VB_FAILED]
    ret

/* board_blk_info ( -- x0 = sectors (0: no disk), x1 = BLKF_* ).
   Clobbers x0, x1. */
    .globl board_blk_info
board_blk_info:
    ladr    x1, vblk
    ldr     x0, [x1, #VB_SECTORS]
    ldr     x1, [x1, #VB_FLAGS]
    ret

    .section .text.critical, "ax"

/*
 * board_blk_start ( x0 = op, x1 = buffer, x2 = first sector, x3 =
 * sectors, all checked by kernel/blk.S, none in flight -- x0 =
 * BLK_PENDING, or IOR_DISK if the device is broken ): the request on the
 * virtqueue: its header (type, 0, sector: 5.2.6; a flush's sector is
 * 0), the status byte preset to 0xff (a device that never writes it is
 * an error, not OK), descriptors 0-1-2 (0-2 for a flush), the head (0)
 * into the available ring, a write barrier, the ring's idx + 1 (2.6.13,
 * "Supplying Buffers to The Device"; Linux drivers/virtio/virtio_ring.c
 * virtqueue_add_split: virtio_wmb before the idx, here DMB OSHST as
 * Linux's dma_wmb on arm64), another barrier before the notification
 * (the Device store; Linux writel's __iowmb), then QueueNotify = 0
 * (4.2.3.3).  In the critical section (kernel/blk.S blk_async).
 * Clobbers x0-x8.
 */
    .globl board_blk_start
board_blk_start:
    ladr    x5, vblk
    ldr     x6, [x5, #VB_BROKEN]
    cbnz    x6, 8f
    ladr    x4, vblk_queue
    mov     w6, #VIRTIO_BLK_T_IN
    mov     w7, #VIRTIO_BLK_T_OUT
    cmp     x0, #BLK_WRITE
    csel    w6, w7, w6, eq
    mov     w7, #VIRTIO_BLK_T_FLUSH
    cmp     x0, #BLK_FLUSH
    csel    w6, w7, w6, eq
    csel    x2, xzr, x2, eq
    str     w6, [x4, #VQ_REQ]
    str     wzr, [x4, #(VQ_REQ + 4)]
    str     x2, [x4, #(VQ_REQ + 8)]
    mov     w6, #0xff
    strb    w6, [x4, #VQ_STATUS]
    add     x6, x4, #VQ_REQ             /* 0: the header, device-readable */
    str     x6, [x4, #(VQ_DESC + 0)]
    mov     w6, #16
    str     w6, [x4, #(VQ_DESC + 8)]
    mov     w6, #DESC_F_NEXT
    strh    w6, [x4, #(VQ_DESC + 12)]
    mov     w6, #1                      /* then the data, */
    mov     w7, #2                      /*   or for a flush the status */
    csel    w6, w7, w6, eq
    strh    w6, [x4, #(VQ_DESC + 14)]
    str     x1, [x4, #(VQ_DESC + 16)]   /* 1: the data */
    lsl     x3, x3, #BLK_SHIFT
    str     w3, [x4, #(VQ_DESC + 24)]
    cmp     x0, #BLK_READ
    mov     w6, #DESC_F_NEXT
    mov     w7, #(DESC_F_NEXT | DESC_F_WRITE)   /* a read: the device writes it */
    csel    w6, w7, w6, eq
    strh    w6, [x4, #(VQ_DESC + 28)]
    mov     w6, #2
    strh    w6, [x4, #(VQ_DESC + 30)]
    add     x6, x4, #VQ_STATUS          /* 2: the status byte, device-writable */
    str     x6, [x4, #(VQ_DESC + 32)]
    mov     w6, #1
    str     w6, [x4, #(VQ_DESC + 40)]
    mov     w6, #DESC_F_WRITE
    strh    w6, [x4, #(VQ_DESC + 44)]
    strh    wzr, [x4, #(VQ_DESC + 46)]
    ldr     x7, [x5, #VB_AVAIL]
    and     x8, x7, #(QSIZE - 1)
    add     x6, x4, #(VQ_AVAIL + 4)
    strh    wzr, [x6, x8, lsl #1]       /* ring[idx % QSIZE] = head 0 */
    dmb     oshst
    add     x7, x7, #1
    str     x7, [x5, #VB_AVAIL]
    strh    w7, [x4, #(VQ_AVAIL + 2)]   /* idx: the device may take it now */
    dmb     oshst
    ldr     x6, [x5, #VB_BASE]
    str     wzr, [x6, #VIO_QUEUE_NOTIFY]
    mov     x0, #BLK_PENDING
    ret
8:  mov     x0, #IOR_DISK
    ret

    .text

/*
 * board_blk_done ( -- x0 = 1: the request in flight is over, x1 = its ior;
 * 0: not yet ): from blk_interrupt.  Over when the used ring's idx has
 * moved (2.6.8; then a read barrier before the status byte: Linux
 * virtqueue_get_buf_ctx_split, virtio_rmb), its status byte says how: OK
 * 0, anything else IOR_DISK (IOERR, UNSUPP, or never written).  A device
 * that asks for a reset (Status DEVICE_NEEDS_RESET, 2.1: QEMU's
 * virtio_error, e.g. a descriptor it cannot map) completes nothing more:
 * the request is over with IOR_DISK and every later one fails
 * (VB_BROKEN).  Clobbers x0-x6.
 */
    .globl board_blk_done
board_blk_done:
    ladr    x5, vblk
    ladr    x4, vblk_queue
    ldrh    w2, [x4, #(VQ_USED + 2)]
    ldr     x3, [x5, #VB_USED]
    and     x6, x3, #0xffff
    cmp     x2, x6
    b.eq    5f
    dmb     oshld
    add     x3, x3, #1
    str     x3, [x5, #VB_USED]
    ldrb    w2, [x4, #VQ_STATUS]
    mov     x1, #0
    mov     x6, #IOR_DISK
    cmp     w2, #VIRTIO_BLK_S_OK
    csel    x1, x1, x6, eq
    mov     x0, #1
    ret
5:  ldr     x6, [x5, #VB_BASE]
    ldr     w2, [x6, #VIO_STATUS]
    mov     x0, #0
    tbz     w2, #6, 6f                  /* DEVICE_NEEDS_RESET */
    mov     x0, #1
    str     x0, [x5, #VB_BROKEN]
    mov     x1, #IOR_DISK
6:  ret

/*
 * vblk_irq ( x0 = per-core, x1 = the INTID acknowledged, x7 = the frame:
 * tf_enter, kernel/percpu.inc ): the disk's interrupt, from
 * board_irq_vector: InterruptStatus read and written back to
 * InterruptACK (4.2.2; Linux drivers/virtio/virtio_mmio.c vm_interrupt),
 * which drops the line, then the end of the interrupt at the GIC, then
 * kernel/blk.S blk_interrupt.
 */
    .globl vblk_irq
vblk_irq:
    ladr    x2, vblk
    ldr     x2, [x2, #VB_BASE]
    ldr     w3, [x2, #VIO_INT_STATUS]
    str     w3, [x2, #VIO_INT_ACK]
    msr     icc_eoir1_el1, x1
    b       blk_interrupt

/* vblk_intid ( -- x0 = the disk's INTID, 0 if it is not driven ).
   Clobbers x0. */
    .globl vblk_intid
vblk_intid:
    ladr    x0, vblk
    ldr     x0, [x0, #VB_SECTORS]
    cbz     x0, 1f
    ladr    x0, vblk
    ldr     x0, [x0, #VB_INTID]
1:  ret

/*
 * vblk_report: board_report's line for the disk: where it is and how
 * big, or why there is none although a block device was found.  Nothing
 * when there is no virtio-blk device at all.  Clobbers x0-x6, x19.
 */
    .globl vblk_report
vblk_report:
    mov     x19, x30
    ladr    x5, vblk
    ldr     x0, [x5, #VB_SECTORS]
    cbz     x0, 2f
    ladr    x0, msg_vblk
    bl      console_puts
    ladr    x5, vblk
    ldr     x0, [x5, #VB_BASE]
    bl      console_hex
    ladr    x0, msg_vblk_irq
    bl      console_puts
    ladr    x5, vblk
    ldr     x0, [x5, #VB_INTID]
    bl      console_dec
    ladr    x0, msg_vblk_sectors
    bl      console_puts
    ladr    x5, vblk
    ldr     x0, [x5, #VB_SECTORS]
    bl      console_dec
    ladr    x0, msg_vblk_sectors2
    bl      console_puts
    ladr    x5, vblk
    ldr     x0, [x5, #VB_FLAGS]
    tst     x0, #BLKF_RO
    b.eq    1f
    ladr    x0, msg_vblk_ro
    bl      console_puts
1:  ladr    x5, vblk
    ldr     x0, [x5, #VB_FLAGS]
    tst     x0, #BLKF_FLUSH
    b.eq    7f
    ladr    x0, msg_vblk_flush
    bl      console_puts
    b       7f
2:  ldr     x0, [x5, #VB_LEGACY]
    cbz     x0, 3f
    ladr    x0, msg_vblk_legacy
    bl      console_puts
    b       7f
3:  ldr     x0, [x5, #VB_FAILED]
    cbz     x0, 9f
    ladr    x0, msg_vblk_failed
    bl      console_puts
    ladr    x5, vblk
    ldr     x0, [x5, #VB_FAILED]
    bl      console_dec
7:  bl      console_newline
9:  ret     x19

    .section .rodata
msg_vblk:           .asciz "virt: disk virtio-blk at "
msg_vblk_irq:       .asciz " irq "
msg_vblk_sectors:   .asciz ", "
msg_vblk_sectors2:  .asciz " sectors"
msg_vblk_ro:        .asciz ", read-only"
msg_vblk_flush:     .asciz ", write cache (flush)"
msg_vblk_legacy:    .asciz "virt: a virtio-blk device on a legacy (version 1) transport: not driven; QEMU needs -global virtio-mmio.force-legacy=false"
msg_vblk_failed:    .asciz "virt: the virtio-blk device refused its set-up: not driven, step "
