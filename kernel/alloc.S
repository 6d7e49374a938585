/*
 * Memory: a 16 KiB page allocator and a 4 KiB block allocator, both O(1).
 *
 * Pages come from per-core free lists (linked through the free pages
 * themselves); an empty list takes the next never-used page from the top
 * of the boot bump region (bump_alloc, kernel/mmu.S: the one allocator of
 * fresh memory), so no memory is ever set aside twice.  4 KiB blocks come from
 * per-core block lists; an empty list splits one page into four blocks.
 * Freed memory goes back to the freeing core's list.
 * EL2 demand regions (demand_region: addresses in the demand window,
 * kernel/mmu.S, backed at the first touch by the zeroed pages below) are
 * made here too; their faults are taken in kernel/domain.S.
 *
 * The fast paths (kalloc_block, kfree_block) are a handful of
 * instructions: the malloc (4 KB) budget is 87 cycles.
 *
 * Each core finds its lists through TPIDR_EL2.  With one core running
 * there is nothing to lock; a second core refilling from the shared bump
 * region will take a lock on the slow path only.
 */
#include "macros.inc"
#include BOARD_INC

#define PAGE        16384
#define BLOCK       4096

#include "percpu.inc"

    .text

/* alloc_init: point TPIDR_EL2 at the boot core's state (percpu[0]; the
   others are kernel/smp.S's), which says who it is.  Clobbers x0, x1. */
    .globl alloc_init
