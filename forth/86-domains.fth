\ Domains (kernel/domain.S): code at EL1 under its own stage-2 identity
\ tables, entered by ERET, calling the kernel by HVC.  See docs/domains.md.

1 constant d-r   2 constant d-w   4 constant d-x   8 constant d-demand
16 constant d-pool   3 constant d-rw  5 constant d-rx

\ grants: records in the kernel's list, applied oldest first
: domain-map ( dom addr len perm -- ) domain-grant ;
: domain-unmap ( dom addr len -- ) 256 domain-grant ;
: domain-protect ( dom addr len perm -- ) 512 or domain-grant ;

\ code, ( addr x -- addr+4 ) store one instruction word
: code, ( addr x -- addr+4 ) over l! 4 + ;

\ domain-load ( src u dst -- ) raw machine code into place, made executable
: domain-load ( src u dst -- ) over >r dup >r swap move r> r> sync-code ;

\ domain-memory ( dom u perm -- addr ) u bytes of fresh pages granted to it
: domain-memory ( dom u perm -- addr )
  >r dup reserve-pages ( dom u addr ) dup >r swap 16383 + -16384 and
  r> r> swap >r domain-map r> ;

\ domain-demand ( dom u perm -- ipa ) u bytes of demand-zero memory for it at
\ IPAs of the demand window (no memory of the kernel's behind them): each
\ page gets a frame zeroed ahead of time at its first touch, given back at
\ DOMAIN-UNMAP or DOMAIN-FREE
: domain-demand ( dom u perm -- ipa )
  >r 16383 + -16384 and dup demand-ipa ( dom u ipa )
  dup >r swap r> r> swap >r d-demand or d-pool or domain-map r> ;
