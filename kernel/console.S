/*
 * Kernel console output: the routines the boot path, the exception
 * handlers and the Forth I/O words share.  Each clobbers x0-x4 only, so
 * callers keep their state in x5 and up.
 *
 * A byte goes to the screen at once (kernel/fbcon.S), then to the UART.
 * The UART sends at the line rate (115200 baud: 86.8 us a byte), so on a
 * board with the UART's transmit interrupt (m3: board_irq_init sets
 * console_tx_mode) output goes through a ring, TX_RING bytes: a byte
 * goes straight into the UART's FIFO while it has room and nothing waits
 * in the ring, else into the ring; the ring moves into the FIFO at every
 * write and in the UART's interrupt (console_uart_interrupt: the FIFO
 * drained to its trigger level).  A thread that finds the ring full
 * waits (console_tx_block: the console's timed wait, as for input) until
 * the interrupt made room, or the wait's period passed (a dead interrupt
 * path: it moves the ring on itself).  Where no thread can wait (boot
 * before the scheduler, exception context: panics, crash and domain
 * reports, interrupts masked) the ring is emptied first and every byte is
 * polled out (uart_putc waits for room as m1n1's uart_putbyte does).
 *
 * Many cores (docs/threads.md, Many cores).  Output is safe from any
 * core, in any context; input (KEY, the RX ring, Ctrl-C) is the boot
 * core's, where the AIC delivers the UART's interrupt.  One lock,
 * console_lock, covers everything output shares: the TX ring and its
 * counters, TX_ARMED, the UART's FIFO (a look at UFSTAT and the writes
 * after it must not be split by another core: the FIFO would overrun),
 * UCON's read-modify-writes (board_tx_arm/disarm here, board_rx_pause/
 * resume in rx_drain and rx_take) and the screen's state (kernel/fbcon.S:
 * cursor, scroll).  It is a word holding its holder's TPIDR_EL2 (the
 * per-core state's address: never 0 once alloc_init ran), taken with
 * CASA (acquire) and given back with STLR (release), LSE only: the
 * kernel has no exclusives (Arm ARM DDI 0487 K.a B2.3, the Load-Acquire
 * and Store-Release ordering, and C6.2 CAS, STLR:
 * a load-acquire/store-release pair orders the critical section's
 * accesses; tests/test_smp.py counts zero LDXR/STXR).
 *
 * Where it may be held (con_acquire):
 *   - a thread holds it only inside .text.critical, where this core's
 *     timer and the UART's interrupt are deferred (kernel/thread.S), and
 *     calls only critical-section code meanwhile (the board's uart_tx_*,
 *     board_tx_*, fbcon's drawing): the holder is never switched out, so
 *     nobody on its own core can spin on it.  It is never held across a
 *     wait: a full ring gives it back first.
 *   - an interrupt handler (the UART's, the timer's console_rx_timeout)
 *     and exception context (crash reports) take it too.  On the holder's
 *     own core an interrupt never meets it held (deferred by the critical
 *     section), but exception context may (a fault in the middle of a
 *     write): there the holder is found to be this core and the output
 *     goes on without the lock, never a deadlock.  A thread that finds
 *     its own core as the holder finds a lock a fault left behind (the
 *     thread that held it was sent a THROW): it takes it over.
 *   - another core's holder gives it back within one chunk of output
 *     (CON_CHUNK bytes, one scroll at most) or one polled report string;
 *     a spin longer than CON_FORCE_DIV-th of a second (250 ms) takes it
 *     all the same: a core that died holding it cannot silence the rest.
 * What one call writes (console_write: TYPE, ." and the number words'
 * TYPE; console_puts, console_newline's CR LF, console_hex, console_dec,
 * EMIT's byte) reaches the screen and the UART in one piece, in the same
 * order on both: a thread begins it only when the ring has room for all
 * of it.  Longer than CON_CHUNK bytes: in pieces of CON_CHUNK, each
 * whole.  Exception context (polled): one piece whatever its length.
 * Never less than a byte: no byte is lost, doubled or split.
 *
 * The TX waiter (TX_WAITER) is a boot-core thread only: the UART's
 * interrupt that makes room runs on the boot core, and it wakes the
 * waiter by taking it off its own core's sleepers.  A thread on another
 * core that finds the ring full sleeps the wait's period on its own core
 * instead and then moves the ring on itself (tx_pump): no cross-core
 * wake-up, no other core's sleeper list touched.  The period (twice the
 * FIFO's drain time) is far shorter than the ring's (1024 bytes, 89 ms at
 * 115200 baud), so the ring never runs dry while it sleeps: the line
 * stays busy, the sleeper costs one wake-up a period.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define TX_RING     1024            /* bytes, a power of two */
#define TX_HEAD     0               /* console_tx: bytes ever queued, */
#define TX_TAIL     8               /*   bytes ever taken into the FIFO, */
#define TX_ARMED    16              /*   1 while the TX interrupt is on, */
#define TX_WAITER   24              /*   the (boot-core) thread waiting for room */
#define CON_CHUNK   256             /* bytes a thread writes under one hold of console_lock */
#define CON_FORCE_DIV 4             /* a spin on console_lock longer than 1/4 s takes it */

/* save_x3_x23 / restore_x3_x23: around a wait that switches threads
   (which clobbers x0-x23), for routines that promise to clobber less.
   176 bytes of stack; [sp, #160] is free for the caller. */
