/* Forth words over the block-device layer (kernel/blk.S; docs/storage.md,
   "Block devices").  Sectors are 512 bytes; every error is an ior (a
   THROW code: -270 no disk, -271 a sector outside the disk, -272 the
   device reported an error, -273 a write to a read-only disk, -9 a
   buffer that is not RAM the device may use, -21 on a core other than
   the boot core), never a THROW. */

/* blk-read ( addr sector n -- ior ) n sectors of the disk from sector on into memory at addr */
word "blk-read", w_blkread
    mov     x0, #BLK_READ
    b       blk_rw
endword w_blkread

/* blk-write ( addr sector n -- ior ) n sectors from memory at addr onto the disk, from sector on */
word "blk-write", w_blkwrite
    mov     x0, #BLK_WRITE
    b       blk_rw
endword w_blkwrite

/* blk_rw ( x0 = op; tos = n, [dsp] = sector, [dsp + 8] = addr ): the
   body of both.  tos and dsp survive blk_io's wait (a switch at a call
   keeps x24-x28). */
blk_rw:
    mov     x3, tos
    ldp     x2, x1, [dsp], #16
    enter
    bl      blk_io
    mov     tos, x0
    leave

/* blk-flush ( -- ior ) what was written is on the disk's permanent storage (0 at once where it has no write cache) */
word "blk-flush", w_blkflush
    enter
    bl      blk_flush
    dpush   x0
    leave
endword w_blkflush

/* blk-size ( -- sectors ) the disk's size in sectors (0: no disk) */
word "blk-size", w_blksize
    mov     x5, x30
    bl      board_blk_info
    dpush   x0
    ret     x5
endword w_blksize

/* blk-sector-size ( -- u ) bytes in a sector: 512 */
word "blk-sector-size", w_blksectorsize
    mov     x0, #BLK_SECTOR
    dpush   x0
    ret
endword w_blksectorsize

/* disk? ( -- flag ) true if there is a disk */
word "disk?", w_diskq
    mov     x5, x30
    bl      board_blk_info
    cmp     x0, #0
    csetm   x0, ne
    dpush   x0
    ret     x5
endword w_diskq

/* blk-read-only? ( -- flag ) true if the disk refuses writes (-273) */
word "blk-read-only?", w_blkreadonlyq
    mov     x5, x30
    bl      board_blk_info
    tst     x1, #BLKF_RO
    csetm   x0, ne
    dpush   x0
    ret     x5
endword w_blkreadonlyq

/* blk-stats ( -- requests waits interrupts ) requests made of the device, the ones a thread slept for, the device's interrupts taken */
word "blk-stats", w_blkstats
    ladr    x0, blk_stats
    ldp     x1, x2, [x0]
    ldr     x3, [x0, #16]
    dpush   x1
    dpush   x2
    dpush   x3
    ret
endword w_blkstats
