/*
 * Board m3's disk: a RAM disk the payload carries (docs/storage.md,
 * "Block devices").  `python -m harness build --disk IMAGE` appends the
 * image to kernel.bin and kernel.macho, 16 KiB aligned, and writes its
 * offset and length into the image's header (kernel/macros.inc
 * HDR_DISK_OFF, HDR_DISK_LEN; harness/payload.py with_disk).  m1n1 loads
 * the whole file (raw: the bytes at its base; Mach-O: every
 * LC_SEGMENT_64, the disk being one) and puts its own data after it
 * (boot_args top_of_kernel_data above it all: harness/bootargs.py
 * layout_after_image), so the disk lies in usable RAM between the image
 * and free memory.  The kernel finds it through its own header and checks
 * it before trusting it: the offset 16 KiB aligned and past the image,
 * the length a whole number of sectors, the end inside usable RAM.  Free
 * memory (the bump frontier, kernel/mmu.S bump_alloc) starts above its
 * end even if the loader said less, so no allocator hands out its pages.
 *
 * Requests complete synchronously: a copy between the disk and the
 * buffer (kernel/blk.S has checked both), in thread context outside the
 * critical section, preemptible.  Writes last until the machine resets:
 * the disk is memory (the emulated M3 can save it: `run --disk-out`).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

    .text

/*
 * m3_ramdisk_find ( x20 = boot_info, BI_FREE set from boot_args ): the RAM
 * disk the header names, checked, into m3_state (M3_DISK, M3_DISK_SECTORS),
 * free memory moved above it; a header that names one badly: DIAG_DISK_BAD,
 * no disk.  MMU off.  Clobbers x0-x6.
 */
    .globl m3_ramdisk_find
m3_ramdisk_find:
    ldr     x0, [x20, #BI_LOAD_BASE]
    ldr     x1, [x0, #HDR_DISK_OFF]
    ldr     x2, [x0, #HDR_DISK_LEN]
    cbz     x2, 9f                      /* none */
    tst     x1, #0x3fff
    b.ne    8f
    tst     x2, #(BLK_SECTOR - 1)
    b.ne    8f
    ldr     x3, [x20, #BI_IMAGE_END]
    sub     x3, x3, x0
    cmp     x1, x3
    b.lo    8f                          /* inside the image */
    adds    x3, x0, x1                  /* its first byte */
    b.cs    8f
    adds    x4, x3, x2                  /* one past its last */
    b.cs    8f
    ldr     x5, [x20, #BI_MEM_END]
    cmp     x4, x5
    b.hi    8f
    ladr    x5, m3_state
    lsr     x6, x2, #BLK_SHIFT
    str     x3, [x5, #M3_DISK]
    str     x6, [x5, #M3_DISK_SECTORS]
    mov     x6, #0x3fff
    add     x4, x4, x6
    and     x4, x4, #~0x3fff
    ldr     x5, [x20, #BI_FREE]
    cmp     x4, x5
    b.ls    9f
    str     x4, [x20, #BI_FREE]         /* the loader did not count it: */
    str     x4, [x20, #BI_FREE0]        /*   free memory starts above it */
    mov     x0, #DIAG_DISK_FREE
    b       m3_note_diag
8:  mov     x0, #DIAG_DISK_BAD
    b       m3_note_diag
9:  ret

/*
 * The board's block-device interface (kernel/blk.S calls it; docs/
 * kernel.md, The board interface).
 * board_blk_init: nothing (the disk was found at boot).  Clobbers nothing.
 * board_blk_info ( -- x0 = sectors (0: no disk), x1 = flags: 0, a
 *   synchronous disk with no write cache ).  Clobbers x0, x1.
 * board_blk_start ( x0 = op, x1 = buffer, x2 = first sector, x3 = sectors,
 *   all checked by kernel/blk.S -- x0 = 0: done ).  A flush: nothing to
 *   do.  Clobbers x0-x7.
 * board_blk_done ( -- x0 = 0 ): never asynchronous.  Clobbers x0.
 */
    .globl board_blk_init, board_blk_info, board_blk_start, board_blk_done
board_blk_init:
    ret

board_blk_info:
    ladr    x0, m3_state
    ldr     x0, [x0, #M3_DISK_SECTORS]
    mov     x1, #0
    ret

board_blk_start:
    cmp     x0, #BLK_FLUSH
    b.eq    9f
    ladr    x4, m3_state
    ldr     x4, [x4, #M3_DISK]
    add     x4, x4, x2, lsl #BLK_SHIFT  /* the disk's side */
    lsl     x2, x3, #BLK_SHIFT          /* bytes: a multiple of 64 */
    cbz     x2, 9f
    cmp     x0, #BLK_READ
    csel    x5, x1, x4, eq              /* to */
    csel    x6, x4, x1, eq              /* from */
1:  ldp     x0, x1, [x6], #16           /* 64 bytes a turn (the buffer may be */
    ldp     x3, x4, [x6], #16           /*   unaligned: Normal memory, SCTLR.A */
    stp     x0, x1, [x5], #16           /*   clear, kernel/mmu.S) */
    stp     x3, x4, [x5], #16
    ldp     x0, x1, [x6], #16
    ldp     x3, x4, [x6], #16
    stp     x0, x1, [x5], #16
    stp     x3, x4, [x5], #16
    subs    x2, x2, #64
    b.ne    1b
9:  mov     x0, #0
    ret

board_blk_done:
    mov     x0, #0
    ret
