\ The Apple Device Tree m1n1 handed over, browsed as m1n1's shell shows it
\ (the primitives: kernel/boards/m3/words.inc).
\   adt-ls /arm-io          the children of a node, by name
\   adt-show /arm-io/uart0  its properties: strings as text, cells in hex

: adt-name ( node -- c-addr u ) s" name" adt-prop dup if 1- then ;

\ adt-prop-name ( prop -- c-addr u ) the 32-byte NUL-padded name
: adt-prop-name ( prop -- c-addr u )
  32 0 do dup i + c@ 0= if i unloop exit then loop 32 ;

\ adt-text? ( a u -- flag ) one or more NUL-terminated printable strings
: adt-text? ( a u -- flag )
  dup 0= if nip exit then
  2dup + 1- c@ if 2drop false exit then
  over c@ 0= if 2drop false exit then
  bounds do i c@ ?dup if 32 127 within 0= if unloop false exit then then loop
  true ;

: .adt-text ( a u -- ) 1- bounds do i c@ ?dup if emit else ." , " then loop ;
\ .adt-cells ( a u -- ) 32-bit words;  .adt-quads ( a u -- ) 64-bit ones (reg,
\ ranges, cpu-impl-reg: two cells each, low word first)
: .adt-cells ( a u -- )
  base @ >r hex 4 / 0 ?do dup l@ ." 0x" u. 4 + loop drop r> base ! ;
: .adt-quads ( a u -- )
  base @ >r hex 8 / 0 ?do dup @ ." 0x" u. 8 + loop drop r> base ! ;
: .adt-value ( a u name-a name-u -- )
  s" interrupts" compare >r
  dup 64 > if ." (" dup . ." bytes) " drop 64 then
  2dup adt-text? if r> drop .adt-text exit then
  dup 3 and if r> drop dump exit then
  dup 7 and 0= r> 0<> and if .adt-quads exit then
  .adt-cells ;
: .adt-prop ( prop -- )
  dup adt-prop-name 2dup type ."  = " 2>r
  dup 32 + l@ $7fffffff and swap 36 + swap 2r> .adt-value cr ;

: adt-path ( "path" -- node | 0 ) parse-name adt-node ;
: no-node ( -- ) ." no such ADT node (see adt-ls /)" cr ;

\ adt-ls ( "path" -- ) a node's children
: adt-ls ( "path" -- )
  cr adt-path ?dup 0= if no-node exit then
  adt-children 0 ?do dup 0= if leave then dup adt-name type cr adt-next loop drop ;

\ adt-show ( "path" -- ) a node's properties
: adt-show ( "path" -- )
  cr adt-path ?dup 0= if no-node exit then
  adt-props 0 ?do dup 0= if leave then dup .adt-prop adt-prop-next loop drop ;

\ .cpus ( -- ) the cores the ADT lists: die, cluster, core, the implementation
\ registers (cpu-impl-reg: RVBAR for starting it), and which one runs this
: .cpus ( -- )
  cr #cpus 0 ?do
    i cpu-info swap >r
    ." cpu " i 2 .r ."   die " r@ 11 rshift 15 and .
    ." cluster " r@ 8 rshift 7 and . ." core " r@ 255 and .
    ." impl " base @ >r hex ." 0x" u. r> base !
    r> boot-cpu = if ." (running: this one)" then cr
  loop ;
