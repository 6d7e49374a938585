/*
 * Every core: the boot core starts the others, each comes up on the
 * boot core's map with its own state.
 *
 * Why this shape: a secondary core starts with its MMU and caches off
 * (Arm ARM D8.2.11: data accesses are then Device-nGnRnE), at an address
 * the board gives it (m3: the RVBAR written through the core's
 * cpu-impl-reg, m1n1 src/smp.c smp_start_cpu; virt: PSCI CPU_ON's entry
 * point, DEN0022 5.6), and knows nothing but its MPIDR.  So the boot core
 * writes everything the newcomer reads before its MMU is on -- its slot in
 * the percpu array (kernel/percpu.inc: PC_KEY says which core it is for,
 * PC_ESTACK its exception stack) and the registers of the map (smp_boot)
 * -- and cleans them to the point of coherency (DC CVAC), which an
 * uncached reader needs; the newcomer finds its slot by its MPIDR
 * (board.inc mpidr_key), turns on the same translation tables with the
 * same MAIR/TCR/SCTLR, and says it is up with a store-release of
 * PC_ONLINE = 2.  The boot core starts every core the board
 * lists first and waits for all of them together (so bring-up costs one
 * wait, not one per core), 100 ms at most, as m1n1 does (100 x 1 ms),
 * asleep between looks.
 * A core that does not answer, or that the board cannot start, is
 * reported by its MPIDR at boot and is not counted; nothing waits for it
 * again.
 *
 * Cores are numbered in the order they were started: 0 is the boot core,
 * then the board's list order (ADT /cpus on m3, the DTB's /cpus on virt),
 * a refused core leaving no hole.  `cores` counts the cores running.
 *
 * Each started core is a scheduler of its own from the start: its idle
 * thread runs (kernel/thread.S thread_idle_enter), with no tick until
 * another core sends it work (an IPI: tick_request).  Every synchronisation here is a
 * load-acquire / store-release or an LSE atomic: the kernel uses no
 * exclusives (LDXR/STXR), which unicorn's per-instance monitor gets wrong
 * (docs/emulation.md; tests/test_smp.py counts none in the image).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

/* smp_boot: what a core reads with its MMU off */
#define SB_MAIR         0
#define SB_TCR          8
#define SB_TTBR0        16
#define SB_SCTLR        24
#define SB_HCR          32
#define SB_SIZE         40
assert_adjacent SB_MAIR, SB_TCR         /* saved and loaded with one STP/LDP */
assert_adjacent SB_TTBR0, SB_SCTLR

#define ONLINE_NONE     0
#define ONLINE_STARTING 1
#define ONLINE_RUNNING  2
#define ONLINE_LOST     3       /* did not answer in time: its slot is never reused */

