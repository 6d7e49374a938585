\ Memory-Allocation: ALLOCATE FREE RESIZE.  Up to 64 KiB ALLOCATE and FREE
\ are the kernel's size classes (kernel/kmem.S: powers of two from 16
\ bytes, O(1), the size and the allocated bit kept out of band in a table
\ of the pages, so 4096 ALLOCATE is a 4 KiB block, 4 KiB aligned).  Larger
\ requests go to the first-fit heap below, in heap-region (set aside at
\ boot): first fit over its chunks in address order, free neighbours
\ merged as the search passes them.  A heap chunk is a cell holding its
\ size (header included, a multiple of 16) with bit 0 set while in use,
\ then the data.  Each allocated heap chunk is over 64 KiB, so at most one
\ starts in a page: HEAP-MARK records where in the page table, and FREE
\ refuses any other heap address before the heap sees it.

heap-region constant heap-size constant heap-base
heap-base heap-size + constant heap-end
heap-size heap-base !
: chunk-size ( b -- u ) @ -2 and ;
: chunk-used? ( b -- f ) @ 1 and 0<> ;
: chunk-next ( b -- b' ) dup chunk-size + ;
: coalesce ( b -- ) \ merge the free blocks after free block b into it
  begin dup chunk-next dup heap-end u< if chunk-used? 0= else drop false then
  while dup chunk-next chunk-size over +! repeat drop ;
: split ( need b -- b ) \ cut what b does not need off as a free block
  2dup chunk-size swap - dup 32 < if drop nip exit then
  >r 2dup + r> swap ! tuck ! ;
: heap-allocate ( u -- a ior )
  dup heap-size 16 - u> if drop 0 -59 exit then
  8 + 15 + -16 and
  heap-base begin dup heap-end u< while
    dup chunk-used? 0= if
      dup coalesce dup chunk-size 2 pick u< 0= if
        split dup 1 swap +! cell+ dup heap-mark 0 exit then
    then chunk-next
  repeat 2drop 0 -59 ;
: heap? ( a -- f ) heap-base cell+ heap-end within ;
: heap-free ( a -- ior )
  ?dup 0= if 0 exit then
  dup heap? 0= if drop -60 exit then
  dup cell - chunk-used? 0= if drop -60 exit then
  dup heap-unmark cell - dup @ 1- swap ! 0 ;
: heap-resize ( a u -- a' ior )
  over heap? 0= if drop -61 exit then
  over cell - chunk-size cell - over u< 0= if drop 0 exit then
  dup heap-allocate ?dup if 2drop drop -61 exit then
  nip 2dup over cell - chunk-size cell - move swap heap-free drop 0 ;
\ The heap is one for all cores and its words are Forth, run by any
\ thread and preemptible: one thread in it at a time, under heap-lock; a
\ thread that finds it taken sleeps a millisecond and looks again (a
\ sleep, not YIELD: the holder may be preempted on this core at a lower
\ priority, which YIELD would never let run, or be running on another).
variable heap-lock
: heap-enter ( -- ) begin heap-lock lock-try 0= while 1 ms repeat ;
: heap-leave ( -- ) heap-lock lock-release ;
: heap-allocate-locked ( u -- a ior ) heap-enter heap-allocate heap-leave ;
: heap-free-locked ( a -- ior ) heap-enter heap-free heap-leave ;
: heap-resize-locked ( a u -- a' ior ) heap-enter heap-resize heap-leave ;
' heap-allocate-locked ' heap-free-locked kmem-heap!

\ class-of ( u -- s ) where u bytes live: the chunk size of its class, or
\ 0 for the heap
: class-of ( u -- s ) dup 65536 u> if drop 0 exit then
  16 begin 2dup u> while 2* repeat nip ;
\ RESIZE stays put when the new size has the same home (the same class,
\ or the heap, which may grow in place); else it moves: a new allocation,
\ the smaller of the two sizes copied, the old one freed
: resize ( a u -- a' ior )
  over 0= if nip allocate exit then
  over alloc-size if 2drop -61 exit then ( a u size )
  over class-of over class-of = if
    65536 u> if heap-resize-locked exit then drop 0 exit then
  over allocate if drop 2drop -61 exit then ( a u size a' )
  >r min over swap r@ swap move free drop r> 0 ;
