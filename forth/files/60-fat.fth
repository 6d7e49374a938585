\ FAT32 with long file names, the disk's file system: the volume (sector
\ cache, FAT, mount, directories, names).  forth/files/61-files.fth puts the
\ Forth 2012 File-Access words and the shell's ls cat rm df on top.
\
\ Why FAT32: every host reads and writes it, so a disk is made, filled and
\ checked on the host with mkfs.fat, mtools and fsck.fat (DESIGN.md,
\ "Storage").  Why Forth: it is all bookkeeping over sectors, none of it
\ hot; the block device underneath (kernel/forth/blk.S) is four words,
\ blk-read ( addr sector n -- ior ) blk-write ( addr sector n -- ior )
\ blk-flush ( -- ior ) blk-size ( -- sectors ), 512-byte sectors.  The same
\ source runs under gforth over an image file (tests/fat_host.fth) and is
\ tested there against mkfs.fat, mtools and fsck.fat (tests/test_fat.py).
\
\ The on-disk facts are Microsoft's "FAT32 File System Specification",
\ version 1.03 (fatgen103.doc, 2000), cited as fatgen103 and a section
\ name.
\
\ Errors are iors, never a THROW out of the file system: the block
\ device's own (-270 no disk, -271 a sector out of range, -272 disk error,
\ -273 read-only) and ALLOCATE's -59 pass through; the file system's are
\ the constants below (Forth 2012's -37 and -38, and -280 on).  A damaged
\ volume gives ior-bpb or ior-chain: every BPB field is checked at mount,
\ every FAT entry a walk follows is a cluster of the volume or the end
\ mark, and every walk is bounded (a file's by its size, checked against
\ the cluster count at open; a directory's by its 65,536 entries; a scan
\ of the FAT by the cluster count), so a loop in a chain is an ior too.
\
\ Write ordering, so that a crash at any moment leaves a volume fsck.fat
\ can mend without losing another file's data: the cache writes a dirty
\ sector back only after every dirty sector of a lower class (sync-below:
\ c-data, c-fat, c-dir, c-dir2, c-info): a file's data reaches the disk
\ before the FAT entries that chain it, they before the directory entry
\ that points at the chain, and the FSInfo hint last.  Within the FAT, a
\ new cluster's end mark is on the disk before the entry that links it
\ (clus-new).  A new entry's 8.3 slot (c-dir) goes before its long-name
\ slots (c-dir2), and a deleted entry's long-name slots before its 8.3
\ slot, so a crash leaves a short name without its long one, never a long
\ name without its file.  A directory's new cluster is zeroed on the disk
\ at once, before the FAT links it.  Clusters are freed (truncate, delete)
\ only after the directory entry no longer points at them is on the disk
\ (61-files.fth).  So a crash leaves lost clusters, a file shorter than
\ its chain, or a stale FSInfo count; never a chain through a free
\ cluster or in two files (RENAME-FILE is the exception when it moves a file
\ to another directory or to a name that needs more slots: it writes the new
\ entry before it deletes the old one, so a crash between leaves both; in its
\ own directory it overwrites the old entry's slots in one sector write,
\ 61-files.fth).  tests/test_crash.py kills QEMU at sector writes to see it.
\ Both FAT copies are written alike; with mirroring off (BPB_ExtFlags bit
\ 7) only the active one is read and written.
\
\ One volume, and one thread at a time: the words share their state.

\ ---- iors -------------------------------------------------------------------
-37 constant ior-fid       \ not the id of an open file (Forth 2012: file I/O exception)
-38 constant ior-nofile    \ no such file or directory (Forth 2012: non-existent file)
-280 constant ior-notfat   \ not a FAT32 volume: no boot signature, or a FAT12/16 BPB
-281 constant ior-secsize  \ BPB_BytsPerSec is not 512
-282 constant ior-bpb      \ a BPB field out of range
-283 constant ior-chain    \ a cluster chain leaves the volume, meets a free or bad cluster, loops or ends early
-284 constant ior-full     \ no free cluster
-285 constant ior-dirfull  \ the directory has its 65,536 entries, or no short name is left
-286 constant ior-name     \ a name FAT cannot hold, or the root where a file is meant
-287 constant ior-exists   \ the new name is taken
-288 constant ior-notdir   \ a path goes through a file
-289 constant ior-isdir    \ a directory where a file is meant
-290 constant ior-access   \ the file is not open for that (R/O W/O)
-291 constant ior-rofile   \ the file is read-only (ATTR_READ_ONLY)
-292 constant ior-big      \ past 4 GiB - 1, FAT32's largest file
-293 constant ior-busy     \ the file is open

\ ---- the volume, as mount found it ---------------------------------------------
0 value fs-ok          \ true when mounted
0 value fs-spc         \ sectors per cluster (BPB_SecPerClus)
0 value fs-cb          \ bytes per cluster
0 value fs-rsvd        \ reserved sectors before the first FAT (BPB_RsvdSecCnt)
0 value fs-nfats       \ FAT copies (BPB_NumFATs)
0 value fs-fatsz       \ sectors per FAT (BPB_FATSz32)
0 value fs-data        \ the first sector of cluster 2
0 value fs-nclus       \ data clusters: 2 .. fs-nclus+1
0 value fs-root        \ the root directory's first cluster (BPB_RootClus)
0 value fs-mirror      \ every FAT written (BPB_ExtFlags bit 7 clear)
0 value fs-active      \ the FAT read (0 with mirroring)
0 value fs-info        \ the FSInfo sector, 0: none usable
-1 value fs-free       \ free clusters (FSI_Free_Count), -1: not known
2 value fs-next        \ where to look for one (FSI_Nxt_Free)
0 value fs-infodirty   \ FSInfo needs writing
0 value fat-time       \ written into directory entries (no clock yet: set with TO)
$5a21 value fat-date   \ 2025-01-01: (year-1980) << 9 | month << 5 | day (fatgen103 "Date and Time Formats")

\ ---- the sector cache ----------------------------------------------------------
\ #slots sectors, least recently used out, write-back in class order.
8 constant #slots
create slot-sec #slots cells allot   \ the sector a slot holds, -1: none
create slot-cls #slots cells allot   \ 0 clean, else the class of its dirt (c-data .. c-info)
create slot-use #slots cells allot   \ when it was last used
variable slot-clock
0 value cache                        \ #slots sectors and one of zeros, ALLOCATEd at the first mount
1 constant c-data  2 constant c-fat  3 constant c-dir  4 constant c-dir2  5 constant c-info
: >sec ( i -- a ) cells slot-sec + ;
: >cls ( i -- a ) cells slot-cls + ;
: >use ( i -- a ) cells slot-use + ;
: slot-buf ( i -- a ) 9 lshift cache + ;
: zero-sec ( -- a ) #slots slot-buf ;   \ 512 zero bytes
: slot-put ( i -- ior ) \ write slot i back if dirty
  dup >cls @ 0= if drop 0 exit then
  dup slot-buf over >sec @ 1 blk-write ?dup if nip exit then 0 swap >cls ! 0 ;
: sync-below ( c -- ior ) \ write back every dirty slot of a class below c, lower classes first
  1 ?do #slots 0 do i >cls @ j = if i slot-put ?dup if unloop unloop exit then then loop loop 0 ;
: cache-sync ( -- ior ) \ write back every dirty slot, in class order
  c-info 1+ sync-below ;
: slot-evict ( i -- ior ) \ write slot i back, after every lower class
  dup >cls @ ?dup if sync-below ?dup if nip exit then then slot-put ;
: slot-find ( sector -- i | -1 )
  #slots 0 do dup i >sec @ = if drop i unloop exit then loop drop -1 ;
: slot-touch ( i -- ) 1 slot-clock +! slot-clock @ swap >use ! ;
: slot-victim ( -- i ) \ an empty slot, else the least recently used
  0 #slots 1 do i >use @ over >use @ u< if drop i then loop ;
: sec-hit ( sector -- a true | sector false ) \ the sector if the cache has it
  dup slot-find dup 0< if drop false exit then nip dup slot-touch slot-buf true ;
: slot-claim ( sector -- i ior ) \ a slot for the sector, what it held written back
  slot-victim dup slot-evict ?dup if nip nip 0 swap exit then
  dup slot-touch tuck >sec ! 0 ;
: sec-get ( sector -- a ior ) \ the sector, read through the cache; a is good until the next sec-get
  sec-hit if 0 exit then
  dup slot-claim ?dup if nip nip 0 swap exit then
  dup slot-buf rot 1 blk-read ?dup if swap -1 swap >sec ! 0 swap exit then slot-buf 0 ;
: sec-new ( sector -- a ior ) \ the same, not read: the caller writes all 512 bytes
  sec-hit if 0 exit then slot-claim ?dup if nip 0 swap exit then slot-buf 0 ;
: sec-dirty ( a c -- ) \ the slot that a is in now needs writing back, in class c (or a higher one it had)
  swap cache - 9 rshift >cls dup @ rot max swap ! ;
: cache-drop ( sector n -- ) \ forget what the cache holds of n sectors from sector on
  over + #slots 0 do 2dup i >sec @ -rot within if -1 i >sec ! 0 i >cls ! 0 i >use ! then loop 2drop ;
: cache-init ( -- ior ) \ the cache's memory, once, and every slot empty
  cache 0= if #slots 1+ 9 lshift allocate ?dup if nip exit then to cache then
  zero-sec 512 erase  #slots 0 do -1 i >sec ! 0 i >cls ! 0 i >use ! loop 0 ;

\ ---- clusters and the FAT (fatgen103 "FAT Data Structure") ---------------------
$0ffffff8 constant eoc-min   \ an entry this or above ends a chain
$0fffffff constant eoc       \ the end mark written
: clus? ( x -- f ) 2 fs-nclus 2 + within ;   \ a data cluster of the volume
: clus>sec ( clus -- sector ) 2 - fs-spc * fs-data + ;
: fat-loc ( clus copy -- off sector ) \ where a cluster's entry is in FAT copy: 4 bytes each
  fs-fatsz * fs-rsvd + over 7 rshift + swap 127 and 2 lshift swap ;
: fat@ ( clus -- x ior ) \ a FAT entry, its reserved top 4 bits dropped
  fs-active fat-loc sec-get ?dup if nip nip 0 swap exit then + l@ $0fffffff and 0 ;
: fat-put ( x clus copy -- ior ) \ the entry in one copy, the top 4 bits kept (fatgen103: reserved)
  fat-loc sec-get ?dup if nip nip nip exit then
  + tuck l@ $f0000000 and or over l! c-fat sec-dirty 0 ;
: fat! ( x clus -- ior ) \ the entry in every FAT (the active one if mirroring is off)
  fs-mirror 0= if fs-active fat-put exit then
  fs-nfats 0 do 2dup i fat-put ?dup if nip nip unloop exit then loop 2drop 0 ;
: next-clus ( clus -- clus' ior ) \ the next cluster of a chain, 0 at its end; ior-chain for any other entry
  fat@ ?dup if exit then dup eoc-min u< 0= if drop 0 0 exit then
  dup clus? if 0 exit then drop 0 ior-chain ;
: find-free ( -- clus ior ) \ a free cluster, looked for from the FSInfo hint on, once round
  fs-next dup clus? 0= if drop 2 then
  fs-nclus 0 ?do
    dup fat@ ?dup if nip nip unloop 0 swap exit then
    0= if unloop 0 exit then 1+ dup clus? 0= if drop 2 then
  loop drop 0 ior-full ;
: fat-sec ( clus -- sector ) 0 fat-loc nip ;
\ clus-new ( prev -- clus ior ) a free cluster marked the end of a chain, and linked after prev (0: none);
\ the mark is on the disk before the link when they are in different FAT sectors
: clus-new ( prev -- clus ior )
  find-free ?dup if nip nip 0 swap exit then
  eoc over fat! ?dup if nip nip 0 swap exit then
  over ?dup if fat-sec over fat-sec <> if c-dir sync-below ?dup if nip nip 0 swap exit then then then
  swap ?dup if over swap fat! ?dup if nip 0 swap exit then then
  dup 1+ dup clus? 0= if drop 2 then to fs-next
  fs-free 0> if fs-free 1- to fs-free then true to fs-infodirty 0 ;
: chain-free ( clus -- ior ) \ free a chain: at most the cluster count of entries
  fs-nclus 0 ?do
    dup clus? 0= if drop unloop ior-chain exit then
    dup next-clus ?dup if nip nip unloop exit then
    0 rot fat! ?dup if nip unloop exit then
    fs-free 0< 0= if fs-free 1+ to fs-free then true to fs-infodirty
    ?dup 0= if unloop 0 exit then
  loop drop ior-chain ;
: clus-zero ( clus -- ior ) \ zeros over the cluster on the disk now (a directory's, before the FAT links it)
  clus>sec dup fs-spc cache-drop
  fs-spc 0 ?do zero-sec over i + 1 blk-write ?dup if nip unloop exit then loop drop 0 ;
: info-put ( -- ior ) \ FSInfo's free count and next free into the cache (fatgen103 "FAT32 FSInfo Sector Structure")
  fs-infodirty 0= fs-info 0= or if 0 exit then
  fs-info sec-get ?dup if nip exit then
  fs-free over 488 + l! fs-next over 492 + l! c-info sec-dirty
  false to fs-infodirty 0 ;
: fat-sync ( -- ior ) \ everything the cache holds for the disk onto it, in class order
  info-put ?dup if exit then cache-sync ;

\ ---- mount (fatgen103 "Boot Sector and BPB Structure") --------------------------
2variable fs-why       \ why the last mount failed
variable fs-why-n      \ and the value it did not take
0 value bpb            \ sector 0 in the cache, while mount reads it
: bpb-c ( off -- c ) bpb + c@ ;
: bpb-w ( off -- u ) bpb + w@ ;
: bpb-l ( off -- u ) bpb + l@ ;
: fail ( n ior a u -- ior ) \ mount gives up: why, and the value
  fs-why 2! swap fs-why-n ! ;
: info-read ( -- ) \ FSInfo's counts if its three signatures are there (else it is neither read nor written)
  -1 to fs-free 2 to fs-next false to fs-infodirty
  fs-info dup 1 fs-rsvd within 0= if drop 0 to fs-info exit then
  sec-get if drop 0 to fs-info exit then
  dup l@ $41615252 = over 484 + l@ $61417272 = and over 508 + l@ $aa550000 = and
  0= if drop 0 to fs-info exit then
  dup 488 + l@ dup fs-nclus u> if drop -1 then to fs-free
  492 + l@ dup clus? if to fs-next else drop then ;
\ mount ( -- ior ) read and check the BPB and FSInfo; fs-why says what was wrong
: mount ( -- ior )
  fs-ok if fat-sync drop then false to fs-ok 0 0 fs-why 2! 0 fs-why-n !
  cache-init ?dup if exit then
  0 sec-get ?dup if nip 0 swap s" cannot read the boot sector" fail exit then to bpb
  510 bpb-w dup $aa55 <> if ior-notfat s" no boot signature (55 AA at byte 510):" fail exit then drop
  11 bpb-w dup 512 <> if ior-secsize s" bytes per sector is not 512 (the only size supported):" fail exit then drop
  13 bpb-c dup dup 1- and over 0= or if ior-bpb s" sectors per cluster is not a power of two:" fail exit then
  dup to fs-spc 9 lshift to fs-cb
  14 bpb-w dup 0= if ior-bpb s" no reserved sectors:" fail exit then to fs-rsvd
  16 bpb-c dup 1 3 within 0= if ior-bpb s" number of FATs is not 1 or 2:" fail exit then to fs-nfats
  17 bpb-w 22 bpb-w or dup if ior-notfat s" a FAT12/16 BPB (BPB_RootEntCnt or BPB_FATSz16 set):" fail exit then drop
  36 bpb-l dup 0= if ior-notfat s" BPB_FATSz32 is 0:" fail exit then to fs-fatsz
  42 bpb-w ?dup if ior-bpb s" unknown FAT32 version (BPB_FSVer):" fail exit then
  19 bpb-w ?dup 0= if 32 bpb-l then
  dup blk-size u> if ior-bpb s" the volume is larger than the disk, sectors:" fail exit then
  fs-rsvd fs-nfats fs-fatsz * + dup to fs-data
  2dup u> 0= if drop ior-bpb s" no room for data after the FATs, sectors:" fail exit then
  - fs-spc / dup to fs-nclus
  dup 0= over $0ffffff5 u> or if ior-bpb s" cluster count out of range:" fail exit then
  2 + fs-fatsz 128 * u> if fs-fatsz ior-bpb s" the FAT is too small for the clusters, sectors:" fail exit then
  44 bpb-l dup clus? 0= if ior-bpb s" root cluster out of range:" fail exit then to fs-root
  40 bpb-w dup $80 and 0= to fs-mirror $0f and
  dup fs-nfats < 0= if ior-bpb s" active FAT (BPB_ExtFlags) out of range:" fail exit then
  fs-mirror if drop 0 then to fs-active
  48 bpb-w to fs-info info-read  true to fs-ok 0 ;
: ?mount ( -- ior ) \ mount unless mounted
  fs-ok if 0 else mount then ;
: free-count ( -- n ior ) \ free clusters: FSInfo's count, else counted in the FAT
  ?mount ?dup if 0 swap exit then fs-free 0< 0= if fs-free 0 exit then
  0 fs-nclus 2 + 2 ?do i fat@ ?dup if nip unloop exit then 0= - loop dup to fs-free 0 ;

\ ---- directories (fatgen103 "FAT Directory Structure") --------------------------
\ A directory is read through one iterator: its cluster (0 past the end),
\ the clusters passed, the sector in the cluster, the byte in the sector,
\ the cluster before (to grow the directory from), and a mark for finding
\ a loop in the chain (Brent's: the cluster at each power of two passed;
\ meeting it again is a loop).
7 cells constant /it
create dir-it /it allot
: it-clus ( -- a ) dir-it ;
: it-n ( -- a ) dir-it cell+ ;
: it-sec ( -- a ) dir-it 2 cells + ;
: it-off ( -- a ) dir-it 3 cells + ;
: it-last ( -- a ) dir-it 4 cells + ;
: it-mark ( -- a ) dir-it 5 cells + ;
$200000 constant dir-max   \ 65,536 entries of 32 bytes at most in a directory
: dir-clus ( clus -- clus' ) ?dup 0= if fs-root then ;   \ cluster 0 in ".." means the root
: it-start ( clus -- ior ) \ iterate the directory whose first cluster is clus
  dir-clus dup clus? 0= if drop ior-chain exit then
  dir-it /it erase dup it-clus ! it-mark ! 0 ;
: it-where ( -- sector off ) it-clus @ clus>sec it-sec @ + it-off @ ;
: it-entry ( -- a ior ) \ the entry the iterator is at, in the cache
  it-where swap sec-get ?dup if nip nip 0 swap exit then + 0 ;
: it-step ( -- ior ) \ on to the next entry; it-clus 0 past the last cluster
  32 it-off +! it-off @ 512 < if 0 exit then 0 it-off !
  1 it-sec +! it-sec @ fs-spc < if 0 exit then 0 it-sec !
  it-clus @ dup it-last ! next-clus ?dup if nip exit then
  dup it-clus ! ?dup 0= if 0 exit then
  1 it-n +! it-n @ 1+ fs-cb * dir-max u> if drop ior-chain exit then
  dup it-mark @ = if drop ior-chain exit then
  it-n @ dup 1- and 0= if it-mark ! else drop then 0 ;

create dent 32 allot        \ the entry dir-next found, copied out of the cache
create lfn 256 allot        \ its long name, in ASCII
variable lfn-len            \ 0: none
variable lfn-ord            \ the long-name slot expected next (0: none)
variable lfn-sum            \ the set's checksum
variable lfn-end            \ its length so far
create ent-first /it allot  \ the iterator at the entry's first slot (a long-name slot or itself)
variable ent-slots          \ slots it takes: its long-name slots and itself
variable ent-sec  variable ent-off   \ where the entry itself is
create lfn-offs 1 c, 3 c, 5 c, 7 c, 9 c, 14 c, 16 c, 18 c, 20 c, 22 c, 24 c, 28 c, 30 c,  \ LDIR_Name1..3: 13 UCS-2 characters

\ sfn-sum ( a -- c ) the checksum of the 11-byte name at a (fatgen103 "FAT Long Directory Entries", ChkSum)
: sfn-sum ( a -- c ) 0 swap 11 bounds do dup 1 and 7 lshift swap 1 rshift + i c@ + 255 and loop ;
: lfn-chars ( a -- ) \ a long-name slot's 13 characters into lfn: UCS-2 below 0x80 as ASCII, above as '?'
  lfn-ord @ 1- 13 *
  13 0 do over i lfn-offs + c@ + w@
    dup 0= if drop dup i + lfn-end @ min lfn-end ! else
      dup $7f u> if drop [char] ? then over i + dup 255 < if lfn + c! else 2drop then then
  loop 2drop ;
: lfn-take ( a -- ) \ a long-name slot: it starts a set (LAST_LONG_ENTRY 0x40 in LDIR_Ord) or is the next of one
  dup c@ dup $40 and if
    $3f and dup 1 21 within 0= if 2drop 0 lfn-ord ! exit then
    dup 1+ ent-slots ! dup 13 * lfn-end ! lfn-ord ! dup 13 + c@ lfn-sum !
    dir-it ent-first /it move
  else
    lfn-ord @ 1- over = over 0<> and 2 pick 13 + c@ lfn-sum @ = and
    0= if 2drop 0 lfn-ord ! exit then lfn-ord !
  then lfn-chars ;
: lfn-done ( a -- ) \ the entry after a set: the long name is its if the set ended at slot 1 with its checksum
  lfn-ord @ 1 = if sfn-sum lfn-sum @ = lfn-end @ 0<> and if lfn-end @ 255 min lfn-len ! exit then else drop then
  0 lfn-len ! 1 ent-slots ! dir-it ent-first /it move ;
\ dir-next ( -- f ior ) the next file, directory or label of the directory iterated into dent; false at its end
: dir-next ( -- f ior )
  0 lfn-ord !
  begin it-clus @ while
    it-entry ?dup if nip false swap exit then
    dup c@ 0= if drop 0 it-clus ! false 0 exit then
    dup c@ $e5 = if drop 0 lfn-ord ! else
    dup 11 + c@ $3f and $0f = if lfn-take else
      dup lfn-done dent 32 move it-where ent-off ! ent-sec ! 0 lfn-ord !
      it-step ?dup if false swap exit then true 0 exit
    then then
    it-step ?dup if false swap exit then
  repeat false 0 ;

\ ---- names ----------------------------------------------------------------------
: fat-upc ( c -- c' ) dup [char] a [char] z 1+ within if 32 - then ;
: fat-lower ( c -- c' ) dup [char] A [char] Z 1+ within if 32 + then ;
: name= ( a1 u1 a2 u2 -- f ) \ equal, ASCII case ignored (as FAT matches names)
  rot over <> if drop 2drop false exit then
  0 ?do over i + c@ fat-upc over i + c@ fat-upc <> if 2drop false unloop exit then loop 2drop true ;
create sfn-text-buf 12 allot
variable sfn-n
: sfn-c ( c -- ) sfn-text-buf sfn-n @ + c! 1 sfn-n +! ;
: sfn-app ( a u lower? -- ) \ a part of an 8.3 name onto sfn-text-buf (OEM bytes above 0x7F as '?')
  -rot bounds ?do i c@ dup $7f u> if drop [char] ? then over if fat-lower then sfn-c loop drop ;
\ sfn-text ( a ntres -- a' u ) the 11-byte name at a as NAME.EXT (DIR_NTRes bits 3, 4: that part in lower case)
: sfn-text ( a ntres -- a' u )
  0 sfn-n ! >r dup 8 -trailing r@ 8 and sfn-app
  8 + 3 -trailing dup if [char] . sfn-c then r> 16 and sfn-app
  sfn-text-buf sfn-n @ ;
: dent-attr ( -- c ) dent 11 + c@ ;
: dent-dir? ( -- f ) dent-attr $10 and 0<> ;
: dent-clus ( -- clus ) dent 20 + w@ 16 lshift dent 26 + w@ or ;
: dent-size ( -- u ) dent 28 + l@ ;
: dent-name ( -- a u ) \ the long name if it has one, else the 8.3 name
  lfn-len @ ?dup if lfn swap exit then dent dent 12 + c@ sfn-text ;
: dent-match? ( a u -- f ) \ is it the entry's long or 8.3 name (a volume label is no file)
  dent-attr 8 and if 2drop false exit then
  lfn-len @ if 2dup lfn lfn-len @ name= if 2drop true exit then then
  dent dent 12 + c@ sfn-text name= ;
\ dir-find ( a u clus -- ior ) the entry named a u in the directory at clus into dent, ior-nofile if none
: dir-find ( a u clus -- ior )
  it-start ?dup if nip nip exit then
  begin dir-next ?dup if nip nip nip exit then while
    2dup dent-match? if 2drop 0 exit then
  repeat 2drop ior-nofile ;

\ ---- paths: /DIR/SUB/name.ext, from the root, '/' between the parts -------------
variable par-clus          \ the directory the path's last part is in
2variable path-last        \ the last part (length 0: the path is the root)
: skip-slash ( a u -- a' u' ) begin dup while over c@ [char] / = while 1 /string repeat then ;
: slash-len ( a u -- n ) \ characters before the first '/'
  dup >r 0 ?do dup i + c@ [char] / = if drop i unloop r> drop exit then loop drop r> ;
\ path-walk ( a u -- ior ) the directories of the path from the root: par-clus and path-last for its last part
: path-walk ( a u -- ior )
  ?mount ?dup if nip nip exit then
  fs-root par-clus !
  begin
    skip-slash 2dup slash-len >r over r@ path-last 2! r> /string skip-slash
    dup while
    path-last 2@ par-clus @ dir-find ?dup if nip nip exit then
    dent-dir? 0= if 2drop ior-notdir exit then
    dent-clus dir-clus par-clus !
  repeat 2drop 0 ;
: root-dent ( -- ) \ a made-up entry for the root: a directory at BPB_RootClus
  dent 32 erase $10 dent 11 + c! fs-root dup 16 rshift dent 20 + w! dent 26 + w! 0 lfn-len ! ;
\ path-find ( a u -- ior ) the file or directory the path names into dent
: path-find ( a u -- ior )
  path-walk ?dup if exit then
  path-last 2@ dup 0= if 2drop root-dent 0 exit then par-clus @ dir-find ;

\ ---- new entries: a long name and its 8.3 alias ---------------------------------
create bad-chars 34 c, 42 c, 47 c, 58 c, 60 c, 62 c, 63 c, 92 c, 124 c, 43 c, 44 c, 59 c, 61 c, 91 c, 93 c,  \ " * / : < > ? \ | then + , ; = [ ]
: bad-in? ( c n -- f ) \ is c one of the first n bad-chars (9: not in a long name; 15: nor in a short one)
  0 ?do dup i bad-chars + c@ = if drop true unloop exit then loop drop false ;
\ lfn-ok? ( a u -- f ) a long name we write: 1..255 printable ASCII, none of " * / : < > ? \ |, not ending in '.' or ' '
: lfn-ok? ( a u -- f )
  dup 1 256 within 0= if 2drop false exit then
  2dup + 1- c@ dup [char] . = swap bl = or if 2drop false exit then
  bounds ?do i c@ dup bl < over $7e > or swap 9 bad-in? or if false unloop exit then loop true ;
create sfn 11 allot        \ the short name being made
create sfn-basis 8 allot   \ its basis, before a numeric tail
variable lossy             \ the basis is not the long name
: sfn-fill ( a u dst max -- ) \ a part of the basis: spaces out, upper case, '_' for what a short name cannot hold, cut at max
  2swap 0 -rot bounds ?do
    i c@ dup bl = if drop true lossy ! else
      fat-upc dup 15 bad-in? over $7e > or if drop [char] _ true lossy ! then
      >r 2dup > if r> over 4 pick + c! 1+ else r> drop true lossy ! then then
  loop 2drop drop ;
: dots ( a u -- first last ) \ where the first and the last '.' are (u and -1: none)
  dup -1 2swap 0 ?do dup i + c@ [char] . = if nip i swap rot i min -rot then loop drop ;
\ sfn-make ( a u -- ) the basis name (fatgen103 "The Basis-Name Generation Algorithm") into sfn, lossy if it is not the name
: sfn-make ( a u -- )
  sfn 11 blank false lossy !
  begin dup while over c@ [char] . = while 1 /string true lossy ! repeat then
  2dup dots 2dup < if true lossy ! then
  >r >r over r> sfn 8 sfn-fill
  r@ 0< if r> drop 2drop else r> 1+ /string sfn 8 + 3 sfn-fill then
  sfn c@ bl = if [char] _ sfn c! true lossy ! then ;
: sfn-tail ( n -- ) \ the basis with ~n in sfn (fatgen103 "The Numeric-Tail Generation Algorithm")
  sfn-basis sfn 8 move
  base @ >r decimal 0 <# #s [char] ~ hold #> r> base !
  sfn 8 -trailing nip over 8 swap - min sfn + dup sfn 8 + over - blank swap move ;
: sfn-taken? ( clus -- f ior ) \ is sfn the 8.3 name of an entry in the directory at clus
  it-start ?dup if false swap exit then
  begin dir-next ?dup if nip false swap exit then while
    dent 11 sfn 11 compare 0= if true 0 exit then
  repeat false 0 ;
: sfn-choose ( a u clus -- ior ) \ sfn for the long name: the basis if it is the name or free, else with ~1, ~2 ...
  >r sfn-make sfn sfn-basis 8 move
  lossy @ 0= if r@ sfn-taken? ?dup if nip r> drop exit then 0= if r> drop 0 exit then then
  1 begin dup 1000000 < while
    dup sfn-tail r@ sfn-taken? ?dup if nip nip r> drop exit then
    0= if drop r> drop 0 exit then 1+
  repeat drop r> drop ior-dirfull ;

create run-at /it allot   \ the iterator where the free slots found start
: dir-grow ( -- ior ) \ one more cluster for the directory iterated, zeroed on the disk, the iterator at its start
  it-n @ 2 + fs-cb * dir-max u> if ior-dirfull exit then
  it-last @ clus-new ?dup if nip exit then
  dup clus-zero ?dup if nip exit then
  it-clus ! 1 it-n +! 0 it-sec ! 0 it-off ! 0 ;
create it-save /it allot
: dir-skip ( n -- ior ) \ the n free slots from run-at on marked deleted (0xE5) on the disk: no 0x00 (the end) before what follows
  dir-it it-save /it move run-at dir-it /it move
  0 ?do it-entry ?dup if nip unloop exit then $e5 over c! c-dir sec-dirty it-step ?dup if unloop exit then loop
  it-save dir-it /it move cache-sync ;
\ dir-room ( k clus -- ior ) k free slots in a row in the directory at clus, grown if need be: run-at;
\ in one sector when k is 16 or less, so that the entry reaches the disk in one write
: dir-room ( k clus -- ior )
  it-start ?dup if nip exit then 0
  begin
    it-clus @ 0= if dir-grow ?dup if nip nip exit then then
    it-entry ?dup if nip nip nip exit then c@ dup 0= swap $e5 = or
    if dup if it-off @ 0= 2 pick 17 < and if dir-skip ?dup if nip exit then 0 then then
      dup 0= if dir-it run-at /it move then
      1+ 2dup = if 2drop 0 exit then
    else drop 0 then
    it-step ?dup if nip nip exit then
  again ;
create new-dent 32 allot   \ the entry being written
2variable new-name         \ its long name
variable new-lfns          \ its long-name slots (0: the name is its 8.3 name)
variable new-sum           \ sfn's checksum
variable new-esec          \ the sector its 8.3 slot goes in
: lfn-fill ( e k -- ) \ long-name slot k (1: the first 13 characters) of new-name into the 32 bytes at e
  over 32 $ff fill
  dup new-lfns @ = $40 and over or 2 pick c!
  $0f 2 pick 11 + c!  0 2 pick 12 + c!  new-sum @ 2 pick 13 + c!  0 2 pick 26 + w!
  1- 13 * 13 0 do
    dup i + dup new-name @ u< if new-name cell+ @ + c@ else new-name @ = if 0 else -1 then then
    dup 0< if drop else 2 pick i lfn-offs + c@ + w! then
  loop 2drop ;
\ dir-name ( a u clus -- ior ) new-name, its 8.3 alias sfn (free in the directory at clus) and new-lfns, for dir-put
: dir-name ( a u clus -- ior )
  >r 2dup new-name 2! r> sfn-choose ?dup if exit then
  lossy @ 0= new-name 2@ sfn 0 sfn-text compare 0= and if 0 else new-name @ 12 + 13 / then new-lfns ! 0 ;
\ dir-put ( -- ior ) the entry dir-name named, from new-dent, into the new-lfns + 1 slots from run-at on; dent is it
\ (the sector with the 8.3 slot is written first, c-dir; the long-name slots in other sectors after it, c-dir2)
: dir-put ( -- ior )
  run-at dir-it /it move new-lfns @ 0 ?do it-step ?dup if unloop exit then loop it-where drop new-esec !
  run-at dir-it /it move dir-it ent-first /it move new-lfns @ 1+ ent-slots !
  sfn sfn-sum new-sum ! sfn new-dent 11 move 0 new-dent 12 + c!
  new-lfns @ begin ?dup while
    it-entry ?dup if nip exit then dup >r over lfn-fill
    r> it-where drop new-esec @ = if c-dir else c-dir2 then sec-dirty
    it-step ?dup if nip exit then 1-
  repeat
  it-entry ?dup if nip exit then new-dent over 32 move c-dir sec-dirty
  it-where ent-off ! ent-sec ! new-dent dent 32 move 0 lfn-len ! 0 ;
\ dir-add ( a u clus -- ior ) a new entry named a u from new-dent in the directory at clus: long-name slots and the 8.3 entry
: dir-add ( a u clus -- ior )
  dup >r dir-name ?dup if r> drop exit then new-lfns @ 1+ r> dir-room ?dup if exit then dir-put ;
: dent-stamp ( e -- ) \ the time and date of a write into the entry at e (DIR_WrtTime, DIR_WrtDate, DIR_LstAccDate)
  fat-time over 22 + w! fat-date over 24 + w! fat-date swap 18 + w! ;
: new-dent-init ( attr -- ) \ new-dent: no cluster, size 0, made now
  new-dent 32 erase new-dent 11 + c! fat-time new-dent 14 + w! fat-date new-dent 16 + w! new-dent dent-stamp ;
: dent-kill ( -- ior ) \ mark the slots of the entry found last deleted (0xE5): its long-name slots reach the disk first
  ent-first dir-it /it move ent-slots @ 0 ?do
    it-entry ?dup if nip unloop exit then $e5 over c!
    i 1+ ent-slots @ = it-where drop ent-sec @ = or if c-dir2 else c-dir then sec-dirty
    it-step ?dup if unloop exit then
  loop 0 ;
