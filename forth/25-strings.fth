\ The String word set (CMOVE CMOVE> BLANK are elsewhere).

: -trailing ( a u -- a u' ) begin dup while 2dup + 1- c@ bl = while 1- repeat then ;
: compare ( a1 u1 a2 u2 -- n ) \ -1 0 1: a1 before, equal to, after a2
  rot 2dup - >r min 0 ?do
    over i + c@ over i + c@ - ?dup if sgn nip nip unloop r> drop exit then
  loop 2drop r> negate sgn ;
: search ( a1 u1 a2 u2 -- a3 u3 flag )
  dup 0= if 2drop true exit then
  2>r 2dup
  begin dup r@ < 0= while
    over r@ 2r@ compare 0= if 2swap 2drop 2r> 2drop true exit then
    1 /string
  repeat 2drop 2r> 2drop false ;

\ SUBSTITUTE and REPLACES: %name% in a string is replaced by the text given
\ to name with REPLACES; %% stands for %.  The substitutions are a linked
\ list of records in the dictionary: link, text address, text length,
\ counted name (a new text for a known name is copied, the old one stays).
variable substs
: upc ( c -- c' ) dup [char] a [char] z 1+ within if 32 - then ;
: istr= ( a1 u1 a2 u2 -- f ) \ equal, ignoring case
  rot over <> if drop 2drop false exit then
  0 ?do over i + c@ upc over i + c@ upc <> if 2drop false unloop exit then loop
  2drop true ;
: find-subst ( a u -- rec | 0 ) \ names are case-insensitive
  substs @ begin dup while
    >r 2dup r@ 3 cells + count istr= if 2drop r> exit then r> @
  repeat nip nip ;
: subst-text ( rec -- a u ) dup cell+ @ swap 2 cells + @ ;
: replaces ( a1 u1 a2 u2 -- ) \ the substitution named a2 u2 becomes a1 u1
  2dup find-subst ?dup if nip nip else
    align here substs @ , substs !  0 , 0 ,
    dup c, here swap dup allot move align substs @ then
  >r here r@ cell+ ! dup r@ 2 cells + ! here swap dup allot move align r> drop ;
: cindex ( a u c -- i | -1 ) \ the first c in the string
  -rot 0 ?do 2dup i + c@ = if 2drop i unloop exit then loop 2drop -1 ;
variable sub-dst  variable sub-end  variable sub-n  variable sub-ovf
: sub-c, ( c -- ) sub-dst @ sub-end @ u< if sub-dst @ c! 1 sub-dst +! else drop -1 sub-ovf ! then ;
: sub-s, ( a u -- ) bounds ?do i c@ sub-c, loop ;
create sub-src 1024 allot   \ the source is copied first: it may overlap the result
: substitute ( a1 u1 a2 u2 -- a2 u3 n ) \ n: substitutions made, or < 0 if a2 u2 was too small
  2swap dup 1024 u> if 2drop drop 0 -1 exit then
  tuck sub-src swap move sub-src swap 2swap
  over + sub-end !  dup sub-dst !  >r  0 sub-n !  0 sub-ovf !
  begin dup while
    over c@ [char] % <> if over c@ sub-c, 1 /string else
      1 /string 2dup [char] % cindex
      dup 0< if drop [char] % sub-c, else
      dup 0= if drop [char] % sub-c, 1 /string else
        >r over r@ find-subst ?dup if subst-text sub-s, 1 sub-n +!
        else [char] % sub-c, over r@ sub-s, [char] % sub-c, then
        r> 1+ /string
      then then
    then
  repeat 2drop r> sub-dst @ over - sub-ovf @ if -1 else sub-n @ then ;
: unescape ( a1 u1 a2 -- a2 u2 ) \ double every %
  dup >r -rot bounds ?do
    i c@ dup [char] % = if over c! char+ [char] % then over c! char+
  loop r> tuck - ;
