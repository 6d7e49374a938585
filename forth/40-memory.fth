\ Memory-Allocation: ALLOCATE FREE RESIZE.  Requests that fit a 4 KiB block
\ (less a 16-byte header) come from the kernel's O(1) block allocator
\ (kernel/alloc.S); larger ones from the heap below: heap-region, set aside
\ at boot, first fit over its chunks in address order, free neighbours
\ merged as the search passes them.  A heap chunk is a cell holding its
\ size (header included, a multiple of 16) with bit 0 set while in use,
\ then the data.

heap-region constant heap-size constant heap-base
heap-base heap-size + constant heap-end
heap-size heap-base !
: blk-size ( b -- u ) @ -2 and ;
: blk-used? ( b -- f ) @ 1 and 0<> ;
: blk-next ( b -- b' ) dup blk-size + ;
: coalesce ( b -- ) \ merge the free blocks after free block b into it
  begin dup blk-next dup heap-end u< if blk-used? 0= else drop false then
  while dup blk-next blk-size over +! repeat drop ;
: split ( need b -- b ) \ cut what b does not need off as a free block
  2dup blk-size swap - dup 32 < if drop nip exit then
  >r 2dup + r> swap ! tuck ! ;
: heap-allocate ( u -- a ior )
  dup heap-size 16 - u> if drop 0 -59 exit then
  8 + 15 + -16 and
  heap-base begin dup heap-end u< while
    dup blk-used? 0= if
      dup coalesce dup blk-size 2 pick u< 0= if
        split dup 1 swap +! cell+ 0 exit then
    then blk-next
  repeat 2drop 0 -59 ;
: heap? ( a -- f ) heap-base cell+ heap-end within ;
: heap-free ( a -- ior )
  ?dup 0= if 0 exit then
  dup heap? 0= if drop -60 exit then
  cell - dup blk-used? 0= if drop -60 exit then
  dup @ 1- swap ! 0 ;
: heap-resize ( a u -- a' ior )
  over heap? 0= if drop -61 exit then
  over cell - blk-size cell - over u< 0= if drop 0 exit then
  dup heap-allocate ?dup if 2drop drop -61 exit then
  nip 2dup over cell - blk-size cell - move swap heap-free drop 0 ;

\ The block path.  Header: a tag cell, then 8 bytes unused (16-byte
\ alignment for the data).
4096 16 - constant block-payload
1 62 lshift 1234567 + constant block-tag
: block? ( a -- f ) \ a is the data of an allocation from a block
  dup 4095 and 16 = if 16 - @ block-tag = else drop false then ;
: allocate ( u -- a ior )
  dup block-payload u> if heap-allocate exit then
  drop block-alloc ?dup 0= if 0 -59 exit then
  block-tag over ! 16 + 0 ;
: free ( a -- ior )
  dup block? if 16 - 0 over ! block-free 0 exit then heap-free ;
: resize ( a u -- a' ior )
  over 0= if nip allocate exit then
  over block? 0= if heap-resize exit then
  dup block-payload u> 0= if drop 0 exit then      \ still fits its block
  dup allocate ?dup if 2drop drop -61 exit then ( a u a' )
  nip 2dup block-payload move swap free drop 0 ;
