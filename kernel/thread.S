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
 *   preempted (the timer interrupt): the full frame, saved on the
 *     exception stack and moved to T_FRAME; resumed by ERET.
 * FP/SIMD registers are not switched: kernel threads are integer code
 * (docs/threads.md says how FP state would be switched lazily).
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

/* current_tcb reg: the running thread, from its user area (no load) */
.macro current_tcb reg
    sub     \reg, up, #T_USER
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
 * switch_to ( x0 = next, x9 = per-core ): save the running thread's call
 * context, resume next.  Returns when this thread runs again.
 */
    .globl switch_to
switch_to:
    current_tcb x10
    save_call_context x10               /* (T_KIND is 0: we are running) */
    /* fall through */

/* resume_call ( x0 = next, x9 ): from thread context. */
resume_call:
    ldr     x16, [x0, #T_KIND]
    cbnz    x16, resume_frame           /* it was preempted: ERET */
    /* fall through */

/* resume_waiting ( x0 = next, known to be waiting at a call, x9 ) */
resume_waiting:
    make_current x0
    ldp     x24, x25, [x0, #0]
    ldp     x26, x27, [x0, #16]
    ldp     x28, x30, [x0, #32]
    ldr     x16, [x0, #T_CTX_SP]
    mov     sp, x16
    b       critical_exit

/*
 * switch_to_waiting ( x0 = next, x9 ): as
 * switch_to, for a partner known to be blocked at a call (an IPC partner):
 * no need to ask how to resume it.
 */
    .globl switch_to_waiting
switch_to_waiting:
    current_tcb x10
    save_call_context x10
    b       resume_waiting

/*
 * resume_frame ( x0 = TCB with a full frame ): everything back, ERET.
 * Interrupts are masked first: after SPSel = 1 this is EL2h, where an
 * interrupt would be a kernel panic; the ERET restores the thread's mask.
 * A deferred timer interrupt is let through on the way (it arrives in the
 * resumed thread's context).
 */
resume_frame:
    make_current x0
    msr     daifset, #3                 /* masked until the ERET: from here on */
    msr     spsel, #1                   /* this is EL2h, where an interrupt panics */
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
    ldr     x1, [x0, #(T_FRAME_SP0 - T_FRAME)]
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
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0]
    eret

/*
 * thread_yield: round robin within the running priority: to the back of
 * its queue if a thread of at least its priority is ready.  Clobbers
 * x0-x23.
 */
    .globl thread_yield
thread_yield:
    mrs     x9, tpidr_el2
    current_tcb x10
    ldr     x11, [x9, #PC_READY]
    ldr     x12, [x10, #T_PRIO]
    clz     x13, x11
    mov     x14, #63
    sub     x13, x14, x13               /* best ready priority */
    cmp     x13, x12
    b.lt    critical_exit               /* nobody at our level: carry on */
    enqueue_tail x10
    dequeue_best x0
    b       switch_to

/* thread_preempt: a thread was made ready from thread context: if one now
   outranks the running thread, switch (we keep our place at the front).
   thread_preempt_x9: the same with x9 = per-core already.  Clobbers x0-x23. */
    .globl thread_preempt, thread_preempt_x9
thread_preempt:
    mrs     x9, tpidr_el2
thread_preempt_x9:
    current_tcb x10
    ldr     x11, [x9, #PC_READY]
    ldr     x12, [x10, #T_PRIO]
    clz     x13, x11
    mov     x14, #63
    sub     x13, x14, x13
    cmp     x13, x12
    b.le    critical_exit
    enqueue_head x10
    dequeue_best x0
    b       switch_to

/* block_current: the running thread is already where it waits (an
   endpoint queue, the sleepers): run the best ready thread.  Returns when
   woken, as switch_to. */
    .globl block_current
block_current:
    dequeue_best x0
    b       switch_to

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
    mov     x20, x30                    /* the switch keeps our caller's return */
    bl      sleeper_insert
    mov     x30, x20
    b       block_current

/*
 * sleeper_insert ( x10 = thread with T_DEADLINE set, x9 ): into the list,
 * earliest first; the timer is brought forward if it is now the first.
 * Clobbers x1-x5.
 */
    .globl sleeper_insert
sleeper_insert:
    add     x1, x9, #(PC_SLEEPERS - T_SNEXT)    /* the head as a "node" */
    ldr     x3, [x10, #T_DEADLINE]
1:  ldr     x2, [x1, #T_SNEXT]
    cbz     x2, 2f
    ldr     x4, [x2, #T_DEADLINE]
    cmp     x4, x3
    b.hi    2f
    mov     x1, x2
    b       1b
2:  str     x2, [x10, #T_SNEXT]
    str     x10, [x1, #T_SNEXT]
    ldr     x4, [x9, #PC_SLEEPERS]
    cmp     x4, x10
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
 * thread_spawn ( x0 = xt, x1 = priority -- x0 = TCB or 0 ): a Forth
 * thread running xt under CATCH, ready at once (the caller then calls
 * thread_preempt: it runs at once if it outranks the caller).
 * Clobbers x0-x23.
 */
    .globl thread_spawn
thread_spawn:
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
    bl      tcb_init                    /* x10 = TCB, x21 = priority, x22 = slot */
    ladr    x1, thread_start
    str     x20, [x10, #T_XT]
    str     x1, [x10, #40]              /* x30: where it starts */
    enqueue_tail x10
    mov     x0, x10
    mov     x30, x19
    b       critical_exit
8:  bl      slot_new                    /* none free: make one (slow, rare) */
    mov     x22, x0
    cbnz    x22, 1b
    mov     x0, #0
    mov     x30, x19
    b       critical_exit
9:  mov     x0, x22                     /* no TCB: the slot goes back */
    bl      slot_free
    mov     x0, #0
    mov     x30, x19
    b       critical_exit

/*
 * tcb_init ( x10 = fresh TCB, x21 = priority, x22 = stack slot, x9 ):
 * the fields a new thread needs (the rest of the block is never read
 * before it is written), its user area, its first call context, its id,
 * and onto the all-threads list.  Clobbers x1-x4.
 */
tcb_init:
    mov     x1, x10
    add     x2, x10, #T_HOT_END
1:  stp     xzr, xzr, [x1], #16
    cmp     x1, x2
    b.lo    1b
    str     x21, [x10, #T_PRIO]
    str     x22, [x10, #T_SLOT]
    ldr     x1, [x9, #PC_NEXTID]
    str     x1, [x10, #T_ID]
    add     x1, x1, #1
    str     x1, [x9, #PC_NEXTID]
    ldr     x1, [x9, #PC_THREADS]
    stp     x1, xzr, [x10, #T_ALLNEXT]
    cbz     x1, 2f
    str     x10, [x1, #T_ALLPREV]
2:  str     x10, [x9, #PC_THREADS]
    /* the user area: its stacks, BASE 10, nothing else set */
    add     x1, x10, #T_USER
    stp     xzr, xzr, [x1, #U_STATE]    /* STATE, HANDLER */
    add     x2, x22, #SLOT_GUARD
    str     x2, [x1, #U_RLIMIT]
    add     x2, x22, #SLOT_R0
    str     x2, [x1, #U_R0]
    str     x2, [x10, #T_CTX_SP]        /* first SP: the empty return stack */
    add     x3, x22, #(2 * SLOT_GUARD + SLOT_RSTACK)
    str     x3, [x1, #U_SLIMIT]
    movq    x3, SLOT_S0
    add     x3, x22, x3
    str     x3, [x1, #U_S0]
    mov     x4, #10
    str     x4, [x1, #U_BASE]
    str     xzr, [x1, #U_SOURCEID]
    str     x3, [x10, #24]              /* x27 = dsp (x26 = tos = 0) */
    str     x1, [x10, #32]              /* x28 = up */
    ret

/* slot_free ( x0 = slot, x9 ) Clobbers x2. */
slot_free:
    ldr     x2, [x9, #PC_SLOTS]
    str     x2, [x0, #SLOT_GUARD]
    str     x0, [x9, #PC_SLOTS]
    ret

/* tcb_unlink ( x0 = TCB, x9 ): off the all-threads list. Clobbers x1, x2. */
tcb_unlink:
    ldp     x1, x2, [x0, #T_ALLNEXT]    /* next, prev */
    cbz     x2, 1f
    str     x1, [x2, #T_ALLNEXT]
    b       2f
1:  str     x1, [x9, #PC_THREADS]
2:  cbz     x1, 3f
    str     x2, [x1, #T_ALLPREV]
3:  ret

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
    mov     x30, x0
    bl      critical_exit
    mov     x0, x30
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
    mov     x0, #1
    str     x0, [x9, #PC_NEXTID]

    bl      kalloc_block                /* the console's TCB */
    mov     x10, x0
    mov     x21, #DEFAULT_PRIO
    mov     x22, #0                     /* its stacks are the boot ones */
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
    bl      tcb_init
    ladr    x1, idle_loop
    str     x1, [x10, #40]
    enqueue_tail x10

    msr     cptr_el2, xzr               /* FP/SIMD traps: switched lazily (fp_trap) */
    isb
    strb    wzr, [x9, #PC_PENDING + 2]
    str     xzr, [x9, #PC_FPOWNER]
    bl      timer_start
    msr     daifclr, #3                 /* interrupts on: the timer may preempt */
    ret     x23

/*
 * slot_new ( x9 -- x0 = a new stack slot or 0 ): carved from never-used
 * memory (bump_alloc: page-mapped) with its three guard pages unmapped
 * (once per slot ever).
 * Clobbers x0-x5, x10-x15.
 */
slot_new:
    mov     x4, x30
    movq    x0, SLOT_SIZE
    bl      bump_alloc
    cbz     x0, 9f
    mrs     x2, tpidr_el2
    ldr     x3, [x2, #PC_NSLOTS]
    add     x3, x3, #1
    str     x3, [x2, #PC_NSLOTS]
    mov     x5, x0                      /* mmu_unmap_page keeps x4-x9 */
    bl      mmu_unmap_page              /* below the return stack */
    add     x0, x5, #(SLOT_GUARD + SLOT_RSTACK)
    bl      mmu_unmap_page              /* between the stacks */
    movq    x0, (SLOT_S0)
    add     x0, x5, x0
    bl      mmu_unmap_page              /* above the data stack */
    mov     x0, x5
    ret     x4
9:  mov     x0, #0
    ret     x4

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
    ladr    x0, msg_thread
    bl      console_puts
    current_tcb x0
    ldr     x0, [x0, #T_ID]
    bl      console_dec
    ladr    x0, msg_terminated
    bl      console_puts
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
 * resume_from_handler ( x0 = next, x9 = per-core ),
 * from exception context (EL2h, masked): a call context is entered by
 * ERET to its return address in EL2t; a frame by resume_frame.
 */
    .globl resume_from_handler
resume_from_handler:
    ldr     x1, [x0, #T_KIND]
    cbnz    x1, resume_frame
    make_current x0
    ldr     x1, [x0, #T_CTX_SP]
    msr     sp_el0, x1
    mov     x1, #SPSR_EL2T
    msr     spsr_el2, x1
    ldr     x1, [x0, #40]               /* its x30: where the switch returns */
    msr     elr_el2, x1
    ldr     x16, [x9, #PC_PENDING]      /* a deferred interrupt: let it through */
    cbz     x16, 3f
    strh    wzr, [x9, #PC_PENDING]
    release_deferred
    fp_check
3:  ldp     x24, x25, [x0, #0]
    ldp     x26, x27, [x0, #16]
    ldp     x28, x30, [x0, #32]
    eret

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
 * timer_interrupt ( -- x0 = thread to switch to, or 0; x13 = 1 when the
 * running thread goes to the back of its queue, 0 to the front ): the
 * interrupt's work.  Wakes every sleeper whose time has come, re-arms the
 * timer for the next of (slice end, first sleeper), and decides
 * preemption: a woken thread that outranks the running one, or an equal
 * one ready (round robin: the timer runs at least once a slice).  Runs on the exception stack,
 * masked.  Clobbers x0-x14.
 */
    .globl timer_interrupt
timer_interrupt:
    mov     x14, x30
    mrs     x9, tpidr_el2
    ldr     x1, [x9, #PC_TICKS]
    add     x1, x1, #1
    str     x1, [x9, #PC_TICKS]
    mrs     x11, cntpct_el0             /* now */
    ldr     x10, [x9, #PC_CURRENT]      /* CPU time, sampled: the time since */
    ldr     x1, [x9, #PC_LASTTICK]      /* the last interrupt goes to the */
    str     x11, [x9, #PC_LASTTICK]     /* thread it finds running */
    sub     x1, x11, x1
    ldr     x2, [x10, #T_RUNTIME]
    add     x2, x2, x1
    str     x2, [x10, #T_RUNTIME]
1:  ldr     x10, [x9, #PC_SLEEPERS]     /* wake the due sleepers */
    cbz     x10, 3f
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
3:  ldr     x12, [x9, #PC_SLICE]        /* next: slice end or first sleeper */
    add     x12, x11, x12
    ldr     x10, [x9, #PC_SLEEPERS]
    cbz     x10, 4f
    ldr     x1, [x10, #T_DEADLINE]
    cmp     x1, x12
    csel    x12, x1, x12, lo
4:  msr     cnthp_cval_el2, x12
    ldr     x10, [x9, #PC_CURRENT]      /* preemption */
    ldr     x1, [x9, #PC_READY]
    ldr     x2, [x10, #T_PRIO]
    clz     x3, x1
    mov     x4, #63
    sub     x3, x4, x3                  /* best ready priority */
    cmp     x3, x2
    b.lt    9f                          /* nothing to run instead */
    b.gt    5f                          /* outranked: preempt, keep our place */
    mov     x13, #1                     /* equal: its slice is over, round robin */
    b       6f
5:  mov     x13, #0
6:  dequeue_best x0
    ret     x14
9:  mov     x0, #0
    ret     x14

/*
 * The timer's interrupt from a thread (FIQ on Apple cores; IRQ through
 * the GIC on the virt board: board_timer_ack/eoi say which).  Saves the frame on the exception
 * stack.  Inside a critical section it only defers (masks the timer, sets
 * PC_PENDING).  Otherwise, if the timer's work says switch, the frame moves
 * into the TCB and the next thread is resumed; else straight back.
 */
    .globl timer_from_thread
timer_from_thread:
    frame_push
    bl      board_timer_ack             /* x0 = token, x1 = 1 if the timer */
    str     x0, [sp, #XF_SPARE]
    cbz     x1, timer_return
    mrs     x0, cnthp_ctl_el2
    tbz     x0, #2, timer_return        /* ISTATUS clear: not due */
    ldr     x0, [sp, #XF_ELR]
    outside_critical x0, 1f             /* inside a critical section: defer */
    mrs     x9, tpidr_el2
    mov     w1, #1
    strb    w1, [x9, #PC_PENDING]       /* byte 0: the timer */
    mov     x1, #3                      /* ENABLE | IMASK: the line drops */
    msr     cnthp_ctl_el2, x1
    b       timer_return
1:  bl      timer_interrupt
    cbnz    x0, 2f
timer_return:
    ldr     x0, [sp, #XF_SPARE]
    bl      board_timer_eoi
    frame_pop_eret
2:  /* preempt: the frame into the running thread's TCB */
    mov     x14, x0
    ldr     x0, [sp, #XF_SPARE]
    bl      board_timer_eoi             /* clobbers x0 only */
    ldr     x10, [x9, #PC_CURRENT]
    frame_to_tcb x10
    cbz     x13, 4f
    enqueue_tail x10
    b       5f
4:  enqueue_head x10
5:  mov     x0, x14
    b       resume_from_handler

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
 * framebuffer's NEON drawing, inside a critical section): the owner's
 * state is saved first, and FP is enabled until the section's exit.
 * Clobbers x9, x16, x17.
 */
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
    mov     x17, #(3 << 20)
    msr     cptr_el2, x17
    isb
3:  mov     w17, #1
    strb    w17, [x9, #PC_PENDING + 2]
4:  ret

/* The idle thread: wait for interrupts, forever. */
idle_loop:
    msr     daifclr, #3
1:  wfi
    b       1b

    .section .rodata
msg_thread:     .asciz "\r\nthread "
msg_terminated: .asciz " terminated:"
