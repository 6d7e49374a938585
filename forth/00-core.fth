: \   source nip >in ! ; immediate  \ \ ( "ccc<eol>" -- ) a comment, to the end of the line
: (   41 parse 2drop ; immediate  \ ( ( "ccc<paren>" -- ) a comment, to the next )
\ Sovereign Forth: the language beyond the assembly core, compiled at boot
\ line by line from the image.  The two words above come first so that
\ everything after them can carry comments.
\
\ The assembly core (kernel/forth/) provides the primitives, the compiler's
\ code generation and the interpreter; control structures are built here
\ from its instruction templates, (if) (do) (loop) ..., and its branch
\ forms: ASM-B, ASM-B.COND and ASM-CBZ encode AArch64 b, b.cond and cbz.

: ['] ( "name" -- ) ' postpone literal ; immediate compile-only
: char ( "c" -- c ) parse-name drop c@ ;
: [char] ( "c" -- ) char postpone literal ; immediate compile-only
: bl ( -- 32 ) 32 ;
: true ( -- -1 ) -1 ;
: false ( -- 0 ) 0 ;
: decimal ( -- ) 10 base ! ;
: hex ( -- ) 16 base ! ;
: recurse ( -- ) latestxt compile, ; immediate compile-only

\ ---- branches -----------------------------------------------------------
\ The compiler's branch forms (kernel/forth/compiler.S: asm-b, asm-b.cond,
\ asm-cbz, from and to as addresses) encode them; resolve patches the
\ offset field of one already laid down.  Fields (ARM ARM C6.2 B, B.cond, CBZ):
$7c000000 constant b-class      \ bits 30..26 = 00101: B_only_branch_imm (and BL)
$14000000 constant op-b         \ b with imm26 = 0
$3ffffff constant imm26-field   \ b/bl: the offset in instructions, bits 25..0
$7ffff constant imm19-field     \ b.cond/cbz: the offset, bits 23..5 (shifted by 5)
7 constant cond-vc              \ the A64 condition VC (overflow clear) = 0111
: b, ( dest -- ) here swap asm-b i, ;
: b.cond, ( dest cond -- ) >r here swap r> asm-b.cond i, ;
: cbz0, ( dest -- ) here swap 0 asm-cbz i, ;   \ cbz x0, dest
\ resolve ( orig dest -- ) patch a forward branch at orig to reach dest:
\ b has a 26-bit offset at bit 0, b.cond and cbz a 19-bit one at bit 5.
\ (Written without IF, which is defined with it.)
: resolve ( orig dest -- )
  over - 2 arshift                      ( orig n )
  over l@ dup b-class and op-b =        ( orig n inst b? )
  rot 2dup imm26-field and and          ( orig inst b? n b-field )
  -rot swap invert swap imm19-field and 5 lshift and  ( orig inst b-field cond-field )
  or or swap l! ;

: ahead ( -- orig ) here dup dup asm-b i, ; immediate compile-only
: if ( flag -- ) ( C: -- orig ) postpone (if) here dup dup 0 asm-cbz i, ; immediate compile-only
: then ( C: orig -- ) here resolve ; immediate compile-only
: else ( C: orig1 -- orig2 ) postpone ahead swap postpone then ; immediate compile-only
: begin ( C: -- dest ) here ; immediate compile-only
: again ( C: dest -- ) b, ; immediate compile-only
: until ( flag -- ) ( C: dest -- ) postpone (if) cbz0, ; immediate compile-only
: while ( flag -- ) ( C: dest -- orig dest ) postpone if swap ; immediate compile-only
: repeat ( C: orig dest -- ) postpone again postpone then ; immediate compile-only

\ ---- counted loops ---------------------------------------------------------
\ Unresolved LEAVE branches form a chain through their own offset fields
\ (0 ends it); DO starts a new chain, LOOP resolves it to the loop's exit.
create leave-chain 0 ,
: leave, ( -- ) \ b to the previous LEAVE of the chain (b . ends it)
  here leave-chain @ ?dup 0= if dup then over swap asm-b i, leave-chain ! ;
: do ( limit index -- ) ( C: -- chain dest )
  postpone (do) leave-chain @ 0 leave-chain ! here ; immediate compile-only
: ?do ( limit index -- ) ( C: -- chain dest )
  postpone (do) leave-chain @ 0 leave-chain !
  postpone (?do) here dup 8 + cond-vc asm-b.cond i, leave, here ; immediate compile-only  \ b.vc .+8
: leave ( -- ) leave, ; immediate compile-only
: resolve-leaves ( -- ) \ point every pending LEAVE at HERE
  leave-chain @ begin ?dup while
    dup l@ imm26-field and ?dup if 38 lshift 36 arshift over + else 0 then
    swap dup dup asm-b over l! here resolve
  repeat ;
: loop ( -- ) ( C: chain dest -- )
  postpone (loop) cond-vc b.cond, resolve-leaves postpone unloop leave-chain ! ; immediate compile-only
: +loop ( n -- ) ( C: chain dest -- )
  postpone (+loop) cond-vc b.cond, resolve-leaves postpone unloop leave-chain ! ; immediate compile-only

\ ---- more control structures ------------------------------------------------
: case ( C: -- 0 ) 0 ; immediate compile-only
: of ( x1 x2 -- | x1 ) ( C: n -- orig n+1 )
  >r postpone over postpone = postpone if postpone drop r> 1+ ; immediate compile-only
: endof ( C: orig1 n -- orig2 n ) >r postpone else r> ; immediate compile-only
: endcase ( x -- ) ( C: orig1 .. origN N -- )
  postpone drop 0 ?do postpone then loop ; immediate compile-only
: [compile] ( "name" -- ) ' compile, ; immediate compile-only
: cs-pick ( C: x_u .. x_0 u -- x_u .. x_0 x_u ) pick ;
: cs-roll ( C: x_u .. x_0 u -- x_u-1 .. x_0 x_u ) roll ;

\ ---- small words -------------------------------------------------------------
: /string ( a u n -- a+n u-n ) tuck - >r + r> ;
: place ( a u dst -- ) 2dup c! 1+ swap move ;
: sgn ( n -- -1|0|1 ) dup 0< swap 0> - ;
: bounds ( a u -- a+u a ) over + swap ;
: environment? ( a u -- false ) 2drop false ;
: latest-xt ( -- xt ) latest dup 8 + c@ + 16 + -4 and ;
: flag-latest ( c -- ) latest-xt 4 - tuck c@ or swap c! ;
: clearstack ( i*x -- ) begin depth while drop repeat ;
