\ Test words over the file system (tests/test_fat.py), loaded after
\ forth/files/60-fat.fth and forth/files/61-files.fth under gforth with
\ tests/fat_host.fth: files copied between the FAT volume and host files,
\ in chunks of an odd size so that reads and writes cross sectors and
\ clusters at every offset.

1000 value chunk                 \ bytes a READ-FILE or WRITE-FILE moves
create xbuf 70000 allot
: ?ior ( ior a u -- ) \ print the failed step and its ior, quit with status 3
  rot ?dup if cr ." FAIL " type space . cr 3 (bye) then 2drop ;
\ fat>host ( a u ha hu -- ) copy the FAT file a u to the host file ha hu
: fat>host ( a u ha hu -- )
  host-create s" host-create" ?ior >r
  r/o open-file s" open-file" ?ior
  begin dup xbuf chunk rot read-file s" read-file" ?ior ?dup while
    xbuf swap r@ host-write s" host-write" ?ior repeat
  close-file s" close-file" ?ior r> host-close drop ;
\ host>fat ( ha hu a u -- ) copy the host file ha hu to the FAT file a u
: host>fat ( ha hu a u -- )
  w/o create-file s" create-file" ?ior >r
  host-open s" host-open" ?ior
  begin dup xbuf chunk rot host-read s" host-read" ?ior ?dup while
    xbuf swap r@ write-file s" write-file" ?ior repeat
  host-close drop r> close-file s" close-file" ?ior ;
: .ior ( ior -- ) ." ior=" . cr ;
