\ The console's line editor: what QUIT (through REFILL) and ACCEPT read a
\ line with, once this file is compiled (kernel/console.S
\ console_line; before it, the kernel's plain reader).  All drawing is
\ done with printable characters, spaces and backspace (cursor left), so
\ it looks the same on a serial terminal and on the screen
\ (kernel/fbcon.S moves its cursor left on backspace); a line is edited
\ within one row of the terminal.
\
\ Keys: printable characters insert at the cursor; Backspace (8 or 127)
\ deletes before it, Delete (ESC [ 3 ~) and Ctrl-D under it; Left/Right
\ (ESC [ D / C, Ctrl-B/F), Home/End (ESC [ H / F, ESC [ 1~ / 4~, ESC O H / F,
\ Ctrl-A/E); Ctrl-K kills to the end, Ctrl-U to the start, Ctrl-W the
\ word before the cursor; Up/Down (ESC [ A / B, Ctrl-P/N) walk the
\ history (the last 32 lines of the session); Tab completes the word
\ before the cursor from the dictionary (a second Tab lists the
\ candidates); Ctrl-L draws the line again.  Enter (CR, LF, or CR LF)
\ ends the line.  Ctrl-C never reaches here: the console's interrupt
\ turns it into THROW -28 (kernel/console.S).
\
\ As the kernel's reader did, a line too long for the buffer or holding
\ another control character is read to its end and then refused (-1,
\ -2: REFILL throws -18 or -257), so input from a script is never cut
\ short silently.

variable ed-buf   variable ed-max   variable ed-len   variable ed-cur
variable ed-bad   \ 0, or -1 the line overflowed, -2 a control character came
variable ed-cr    \ the last line ended with CR: an LF right after it is that end
variable ed-tabs  \ Tabs in a row (the second one lists the candidates)

: ed-a ( -- a ) ed-buf @ ;
: ed-here ( -- a ) ed-buf @ ed-cur @ + ;
: ed-rest ( -- u ) ed-len @ ed-cur @ - ;
: ed-back ( n -- ) 0 ?do 8 emit loop ;
: ed-refuse ( code -- ) ed-bad @ 0= if ed-bad ! else drop then ;
\ draw from the cursor to the end, then `extra` blanks over what was
\ there, and come back to the cursor
: ed-draw ( extra -- ) ed-here ed-rest type dup spaces ed-rest + ed-back ;

: ed-insert ( c -- ) \ at the cursor; the cursor after it
  ed-len @ ed-max @ u< 0= if drop -1 ed-refuse exit then
  ed-here dup 1+ ed-rest move  ed-here c!  1 ed-len +!
  ed-here ed-rest type  1 ed-cur +!  ed-rest ed-back ;
: ed-cut ( n -- ) \ n characters at the cursor
  ed-rest min >r  ed-here r@ + ed-here ed-rest r@ - move
  r@ negate ed-len +!  r> ed-draw ;
: ed-left ( -- ) ed-cur @ if 8 emit -1 ed-cur +! then ;
: ed-right ( -- ) ed-rest if ed-here c@ emit 1 ed-cur +! then ;
: ed-home ( -- ) ed-cur @ ed-back 0 ed-cur ! ;
: ed-end ( -- ) ed-here ed-rest type ed-len @ ed-cur ! ;
: ed-cut-before ( n -- ) \ n characters before the cursor
  ed-cur @ min dup ed-back dup negate ed-cur +! ed-cut ;
: ed-back-word ( u -- u' ) \ back over the non-blanks before position u
  begin dup if ed-a over 1- + c@ bl <> else false then while 1- repeat ;
: ed-back-blanks ( u -- u' ) \ back over the blanks before position u
  begin dup if ed-a over 1- + c@ bl = else false then while 1- repeat ;
: ed-set ( a u -- ) \ the whole line becomes a u, the cursor at its end
  ed-max @ min  ed-home  ed-len @ >r
  tuck ed-a swap move  dup ed-len !  ed-a swap type
  r> ed-len @ - 0 max dup spaces ed-back  ed-len @ ed-cur ! ;
: ed-redraw ( -- ) cr ed-a ed-len @ type ed-rest ed-back ;

\ ---- history: the last HIST-N lines, each up to HIST-W characters ----------
32 constant hist-n   256 constant hist-w
create hist hist-n hist-w * allot   create hist-lens hist-n cells allot
create ed-saved hist-w allot   variable ed-saved-len
variable hist-count   \ lines ever kept
variable hist-at      \ the one shown: 0 the line being typed, k the k-th newest
: hist-line ( k -- a u ) \ 1 = the newest
  hist-count @ swap - hist-n mod  dup hist-w * hist +  swap cells hist-lens + @ ;
: hist-add ( a u -- ) \ a line worth keeping, unless it repeats the newest
  dup 0= over hist-w u> or if 2drop exit then
  hist-count @ if 2dup 1 hist-line compare 0= if 2drop exit then then
  hist-count @ hist-n mod >r  dup r@ cells hist-lens + !
  r> hist-w * hist + swap move  1 hist-count +! ;
: hist-go ( k -- ) \ show the k-th newest line (0: the one being typed)
  dup 0< over hist-count @ hist-n min u> or if drop exit then
  hist-at @ 0= if ed-a ed-saved ed-len @ hist-w min dup ed-saved-len ! move then
  dup hist-at !  ?dup if hist-line else ed-saved ed-saved-len @ then ed-set ;

\ ---- Tab: complete the word before the cursor from the dictionary ---------
\ Headers: link (8, relative), name length (1), the name, padding, 4 info
\ bytes, the code (kernel/macros.inc); hidden words (F_HIDDEN, 8) are skipped.
: hdr>xt ( hdr -- xt ) dup 8 + c@ + 16 + -4 and ;
: hdr-prev ( hdr -- hdr' | 0 ) dup @ dup if + else nip then ;
: hdr-name ( hdr -- a u ) dup 9 + swap 8 + c@ ;
: prefix? ( a u a2 u2 -- f ) \ a2 u2 starts with a u, ignoring case
  2 pick u< if 2drop drop false exit then over istr= ;
: common ( a u a2 u2 -- n ) \ how many leading characters they share, ignoring case
  rot min dup 0 ?do
    2 pick i + c@ upc 2 pick i + c@ upc <> if drop 2drop i unloop exit then
  loop nip nip ;
variable cand      \ the first candidate's header
variable cand-n    \ candidates found (names equal to the first counted once)
variable cand-len  \ characters all of them share
: candidate? ( a u hdr -- f ) \ a visible word whose name starts with a u
  dup hdr>xt >flags 8 and if drop 2drop false exit then hdr-name prefix? ;
: gather ( a u -- ) \ the candidates for the prefix a u
  0 cand-n !  latest begin ?dup while
    >r 2dup r@ candidate? if
      cand-n @ 0= if r@ cand !  r@ hdr-name nip cand-len !  1 cand-n ! else
        cand @ hdr-name r@ hdr-name 2over 2over istr= if 2drop 2drop else
          common cand-len @ min cand-len !  1 cand-n +! then then
    then r> hdr-prev
  repeat 2drop ;
: .candidates ( a u -- ) \ every visible name starting with a u
  cr latest begin ?dup while
    >r 2dup r@ candidate? if r@ hdr-name type space then r> hdr-prev
  repeat 2drop ed-redraw ;
: ed-prefix ( -- a u ) \ the word before the cursor
  ed-cur @ ed-back-word  ed-a over +  ed-cur @ rot - ;
: ed-tab ( -- )
  ed-prefix dup 0= if 2drop exit then
  2dup gather  cand-n @ 0= if 2drop exit then
  nip  cand @ hdr-name drop over +  cand-len @ rot -   ( a' k: what to add )
  dup 0> if 0 ?do dup i + c@ ed-insert loop drop
    cand-n @ 1 = if bl ed-insert then  0 ed-tabs ! exit then
  2drop  cand-n @ 1 = if bl ed-insert exit then
  ed-tabs @ if ed-prefix .candidates then  1 ed-tabs ! ;

\ ---- keys ------------------------------------------------------------------
variable csi-p   variable csi-2nd
: csi-final ( -- c ) \ ESC [ seen: the first parameter into csi-p, the final byte
  0 csi-p ! 0 csi-2nd !
  begin key dup [char] 0 [char] 9 1+ within over [char] ; = or while
    dup [char] ; = if drop 1 csi-2nd ! else
      csi-2nd @ if drop else [char] 0 - csi-p @ 10 * + csi-p ! then then
  repeat ;
: ed-up ( -- ) hist-at @ 1+ hist-go ;
: ed-down ( -- ) hist-at @ 1- hist-go ;
: ed-arrow ( c -- ) \ the final byte of ESC [ x or ESC O x
  case
    [char] A of ed-up endof     [char] B of ed-down endof
    [char] C of ed-right endof  [char] D of ed-left endof
    [char] H of ed-home endof   [char] F of ed-end endof
    [char] ~ of csi-p @ case
        1 of ed-home endof  7 of ed-home endof
        4 of ed-end endof   8 of ed-end endof
        3 of 1 ed-cut endof
      endcase endof
  endcase ;
: ed-esc ( -- c | 0 ) \ after ESC: 0 a sequence done, else the key after a lone ESC
  key case
    [char] [ of csi-final ed-arrow 0 endof
    [char] O of 0 csi-p ! key ed-arrow 0 endof
    dup
  endcase ;
: ed-key ( c -- done? )
  dup 9 <> if 0 ed-tabs ! then
  dup bl 127 within if ed-insert false exit then
  dup 127 > if ed-insert false exit then
  case
    13 of true endof
    10 of true endof
    8 of ed-cur @ if 1 ed-cut-before then false endof
    127 of ed-cur @ if 1 ed-cut-before then false endof
    9 of ed-tab false endof
    1 of ed-home false endof
    5 of ed-end false endof
    2 of ed-left false endof
    6 of ed-right false endof
    4 of 1 ed-cut false endof
    11 of ed-rest ed-cut false endof
    21 of ed-cur @ ed-cut-before false endof
    23 of ed-cur @ dup ed-back-blanks ed-back-word - ed-cut-before false endof
    12 of ed-redraw false endof
    16 of ed-up false endof
    14 of ed-down false endof
    27 of ed-esc ?dup if recurse else false then endof
    dup line-editor cell+ !  -2 ed-refuse  false swap
  endcase ;

: edit-line ( a n -- n' | -1 | -2 ) \ a line into the buffer, edited; -1 too long, -2 not text
  ed-max ! ed-buf !  0 ed-len ! 0 ed-cur ! 0 ed-bad ! 0 hist-at ! 0 ed-tabs !
  begin
    key  ed-cr @ 0 ed-cr !
    over 10 = and ed-len @ 0= and if drop false else
      dup 13 = if 1 ed-cr ! then ed-key then
  until
  ed-end  ed-bad @ ?dup if exit then
  ed-a ed-len @ hist-add  ed-len @ ;

' edit-line line-editor !
