\ The tokenizer: SmolLM2's byte-level BPE, encode and decode, over the
\ model image's token bytes, byte tokens and merge hash table
\ (docs/llm.md "The model image").
\
\ Encoding is the reference's (Hugging Face tokenizers, this model's
\ tokenizer: pre-tokenizer Digits(individual) then GPT-2's ByteLevel
\ split, then BPE): each digit is a piece alone; the rest is split by
\ GPT-2's pattern  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
\ ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+  with, here, letters = ASCII letters
\ and every byte from 0x80 (so a UTF-8 character counts as a letter: the
\ reference's own classes differ for non-ASCII punctuation and spaces),
\ white space = tab, LF, VT, FF, CR and space (Unicode White_Space's
\ ASCII part).  A piece's bytes become their byte tokens; a byte that no
\ token is (21 of them) is left out and the bytes either side are not
\ merged across it, as the reference does.  Then the lowest-ranked pair
\ of neighbours is merged, the leftmost of equals, until no pair is a
\ merge.  Control tokens are never made from text: chat puts them in.
\ A piece longer than the work area (512 tokens) is merged in parts.

create toks ctx cells allot   \ toks ( -- a ) the context's token ids, a cell each
0 value #toks                 \ #toks ( -- n ) how many

\ tok+ ( id -- ) append a token to the context (THROW -304 when it is
\ full, -24 for an id outside the vocabulary)
: tok+ ( id -- ) ?tok  #toks ctx < 0= if drop -304 throw then  toks #toks cells + !  #toks 1+ to #toks ;
: tok@ ( i -- id ) cells toks + @ ;   \ the context's i-th token

\ tok-bytes ( id -- a u ) the bytes of a token (a control token's: its text)
: tok-bytes ( id -- a u ) ?tok 4 * 112 >llm + dup l@ swap 4 + l@ over - >r 120 >llm + r> ;
: .tok ( id -- ) tok-bytes type ;   \ .tok ( id -- ) print a token's bytes
\ .tokens ( -- ) the context's token ids
: .tokens ( -- ) #toks 0 ?do i tok@ . loop ;
\ detokenize ( -- ) the context as text
: detokenize ( -- ) #toks 0 ?do i tok@ .tok loop ;

\ ---- BPE

0 value pl  0 value pr
\ pair ( l r -- merged rank ) the merge of two neighbours, rank -1 when none
: pair ( l r -- merged rank )
  to pr to pl
  pl $9E3779B1 * pr $85EBCA77 * + $FFFFFFFF and mshift rshift
  begin
    dup 4 lshift mtab +                       ( h e )
    dup l@ $FFFFFFFF = if 2drop 0 -1 exit then
    dup l@ pl = over 4 + l@ pr = and if nip dup 8 + l@ swap 12 + l@ exit then
    drop 1+ mmask and
  again ;

512 constant #work-max
create work #work-max cells allot   \ the piece being merged
0 value #work
0 value best  0 value at  0 value with
: w@i ( i -- id ) cells work + @ ;
: best-pair ( -- flag ) \ the lowest-ranked merge of neighbours: at, with; false when none
  -1 to best  #work 2 < if false exit then
  #work 1- 0 do
    i w@i i 1+ w@i pair   ( merged rank )
    dup best u< if to best to with i to at else 2drop then
  loop best -1 <> ;
: merge ( -- ) \ work[at] and work[at+1] into with
  with at cells work + !
  at 2 + cells work +  at 1+ cells work +  #work at 2 + - cells move
  #work 1- to #work ;
: flush-work ( -- ) \ merge the work and append it to the context
  begin best-pair while merge repeat
  #work 0 ?do i w@i tok+ loop  0 to #work ;
: work+ ( id -- ) #work #work-max = if flush-work then  #work cells work + !  #work 1+ to #work ;
: byte-tok ( c -- id ) 4 * 128 >llm + l@ ;   \ a byte's token, $FFFFFFFF if none
: piece ( a u -- ) \ a pre-token's bytes into tokens
  bounds ?do i c@ byte-tok dup $FFFFFFFF = if drop flush-work else work+ then loop
  flush-work ;

\ ---- the pre-tokenizer

: digit? ( c -- flag ) [char] 0 - 10 u< ;
: letter? ( c -- flag ) dup $7F > swap $20 or [char] a - 26 u< or ;
: white? ( c -- flag ) dup bl = swap 9 14 within or ;
: other? ( c -- flag ) dup letter? over digit? or swap white? or 0= ;

0 value s-end   \ the end of the segment being split
: run ( a xt -- a' ) \ past the bytes of class xt from a
  begin over s-end < while over c@ over execute while swap 1+ swap repeat then drop ;
: s-at ( a -- c ) dup s-end < if c@ else drop 0 then ;   \ the byte at a, 0 past the end
: contraction ( a -- n ) \ 's 't 're 've 'm 'll 'd at a: its length, else 0
  dup c@ [char] ' <> if drop 0 exit then
  dup 1+ s-at  dup [char] s = over [char] t = or over [char] m = or swap [char] d = or
  if drop 2 exit then
  dup 1+ s-at swap 2 + s-at                                  ( c1 c2 )
  2dup [char] e = swap [char] r = and >r
  2dup [char] e = swap [char] v = and >r
  [char] l = swap [char] l = and r> or r> or if 3 else 0 then ;
: pretoken ( a -- a' ) \ the end of the pre-token at a (a before s-end)
  dup contraction ?dup if + exit then
  dup c@ bl = if
    dup 1+ s-at letter? if 1+ ['] letter? run exit then
    dup 1+ s-at dup other? swap 0<> and if 1+ ['] other? run exit then
  then
  dup c@ letter? if ['] letter? run exit then
  dup c@ other? if ['] other? run exit then
  dup ['] white? run                                         ( a e )
  dup s-end < if 2dup swap - 1 > if 1- then then nip ;       \ \s+(?!\S), else \s+
: segment ( a u -- ) \ a text without digits into tokens
  over + to s-end  begin dup s-end < while dup pretoken tuck over - piece repeat drop ;
: prefix ( a u -- n ) \ bytes before the first digit
  0 begin 2dup > while 2 pick over + c@ digit? 0= while 1+ repeat then nip nip ;

\ tokenize ( a u -- ) append the text's tokens to the context
: tokenize ( a u -- )
  model-load
  begin dup while
    over c@ digit? if over 1 piece 1 /string
    else 2dup prefix >r over r@ segment r> /string then
  repeat 2drop ;
\ tokens ( a u -- ) the context emptied, then the text's tokens in it
: tokens ( a u -- ) 0 to #toks tokenize ;
