/* Forth words for threads, time and IPC (kernel/thread.S, kernel/ipc.S). */

#include "percpu.inc"

/* spawn ( xt prio -- tid | 0 ) a thread running xt (under CATCH) at
   priority 1..63, ready at once; it runs now if it outranks us.
   thread_spawn returns straight to our caller with tos set. */
word "spawn", w_spawn
    sub     x1, tos, #1
    cmp     x1, #62
    b.hi    9f
    mov     x1, tos
    ldr     x0, [dsp], #8
    b       thread_spawn
9:  mov     x0, #-24                    /* invalid numeric argument */
    b       throw_x0
endword w_spawn

/* spawn-on ( xt prio core -- tid ) as SPAWN, the thread placed on core
   `core` (0 the boot core, then as `cores` counted them: kernel/smp.S),
   where it runs as that core's scheduler decides; -24 for a core that
   is not running or a priority outside 1..63 */
word "spawn-on", w_spawnon
    mov     x3, x30
    bl      core_state                  /* (below: THROW -24 if not running) */
    mov     x30, x3
    mov     x18, x0
    ldr     tos, [dsp], #8              /* prio */
    sub     x1, tos, #1
    cmp     x1, #62
    b.hi    9f
    mov     x1, tos
    ldr     x0, [dsp], #8
    b       thread_spawn_on
9:  mov     x0, #-24                    /* invalid numeric argument */
    b       throw_x0
endword w_spawnon