alloc_init:
    ladr    x0, percpu
    msr     tpidr_el2, x0
    mrs     x1, mpidr_el1
    mpidr_key x1
    str     x1, [x0, #PC_KEY]
    mov     x1, #2
    str     x1, [x0, #PC_ONLINE]
    ladr    x1, boot_stack_top
    str     x1, [x0, #PC_ESTACK]
    ret

/* kalloc_block ( -- x0 = 4 KiB block or 0 ) Clobbers x1-x4.
   The fast path: five instructions when the list has a block. */
/* bench: malloc_4k (budget 87 cycles; the 4 KiB block list variant) */
    .globl kalloc_block
kalloc_block:
    mrs     x1, tpidr_el2
    ldr     x0, [x1, #PC_BLOCKS]
    cbz     x0, kalloc_block_refill     /* list empty: split a page */
    ldr     x2, [x0]                    /* next, kept in the free block itself */
    str     x2, [x1, #PC_BLOCKS]
    ret

/* kfree_block ( x0 = block ) Clobbers x1, x2. */
    .globl kfree_block
kfree_block:
    mrs     x1, tpidr_el2
    ldr     x2, [x1, #PC_BLOCKS]
    str     x2, [x0]
    str     x0, [x1, #PC_BLOCKS]
    ret

/* The slow path: one page becomes four blocks, three onto the list. */
kalloc_block_refill:
    mov     x4, x30
    bl      kalloc_page                 /* x0 = page or 0 */
    mov     x30, x4
    cbz     x0, 1f
    mrs     x1, tpidr_el2
    add     x2, x0, #BLOCK
    str     x2, [x1, #PC_BLOCKS]        /* blocks 1..3 chained, 3 ends */
    add     x2, x0, #2 * BLOCK
    str     x2, [x0, #BLOCK]
    add     x2, x0, #3 * BLOCK
    str     x2, [x0, #2 * BLOCK]
    str     xzr, [x0, #3 * BLOCK]
    ldr     x2, [x1, #PC_SPLIT]
    add     x2, x2, #1
    str     x2, [x1, #PC_SPLIT]
1:  ret

/* kalloc_page ( -- x0 = 16 KiB page or 0 ) Clobbers x1-x3. */
    .globl kalloc_page
kalloc_page:
    mrs     x1, tpidr_el2
    ldr     x0, [x1, #PC_PAGES]
    cbz     x0, 2f
    ldr     x2, [x0]
    str     x2, [x1, #PC_PAGES]
    ret
2:  mov     x0, #PAGE               /* never used before: from the bump region */
    b       bump_alloc              /* (0 when memory is exhausted) */

/* kfree_page ( x0 = page ) Clobbers x1, x2. */
    .globl kfree_page
kfree_page:
    mrs     x1, tpidr_el2
    ldr     x2, [x1, #PC_PAGES]
    str     x2, [x0]
    str     x0, [x1, #PC_PAGES]
    ret

/*
 * zero_fast ( x0 = start, x1 = end, both 256-byte aligned ): zeroed with
 * DC ZVA (a line written without being read first: no read for
 * ownership) when DCZID_EL0 allows it and its block divides 256 bytes (64
 * on Apple cores, unicorn and QEMU), with stores otherwise.  Normal
 * memory only (DC ZVA on Device memory faults).  Clobbers x0, x2, x3.
 */
    .globl zero_fast
zero_fast:
    mrs     x2, dczid_el0
    tbnz    x2, #4, 3f                  /* DZP: prohibited */
    and     x2, x2, #15
    mov     x3, #4
    lsl     x3, x3, x2                  /* the block, bytes */
    cmp     x3, #256
    b.hi    3f
    cmp     x0, x1
    b.hs    2f
1:  dc      zva, x0
    add     x0, x0, x3
    dc      zva, x0
    add     x0, x0, x3
    cmp     x0, x1
    b.lo    1b
2:  ret
3:  cmp     x0, x1
    b.hs    2b
4:  stp     xzr, xzr, [x0]
    stp     xzr, xzr, [x0, #16]
    stp     xzr, xzr, [x0, #32]
    stp     xzr, xzr, [x0, #48]
    add     x0, x0, #64
    cmp     x0, x1
    b.lo    4b
    ret

/*
 * Zeroed pages.  A per-core stack of pages zeroed ahead of time (a 4 KiB
 * block of 512 cells: at most 8 MiB held), so that a demand-zero fault
 * (kernel/domain.S) maps a page and returns instead of zeroing 16 KiB.
 * The fault paths pop it with interrupts masked (they run as exception
 * handlers); it is filled from thread context: when a demand region or a
 * pool-backed domain grant is made, with as many pages as it has, up to
 * the capacity (its creator pays the zeroing, as it paid for zeroing the
 * whole region before), by the idle thread up to IDLE_ZPAGES
 * (kernel/thread.S idle_loop), and by ZERO-REFILL for a program that wants
 * more ready.  The pages are zeroed with interrupts enabled
 * and only the push is masked.  An empty stack is not an error: the
 * fault zeroes a page itself (zpage_slow), the old cost, and counts it.
 */

/* zpool_init: this core's stack, empty.  Boot (after the MMU).
   Clobbers x0-x5. */
    .globl zpool_init
zpool_init:
    mov     x5, x30
    bl      kalloc_block
    mrs     x1, tpidr_el2
    add     x2, x0, #BLOCK
    str     x0, [x1, #PC_ZTOP]          /* top = base: empty */
    str     x0, [x1, #PC_ZBASE]
    str     x2, [x1, #PC_ZEND]
    ret     x5

/*
 * zpool_fill ( x0 = pages wanted -- x0 = pages the stack holds ): up to
 * that many more, never past its capacity: each from the page lists,
 * zeroed with interrupts enabled, pushed with them masked.  From thread
 * context.  Clobbers x0-x8.
 */
    .globl zpool_fill
zpool_fill:
    mov     x8, x30
    mov     x7, x0
1:  cbz     x7, 8f
    mrs     x1, tpidr_el2
    ldr     x2, [x1, #PC_ZTOP]
    ldr     x3, [x1, #PC_ZEND]
    cmp     x2, x3
    b.hs    8f                          /* full */
    mrs     x6, daif
    msr     daifset, #3
    bl      kalloc_page
    msr     daif, x6
    cbz     x0, 8f
    mov     x5, x0
    add     x1, x0, #PAGE
    bl      zero_fast
    mrs     x6, daif
    msr     daifset, #3
    mrs     x1, tpidr_el2
    ldr     x2, [x1, #PC_ZTOP]
    ldr     x3, [x1, #PC_ZEND]
    cmp     x2, x3
    b.hs    7f                          /* filled meanwhile: the page back */
    str     x5, [x2], #8
    str     x2, [x1, #PC_ZTOP]
    msr     daif, x6
    sub     x7, x7, #1
    b       1b
7:  mov     x0, x5
    bl      kfree_page
    msr     daif, x6
8:  mrs     x1, tpidr_el2
    ldr     x2, [x1, #PC_ZTOP]
    ldr     x3, [x1, #PC_ZBASE]
    sub     x0, x2, x3
    lsr     x0, x0, #3
    ret     x8

/*
 * zpage_slow ( x9 = per-core -- x0 = a zeroed page or 0 ): for a fault
 * that found the stack empty: a page from the page lists, zeroed now
 * (counted in PC_ZMISSED).  Masked (an exception handler, on a stack
 * bump_alloc may push on).  Clobbers x0-x5.
 */
    .globl zpage_slow
zpage_slow:
    mov     x4, x30
    bl      kalloc_page
    cbz     x0, 9f
    mov     x5, x0
    add     x1, x0, #PAGE
    bl      zero_fast
    ldr     x1, [x9, #PC_ZMISSED]
    add     x1, x1, #1
    str     x1, [x9, #PC_ZMISSED]
    mov     x0, x5
9:  ret     x4

/* Not in the no-switch region (linker/kernel.ld takes alloc.o's .text for
   it): a region's loop may be preempted like any thread code; the
   zeroed-page stack it tops up (zpool_fill) is. */
    .section .text.demand, "ax"

/*
 * demand_region ( x0 = bytes -- x0 = address or 0 ): a new EL2
 * demand-zero region in the demand window, whole pages, each marked DZ |
 * POOL in its invalid level-3 entry (invalid -> invalid: nothing to
 * invalidate), a guard page above it; then the zeroed-page stack is
 * topped up by as many pages as the region has (up to its capacity), so
 * the region's first touches find pages zeroed ahead of time.  From
 * thread context.  Clobbers x0-x23.
 */
    .globl demand_region
demand_region:
    mov     x18, #1
    b       1f

/* demand_region_lazy ( x0 = bytes -- x0 = address or 0 ): the same, the
   stack not topped up (memory whose pages are mostly never touched: the
   faults zero what is).  Clobbers x0-x23. */
    .globl demand_region_lazy
demand_region_lazy:
    mov     x18, #0
1:  mov     x23, x30
    mov     x1, #(PAGE - 1)
    adds    x0, x0, x1
    b.cs    8f
    and     x20, x0, #~(PAGE - 1)       /* bytes, whole pages */
    cbz     x20, 8f
    mov     x0, x20
    bl      mmu_window
    cbz     x0, 8f
    mov     x21, x0
    add     x22, x0, x20                /* end */
    mov     x19, x21
1:  mov     x0, x19
    bl      mmu_l3_entry                /* x1 = its entry (the window's tables exist) */
    movz    x2, #EL2_DZ_MARK, lsl #48
    str     x2, [x1]
    add     x19, x19, #PAGE
    cmp     x19, x22
    b.lo    1b
    cbz     x18, 2f
    lsr     x0, x20, #14
    bl      zpool_fill
2:  mov     x0, x21
    ret     x23
8:  mov     x0, #0
    ret     x23

    .bss
    .balign 128
    .globl percpu
percpu: .space  PC_SIZE * NCORES_MAX    /* core n's at percpu + n * PC_SIZE */
