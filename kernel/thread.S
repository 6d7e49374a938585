/*
 * Threads: the scheduler, context switch, spawn and exit, sleeping, and
 * the timer interrupt that preempts.
 *
 * Every thread runs Forth at EL2t in the one identity-mapped address
 * space, with its own TCB (a 4 KiB block: context, queue links, message
 * registers, its Forth user area) and a stack slot (return and data stacks
 * between guard pages).  The running thread is on no queue.
 *
 * Two ways to be switched out, two ways back in:
 *   at a call (yield, block, sleep, IPC): only what survives a Forth call
 *     is kept: x24-x28 (loop registers, tos, dsp, up), x30 and SP, in
 *     T_CTX; resumed by returning from the switch: a plain RET;
 *   preempted (the timer interrupt): the full frame, stored straight
 *     into T_FRAME by the interrupt path itself (kernel/percpu.inc
 *     tf_enter: PC_CURRENT finds it); resumed by ERET.
 * FP/SIMD registers change hands lazily (fp_trap below).
 *
 * Critical sections cost nothing.  The scheduler and IPC paths below run
 * in thread context with interrupts enabled, in the section
 * .text.critical.  A timer interrupt that arrives while the PC is in it
 * does not touch the queues: it masks the timer, notes PC_PENDING and
 * returns; the path's exit (critical_exit, outside the section) unmasks
 * the timer and the interrupt is taken there.  So no DAIF writes (12
 * cycles each) on any fast path.  The board's device IRQ (m3: the UART
 * through the AIC, kernel/console.S) is deferred the same way: masked at the
 * AIC, byte 1 of PC_PENDING, unmasked by release_deferred on the way out.
 *
 * The scheduling decision is pick_best (kernel/percpu.inc): CLZ on a
 * 64-bit ready bitmap, then the head of that priority's FIFO: O(1).
 * Paths that know more skip it: a round robin within one priority
 * (YIELD, the slice's end) rotates that queue, and a path that frees a
 * thread more urgent than the running one runs it at once (the running
 * thread was at least as urgent as every ready one, so the freed one is
 * the best): thread_wake, SPAWN, the console's interrupt.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define DEFAULT_PRIO    32
#define SLICE_US        1000            /* round-robin time slice */
#define SPSR_EL2T       0x8             /* M = EL2t, DAIF clear */

/* release_deferred ( x16 = PC_PENDING as it was, already cleared ): let
   the deferred interrupts in: byte 0 the timer (unmask it), byte 1 the
   console's receive interrupt (the board's unmasking store,
   console_rx_unmask in kernel/console.S).  Clobbers x16, x17. */
.macro release_deferred
    tst     x16, #0xff
    b.eq    8811f
    mov     x17, #1
    msr     cnthp_ctl_el2, x17
8811:
    tst     x16, #0xff00
    b.eq    8812f
    ladr    x16, console_rx_unmask
    ldp     x16, x17, [x16]
    cbz     x16, 8812f
    str     w17, [x16]
8812:
.endm

/*
 * fp_check: on the way out of a critical section, after a switch: FP/SIMD
 * stays enabled only for the thread whose state is in the registers (the
 * owner); anyone else traps at its first FP instruction (fp_trap) and
 * the state changes hands then.  Runs only when byte 2 of PC_PENDING says
 * FP is enabled.  Clobbers x16, x17.
 */
