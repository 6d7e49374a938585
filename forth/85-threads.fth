\ Threads, endpoints and the thread listing.

\ endpoint-on ( core "name" -- ) a synchronous IPC endpoint that lives on
\ that core (kernel/ipc.S: head, mode with its core, tail): threads of other
\ cores that use it move there for the operation.  A server should live on
\ its endpoint's core.
: endpoint-on ( core "name" -- ) (core-state) create 0 , , 0 , ;
\ endpoint ( "name" -- ) one on the core that makes it
: endpoint ( "name" -- ) core endpoint-on ;

: .state ( n -- )
  case 0 of ." running" endof 1 of ." ready  " endof 2 of ." send   " endof
       3 of ." receive" endof 4 of ." reply  " endof 5 of ." sleep  " endof
       7 of ." input  " endof 8 of ." disk   " endof
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
