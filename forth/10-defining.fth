\ Defining words, and the rest of the basic core.

: variable ( "name" -- ) create 0 , ;
: 2variable ( "name" -- ) create 0 , 0 , ;
\ A constant compiles to a literal load: : name <literal> ;
: constant ( x "name" -- ) >r : r> postpone literal postpone ; ;
: 2constant ( x1 x2 "name" -- ) create , , does> 2@ ;
: value ( x "name" -- ) create , does> @ ;
: to ( x "name" -- ) ' >body state @ if postpone literal postpone ! else ! then ; immediate
: defer ( "name" -- ) create ['] abort , does> @ execute ;
: defer@ ( xt1 -- xt2 ) >body @ ;
: defer! ( xt2 xt1 -- ) >body ! ;
: is ( xt "name" -- ) state @ if postpone ['] postpone defer! else ' defer! then ; immediate
: action-of ( "name" -- xt ) state @ if postpone ['] postpone defer@ else ' defer@ then ; immediate

: s>d ( n -- d ) dup 0< ;
: */mod ( n1 n2 n3 -- rem quot ) >r m* r> fm/mod ;
: */ ( n1 n2 n3 -- quot ) */mod nip ;
: erase ( a u -- ) 0 fill ;
: blank ( a u -- ) bl fill ;
: cell ( -- 8 ) 8 ;
: 2rot ( a b c d e f -- c d e f a b ) 2>r 2swap 2r> 2swap ;
: ?negate ( n flag -- n' ) if negate then ;
