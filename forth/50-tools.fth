\ Programming tools: DUMP SEE (.S ? WORDS are elsewhere).

: dump ( a u -- ) \ hex and characters, 16 bytes a line
  base @ >r hex
  bounds begin 2dup u> while
    cr dup 0 <# # # # # # # # # # # # # #> type ." :"
    2dup - 16 min dup 0 ?do space over i + c@ 0 <# # # #> type loop
    16 over - 3 * 2 + spaces
    0 ?do dup i + c@ dup 32 127 within 0= if drop [char] . then emit loop
    16 +
  repeat 2drop r> base ! ;

\ ---- SEE: decompile native code ----------------------------------------------
: hdr>xt ( hdr -- xt ) dup 8 + c@ + 16 + -4 and ;
: hdr-prev ( hdr -- hdr' | 0 ) dup @ dup if + else nip then ;
: xt-of ( a -- xt | 0 ) \ the word whose code holds a
  0 swap latest begin ?dup while
    dup hdr>xt >r
    r@ 2 pick u> 0= r@ 4 pick u> and if rot drop r> -rot else r> drop then
    hdr-prev
  repeat drop ;
: code-end ( xt -- a ) \ where a word's code ends: the next header, or HERE
  here swap latest begin ?dup while
    dup 2 pick u> over 8 - 4 pick u< and if rot drop dup 8 - -rot then
    hdr-prev
  repeat drop ;
: (see-probe) ( -- ) ;
' (see-probe) l@ constant op-prologue
' (see-probe) 4 + l@ constant op-epilogue
' dup l@ constant op-push
: op-mov? ( i opc -- f ) swap $ff80001f and = ;
: mov-imm ( i -- u ) dup 5 rshift $ffff and swap 21 rshift 3 and 16 * lshift ;
: lit? ( a -- f ) dup l@ op-push = swap 4 + l@ dup $d280001a op-mov? swap $9280001a op-mov? or and ;
: see-lit ( a -- a' ) \ push, movz/movn, movk...: print the value
  4 + dup l@ dup mov-imm swap $9280001a op-mov? if invert then
  swap 4 + swap
  begin over l@ $f280001a op-mov? while
    over l@ dup mov-imm swap 21 rshift 3 and 16 * $ffff swap lshift invert
    rot and or swap 4 + swap
  repeat . ;
: code= ( a xt n -- f ) 4 * tuck compare 0= ;
: inline-match ( a -- a xt | a 0 ) \ an inline primitive whose body is at a
  latest begin ?dup while
    dup hdr>xt dup 3 - c@ ?dup if
      3 pick -rot code= if hdr>xt exit then
    else drop then hdr-prev
  repeat 0 ;
: .insn ( a -- a' )
  dup l@ op-prologue = if 4 + exit then
  dup l@ op-epilogue = over 4 + l@ $d65f03c0 = and if ." exit " 8 + exit then
  dup lit? if see-lit exit then
  dup l@ $fc000000 and $94000000 = if
    dup dup l@ 38 lshift 36 arshift + dup xt-of ?dup if
      tuck >name type swap - ?dup if ." +" 0 .r then space
    else ." call " u. then 4 + exit then
  dup l@ $7c000000 and $14000000 = if ." branch " dup l@ 38 lshift 36 arshift . 4 + exit then
  dup l@ $ff000010 and $54000000 = if ." branch-if " dup l@ 40 lshift 45 arshift 4 * . 4 + exit then
  dup l@ $7f000000 and $34000000 = if ." branch-if-0 " dup l@ 40 lshift 45 arshift 4 * . 4 + exit then
  inline-match ?dup if dup >name type space 3 - c@ 4 * + exit then
  ." $" dup l@ base @ >r hex 0 u.r r> base ! space 4 + ;
: see ( "name" -- ) \ decompile a word
  ' dup >name ." : " type space
  dup >flags 32 and over >flags 4 and 0= and if ." constant " >body ? exit then
  dup code-end swap begin 2dup u> while .insn repeat 2drop
  ." ;" ;
