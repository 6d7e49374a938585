\ The file system on first use.  forth/files/ (FAT32, the File-Access
\ words, the shell's ls cat rm df) is in the image as a second text and
\ is compiled the first time one of its words runs, not at boot: it is
\ two thirds as long again as the rest of forth/, and a boot that
\ compiled it would take 1.6 M more instructions to the first prompt for
\ a disk most sessions never touch.
\
\ Each public word is first a stand-in made by LAZY: run, it compiles
\ forth/files/ (once), finds the real word of its name, keeps it and runs
\ it; after that it runs the real word at once.  Words compiled after
\ the file system is in reach the real ones directly.  The compile goes
\ where HERE is, interpreting, in decimal, and then STATE and BASE are
\ as they were; it needs the dictionary space (about 40 KB) and runs on
\ the core and thread that asked.  It must not see the user's words (a
\ `: fill ... ;` of one's own would be compiled into the file system):
\ the words defined since the boot are blind meanwhile (find-blind); and
\ the user must not meet its helpers (`dent`, `fail` ...): after it, every
\ word it defined that the system did not already name is hidden
\ (hide-unknown), so only its public words, the stand-ins' names, stay.

1 constant r/o   \ R/O ( -- fam ) open for reading
2 constant w/o   \ W/O ( -- fam ) open for writing
3 constant r/w   \ R/W ( -- fam ) open for both
: bin ( fam1 -- fam2 ) ;   \ every file is binary: nothing is translated

\ text-load ( a u flag -- ) compile the text a u once: flag ( a cell ) is
\ set the first time, and later calls do nothing
: text-load ( a u flag -- )
  dup @ if drop 2drop exit then  true swap !
  state @ base @ 2>r  0 state !  decimal
  here >r  boot-here @ here find-blind                \ the user's words out of sight
  ['] evaluate-lines catch
  0 0 find-blind  r> hide-unknown                     \ and its helpers out of the user's
  2r> base ! state !  throw ;

variable files-in   \ files-in ( -- a ) true once forth/files/ is compiled
: files-load ( -- ) (files-source) files-in text-load ;   \ compile forth/files/ if it is not yet

\ lazy-word ( loader "name" -- ) a stand-in for the word of that name that
\ the xt loader compiles (with text-load): forth/files/ here, forth/llm/
\ in forth/87-llm.fth
: lazy-word ( loader "name" -- )
  >in @ create 0 , swap , >in ! parse-name dup c, here over allot swap move
  does> ( i*x a -- j*x )
  dup @ ?dup if nip execute exit then
  dup cell+ @ execute  dup 2 cells + find 0= if -13 throw then   ( a xt )
  2dup >body = if -13 throw then                    \ still the stand-in
  tuck swap ! execute ;

: lazy ( "name" -- ) ['] files-load lazy-word ;   \ a stand-in for the file system's word of that name

lazy open-file    lazy create-file    lazy close-file    lazy read-file
lazy write-file   lazy read-line      lazy write-line    lazy file-size
lazy file-position  lazy reposition-file  lazy resize-file  lazy flush-file
lazy file-status  lazy delete-file    lazy rename-file
lazy mount        lazy unmount        lazy free-count    lazy .fs-error
lazy ls           lazy cat            lazy rm            lazy df
lazy include-file lazy included       lazy include       lazy required
lazy require
lazy make-dir     lazy delete-dir     lazy mkdir         lazy rmdir
lazy block  lazy buffer  lazy update  lazy save-buffers  lazy flush  lazy empty-buffers
lazy load  lazy thru  lazy list  lazy scr  lazy blk
lazy sync         lazy drop-cache
