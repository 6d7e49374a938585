\ STAND-INS, TO BE DELETED when the block device's words arrive
\ (kernel/forth/blk.S on the blockdev branch): without them the file system
\ (forth/60-fat.fth) would not compile at boot.  Each is a deferred word
\ answering "no disk" (ior -270, size 0), defined only where the kernel
\ lacks the word (blk-read last: it guards blk-size too, which main's heap
\ once had a word of its own for).  Deferred so that tests/test_fat.py can
\ put a disk in memory under them in the emulated M3.
: no-disk-io ( addr sector n -- ior ) 2drop drop -270 ;
: no-disk ( -- ior ) -270 ;
: no-disk-size ( -- 0 ) 0 ;
\ blk-size ( -- sectors ) the disk's size in sectors (stand-in: 0, no disk)
[undefined] blk-read [if] defer blk-size ' no-disk-size is blk-size [then]
\ blk-flush ( -- ior ) what was written is on the disk (stand-in: -270, no disk)
[undefined] blk-flush [if] defer blk-flush ' no-disk is blk-flush [then]
\ blk-write ( addr sector n -- ior ) n sectors from addr onto the disk from sector on (stand-in: -270, no disk)
[undefined] blk-write [if] defer blk-write ' no-disk-io is blk-write [then]
\ blk-read ( addr sector n -- ior ) n sectors of the disk from sector on into addr (stand-in: -270, no disk)
[undefined] blk-read [if] defer blk-read ' no-disk-io is blk-read [then]
