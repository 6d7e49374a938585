\ Blocks: the Forth 2012 Block word set (7.6.1) and its extensions
\ (7.6.2) over a block file in the FAT32 volume.  Why a file and not the
\ disk's raw sectors: the disk is the volume, and a file keeps blocks and
\ files side by side; the host reads it with mtools as any file
\ (`mtype -i disk.img ::/blocks.fb`).
\
\ The file is /blocks.fb, opened read-write the first time a block is
\ asked for and made (empty) if it is not there.  Block u is its bytes
\ (u-1)*1024 .. u*1024-1.  BLOCK or BUFFER of a block past the file's
\ end first extends the file with spaces up to the end of that block
\ (refused with "disk full", -284, before anything is written if the
\ volume has not the room), so the file is always whole blocks of text
\ for a host editor.  Blocks are 1 .. 4194303 (FAT32's largest file is
\ 4 GiB - 1 bytes); 0 or a larger one is THROW -35, invalid block number.
\
\ #bufs (8) buffers of 1024 bytes.  A block not in one takes an empty
\ buffer, else the least recently used (BLOCK and BUFFER use it), written
\ to the file first if UPDATEd; never the buffer the text interpreter is
\ reading from (LOAD's block), so the block being loaded stays in place
\ whatever it asks for.  An outer input source that was a block is found
\ again by its number (BLOCK) when a LOAD or EVALUATE nested in it ends,
\ and by RESTORE-INPUT.
\
\ Every error is a THROW (nothing here returns an ior): the file
\ system's ior as the code (-270 no disk, -272 disk error, -284 disk full,
\ ...: `n .fs-error` names one), -35 for a bad block number.  A buffer is
\ assigned a block only once it has been read, and an UPDATEd one stays
\ updated until it has been written, so after an error the buffers are
\ as before it.
\
\ BLK is 0 unless the interpreter is reading a block (LOAD, THRU, REFILL
\ in a block).  The words that need to know are redefined here, for the
\ text compiled and interpreted from now on (the block words are only
\ reached after this file is compiled): \ comments to the end of its
\ 64-character line in a block (7.6.2.2535), EVALUATE sets BLK to 0 for
\ its string (7.6.1.1360), REFILL in a block goes on to the next block
\ (7.6.2.2125), SAVE-INPUT keeps BLK and RESTORE-INPUT goes back to
\ that block.  SOURCE-ID is -1 while a block is loaded (ambiguous there,
\ 7.3.2), so the kernel's own REFILL (the one [ELSE] calls) ends a block
\ as it ends a string.
\
\ Limits: one block file; BLK and SCR and the buffers are shared by every
\ thread, like the volume; UNMOUNT closes the file but does not write
\ UPDATEd buffers (SAVE-BUFFERS or FLUSH first).

\ ---- the input source ----------------------------------------------------------
\ SOURCE and SOURCE-ID are set with the kernel's source! ( a u -- ), which
\ also makes >IN 0, and source-id! ( x -- ) (kernel/forth/interpret.S).

\ ---- the block file ------------------------------------------------------------
-35 constant ior-block     \ invalid block number (Forth 2012 table 9.1)
4194303 constant bk-max    \ the last block: 1024 * 4194303 <= 4 GiB - 1
0 value bk-fid             \ the block file's id, 0: not open yet
variable bk-esec  variable bk-eoff   \ where its directory entry is: the id is the file's only while it matches
create bk-spaces 1024 allot  bk-spaces 1024 blank   \ what a new block holds
: bk-name ( -- a u ) s" /blocks.fb" ;
: bk-file ( -- fid ) \ the block file, opened (made if absent) on first use or after UNMOUNT closed it
  bk-fid ?dup if
    dup fid? if dup fcb-esec @ bk-esec @ = over fcb-eoff @ bk-eoff @ = and if exit then then drop
  then
  bk-name r/w open-file dup ior-nofile = if 2drop bk-name r/w create-file then throw
  dup to bk-fid  dup fcb-esec @ bk-esec !  dup fcb-eoff @ bk-eoff ! ;
