/*
 * Synchronous IPC on endpoints: send, receive, call, reply, reply-and-
 * receive, with timeouts.  A message is four words plus the sender's
 * token and optional buffer (address, length; one address space, so the
 * receiver reads it in place through the token: IPC-BUFFER).  Exactly
 * once, FIFO per endpoint.
 *
 * Delivery straight into the partner's stack.  A thread waiting in CALL,
 * RECEIVE or REPLY-RECEIVE has already laid out its data stack for the
 * answer and publishes where (T_DELIVER); its switch point returns
 * straight to its Forth caller.  The partner writes the four words there
 * and the fifth (token, or for a reply its last word) into the waiter's
 * saved top of stack: nothing is copied twice and the waiter does no work
 * on wake-up.  CALL-TIMEOUT takes its reply the same way (and looks at
 * T_RESULT afterwards: 0 answered, -1 timed out).  Threads waiting in
 * RECEIVE-TIMEOUT or SEND publish no delivery address: their partners
 * stage the message in the TCB (T_MSG, T_PEER, T_RESULT) and the word
 * picks it up there.
 *
 * Fast paths (seL4's idea): a CALL to a receiver already waiting, and a
 * REPLY-RECEIVE with no sender queued, switch straight to the partner:
 * no scheduler pass.  They are taken only when the partner is at least as
 * urgent as every ready thread, so the highest-priority ready thread
 * always runs.  A timed call takes them too: its deadline goes onto the
 * sleepers on the way in and comes off when the reply reaches it.  Any
 * other path that frees a partner more urgent than us switches to it
 * directly (thread_wake in kernel/thread.S), else readies it and carries
 * on.
 *
 * An endpoint is three cells: queue head, mode, queue tail.  The mode
 * cell is the per-core state of the core the endpoint lives on, ORed
 * with the mode (0 empty, 1 senders queued, 2 receivers queued): the
 * test a fast path makes of the mode checks the core too, with one ORR.
 * Queued threads link through T_NEXT/T_PREV (a blocked thread is on no
 * ready queue).
 *
 * Many cores: an endpoint's queue is touched only on its own core, so
 * there are no locks.  A thread that uses an endpoint of another core
 * moves there for the operation (ipc_away: its own inbox and an IPI,
 * kernel/thread.S thread_migrate), does it there as any thread, and moves
 * back to its own core (T_AFFINE) when the operation is over.  A reply to
 * a caller waiting on another core moves the replier there the same way.
 * So partners always meet on one core, every path below is single-core
 * code, and a timed operation's deadline is on the sleepers of the core
 * where it waits.  Moves cost two IPIs a call; a server should live on
 * its endpoint's core (ENDPOINT-ON in forth/).
 *
 * A reply token is the caller's TCB with its call number in the top bits.
 * A caller waiting for its reply keeps the token in T_REPLYKEY; a reply
 * must present that very token, so it reaches only the call it answers,
 * never a later one (a timed-out call clears its key).
 *
 * Entry: x0 the endpoint (or for REPLY the token), x1-x4 the message (x1
 * first), x15 a deadline (counter value) or 0, x21 where our own stack
 * takes an answer (0: we fetch it).  x27 and x30 are already what the
 * Forth word returns with.  All of it is critical-section code
 * (kernel/thread.S): no interrupt masking.  Clobbers x0-x23.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define EP_HEAD     0                   /* head, mode: one LDP for CALL */
#define EP_MODE     8                   /* mode, tail: one LDP for REPLY-RECEIVE */
#define EP_TAIL     16
assert_adjacent EP_HEAD, EP_MODE
assert_adjacent EP_MODE, EP_TAIL
#define M_EMPTY     0
#define M_SENDERS   1
#define M_RECEIVERS 2
#define M_MASK      3                   /* the mode's bits in EP_MODE; the rest: its core */
#define CTX_TOS     16                  /* x26 in T_CTX */

/* ep_dequeue next: x11 (the head of endpoint x0's queue, its T_NEXT in
   register next) taken off.  Clobbers x7. */
