\ Parsing words: WORD FIND, string literals, conditional compilation,
\ the input source.

\ ---- WORD and FIND -----------------------------------------------------------
create word-buf 260 allot
: delim? ( c delim -- f ) dup bl = if drop bl 1+ < else = then ;
: word ( char "<chars>ccc<char>" -- c-addr )
  >r source >in @ /string
  begin dup while over c@ r@ delim? while 1 /string repeat then
  drop source drop - >in !
  r> parse 255 min word-buf place  bl word-buf count + c!  word-buf ;
: find ( c-addr -- c-addr 0 | xt 1 | xt -1 )
  dup count find-name over if rot drop 1 and if 1 else -1 then else 2drop 0 then ;

\ ---- string literals ---------------------------------------------------------
\ Interpreted S" and S\" strings go to two buffers used in turn.
create s-bufs 512 allot
variable s-which
: s-buf ( -- a ) s-which @ 1 xor dup s-which ! 256 * s-bufs + ;
: >s-buf ( a u -- a' u ) 255 min >r s-buf tuck r@ move r> ;
: align4 ( -- ) here 3 + -4 and here - allot ;
\ compiled: branch over the bytes, then push their address and length
: sliteral ( a u -- ) ( run: -- a' u )
  >r >r postpone ahead here r> over r@ move r@ allot align4
  swap postpone then postpone literal r> postpone literal ; immediate compile-only
: s" ( "ccc<quote>" -- ) ( run: -- a u )
  [char] " parse state @ if postpone sliteral else >s-buf then ; immediate
: ." ( "ccc<quote>" -- ) ( run: -- )
  [char] " parse state @ if postpone sliteral postpone type else type then ; immediate
: .( ( "ccc<paren>" -- ) [char] ) parse type ; immediate
: c" ( "ccc<quote>" -- ) ( run: -- c-addr )
  [char] " parse >r >r postpone ahead here r> r@ dup c, here swap move r> allot align4
  swap postpone then postpone literal ; immediate compile-only
: abort" ( "ccc<quote>" -- ) ( run: i*x x1 -- | i*x )
  postpone s" postpone (abort") ; immediate compile-only

\ S\" with the escapes \a \b \e \f \l \m \n \q \r \t \v \z \" \\ \xHH
variable esc-p
: esc, ( c -- ) esc-p @ c! 1 esc-p +! ;
: src-char ( -- c | -1 ) \ the next character of the source, -1 at its end
  >in @ source nip < if source drop >in @ + c@ 1 >in +! else -1 then ;
: hexdig ( c -- n ) dup [char] 9 > if 32 or [char] a - 10 + else [char] 0 - then ;
: parse\" ( "ccc<quote>" -- a u )
  s-buf dup esc-p !
  begin src-char dup 0< over [char] " = or 0= while
    dup [char] \ = if drop src-char
      case
        [char] a of 7 esc, endof     [char] b of 8 esc, endof
        [char] e of 27 esc, endof    [char] f of 12 esc, endof
        [char] l of 10 esc, endof    [char] m of 13 esc, 10 esc, endof
        [char] n of 10 esc, endof    [char] q of 34 esc, endof
        [char] r of 13 esc, endof    [char] t of 9 esc, endof
        [char] v of 11 esc, endof    [char] z of 0 esc, endof
        [char] x of src-char hexdig 4 lshift src-char hexdig + esc, endof
        dup esc,
      endcase
    else esc, then
  repeat drop esc-p @ over - ;
: s\" ( "ccc<quote>" -- ) ( run: -- a u )
  parse\" state @ if postpone sliteral then ; immediate

\ ---- conditional compilation -------------------------------------------------
variable '[if]  variable '[else]  variable '[then]
: [else] ( -- ) \ skip to the matching [THEN] (or [ELSE] of the same level)
  1 begin
    begin parse-name dup while
      find-name drop
      dup '[if] @ = if drop 1+ else
      dup '[else] @ = if drop 1- dup if 1+ then else
      '[then] @ = if 1- then then then
      ?dup 0= if exit then
    repeat 2drop
  refill 0= until drop ; immediate
: [if] ( flag -- ) 0= if postpone [else] then ; immediate
: [then] ( -- ) ; immediate
' [if] '[if] !  ' [else] '[else] !  ' [then] '[then] !
: [defined] ( "name" -- flag ) parse-name find-name drop 0<> ; immediate
: [undefined] ( "name" -- flag ) parse-name find-name drop 0= ; immediate

\ ---- the input source --------------------------------------------------------
: save-input ( -- a >in id 3 ) source drop >in @ source-id 3 ;
: restore-input ( a >in id 3 -- flag )
  drop source-id = rot source drop = and if >in ! 0 else drop -1 then ;