.macro fp_check
    ldrb    w16, [x9, #PC_PENDING + 2]
    cbz     w16, 8813f
    ldr     x16, [x9, #PC_CURRENT]
    ldr     x17, [x9, #PC_FPOWNER]
    cmp     x16, x17
    b.eq    8813f
    msr     cptr_el2, xzr               /* FPEN = 0: FP/SIMD traps (CPACR layout) */
    strb    wzr, [x9, #PC_PENDING + 2]
8813:
.endm

/* save_call_context t: what survives a call, into t's T_CTX */
.macro save_call_context t
    stp     x24, x25, [\t, #0]
    stp     x26, x27, [\t, #16]
    stp     x28, x30, [\t, #32]
    mov     x16, sp
    str     x16, [\t, #T_CTX_SP]
.endm

/* make_current next: next is the running thread.  (CPU time is charged
   at timer interrupts, not here: a switch stays short.) */
.macro make_current next
    str     \next, [x9, #PC_CURRENT]
    str     xzr, [\next, #T_STATE]      /* TS_RUNNING */
.endm

    .section .text.critical, "ax"

/*
 * switch_from_x10 ( x0 = next, x10 = the running thread, x9 = per-core ):
 * save the running thread's call context, resume next.  Returns when this
 * thread runs again.
 */
    .globl switch_from_x10
switch_from_x10:
    save_call_context x10               /* (T_KIND is 0: we are running) */
    ldp     x16, x17, [x0, #T_CTX_SP]   /* its SP; how it was switched out */
    cbnz    x17, resume_frame           /* it was preempted: ERET */
    /* fall through */

/* resume_ctx ( x0 = next, waiting at a call, x16 = its SP, x9 ): from
   thread context. */
resume_ctx:
    make_current x0
    ldp     x24, x25, [x0, #0]
    ldp     x26, x27, [x0, #16]
    ldp     x28, x30, [x0, #32]
    mov     sp, x16
    b       critical_exit

/*
 * switch_waiting_from_x10 ( x0 = next, x10 = the running thread, x9 ): as
 * switch_from_x10, for a partner known to be blocked at a call (an IPC
 * partner, a new thread): no need to ask how to resume it.
 */
    .globl switch_waiting_from_x10
switch_waiting_from_x10:
    save_call_context x10
    ldr     x16, [x0, #T_CTX_SP]
    b       resume_ctx

/*
 * resume_frame ( x0 = TCB with a full frame, x9 ): from thread context.
 * Interrupts are masked first: after SPSel = 1 this is EL2h, where an
 * interrupt would be a kernel panic; the ERET restores the thread's mask.
 */
resume_frame:
    msr     daifset, #3                 /* masked until the ERET, and before it is */
    make_current x0                     /* current: an interrupt saves into the current
                                           thread's T_FRAME, and this one is valid */
    msr     spsel, #1                   /* this is EL2h, where an interrupt panics */
    /* fall through */

/*
 * resume_frame_masked ( x0 = the running thread, made current, with a
 * full frame; x9 ): everything back, ERET.  EL2h, masked.  A deferred
 * interrupt is let through on the way (it arrives in the resumed
 * thread's context, right after the ERET).
 */
resume_frame_masked:
    ldr     x16, [x9, #PC_PENDING]
    cbz     x16, 1f
    strh    wzr, [x9, #PC_PENDING]
    release_deferred                    /* unmasked: pending at once */
    fp_check
1:  str     xzr, [x0, #T_KIND]
    add     x0, x0, #T_FRAME
    ldp     x1, x2, [x0, #(T_FRAME_ELR - T_FRAME)]
    msr     elr_el2, x1
    msr     spsr_el2, x2
    ldp     x30, x1, [x0, #(30 * 8)]    /* x30, SP_EL0 */
    msr     sp_el0, x1
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldp     x0, x1, [x0]
    eret

/*
 * thread_yield: round robin within the running priority: to the back of
 * its queue if a thread of its priority is ready, and that queue's head
 * runs.  The bitmap cannot change (the queue stays non-empty), so this
 * is a rotate, not a scheduling pass.  (A more urgent ready thread would
 * break the scheduler's invariant; should one be there, it is taken the
 * general way.)  Returns to x30 when this thread runs again (YIELD
 * tail-calls it).  Clobbers x0-x23.
 */
/* bench: context_switch (budget 175 cycles; the cooperative variant) */
    .globl thread_yield
thread_yield:
    mrs     x9, tpidr_el2
    current_tcb x10
    ldr     x12, [x10, #T_PRIO]
    outranked x11, x13, x12             /* x11 = 63 - the best ready, x13 = 63 - ours */
    b.hi    critical_exit               /* nobody at our level: carry on */
    b.lo    1f
    add     x3, x9, x12, lsl #4
    add     x3, x3, #PC_QUEUES
    rotate  x10, x3                     /* x0 = the next */
    mov     x1, #TS_READY
    str     x1, [x10, #T_STATE]
    b       switch_from_x10
1:  enqueue_tail x10, x12
    dequeue_best x0
    b       switch_from_x10

/*
 * thread_wake ( x11 = a thread blocked at a call, now free to run; x9,
 * x10 = the running thread ): an IPC partner's turn.  If it outranks us
 * it runs now and we keep our place at the front of our queue: we were
 * at least as urgent as every ready thread, so it is the most urgent,
 * and no scheduling pass is needed.  Else it is ready, behind its
 * peers, and we carry on.  thread_wake_p: x12 = its priority, loaded.
 * Returns (to x30) when we run again.  Clobbers x0-x4, x12, x13, x16, x17.
 */
    .globl thread_wake, thread_wake_p
thread_wake:
    ldr     x12, [x11, #T_PRIO]
thread_wake_p:
    ldr     x13, [x10, #T_PRIO]
    cmp     x12, x13
    b.gt    1f
    enqueue_tail x11, x12
    b       critical_exit
1:  enqueue_head x10, x13
    mov     x0, x11
    b       switch_waiting_from_x10

/*
 * thread_migrate ( x0 = the per-core state of another core, x9, x10 =
 * the running thread, x30 = where it is to resume there ): the running
 * thread moves to that core (it is that core's from now on: T_CORE) and
 * this one runs its best ready thread.  Its FP/SIMD state, if the
 * registers hold it, goes into its TCB first (it traps it back in over
 * there).  The point of no return is the push onto the other core's
 * inbox: from then on that core may run the thread, so this core touches
 * neither its TCB nor its stacks.  Interrupts are masked from choosing
 * the next thread until it is resumed (an interrupt would save into the
 * current thread's frame), and board_ipi uses no stack.  Clobbers x0-x23.
 */
    .globl thread_migrate
thread_migrate:
    mov     x18, x0
    ldr     x16, [x9, #PC_FPOWNER]
    cmp     x16, x10
    b.ne    1f
    mov     x19, x30
    bl      kernel_fp_begin             /* its state saved; clobbers x9, x16, x17 */
    mov     x30, x19
    mrs     x9, tpidr_el2
1:  save_call_context x10
    str     x18, [x10, #T_CORE]
    mov     x1, #TS_READY
    str     x1, [x10, #T_STATE]
    dequeue_best x0                     /* (the idle thread at least) */
    msr     daifset, #3
    make_current x0
    inbox_push x10, x18, x1, x2, x3     /* no return */
    mov     x19, x0
    mov     x0, x18
    bl      board_ipi                   /* clobbers x0-x2 */
    mov     x0, x19
    ldp     x16, x17, [x0, #T_CTX_SP]
    cbnz    x17, 2f
    ldp     x24, x25, [x0, #0]          /* resume_ctx, made current already */
    ldp     x26, x27, [x0, #16]
    ldp     x28, x30, [x0, #32]
    mov     sp, x16
    msr     daifclr, #3
    b       critical_exit
2:  msr     spsel, #1
    b       resume_frame_masked

/* find_thread: x6 = the listed thread whose id is x1 (none: to
   no_such_thread), under threads_lock, held on both ways out (x5: the
   lock; the holder cannot be switched out: a critical section); x4 = the
   boot core's per-core state, x7 = the console thread.  Clobbers x2-x7. */
.macro find_thread
    ladr    x5, threads_lock
    spin_lock x5, w2, w3
    ladr    x4, percpu
    ldr     x6, [x4, #PC_THREADS]
8830:
    cbz     x6, no_such_thread
    ldr     x7, [x6, #T_ID]
    cmp     x7, x1
    b.eq    8831f
    ldr     x6, [x6, #T_ALLNEXT]
    b       8830b
8831:
    ladr    x7, console_thread
    ldr     x7, [x7]
.endm

/*
 * thread_pin ( x0 = the per-core state of a running core, x1 = a thread
 * id, x30 = PIN's caller ): that thread belongs to that core from now on
 * (T_AFFINE).  The running thread moves at once (thread_migrate); any
 * other at its next tick where it runs (tick_move), or, away for an IPC,
 * when the operation is over (kernel/ipc.S ipc_return).  The console
 * thread stays on the boot core (its input comes from the boot core's
 * interrupt).  No such thread: THROW -24.  Clobbers x0-x23.
 */
    .globl thread_pin
thread_pin:
    mrs     x9, tpidr_el2
    current_tcb x10
    find_thread
    cmp     x7, x6
    ccmp    x0, x4, #4, eq              /* the console: only to the boot core */
    b.ne    no_such_thread
    str     x0, [x6, #T_AFFINE]
    mov     x7, #1
    str     x7, [x6, #T_PINNED]
    spin_unlock x5
    cmp     x6, x10
    b.ne    critical_exit
    cmp     x0, x9
    b.ne    thread_migrate              /* us: now (returns over there) */
    b       critical_exit
/* no_such_thread: find_thread found none (or the console thread where it
   may not go): threads_lock back, THROW -24 */
no_such_thread:
    spin_unlock x5
    mov     x0, #-24
    b       critical_throw

/*
 * thread_unpin ( x1 = a thread id, x30 = UNPIN's caller ): the balancer
 * may move that thread to an idle core (tick_balance).  Not the console
 * thread (its input is the boot core's).  No such thread: THROW -24.
 */
    .globl thread_unpin
thread_unpin:
    mrs     x9, tpidr_el2
    find_thread
    cmp     x7, x6
    b.eq    no_such_thread
    str     xzr, [x6, #T_PINNED]
    spin_unlock x5
    b       critical_exit

/* block_current ( x9, x10 = the running thread, already where it waits:
   an endpoint queue, the sleepers ): run the best ready thread.  Returns
   when woken, as switch_from_x10. */
    .globl block_current
block_current:
    dequeue_best x0
    b       switch_from_x10

/*
 * thread_sleep_until ( x0 = counter value ): block until CNTPCT reaches
 * it.  Clobbers x0-x23.
 */
    .globl thread_sleep_until
thread_sleep_until:
    mrs     x9, tpidr_el2
    current_tcb x10
    mrs     x1, cntpct_el0
    cmp     x0, x1
    b.ls    critical_exit               /* already past */
    str     x0, [x10, #T_DEADLINE]
    mov     x1, #TS_SLEEP
    str     x1, [x10, #T_STATE]
    mov     x3, x0
    mov     x20, x30                    /* the switch keeps our caller's return */
    bl      sleeper_insert
    mov     x30, x20
    b       block_current

/*
 * sleeper_insert ( x10 = thread, x3 = its deadline, already in its
 * T_DEADLINE, x9 ): into the list, earliest first; the timer is brought
 * forward if it is now the first.  Clobbers x1-x5 (keeps x0).
 */
    .globl sleeper_insert
sleeper_insert:
    add     x5, x9, #(PC_SLEEPERS - T_SNEXT)    /* the head as a "node" */
    mov     x1, x5
1:  ldr     x2, [x1, #T_SNEXT]
    cbz     x2, 2f
    ldr     x4, [x2, #T_DEADLINE]
    cmp     x4, x3
    b.hi    2f
    mov     x1, x2
    b       1b
2:  str     x2, [x10, #T_SNEXT]
    str     x10, [x1, #T_SNEXT]
    cmp     x1, x5
    b.ne    3f
    mrs     x4, cnthp_cval_el2          /* first to wake: timer earlier? */
    cmp     x3, x4
    b.hs    3f
    msr     cnthp_cval_el2, x3
3:  ret

/* sleeper_remove_x10 ( x10 = thread, x9 ): off the sleepers, no deadline.
   Clobbers x6, x7. */
    .globl sleeper_remove_x10
sleeper_remove_x10:
    str     xzr, [x10, #T_DEADLINE]
    add     x6, x9, #(PC_SLEEPERS - T_SNEXT)
1:  ldr     x7, [x6, #T_SNEXT]
    cbz     x7, 3f
    cmp     x7, x10
    b.eq    2f
    mov     x6, x7
    b       1b
2:  ldr     x7, [x10, #T_SNEXT]
    str     x7, [x6, #T_SNEXT]
    str     xzr, [x10, #T_SNEXT]
3:  ret

/*
 * thread_spawn ( x0 = xt, x1 = priority 1..63, x30 = SPAWN's caller --
 * tos = the new thread's id, or 0 ): the body of SPAWN (which tail-calls
 * it): a Forth thread running xt under CATCH, ready at once.  If it
 * outranks us it runs now, straight from here (no scheduling pass: it is
 * the most urgent), and we keep our place at the front of our queue; we
 * return to x30 when we run again (tos is in our saved context).
 * Clobbers x0-x23.
 */
/* bench: thread_spawn (budget 700 cycles) */
    .globl thread_spawn, thread_spawn_on
thread_spawn:
    mov     x18, #0                     /* here */
/* bench: remote_start (budget 175 cycles; spawn-on to an idle core, seen done) */
/* bench: dispatch_all (budget 175 cycles; spawn-on to each other core, all seen done) */
/* thread_spawn_on ( x0, x1 as SPAWN, x18 = the per-core state of the core
   it is to run on, 0: this one ): made here, then handed over (its
   inbox, an IPI); it runs there when that core's scheduler says so. */
thread_spawn_on:
    mov     x19, x30
    mov     x20, x0
    mov     x21, x1
    mrs     x9, tpidr_el2
    ldr     x22, [x9, #PC_SLOTS]        /* a stack slot from the free list */
    cbz     x22, 8f
    ldr     x2, [x22, #SLOT_GUARD]
    str     x2, [x9, #PC_SLOTS]
1:  bl      kalloc_block                /* the TCB */
    cbz     x0, 9f
    mov     x10, x0
    ladr    x1, thread_start
    bl      tcb_init                    /* x10 = TCB, x1 = start, x20 = xt, x21, x22 */
    mov     tos, x6                     /* its id */
    cbnz    x18, 4f                     /* for another core? */
3:  mov     x30, x19
    current_tcb x11
    ldr     x12, [x11, #T_PRIO]
    cmp     x21, x12
    b.gt    2f
    enqueue_tail x10, x21
    b       critical_exit
2:  enqueue_head x11, x12               /* it outranks us: it runs now */
    save_call_context x11               /* (tos: its id, for when we run again) */
    make_current x10
    mov     x24, #0                     /* its first context, as tcb_init wrote it, */
    mov     x25, #0                     /* from registers rather than back from */
    mov     tos, #0                     /* memory */
    add     dsp, x22, #(SLOT_S0 >> 12), lsl #12
    add     up, x10, #T_USER
    add     x16, x22, #(SLOT_R0 >> 12), lsl #12
    mov     sp, x16
    ladr    x30, thread_start
    b       critical_exit
4:  cmp     x18, x9
    b.eq    3b
    str     x18, [x10, #T_CORE]         /* to another core: its inbox, its IPI */
    str     x18, [x10, #T_AFFINE]
    mov     x1, #TS_READY
    str     x1, [x10, #T_STATE]
    inbox_push x10, x18, x1, x2, x3
    mov     x0, x18
    bl      board_ipi
    mov     x30, x19
    b       critical_exit
8:  bl      slot_new                    /* none free: make one (slow, rare) */
    mov     x22, x0
    cbnz    x22, 1b
    b       7f
9:  mov     x0, x22                     /* no TCB: the slot goes back */
    bl      slot_free
7:  mov     tos, #0
    mov     x30, x19
    b       critical_exit

.macro tcb_clear
    .irp    off, 0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 272
    stp     xzr, xzr, [x10, #\off]
    .endr
.endm

/*
 * tcb_init ( x10 = fresh TCB, x1 = where it starts (its first x30),
 * x20 = its xt, x21 = priority, x22 = stack slot, x9 -- x6 = its id ):
 * the fields a new thread needs (the rest of the block is never read
 * before it is written), its user area, its first call context, its id,
 * and onto the all-threads list.  0 .. T_HOT_END is cleared with
 * unrolled pair stores: 16 bytes a store.  (DC ZVA would do 64 bytes an
 * instruction, DCZID_EL0 = 4 on M1 and in the emulator, but the cycle
 * model charges it 8 against 4 for four STPs, and nothing measures it on
 * an M3 yet.)  Clobbers x1-x7.
 */
tcb_init:
    tcb_clear
.if T_HOT_END != 288
.error "thread.S tcb_init: the unrolled clear covers 0 .. 288: T_HOT_END moved"
.endif
    ladr    x5, thread_ids
    mov     x6, #1
    ldadd   x6, x6, [x5]                /* its id: one count for every core */
    ladr    x5, threads_lock            /* onto the one list (the boot core's) */
    spin_lock x5, w2, w3
    ladr    x4, percpu
    ldr     x7, [x4, #PC_THREADS]
    str     x10, [x4, #PC_THREADS]
    str     x7, [x10, #T_ALLNEXT]       /* (T_ALLPREV 0: first on the list) */
    cbz     x7, 1f
    str     x10, [x7, #T_ALLPREV]
1:  spin_unlock x5
tcb_fill:                               /* ( ... x6 = its id ): off the list (an idle thread) */
    str     x9, [x10, #T_CORE]
    stp     x9, xzr, [x10, #T_AFFINE]   /* its own core; at home (T_AWAYRET 0) */
    mov     x5, #1
    str     x5, [x10, #T_PINNED]        /* it stays there (UNPIN lets it go) */
    add     x2, x22, #(SLOT_R0 >> 12), lsl #12      /* its empty return stack */
    add     x3, x22, #(SLOT_S0 >> 12), lsl #12      /* its empty data stack */
    add     x4, x10, #T_USER
    str     x3, [x10, #24]              /* x27 = dsp (x24-x26 = 0: tos 0) */
    stp     x4, x1, [x10, #32]          /* x28 = up, x30 = where it starts */
    str     x2, [x10, #T_CTX_SP]        /* SP: the empty return stack; T_KIND 0 */
    str     x21, [x10, #T_PRIO]
    stp     x6, x20, [x10, #T_ID]       /* id, xt */
    str     x22, [x10, #T_SLOT]
    /* the user area: its stacks, BASE 10, nothing else set */
    mov     x5, #10
    stp     x5, xzr, [x4, #U_BASE]      /* BASE, STATE */
    stp     xzr, x3, [x4, #U_HANDLER]   /* HANDLER, S0 */
    add     x5, x22, #(2 * SLOT_GUARD + SLOT_RSTACK)
    stp     x2, x5, [x4, #U_R0]         /* R0, SLIMIT */
    str     xzr, [x4, #U_SOURCEID]
    add     x5, x22, #SLOT_GUARD
    str     x5, [x4, #U_RLIMIT]
    ret
.if U_STATE != U_BASE + 8 || U_S0 != U_HANDLER + 8 || U_SLIMIT != U_R0 + 8
.error "thread.S tcb_init: pairs of user-area fields must be adjacent"
.endif
.if SLOT_R0 % 4096 || SLOT_S0 % 4096 || SLOT_S0 >> 24
.error "thread.S: SLOT_R0 and SLOT_S0 are ADD immediates shifted by 12"
.endif

/* slot_free ( x0 = slot, x9 ) Clobbers x2. */
slot_free:
    ldr     x2, [x9, #PC_SLOTS]
    str     x2, [x0, #SLOT_GUARD]
    str     x0, [x9, #PC_SLOTS]
    ret

/* tcb_unlink ( x0 = TCB ): off the all-threads list, under its lock.
   Clobbers x1-x5. */
tcb_unlink:
    ladr    x3, threads_lock
    spin_lock x3, w4, w5
    ldp     x1, x2, [x0, #T_ALLNEXT]    /* next, prev */
    cbz     x2, 1f
    str     x1, [x2, #T_ALLNEXT]
    b       2f
1:  ladr    x4, percpu
    str     x1, [x4, #PC_THREADS]
2:  cbz     x1, 3f
    str     x2, [x1, #T_ALLPREV]
3:  spin_unlock x3
    ret

/*
 * slot_new ( x9 -- x0 = a new stack slot or 0 ): carved from never-used
 * memory (bump_alloc: page-mapped) with its three guard pages unmapped
 * (once per slot ever).  Valid -> invalid is a break, allowed as it is;
 * each page still needs its TLBI, but the three share one DSB before,
 * one DSB after and one ISB, instead of a sequence each.  The three
 * level-3 entries are found with one walk when the slot lies in one
 * 32 MiB block (one level-3 table), else one walk each; a guard that is
 * not page-mapped (a kernel bug) goes to mmu_unmap_page, which says so.
 * Critical-section code (SPAWN's): another thread cannot spawn in its
 * middle.  Clobbers x0-x8, x10-x15 (keeps x9).
 */
slot_new:
    mov     x6, x30
    movq    x0, SLOT_SIZE
    bl      bump_alloc
    cbz     x0, 9f
    mrs     x2, tpidr_el2
    ldr     x3, [x2, #PC_NSLOTS]
    add     x3, x3, #1
    str     x3, [x2, #PC_NSLOTS]
    mov     x5, x0                      /* the slot; x4-x9 survive the MMU calls */
    add     x7, x5, #(SLOT_GUARD + SLOT_RSTACK)     /* the guard between the stacks */
    movq    x4, SLOT_S0
    add     x4, x5, x4                  /* the guard above the data stack */
    bl      mmu_l3_entry                /* the guard below the return stack */
    cbz     x1, 7f
    mov     x10, x1
    eor     x0, x4, x5
    lsr     x0, x0, #25                 /* all in one 32 MiB block? */
    cbnz    x0, 3f
    add     x11, x10, #((SLOT_GUARD + SLOT_RSTACK) / 16384 * 8)
    add     x12, x10, #(SLOT_S0 / 16384 * 8)
    b       4f
3:  mov     x0, x7
    bl      mmu_l3_entry
    cbz     x1, 7f
    mov     x11, x1
    mov     x0, x4
    bl      mmu_l3_entry
    cbz     x1, 7f
    mov     x12, x1
4:  lsr     x0, x5, #12                 /* the TLBIs' operands: VA >> 12 */
    lsr     x1, x7, #12
    lsr     x2, x4, #12
    str     xzr, [x10]                  /* the three breaks */
    str     xzr, [x11]
    str     xzr, [x12]
    dsb     ishst
    tlbi    vae2is, x0
    tlbi    vae2is, x1
    tlbi    vae2is, x2
    dsb     ish
    isb
    mov     x0, x5
    ret     x6
7:  bl      mmu_unmap_page              /* x0 not page-mapped: this stops, saying so */
9:  mov     x0, #0
    ret     x6
.if SLOT_GUARD != 16384 || (SLOT_GUARD + SLOT_RSTACK) % 16384 || SLOT_S0 % 16384 || SLOT_SIZE > 32 * 1024 * 1024
.error "thread.S slot_new: guards are 16 KiB pages inside one level-3 table's reach"
.endif

/* ---- outside the critical section ---------------------------------- */

    .text

/*
 * critical_exit ( x9 = per-core ): the way out of every critical path.
 * If a timer interrupt came meanwhile, unmask the timer: being outside
 * the section, the interrupt is taken right here.
 */
    .globl critical_exit
critical_exit:
    ldr     x16, [x9, #PC_PENDING]
    cbnz    x16, 1f
    ret
1:  strh    wzr, [x9, #PC_PENDING]      /* the deferred interrupts: taken now */
    release_deferred
    fp_check
    isb
    ret

/* critical_throw ( x0 = THROW code, x9 ): leave a critical path by THROW. */
    .globl critical_throw
critical_throw:
    mov     x18, x0                     /* (critical_exit keeps x18; the BL takes x30) */
    bl      critical_exit
    mov     x0, x18
    b       throw_x0

/*
 * threads_init: the running console becomes thread 1 (its user area moves
 * into its TCB), and the idle thread is made.  Called once from
 * forth_cold, at EL2t, after alloc_init.  Clobbers x0-x23.
 */
    .globl threads_init
threads_init:
    mov     x23, x30
    mrs     x9, tpidr_el2
    mrs     x0, cntfrq_el0              /* slice in counter ticks, from CNTFRQ */
    mov     x1, #SLICE_US
    mul     x0, x0, x1
    movq    x1, 1000000
    udiv    x0, x0, x1
    str     x0, [x9, #PC_SLICE]

    bl      kalloc_block                /* the console's TCB */
    mov     x10, x0
    mov     x21, #DEFAULT_PRIO
    mov     x22, #0                     /* its stacks are the boot ones */
    mov     x1, #0                      /* it is running: no first context */
    mov     x20, #0
    bl      tcb_init
    add     x1, x10, #T_USER            /* its user area moves in */
    mov     x2, #0
1:  ldr     x3, [up, x2]
    str     x3, [x1, x2]
    add     x2, x2, #8
    cmp     x2, #U_SIZE
    b.lo    1b
    mov     up, x1
    str     x10, [x9, #PC_CURRENT]
    mrs     x1, cntpct_el0
    str     x1, [x9, #PC_LASTTICK]

    /* the idle thread: priority 0, always ready when nothing else is */
    bl      slot_new
    mov     x22, x0
    bl      kalloc_block
    mov     x10, x0
    mov     x21, #0
    ladr    x1, idle_loop
    mov     x20, #0
    bl      tcb_init
    str     x10, [x9, #PC_IDLE]         /* (the balancer's test of an idle core) */
    enqueue_tail x10

    msr     cptr_el2, xzr               /* FP/SIMD traps: switched lazily (fp_trap) */
    isb
    strb    wzr, [x9, #PC_PENDING + 2]
    str     xzr, [x9, #PC_FPOWNER]
    bl      timer_start
    msr     daifclr, #3                 /* interrupts on: the timer may preempt */
    ret     x23

/*
 * The first code of a Forth thread: run its xt under CATCH; an uncaught
 * THROW is reported with the thread's id; then exit.
 */
thread_start:
    current_tcb x0
    ldr     x0, [x0, #T_XT]
    dpush   x0
    bl      w_catch
    cbz     tos, 1f
    mov     x19, tos
    ladr    x0, msg_thread              /* "thread N terminated:" in one piece */
    current_tcb x1
    ldr     x1, [x1, #T_ID]
    ladr    x2, msg_terminated
    bl      console_say
    mov     x0, x19
    bl      report_error
    bl      console_newline
1:  b       thread_exit

/*
 * thread_exit: the running thread ends.  Moves to the exception stack
 * (SP_EL2), interrupts masked, so its own stacks can go back to the free
 * lists, then resumes the best ready thread.  Never returns.
 */
    .globl thread_exit
thread_exit:
    msr     daifset, #3
    msr     spsel, #1                   /* off the thread's stacks */
    mrs     x9, tpidr_el2
    current_tcb x10
    mov     x0, #TS_DEAD
    str     x0, [x10, #T_STATE]
    ldr     x0, [x9, #PC_FPOWNER]       /* its FP state dies with it */
    cmp     x0, x10
    b.ne    2f
    str     xzr, [x9, #PC_FPOWNER]
2:
    bl      sleeper_remove_x10          /* a dead thread has no deadline */
    ldr     x0, [x10, #T_SLOT]
    cbz     x0, 1f
    bl      slot_free
1:  mov     x0, x10
    bl      tcb_unlink
    mov     x0, x10
    bl      kfree_block
    mrs     x9, tpidr_el2
    dequeue_best x0
    b       resume_from_handler

/*
 * resume_from_handler ( x0 = next, x9 = per-core ), from exception
 * context (EL2h, masked): a frame by ERET (resume_frame_masked); a call
 * context without one: SPSel = 0 is EL2t on its stack, the mask comes
 * off and a RET returns from its switch (no ELR, SPSR, SP_EL0 writes, no
 * ERET).  Its context is loaded before the mask comes off: an interrupt
 * at the RET finds its registers and stack in place.  The exception
 * stack is empty here: nothing of the old thread stays on it.
 */
    .globl resume_from_handler
resume_from_handler:
    make_current x0
    ldp     x16, x17, [x0, #T_CTX_SP]   /* its SP; how it was switched out */
    cbnz    x17, resume_frame_masked
    ldp     x24, x25, [x0, #0]
    ldp     x26, x27, [x0, #16]
    ldp     x28, x30, [x0, #32]
    msr     spsel, #0                   /* EL2t: the thread's own SP */
    mov     sp, x16
    ldr     x16, [x9, #PC_PENDING]
    cbnz    x16, 3f
    msr     daifclr, #0xf               /* as the ERET of SPSR = EL2t would */
    ret
3:  strh    wzr, [x9, #PC_PENDING]      /* a deferred interrupt: taken at the RET */
    release_deferred
    fp_check
    isb
    msr     daifclr, #0xf
    ret

/* ---- time ------------------------------------------------------------- */

/* timer_start: the slice timer on, at now + slice. Clobbers x0, x1, x9. */
timer_start:
    mrs     x9, tpidr_el2
    mrs     x0, cntpct_el0
    ldr     x1, [x9, #PC_SLICE]
    add     x0, x0, x1
    msr     cnthp_cval_el2, x0
    mov     x0, #1                      /* ENABLE, not masked */
    msr     cnthp_ctl_el2, x0
    isb
    ret

/*
 * timer_from_thread: the timer's interrupt from a thread (FIQ on Apple
 * cores; IRQ through the GIC on the virt board: board_timer_ack/eoi say
 * which).  The interrupted registers go straight into the running
 * thread's TCB frame (kernel/percpu.inc tf_enter), only as many as the
 * path needs:
 *   - the tick proper clobbers x0-x7 and x30 (tf_enter); a tick that
 *     switches nothing restores them and ERETs: ELR, SPSR and SP_EL0 are
 *     never read or written;
 *   - waking a sleeper (IPC timeouts, the console's poll period, MS)
 *     needs x8-x15 as well (tf_save_wide);
 *   - a tick that switches completes the frame where it is (tf_save_rest)
 *     and resumes the next thread: no copy.
 * The work: wake every sleeper whose time has come, re-arm the timer for
 * the next of (slice end, first sleeper), charge the CPU time since the
 * last tick to the thread found running, and decide: a ready thread that
 * outranks the running one runs (the running one keeps its place at the
 * front), an equal one takes its turn (round robin: the running one
 * rotates to the back; the timer runs at least once a slice).
 * Inside a critical section it only defers (masks the timer, sets byte 0
 * of PC_PENDING) and returns: critical_exit lets it in.
 */
/* bench: timer_interrupt (budget 1050 cycles) */
    .globl timer_from_thread
timer_from_thread:
    tf_enter                            /* x0 = per-core, x7 = the running thread's T_FRAME */
    .globl timer_entered
timer_entered:                          /* a board's IRQ vector that saved the frame itself */
    mov     x4, x0
    bl      board_timer_ack             /* x0 = token, x1 = 1 if the timer is due, 2: an IPI */
    cbz     x1, tick_return
    tbnz    x1, #1, tick_request
    mrs     x1, elr_el2
    interrupted_at x1, tick_defer       /* x29 = 1: in the allocators, no switch */
    /* fall through */

/* the tick proper ( x0 = token, x4 = per-core, x7 = the frame, x29 = 1 if
   it must not switch ): x0-x6 and x30 are free */
tick:
    ldr     x1, [x4, #PC_INTR]          /* a Ctrl-C not yet delivered */
    cbnz    x1, tick_intr
tick_go:
    sub     x6, x7, #T_FRAME            /* the running thread */
    mrs     x3, cntpct_el0              /* now */
    ldp     x5, x2, [x4, #PC_LASTTICK]  /* the last tick, the first sleeper */
    ldr     x1, [x6, #T_RUNTIME]
    str     x3, [x4, #PC_LASTTICK]
    sub     x5, x3, x5                  /* CPU time, sampled: the time since the */
    add     x1, x1, x5                  /* last tick goes to the thread found */
    str     x1, [x6, #T_RUNTIME]        /* running */
    ldp     x1, x5, [x4, #PC_SLICE]     /* the slice, the ticks so far */
    add     x5, x5, #1
    str     x5, [x4, #PC_TICKS]
    add     x1, x3, x1                  /* next expiry: the slice's end, */
    ldr     x5, [x4, #PC_INBOX]         /* threads another core sent here */
    cbnz    x5, tick_wake
    cbz     x2, 1f
    ldr     x5, [x2, #T_DEADLINE]       /* or the first sleeper's deadline */
    cmp     x5, x3
    b.ls    tick_wake                   /* due: wake the sleepers */
    cmp     x5, x1
    csel    x1, x5, x1, lo
1:  ldr     x5, [x6, #T_PRIO]
    cbz     x5, tick_idle               /* the idle thread runs: maybe no tick at all */
    msr     cnthp_cval_el2, x1
tick_eoi:
    bl      board_timer_eoi             /* x0 = token; clobbers x0-x3 */
    ldp     x1, x2, [x6, #T_AFFINE]     /* pinned elsewhere (PIN), and not away */
    cmp     x1, x4                      /* for an IPC (T_AWAYRET 0)? */
    ccmp    x2, #0, #0, ne
    b.eq    tick_move
    ldr     x1, [x4, #PC_READY]
    lsr     x1, x1, #1                  /* a thread waits here (not the idle one): */
    cbnz    x1, tick_balance            /*   an idle core may take it */
tick_back:
    outranked x3, x5, x5, x4            /* x3 = 63 - the best ready, x5 = 63 - ours */
    b.ls    tick_switch                 /* as urgent as we are: switch */
    tf_leave

/* tick_balance ( x4, x5 = our priority, x6, x7, x29 ): load balancing by
   the owner of the work, so no core touches another's queues.  The head
   of the best ready queue, if the balancer may move it (UNPIN: T_PINNED
   0) and it is not away for an IPC, goes to the first core found idle
   (its idle thread running, its inbox empty: a look, not a promise; two
   cores may send to one, which then has work for both) with the hand-over
   of thread_migrate (its FP/SIMD state into its TCB if the registers hold
   it, then the push, the point of no return, and the IPI).  It belongs
   there from then on (T_AFFINE).  Not in the allocators (x29); nothing
   found: nothing done.  Back to tick_back with x4-x7 as they were. */
tick_balance:
    cbnz    x29, tick_back
    ldr     x1, [x4, #PC_READY]
    clz     x2, x1
    sub     x3, x4, x2, lsl #4
    ldr     x0, [x3, #PC_QUEUE_TOP]     /* the head of the best queue */
    ldr     x1, [x0, #T_PINNED]
    ldr     x2, [x0, #T_AWAYRET]
    orr     x1, x1, x2
    cbnz    x1, tick_back               /* it stays */
    tf_save_wide
    ladr    x8, smp_cores
    ldr     x9, [x8]
    ladr    x8, core_table
    mov     x10, #0
81: cmp     x10, x9
    b.hs    88f                          /* no core idle */
    ldr     x11, [x8, x10, lsl #3]
    add     x10, x10, #1
    cmp     x11, x4
    b.eq    81b
    ldr     x12, [x11, #PC_CURRENT]
    ldr     x13, [x11, #PC_IDLE]
    cmp     x12, x13
    b.ne    81b
    ldr     x12, [x11, #PC_INBOX]
    cbnz    x12, 81b
    mov     x9, x4                      /* found: x11 */
    dequeue_best x10                    /* (x0's thread) */
    ldr     x1, [x9, #PC_FPOWNER]
    cmp     x1, x10
    b.ne    82f
    mov     x2, #(3 << 20)              /* it owns the registers (the running */
    msr     cptr_el2, x2                /* thread does not: FP is off): on, */
    isb                                 /* saved, off again */
    fp_save x1, x2
    str     xzr, [x9, #PC_FPOWNER]
    msr     cptr_el2, xzr
    isb
82: str     x11, [x10, #T_CORE]
    str     x11, [x10, #T_AFFINE]
    inbox_push x10, x11, x1, x2, x3     /* no return */
    mov     x0, x11
    bl      board_ipi
    mov     x4, x9
88: tf_restore_wide
    b       tick_back

/* tick_move ( x1 = its core, x4, x6 = the running thread, x7, x29 ): a
   thread pinned to another core (PIN) goes there at its first tick here:
   its frame completed, its FP/SIMD state (if the registers hold it) into
   its TCB, onto that core's inbox (the point of no return), an IPI, and
   this core's best ready thread runs.  Not in the allocators (x29): the
   next tick. */
tick_move:
    cbnz    x29, 73f
    tf_save_wide
    mov     x9, x4
    mov     x18, x1
    tf_save_rest
    ldr     x1, [x9, #PC_FPOWNER]
    cmp     x1, x6
    b.ne    71f
    ldrb    w2, [x9, #PC_PENDING + 2]
    cbnz    w2, 72f
    mov     x2, #(3 << 20)              /* FP off for it: on, to save it */
    msr     cptr_el2, x2
    isb
    mov     w2, #1
    strb    w2, [x9, #PC_PENDING + 2]   /* (off again for the next: fp_check) */
72: fp_save x1, x2                     /* (x1 = it: the macro clobbers its TCB register) */
    str     xzr, [x9, #PC_FPOWNER]
71: str     x18, [x6, #T_CORE]
    mov     x1, #TS_READY
    str     x1, [x6, #T_STATE]
    dequeue_best x0
    inbox_push x6, x18, x1, x2, x3
    mov     x19, x0
    mov     x0, x18
    bl      board_ipi
    mov     x0, x19
    b       resume_from_handler
73: outranked x3, x5, x5, x4
    b.ls    tick_switch
    tf_leave

/* tick_idle ( x1 = the next expiry, x2 = the first sleeper or 0 ): with
   nothing ready and nobody asleep, the core needs no tick: the timer
   goes off (tickless: it sleeps in WFI until an interrupt, another
   core's IPI or a device, brings work; tick_request turns it on again). */
tick_idle:
    msr     cnthp_cval_el2, x1
    cbnz    x2, tick_eoi
    ldr     x3, [x4, #PC_READY]
    cbnz    x3, tick_eoi
    msr     cnthp_ctl_el2, xzr          /* disabled */
    b       tick_eoi

/* tick_request: an IPI (board_timer_ack said 2): another core left work in
   our inbox.  The tick is made due now, timer on: it comes at once,
   or where a critical section lets it (tick_defer), and takes the inbox
   (tick_wake).  So a remote wake-up is one path, the tick's. */
/* bench: ipi (budget 175 cycles; an IPI to an idle core, its tick seen) */
tick_request:
    mrs     x1, cntpct_el0
    msr     cnthp_cval_el2, x1
    mov     x1, #1                      /* ENABLE, not masked */
    msr     cnthp_ctl_el2, x1
    b       tick_return

/* tick_intr: a Ctrl-C the console's interrupt could not deliver at once
   (kernel/console.S console_intr_deliver: the console thread was running
   in the allocators): now, if it runs and is outside them, its return
   from this interrupt goes to user_interrupt.  Clobbers x1, x2. */
tick_intr:
    cbnz    x29, tick_go
    ladr    x1, console_thread
    ldr     x1, [x1]
    sub     x2, x7, #T_FRAME
    cmp     x1, x2
    b.ne    tick_go
    ladr    x1, user_interrupt
    msr     elr_el2, x1
    str     xzr, [x4, #PC_INTR]
    b       tick_go

/* inside a critical section: only note it and let the line drop; the
   section's exit takes the interrupt */
tick_defer:
    mov     w1, #1
    strb    w1, [x4, #PC_PENDING]       /* byte 0: the timer */
    mov     x1, #3                      /* ENABLE | IMASK: the line drops */
    msr     cnthp_ctl_el2, x1
tick_return:
    bl      board_timer_eoi             /* x0 = token */
    tf_leave

/* ( x0 = token, x1 = the slice's end, x3 = now, x4 = per-core, x7 ) */
tick_wake:
    tf_save_wide
    mov     x9, x4
    mov     x11, x3
    mov     x12, x1
    mov     x14, x7                     /* the calls below clobber x1-x8 */
    mov     x15, x0
    add     x8, x9, #PC_INBOX           /* threads other cores sent: all of them, */
    swpal   xzr, x10, [x8]              /* in the order they were sent */
    mov     x13, #0
5:  cbz     x10, 7f
    ldr     x8, [x10, #T_NEXT]
    str     x13, [x10, #T_NEXT]
    mov     x13, x10
    mov     x10, x8
    b       5b
7:  cbz     x13, 1f
    mov     x10, x13
    ldr     x13, [x10, #T_NEXT]
    enqueue_tail x10
    b       7b
1:  ldr     x10, [x9, #PC_SLEEPERS]     /* every sleeper whose time has come */
    cbz     x10, 4f
    ldr     x1, [x10, #T_DEADLINE]
    cmp     x1, x11
    b.hi    3f
    ldr     x1, [x10, #T_SNEXT]
    str     x1, [x9, #PC_SLEEPERS]
    str     xzr, [x10, #T_SNEXT]
    str     xzr, [x10, #T_DEADLINE]
    ldr     x1, [x10, #T_STATE]
    cmp     x1, #TS_SLEEP
    b.eq    2f
    cmp     x1, #TS_INPUT
    b.ne    6f
    bl      console_rx_timeout          /* the console's poll period: look again */
    b       2f
6:  mov     x0, x10                     /* timed out in IPC: leave the endpoint */
    bl      ipc_timeout
2:  enqueue_tail x10
    b       1b
3:  cmp     x1, x12                     /* the first not yet due */
    csel    x12, x1, x12, lo
4:  msr     cnthp_cval_el2, x12
    mov     x0, x15
    bl      board_timer_eoi
    mov     x7, x14
    sub     x6, x7, #T_FRAME
    ldr     x5, [x6, #T_PRIO]
    outranked x3, x5, x5
    b.ls    tick_switch_wide
    tf_restore_wide
    tf_leave

/* ( x3 = 63 - the best ready priority, x4 = per-core, x5 = 63 - ours,
   x6 = the running thread, x7 = its frame; x0-x7, x29, x30 saved ).  Not
   while the thread is in the allocators (the no-switch region,
   linker/kernel.ld): another thread could allocate in their middle; the
   timer comes back soon and the switch is made then. */
/* bench: context_switch (budget 175 cycles; the budget's variant: preempted by the timer) */
tick_switch:
    cbnz    x29, 2f
    tf_save_wide
    mov     x9, x4
    b       1f
2:  mov     x9, x4
    timer_soon x0, x1
    tf_leave
tick_switch_wide:                       /* ( x9; x8-x15 saved too ) */
    cbnz    x29, 2f
1:  tf_save_rest                        /* the frame is complete, in its TCB */
    cmp     x3, x5
    b.ne    1f
    sub     x3, x9, x5, lsl #4          /* our own queue: round robin */
    add     x3, x3, #PC_QUEUE_TOP
    rotate  x6, x3                      /* x0 = the next */
    mov     x1, #TS_READY
    str     x1, [x6, #T_STATE]
    b       resume_from_handler
1:  enqueue_head x6                     /* outranked: we keep our place */
    dequeue_best x0
    b       resume_from_handler
2:  timer_soon x0, x1                   /* in the allocators: not now */
    tf_restore_wide
    tf_leave

/*
 * fp_trap: a thread's FP/SIMD instruction trapped (EC 0x07, from
 * kernel/vectors.S with the frame pushed).  Lazy switching: FP on; if the
 * registers hold another thread's state, it goes to that thread's TCB and
 * ours comes back (if we ever saved any); we are the owner; the
 * instruction runs again.
 */
    .globl fp_trap
fp_trap:
    mrs     x9, tpidr_el2
    mov     x0, #(3 << 20)              /* FPEN = 0b11 */
    msr     cptr_el2, x0
    isb
    mov     w0, #1
    strb    w0, [x9, #PC_PENDING + 2]
    ldr     x1, [x9, #PC_FPOWNER]
    current_tcb x2
    cmp     x1, x2
    b.eq    2f
    cbz     x1, 1f
    fp_save x1, x3
1:  str     x2, [x9, #PC_FPOWNER]
    ldr     x4, [x2, #T_FPSAVED]
    cbz     x4, 2f
    fp_load x2, x3
2:  frame_pop_eret

/*
 * kernel_fp_begin: kernel code about to use the vector registers (the
 * framebuffer's NEON drawing, kernel/fbcon.S), or a thread about to
 * leave the core (thread_migrate): the owner's state is saved to its
 * TCB first, and FP is enabled until the section's exit (PC_PENDING
 * byte 2: critical_exit's fp_check turns it off again).  In the critical
 * section: a tick between the look at PC_FPOWNER and the save would let
 * another thread take the registers, and with console_lock held no switch
 * may come at all.  Clobbers x9, x16, x17.
 */
    .section .text.critical, "ax"
    .globl kernel_fp_begin
kernel_fp_begin:
    mrs     x9, tpidr_el2
    ldr     x16, [x9, #PC_FPOWNER]
    cbz     x16, 1f
    str     xzr, [x9, #PC_FPOWNER]
    ldrb    w17, [x9, #PC_PENDING + 2]
    cbnz    w17, 2f
    mov     x17, #(3 << 20)             /* it is not running: FP is off */
    msr     cptr_el2, x17
    isb
2:  fp_save x16, x17
    b       3f
1:  ldrb    w17, [x9, #PC_PENDING + 2]
    cbnz    w17, 4f
    mov     x17, #(3 << 20)             /* FPEN = 0b11 (CPTR_EL2 in the CPACR layout
                                           under E2H = 1: Arm ARM D23.2 CPTR_EL2) */
    msr     cptr_el2, x17
    isb
3:  mov     w17, #1
    strb    w17, [x9, #PC_PENDING + 2]
4:  ret
    .text

/*
 * thread_idle_make ( x9 = a core's per-core state, not yet started -- x0 =
 * 0 or -1 ): from the boot core, before it starts that core: its idle
 * thread (a TCB and a stack slot from here; no id, not on the list: the
 * listing is of threads someone made), current there from the start,
 * and its slice.  A slot that has one already (its core was refused and
 * the slot is used again) keeps it.  Clobbers x0-x23 but x9.
 */
    .globl thread_idle_make, thread_idle_enter
thread_idle_make:
    ldr     x0, [x9, #PC_IDLE]
    cbz     x0, 1f
    mov     x0, #0                      /* made for a core that was refused: never ran */
    ret
1:  mov     x23, x30
    mov     x19, x9
    mrs     x9, tpidr_el2
    bl      slot_new
    mov     x22, x0
    cbz     x0, 9f
    bl      kalloc_block
    mov     x9, x19
    cbz     x0, 9f
    mov     x10, x0
    tcb_clear
    mov     x21, #0
    ladr    x1, idle_core
    mov     x20, #0
    mov     x6, #0
    bl      tcb_fill
    str     x10, [x9, #PC_IDLE]
    str     x10, [x9, #PC_CURRENT]
    mrs     x0, tpidr_el2
    ldr     x0, [x0, #PC_SLICE]
    str     x0, [x9, #PC_SLICE]
    mov     x0, #0
    ret     x23
9:  mov     x9, x19
    mov     x0, #-1
    ret     x23

/*
 * thread_idle_enter ( x9 = per-core ): a started core becomes its idle
 * thread, made by thread_idle_make: from exception context (EL2h,
 * masked, on its exception stack) to EL2t on the idle thread's stacks,
 * at idle_loop, which lets interrupts in.  No tick yet: the timer stays
 * off until an IPI brings work (tick_request).  Never returns.
 */
thread_idle_enter:
    ldr     x0, [x9, #PC_IDLE]
    mrs     x1, cntpct_el0
    str     x1, [x9, #PC_LASTTICK]
    msr     cptr_el2, xzr               /* FP/SIMD traps: switched lazily (fp_trap) */
    isb
    strb    wzr, [x9, #PC_PENDING + 2]
    str     xzr, [x9, #PC_FPOWNER]
    ldp     x24, x25, [x0, #0]
    ldp     x26, x27, [x0, #16]
    ldp     x28, x30, [x0, #32]
    ldr     x16, [x0, #T_CTX_SP]
    msr     spsel, #0
    mov     sp, x16
    ret

/*
 * The idle thread: zero pages ahead of time while nothing else wants the
 * core, one page a turn (zpool_fill: zeroed with interrupts enabled, so
 * any wake-up preempts it at once), until the core's zeroed-page stack
 * holds IDLE_ZPAGES or no page is left; then wait for interrupts.  This
 * is what keeps a demand-zero fault on its fast path (a page popped, not
 * 16 KiB zeroed: kernel/alloc.S).  The target is below the stack's
 * capacity so that idle time never ties up more than 1 MiB of RAM.
 */
IDLE_ZPAGES = 64
idle_loop:
    msr     daifclr, #3
1:  mrs     x9, tpidr_el2
    ldr     x1, [x9, #PC_ZTOP]          /* next free cell */
    ldr     x2, [x9, #PC_ZBASE]         /* first cell */
    sub     x19, x1, x2
    lsr     x19, x19, #3                /* pages held */
    cmp     x19, #IDLE_ZPAGES
    b.hs    2f
    mov     x0, #1
    bl      zpool_fill                  /* x0 = pages held now */
    cmp     x0, x19
    b.hi    1b                          /* one more zeroed: go on */
2:  nop                                 /* (the QEMU runner's breakpoint: stepping over */
    wfi                                 /*   a WFI waits for an interrupt) enough, or no page */
    b       1b

/* idle_core: another core's idle thread: it waits for interrupts.  (No
   zeroing ahead: that core's page lists start empty, and its faults are
   rare; a WFI of its own, which the QEMU runner does not take for the
   console's idle, harness/qemu.py.) */
    .globl idle_core
idle_core:
    msr     daifclr, #3
1:  wfi
    b       1b

    .data
    .balign 8
thread_ids:     .quad 1             /* the next thread's id (LDADD: every core) */
    .bss
    .balign 4
threads_lock:   .word 0             /* the all-threads list (tcb_init, tcb_unlink) */

    .section .rodata
msg_thread:     .asciz "\r\nthread "
msg_terminated: .asciz " terminated:"
