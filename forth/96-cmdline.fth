\ The command line the machine was booted with (CMDLINE: m1n1's boot_args,
\ `python -m harness run --cmdline`, QEMU's -append).  `run=` in it runs
\ Forth at boot: everything after "run=" to the end of the command line
\ becomes the console's first line, as if typed at the prompt (echoed,
\ interpreted, its errors reported and counted as a typed line's), before
\ the first key is read.  For example
\   python -m harness run --cmdline "quiet run=: hi .\" hello\" ; hi"

: run= ( -- a u ) \ the text after run= in the command line (u 0: none)
  cmdline begin s" run=" search while
    over cmdline drop = if 4 /string exit then           \ at the start,
    over 1- c@ bl = if 4 /string exit then               \ or after a blank
    1 /string
  repeat 2drop 0 0 ;
variable boot-pending  true boot-pending !
: boot-line ( a n -- n' | -1 | -2 ) \ the console's first line: the run= text, then the editor's
  boot-pending @ 0= if edit-line exit then  0 boot-pending !
  run= dup 0= if 2drop edit-line exit then
  dup 3 pick u> if 2drop 2drop -1 exit then          \ longer than the line: refused
  2dup type  rot drop  >r swap r@ move r> ;
' boot-line line-editor !
