\ The language model: its image read from the disk into memory, the
\ buffers and the KV cache, and the transformer's forward pass over
\ kernel/llm.S's NEON kernels (docs/llm.md).
\
\ Why Forth: the layer loop is bookkeeping (which tensor, which cache
\ slot, which head), a few hundred calls a token against ~40 M
\ instructions in the kernels; here it reads as the model's definition.
\ The image's layout (docs/llm.md "The model image") is read from its
\ header, never assumed: offsets, layers, dimensions, heads.  What the
\ kernels fix is checked when the image is loaded: head dim 64 (llm_rope,
\ llm_attend), dimensions multiples of 32 (a Q8 block), the query heads a
\ multiple of the KV heads.
\
\ Memory: the image (about 95 MiB) and the buffers are carved once from
\ the never-used frontier (CARVE), page-mapped, for good: a second
\ model-load does nothing.  The KV cache holds ctx positions of every
\ layer, keys and values apart, position-major (a position's keys of all
\ KV heads together: the matvec writes them in place).

0 value llm      \ llm ( -- a ) the model image in memory, 0 until model-load
512 constant ctx \ ctx ( -- n ) positions the context holds (the KV cache's size)

: hl@ ( off -- u ) llm + l@ ;   \ a u32 field of the header
: >llm ( off -- a ) llm + @ llm + ;   \ the section a u64 offset field of the header names

0 value layers   0 value dim      0 value ffn      0 value heads
0 value kv-heads 0 value vocab    0 value eps      0 value kv-dim
0 value group    \ query heads a KV head serves
0 value mtab     0 value mmask    0 value mshift   \ the merge table (71-tokenizer.fth)

\ buffers (f32 vectors but xq, the quants): carved at load
0 value x   0 value xb   0 value q   0 value att   0 value hb   0 value hb2
0 value xq  0 value xs   0 value logits  0 value scratch  0 value kc  0 value vc
0 value pos   \ pos ( -- n ) the position the next forward computes
0 value cur   \ the layer being computed

: m-check ( flag -- ) 0= if -301 throw then ;   \ the image's header is consistent, else THROW -301

\ m-header ( a -- ) the header sector at a is a model image's the kernels
\ can run (THROW -300 not a model image, -301 inconsistent)
: m-header ( a -- )
  dup 8 s" SVLMv001" compare if drop -300 throw then
  >r r@ 8 + l@ 512 = m-check
  r@ 32 + l@ 64 = m-check                               \ head dim: llm_rope, llm_attend
  r@ 16 + l@ dup 32 mod 0= swap 0> and m-check          \ dim: whole Q8 blocks
  r@ 20 + l@ dup 32 mod 0= swap 0> and m-check          \ ffn
  r@ 24 + l@ 64 * r@ 16 + l@ = m-check                  \ query heads x 64 = dim
  r@ 28 + l@ dup 0> m-check  r@ 24 + l@ swap mod 0= m-check
  r@ 36 + l@ dup 4 mod 0= swap 0> and m-check           \ vocabulary: rows of four
  r@ 40 + l@ ctx < 0= m-check                             \ a RoPE row for every position
  r@ 12 + l@ 0> m-check
  r@ 68 + l@ dup 1- and 0= m-check                      \ merge slots: a power of two
  r> 72 + @ 512 > m-check ;

: m-image ( -- a ) \ the whole image from the disk into carved memory
  512 allocate throw >r
  r@ 0 1 blk-read ?dup if r> free drop throw then
  r@ ['] m-header catch ?dup if r> free drop throw then
  r@ 72 + @ 511 + 9 rshift    ( sectors )
  r> free throw
  dup blk-size u> if -301 throw then
  dup 9 lshift carve ?dup 0= if -302 throw then   ( sectors a )
  swap over 0 rot blk-read throw ;

: m-offsets ( -- ) \ every section and tensor inside the image
  8 0 do i 8 * 80 + llm + @ 72 llm + @ < m-check loop
  layers 0 do 9 0 do 104 >llm j 72 * + i 8 * + @ 72 llm + @ < m-check loop loop ;

: b64 ( u -- u' ) 63 + -64 and ;   \ rounded up to 64 bytes
: f32s ( n -- u ) 4 * b64 ;        \ bytes of n f32, rounded up to 64
: widest ( -- n ) dim ffn max ;      \ the longest vector quantised
: kv-bytes ( -- u ) layers ctx * kv-dim * f32s ;   \ one cache: keys or values
: part ( a u -- a+u a ) over + swap ;
\ m-buffers ( -- ) the vectors, quant buffers, logits and KV cache, carved
: m-buffers ( -- )
  dim f32s 4 *  ffn f32s 2 * +  widest b64 +  widest 4 / b64 +
  vocab f32s +  ctx f32s +  kv-bytes 2 * +
  carve ?dup 0= if -302 throw then
  dim f32s part to x  dim f32s part to xb  dim f32s part to q  dim f32s part to att
  ffn f32s part to hb  ffn f32s part to hb2  widest b64 part to xq  widest 4 / b64 part to xs
  vocab f32s part to logits  ctx f32s part to scratch  kv-bytes part to kc  to vc ;

: m-shape ( -- ) \ the model's shape from the header
  12 hl@ to layers  16 hl@ to dim  20 hl@ to ffn  24 hl@ to heads
  28 hl@ to kv-heads  36 hl@ to vocab  44 hl@ to eps
  kv-heads 64 * to kv-dim  heads kv-heads / to group
  136 >llm to mtab  68 hl@ dup 1- to mmask
  32 swap begin dup 1 > while 1 rshift swap 1- swap repeat drop to mshift ;

\ model-load ( -- ) the model image on the disk into memory, once: THROW
\ -303 without SDOT, -270 no disk, -300 no model image, -301 a damaged
\ one, -302 not enough memory
: model-load ( -- )
  llm if exit then
  dotprod? 0= if -303 throw then
  disk? 0= if -270 throw then
  m-image to llm
  ['] m-shape catch ?dup 0= if ['] m-offsets catch ?dup 0= if ['] m-buffers catch then then
  ?dup if 0 to llm throw then  0 to pos ;

\ .model ( -- ) what the loaded model is: its size, shape and memory
: .model ( -- )
  model-load
  ." model image: " 72 llm + @ 1024 / . ." KiB at " llm u. cr
  layers . ." layers, dim " dim . ." ffn " ffn . ." heads " heads . ." kv heads " kv-heads .
  ." vocabulary " vocab . ." context " ctx . cr ;

\ ---- the forward pass

: tensor ( k -- a ) 8 * cur 72 * + 104 >llm + @ llm + ;   \ tensor k (docs/llm.md layer table) of the layer
: quant ( v n -- ) >r >r xq xs r> r> q8-quant ;          \ v's n f32 as Q8_1 blocks in xq, xs
: mv ( out k rows cols -- ) 2>r tensor xq xs 2r> q41-matvec ;   \ out = tensor k times the quants
: norm ( out k -- ) tensor x swap dim eps rmsnorm ;      \ out = RMSNorm of x by tensor k's weights
: kv-layer ( c -- a ) cur ctx * kv-dim * 4 * + ;         \ the layer's first position in cache c
: slot ( c -- a ) kv-layer pos kv-dim * 4 * + ;          \ this position's slot in cache c
: rope-row ( -- a ) 96 >llm pos 256 * + ;                \ the RoPE table's row for pos

: heads-attend ( -- ) \ every query head over the positions so far
  heads 0 do
    att i 256 * +  q i 256 * +
    i group / 256 * dup kc kv-layer + swap vc kv-layer +
    pos 1+  kv-dim 4 *  scratch attend
  loop ;

: layer ( -- ) \ one transformer block at pos: attention, then the SwiGLU FFN
  xb 0 norm  xb dim quant
  q 1 dim dim mv  kc slot 2 kv-dim dim mv  vc slot 3 kv-dim dim mv
  q heads rope-row rope  kc slot kv-heads rope-row rope
  heads-attend  att dim quant  xb 4 dim dim mv  x xb dim v+!
  xb 5 norm  xb dim quant
  hb 6 ffn dim mv  hb2 7 ffn dim mv  hb hb2 ffn swiglu
  hb ffn quant  xb 8 dim ffn mv  x xb dim v+! ;

\ ?tok ( id -- id ) a token of the model (loaded first if it is not yet),
\ else THROW -24: an id from the console indexes the image's tables
: ?tok ( id -- id ) llm 0= if model-load then  dup vocab u< 0= if drop -24 throw then ;

\ forward ( token -- ) the logits after token at position pos (into
\ logits, vocabulary f32); pos moves on.  THROW -304 when the context is
\ full, -24 for an id outside the vocabulary
: forward ( token -- )
  ?tok  pos ctx < 0= if drop -304 throw then
  x 80 >llm rot dim embed
  layers 0 do i to cur layer loop
  xb x 88 >llm dim eps rmsnorm  xb dim quant
  logits 80 >llm xq xs vocab dim q80-matvec
  pos 1+ to pos ;

: llm-reset ( -- ) 0 to pos ;   \ llm-reset ( -- ) an empty context: the next forward is at position 0