.macro save_x3_x23
    sub     sp, sp, #176
    stp     x3, x4, [sp, #0]
    stp     x5, x6, [sp, #16]
    stp     x7, x8, [sp, #32]
    stp     x9, x10, [sp, #48]
    stp     x11, x12, [sp, #64]
    stp     x13, x14, [sp, #80]
    stp     x15, x16, [sp, #96]
    stp     x17, x19, [sp, #112]
    stp     x20, x21, [sp, #128]
    stp     x22, x23, [sp, #144]
.endm
.macro restore_x3_x23
    ldp     x3, x4, [sp, #0]
    ldp     x5, x6, [sp, #16]
    ldp     x7, x8, [sp, #32]
    ldp     x9, x10, [sp, #48]
    ldp     x11, x12, [sp, #64]
    ldp     x13, x14, [sp, #80]
    ldp     x15, x16, [sp, #96]
    ldp     x17, x19, [sp, #112]
    ldp     x20, x21, [sp, #128]
    ldp     x22, x23, [sp, #144]
    add     sp, sp, #176
.endm

/* tx_count reg, s1, s2, field: console_tx_stats[field] += reg (under
   console_lock) */
.macro tx_count reg, s1, s2, field
    ladr    \s1, console_tx_stats
    ldr     \s2, [\s1, #\field]
    add     \s2, \s2, \reg
    str     \s2, [\s1, #\field]
.endm
#define TXS_SENT    0               /* bytes into the UART's FIFO, any path */
#define TXS_WAITS   8               /* times a thread found the ring full and waited */
#define TXS_PUMPED  16              /* bytes the ring gave the FIFO at a wait's period's end */
#define TXS_POLLED  24              /* bytes polled out (no thread could wait) */
#define TXS_IRQS    32              /* TX interrupts taken */

/* con_release taken, s: console_lock back if con_acquire took it (taken:
   its x0).  STLR: everything written under it is seen before the lock
   reads free (Arm ARM DDI 0487 B2.3, Store-Release). */
.macro con_release taken, s
    cbz     \taken, 8850f
    ladr    \s, console_lock
    stlr    xzr, [\s]
8850:
.endm

    .data
    .balign 8
    .globl console_tx, console_tx_mode, console_tx_stats, console_lock
console_tx:     .quad 0, 0, 0, 0    /* head, tail, armed, waiter (TX_* above) */
console_tx_mode: .quad 0            /* 0: every byte polled; 1: the ring (board_irq_init) */
console_tx_stats: .quad 0, 0, 0, 0, 0   /* TXS_* above */
console_lock:   .quad 0             /* 0 free, else the holder's TPIDR_EL2 (con_acquire) */
    .bss
    .balign 8
console_tx_ring: .space TX_RING

    .section .rodata
msg_say_error:  .asciz "error "
msg_say_colon:  .asciz ": "
con_crlf:   .ascii "\r\n"

    .section .text.critical, "ax"

/*
 * con_acquire ( -- x0 = 1 taken, 0 not: give it back only if 1 ): take
 * console_lock, as the header says.  From the critical section, an
 * interrupt handler, exception context or with interrupts masked; never
 * where this core could be switched out while it holds it.  Uncontended:
 * one CASA.  Clobbers x0-x3.
 */
    .globl con_acquire
con_acquire:
    mrs     x1, tpidr_el2               /* who we are */
    cbz     x1, 8f                      /* before alloc_init: one core, no lock */
    ladr    x2, console_lock
    mov     x0, #0
    casa    x0, x1, [x2]                /* free: ours */
    cbz     x0, 9f
    cmp     x0, x1
    b.eq    5f                          /* this core holds it */
    mrs     x3, cntfrq_el0              /* another core: spin, reading, at most */
    lsr     x3, x3, #2                  /*   CON_FORCE_DIV-th of a second */
.if CON_FORCE_DIV != 4
.error "console.S con_acquire: the shift is log2(CON_FORCE_DIV)"
.endif
    mrs     x0, cntpct_el0
    add     x3, x3, x0
1:  ldr     x0, [x2]
    cbz     x0, 2f
    yield
    mrs     x0, cntpct_el0
    cmp     x0, x3
    b.lo    1b
    swpa    x1, x0, [x2]                /* its holder is gone: take it */
    b       9f
2:  mov     x0, #0
    casa    x0, x1, [x2]
    cbz     x0, 9f
    b       1b
5:  mrs     x0, spsel                   /* this core: in exception context the */
    cbnz    x0, 8f                      /*   code it interrupted holds it: go on */
9:  mov     x0, #1                      /* thread context: a fault's leftover, ours */
    ret
8:  mov     x0, #0
    ret

/*
 * con_ring ( x6 = first byte, x7 = end; x29, x30 and x5-x10, x16, x17
 * saved by con_out ): a thread's write through the ring (thread context,
 * interrupts on).  In pieces of CON_CHUNK bytes (the last one shorter),
 * each under one hold of console_lock and begun only once the ring has
 * room for all of it, each byte drawn (fbcon_putc) and queued
 * (tx_put_held); no room for the piece: the lock back, wait for room
 * (the boot core: the TX interrupt wakes it, console_tx_block; another
 * core: it sleeps the wait's period and moves the ring on itself, as the
 * header says), and look again.  Returns through con_done.
 */
con_ring:
1:  bl      con_acquire
    mov     x10, x0
    sub     x8, x7, x6                  /* this piece: the rest, at most a chunk */
    mov     x0, #CON_CHUNK
    cmp     x8, x0
    csel    x8, x8, x0, ls
    cbz     x8, 5f
    ladr    x3, console_tx
    ldp     x1, x2, [x3]                /* head, tail */
    sub     x0, x1, x2
    mov     x1, #TX_RING
    sub     x0, x1, x0                  /* the ring's room */
    cmp     x0, x8
    b.lo    4f                          /* not for the whole piece: wait */
2:  ldrb    w0, [x6]
    bl      fbcon_putc                  /* the screen (clobbers x0-x2) */
    ldrb    w0, [x6], #1
    bl      tx_put_held                 /* the UART (clobbers x0-x5) */
    subs    x8, x8, #1
    b.ne    2b
    cmp     x6, x7
    b.hs    5f
    con_release x10, x0                 /* a chunk: let the others in */
    mrs     x9, tpidr_el2
    bl      critical_exit
    b       1b
4:  con_release x10, x0                 /* no room: never held across a wait */
    mrs     x9, tpidr_el2
    ldr     x0, [x9, #PC_CORE]
    save_x3_x23
    cbnz    x0, 6f
    mov     x0, x8
    bl      console_tx_block            /* the boot core: the TX interrupt wakes it */
    restore_x3_x23
    b       1b
6:  bl      con_acquire                 /* another core: counted, asleep a period */
    mov     x19, x0
    mov     x0, #1
    tx_count x0, x1, x2, TXS_WAITS
    con_release x19, x1
    bl      board_tx_ticks              /* the FIFO's drain time (clobbers x0-x2) */
    lsl     x0, x0, #1
    mrs     x1, cntpct_el0
    add     x0, x0, x1
    bl      thread_sleep_until          /* (clobbers x0-x23) */
    bl      con_acquire                 /* then the ring moved on here, as the */
    mov     x19, x0                     /*   period's end does on the boot core */
    bl      tx_pump                     /*   (console_rx_timeout): a dead interrupt */
    tx_count x0, x1, x2, TXS_PUMPED     /*   path does not stop it */
    con_release x19, x1
    mrs     x9, tpidr_el2
    bl      critical_exit
    restore_x3_x23
    b       1b
5:  con_release x10, x0
    mrs     x9, tpidr_el2
    bl      critical_exit
    b       con_done

    .text

/*
 * con_out ( x0 = first byte, x1 = end ): the bytes to the screen and the
 * UART in one piece (the header says when pieces): through the ring
 * where a thread can wait (thread context, interrupts on: SPSel 0,
 * DAIF.I clear; con_ring), else polled (con_polled).  Clobbers x0-x4.
 */
con_out:
    stp     x29, x30, [sp, #-96]!
    stp     x5, x6, [sp, #16]
    stp     x7, x8, [sp, #32]
    stp     x9, x10, [sp, #48]
    stp     x16, x17, [sp, #64]
    mov     x6, x0
    mov     x7, x1
    ladr    x1, console_tx_mode
    ldr     x1, [x1]
    cbz     x1, con_polled              /* no ring (yet): polled */
    mrs     x1, spsel
    mrs     x2, daif
    tst     x2, #(1 << 7)               /* DAIF.I */
    ccmp    x1, #0, #0, eq              /* I clear: Z = (SPSel == 0); I set: Z clear */
    b.eq    con_ring
    /* fall through */

/*
 * con_polled ( x6, x7 as con_ring ): where no thread can wait (exception
 * context, interrupts masked, no ring yet): interrupts masked meanwhile
 * (they may be on only before the ring is: boot), under console_lock
 * (or without it, where this core's interrupted code holds it); what the
 * ring holds goes out first, polled, then the bytes, each drawn and
 * polled out (uart_putc waits for room).
 */
con_polled:
    mrs     x0, daif
    str     x0, [sp, #80]               /* (con_out's frame: free) */
    msr     daifset, #3
    bl      con_acquire
    mov     x10, x0
    mov     x8, #0                      /* the ring not yet drained */
1:  cmp     x6, x7
    b.hs    3f
    ldrb    w0, [x6]
    bl      fbcon_putc
    cbnz    x8, 2f
    bl      tx_drain_polled             /* clobbers x0-x4 */
    mov     x8, #1
2:  ldrb    w0, [x6], #1
    bl      uart_putc                   /* clobbers x1, x2 */
    mov     x0, #1
    tx_count x0, x1, x2, TXS_POLLED
    tx_count x0, x1, x2, TXS_SENT
    b       1b
3:  con_release x10, x0
    mrs     x9, tpidr_el2
    cbz     x9, 4f
    bl      critical_exit               /* the screen's FP state settled, as ever */
4:  ldr     x0, [sp, #80]
    msr     daif, x0
con_done:
    ldp     x5, x6, [sp, #16]
    ldp     x7, x8, [sp, #32]
    ldp     x9, x10, [sp, #48]
    ldp     x16, x17, [sp, #64]
    ldp     x29, x30, [sp], #96
    ret

/* console_putc ( w0 = byte ): one byte, as console_write.  Clobbers x0-x2
   only. */
    .globl console_putc
console_putc:
    stp     x3, x4, [sp, #-32]!
    stp     x0, x30, [sp, #16]          /* the byte stays here: a wait keeps no x0-x23 */
    add     x0, sp, #16
    add     x1, x0, #1
    bl      con_out
    ldp     x0, x30, [sp, #16]
    ldp     x3, x4, [sp], #32
    ret

/* tx_drain_polled: the ring out through uart_putc (which waits for room),
   the TX interrupt off.  Under console_lock, interrupts masked or
   exception context only (the interrupt moves the ring too).  Clobbers
   x0-x4. */
tx_drain_polled:
    str     x30, [sp, #-16]!
    ladr    x3, console_tx
1:  ldp     x1, x2, [x3]                /* head, tail */
    cmp     x1, x2
    b.eq    2f
    ladr    x0, console_tx_ring
    and     x4, x2, #(TX_RING - 1)
    ldrb    w0, [x0, x4]
    bl      uart_putc                   /* clobbers x1, x2 */
    ldr     x2, [x3, #TX_TAIL]
    add     x2, x2, #1
    str     x2, [x3, #TX_TAIL]
    mov     x0, #1
    tx_count x0, x1, x2, TXS_POLLED
    tx_count x0, x1, x2, TXS_SENT
    b       1b
2:  ldr     x0, [x3, #TX_ARMED]
    cbz     x0, 3f
    str     xzr, [x3, #TX_ARMED]
    bl      board_tx_disarm
3:  ldr     x30, [sp], #16
    ret

/*
 * console_flush: everything printed out on the wire (the ring polled out,
 * then the board waits until the UART is empty, uart_flush), interrupts
 * masked meanwhile, under console_lock.  Before the machine resets or
 * switches off (BYE).  Clobbers x0-x4.
 */
    .globl console_flush
console_flush:
    stp     x5, x30, [sp, #-32]!
    mrs     x0, daif
    str     x0, [sp, #16]
    msr     daifset, #3
    bl      con_acquire
    mov     x5, x0
    bl      tx_drain_polled
    bl      uart_flush
    con_release x5, x0
    ldr     x0, [sp, #16]
    msr     daif, x0
    ldp     x5, x30, [sp], #32
    ret

    .section .text.critical, "ax"

/*
 * tx_put_held ( w0 = byte ): under console_lock, the ring known to have
 * room: into the FIFO at once if nothing waits in the ring and the FIFO
 * has room, else into the ring, which then moves on as far as the FIFO
 * takes it (tx_pump), unless the TX interrupt is armed (the FIFO was full
 * when it was armed: the interrupt moves the ring on, no look needed).
 * In the critical section (or masked).  Clobbers x0-x5.
 */
tx_put_held:
    str     x30, [sp, #-16]!
    mov     w4, w0
    ladr    x3, console_tx
    ldp     x1, x2, [x3]                /* head, tail */
    cmp     x1, x2
    b.ne    2f                          /* bytes wait: behind them */
    bl      uart_tx_try                 /* clobbers x1, x2 */
    cbz     x0, 1f
    tx_count x0, x1, x2, TXS_SENT
    b       8f
1:  ladr    x3, console_tx
    ldp     x1, x2, [x3]
2:  ladr    x0, console_tx_ring
    and     x2, x1, #(TX_RING - 1)
    strb    w4, [x0, x2]
    add     x1, x1, #1
    str     x1, [x3, #TX_HEAD]
    ldr     x0, [x3, #TX_ARMED]         /* armed: the FIFO was full at the last look, */
    cbnz    x0, 8f                      /* its interrupt takes this byte on */
    bl      tx_pump
8:  ldr     x30, [sp], #16
    ret

/*
 * tx_pump ( -- x0 = bytes moved ): the ring into the FIFO while it takes
 * bytes: the board says how many it takes now (uart_tx_room: what is free
 * can only grow while we write, the UART draining), those go without a
 * look each (uart_tx_put), then it is asked again.  Bytes left: the TX
 * interrupt on (once: TX_ARMED; the UART's TXTHRESH and the AIC line),
 * it fires when the FIFO has drained; the ring empty: off.  Under
 * console_lock, from the critical section or exception context.
 * Clobbers x0-x5.
 */
    .globl tx_pump
tx_pump:
    str     x30, [sp, #-16]!
    ladr    x3, console_tx
    mov     x5, #0
1:  bl      uart_tx_room                /* x0: bytes the FIFO takes (clobbers x1, x2) */
    cbz     x0, 3f                      /* the FIFO is full */
    mov     x4, x0
2:  ldp     x1, x2, [x3]                /* head, tail */
    cmp     x1, x2
    b.eq    5f                          /* empty */
    ladr    x0, console_tx_ring
    and     x1, x2, #(TX_RING - 1)
    ldrb    w0, [x0, x1]
    add     x2, x2, #1
    str     x2, [x3, #TX_TAIL]
    bl      uart_tx_put                 /* clobbers x1 */
    add     x5, x5, #1
    subs    x4, x4, #1
    b.ne    2b
    b       1b
3:  ldr     x0, [x3, #TX_ARMED]
    cbnz    x0, 9f
    mov     x0, #1
    str     x0, [x3, #TX_ARMED]
    bl      board_tx_arm                /* clobbers x0, x1 */
    ladr    x0, console_rx_unmask       /* the line at the AIC (one store) */
    ldp     x0, x1, [x0]
    cbz     x0, 9f
    str     w1, [x0]
    b       9f
5:  ldr     x0, [x3, #TX_ARMED]
    cbz     x0, 9f
    str     xzr, [x3, #TX_ARMED]
    bl      board_tx_disarm             /* clobbers x0, x1 */
9:  tx_count x5, x1, x2, TXS_SENT
    mov     x0, x5
    ldr     x30, [sp], #16
    ret

/*
 * console_tx_block ( x0 = bytes of room wanted, at most TX_RING ): the
 * ring had less: wait for the TX interrupt to make room, at most twice the time the FIFO takes to drain (the console's
 * timed wait, TS_INPUT, as console_block: the period's end moves the ring
 * on itself, console_rx_timeout).  A second thread finding another one
 * waiting sleeps that long instead.  Returns when woken, or at once if
 * there is room by now.  From con_ring in thread context, on the boot
 * core only (TX_WAITER is woken by the UART's interrupt, which runs
 * there), console_lock not held: head and tail are read without it, a
 * stale look costs at most one period or one look more.  Clobbers x0-x23.
 */
console_tx_block:
    mrs     x9, tpidr_el2
    mov     x20, x30                    /* the switch returns to our caller */
    ladr    x1, console_tx
    ldp     x2, x3, [x1]
    sub     x2, x2, x3
    mov     x3, #TX_RING
    sub     x2, x3, x2
    cmp     x2, x0
    b.hs    critical_exit               /* room came meanwhile */
    bl      board_tx_ticks              /* x0: the FIFO's drain time (clobbers x0-x2) */
    lsl     x19, x0, #1
    mrs     x1, cntpct_el0
    add     x19, x19, x1                /* the deadline */
    ladr    x1, console_tx
    ldr     x2, [x1, #TX_WAITER]
    cbnz    x2, 1f
    mov     x0, #1
    tx_count x0, x2, x3, TXS_WAITS
    mov     x0, x19
    add     x1, x1, #TX_WAITER
    b       console_sleep
1:  mov     x0, x19                     /* another thread waits: take turns */
    mov     x30, x20
    b       thread_sleep_until

/*
 * console_sleep ( x0 = deadline, x1 = the waiter cell, x20 = where the
 * switch returns ): the console's timed wait, for a byte (rx_waiter) or
 * for room in the TX ring (console_tx TX_WAITER): the running thread is
 * recorded in the cell, TS_INPUT, on the sleepers until the deadline,
 * and the UART's line unmasked at the AIC; its interrupt
 * (console_uart_interrupt) or the deadline (console_rx_timeout, from the
 * timer) makes it ready again.  Clobbers x0-x23.
 */
console_sleep:
    current_tcb x10
    str     x10, [x1]
    mov     x2, #TS_INPUT
    str     x2, [x10, #T_STATE]
    str     x0, [x10, #T_DEADLINE]
    mov     x3, x0
    bl      sleeper_insert
    ladr    x16, console_rx_unmask      /* from here the IRQ may come: deferred */
    ldp     x16, x17, [x16]
    cbz     x16, 1f
    str     w17, [x16]
1:  mov     x30, x20
    b       block_current

/*
 * Console input: a ring the UART's receive side fills, and Ctrl-C.
 *
 * The UART's receive interrupt stays on from board_irq_init: its handler
 * (console_uart_interrupt) moves every byte out of the FIFO into RX_RING
 * at once (rx_drain), so the line drops and nothing storms, and a byte
 * is seen when it comes, not when somebody next reads: that is how Ctrl-C
 * (0x03, ETX) reaches a word that never reads the console.  A Ctrl-C is
 * never a byte of input: the bytes typed before it are dropped (as a
 * terminal's ISIG discards its input queue), PC_INTR is set, and the
 * console thread gets THROW -28 "user interrupt" (console_intr_deliver):
 *   running: its return from the interrupt goes to user_interrupt instead
 *     (not inside the allocators: PC_INTR stays set and the timer's next
 *     tick, tick_intr in kernel/thread.S, delivers it);
 *   waiting for a byte: woken, and console_getc throws;
 *   asleep, waiting for room in the TX ring, or in IPC: taken off what it
 *     waits on (as a timeout would, ipc_timeout), made ready, and its
 *     switch returns into user_interrupt;
 *   waiting for the disk (TS_IO, kernel/blk.S): not touched (the device
 *     owns its buffer until the request is over); PC_INTR stays set and
 *     the disk's interrupt that ends the wait sends its switch's return
 *     into user_interrupt (blk_interrupt);
 *   ready: its saved context resumes in user_interrupt.
 * Other threads are not touched: a thread of its own stops only when
 * asked (KILL, or its own CATCH of what the console thread sends it).
 *
 * console_getc takes from the ring; with the ring empty it looks at the
 * UART itself (the bytes an interrupt that never came left in the FIFO),
 * then the board waits (board_rx_wait): on m3 console_block below, a
 * timed sleep the interrupt ends early; on virt a poll of the FIFO with
 * the UART's interrupt off.  The timed sleep keeps a dead interrupt path
 * from making the console deaf (an AIC that is not enabled, an IRQ routed
 * where nothing delivers it): every POLL_MS the thread wakes and looks
 * at the UART itself.  A byte found that way came without its interrupt:
 * counted in console_stats (the Forth word console-stats shows them).
 */
#define POLL_MS     10
#define RX_RING     1024            /* bytes, a power of two */
#define RX_HEAD     0               /* console_rx: bytes ever put, */
#define RX_TAIL     8               /*   bytes ever taken, */
#define RX_PAUSED   16              /*   1: the ring was full, the UART's RX interrupt off, */
#define RX_INTRS    24              /*   Ctrl-Cs seen */
#define ETX         3               /* Ctrl-C */

    .data
    .balign 8
    .globl rx_waiter, console_rx_unmask, console_stats, console_rx, console_thread
rx_waiter:  .quad 0             /* the thread waiting for a console byte */
console_rx_unmask:              /* the store that unmasks the UART's interrupt */
    .quad   0, 0                /*   (address, 32-bit value; 0: no interrupt) */
console_stats:
    .quad   0, 0, 0             /* wake-ups by the interrupt, by the poll period,
                                   bytes found by polling */
console_rx: .quad 0, 0, 0, 0    /* RX_* above */
console_thread: .quad 0         /* the thread Ctrl-C interrupts (QUIT's: set there) */
    .bss
console_rx_ring: .space RX_RING

    .section .text.critical, "ax"

/*
 * rx_drain ( -- x0 = bytes put into the ring ): every byte in the UART's
 * FIFO into the ring; a Ctrl-C drops what the ring holds and sets
 * PC_INTR instead.  With the ring full the rest stays in the FIFO and
 * the UART's RX interrupt is paused (board_rx_pause) until a byte is
 * taken (rx_take): nothing typed or sent is lost (the sender waits, as
 * the UART's own FIFO makes it), at the price of a Ctrl-C behind a full
 * ring waiting its turn.  From the UART's interrupt or the critical
 * section (so never both at once).  Clobbers x0-x4.
 */
rx_drain:
    str     x30, [sp, #-16]!
    mov     x4, #0
1:  ladr    x3, console_rx
    ldp     x1, x2, [x3]                /* head, tail */
    sub     x2, x1, x2
    cmp     x2, #RX_RING
    b.hs    2f                          /* full: the rest waits in the FIFO */
    bl      uart_rx_ready               /* clobbers x1 */
    cbz     x0, 9f
    bl      uart_getc                   /* clobbers x1, x2 */
    ladr    x3, console_rx
    cmp     w0, #ETX
    b.eq    3f
    ldr     x1, [x3, #RX_HEAD]
    ladr    x2, console_rx_ring
    and     x1, x1, #(RX_RING - 1)
    strb    w0, [x2, x1]
    ldr     x1, [x3, #RX_HEAD]
    add     x1, x1, #1
    str     x1, [x3, #RX_HEAD]
    add     x4, x4, #1
    b       1b
2:  ldr     x1, [x3, #RX_PAUSED]
    cbnz    x1, 9f
    mov     x1, #1
    str     x1, [x3, #RX_PAUSED]
    bl      con_acquire                 /* UCON's read-modify-write: board_tx_arm's */
    str     x0, [sp, #8]                /*   too, from any core (clobbers x0-x3) */
    bl      board_rx_pause              /* clobbers x0-x2 */
    ldr     x0, [sp, #8]
    con_release x0, x1
    b       9f
3:  ldr     x1, [x3, #RX_HEAD]          /* Ctrl-C: what was typed before it goes */
    str     x1, [x3, #RX_TAIL]
    ldr     x1, [x3, #RX_INTRS]
    add     x1, x1, #1
    str     x1, [x3, #RX_INTRS]
    mrs     x1, tpidr_el2
    mov     x2, #1
    str     x2, [x1, #PC_INTR]
    b       1b
9:  mov     x0, x4
    ldr     x30, [sp], #16
    ret

/*
 * rx_take ( -- x0 = a byte, -1 none, -28 a Ctrl-C for this thread ): the
 * next byte of the ring, after a look at the UART (rx_drain) if it is
 * empty.  A pending Ctrl-C comes first, for the console thread only
 * (which it clears).  Clobbers x0-x4, x9, x16, x17.
 */
rx_take:
    mrs     x9, tpidr_el2
    str     x30, [sp, #-16]!
    bl      rx_drain
    ldr     x30, [sp], #16
    ldr     x0, [x9, #PC_INTR]
    cbz     x0, 1f
    ladr    x1, console_thread
    ldr     x1, [x1]
    current_tcb x2
    cmp     x1, x2
    b.ne    1f                          /* not ours to take */
    str     xzr, [x9, #PC_INTR]
    mov     x0, #-28
    b       critical_exit
1:  ladr    x3, console_rx
    ldp     x1, x2, [x3]                /* head, tail */
    mov     x0, #-1
    cmp     x1, x2
    b.eq    critical_exit               /* nothing */
    ladr    x0, console_rx_ring
    and     x1, x2, #(RX_RING - 1)
    ldrb    w0, [x0, x1]
    add     x2, x2, #1
    str     x2, [x3, #RX_TAIL]
    ldr     x1, [x3, #RX_PAUSED]
    cbnz    x1, 2f
    b       critical_exit
2:  str     xzr, [x3, #RX_PAUSED]       /* room again: the UART's RX interrupt back */
    mov     x4, x0
    str     x30, [sp, #-16]!
    bl      con_acquire                 /* UCON, as rx_drain (clobbers x0-x3) */
    str     x0, [sp, #8]
    bl      board_rx_resume             /* clobbers x0-x2 */
    ldr     x0, [sp, #8]
    con_release x0, x1
    ldr     x30, [sp], #16
    mov     x0, x4
    b       critical_exit

/* rx_count ( -- x0 = bytes in the ring, after a look at the UART ):
   KEY?.  Clobbers x0-x4, x9, x16, x17. */
    .globl rx_count
rx_count:
    mrs     x9, tpidr_el2
    str     x30, [sp, #-16]!
    bl      rx_drain
    ldr     x30, [sp], #16
    ladr    x3, console_rx
    ldp     x1, x2, [x3]
    sub     x0, x1, x2
    b       critical_exit

    .text

/*
 * console_getc ( -- x0 = byte ): a byte from the console; in the console
 * thread a Ctrl-C is THROW -28 instead.  Clobbers x0-x2, x16, x17 only
 * (read_line keeps its state in x5-x9), so the wait saves what a thread
 * switch clobbers.
 */
    .globl console_getc
console_getc:
    mrs     x0, tpidr_el2               /* input is the boot core's (the AIC sends */
    ladr    x1, percpu                  /* the UART's interrupt there; one RX */
    cmp     x0, x1                      /* waiter): elsewhere KEY is refused, */
    b.ne    getc_elsewhere              /* THROW -21, nothing taken */
    stp     x29, x30, [sp, #-48]!
    stp     x3, x4, [sp, #16]
    str     x9, [sp, #32]
1:  bl      rx_take
    cmn     x0, #1
    b.eq    2f
    ldr     x9, [sp, #32]
    ldp     x3, x4, [sp, #16]
    ldp     x29, x30, [sp], #48
    cmn     x0, #28
    b.eq    user_interrupt
    ret
2:  save_x3_x23
    current_tcb x0
    str     xzr, [x0, #T_RESULT]        /* set to -1 if the poll period ends the wait */
    bl      board_rx_wait
    current_tcb x0
    ldr     x0, [x0, #T_RESULT]
    restore_x3_x23                      /* (x0 is not among them) */
    cbz     x0, 1b                      /* the interrupt woke us, or no timed wait */
    bl      uart_rx_ready
    cbz     x0, 1b
    ladr    x1, console_stats           /* a byte there, and no interrupt for it */
    ldr     x2, [x1, #16]
    add     x2, x2, #1
    str     x2, [x1, #16]
    b       1b

getc_elsewhere:
    mov     x0, #-21
    b       throw_x0

/* user_interrupt: where a Ctrl-C sends the console thread: THROW -28, in
   its own context (EL2t, its stacks), at a point it was interrupted or
   switched out at, never inside a critical section or the allocators. */
    .globl user_interrupt
user_interrupt:
    mov     x0, #-28
    b       throw_x0

/*
 * console_intr_deliver ( x9 = per-core, x14 = the interrupted frame, x15
 * = the thread to run or 0, x29 = 1 in the allocators; exception context,
 * PC_INTR set ): the Ctrl-C to the console thread, as the header above
 * says.  Clobbers x0-x8, x10.
 */
console_intr_deliver:
    str     x30, [sp, #-16]!
    ladr    x1, console_thread
    ldr     x10, [x1]
    cbz     x10, 8f                     /* no console thread yet: nobody to stop */
    sub     x2, x14, #T_FRAME
    cmp     x2, x10
    b.ne    1f
    cbnz    x29, 9f                     /* running, in the allocators: the next tick */
    ladr    x2, user_interrupt          /* running: it returns there */
    msr     elr_el2, x2
    b       8f
1:  ldr     x2, [x10, #T_CORE]          /* away on another core (an IPC there, */
    cmp     x2, x9                      /* kernel/ipc.S ipc_away): not ours to */
    b.ne    9f                          /* touch; pending until it is back */
    ldr     x2, [x10, #T_STATE]
    cmp     x2, #TS_READY
    b.eq    5f
    cmp     x2, #TS_INPUT
    b.eq    2f
    cmp     x2, #TS_SLEEP
    b.eq    3f
    cmp     x2, #TS_IO                  /* waiting for the disk: its buffer is the */
    b.eq    9f                          /*   device's until it answers: pending */
    sub     x3, x2, #TS_SEND
    cmp     x3, #(TS_REPLY - TS_SEND)
    b.ls    4f
    b       8f                          /* dead: nothing to do */
2:  ladr    x3, rx_waiter               /* waiting for a byte: its wake-up */
    ldr     x3, [x3]                    /* below finds the Ctrl-C */
    cmp     x3, x10
    b.eq    9f
    ladr    x3, console_tx              /* waiting for room in the TX ring */
    ldr     x4, [x3, #TX_WAITER]
    cmp     x4, x10
    b.ne    9f
    str     xzr, [x3, #TX_WAITER]
3:  bl      sleeper_remove_x10          /* clobbers x6, x7 */
    b       6f
4:  ldr     x2, [x10, #T_DEADLINE]      /* IPC: as if its time ran out */
    cbz     x2, 41f
    bl      sleeper_remove_x10
41: mov     x0, x10
    bl      ipc_timeout                 /* clobbers x1-x8 */
6:  ladr    x2, user_interrupt          /* its switch returns there */
    str     x2, [x10, #(T_CTX + 40)]
    bl      console_woken               /* clobbers x1-x4 */
    b       8f
5:  ldr     x2, [x10, #T_KIND]          /* ready: where it resumes */
    ladr    x3, user_interrupt
    cbz     x2, 51f
    str     x3, [x10, #T_FRAME_ELR]
    b       8f
51: str     x3, [x10, #(T_CTX + 40)]
8:  str     xzr, [x9, #PC_INTR]
9:  ldr     x30, [sp], #16
    ret

    .section .text.critical, "ax"

/*
 * console_block: wait for the UART's interrupt, at most POLL_MS, unless
 * a byte is already there (board_rx_prepare).  From console_getc (via
 * board_rx_wait) in thread context.  Returns when woken, or at once.
 * Clobbers x0-x23.
 */
    .globl console_block
console_block:
    mrs     x9, tpidr_el2
    ladr    x1, rx_waiter
    ldr     x2, [x1]
    cbnz    x2, thread_yield            /* another thread waits: take turns */
    mov     x20, x30                    /* the switch returns to our caller */
    bl      rx_drain
    mov     x30, x20
    ldr     x1, [x9, #PC_INTR]
    cbnz    x0, critical_exit           /* a byte came meanwhile */
    cbnz    x1, critical_exit           /* or a Ctrl-C */
    mrs     x0, cntfrq_el0              /* the deadline: now + POLL_MS */
    mov     x1, #(1000 / POLL_MS)
    udiv    x0, x0, x1
    mrs     x1, cntpct_el0
    add     x0, x0, x1
    ladr    x1, rx_waiter
    b       console_sleep

    .text

/*
 * console_uart_interrupt ( x0 = per-core, x7 = the running thread's
 * T_FRAME, x0-x7, x29, x30 saved there by tf_enter, kernel/percpu.inc ):
 * the board's IRQ handler found the console UART's interrupt (the board's
 * event read has masked the IRQ at the AIC).  One handler, both
 * directions.  Inside a critical section it only defers (byte 1 of
 * PC_PENDING: release_deferred unmasks it on the section's way out, and
 * the interrupt comes back at once).  Otherwise, by the causes the UART
 * reports (board_uart_causes, which clears them as Linux's
 * apple_serial_handle_irq does): TX, the FIFO drained to its trigger
 * level: the ring moves on (tx_pump) and the thread waiting for room, if
 * there is room now, is woken; RX: the thread waiting for a byte is
 * woken.  The AIC line is unmasked again while someone still needs it (a
 * byte awaited, or bytes left in the ring).  A woken thread that outranks
 * the interrupted one runs now, resumed directly (it is then the most
 * urgent: at most one can be, the other goes to its queue), and the
 * interrupted one keeps its place at the front, its frame completed where
 * it is (as with the timer); not while the thread is in the allocators
 * (the timer comes back soon for the switch).
 * Registers: x9 per-core, x13 the causes, x14 the frame, x15 the thread
 * to run (0: none), x10 a woken thread, x12 con_acquire's answer.  The
 * ring and the FIFO under console_lock (a thread on another core may be
 * writing: it holds the lock for a chunk at most); the waiters are this
 * core's own.
 */
    .globl console_uart_interrupt
console_uart_interrupt:
    mrs     x1, elr_el2
    interrupted_at x1, 9f               /* x29 = 1: in the allocators, no switch */
    tf_save_wide                        /* the wake-ups need x8-x15 */
    mov     x9, x0
    mov     x14, x7
    mov     x15, #0
    bl      board_uart_causes           /* x0: bit 0 RX, bit 1 TX (clobbers x0-x2) */
    mov     x13, x0
    tbz     x13, #1, 2f
    bl      con_acquire                 /* another core may be writing (clobbers x0-x3) */
    mov     x12, x0
    mov     x0, #1
    tx_count x0, x1, x2, TXS_IRQS
    bl      tx_pump                     /* clobbers x0-x5 */
    ladr    x1, console_tx
    ldp     x2, x3, [x1]
    con_release x12, x0
    ldr     x10, [x1, #TX_WAITER]       /* (a boot-core thread: ours to wake) */
    cbz     x10, 2f
    sub     x2, x2, x3
    cmp     x2, #TX_RING
    b.hs    2f                          /* still full */
    str     xzr, [x1, #TX_WAITER]
    bl      sleeper_remove_x10          /* its deadline is moot (clobbers x6, x7) */
    bl      console_woken
2:  tbz     x13, #0, 3f
    bl      rx_drain                    /* the FIFO into the ring (clobbers x0-x4) */
    ldr     x1, [x9, #PC_INTR]
    cbz     x1, 21f
    bl      console_intr_deliver        /* a Ctrl-C (clobbers x0-x8, x10) */
21: ladr    x1, rx_waiter
    ldr     x10, [x1]
    cbz     x10, 3f
    str     xzr, [x1]
    bl      sleeper_remove_x10
    ladr    x1, console_stats
    ldr     x2, [x1]
    add     x2, x2, #1
    str     x2, [x1]
    bl      console_woken
3:  ladr    x1, console_rx_unmask       /* the line again: the console always listens */
    ldp     x1, x2, [x1]
    cbz     x1, 4f
    str     w2, [x1]
4:  mov     x7, x14
    cbz     x15, 8f
    cbnz    x29, 5f                     /* in the allocators: no switch now */
    tf_save_rest                        /* the interrupted thread is preempted */
    sub     x11, x7, #T_FRAME
    enqueue_head x11
    mov     x0, x15
    b       resume_from_handler
5:  enqueue_tail x15
    timer_soon x1, x2                   /* the timer comes back soon for it */
8:  tf_restore_wide
    tf_leave
9:  mov     w1, #1                      /* inside a critical section: defer */
    strb    w1, [x0, #(PC_PENDING + 1)]
    tf_leave

/* console_woken ( x10 = a thread just woken, x14 = the interrupted frame,
   x15 = the one to run or 0, x9 ): x10 becomes the one to run if it
   outranks the interrupted thread and the one chosen so far (which goes to
   its queue then); else it goes to its queue.  Clobbers x1-x4. */
console_woken:
    ldr     x1, [x10, #T_PRIO]
    sub     x2, x14, #T_FRAME
    ldr     x2, [x2, #T_PRIO]
    cmp     x1, x2
    b.le    2f                          /* not above the interrupted thread */
    cbz     x15, 1f
    ldr     x2, [x15, #T_PRIO]
    cmp     x1, x2
    b.le    2f                          /* not above the one chosen */
    mov     x2, x15
    mov     x15, x10
    mov     x10, x2                     /* the one chosen before: queued */
    b       2f
1:  mov     x15, x10
    ret
2:  enqueue_tail x10
    ret

/*
 * console_rx_timeout ( x10 = the waiter, whose deadline passed ): from
 * the timer interrupt, which makes it ready.  The thread waited for a
 * console byte (rx_waiter: T_RESULT -1 says the period ended it) or for
 * room in the TX ring (console_tx TX_WAITER).  Either way the ring moves
 * on here (tx_pump): without this a dead interrupt path would leave bytes
 * in it for ever.  Clobbers x0-x8 (timer_interrupt keeps x9-x14).
 */
    .globl console_rx_timeout
console_rx_timeout:
    str     x30, [sp, #-16]!
    ladr    x1, console_tx
    ldr     x2, [x1, #TX_WAITER]
    cmp     x2, x10
    b.ne    1f
    str     xzr, [x1, #TX_WAITER]
    b       2f
1:  ladr    x1, rx_waiter
    str     xzr, [x1]
    mov     x2, #-1
    str     x2, [x10, #T_RESULT]
    ladr    x1, console_stats
    ldr     x2, [x1, #8]
    add     x2, x2, #1
    str     x2, [x1, #8]
2:  ladr    x0, console_tx_mode
    ldr     x0, [x0]
    cbz     x0, 3f
    bl      con_acquire                 /* clobbers x0-x3 */
    mov     x8, x0
    bl      tx_pump                     /* clobbers x0-x5 */
    tx_count x0, x1, x2, TXS_PUMPED
    con_release x8, x0
3:  ldr     x30, [sp], #16
    ret

/* ---- a line of input -------------------------------------------------- */

/*
 * read_line ( x0 = buffer, x1 = size -- x0 = length | -1 too long | -2 bad byte )
 * Console line input with echo: backspace edits, CR or LF ends the line
 * (an LF right after a CR is the same line end), tab reads as a space.
 * Control characters are not text: the line is read to its end, then
 * rejected; so is a line longer than the buffer.  Clobbers x0-x9.
 */
    .globl read_line
read_line:
    mov     x9, x30
    mov     x5, x0
    mov     x6, x1
    mov     x7, #0                  /* length */
    mov     x8, #0                  /* error: 0, -1 long, -2 bad byte */
1:  bl      console_getc
    ladr    x1, last_was_cr
    ldrb    w2, [x1]
    strb    wzr, [x1]
    cmp     w0, #'\n'
    b.ne    2f
    cbz     w2, 9f                  /* LF ends the line */
    cbz     x7, 1b                  /* LF after CR: already ended */
    b       9f
2:  cmp     w0, #'\r'
    b.ne    3f
    mov     w2, #1
    strb    w2, [x1]
    b       9f
3:  cmp     w0, #8                  /* backspace, delete */
    mov     w2, #0x7f
    ccmp    w0, w2, #4, ne
    b.ne    4f
    cbz     x7, 1b
    sub     x7, x7, #1
    mov     x0, #8
    bl      console_putc
    mov     x0, #' '
    bl      console_putc
    mov     x0, #8
    bl      console_putc
    b       1b
4:  cmp     w0, #'\t'
    mov     w2, #' '
    csel    w0, w2, w0, eq
    cmp     w0, #' '
    b.hs    5f
    mov     x8, #-2                 /* a control character */
    ladr    x1, bad_byte
    str     x0, [x1]
    b       1b
5:  cmp     x7, x6
    b.lo    6f
    cbnz    x8, 1b
    mov     x8, #-1                 /* longer than the buffer */
    b       1b
6:  cbnz    x8, 1b
    strb    w0, [x5, x7]
    add     x7, x7, #1
    bl      console_putc            /* echo */
    b       1b
9:  mov     x0, x7
    cbz     x8, 10f
    mov     x0, x8
10: ret     x9

/*
 * console_line ( x0 = buffer, x1 = size -- x0 = length | -1 too long |
 * -2 bad byte ): a line from the console: through the line editor
 * forth/30-editline.fth installs (its xt in line_editor: edit-line, same
 * contract, on the data stack), else read_line.  Clobbers x0-x23 (a
 * Forth word runs).
 */
    .globl console_line
console_line:
    ladr    x2, line_editor
    ldr     x2, [x2]
    cbz     x2, read_line
    str     x30, [sp, #-16]!
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    blr     x2
    mov     x0, tos
    ldr     tos, [dsp], #8
    ldr     x30, [sp], #16
    ret

    .data
    .balign 8
    .globl line_editor, bad_byte
line_editor: .quad 0            /* console_line's xt (0: read_line); */
bad_byte:   .quad 0             /*   the line refused: the byte that made it so */
.if bad_byte - line_editor != 8
.error "console.S: bad_byte must follow line_editor (line-editor cell+)"
.endif
last_was_cr: .byte 0
    .text

/* console_newline: CR LF, what serial terminals expect (one piece) */
    .globl console_newline
console_newline:
    str     x30, [sp, #-16]!
    ladr    x0, con_crlf
    add     x1, x0, #2
    bl      con_out
    ldr     x30, [sp], #16
    ret

/* console_write ( x0 = address, x1 = length ): one piece (con_out) */
    .globl console_write
console_write:
    add     x1, x0, x1
    b       con_out

/* console_puts ( x0 = NUL-terminated string ): one piece */
    .globl console_puts
console_puts:
    mov     x1, x0
1:  ldrb    w2, [x1]
    cbz     w2, con_out
    add     x1, x1, #1
    b       1b

/* console_hex ( x0 = value ): "0x" and the hex digits, no leading zeros,
   one piece */
    .globl console_hex
console_hex:
    str     x30, [sp, #-48]!
    mov     x3, x0
    add     x2, sp, #16
    mov     w0, #'0'
    strb    w0, [x2], #1
    mov     w0, #'x'
    strb    w0, [x2], #1
    orr     x4, x3, #1
    clz     x4, x4
    mov     x0, #63
    sub     x4, x0, x4              /* highest set bit */
    and     x4, x4, #~3             /* shift of the leading digit */
1:  lsr     x0, x3, x4
    and     x0, x0, #15
    cmp     x0, #10
    add     x1, x0, #'0'
    add     x0, x0, #('a' - 10)
    csel    x0, x1, x0, lo
    strb    w0, [x2], #1
    subs    x4, x4, #4
    b.pl    1b
    add     x0, sp, #16
    mov     x1, x2
    bl      con_out
    ldr     x30, [sp], #48
    ret

/* console_dec ( x0 = unsigned value ): decimal digits, one piece */
/*
 * console_say ( x0 = string, x1 = signed number, x2 = string ): the first
 * string, the number in decimal, the second string (NUL-terminated, each
 * cut at 48 bytes) in one piece, so a report from another core is not
 * torn inside its words ("thread 3 terminated:", "error -4: ").
 * Clobbers x0-x7 (and what con_out clobbers).
 */
    .globl console_say
console_say:
    str     x30, [sp, #-128]!
    add     x3, sp, #8              /* the line, built upwards */
    add     x7, x3, #48
1:  ldrb    w4, [x0], #1            /* the first string */
    cbz     w4, 2f
    strb    w4, [x3], #1
    cmp     x3, x7
    b.lo    1b
2:  cmp     x1, #0                  /* the number: sign, then digits */
    b.ge    3f
    mov     w4, #'-'
    strb    w4, [x3], #1
    neg     x1, x1
3:  add     x5, sp, #120            /* digits downwards at the frame's end */
    mov     x6, #10
4:  udiv    x4, x1, x6
    msub    x7, x4, x6, x1
    add     x7, x7, #'0'
    strb    w7, [x5, #-1]!
    mov     x1, x4
    cbnz    x1, 4b
    add     x6, sp, #120
5:  ldrb    w4, [x5], #1            /* ... moved up after the first string */
    strb    w4, [x3], #1
    cmp     x5, x6
    b.lo    5b
    add     x7, x3, #48
6:  ldrb    w4, [x2], #1            /* the second string */
    cbz     w4, 7f
    strb    w4, [x3], #1
    cmp     x3, x7
    b.lo    6b
7:  mov     x1, x3
    add     x0, sp, #8
    bl      con_out
    ldr     x30, [sp], #128
    ret

/* console_error_code ( x0 = signed THROW code ): "error -N: " in one piece */
    .globl console_error_code
console_error_code:
    mov     x1, x0
    ladr    x0, msg_say_error
    ladr    x2, msg_say_colon
    b       console_say

    .globl console_dec
console_dec:
    str     x30, [sp, #-48]!
    add     x3, sp, #40             /* digits are built downwards */
    mov     x4, #10
1:  udiv    x1, x0, x4
    msub    x2, x1, x4, x0
    add     x2, x2, #'0'
    strb    w2, [x3, #-1]!
    mov     x0, x1
    cbnz    x0, 1b
    mov     x0, x3
    add     x1, sp, #40
    bl      con_out
    ldr     x30, [sp], #48
    ret
