\ Benchmark words: run an xt N times, each run bracketed by the counters,
\ subtract the bracket's own cost (measured on an empty word) and print
\ per-iteration instructions and cycles: min, median, 99th percentile, max.
\ bench-evict ( u -- ) before each sample, read u bytes of a buffer of our
\ own: 0 keeps the caches as the last sample left them (hot); 256 KiB,
\ a load every 64 bytes, evicts the L1 data cache (128 KiB); 20 MiB: the
\ first 256 KiB every 64 bytes, then all of it every 128 (the L2 line),
\ evicts the L1 and then the L2 (16 MiB).  In that order: a dirty L1 line
\ in a set the 128-byte stride never touches would survive the L2 sweep
\ and, evicted by an L1 sweep after it, land in the L2 again.  The sweep is outside the
\ bracket, so it is not counted; it is the same on a real M3, where it
\ evicts the real caches (sizes: harness/costs.py GEOMETRY).
\ On a real M3 the counters are the Apple PMU's; in the emulated M3 the
\ harness serves them from its cycle model.  Same words, same output.

1024 constant bench-max
create bench-insns bench-max cells allot
create bench-cycles bench-max cells allot
create bench-oinsns bench-max cells allot      \ the bracket's own samples
create bench-ocycles bench-max cells allot

262144 constant bench-l1-sweep
variable bench-stride
: sweep ( addr u stride -- ) bench-stride ! 0 -rot over + swap do i @ + bench-stride @ +loop drop ;
variable bench-sweep-size  0 bench-sweep-size !
variable bench-sweep-at    0 bench-sweep-at !
variable bench-sweep-made  0 bench-sweep-made !
: bench-evict ( u -- )
  dup bench-sweep-made @ > if
    dup reserve-pages bench-sweep-at ! dup bench-sweep-made !   \ mapped memory: no faults
  then bench-sweep-size ! ;
: bench-sweep ( -- )
  bench-sweep-size @ ?dup 0= if exit then
  dup bench-l1-sweep > if
    bench-sweep-at @ bench-l1-sweep 64 sweep  bench-sweep-at @ swap 128 sweep
  else bench-sweep-at @ swap 64 sweep then ;

: bench-noop ( -- ) ;

\ sort-cells ( a n -- ) insertion sort, ascending
: sort-cells ( a n -- )
  1 ?do
    dup i cells + @ ( a x ) i
    begin dup 0> while
      2 pick over 1- cells + @ 2 pick > while
      2 pick over 1- cells + @ 3 pick 2 pick cells + ! 1-
    repeat then
    ( a x j ) cells 2 pick + !
  loop drop ;

\ bench-prep ( -- a ) an xt run before each sample, before the sweep and
\ outside the bracket (0: none): what a sample needs set up that is not
\ its cost (the file system's cache dropped, a file closed or written).
variable bench-prep  0 bench-prep !
: bench-prepare ( -- ) bench-prep @ ?dup if execute then ;

\ bench-collect ( xt n insns cycles -- ) n samples into the arrays; the xt
\ must leave the stack as it found it (THROW -260: its figures would be
\ garbage).  Nothing here depends on the figures read: every run of the
\ same benchmark executes the same instructions up to its last sample.
variable bench-ai  variable bench-ac
: bench-collect ( xt n insns cycles -- )
  bench-ac ! bench-ai !
  0 ?do bench-prepare bench-sweep dup depth >r bench-sample depth r> 1+ <> if -260 throw then
    bench-ac @ i cells + ! bench-ai @ i cells + ! loop drop ;

\ the bracket's least cost, from its own samples (sorted), for subtracting
: bench-overhead ( n -- insns cycles )
  bench-oinsns over sort-cells bench-ocycles swap sort-cells
  bench-oinsns @ bench-ocycles @ ;

: bench-stats ( a n -- min median p99 max )
  2dup sort-cells
  over @ >r  2dup 2/ cells + @ >r  2dup 99 * 100 / cells + @ >r
  1- cells + @  r> r> r> swap 2swap swap ;

variable bench-ovh
: .bench-row ( a n overhead -- ) \ min median p99 max, less the overhead
  bench-ovh ! bench-stats
  bench-ovh @ - >r bench-ovh @ - >r bench-ovh @ - >r bench-ovh @ -
  ." min " 0 .r ."  median " r> 0 .r ."  p99 " r> 0 .r ."  max " r> 0 .r ;

\ bench ( xt n -- ) print "bench: N samples, instructions min .. cycles min .."
\ The bracket's own cost (an empty word between the counter reads) is
\ measured hot, without the sweeps, and its least is subtracted: a warm or
\ cold sample keeps the misses the bracket itself takes after a sweep
\ (a few cycles too many, never a figure below what the operation costs).
: bench ( xt n -- )
  dup 1 bench-max 1+ within 0= if -24 throw then
  bench-sweep-size @ >r  0 bench-sweep-size !     \ the bracket's own cost: hot
  bench-prep @ >r  0 bench-prep !
  ['] bench-noop over bench-oinsns bench-ocycles bench-collect
  r> bench-prep !  r> bench-sweep-size !
  2dup bench-insns bench-cycles bench-collect nip
  dup bench-overhead 2>r
  ." bench: " dup 0 .r ."  samples, instructions "
  bench-insns over 2r@ drop .bench-row ." , cycles "
  bench-cycles swap 2r> nip .bench-row cr ;

\ bench-own ( xt n -- ) as BENCH, for an xt that brackets its own window and
\ leaves ( instructions cycles ), its bracket already subtracted
\ (bench-remap): n samples of those, each after the sweep, printed alike.
variable bench-own-xt
: bench-own ( xt n -- )
  dup 1 bench-max 1+ within 0= if -24 throw then
  swap bench-own-xt !
  dup 0 ?do bench-sweep depth >r bench-own-xt @ execute depth r> 2 + <> if -260 throw then
    bench-cycles i cells + ! bench-insns i cells + ! loop
  ." bench: " dup 0 .r ."  samples, instructions "
  bench-insns over 0 .bench-row ." , cycles "
  bench-cycles swap 0 .bench-row cr ;
