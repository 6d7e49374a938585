\ Programs from the disk: INCLUDE-FILE INCLUDED INCLUDE REQUIRED REQUIRE
\ (Forth 2012 11.6.1.1717, 11.6.1.1718, 11.6.2.1714, 11.6.2.2144.50,
\ 11.6.2.2144.10), and SAVE-INPUT / RESTORE-INPUT for a file source.  Why
\ here: a file is read with the File-Access words above, a line at a
\ time, as the console and the image's text are.
\
\ While a file is the input source, SOURCE-ID is its file id and the
\ kernel's REFILL runs file-refill ('refill-file): the next line with
\ READ-LINE into the include's own line buffer of /incl-line characters
\ (a longer line goes on as the next one), its start in the file kept for
\ SAVE-INPUT.  The source before it is back when the file ends or a THROW
\ leaves it, and the error names the file and line, innermost first
\ ("in /lib/a.fth line 12").  Included names are kept (ALLOCATEd) for
\ REQUIRED, compared as FAT compares them, case ignored; the same file by
\ another path (with or without a leading '/') counts as another name.

256 constant /incl-line
variable incl-buf            \ the line buffer of the file being included
variable incl-line           \ its line number
2variable incl-start         \ where in the file that line began
variable incl-name           \ the name's record (included-names) of that file, 0: none
variable incl-next           \ the record INCLUDED hands to INCLUDE-FILE

: file-refill ( -- flag ) \ REFILL for a file source: its next line
  source-id file-position throw incl-start 2!
  incl-buf @ /incl-line source-id read-line throw
  0= if drop false exit then
  incl-buf @ swap source!  1 incl-line +!  true ;
' file-refill 'refill-file !

: .incl-where ( -- ) \ the file and line an error came from
  cr ." in " incl-name @ ?dup if dup 2 cells + swap cell+ @ type else ." a file" then
  ."  line " incl-line @ 0 u.r ;

: incl-run ( fid -- ) \ the file as the input source until its end
  source-id!  0 incl-line !  incl-buf @ 0 source!
  begin refill while interpret repeat ;

: include-file ( i*x fid -- j*x ) \ interpret the file from its position to its end
  /incl-line allocate throw                             ( fid buf )
  source 2>r  >in @ source-id 2>r  incl-buf @ incl-line @ 2>r
  incl-start 2@ 2>r  incl-name @ >r
  incl-next @ incl-name !  0 incl-next !
  incl-buf !  ['] incl-run catch                        ( j*x 0 | x n )
  dup if dup -1 <> if .incl-where then then
  incl-buf @ free drop
  r> incl-name !  2r> incl-start 2!  2r> incl-line ! incl-buf !
  2r> source-id!  2r> source!  >in !
  ?dup if nip throw then ;

: ( ( "ccc<paren>" -- ) \ a comment to the next ), on across lines of a file (11.6.1.0080)
  begin [char] ) parse + source + < 0= while            \ no ) on this line
    source-id dup 0= swap -1 = or if exit then
    refill 0= if exit then
  repeat ; immediate

variable included-names      \ the names INCLUDED took: link, length, then the characters
: name-find ( a u -- rec | 0 ) \ the record of that name, case ignored
  included-names begin @ dup while
    >r 2dup r@ 2 cells + r@ cell+ @ name= if 2drop r> exit then r>
  repeat nip nip ;
: name-rec ( a u -- rec ) \ its record, made if it is new
  2dup name-find ?dup if nip nip exit then
  dup 2 cells + allocate throw  included-names @ over !  dup included-names !
  >r dup r@ cell+ !  r@ 2 cells + swap move  r> ;

: included ( i*x a u -- j*x ) \ interpret the file the path names
  2dup r/o open-file throw >r                           ( a u ) ( R: fid )
  name-rec incl-next !
  r@ ['] include-file catch  r> close-file drop  throw ;

: include ( i*x "name" -- j*x ) parse-name included ;
: required ( i*x a u -- i*x ) \ included, unless it was already
  2dup name-find if 2drop exit then included ;
: require ( i*x "name" -- i*x ) parse-name required ;

\ SAVE-INPUT and RESTORE-INPUT, a file source's too: its line's place in
\ the file, >IN, and the line number.
: save-input ( -- x1 .. xn n )
  source-id dup 0= over -1 = or swap 1 = or if save-input exit then
  incl-start 2@ >in @ incl-line @ source-id 5 ;
: restore-input ( x1 .. xn n -- flag )
  dup 5 <> if restore-input exit then drop
  source-id <> if 2drop 2drop true exit then            ( d >in line )
  2swap source-id reposition-file if 2drop true exit then
  >r >r refill 0= if r> r> 2drop true exit then
  r> r> incl-line ! >in ! false ;
