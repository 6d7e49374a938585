\ Pictured numeric output and the printing words.

create pno-buf 256 allot
variable hld
create pad-area 256 allot
: pad ( -- a ) pad-area ;
: <# ( -- ) pno-buf 256 + hld ! ;
: hold ( c -- ) hld @ 1- dup pno-buf u< if -17 throw then dup hld ! c! ;
: holds ( a u -- ) begin dup while 1- 2dup + c@ hold repeat 2drop ;
: >digit ( u -- c ) dup 9 > 7 and + 48 + ;
: ud/mod ( ud u -- urem ud' ) >r 0 r@ um/mod r> swap >r um/mod r> ;
: # ( ud -- ud' ) base @ ud/mod rot >digit hold ;
: #s ( ud -- 0 0 ) begin # 2dup d0= until ;
: #> ( ud -- a u ) 2drop hld @ pno-buf 256 + over - ;
: sign ( n -- ) 0< if 45 hold then ;
: d.r ( d n -- ) >r tuck dabs <# #s rot sign #> r> over - spaces type ;
: d. ( d -- ) 0 d.r space ;
: ud.r ( ud n -- ) >r <# #s #> r> over - spaces type ;
: ud. ( ud -- ) 0 ud.r space ;
: .r ( n width -- ) >r s>d r> d.r ;
: u.r ( u width -- ) 0 swap ud.r ;
: . ( n -- ) s>d d. ;
: u. ( u -- ) 0 ud. ;
: ? ( a -- ) @ . ;
: .s ( -- ) 60 emit depth 0 .r 62 emit space
  depth 0 ?do depth i - 1- pick . loop ;