: bk-at ( u -- ) \ the block file positioned at block u
  1- 1024 um* bk-file reposition-file throw ;
: bk-room ( n -- ) \ THROW ior-full unless the volume has the clusters for n more bytes
  fs-cb 1- + fs-cb / free-count throw u> if ior-full throw then ;
\ bk-extend ( u -- ) the file at least u blocks long: spaces written from its end on
: bk-extend ( u -- )
  1024 * bk-file file-size throw drop      ( want have )
  2dup u> 0= if 2drop exit then
  2dup - bk-room
  dup 0 bk-file reposition-file throw
  begin 2dup u> while
    2dup - over 1023 and 1024 swap - min  ( want have k )
    bk-spaces over bk-file write-file throw +
  repeat 2drop ;

\ ---- the buffers ---------------------------------------------------------------
8 constant #bufs
create bk-data #bufs 1024 * allot    \ the buffers, cell aligned (BLOCK's address is)
create bk-num #bufs cells allot      \ the block a buffer holds, 0: none
create bk-upd #bufs cells allot      \ true: UPDATEd since it was read or written
create bk-use #bufs cells allot      \ when it was last asked for
variable bk-clock
-1 value bk-cur                      \ the current buffer (UPDATE's), -1: none
: >bk-buf ( i -- a ) 10 lshift bk-data + ;
: >bk-num ( i -- a ) cells bk-num + ;
: >bk-upd ( i -- a ) cells bk-upd + ;
: >bk-use ( i -- a ) cells bk-use + ;
bk-num #bufs cells erase  bk-upd #bufs cells erase  bk-use #bufs cells erase  0 bk-clock !
variable blk  0 blk !   \ BLK ( -- a-addr ) the block being interpreted, 0: none
variable scr  0 scr !   \ SCR ( -- a-addr ) the block LIST showed last
: bk-check ( u -- u ) \ THROW -35 unless u is a block number, 1 .. bk-max
  dup 1- bk-max u< 0= if ior-block throw then ;
: bk-find ( u -- i | -1 ) \ the buffer holding block u
  #bufs 0 do dup i >bk-num @ = if drop i unloop exit then loop drop -1 ;
: bk-touch ( i -- i ) \ just used
  1 bk-clock +! bk-clock @ over >bk-use ! ;
: in-block? ( -- flag ) \ is the input source a block: BLK set and SOURCE a block buffer (not a string
  \ that a word compiled before this file EVALUATEs, with the kernel's EVALUATE that leaves BLK as it is)
  blk @ 0<> source drop bk-data - #bufs 1024 * u< and ;
: bk-pinned ( -- a | 0 ) \ the buffer the interpreter reads from, not to be reused
  in-block? if source drop else 0 then ;
: bk-victim ( -- i ) \ an empty buffer, else the least recently used, not the pinned one
  -1 #bufs 0 do
    i >bk-buf bk-pinned <> if
      i >bk-num @ 0= if drop i leave then
      dup 0< if drop i else i >bk-use @ over >bk-use @ u< if drop i then then
    then
  loop ;
: bk-write ( i -- ) \ buffer i to its block of the file; no longer updated
  dup >bk-num @ bk-at dup >bk-buf 1024 bk-file write-file throw false swap >bk-upd ! ;
: bk-claim ( -- i ) \ a buffer to fill: what it held written first if UPDATEd, then it holds nothing
  bk-victim dup >bk-upd @ if dup bk-write then
  0 over >bk-num !  dup bk-cur = if -1 to bk-cur then ;
: bk-read ( a u -- ) \ block u of the file into a (spaces past the file's end)
  bk-at dup 1024 bk-file read-file throw 1024 swap /string blank ;
: bk-get ( u -- i ) \ the buffer holding block u, read into one if none does
  bk-check dup bk-find dup 0< if drop
    dup bk-extend bk-claim 2dup >bk-buf swap bk-read tuck >bk-num !
  else nip then bk-touch ;
: reblock ( -- ) \ SOURCE the buffer of block BLK again, if the interpreter reads a block (its buffer may have gone)
  in-block? if >in @ blk @ bk-get >bk-buf 1024 source! >in ! then ;

\ ---- the Block words (7.6.1) --------------------------------------------------
: block ( u -- a-addr ) \ the buffer holding block u, read from /blocks.fb unless a buffer holds it
  bk-get dup to bk-cur >bk-buf ;
: buffer ( u -- a-addr ) \ a buffer for block u, not read (its contents are the block's only if a buffer held it)
  bk-check dup bk-find dup 0< if drop
    dup bk-extend bk-claim tuck >bk-num !
  else nip then bk-touch dup to bk-cur >bk-buf ;
: update ( -- ) \ mark the current block buffer (the last BLOCK or BUFFER gave) as changed
  bk-cur 0< if exit then true bk-cur >bk-upd ! ;
: save-buffers ( -- ) \ every UPDATEd buffer written to /blocks.fb, and the file flushed to the disk
  #bufs 0 do i >bk-num @ if i >bk-upd @ if i bk-write then then loop
  bk-fid if bk-file flush-file throw then ;
: empty-buffers ( -- ) \ every buffer unassigned, UPDATEd or not (7.6.2.1330)
  bk-num #bufs cells erase  bk-upd #bufs cells erase  -1 to bk-cur ;
: flush ( -- ) \ SAVE-BUFFERS, then EMPTY-BUFFERS
  save-buffers empty-buffers ;
\ load ( i*x u -- j*x ) interpret block u: SOURCE its buffer, BLK u, >IN 0; then the input
\ source before it back, also after a THROW (which goes on)
: load ( i*x u -- j*x )
  dup block
  source >in @ source-id blk @ >r 2>r 2>r
  1024 source! blk ! 0 >in ! -1 source-id!
  ['] interpret catch
  2r> source! 2r> source-id! >in ! r> blk !
  reblock throw ;
: thru ( i*x u1 u2 -- j*x ) \ LOAD blocks u1 to u2 in turn (7.6.2.2280)
  2dup u> if 2drop exit then 1+ swap ?do i load loop ;
: list ( u -- ) \ block u as 16 numbered lines of 64 characters (others than ASCII shown as .); SCR is u
  dup block swap scr !
  16 0 do
    cr i 2 .r space dup i 64 * + 64 bounds do i c@ dup bl 127 within 0= if drop [char] . then emit loop
  loop drop ;

\ ---- the interpreter's words, with BLK (7.6.1.1360, 7.6.2.2125, 7.6.2.2535) ---
: \ ( "ccc<eol>" -- ) \ a comment to the end of the line; in a block, to the end of its 64-character line
  in-block? 0= if source nip >in ! exit then
  >in @ 1- dup source drop + c@ 92 <> +    ( where the backslash is: >IN is past it or past the space after it )
  64 / 1+ 64 * source nip min >in ! ; immediate
: evaluate ( i*x a u -- j*x ) \ interpret the string as the input source, BLK 0 meanwhile, then the source as it was
  blk @ >r 0 blk ! ['] evaluate catch r> blk ! reblock throw ;
: refill ( -- flag ) \ the next line; in a block, the next block (BLK + 1, >IN 0), false past the last one
  in-block? 0= if refill exit then
  blk @ bk-max u< 0= if false exit then
  blk @ 1+ bk-get >bk-buf 1024 source! 1 blk +! 0 >in ! true ;
: save-input ( -- x1 .. xn n ) \ the place in the input source; in a block (n 4) BLK too
  in-block? 0= if save-input exit then  save-input drop blk @ 4 ;
\ restore-input ( x1 .. xn n -- flag ) back to the place SAVE-INPUT gave (a block read again by
\ its number); flag true when it cannot be (a block's place outside a block)
: restore-input ( x1 .. xn n -- flag )
  dup 4 <> if restore-input exit then drop
  in-block? 0= if 2drop 2drop true exit then
  blk ! reblock drop >in ! drop false ;
