\ Files: the Forth 2012 File-Access word set (11.6) over the FAT32 volume
\ of forth/files/60-fat.fth, and the shell's ls cat rm df.  Why here: programs
\ and people reach the disk through the standard words, and the shell
\ words are those words put to use.
\
\ A file id is the address of an ALLOCATEd file control block, linked
\ into open-files (so a stale or made-up id is an ior, not a fault).  The
\ block keeps the file's first cluster, size and position, and the last
\ cluster found with its index, so that reading or writing on is one FAT
\ look-up a cluster.  The directory entry (first cluster, size, time) is
\ written at FLUSH-FILE and CLOSE-FILE, and before clusters are freed.
\ Every call that changes a directory (CREATE-FILE DELETE-FILE
\ RENAME-FILE, and RESIZE-FILE when it frees) writes the cache back before
\ it returns; FLUSH-FILE and CLOSE-FILE then flush the disk (blk-flush).
\ Names: a path is /DIR/SUB/name.ext from the root ('/' first or not),
\ matched without regard to ASCII case against long and 8.3 names.
\ Limits: a file may not be opened twice for writing (nothing stops it:
\ the two blocks would not see each other's size); DELETE-FILE and
\ RENAME-FILE refuse an open file (ior-busy) and directories (ior-isdir;
\ a directory is renamed only in its own directory); names are ASCII.

\ The seed's file rows of make bench (harness/bench.py) measure these words:
\ bench: file_open (budget 7000 cycles; a path in /data, the cache cold)
\ bench: file_read (budget 5250 cycles; the next 4 KB, the cache cold)
\ bench: file_write (budget 7000 cycles; 4 KB appended)
\ bench: disk_flush (budget 280000 cycles; FLUSH-FILE after a 4 KB append, the drive's flush assumed)

: fcb-mode ( f -- a ) cell+ ;          \ r/o w/o r/w
: fcb-first ( f -- a ) 2 cells + ;     \ the first cluster, 0: none
: fcb-size ( f -- a ) 3 cells + ;
: fcb-pos ( f -- a ) 4 cells + ;
: fcb-cclus ( f -- a ) 5 cells + ;     \ the cluster found last
: fcb-cidx ( f -- a ) 6 cells + ;      \ its index in the chain, -1: none
: fcb-esec ( f -- a ) 7 cells + ;      \ where the directory entry is: sector
: fcb-eoff ( f -- a ) 8 cells + ;      \ and offset
: fcb-dirty ( f -- a ) 9 cells + ;     \ the entry needs writing
10 cells constant /fcb
variable open-files                    \ the open files, linked through their first cell

\ R/O W/O R/W BIN are forth/59-files.fth's (1 2 3, nothing translated).

: fid? ( x -- f ) \ is x the id of an open file
  open-files begin @ dup while 2dup = if 2drop true exit then repeat 2drop false ;
: fid-check ( fid mask -- ior ) \ 0 if fid is open with one of the mask's modes
  over fid? 0= if 2drop ior-fid exit then swap fcb-mode @ and 0= ior-access and ;
: busy? ( -- f ) \ is the entry found last open
  open-files begin @ dup while
    dup fcb-esec @ ent-sec @ = over fcb-eoff @ ent-off @ = and if drop true exit then
  repeat ;
: dent-check ( -- ior ) \ is the entry found a file the volume can hold: its cluster, and a size its clusters can have
  dent-clus ?dup if clus? 0= else dent-size 0<> then if ior-chain exit then
  dent-size fs-cb 1- + fs-cb / fs-nclus u> if ior-chain exit then 0 ;
: fcb-open ( fam -- fid ior ) \ a file control block for the entry found
  /fcb allocate ?dup if nip nip 0 swap exit then
  dup /fcb erase tuck fcb-mode !
  dent-clus over fcb-first ! dent-size over fcb-size ! -1 over fcb-cidx !
  ent-sec @ over fcb-esec ! ent-off @ over fcb-eoff !
  open-files @ over ! dup open-files ! 0 ;
: fcb-free ( f -- ) \ out of open-files, and freed
  open-files begin dup @ dup while
    2 pick = if over @ swap ! free drop exit then @
  repeat 2drop free drop ;
: fcb-len ( f -- n ) \ clusters in the file's chain
  fcb-size @ fs-cb 1- + fs-cb / ;
\ fcb-clus ( idx f -- clus ior ) the chain's cluster idx (0: the first), walked on from the one found last;
\ the file's last cluster by its size must end the chain (so a loop or a chain longer than the file is an ior)
: fcb-clus ( idx f -- clus ior )
  >r dup r@ fcb-cidx @ u< if r@ fcb-first @ 0 else r@ fcb-cclus @ r@ fcb-cidx @ then
  begin over clus? 0= if 2drop drop r> drop 0 ior-chain exit then
    dup 3 pick < while
    swap next-clus ?dup if nip nip nip r> drop 0 swap exit then swap 1+
  repeat
  r@ fcb-cidx ! dup r@ fcb-cclus ! nip
  r@ fcb-cidx @ 1+ r> fcb-len <> if 0 exit then
  dup next-clus ?dup if nip nip 0 swap exit then
  if drop 0 ior-chain else 0 then ;
\ fcb-wclus ( idx f -- clus ior ) the same for a write: one cluster more for the chain if it ends at idx
: fcb-wclus ( idx f -- clus ior )
  2dup fcb-len u< if fcb-clus exit then
  nip dup fcb-len ?dup if 1- over fcb-clus ?dup if nip nip 0 swap exit then else 0 then
  clus-new ?dup if nip nip 0 swap exit then
  over fcb-first @ 0= if 2dup swap fcb-first ! true 2 pick fcb-dirty ! then
  over fcb-len 2 pick fcb-cidx ! dup rot fcb-cclus ! 0 ;
: fcb-loc ( f w? -- sector off ior ) \ the sector the file's position is in, and the offset there (w?: for a write)
  >r dup fcb-pos @ fs-cb /mod rot r> if fcb-wclus else fcb-clus then
  ?dup if nip nip 0 0 rot exit then
  clus>sec over 9 rshift + swap 511 and 0 ;
: fcb-entry ( f -- ior ) \ the file's directory entry: first cluster, size, ATTR_ARCHIVE, the time
  dup fcb-dirty @ 0= if drop 0 exit then
  dup fcb-esec @ sec-get ?dup if nip nip exit then over fcb-eoff @ +
  over fcb-first @ over 26 + w!  over fcb-first @ 16 rshift over 20 + w!
  over fcb-size @ over 28 + l!  dup 11 + dup c@ $20 or swap c!  dup dent-stamp
  c-dir sec-dirty false swap fcb-dirty ! 0 ;

\ ---- reading and writing, a sector at a time through the cache ------------------
variable io-a      \ the caller's buffer, 0: zeros are written
variable io-n      \ bytes still to move
variable io-done   \ bytes moved
variable io-f      \ the file
: io-k ( -- k ) \ bytes to move in the sector the position is in
  512 io-f @ fcb-pos @ 511 and - io-n @ min ;
: io-adv ( k -- ) \ k bytes moved
  io-a @ if dup io-a +! then dup io-done +! dup negate io-n +! io-f @ fcb-pos +! ;
: fcb-read ( a u f -- u2 ior ) \ up to u bytes from the position, fewer at the end of the file
  io-f ! io-f @ fcb-size @ io-f @ fcb-pos @ - 0 max min io-n ! io-a ! 0 io-done !
  begin io-n @ while
    io-f @ 0 fcb-loc ?dup if nip nip io-done @ swap exit then
    swap sec-get ?dup if nip nip io-done @ swap exit then
    + io-a @ io-k dup >r move r> io-adv
  repeat io-done @ 0 ;
: fcb-write ( a u f -- ior ) \ u bytes from a (0: zeros) at the position, the chain grown with the file
  io-f ! io-n ! io-a ! 0 io-done !
  io-f @ fcb-pos @ io-n @ + $ffffffff u> if ior-big exit then
  begin io-n @ while
    io-f @ 1 fcb-loc ?dup if nip nip exit then swap
    io-k 512 = if sec-new else sec-get then ?dup if nip nip exit then
    + dup io-k io-a @ ?dup if -rot move else erase then
    c-data sec-dirty io-k io-adv
    io-f @ dup fcb-pos @ over fcb-size @ max over fcb-size ! true swap fcb-dirty !
  repeat 0 ;
: fcb-fill ( f -- ior ) \ zeros from the end of the file up to its position
  dup fcb-pos @ over fcb-size @ 2dup u> 0= if 2drop drop 0 exit then
  tuck - >r over fcb-pos ! 0 r> rot fcb-write ;
\ fcb-cut ( u f -- ior ) shrink the file to u bytes: the entry onto the disk first, then the clusters past u freed
: fcb-cut ( u f -- ior )
  >r dup fs-cb 1- + fs-cb /
  dup if dup 1- r@ fcb-clus ?dup if nip nip nip r> drop exit then else 0 then
  rot r@ fcb-size ! -1 r@ fcb-cidx ! true r@ fcb-dirty !
  r@ fcb-first @ swap rot 0= if 0 r@ fcb-first ! then
  r@ fcb-entry ?dup if nip nip r> drop exit then
  fat-sync ?dup if nip nip r> drop exit then
  ?dup if
    nip dup next-clus ?dup if nip nip r> drop exit then
    ?dup 0= if drop r> drop 0 exit then
    eoc rot fat! ?dup if nip r> drop exit then
    fat-sync ?dup if nip r> drop exit then
  else ?dup 0= if r> drop 0 exit then then
  r> drop chain-free ?dup if exit then fat-sync ;

\ ---- the File-Access words (Forth 2012 11.6.1) ------------------------------------
: open-file ( a u fam -- fid ior ) \ open the file the path names
  >r path-find ?dup if r> drop 0 swap exit then
  path-last @ 0= dent-dir? or if r> drop 0 ior-isdir exit then
  r@ 2 and dent-attr 1 and and if r> drop 0 ior-rofile exit then
  dent-check ?dup if r> drop 0 swap exit then
  r> fcb-open ;
: create-file ( a u fam -- fid ior ) \ a new empty file at the path, or the one there emptied
  >r path-walk ?dup if r> drop 0 swap exit then
  path-last 2@ lfn-ok? 0= if r> drop 0 ior-name exit then
  path-last 2@ par-clus @ dir-find dup ior-nofile = if drop
    $20 new-dent-init path-last 2@ par-clus @ dir-add ?dup if r> drop 0 swap exit then
    fat-sync ?dup if r> drop 0 swap exit then r> fcb-open exit then
  ?dup if r> drop 0 swap exit then
  dent-dir? if r> drop 0 ior-isdir exit then
  dent-attr 1 and if r> drop 0 ior-rofile exit then
  busy? if r> drop 0 ior-busy exit then
  dent-check ?dup if r> drop 0 swap exit then
  r> fcb-open ?dup if exit then
  0 over fcb-cut ?dup if swap fcb-free 0 swap exit then 0 ;
: read-file ( a u1 fid -- u2 ior ) \ up to u1 bytes into a; u2 = 0 at the end of the file
  dup 1 fid-check ?dup if nip nip nip 0 swap exit then fcb-read ;
: write-file ( a u fid -- ior ) \ u bytes from a at the file's position (past the end: zeros up to it first)
  dup 2 fid-check ?dup if nip nip nip exit then
  dup fcb-fill ?dup if nip nip nip exit then fcb-write ;
create nl-char 10 c,
: write-line ( a u fid -- ior ) \ the text and LF
  dup >r write-file ?dup if r> drop exit then nl-char 1 r> write-file ;
: lf-at ( a n -- i | -1 ) \ where the first LF is
  0 ?do dup i + c@ 10 = if drop i unloop exit then loop drop -1 ;
variable rl-pos  variable rl-u
\ read-line ( a u1 fid -- u2 flag ior ) a line into a: LF or CR LF ends it (not kept); flag false at the end of the file;
\ u2 = u1: the line goes on (Forth 2012 11.6.1.2090), so a line of exactly u1 characters leaves its LF for the next call
: read-line ( a u1 fid -- u2 flag ior )
  dup 1 fid-check ?dup if nip nip nip 0 false rot exit then
  >r dup rl-u ! r@ fcb-pos @ rl-pos !
  over swap 1+ r@ fcb-read ?dup if nip nip r> drop 0 false rot exit then
  dup 0= if 2drop r> drop 0 false 0 exit then
  2dup lf-at dup 0< if drop nip rl-u @ min dup else
    nip tuck 1+ >r over if 2dup + 1- c@ 13 = if swap 1- swap then then drop r>
    over rl-u @ < 0= if 2drop rl-u @ dup then
  then rl-pos @ + r> fcb-pos ! true 0 ;
: reposition-file ( ud fid -- ior ) \ the position is ud (past the end is allowed: a write fills the gap with zeros)
  dup 3 fid-check ?dup if nip nip nip exit then
  >r over $ffffffff u> or if drop r> drop ior-big exit then r> fcb-pos ! 0 ;
: file-position ( fid -- ud ior )
  dup 3 fid-check ?dup if nip 0 0 rot exit then fcb-pos @ 0 0 ;
: file-size ( fid -- ud ior )
  dup 3 fid-check ?dup if nip 0 0 rot exit then fcb-size @ 0 0 ;
variable rs-pos
: resize-file ( ud fid -- ior ) \ the file is ud bytes long: zeros added, or clusters freed
  dup 2 fid-check ?dup if nip nip nip exit then
  >r over $ffffffff u> or if drop r> drop ior-big exit then
  r@ fcb-size @ over u< if
    r@ fcb-pos @ rs-pos ! r@ fcb-pos ! r@ fcb-fill rs-pos @ r> fcb-pos ! exit then
  r@ fcb-size @ over u> if r> fcb-cut exit then drop r> drop 0 ;
: flush-file ( fid -- ior ) \ the file's entry and everything the cache holds onto the disk, then blk-flush
  dup 3 fid-check ?dup if nip exit then
  fcb-entry ?dup if exit then fat-sync ?dup if exit then blk-flush ;
: close-file ( fid -- ior ) \ flush it and free its id
  dup 3 fid-check ?dup if nip exit then dup flush-file swap fcb-free ;
: file-status ( a u -- x ior ) \ x: the entry's attribute byte (DIR_Attr: 1 read-only, 16 directory, 32 archive)
  path-find ?dup if 0 swap exit then dent-attr 0 ;
: delete-file ( a u -- ior ) \ the entry off the disk first, then its clusters freed
  path-find ?dup if exit then path-last @ 0= if ior-name exit then
  dent-dir? if ior-isdir exit then dent-attr 1 and if ior-rofile exit then
  busy? if ior-busy exit then
  dent-clus >r dent-kill ?dup if r> drop exit then fat-sync ?dup if r> drop exit then
  r> ?dup if chain-free ?dup if exit then then fat-sync ;
create old-first /it allot   \ where the entry renamed starts
variable old-slots
variable old-par
variable old-sec             \ the sector its 8.3 slot is in
\ in-place? ( -- f ) can the renamed entry take the old one's slots: the same directory, no more slots, all in one sector
: in-place? ( -- f )
  par-clus @ old-par @ = new-lfns @ old-slots @ < and 0= if false exit then
  old-first dir-it /it move it-where drop old-sec @ = ;
\ rename-file ( a1 u1 a2 u2 -- ior ) the file at path a1 u1 is at a2 u2.  In its own directory, when the new
\ name needs no more slots than the old one has and they are in one sector, the new entry overwrites the old
\ one's slots (the first ones left over marked deleted): one sector written, so a crash leaves the old name or
\ the new one, never both and never neither.  Else the new entry is written, then the old one deleted: a
\ crash between leaves both names on one chain (fsck.fat: "share clusters"), never neither.
: rename-file ( a1 u1 a2 u2 -- ior )
  2swap path-find ?dup if nip nip exit then
  path-last @ 0= if 2drop ior-name exit then busy? if 2drop ior-busy exit then
  dent new-dent 32 move ent-first old-first /it move ent-slots @ old-slots ! par-clus @ old-par !
  ent-sec @ old-sec !
  path-walk ?dup if exit then
  path-last 2@ lfn-ok? 0= if ior-name exit then
  new-dent 11 + c@ $10 and par-clus @ old-par @ <> and if ior-isdir exit then
  path-last 2@ par-clus @ dir-find dup ior-nofile <> if dup 0= if drop ior-exists then exit then drop
  path-last 2@ par-clus @ dir-name ?dup if exit then
  in-place? if
    old-slots @ new-lfns @ 1+ - 0 ?do
      it-entry ?dup if nip unloop exit then $e5 over c! c-dir sec-dirty it-step ?dup if unloop exit then
    loop dir-it run-at /it move dir-put ?dup if exit then fat-sync exit then
  new-lfns @ 1+ par-clus @ dir-room ?dup if exit then dir-put ?dup if exit then fat-sync ?dup if exit then
  old-first ent-first /it move old-slots @ ent-slots ! dent-kill ?dup if exit then fat-sync ;
\ unmount ( -- ior ) every open file closed, everything onto the disk, the disk flushed
: unmount ( -- ior )
  begin open-files @ ?dup while close-file drop repeat
  fs-ok 0= if 0 exit then fat-sync false to fs-ok ?dup if exit then blk-flush ;

\ sync ( -- ior ) everything the cache holds for the disk onto it, in class order, and the disk flushed
: sync ( -- ior ) fs-ok 0= if 0 exit then fat-sync ?dup if exit then blk-flush ;
\ drop-cache ( -- ior ) sync, then the cache forgets every sector: the next reads come from the disk
: drop-cache ( -- ior ) sync ?dup if exit then fs-ok if 0 blk-size cache-drop then 0 ;

\ ---- the shell -------------------------------------------------------------------
: fs-error-text ( ior -- a u )
  case
    ior-fid of s" not an open file" endof
    ior-nofile of s" no such file or directory" endof
    ior-notfat of s" not a FAT32 volume" endof
    ior-secsize of s" sector size not 512" endof
    ior-bpb of s" bad BPB" endof
    ior-chain of s" damaged cluster chain" endof
    ior-full of s" disk full" endof
    ior-dirfull of s" directory full" endof
    ior-name of s" bad name" endof
    ior-exists of s" file exists" endof
    ior-notdir of s" not a directory" endof
    ior-isdir of s" is a directory" endof
    ior-access of s" not open for that" endof
    ior-rofile of s" read-only file" endof
    ior-big of s" file too large" endof
    ior-busy of s" file is open" endof
    -270 of s" no disk" endof
    -271 of s" sector out of range" endof
    -272 of s" disk error" endof
    -273 of s" the disk is read-only" endof
    -59 of s" out of memory" endof
    -294 of s" directory not empty" endof
    >r s" i/o error" r>
  endcase ;
: .fs-error ( ior -- ) \ the ior and its text, and why the volume did not mount if it did not
  ." error " dup . fs-error-text type
  fs-ok 0= fs-why @ 0<> and if ." : " fs-why 2@ type space fs-why-n @ . then ;
: .dent ( -- ) \ a line of ls: the size or <dir>, and the name
  dent-dir? if ."      <dir>" else dent-size 10 u.r then 2 spaces
  dent-name type dent-dir? if [char] / emit then cr ;
: ls ( "path" -- ) \ the files of a directory (the root without a path), or the file the path names
  parse-name path-find cr ?dup if .fs-error exit then
  dent-dir? 0= if .dent exit then
  dent-clus it-start ?dup if .fs-error exit then
  begin dir-next ?dup if .fs-error drop exit then while
    dent-attr 8 and 0= dent c@ [char] . <> and if .dent then
  repeat ;
: type-text ( a u -- ) \ as lines: LF a new line, CR dropped
  bounds ?do i c@ dup 10 = if drop cr else dup 13 = if drop else emit then then loop ;
create cat-buf 512 allot
: cat-loop ( fid -- fid ) \ the file's text, a sector at a time
  begin dup cat-buf 512 rot read-file ?dup if cr .fs-error drop 0 then ?dup while
    cat-buf swap type-text repeat ;
: cat ( "path" -- ) \ the file's text on the console
  parse-name r/o open-file cr ?dup if .fs-error drop exit then
  dup >r ['] cat-loop catch nip r> close-file drop throw ;
: rm ( "path" -- ) \ delete the file
  parse-name delete-file ?dup if cr .fs-error then ;
: df ( -- ) \ the volume's size, its clusters, and what is free
  ?mount ?dup if cr .fs-error exit then
  free-count cr ?dup if .fs-error drop exit then
  fs-nclus fs-spc * 2/ u. ." KiB in " fs-nclus u. ." clusters of " fs-cb u. ." bytes, "
  dup u. ." free (" fs-spc * 2/ u. ." KiB)" ;