/* thread-core ( tcb -- core ) the core a thread runs on */
word "thread-core", w_threadcore
    ldr     x0, [tos, #T_CORE]
    ldr     tos, [x0, #PC_CORE]
    ret
endword w_threadcore

/* core ( -- n ) the core running this */
word "core", w_core
    mrs     x0, tpidr_el2
    ldr     x0, [x0, #PC_CORE]
    dpush   x0
    ret
endword w_core

/* yield ( -- ) let a ready thread of our priority run (thread_yield
   returns straight to our caller) */
word "yield", w_yield
    b       thread_yield
endword w_yield

/* lock-try ( a-addr -- flag ) take the lock in the cell at a-addr if it
   is free (SWP with acquire: 0 free, 1 held): true if taken.  For locks a
   thread may hold across a switch, whose waiters YIELD (forth/40-memory.fth
   the heap); never in a critical section. */
word "lock-try", w_locktry
    mov     x0, #1
    swpa    x0, x0, [tos]
    cmp     x0, #0
    csetm   tos, eq
    ret
endword w_locktry

/* lock-release ( a-addr -- ) the lock taken by lock-try (a store with
   release: everything done under it is seen by the next taker) */
word "lock-release", w_lockrelease
    stlr    xzr, [tos]
    ldr     tos, [dsp], #8
    ret
endword w_lockrelease

/* thread-exit ( -- ) end the running thread */
word "thread-exit", w_threadexit
    b       thread_exit
endword w_threadexit

/* cores ( -- n ) the cores running (kernel/smp.S) */
word "cores", w_cores
    ladr    x0, smp_cores
    ldr     x0, [x0]
    dpush   x0
    ret
endword w_cores

/* me ( -- tid ) the running thread's id */
word "me", w_me
    current_tcb x0
    ldr     x0, [x0, #T_ID]
    dpush   x0
    ret
endword w_me

/* sleep-until ( u -- ) block until the counter reaches u */
word "sleep-until", w_sleepuntil
    str     x30, [sp, #-16]!
    mov     x0, tos
    ldr     tos, [dsp], #8
    bl      thread_sleep_until
    ldr     x30, [sp], #16
    ret
endword w_sleepuntil

/* thread-info ( tcb -- next-tcb id state prio ticks ) for the listing;
   `threads` (forth/) walks it from first-thread */
word "thread-info", w_threadinfo
    mov     x0, tos
    ldr     x1, [x0, #T_ALLNEXT]
    ldr     x2, [x0, #T_ID]
    ldr     x3, [x0, #T_STATE]
    ldr     x4, [x0, #T_PRIO]
    ldr     x5, [x0, #T_RUNTIME]
    stp     x2, x1, [dsp, #-16]!
    stp     x4, x3, [dsp, #-16]!
    mov     tos, x5
    ret
endword w_threadinfo

/* first-thread ( -- tcb | 0 ) */
word "first-thread", w_firstthread
    mrs     x0, tpidr_el2
    ldr     x0, [x0, #PC_THREADS]
    dpush   x0
    ret
endword w_firstthread

/* timer-interrupts ( -- n ) taken so far */
word "timer-interrupts", w_timerinterrupts
    mrs     x0, tpidr_el2
    ldr     x0, [x0, #PC_TICKS]
    dpush   x0
    ret
endword w_timerinterrupts

/* core_state ( tos = core -- x0 = its per-core state ) a running core's,
   else THROW -24.  Clobbers x1, x2. */
    .globl core_state
core_state:
    ladr    x0, smp_cores
    ldr     x1, [x0]                    /* cores running: numbered 0 .. n-1 */
    cmp     tos, x1
    b.hs    9f
    ladr    x0, core_table
    ldr     x0, [x0, tos, lsl #3]
    ret
9:  mov     x0, #-24
    b       throw_x0

/* (core-state) ( core -- x ) a running core's per-core state (what an
   endpoint's mode cell holds: ENDPOINT-ON in forth/), else THROW -24 */
word "(core-state)", w_corestate
    mov     x3, x30
    bl      core_state
    mov     tos, x0
    ret     x3
endword w_corestate

/* core-ticks ( core -- n ) the timer interrupts that core has taken */
word "core-ticks", w_coreticks
    mov     x3, x30
    bl      core_state
    ldr     tos, [x0, #PC_TICKS]
    ret     x3
endword w_coreticks

/* pin ( core tid -- ) that thread runs on that core from now on: at
   once if it is the running thread, else from its next tick (or, away
   for an IPC, from the operation's end).  THROW -24 if no such core or
   thread, or for the console thread and a core but the boot core. */
word "pin", w_pin
    mov     x20, x30
    mov     x21, tos                    /* tid */
    ldr     tos, [dsp], #8              /* core */
    bl      core_state                  /* clobbers x1, x2 */
    mov     x1, x21
    mov     x30, x20
    ldr     tos, [dsp], #8
    b       thread_pin
endword w_pin

/* unpin ( tid -- ) the balancer may move that thread: an idle core takes
   it from a core where it waits (kernel/thread.S tick_balance).  A thread
   stays where it was spawned until then; PIN fixes it again.  THROW -24
   if no such thread, or for the console thread. */
word "unpin", w_unpin
    mov     x1, tos
    ldr     tos, [dsp], #8
    b       thread_unpin
endword w_unpin

/* ipi ( core -- ) interrupt that core (board_ipi): it takes a tick now
   (kernel/thread.S tick_request), which finds its inbox as it is */
word "ipi", w_ipi
    mov     x3, x30
    bl      core_state
    ldr     tos, [dsp], #8
    bl      board_ipi
    ret     x3
endword w_ipi

/* IPC (kernel/ipc.S).  Messages are four cells, m0 deepest; ep is an
   endpoint (ENDPOINT in forth/).
   CALL, RECEIVE and REPLY-RECEIVE lay out the stack for their answer and
   jump into the kernel: the answer is written there by the partner and
   the kernel returns straight to the word's caller (x21 = where, x27 the
   stack as it will be, x30 the caller).
   The timed words, SEND and REPLY call the kernel and pick the answer up
   afterwards from their TCB. */

.macro ipc_fetch                        /* -- x0 result, x1-x4, x5 */
    current_tcb x7
    ldr     x0, [x7, #T_RESULT]
    ldp     x1, x2, [x7, #T_MSG]
    ldp     x3, x4, [x7, #T_MSG + 16]
    ldr     x5, [x7, #T_PEER]
.endm

.macro ipc_result                       /* -- x0: T_RESULT */
    current_tcb x7
    ldr     x0, [x7, #T_RESULT]
.endm

.macro pop_msg4                         /* ( m0 m1 m2 m3 -- ) into x1-x4 */
    ldp     x4, x3, [dsp]
    ldp     x2, x1, [dsp, #16]
.endm

/* call ( m0 m1 m2 m3 ep -- r0 r1 r2 r3 ) */
word "call", w_call
    mov     x0, tos
    pop_msg4
    mov     x21, dsp                    /* r3 (dead) r2 r1 r0 go here */
    add     dsp, dsp, #8
    mov     x15, #0
    b       ipc_call
endword w_call

/* receive ( ep -- m0 m1 m2 m3 sender ) sender: the token REPLY takes */
word "receive", w_receive
    mov     x0, tos
    sub     dsp, dsp, #32
    mov     x21, dsp                    /* m3 m2 m1 m0 go here */
    mov     x15, #0
    b       ipc_receive
endword w_receive

/* reply-receive ( r0 r1 r2 r3 sender ep -- m0 m1 m2 m3 sender' ) the
   server's loop in one word */
word "reply-receive", w_replyreceive
    mov     x15, tos
    ldr     x0, [dsp]
    ldp     x4, x3, [dsp, #8]
    ldp     x2, x1, [dsp, #24]
    add     dsp, dsp, #8
    mov     x21, dsp
    b       ipc_reply_receive
endword w_replyreceive

/* call-timeout ( m0 m1 m2 m3 ep ticks -- r0 r1 r2 r3 true | false )
   The reply is delivered into the stack as for CALL (r3 r2 r1 r0 where
   ep m3 m2 m1 were); T_RESULT says whether it came (0) or the deadline
   passed first (-1). */
word "call-timeout", w_calltimeout
    str     x30, [sp, #-16]!
    mrs     x15, cntpct_el0
    add     x15, x15, tos
    ldr     x0, [dsp], #8
    pop_msg4
    mov     x21, dsp                    /* r3 r2 r1 r0 go here */
    bl      ipc_call
    ipc_result
    ldr     x30, [sp], #16
    cbnz    x0, 1f
    mov     tos, #-1
    ret
1:  add     dsp, dsp, #32
    mov     tos, #0
    ret
endword w_calltimeout

/* send ( m0 m1 m2 m3 ep -- ) returns once a receiver has it: the stack
   is dropped first and ipc_send returns straight to our caller */
word "send", w_send
    mov     x0, tos
    pop_msg4
    ldr     tos, [dsp, #32]
    add     dsp, dsp, #40
    mov     x15, #0
    b       ipc_send
endword w_send

/* send-timeout ( m0 m1 m2 m3 ep ticks -- flag ) true when delivered */
word "send-timeout", w_sendtimeout
    str     x30, [sp, #-16]!
    mrs     x15, cntpct_el0
    add     x15, x15, tos
    ldr     x0, [dsp], #8
    pop_msg4
    bl      ipc_send
    ipc_result
    add     dsp, dsp, #32
    cmp     x0, #0
    csetm   tos, eq
    ldr     x30, [sp], #16
    ret
endword w_sendtimeout

/* receive-timeout ( ep ticks -- m0 m1 m2 m3 sender true | false ) */
word "receive-timeout", w_receivetimeout
    str     x30, [sp, #-16]!
    mrs     x15, cntpct_el0
    add     x15, x15, tos
    ldr     x0, [dsp], #8
    mov     x21, #0
    bl      ipc_receive
    ipc_fetch
    ldr     x30, [sp], #16
    cbnz    x0, 1f
    sub     dsp, dsp, #40
    stp     x5, x4, [dsp]               /* sender, m3 */
    stp     x3, x2, [dsp, #16]          /* m2, m1 */
    str     x1, [dsp, #32]              /* m0 */
    mov     tos, #-1
    ret
1:  mov     tos, #0
    ret
endword w_receivetimeout

/* reply ( r0 r1 r2 r3 sender -- ) answer the call RECEIVE gave us */
word "reply", w_reply
    str     x30, [sp, #-16]!
    mov     x0, tos
    pop_msg4
    bl      ipc_reply
    ipc_result
    add     dsp, dsp, #32
    ldr     tos, [dsp], #8
    ldr     x30, [sp], #16
    cbnz    x0, throw_no_call
    ret
endword w_reply

throw_no_call:
    mov     x0, #-259                   /* nobody waits for this reply */
    b       throw_x0

/* ipc-buffer! ( a u -- ) the buffer our next message carries */
word "ipc-buffer!", w_ipcbufferstore
    current_tcb x0
    ldr     x1, [dsp], #8
    stp     x1, tos, [x0, #T_BUF]
    ldr     tos, [dsp], #8
    ret
endword w_ipcbufferstore

/* ipc-buffer ( sender -- a u ) the buffer the sender set with
   IPC-BUFFER! (valid while it waits: for a call, until the reply) */
word "ipc-buffer", w_ipcbuffer
    ubfx    x0, tos, #0, #TOKEN_SHIFT
    ldp     x1, x2, [x0, #T_BUF]
    str     x1, [dsp, #-8]!
    mov     tos, x2
    ret
endword w_ipcbuffer

/* prio-ok? ( -- flag ) true when no ready thread outranks the running
   one: the scheduler's invariant, for tests */
word "prio-ok?", w_priook
    mrs     x9, tpidr_el2
    current_tcb x0
    ldr     x0, [x0, #T_PRIO]
    outranked x1, x2, x0
    csetm   x0, hs                      /* none more urgent */
    dpush   x0
    ret
endword w_priook

/* slots ( -- free made ) stack slots on the free list, and made ever */
word "slots", w_slots
    mrs     x9, tpidr_el2
    b       slots_x9
endword w_slots

/* core-slots ( core -- free made ) the same on another core (a snapshot:
   exact while that core is idle).  A slot goes to the free list of the
   core its thread ended on: summed over the cores, free = made - live
   threads - one idle thread a core.  THROW -24 if no such core. */
word "core-slots", w_coreslots
    mov     x6, x30
    bl      core_state
    ldr     tos, [dsp], #8
    mov     x9, x0
    mov     x30, x6
    b       slots_x9
endword w_coreslots

/* slots_x9 ( x9 = per-core state ): SLOTS's body.  Clobbers x0-x2. */
slots_x9:
    mov     x1, #0
    mov     x2, #(1 << 20)
    ldr     x0, [x9, #PC_SLOTS]
1:  cbz     x0, 2f
    add     x1, x1, #1
    cmp     x1, x2
    b.hs    2f
    ldr     x0, [x0, #SLOT_GUARD]
    b       1b
2:  dpush   x1
    ldr     x1, [x9, #PC_NSLOTS]
    dpush   x1
    ret

/* sched-peek ( -- tcb ) the thread the scheduler would run next: the
   decision itself (CLZ on the ready bitmap, head of that queue) */
word "sched-peek", w_schedpeek
    mrs     x9, tpidr_el2
    pick_best x0
    dpush   x0
    ret
endword w_schedpeek

/* timer-interrupt-test ( -- ) take one timer interrupt now: with FIQ
   masked, move CVAL into the past, then unmask.  Entry, the handler (it
   re-arms the timer) and the return, as any timer interrupt */
word "timer-interrupt-test", w_timertest
    msr     daifset, #3
    msr     cnthp_cval_el2, xzr
    isb
    msr     daifclr, #3                 /* taken here */
    ret
endword w_timertest

/* fp-hold ( x -- x' ) x through the FP register d0 across a YIELD: other
   threads run meanwhile; x' = x when FP/SIMD state is switched right */
word "fp-hold", w_fphold
    str     x30, [sp, #-16]!
    fmov    d0, tos
    bl      thread_yield
    fmov    tos, d0
    ldr     x30, [sp], #16
    ret
endword w_fphold

/* fp-d0 ( -- x ) d0 as the thread finds it (for tests: the FP/SIMD
   state goes with a thread that moves between cores) */
word "fp-d0", w_fpd0
    fmov    x0, d0
    dpush   x0
    ret
endword w_fpd0

/* fp-spin ( x n -- x' ) x in d0 while spinning n times: the timer may
   preempt in between */
word "fp-spin", w_fpspin
    ldr     x0, [dsp], #8
    fmov    d0, x0
1:  subs    tos, tos, #1
    b.gt    1b
    fmov    tos, d0
    ret
endword w_fpspin
