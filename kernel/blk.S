/*
 * Block devices: one interface over the board's disk (docs/storage.md,
 * "Block devices").  The board says what it has (board_blk_info: sectors
 * of 512 bytes, and whether it completes by interrupt, is read-only, has
 * a write cache) and carries out one request at a time (board_blk_start);
 * this layer checks every request first, so a bad one is an ior and
 * never reaches the device, and it waits for an asynchronous one:
 *
 *   board m3: the RAM disk the payload carries; a request is a memcpy,
 *     done when board_blk_start returns;
 *   board virt: virtio-blk (kernel/boards/virt/virtio.S); board_blk_start
 *     puts the request on the virtqueue and notifies the device, and the
 *     thread sleeps (TS_IO) until the device's interrupt says it is over.
 *
 * What a request is checked for, in this order (each an ior: macros.inc
 * IOR_*, kernel/forth/except.S says them): the boot core (the device's
 * interrupt is routed there and the one waiter is there: -21 elsewhere,
 * as for KEY); a disk (-270); a write to a read-only disk (-273); the
 * sectors on the disk, without wrapping (-271); the buffer in usable RAM,
 * every 16 KiB page of it mapped identity (the device writes physical
 * memory: virtio-blk's descriptors hold physical addresses, VIRTIO 1.1
 * 2.6.5) and writable for a read, readable for a write, asked of the MMU
 * itself with AT (-9).  Then it goes to the board in pieces of at most
 * BLK_CHUNK sectors; the first piece that fails ends it with its ior.
 *
 * The wait (blk_async, in the critical section): the running thread is
 * recorded in blk_waiter, the request started, the thread made TS_IO
 * (on no queue, no deadline) and switched out.  The device's interrupt
 * (the board's handler acknowledges the device, then branches to
 * blk_interrupt) collects the result (board_blk_done) into the waiter's
 * T_RESULT, frees blk_waiter and hands the waiter to its core's inbox
 * with the tick made due now: the tick takes the inbox, makes the thread
 * ready and decides as every tick does (kernel/thread.S tick_wake), the
 * same path another core's wake-up takes.  So the interrupt touches no
 * ready queue and needs no deferral: inside a critical section the tick
 * it asks for waits for the section's exit, and if it comes before the
 * waiter has switched out (a device that answers at once), the waiter is
 * on the inbox while it still runs, which the tick only reads after the
 * switch.  A second thread finding a request in flight waits its turn
 * in blk_queue (TS_IO too), handed back by the interrupt that ends the
 * request before it.  There is no timeout: a device that never answers
 * keeps its caller waiting (its buffer is the device's until then); a
 * Ctrl-C for a console thread in TS_IO waits until the request is over
 * (kernel/console.S console_intr_deliver leaves it pending), and then
 * blk_interrupt sends the thread to user_interrupt (THROW -28) instead of
 * back into blk_io, with nothing in flight.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define PAGE_MASK       0x3fff
#define PA_MASK         0x0000fffffffff000  /* PAR_EL1.PA, bits 47:12 (Arm ARM D19.2, PAR_EL1) */

    .bss
    .balign 8
    .globl blk_waiter, blk_queue, blk_stats
blk_waiter: .quad 0             /* the thread whose request the device holds (0: none) */
blk_queue:  .quad 0, 0          /* threads waiting for their turn: head, tail (T_NEXT) */
blk_stats:  .quad 0, 0, 0       /* requests to the board, waits for an interrupt, interrupts */

    .text

/* blk_here ( -- x0 = 0 on the boot core, else IOR_ELSEWHERE ).  Clobbers
   x0, x1. */
blk_here:
    mrs     x0, tpidr_el2
    ladr    x1, percpu
    cmp     x0, x1
    mov     x0, #IOR_ELSEWHERE
    csel    x0, xzr, x0, eq
    ret

/*
 * blk_io ( x0 = BLK_READ or BLK_WRITE, x1 = buffer, x2 = first sector,
 * x3 = sectors -- x0 = ior ): n sectors between the disk and memory, all
 * checked first (the header says what), then in pieces of BLK_CHUNK.  0
 * sectors: 0, once the disk and the sector are checked.  Thread context.
 * Clobbers x0-x23 (a wait switches threads: what it keeps is on SP).
 */
    .globl blk_io
