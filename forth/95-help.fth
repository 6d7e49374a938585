\ help and ?: the console explains itself.  `help WORD` prints the word's
\ stack effect and one line, both taken at build time from the comment
\ its source keeps next to it (harness/help.py makes the table, HELP-TEXT
\ is it); `help` alone, how the console is used; `?` on an empty stack,
\ the main words by topic (with an address it is still the standard ?).

variable cut-c
: cut ( a u c -- a n a' u' ) \ a u split at the first c: before it, and after it
  cut-c ! 2dup begin dup if over c@ cut-c @ <> else false then while 1 /string repeat
  rot over - >r  dup if 1 /string then  r> -rot ;
: help-find ( a u -- a' u' ) \ the newest help line for the name (u' 0: none)
  2>r 0 0 help-text begin dup while
    10 cut 2swap 2dup 9 cut 2drop 2r@ istr= if 2rot 2drop 2swap else 2drop then
  repeat 2drop 2r> 2drop ;
: .help-line ( a u -- ) \ name ( stack ), the one line, the source file
  cr 9 cut 2swap type space  9 cut 2swap type
  9 cut 2swap ?dup if cr ."   " type else drop then
  cr ."   defined in " type ;
: .help-intro ( -- )
  cr ." Type a line of Forth and Enter: each word runs, or is compiled between : and ;."
  cr ." An error prints its code and message; the console carries on."
  cr ."   help WORD   the word's stack effect and what it does"
  cr ."   ?           the main words, by topic      words   every word"
  cr ."   see WORD    the word's code, disassembled"
  cr ." Keys: Left Right Home End, Backspace Delete, Ctrl-A E (start, end),"
  cr ."   Ctrl-K U W (cut to end, to start, the word before), Up Down (history),"
  cr ."   Tab (complete a word; twice: the candidates), Ctrl-C (stop the running word)."
  cr ." bye reboots the machine (m3) or switches it off (virt)." ;
: help ( "name" -- ) \ a word's stack effect and what it does; alone, how to use the console
  parse-name dup 0= if 2drop .help-intro exit then
  2dup help-find ?dup if .help-line 2drop exit then drop
  cr 2dup find-name drop if ." no help text for " type ."  (defined at the console?)" exit then
  ." no word named " type ;
: ? ( a-addr -- | -- ) \ print the cell at a-addr; on an empty stack, the main words
  depth if ? exit then
  cr ." stack      dup drop swap over rot nip tuck pick .s depth"
  cr ." numbers    + - * / mod /mod negate abs min max and or xor invert lshift rshift"
  cr ." compare    = <> < > u< 0= 0< within"
  cr ." memory     @ ! c@ c! +! , allot here variable constant value to create dump"
  cr ." define     : ; if else then begin until while repeat do loop i recurse exit"
  cr ." output     . u. .r emit type cr space spaces hex decimal"
  cr ." input      key key? accept"
  cr ." errors     catch throw abort"
  cr ." heap       allocate free resize"
  cr ." threads    spawn yield ms me thread-exit threads endpoint send receive call reply"
  cr ." screen     page fb-fill fb-rect fb-blit fb-width fb-height"
  cr ." tools      help see words .s dump bench"
  cr ." help WORD tells more of each." ;
