\ SEE: a disassembler for the native code the compiler emits.
\
\ Why here, in Forth: the decoder is a table of masks and fields, short in
\ Forth, and it reads the same memory the compiler wrote; testing it needs
\ only the console (tests/test_see.py checks every line it decodes against
\ capstone, the harness's reference disassembler, on the same bytes).
\ It decodes the forms kernel/forth/compiler.S emits (its asm_* routines and
\ templates) and what the inlined primitives and the assembly words are made
\ of: branches, loads and stores, pairs, moves, add/sub, logic, shifts and
\ bitfields, conditional selects and compares, multiply and divide.  Anything
\ else is `.word 0x...`.  The encodings are those of the ARM ARM (DDI 0487)
\ C4.1, "A64 instruction set encoding", and the aliases its C6.2 entries
\ prefer (MOV, CMP, CSETM, LSL ...), as capstone prints them; the registers
\ the kernel gives a role (kernel/macros.inc) go by their role's name:
\ tos dsp up lix llim.

\ ---- the dictionary: which word holds an address, where a word ends ------
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
: code= ( a xt n -- f ) 4 * tuck compare 0= ;
: inline-match ( a -- a xt | a 0 ) \ an inline primitive whose body is at a
  latest begin ?dup while
    dup hdr>xt dup 3 - c@ ?dup if
      3 pick -rot code= if hdr>xt exit then
    else drop then hdr-prev
  repeat 0 ;

\ ---- the instruction and its fields -------------------------------------
variable insn     \ the instruction word being decoded
variable ipc      \ its address
variable wide     \ registers print as x (true) or w
variable see-xt   \ the word being shown, and where its code ends
variable see-end
variable lit-reg  \ the register a movz/movn/movk run is building, and its value
variable lit-val
: field ( lo n -- u ) insn @ rot rshift 1 rot lshift 1- and ;
: sext ( u n -- n ) 64 swap - tuck lshift swap arshift ;
: sfield ( lo n -- n ) dup >r field r> sext ;
: bit? ( n -- f ) 1 field 0<> ;
: match ( mask value -- f ) swap insn @ and = ;
: rd ( -- n ) 0 5 field ;
: rn ( -- n ) 5 5 field ;
: rm ( -- n ) 16 5 field ;
: ra ( -- n ) 10 5 field ;
: sf ( -- ) 31 bit? wide ! ;

\ ---- printing --------------------------------------------------------------
: .lower ( a u -- ) \ digits as capstone prints them: a-f
  bounds ?do i c@ dup [char] A [char] Z 1+ within if 32 or then emit loop ;
: .hexnum ( u -- ) base @ >r hex 0 <# #s #> .lower r> base ! ;
: .0x ( u -- ) ." 0x" .hexnum ;
: .dec ( n -- ) base @ >r decimal 0 .r r> base ! ;
: .uimm ( u -- ) [char] # emit dup 10 u< if .dec else .0x then ;
: .imm ( n -- ) dup 0< if ." #-" negate dup 10 u< if .dec else .0x then else .uimm then ;
: ., ( -- ) ." , " ;
: .m ( a u -- ) type space ;
: .xname ( n -- ) \ x registers by their role in the kernel (kernel/macros.inc)
  case 26 of ." tos" endof 27 of ." dsp" endof 28 of ." up" endof
    24 of ." lix" endof 25 of ." llim" endof ." x" dup .dec endcase ;
: .reg ( n -- ) \ 31 is the zero register
  wide @ if dup 31 = if drop ." xzr" else .xname then
  else dup 31 = if drop ." wzr" else ." w" .dec then then ;
: .regsp ( n -- ) \ 31 is the stack pointer
  dup 31 = if drop wide @ if ." sp" else ." wsp" then else .reg then ;
: .x ( n -- ) wide @ swap true wide ! .regsp wide ! ;   \ a base register: always X
: .cond ( n -- ) 2* s" eqnehslomiplvsvchilsgeltgtlealnv" drop + 2 type ;
: word-of ( a -- xt | 0 ) \ the word whose code holds a, up to its end
  dup xt-of dup if 2dup code-end u< 0= if drop 0 then then nip ;
: .in-word ( a xt -- ) tuck >name type swap - ?dup if ." +" .0x then ;
: .target ( a -- ) \ a branch target: the address, and the word when elsewhere
  dup ." #" .0x dup see-xt @ see-end @ within if drop exit then
  dup word-of ?dup if ."   \ " .in-word else drop then ;
: .word-at ( a -- ) \ a call target: the word, else the address
  dup word-of ?dup if .in-word else .0x then ;
: .shift ( type amount -- ) \ the ", lsl #n" of a shifted register
  2dup or if ., swap 3 * s" lsllsrasrror" drop + 3 .m ." #" .dec else 2drop then ;

\ ---- branches, system -----------------------------------------------------
: off26 ( -- a ) 0 26 sfield 4 * ipc @ + ;
: off19 ( -- a ) 5 19 sfield 4 * ipc @ + ;
: d-branch ( -- f )
  $fc000000 $94000000 match if s" bl" .m off26 .word-at true exit then
  $fc000000 $14000000 match if s" b" .m off26 .target true exit then
  $ff000010 $54000000 match if ." b." 0 4 field .cond space off19 .target true exit then
  $7e000000 $34000000 match if sf 24 bit? if s" cbnz" else s" cbz" then .m
    rd .reg ., off19 .target true exit then
  $7e000000 $36000000 match if 31 bit? wide ! 24 bit? if s" tbnz" else s" tbz" then .m
    rd .reg ., 31 1 field 5 lshift 19 5 field or .uimm .,
    5 14 sfield 4 * ipc @ + .target true exit then
  $fffffc1f $d65f0000 match if s" ret" .m rn 30 <> if true wide ! rn .reg then true exit then
  $fffffc1f $d61f0000 match if s" br" .m true wide ! rn .reg true exit then
  $fffffc1f $d63f0000 match if s" blr" .m true wide ! rn .reg
    rn lit-reg @ = if ."   \ " lit-val @ .word-at then true exit then
  false ;
: .barrier ( -- f ) \ the option of dsb/dmb
  8 4 field case 15 of ." sy" endof 14 of ." st" endof 13 of ." ld" endof
    11 of ." ish" endof 10 of ." ishst" endof 9 of ." ishld" endof 7 of ." nsh" endof
    3 of ." osh" endof ." #" dup .dec endcase true ;
: d-system ( -- f )
  $ffffffff $d503201f match if s" nop" type true exit then
  $ffffffff $d5033fdf match if s" isb" type true exit then
  $fffff0ff $d503309f match if s" dsb" .m .barrier exit then
  $fffff0ff $d50330bf match if s" dmb" .m .barrier exit then
  $ffe0001f $d4000001 match if s" svc" .m 5 16 field .uimm true exit then
  $ffe0001f $d4000002 match if s" hvc" .m 5 16 field .uimm true exit then
  $ffe0001f $d4200000 match if s" brk" .m 5 16 field .uimm true exit then
  $ffff0000 0 match if s" udf" .m 0 16 field .uimm true exit then
  false ;

\ ---- PC-relative addresses -------------------------------------------------
: adr-imm ( -- n ) 5 19 field 2 lshift 29 2 field or 21 sext ;
: d-pcrel ( -- f )
  true wide !
  $9f000000 $10000000 match if s" adr" .m rd .reg ., adr-imm ipc @ + .target true exit then
  $9f000000 $90000000 match if s" adrp" .m rd .reg .,
    adr-imm 12 lshift ipc @ -4096 and + ." #" .0x true exit then
  false ;

\ ---- moves of a 16-bit immediate -----------------------------------------
\ The running value of a movz/movn/movk run, shown after its last move.
: lit-start ( v -- ) lit-val ! rd lit-reg ! ;
: lit-more ( v mask -- ) rd lit-reg @ = if lit-val @ swap invert and or lit-val ! else 2drop then ;
: .lit ( -- ) \ the value, when the next instruction is not a movk of it
  ipc @ 4 + l@ dup $ff80001f and $f2800000 lit-reg @ or = swap drop
  0= rd lit-reg @ = and if ."   \ " lit-val @ wide @ 0= if $ffffffff and then .dec then ;
: d-movewide ( -- f )
  $1f800000 $12800000 match 0= if false exit then
  sf 29 2 field 1 = if false exit then
  5 16 field 21 2 field 16 * lshift      ( v )
  29 2 field case
    0 of invert wide @ 0= if $ffffffff and 32 sext then
      5 16 field 0= 21 2 field 0<> and wide @ 0= 5 16 field $ffff = and or
      if s" movn" .m rd .reg ., 5 16 field .uimm 0 21 2 field 16 * .shift
      else s" mov" .m rd .reg ., dup .imm then lit-start endof
    2 of 5 16 field 0= 21 2 field 0<> and
      if s" movz" .m rd .reg ., 5 16 field .uimm 0 21 2 field 16 * .shift
      else s" mov" .m rd .reg ., dup wide @ 0= if 32 sext then .imm then lit-start endof
    3 of s" movk" .m rd .reg ., 5 16 field .uimm 0 21 2 field 16 * .shift
      $ffff 21 2 field 16 * lshift lit-more endof
  endcase .lit true ;

\ ---- add/sub, logic ----------------------------------------------------------
: addsub-name ( -- a u ) \ op:S
  29 2 field case 0 of s" add" endof 1 of s" adds" endof 2 of s" sub" endof s" subs" rot endcase ;
: d-addsub-imm ( -- f )
  $1f800000 $11000000 match 0= if false exit then
  sf 10 12 field                                 ( imm12; lsl #12 when bit 22 )
  29 bit? 0= over 0= and 22 bit? 0= and rd 31 = rn 31 = or and 30 bit? 0= and
  if drop s" mov" .m rd .regsp ., rn .regsp true exit then
  29 bit? rd 31 = and if 30 bit? if s" cmp" else s" cmn" then .m rn .regsp .,
  else addsub-name .m 29 bit? if rd .reg else rd .regsp then ., rn .regsp ., then
  .uimm 22 bit? if ." , lsl #12" then true ;
: d-addsub-reg ( -- f )
  $1f200000 $0b000000 match 0= if false exit then
  sf 22 2 field 10 6 field                       ( shift amount )
  29 bit? rd 31 = and if 30 bit? if s" cmp" else s" cmn" then .m rn .reg ., rm .reg .shift true exit then
  30 bit? rn 31 = and if 29 bit? if s" negs" else s" neg" then .m rd .reg ., rm .reg .shift true exit then
  addsub-name .m rd .reg ., rn .reg ., rm .reg .shift true ;
: d-carry ( -- f )
  $1fe0fc00 $1a000000 match 0= if false exit then
  sf 30 bit? rn 31 = and if 29 bit? if s" ngcs" else s" ngc" then .m rd .reg ., rm .reg true exit then
  29 2 field case 0 of s" adc" endof 1 of s" adcs" endof 2 of s" sbc" endof s" sbcs" rot endcase .m
  rd .reg ., rn .reg ., rm .reg true ;
: bitmask ( -- u ) \ DecodeBitMasks (ARM ARM shared pseudocode) of N:immr:imms
  22 bit? 1 and 6 lshift 10 6 field invert 63 and or   ( N:~imms )
  6 begin 2dup 1 swap lshift and 0= over 0> and while 1- repeat nip
  1 swap lshift >r                                ( R: esize )
  1 10 6 field r@ 1- and 1+ lshift 1-             ( welem )
  16 6 field r@ 1- and                            ( welem r )
  2dup rshift -rot r@ swap - lshift or            ( rotated )
  r@ 64 < if 1 r@ lshift 1- and then
  begin r@ 64 < while dup r@ lshift or r> 2* >r repeat r> drop
  wide @ 0= if $ffffffff and then ;
: logic-name ( -- a u ) \ opc
  29 2 field case 0 of s" and" endof 1 of s" orr" endof 2 of s" eor" endof s" ands" rot endcase ;
: d-logic-imm ( -- f )
  $1f800000 $12000000 match 0= if false exit then
  sf wide @ 0= 22 bit? and if false exit then
  29 2 field 3 = rd 31 = and if s" tst" .m rn .reg ., bitmask .uimm true exit then
  29 2 field 1 = rn 31 = and if s" mov" .m rd .regsp ., bitmask .uimm true exit then
  logic-name .m 29 2 field 3 = if rd .reg else rd .regsp then ., rn .reg ., bitmask .uimm true ;
: d-logic-reg ( -- f )
  $1f000000 $0a000000 match 0= if false exit then
  sf 22 2 field 10 6 field                       ( shift amount )
  29 2 field 1 = rn 31 = and if
    21 bit? if s" mvn" .m rd .reg ., rm .reg .shift true exit then
    2dup or 0= if 2drop s" mov" .m rd .reg ., rm .reg true exit then then
  29 2 field 3 = rd 31 = and 21 bit? 0= and if s" tst" .m rn .reg ., rm .reg .shift true exit then
  21 bit? if 29 2 field case 0 of s" bic" endof 1 of s" orn" endof 2 of s" eon" endof s" bics" rot endcase
  else logic-name then .m rd .reg ., rn .reg ., rm .reg .shift true ;

\ ---- bitfields, shifts ------------------------------------------------------
: esize ( -- n ) wide @ if 64 else 32 then ;
: .rdrn ( -- ) rd .reg ., rn .reg ., ;
: .lsb-width ( lsb width -- ) swap .uimm ., .uimm ;
: d-bitfield ( -- f )
  $1f800000 $13000000 match 0= if false exit then
  sf 16 6 field 10 6 field                        ( immr imms )
  29 2 field case
    0 of over 0= over 7 = and if 2drop s" sxtb" .m rd .reg ., false wide ! rn .reg true exit then
         over 0= over 15 = and if 2drop s" sxth" .m rd .reg ., false wide ! rn .reg true exit then
         over 0= over 31 = and wide @ and if 2drop s" sxtw" .m rd .reg ., false wide ! rn .reg true exit then
         dup esize 1- = if drop s" asr" .m .rdrn .uimm true exit then
         2dup > if s" sbfiz" .m .rdrn 1+ esize rot - swap .lsb-width true exit then
         s" sbfx" .m .rdrn over - 1+ .lsb-width endof
    1 of 2dup > if s" bfi" .m .rdrn 1+ esize rot - swap .lsb-width true exit then
         s" bfxil" .m .rdrn over - 1+ .lsb-width endof
    2 of dup esize 1- = if drop s" lsr" .m .rdrn .uimm true exit then
         2dup 1+ = if nip s" lsl" .m .rdrn esize 1- swap - .uimm true exit then
         over 0= over 7 = and wide @ 0= and if 2drop s" uxtb" .m rd .reg ., rn .reg true exit then
         over 0= over 15 = and wide @ 0= and if 2drop s" uxth" .m rd .reg ., rn .reg true exit then
         2dup > if s" ubfiz" .m .rdrn 1+ esize rot - swap .lsb-width true exit then
         s" ubfx" .m .rdrn over - 1+ .lsb-width endof
    drop 2drop false exit
  endcase true ;
: d-extr ( -- f )
  $1fa00000 $13800000 match 0= if false exit then
  sf rn rm = if s" ror" .m rd .reg ., rn .reg ., 10 6 field .uimm true exit then
  s" extr" .m .rdrn rm .reg ., 10 6 field .uimm true ;

\ ---- conditional select and compare; multiply, divide ----------------------
: d-csel ( -- f )
  $1fe00800 $1a800000 match 0= if false exit then
  sf 12 4 field 30 1 field 2* 10 1 field or       ( cond op )
  over 14 < rn rm = and over 0<> and if           \ the aliases (not for al, nv)
    rn 31 = over 3 < and if case 1 of s" cset" endof 2 of s" csetm" endof endcase
      .m rd .reg ., 1 xor .cond true exit then
    case 1 of s" cinc" endof 2 of s" cinv" endof 3 of s" cneg" endof endcase
    .m .rdrn 1 xor .cond true exit then
  case 0 of s" csel" endof 1 of s" csinc" endof 2 of s" csinv" endof 3 of s" csneg" endof endcase
  .m .rdrn rm .reg ., .cond true ;
: d-ccmp ( -- f )
  $3fe00410 $3a400000 match 0= if false exit then
  sf 30 bit? if s" ccmp" else s" ccmn" then .m rn .reg .,
  11 bit? if rm .uimm else rm .reg then ., 0 4 field .uimm ., 12 4 field .cond true ;
: d-mul ( -- f )
  $7f000000 $1b000000 match 0= if false exit then
  sf 21 3 field 2* 15 1 field or                  ( op31:o0 as 0 .. 15 )
  case
    0 of ra 31 = if s" mul" .m .rdrn rm .reg else s" madd" .m .rdrn rm .reg ., ra .reg then endof
    1 of ra 31 = if s" mneg" .m .rdrn rm .reg else s" msub" .m .rdrn rm .reg ., ra .reg then endof
    4 of s" smulh" .m .rdrn rm .reg endof
    12 of s" umulh" .m .rdrn rm .reg endof
    drop false exit
  endcase true ;
: d-dp2 ( -- f )
  $7fe00000 $1ac00000 match 0= if false exit then
  sf 10 6 field case
    2 of s" udiv" endof 3 of s" sdiv" endof 8 of s" lsl" endof
    9 of s" lsr" endof 10 of s" asr" endof 11 of s" ror" endof
    drop false exit
  endcase .m .rdrn rm .reg true ;
: d-dp1 ( -- f )
  $7fff0000 $5ac00000 match 0= if false exit then
  sf 10 6 field case
    0 of s" rbit" endof 4 of s" clz" endof 5 of s" cls" endof
    3 of wide @ 0= if false exit then s" rev" endof
    drop false exit
  endcase .m rd .reg ., rn .reg true ;

\ ---- loads and stores --------------------------------------------------------
\ size:opc as 0 .. 15: the mnemonic's tail after ld/st, and the register width
: ls-kind ( -- n ) 30 2 field 2 lshift 22 2 field or ;
: ls-name ( -- f ) \ print the name; false when not a plain load/store
  ls-kind case
    12 of ." str" endof 13 of ." ldr" endof 8 of ." str" endof 9 of ." ldr" endof
    10 of ." ldrsw" endof 4 of ." strh" endof 5 of ." ldrh" endof 6 of ." ldrsh" endof
    7 of ." ldrsh" endof 0 of ." strb" endof 1 of ." ldrb" endof 2 of ." ldrsb" endof
    3 of ." ldrsb" endof drop false exit
  endcase true ;
: ls-wide ( -- ) ls-kind dup 12 14 within over 10 = or over 2 = or swap 6 = or wide ! ;
: .unscaled-name ( -- f ) \ ldr -> ldur, strb -> sturb
  ls-kind case
    12 of ." stur" endof 13 of ." ldur" endof 8 of ." stur" endof 9 of ." ldur" endof
    10 of ." ldursw" endof 4 of ." sturh" endof 5 of ." ldurh" endof 6 of ." ldursh" endof
    7 of ." ldursh" endof 0 of ." sturb" endof 1 of ." ldurb" endof 2 of ." ldursb" endof
    3 of ." ldursb" endof drop false exit
  endcase true ;
: .mem ( n -- ) \ [Xn, #n]
  ." [" rn .x ?dup if ., .imm then ." ]" ;
: d-ldst ( -- f )
  $3f000000 $39000000 match if                   \ unsigned offset, scaled
    ls-name 0= if false exit then space ls-wide rd .reg .,
    10 12 field 30 2 field lshift .mem true exit then
  $3f200000 $38000000 match if                   \ unscaled, post-index, pre-index
    10 2 field case
      0 of .unscaled-name 0= if false exit then space ls-wide rd .reg ., 12 9 sfield .mem endof
      1 of ls-name 0= if false exit then space ls-wide rd .reg ., ." [" rn .x ." ], " 12 9 sfield .imm endof
      3 of ls-name 0= if false exit then space ls-wide rd .reg ., 12 9 sfield .mem ." !" endof
      drop false exit
    endcase true exit then
  $3f20ec00 $38206800 match if                   \ register offset, lsl (option 011)
    ls-name 0= if false exit then space ls-wide rd .reg ., ." [" rn .x ., true wide ! rm .reg
    12 bit? if ." , lsl " 30 2 field .uimm then ." ]" true exit then
  $3f000000 $18000000 match if                   \ literal (ldr w/x, ldrsw)
    30 2 field case 0 of false wide ! s" ldr" endof 1 of true wide ! s" ldr" endof
      2 of true wide ! s" ldrsw" endof drop false exit endcase
    .m rd .reg ., off19 dup .target ."   \ " 30 bit? if @ else l@ then .dec true exit then
  false ;
: d-pair ( -- f )
  $3e000000 $28000000 match 0= if false exit then
  30 2 field 3 = if false exit then
  30 2 field 1 = 22 bit? 0= and if false exit then        \ stgp
  23 3 field 0= if false exit then                        \ no-allocate pairs: not decoded
  31 bit? wide ! 30 2 field 1 = if s" ldpsw" true wide ! else 22 bit? if s" ldp" else s" stp" then then .m
  rd .reg ., 10 5 field .reg .,
  15 7 sfield 31 bit? if 8 else 4 then *
  23 3 field case
    1 of ." [" rn .x ." ], " .imm endof
    2 of .mem endof
    3 of .mem ." !" endof
  endcase true ;

\ ---- one instruction, one word ---------------------------------------------
: disasm ( -- ) \ print insn at ipc decoded
  true wide !
  d-branch if exit then d-system if exit then d-pcrel if exit then
  d-movewide if exit then d-addsub-imm if exit then d-logic-imm if exit then
  d-bitfield if exit then d-extr if exit then d-addsub-reg if exit then
  d-logic-reg if exit then d-carry if exit then d-csel if exit then d-ccmp if exit then
  d-mul if exit then d-dp2 if exit then d-dp1 if exit then
  d-ldst if exit then d-pair if exit then
  ." .word " insn @ .0x ;
: .hex8 ( u -- ) base @ >r hex 0 <# # # # # # # # # #> .lower r> base ! ;
variable inline-end   \ the end of the inlined body being shown
: lit-push? ( a -- f ) \ the push of a literal: the movz or movn into tos follows
  4 + l@ $7f80001f and dup $1280001a = swap $5280001a = or ;
: .inline ( a -- a ) \ name an inlined primitive whose body starts at a
  dup inline-end @ u< if exit then
  dup lit-push? if exit then
  inline-match ?dup if
    dup see-xt @ <> if cr ."   \ " dup >name type dup 3 - c@ 4 * 2 pick + inline-end ! then
    drop
  then ;
: .insn ( a -- a' ) \ one line: address, instruction word, decoded
  .inline dup ipc ! dup l@ insn !
  cr ."   " dup .hexnum 2 spaces insn @ .hex8 2 spaces disasm 4 + ;
: umin ( u1 u2 -- u ) 2dup u> if swap then drop ;
: trim ( xt end -- xt end' ) \ not the zero padding before the next header
  begin 2dup swap 4 + u> over 4 - l@ 0= and while 4 - repeat ;
: see ( "name" -- ) \ disassemble a word
  ' dup >name ." : " type
  dup >flags 1 and if ."  immediate" then dup >flags 4 and if ."  inline" then
  dup see-xt ! dup code-end dup see-end !
  over 2048 + 2dup u> >r umin trim        \ at most 512 lines (the newest assembly
  0 inline-end ! -1 lit-reg !             \ word runs up to the first Forth header)
  swap begin 2dup u> while .insn repeat 2drop
  r> if cr ."   ..." then cr ." ;" ;