.macro ep_dequeue next
    str     \next, [x0, #EP_HEAD]
    cbz     \next, 8701f
    str     xzr, [\next, #T_PREV]
    b       8702f
8701:
    str     xzr, [x0, #EP_TAIL]
    str     x9, [x0, #EP_MODE]          /* empty (on its core: x9 is that core) */
8702:
.endm

/* ep_enqueue mode [, tail]: the running thread (x10) to the back of x0's
   queue, which holds threads of that mode (tail: a register already
   holding EP_TAIL).  Clobbers x7, x8. */
.macro ep_enqueue mode, tail
    .ifb \tail
    ldr     x7, [x0, #EP_TAIL]
    .else
    mov     x7, \tail
    .endif
    stp     xzr, x7, [x10, #T_NEXT]
    str     x10, [x0, #EP_TAIL]
    cbz     x7, 8703f
    str     x10, [x7, #T_NEXT]
    b       8704f
8703:
    str     x10, [x0, #EP_HEAD]
8704:
    orr     x8, x9, #\mode
    str     x8, [x0, #EP_MODE]
    str     x0, [x10, #T_WAITEP]
.endm

/* deliver t, at, last: the message words x1-x4 into the stack of waiting
   thread t at address at (x4 at [at], x1 at [at+24]), and last into its
   saved top of stack. */
.macro deliver t, at, last
    stp     x4, x3, [\at]
    stp     x2, x1, [\at, #16]
    str     \last, [\t, #CTX_TOS]
.endm

/* stage_msg dst: the message (x1-x4) and its token (x5) into dst's TCB,
   result 0, for dst to pick up when the scheduler runs it. */
.macro stage_msg dst
    stp     x1, x2, [\dst, #T_MSG]
    stp     x3, x4, [\dst, #T_MSG + 16]
    str     x5, [\dst, #T_PEER]
    str     xzr, [\dst, #T_RESULT]
.endm

/* to t, last: hand the message to waiting thread t: into its stack if it
   took one, else into its TCB.  Clobbers x7. */
.macro to t, last
    ldr     x7, [\t, #T_DELIVER]
    cbz     x7, 8706f
    deliver \t, x7, \last
    b       8707f
8706:
    stage_msg \t
8707:
.endm

/* undeadline t [, loaded]: a thread woken by its partner that also had a
   deadline (a timed receive or call) comes off the sleepers (loaded: x7
   already holds its T_DEADLINE).  Inline: it is nearly always the first
   sleeper, two loads.  Clobbers x6, x7. */
.macro undeadline t, loaded
    .ifb \loaded
    ldr     x7, [\t, #T_DEADLINE]
    .endif
    cbz     x7, 8723f
    str     xzr, [\t, #T_DEADLINE]
    add     x6, x9, #(PC_SLEEPERS - T_SNEXT)    /* the head as a "node" */
8720:
    ldr     x7, [x6, #T_SNEXT]
    cbz     x7, 8723f
    cmp     x7, \t
    b.eq    8721f
    mov     x6, x7
    b       8720b
8721:
    ldr     x7, [\t, #T_SNEXT]
    str     x7, [x6, #T_SNEXT]
    str     xzr, [\t, #T_SNEXT]
8723:
.endm

/* ready t: make thread t ready (back of its queue).  Clobbers x1-x4. */
.macro ready t
    enqueue_tail \t
.endm

/* wait: the running thread blocks; it takes its answer at x21 (or 0). */
.macro wait
    str     x21, [x10, #T_DELIVER]
    b       ipc_block
.endm

    .section .text.critical, "ax"

/*
 * ipc_call: send x1-x4 on endpoint x0 and wait for the reply.
 */
/* bench: ipc (budget 105 cycles; the fast path: a server waiting) */
    .globl ipc_call
ipc_call:
    mrs     x9, tpidr_el2
    current_tcb x10
    ldp     x14, x7, [x9, #PC_READY]    /* the ready bitmap; the core's call count */
    add     x7, x7, #NCORES_MAX         /* a new call: a new token (PC_CALLSEQ) */
    str     x7, [x9, #PC_CALLSEQ]
    orr     x5, x10, x7, lsl #TOKEN_SHIFT
    str     x5, [x10, #T_REPLYKEY]
    ldp     x11, x6, [x0, #EP_HEAD]     /* head, mode */
    orr     x7, x9, #M_RECEIVERS
    cmp     x6, x7                      /* receivers wait, on this core */
    b.ne    call_queue
    ldp     x8, x12, [x11, #T_DELIVER]  /* a receiver waits: where it takes it, its priority */
    cbz     x8, call_scheduled          /* a timed receive: the long way */
    outranked x14, x16, x12, loaded=1   /* x14 = 63 - the best ready, x16 = 63 - its */
    b.lo    call_scheduled              /* someone more urgent is ready */
    ldr     x13, [x11, #T_NEXT]         /* fast path */
    ep_dequeue x13
    deliver x11, x8, x5                 /* the message, our token on top */
    mov     x7, #TS_REPLY               /* we wait on it, it runs */
    str     x7, [x10, #T_STATE]
    str     x21, [x10, #T_DELIVER]
    mov     x0, x11
    cbnz    x15, 1f
    b       switch_waiting_from_x10
1:  str     xzr, [x10, #T_RESULT]       /* a timed call: its deadline on the way */
    str     x15, [x10, #T_DEADLINE]
    mov     x3, x15
    mov     x20, x30
    bl      sleeper_insert              /* keeps x0 */
    mov     x30, x20
    b       switch_waiting_from_x10

call_scheduled:                         /* the receiver queues like anyone */
    undeadline x11
    ldr     x13, [x11, #T_NEXT]
    ep_dequeue x13
    to      x11, x5
    ready   x11
    mov     x7, #TS_REPLY
    str     x7, [x10, #T_STATE]
    wait

call_queue:                             /* nobody receiving: queue as a caller */
    and     x8, x6, #~M_MASK
    cmp     x8, x9
    b.ne    call_away                   /* the endpoint lives on another core */
    stp     x1, x2, [x10, #T_MSG]       /* (T_REPLYKEY set: a caller) */
    stp     x3, x4, [x10, #T_MSG + 16]
    mov     x7, #TS_SEND
    str     x7, [x10, #T_STATE]
    ep_enqueue M_SENDERS
    wait

/* ipc_block: the running thread waits (queued, or for a reply), until a
   partner has done its part or the deadline x15 passed (T_RESULT -1). */
ipc_block:
    str     xzr, [x10, #T_RESULT]
    str     x15, [x10, #T_DEADLINE]
    cbz     x15, 1f
    mov     x3, x15
    mov     x20, x30
    bl      sleeper_insert
    mov     x30, x20
1:  b       block_current

/*
 * ipc_send: x1-x4 on endpoint x0; returns once a receiver has it
 * (T_RESULT 0) or the deadline passed (-1).  Always a fetching word.
 */
    .globl ipc_send
ipc_send:
    mrs     x9, tpidr_el2
    current_tcb x10
    str     xzr, [x10, #T_RESULT]
    str     xzr, [x10, #T_REPLYKEY]
    mov     x5, x10                     /* our token: no call number, no reply matches */
    ldp     x11, x6, [x0, #EP_HEAD]
    orr     x7, x9, #M_RECEIVERS
    cmp     x6, x7
    b.ne    1f
    undeadline x11                      /* a receiver waits: it has it now */
    ldp     x12, x13, [x11, #T_PRIO]    /* its priority, next */
    ep_dequeue x13
    to      x11, x5
    b       thread_wake_p               /* it runs now if it outranks us */
1:  and     x8, x6, #~M_MASK
    cmp     x8, x9
    ladr    x7, ipc_send
    b.ne    ipc_away                    /* another core's endpoint */
    stp     x1, x2, [x10, #T_MSG]       /* nobody receiving: queue */
    stp     x3, x4, [x10, #T_MSG + 16]  /* (T_REPLYKEY 0: no reply wanted) */
    mov     x7, #TS_SEND
    str     x7, [x10, #T_STATE]
    ep_enqueue M_SENDERS
    mov     x21, #0
    wait

/*
 * ipc_receive: wait on endpoint x0 for a message (and its sender's token).
 */
    .globl ipc_receive
ipc_receive:
    mrs     x9, tpidr_el2
    current_tcb x10
receive_locked:
    ldp     x11, x6, [x0, #EP_HEAD]
    orr     x7, x9, #M_SENDERS
    cmp     x6, x7                      /* senders wait, on this core */
    b.ne    3f
    ldp     x14, x7, [x11, #T_REPLYKEY] /* a sender waits: its key (0: a SEND), deadline */
    undeadline x11, loaded              /* it has its partner now */
    ldp     x12, x13, [x11, #T_PRIO]    /* its priority, next */
    ep_dequeue x13
    mov     x5, x14                     /* a caller's token: the key it waits for */
    cbnz    x14, 1f
    mov     x5, x11                     /* a SEND: its TCB, which no reply matches */
    b       2f
1:  mov     x7, #TS_REPLY               /* a caller: now waits for our reply */
    str     x7, [x11, #T_STATE]
2:  ldp     x1, x2, [x11, #T_MSG]
    ldp     x3, x4, [x11, #T_MSG + 16]
    cbz     x21, 4f
    stp     x4, x3, [x21]               /* into our own stack: done */
    stp     x2, x1, [x21, #16]
    mov     x26, x5
    b       5f
4:  stage_msg x10                       /* a fetching word finds it in our TCB */
5:  cbz     x14, thread_wake_p          /* a SEND is free: it may outrank us */
    b       critical_exit               /* a caller waits on: nobody new is ready */
3:  and     x8, x6, #~M_MASK
    cmp     x8, x9
    ladr    x7, ipc_receive
    b.ne    ipc_away                    /* another core's endpoint */
    mov     x7, #TS_RECV                /* nobody sending: wait */
    str     x7, [x10, #T_STATE]
    ep_enqueue M_RECEIVERS
    wait

/* reply_check fail, away: token x0 names the call client x11 waits on
   (else branch to fail), on this core (else to away, with x8 = the
   client's core); x7 = the client's deadline.  Keeps x1-x5.  A token
   that is not 4 KiB aligned is refused; one pointing outside memory
   faults (THROW -9).  Off its core the key is only looked at: the
   client's core decides (after the move, the check is made again). */
.macro reply_check fail, away
    ubfx    x11, x0, #0, #TOKEN_SHIFT   /* the client: a TCB is a 4 KiB block */
    tst     x0, #0xfff
    ccmp    x11, #0, #4, eq
    b.eq    \fail
    ldp     x12, x7, [x11, #T_REPLYKEY] /* the call it waits on; its deadline */
    cmp     x12, x0
    b.ne    \fail
    ldr     x8, [x11, #T_CORE]
    cmp     x8, x9
    b.ne    \away
    str     xzr, [x11, #T_REPLYKEY]     /* answered: once */
.endm

/*
 * ipc_reply: the reply x1-x4 to the call named by token x0.  T_RESULT
 * says how it went: 0, or -1 if nobody waits for that reply.  A fetching
 * word: the client runs first if it outranks us.
 */
    .globl ipc_reply
ipc_reply:
    mrs     x9, tpidr_el2
    current_tcb x10
    reply_check 9f, 8f
    str     xzr, [x10, #T_RESULT]
    cbz     x7, 1f
    undeadline x11
1:  mov     x5, x10
    to      x11, x4
    b       thread_wake                 /* the client runs now if it outranks us */
8:  ladr    x7, ipc_reply
    b       ipc_away
9:  mov     x7, #-1
    str     x7, [x10, #T_RESULT]
    b       critical_exit

/*
 * ipc_reply_receive: reply x1-x4 to token x0, then receive on endpoint
 * x15.  When nobody waits for that reply: THROW -259, nothing received.
 */
/* bench: ipc (budget 105 cycles; the reply's fast path) */
    .globl ipc_reply_receive
ipc_reply_receive:
    mrs     x9, tpidr_el2
    current_tcb x10
    reply_check 9f, 8f
    mov     x0, x15
    mov     x15, #0
    ldp     x8, x12, [x11, #T_DELIVER]  /* where it takes the reply; priority */
    cbz     x8, 2f                      /* it fetches from its TCB: the long way */
    ldp     x6, x13, [x0, #EP_MODE]     /* mode, tail */
    eor     x17, x6, x9
    tst     x17, #~M_RECEIVERS          /* empty or receivers, on this core */
    b.ne    2f                          /* more work queued, or elsewhere: the long way */
    outranked x14, x16, x12             /* x14 = 63 - the best ready, x16 = 63 - the client's */
    b.lo    2f
    cbnz    x7, 4f                      /* a timed call: off the sleepers first */
5:  deliver x11, x8, x4                 /* fast path: the reply into its stack */
    mov     x7, #TS_RECV                /* we wait for the next message */
    str     x7, [x10, #T_STATE]
    str     x21, [x10, #T_DELIVER]
    ep_enqueue M_RECEIVERS, x13
    mov     x0, x11
    b       switch_waiting_from_x10
4:  undeadline x11                      /* keeps all but x6, x7 */
    b       5b
2:  cbz     x7, 3f
    undeadline x11
3:  mov     x5, x10                     /* the client just becomes ready */
    to      x11, x4
    ready   x11
    b       receive_locked
8:  ladr    x7, ipc_reply_receive   /* the client waits on another core */
    b       ipc_away
9:  mov     x0, #-259                   /* nobody waits for that reply */
    ldr     x16, [x10, #T_AWAYRET]
    cbnz    x16, ipc_throw_home         /* away: the THROW is made at home */
    b       critical_throw

/*
 * ipc_timeout ( x0 = thread whose deadline passed while queued on an
 * endpoint or waiting for a reply ): off the endpoint, result -1.  Only
 * fetching words wait with a deadline.  Called by the timer interrupt,
 * which makes it ready.  Clobbers x1-x8.
 */
    .globl ipc_timeout
ipc_timeout:
    mov     x1, #-1
    str     x1, [x0, #T_RESULT]
    str     xzr, [x0, #T_REPLYKEY]      /* no reply will reach it now */
    ldr     x1, [x0, #T_STATE]
    cmp     x1, #TS_REPLY
    b.eq    3f                          /* no endpoint queue to leave */
    ldr     x1, [x0, #T_WAITEP]
    ldp     x2, x3, [x0, #T_NEXT]       /* next, prev */
    cbz     x3, 1f
    str     x2, [x3, #T_NEXT]
    b       2f
1:  str     x2, [x1, #EP_HEAD]
2:  cbz     x2, 4f
    str     x3, [x2, #T_PREV]
    b       3f
4:  str     x3, [x1, #EP_TAIL]
    ldr     x4, [x1, #EP_HEAD]
    cbnz    x4, 3f
    ldr     x4, [x1, #EP_MODE]
    and     x4, x4, #~M_MASK
    str     x4, [x1, #EP_MODE]          /* the queue is empty now (its core kept) */
3:  str     xzr, [x0, #T_WAITEP]
    ret

/*
 * ipc_away ( x7 = the operation's entry, x8 = the core it must be done on
 * (its per-core state), x0-x4, x15, x21 its arguments, x9, x10, x30 where
 * it returns ): the operation is done there.  The arguments go into the
 * TCB, the thread moves (thread_migrate) and, on arrival, ipc_arrive
 * enters the operation again with x30 = ipc_return, which brings the
 * thread home.  Already away (REPLY-RECEIVE's receive on a third core),
 * the first return address stands.
 */
/* bench: xcall (budget 175 cycles; a call to a server on another core, the caller moved there and back) */
call_away:
    ladr    x7, ipc_call
    /* fall through */
    .globl ipc_away
ipc_away:
    stp     x1, x2, [x10, #T_MSG]
    stp     x3, x4, [x10, #T_MSG + 16]
    stp     x0, x15, [x10, #T_AWAYX0]
    stp     x21, x7, [x10, #T_AWAYX21]
    ldr     x16, [x10, #T_AWAYRET]
    cbnz    x16, 1f
    str     x30, [x10, #T_AWAYRET]
1:  mov     x0, x8
    ladr    x30, ipc_arrive
    b       thread_migrate

/* ipc_arrive: on the endpoint's (or the client's) core, the operation
   from the start */
ipc_arrive:
    mrs     x9, tpidr_el2
    current_tcb x10
    ldp     x1, x2, [x10, #T_MSG]
    ldp     x3, x4, [x10, #T_MSG + 16]
    ldp     x0, x15, [x10, #T_AWAYX0]
    ldp     x21, x7, [x10, #T_AWAYX21]
    ladr    x30, ipc_return
    br      x7

/* ipc_return: the operation is over (its results in the stack, tos and
   the TCB): home, and on to where it was to return */
ipc_return:
    mrs     x9, tpidr_el2
    current_tcb x10
    ldr     x30, [x10, #T_AWAYRET]
    str     xzr, [x10, #T_AWAYRET]
    ldr     x0, [x10, #T_AFFINE]
    cmp     x0, x9
    b.ne    thread_migrate
    b       critical_exit

/* ipc_throw_home ( x0 = THROW code, away ): home first, the THROW there
   (the handler's frames are at home; and T_AWAYRET must not outlive the
   operation) */
ipc_throw_home:
    str     x0, [x10, #T_AWAYX0]
    ladr    x16, ipc_rethrow
    str     x16, [x10, #T_AWAYRET]
    b       ipc_return
ipc_rethrow:
    current_tcb x10
    ldr     x0, [x10, #T_AWAYX0]
    b       throw_x0
