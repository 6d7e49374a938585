\ Benchmark words: run an xt N times, each run bracketed by the counters,
\ subtract the bracket's own cost (measured on an empty word) and print
\ per-iteration instructions and cycles: min, median and max.
\ On a real M3 the counters are the Apple PMU's; in the emulated M3 the
\ harness serves them from its cycle model.  Same words, same output.

1024 constant bench-max
create bench-insns bench-max cells allot
create bench-cycles bench-max cells allot

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

\ bench-collect ( xt n -- ) n samples into the arrays; the xt must leave
\ the stack as it found it (THROW -260: its figures would be garbage)
: bench-collect ( xt n -- )
  0 ?do dup depth >r bench-sample depth r> 1+ <> if -260 throw then
    bench-cycles i cells + ! bench-insns i cells + ! loop drop ;

\ min of the arrays' first n entries after sorting, for the overhead
: bench-overhead ( n -- insns cycles )
  ['] bench-noop over bench-collect
  bench-insns over sort-cells bench-cycles swap sort-cells
  bench-insns @ bench-cycles @ ;

: bench-stats ( a n -- min median max ) 2dup sort-cells
  over @ -rot 2dup 2/ cells + @ -rot 1- cells + @ ;

: .bench-row ( a n overhead -- ) \ min median max, less the overhead
  >r bench-stats r@ - swap r@ - rot r> -
  ." min " 0 .r ."  median " 0 .r ."  max " 0 .r ;

\ bench ( xt n -- ) print "bench: N samples, instructions min .. cycles min .."
: bench ( xt n -- )
  dup 1 bench-max 1+ within 0= if -24 throw then
  dup bench-overhead 2>r
  tuck bench-collect
  ." bench: " dup 0 .r ."  samples, instructions "
  bench-insns over 2r@ drop .bench-row ." , cycles "
  bench-cycles swap 2r> nip .bench-row cr ;
