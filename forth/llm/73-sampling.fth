\ Sampling: generate and chat choose each token greedily (the first
\ largest logit: the reference's choice, what the tests hold) until
\ sampling sets a temperature and a top-p; the choice is then the kernel's
\ sample (kernel/llm.S llm_sample: top-k 40, top-p, temperature) with
\ random bits from rng, seeded here, so a seed repeats a generation.

\ milli>f32 ( n -- bits ) n/1000 (n > 0) as an f32 bit pattern, truncated:
\ n 2^s / 1000 shifted down into [2^23, 2^24) is the mantissa, 2^-s apart
: milli>f32 ( n -- bits )
  40 lshift 1000 /  40 swap
  begin dup $1000000 u< 0= while 1 rshift swap 1- swap repeat
  $7FFFFF and  swap 23 swap - 127 + 23 lshift or ;

0 value temp-bits    \ the temperature, f32 bits
0 value top-p-bits   \ top-p, f32 bits
create sample-buf 496 allot
: sample-scratch ( -- a ) sample-buf 15 + -16 and ;   \ llm_sample's 480 bytes, 16-aligned

: sample-token ( -- id ) logits vocab temp-bits top-p-bits rng sample-scratch sample ;

\ greedy ( -- ) each token the most likely one (the default)
: greedy ( -- ) ['] greedy-token is choose ;
\ sampling ( temp top-p seed -- ) sample each token: the temperature and
\ top-p in thousandths (800 950 is T 0.8, top-p 0.95), seed for the
\ random numbers; a temperature of 0 or less is greedy
: sampling ( temp top-p seed -- )
  rng!  1 max 1000 min milli>f32 to top-p-bits
  dup 0> 0= if drop greedy exit then
  milli>f32 to temp-bits  ['] sample-token is choose ;
