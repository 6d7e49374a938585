\ The block device's four words over a host image file, so that the
\ file system (forth/files/60-fat.fth, forth/files/61-files.fth) runs under gforth
\ against images made by mkfs.fat and filled by mtools: the host side of
\ tests/test_fat.py.
\
\   FAT_IMAGE=img.img gforth tests/fat_host.fth forth/files/60-fat.fth forth/files/61-files.fth -e '...'
\
\ The words and their iors are the kernel's (kernel/forth/blk.S): 512-byte
\ sectors; -270 no disk, -271 a sector outside the disk, -272 the device
\ failed.  Only words gforth lacks and the kernel has are added here.

warnings off
[undefined] buffer: [if] : buffer: ( u "name" -- ) create allot ; [then]

0 value host-fd          \ the image file, 0: no disk
0 value host-sectors     \ its size in sectors
variable host-reads      \ sectors read and written, for the tests
variable host-writes
variable host-flushes
-1 value host-write-limit \ sectors written before the "crash": later writes are dropped (-1: none)

\ host-image ( a u -- ior ) the disk is now the image file named a u
: host-image ( a u -- ior )
  host-fd ?dup if close-file drop 0 to host-fd then
  r/w bin open-file ?dup if nip exit then to host-fd
  host-fd file-size ?dup if nip nip exit then
  512 um/mod nip to host-sectors 0 ;

: host-at ( sector n -- ior ) \ the file positioned at sector, if n sectors from there are on the disk
  host-fd 0= if 2drop -270 exit then
  over + host-sectors u> if drop -271 exit then
  512 um* host-fd reposition-file if -272 else 0 then ;

: blk-read ( addr sector n -- ior ) \ n sectors from sector on into memory at addr
  2dup host-at ?dup if nip nip nip exit then
  nip dup host-reads +! 512 * tuck host-fd read-file
  if 2drop -272 else <> if -272 else 0 then then ;

: blk-write ( addr sector n -- ior ) \ n sectors from memory at addr onto the disk, from sector on
  2dup host-at ?dup if nip nip nip exit then
  host-write-limit 0< 0= if host-writes @ over + host-write-limit u> if drop 2drop 0 exit then then
  nip dup host-writes +! 512 * host-fd write-file if -272 else 0 then ;

: blk-flush ( -- ior ) \ what was written is in the image file
  host-fd 0= if -270 exit then 1 host-flushes +! host-fd flush-file if -272 else 0 then ;

: blk-size ( -- sectors ) host-sectors ;

\ gforth's own file words, under other names: the file system's replace them
: host-open ( a u -- fid ior ) r/o bin open-file ;
: host-create ( a u -- fid ior ) w/o bin create-file ;
: host-read ( a u fid -- u2 ior ) read-file ;
: host-write ( a u fid -- ior ) write-file ;
: host-close ( fid -- ior ) close-file ;

\ the kernel's file access methods (forth/59-files.fth), after gforth's are
\ compiled into the words above
1 constant r/o  2 constant w/o  3 constant r/w  : bin ( fam -- fam ) ;

s" FAT_IMAGE" getenv dup [if] host-image drop [else] 2drop [then]
