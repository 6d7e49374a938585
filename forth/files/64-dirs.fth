\ Directories made and removed: MAKE-DIR and DELETE-DIR, and the shell's
\ mkdir and rmdir.  Why here: they are the file system's other two
\ changes of a directory, ordered as create-file and delete-file are
\ (forth/files/60-fat.fth's header), so a crash leaves at worst a lost
\ cluster.
\
\ A new directory's cluster is zeroed on the disk before anything links
\ it (clus-zero); its "." and ".." entries (fatgen103, "FAT Directory
\ Structure": ".." of a directory in the root has cluster 0) are data,
\ written before the FAT entry that chains the cluster and before the
\ parent's entry that points at it.  A directory is removed only when
\ empty: its entry off the disk first, then its clusters freed.

-294 constant ior-notempty   \ the directory still holds entries

: dot-ent ( e n clus -- ) \ at e, the "." (n 1) or ".." (n 2) entry pointing at clus
  >r over 32 erase  over 11 bl fill  over swap [char] . fill
  $10 over 11 + c!  r@ over 26 + w!  r> 16 rshift over 20 + w!
  fat-time over 14 + w!  fat-date over 16 + w!  dent-stamp ;

: make-dir ( a u -- ior ) \ a new empty directory at the path
  path-walk ?dup if exit then
  path-last 2@ lfn-ok? 0= if ior-name exit then
  path-last 2@ par-clus @ dir-find dup ior-nofile <> if dup 0= if drop ior-exists then exit then drop
  0 clus-new ?dup if nip exit then >r                  ( R: clus )
  r@ clus-zero ?dup if r> drop exit then
  r@ clus>sec sec-new ?dup if nip r> drop exit then    ( a )
  dup 512 erase                                        \ a slot of the cache: not yet zeros
  dup 1 r@ dot-ent
  dup 32 + 2 par-clus @ dup fs-root = if drop 0 then dot-ent
  c-data sec-dirty
  $10 new-dent-init  r@ new-dent 26 + w!  r> 16 rshift new-dent 20 + w!
  path-last 2@ par-clus @ dir-add ?dup if exit then fat-sync ;

: dir-empty? ( clus -- f ior ) \ does the directory hold nothing but "." and ".."
  it-start ?dup if false swap exit then
  begin dir-next ?dup if nip false swap exit then while
    dent c@ [char] . <> if false 0 exit then
  repeat true 0 ;

: delete-dir ( a u -- ior ) \ the empty directory at the path off the disk
  2dup path-find ?dup if nip nip exit then
  path-last @ 0= if 2drop ior-name exit then           \ not the root
  dent-dir? 0= if 2drop ior-notdir exit then
  dent-clus dir-empty? ?dup if nip nip nip exit then
  0= if 2drop ior-notempty exit then
  path-find ?dup if exit then                          \ the entry again: the walk moved dent
  dent-clus >r dent-kill ?dup if r> drop exit then fat-sync ?dup if r> drop exit then
  r> ?dup if chain-free ?dup if exit then then fat-sync ;

: mkdir ( "path" -- ) \ make the directory
  parse-name make-dir ?dup if cr .fs-error then ;
: rmdir ( "path" -- ) \ remove the directory, which must be empty
  parse-name delete-dir ?dup if cr .fs-error then ;
