\ Defining words, and the rest of the basic core.
\ (CONSTANT is in the assembly core: a constant compiles as a literal.)

: variable ( "name" -- ) create 0 , ;
: 2variable ( "name" -- ) create 0 , 0 , ;
: 2constant ( x1 x2 "name" -- ) create , , does> 2@ ;
: buffer: ( u "name" -- ) create allot ;
: value ( x "name" -- ) create , does> @ ;
$e0 constant f-kind    \ header flag bits 5..7: how a literal folds (kernel/macros.inc F_KIND)
$40 constant k-2value  \ ... for a word not inline: a 2VALUE (K_2VALUE)
: 2value ( x1 x2 "name" -- ) create , , k-2value flag-latest does> 2@ ;
: to ( x "name" -- ) ( x1 x2 "name" -- )
  ' dup >flags f-kind and k-2value = swap >body swap
  state @ if swap postpone literal if postpone 2! else postpone ! then
  else if 2! else ! then then ; immediate
: defer ( "name" -- ) create ['] abort , does> @ execute ;
: defer@ ( xt1 -- xt2 ) >body @ ;
: defer! ( xt2 xt1 -- ) >body ! ;
: is ( xt "name" -- ) state @ if postpone ['] postpone defer! else ' defer! then ; immediate
: action-of ( "name" -- xt ) state @ if postpone ['] postpone defer@ else ' defer@ then ; immediate
\ MARKER: the word forgets itself and everything after it
: marker ( "name" -- ) latest here create , , does> dup @ swap cell+ @ swap forget-to ;
: synonym ( "newname" "oldname" -- )
  : parse-name find-name over 0= if -13 throw then
  >r compile, postpone ; r> 1 and if immediate then ;

: s>d ( n -- d ) dup 0< ;
: */mod ( n1 n2 n3 -- rem quot ) >r m* r> fm/mod ;
: */ ( n1 n2 n3 -- quot ) */mod nip ;
: erase ( a u -- ) 0 fill ;
: blank ( a u -- ) bl fill ;
: cell ( -- 8 ) 8 ;
: 2rot ( a b c d e f -- c d e f a b ) 2>r 2swap 2r> 2swap ;
: ?negate ( n flag -- n' ) if negate then ;

\ ---- Facility: structures ----------------------------------------------------
: begin-structure ( "name" -- struct-sys 0 ) create here 0 0 , does> @ ;
: end-structure ( struct-sys +n -- ) swap ! ;
: +field ( n1 n2 "name" -- n3 ) create over , + does> @ + ;
: field: ( n1 "name" -- n2 ) aligned 8 +field ;
: cfield: ( n1 "name" -- n2 ) 1 +field ;
: 2field: ( n1 "name" -- n2 ) aligned 16 +field ;
