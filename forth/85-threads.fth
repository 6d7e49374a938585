\ Threads, endpoints and the thread listing.

\ endpoint ( "name" -- ) a synchronous IPC endpoint (kernel/ipc.S: head,
\ mode, tail)
: endpoint ( "name" -- ) create 0 , 0 , 0 , ;

: .state ( n -- )
  case 0 of ." running" endof 1 of ." ready  " endof 2 of ." send   " endof
       3 of ." receive" endof 4 of ." reply  " endof 5 of ." sleep  " endof
       7 of ." input  " endof
       ." dead   " endcase ;

\ threads ( -- ) every thread: id, state, priority, CPU time (counter ticks
\ and microseconds), the core it runs on
: threads ( -- )
  cr ."   id state    prio        ticks      us core" cr
  first-thread begin ?dup while
    dup thread-core >r
    thread-info >r >r swap 4 .r space .state r> 5 .r
    r> dup 13 .r 1000000 ticks/s */ 8 .r r> 5 .r cr
  repeat ;