#define START_WAIT_DIV  10      /* CNTFRQ / 10: 100 ms for every core to come up, as m1n1
                                   gives each (100 x 1 ms; QEMU's MTTCG needs some of it) */
#define START_NAP_DIV   1000    /* between two looks, the console thread sleeps 1 ms: the
                                   core idles in WFI (emulated time costs nothing) */
#define ESTACK_SIZE     16384   /* each core's exception stack, as the boot core's */

    .text

/*
 * smp_start: start every core the board lists but this one, wait for
 * them, report the ones that did not start.  From forth_cold, at EL2t,
 * after threads_init (the console is up).  Clobbers x0-x23.
 */
    .globl smp_start
smp_start:
    mov     x23, x30
    ladr    x20, smp_boot
    mrs     x0, mair_el2
    mrs     x1, tcr_el2
    stp     x0, x1, [x20, #SB_MAIR]
    mrs     x0, ttbr0_el2
    mrs     x1, sctlr_el2
    stp     x0, x1, [x20, #SB_TTBR0]
    mrs     x0, hcr_el2
    str     x0, [x20, #SB_HCR]
    mov     x0, x20
    mov     x1, #SB_SIZE
    bl      clean_to_poc

    bl      board_cpu_count
    mov     x19, x0                     /* cores listed */
    mov     x21, #0                     /* the board's index */
    mov     x22, #1                     /* the next core number */
1:  cmp     x21, x19
    b.hs    5f
    mov     x0, x21
    bl      board_cpu_key               /* x0 = key, x1 = 1 if it is us */
    cbnz    x1, 4f
    cmp     x22, #NCORES_MAX
    b.hs    8f
    ladr    x18, percpu
    mov     x1, #PC_SIZE
    madd    x18, x22, x1, x18
    str     x0, [x18, #PC_KEY]
    str     x22, [x18, #PC_CORE]
    str     x22, [x18, #PC_CALLSEQ]     /* its call numbers: n, n + NCORES_MAX, ... */
    mrs     x9, tpidr_el2               /* the one allocator page table and demand */
    add     x2, x9, #PC_KTABLE          /*   window (kernel/kmem.S, Many cores) */
    ldp     x0, x1, [x2]
    add     x2, x18, #PC_KTABLE
    stp     x0, x1, [x2]
    add     x2, x9, #PC_DWIN
    ldp     x0, x1, [x2]
    add     x2, x18, #PC_DWIN           /* (no zeroed pages ahead there: its faults */
    stp     x0, x1, [x2]                /*   zero their page, kernel/thread.S idle_core) */
    ldr     x0, [x18, #PC_ESTACK]
    cbnz    x0, 16f                     /* a slot a refused core left: its stack and */
    mov     x0, #ESTACK_SIZE            /*   idle thread are taken over */
    bl      early_alloc
    add     x0, x0, #ESTACK_SIZE
    str     x0, [x18, #PC_ESTACK]
16: stp     x18, x19, [sp, #-48]!
    stp     x20, x21, [sp, #16]
    stp     x22, x23, [sp, #32]
    mov     x9, x18
    bl      thread_idle_make            /* its idle thread, current there from the start */
    ldp     x20, x21, [sp, #16]
    ldp     x22, x23, [sp, #32]
    ldp     x18, x19, [sp], #48
    cbnz    x0, 8f                      /* no memory for it: the rest not started */
    mov     x0, #ONLINE_STARTING
    str     x0, [x18, #PC_ONLINE]
    mov     x0, x18
    mov     x1, #PC_SIZE
    bl      clean_to_poc
    mov     x0, x21
    ladr    x1, secondary_entry
    bl      board_cpu_start             /* x0 = 0, or why not (board_start_reason) */
    cbnz    x0, 3f
    add     x22, x22, #1
    b       4f
3:  mov     x20, x0                     /* refused: say so; the slot is taken again */
    str     xzr, [x18, #PC_ONLINE]
    ldr     x0, [x18, #PC_KEY]
    str     xzr, [x18, #PC_KEY]
    mov     x1, x20
    bl      say_not_started
4:  add     x21, x21, #1
    b       1b
8:  ladr    x0, msg_too_many            /* more cores than NCORES_MAX, or no memory for */
    bl      console_puts                /* their idle threads: said once */
    bl      console_newline

    /* wait for all of them together */
5:  mrs     x20, cntpct_el0
    mrs     x0, cntfrq_el0
    mov     x1, #START_WAIT_DIV
    udiv    x0, x0, x1
    add     x20, x20, x0                /* the deadline */
6:  ladr    x18, percpu
    mov     x2, #1
    mov     x4, #0                      /* still starting */
7:  cmp     x2, x22
    b.hs    9f
    add     x18, x18, #PC_SIZE
    add     x1, x18, #PC_ONLINE
    ldar    x3, [x1]
    cmp     x3, #ONLINE_STARTING
    cinc    x4, x4, eq
    add     x2, x2, #1
    b       7b
9:  cbz     x4, 11f
    mrs     x0, cntpct_el0
    cmp     x0, x20
    b.hs    10f
    mrs     x1, cntfrq_el0
    mov     x2, #START_NAP_DIV
    udiv    x1, x1, x2
    add     x0, x0, x1
    stp     x20, x22, [sp, #-32]!
    str     x23, [sp, #16]
    bl      thread_sleep_until          /* a nap (clobbers x0-x23) */
    ldr     x23, [sp, #16]
    ldp     x20, x22, [sp], #32
    b       6b
10:
    ladr    x18, percpu                 /* out of time: the silent ones are lost */
    mov     x21, #1
12: cmp     x21, x22
    b.hs    11f
    add     x18, x18, #PC_SIZE
    add     x1, x18, #PC_ONLINE
    mov     x0, #ONLINE_STARTING
    mov     x2, #ONLINE_LOST
    cas     x0, x2, [x1]                /* unless it came up just now */
    cmp     x0, #ONLINE_STARTING
    b.ne    13f
    ldr     x0, [x18, #PC_KEY]
    mov     x1, #START_NO_ANSWER
    bl      say_not_started
13: add     x21, x21, #1
    b       12b

11: ladr    x18, percpu                 /* number the running ones 0, 1, ...: */
    ladr    x5, core_table              /* a core that did not start leaves no */
    mov     x2, #0                      /* hole (its slot keeps its state) */
    mov     x4, #0
14: cmp     x2, x22
    b.hs    15f
    add     x1, x18, #PC_ONLINE
    ldar    x3, [x1]
    cmp     x3, #ONLINE_RUNNING
    b.ne    16f
    str     x4, [x18, #PC_CORE]
    str     x18, [x5, x4, lsl #3]
    add     x4, x4, #1
16: add     x18, x18, #PC_SIZE
    add     x2, x2, #1
    b       14b
15: ladr    x0, smp_cores
    str     x4, [x0]
    str     x22, [x0, #8]               /* slots used */
    ret     x23

/* say_not_started ( x0 = key, x1 = reason: START_* ) "core 0x10103 did not
   start: ..." on the console.  Clobbers x0-x17. */
say_not_started:
    stp     x1, x30, [sp, #-16]!
    str     x0, [sp, #-16]!
    ladr    x0, msg_core
    bl      console_puts
    ldr     x0, [sp], #16
    bl      console_hex
    ladr    x0, msg_not_started
    bl      console_puts
    ldr     x0, [sp]
    bl      start_reason
    bl      console_puts
    bl      console_newline
    ldp     x1, x30, [sp], #16
    ret

/* start_reason ( x0 = START_* -- x0 = its text ) Clobbers x1. */
start_reason:
    cmp     x0, #START_REASONS
    b.lo    1f
    mov     x0, #0
1:  ladr    x1, reasons
    ldr     w0, [x1, x0, lsl #2]
    add     x0, x1, x0
    ret

/* clean_to_poc ( x0 = address, x1 = bytes ): the data cache lines there
   written back to the point of coherency, for a reader with its caches
   off.  64-byte steps: no smaller than any line (CTR_EL0.DminLine of
   Apple cores is 64 bytes, their L1D line; m1n1 src/memory.c).
   Clobbers x0-x2. */
clean_to_poc:
    add     x1, x0, x1
    and     x0, x0, #~63
1:  dc      cvac, x0
    add     x0, x0, #64
    cmp     x0, x1
    b.lo    1b
    dsb     sy
    ret

/*
 * secondary_entry: where a started core begins, MMU and caches off, at
 * EL2, DAIF masked, nothing else known.  4 KiB aligned: an RVBAR holds
 * bits 47:12 (m1n1 src/smp.c RVBAR_ADDR).  PC-relative only (the image
 * is wherever it was loaded).  Every load before the MMU is on is
 * naturally aligned (Device memory).
 */
    .section .text.secondary, "ax"
    .balign 4096
    .globl secondary_entry
secondary_entry:
    ladr    x20, smp_boot
    ldr     x0, [x20, #SB_HCR]          /* as the boot core runs: VHE (E2H, TGE) */
    msr     hcr_el2, x0
    isb
    mrs     x1, mpidr_el1
    mpidr_key x1
    ladr    x9, percpu                  /* our slot: our key, being started */
    mov     x3, #(NCORES_MAX - 1)
1:  add     x9, x9, #PC_SIZE
    ldr     x4, [x9, #PC_KEY]
    ldr     x5, [x9, #PC_ONLINE]
    cmp     x4, x1
    ccmp    x5, #ONLINE_STARTING, #0, eq
    b.eq    2f
    subs    x3, x3, #1
    b.ne    1b
    b       core_parked                 /* nobody expects us (or gave up) */
2:  msr     tpidr_el2, x9
    ldr     x0, [x9, #PC_ESTACK]
    mov     sp, x0
    ladr    x0, vectors
    msr     vbar_el2, x0
    mov     x0, #(3 << 20)              /* FP/SIMD on (CPTR_EL2 FPEN, VHE layout) */
    msr     cptr_el2, x0
    isb
    ldp     x0, x1, [x20, #SB_MAIR]     /* the boot core's map */
    msr     mair_el2, x0
    msr     tcr_el2, x1
    ldr     x0, [x20, #SB_TTBR0]
    msr     ttbr0_el2, x0
    dsb     sy
    isb
    tlbi    alle2                       /* nothing from before the reset */
    dsb     sy
    isb
    ldr     x0, [x20, #SB_SCTLR]
    msr     sctlr_el2, x0
    isb
    ic      iallu
    dsb     sy
    isb
    mov     x0, #2                      /* its timers quiet: IMASK, not enabled */
    msr     cnthp_ctl_el2, x0
    msr     cntv_ctl_el0, x0            /* (the EL2 virtual timer, under VHE) */
    isb
    bl      board_core_init             /* x9 = per-core: the board's per-core setup */
    mrs     x9, tpidr_el2
    add     x1, x9, #PC_ONLINE
    mov     x0, #ONLINE_RUNNING
    stlr    x0, [x1]                    /* (the boot core polls: no SEV, which the */
    b       thread_idle_enter           /*   emulated M3 refuses: docs/emulation.md) */           /* its scheduler: the idle thread, no tick yet */

    .text

/* core_parked: a core that found no slot: it stays out of the way. */
core_parked:
1:  wfi
    b       1b

    .section .rodata
msg_core:           .asciz "core "
msg_not_started:    .asciz " did not start: "
msg_too_many:       .asciz "more cores than the kernel keeps state for (NCORES_MAX), or no memory for their threads: the rest not started"
    .balign 4
reasons:            /* START_*: offsets from reasons */
    .word   r_unknown - reasons
    .word   r_no_answer - reasons
    .word   r_refused - reasons
    .word   r_locked - reasons
    .word   r_no_method - reasons
    .word   r_bad_id - reasons
r_unknown:          .asciz "the board refused it"
r_no_answer:        .asciz "no answer within 100 ms"
r_refused:          .asciz "the firmware refused it (PSCI CPU_ON error)"
r_locked:           .asciz "its RVBAR is locked at another entry"
r_no_method:        .asciz "no cpu-start registers known for this chip"
r_bad_id:           .asciz "its id is outside what the board can start"

    .bss
    .balign 64
smp_boot:   .space  SB_SIZE
    .balign 8
    .globl smp_cores
smp_cores:  .quad   0, 0        /* cores running, core slots used */
    .globl core_table
core_table: .space  8 * NCORES_MAX  /* core n's per-core state, n < cores running */