blk_io:
    sub     sp, sp, #48
    stp     x0, x1, [sp]                /* op, buffer */
    stp     x2, x3, [sp, #16]           /* sector, sectors left */
    str     x30, [sp, #32]
    bl      blk_here
    cbnz    x0, 9f
    bl      board_blk_info              /* x0 = sectors, x1 = flags (clobbers x0-x3) */
    mov     x4, #IOR_NO_DISK
    cbz     x0, 8f
    ldr     x5, [sp]
    tst     x1, #BLKF_RO
    ccmp    x5, #BLK_WRITE, #0, ne      /* read-only and a write: eq */
    mov     x4, #IOR_RO
    b.eq    8f
    ldp     x2, x3, [sp, #16]
    adds    x6, x2, x3                  /* one past the last sector */
    mov     x4, #IOR_RANGE
    b.cs    8f
    cmp     x6, x0
    b.hi    8f
    cbz     x3, 7f
    ldp     x0, x1, [sp]
    mov     x2, x3
    bl      blk_buffer_ok
    cbnz    x0, 9f
1:  ldp     x2, x3, [sp, #16]
    cbz     x3, 7f
    mov     x4, #BLK_CHUNK
    cmp     x3, x4
    csel    x3, x3, x4, ls              /* this piece */
    str     x3, [sp, #40]
    ldp     x0, x1, [sp]
    bl      blk_request
    cbnz    x0, 9f
    ldr     x3, [sp, #40]
    ldr     x1, [sp, #8]
    add     x1, x1, x3, lsl #BLK_SHIFT
    str     x1, [sp, #8]
    ldp     x2, x4, [sp, #16]
    add     x2, x2, x3
    sub     x4, x4, x3
    stp     x2, x4, [sp, #16]
    b       1b
7:  mov     x0, #0
    b       9f
8:  mov     x0, x4
9:  ldr     x30, [sp, #32]
    add     sp, sp, #48
    ret

/*
 * blk_flush ( -- x0 = ior ): everything written so far on the device's
 * permanent storage: a flush request where the device has a write cache
 * (virtio-blk with VIRTIO_BLK_F_FLUSH), nothing to do where it has none
 * (the RAM disk; a virtio-blk device that does not offer the feature
 * completes a write only once it is stored: Linux drivers/block/
 * virtio_blk.c virtblk_get_cache_mode).  Checked as blk_io (the boot
 * core, a disk).  Clobbers x0-x23.
 */
    .globl blk_flush
blk_flush:
    str     x30, [sp, #-16]!
    bl      blk_here
    cbnz    x0, 9f
    bl      board_blk_info
    mov     x4, x0
    mov     x0, #IOR_NO_DISK
    cbz     x4, 9f
    mov     x0, #0
    tst     x1, #BLKF_FLUSH
    b.eq    9f
    mov     x0, #BLK_FLUSH
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
    bl      blk_request
9:  ldr     x30, [sp], #16
    ret

/*
 * blk_buffer_ok ( x0 = BLK_READ or BLK_WRITE, x1 = buffer, x2 = sectors,
 * at least 1 -- x0 = 0, or IOR_BADADDR ): the buffer lies in usable RAM
 * and each of its 16 KiB pages translates to itself, writable for a read
 * (the device stores into it) and readable for a write: AT S1E2W or
 * S1E2R, an ISB, then PAR_EL1 (F, bit 0, clear: translated; Arm ARM
 * D19.2 PAR_EL1; the ISB as Linux arch/arm64/kvm/hyp/include/hyp/
 * fault.h __translate_far_to_hpfar).  PAR_EL1 is put back: a domain's
 * EL1 state may be live in it (kernel/domain.S).  A guard page, the
 * read-only image for a read, the demand window (not identity): -9.
 * Clobbers x0-x7.
 */
blk_buffer_ok:
    lsr     x3, x2, #(63 - BLK_SHIFT)
    cbnz    x3, 8f                      /* more bytes than addresses */
    lsl     x2, x2, #BLK_SHIFT
    adds    x3, x1, x2                  /* one past its end */
    b.cs    8f
    ladr    x4, boot_info
    ldr     x5, [x4, #BI_PHYS_BASE]
    ldr     x6, [x4, #BI_MEM_END]
    cmp     x1, x5
    b.lo    8f
    cmp     x3, x6
    b.hi    8f
    mrs     x7, par_el1
    and     x4, x1, #~PAGE_MASK
1:  cmp     x4, x3
    b.hs    5f
    cmp     x0, #BLK_READ
    b.ne    2f
    at      s1e2w, x4
    b       3f
2:  at      s1e2r, x4
3:  isb
    mrs     x5, par_el1
    tbnz    x5, #0, 6f                  /* F: no such access */
    movq    x6, PA_MASK
    and     x5, x5, x6
    cmp     x5, x4
    b.ne    6f                          /* not its own frame */
    add     x4, x4, #(PAGE_MASK + 1)
    b       1b
5:  msr     par_el1, x7
    mov     x0, #0
    ret
6:  msr     par_el1, x7
8:  mov     x0, #IOR_BADADDR
    ret

/*
 * blk_request ( x0 = op, x1 = buffer, x2 = sector, x3 = sectors, checked
 * -- x0 = ior ): one board request: a synchronous device's at once, an
 * asynchronous one's through blk_async, after the request in flight (if
 * any) is over (blk_async queues us).  Clobbers x0-x23.
 */
blk_request:
    sub     sp, sp, #48
    stp     x0, x1, [sp]
    stp     x2, x3, [sp, #16]
    str     x30, [sp, #32]
    ladr    x4, blk_stats
    ldr     x5, [x4]
    add     x5, x5, #1
    str     x5, [x4]
    bl      board_blk_info              /* clobbers x0-x3 */
    tst     x1, #BLKF_ASYNC
    b.ne    1f
    ldp     x0, x1, [sp]
    ldp     x2, x3, [sp, #16]
    bl      board_blk_start             /* synchronous: x0 = its ior */
    b       9f
1:  ldp     x0, x1, [sp]
    ldp     x2, x3, [sp, #16]
    bl      blk_async                   /* the outcome in T_RESULT */
    current_tcb x0
    ldr     x0, [x0, #T_RESULT]
    cmp     x0, #BLK_PENDING
    b.eq    1b                          /* our turn after another's request */
9:  ldr     x30, [sp, #32]
    add     sp, sp, #48
    ret

    .section .text.critical, "ax"

/*
 * blk_async ( x0 = op, x1 = buffer, x2 = sector, x3 = sectors ): the
 * request to an asynchronous device, and the wait for its interrupt, as
 * the header says.  The outcome is in the running thread's T_RESULT: the
 * ior, or BLK_PENDING when another thread's request was in flight
 * (nothing started).  Returns when it is over (to x30).  In the critical
 * section: no other thread of this core runs between the look at
 * blk_waiter and the thread's switch, and the device's interrupt, which
 * does run there, is masked from the look until blk_waiter is ours or we
 * are on blk_queue (found busy, queued after the interrupt that ended
 * the request had looked at an empty queue, we would wait for a turn
 * nobody hands out: tests/test_blk.py four threads sharing the disk
 * hung so under load).  A thread that finds a request in
 * flight joins blk_queue (through T_NEXT, TS_IO) and is handed back by
 * the interrupt that ends it, with BLK_PENDING: it tries again.
 * Clobbers x0-x23.
 */
blk_async:
    mrs     x9, tpidr_el2
    current_tcb x10
    mrs     x6, daif                    /* the device's interrupt runs inside */
    msr     daifset, #3                 /*   the critical section: masked while */
    ladr    x4, blk_waiter              /*   we look and queue, or it may end */
    ldr     x5, [x4]                    /*   the request in flight between the */
    cbnz    x5, 3f                      /*   two and hand the turn to nobody */
    str     x10, [x4]
    msr     daif, x6
    str     xzr, [x10, #T_RESULT]
    mov     x20, x30
    bl      board_blk_start             /* clobbers x0-x17 */
    mrs     x9, tpidr_el2
    current_tcb x10
    mov     x30, x20
    cmp     x0, #BLK_PENDING
    b.ne    2f
    ladr    x1, blk_stats
    ldr     x2, [x1, #8]
    add     x2, x2, #1
    str     x2, [x1, #8]
    mov     x1, #TS_IO
    str     x1, [x10, #T_STATE]
    b       block_current               /* until blk_interrupt hands us back */
2:  str     x0, [x10, #T_RESULT]        /* refused at once: no wait */
    ladr    x4, blk_waiter
    str     xzr, [x4]
    b       critical_exit
3:  ladr    x4, blk_queue               /* the device is busy: to the back of */
    str     xzr, [x10, #T_NEXT]         /*   its queue, TS_IO, until the */
    ldr     x5, [x4, #8]                /*   interrupt that ends the request */
    cbz     x5, 4f                      /*   in flight gives us the turn */
    str     x10, [x5, #T_NEXT]
    b       5f
4:  str     x10, [x4]
5:  str     x10, [x4, #8]
    mov     x0, #BLK_PENDING
    str     x0, [x10, #T_RESULT]
    mov     x1, #TS_IO
    str     x1, [x10, #T_STATE]
    msr     daif, x6                    /* queued: an interrupt from here on */
    b       block_current               /*   hands us over (the inbox) */

    .text

/*
 * blk_interrupt ( x0 = per-core, x7 = the interrupted thread's T_FRAME,
 * x0-x7, x29 and x30 saved there by tf_enter, kernel/percpu.inc ): the
 * board's IRQ handler has acknowledged its disk's interrupt (at the
 * device and the interrupt controller) and branches here.  If the request
 * in flight is over (board_blk_done), its ior goes into the waiter's
 * T_RESULT, blk_waiter is free, and the waiter is handed back (blk_hand),
 * and so is the first thread of blk_queue (its T_RESULT says BLK_PENDING:
 * its turn).  A Ctrl-C for the console thread that waited (its switch
 * made: TS_IO) sends its switch's return into user_interrupt, as
 * console_intr_deliver does for a sleeper; a console thread still
 * running (the device answered before it switched out) gets it from the
 * tick (tick_intr).  Returns from the interrupt.
 */
    .globl blk_interrupt
blk_interrupt:
    ladr    x1, blk_stats
    ldr     x2, [x1, #16]
    add     x2, x2, #1
    str     x2, [x1, #16]
    bl      board_blk_done              /* x0 = 1: over, x1 = its ior (clobbers x0-x6) */
    cbz     x0, 9f
    ladr    x2, blk_waiter
    ldr     x3, [x2]
    cbz     x3, 9f                      /* nobody waits (over before it was awaited?) */
    str     xzr, [x2]
    str     x1, [x3, #T_RESULT]
    mrs     x5, tpidr_el2
    ldr     x6, [x5, #PC_INTR]
    cbz     x6, 2f
    ladr    x6, console_thread
    ldr     x6, [x6]
    cmp     x6, x3
    b.ne    2f
    ldr     x6, [x3, #T_STATE]
    cmp     x6, #TS_IO
    b.ne    2f
    ladr    x6, user_interrupt
    str     x6, [x3, #(T_CTX + 40)]
    str     xzr, [x5, #PC_INTR]
2:  bl      blk_hand
    ladr    x2, blk_queue               /* the next one's turn */
    ldr     x3, [x2]
    cbz     x3, 9f
    ldr     x6, [x3, #T_NEXT]
    str     x6, [x2]
    cbnz    x6, 3f
    str     xzr, [x2, #8]
3:  bl      blk_hand
9:  tf_leave

/* blk_hand ( x3 = a thread waiting in TS_IO, x7 kept ): onto its core's
   inbox (CAS, kernel/percpu.inc inbox_push), then that core told: an IPI,
   or on this core the tick made due now (as tick_request: it takes the
   inbox, or waits for the critical section it interrupts).  Clobbers
   x0-x6. */
blk_hand:
    ldr     x4, [x3, #T_CORE]
    inbox_push x3, x4, x1, x2, x5
    mrs     x5, tpidr_el2
    cmp     x4, x5
    b.eq    1f
    mov     x0, x4
    b       board_ipi                   /* clobbers x0-x2 */
1:  mrs     x1, cntpct_el0
    msr     cnthp_cval_el2, x1
    mov     x1, #1                      /* ENABLE, not masked */
    msr     cnthp_ctl_el2, x1
    ret
