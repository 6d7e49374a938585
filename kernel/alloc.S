/*
 * Memory: a 16 KiB page allocator and a 4 KiB block allocator, both O(1).
 *
 * Pages come from per-core free lists (linked through the free pages
 * themselves); an empty list takes the next never-used page from the top
 * of the boot bump region (boot_info.BI_FREE, which early_alloc also
 * uses), so no memory is ever set aside twice.  4 KiB blocks come from
 * per-core block lists; an empty list splits one page into four blocks.
 * Freed memory goes back to the freeing core's list.
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

/* alloc_init: point TPIDR_EL2 at this core's state.  Clobbers x0. */
    .globl alloc_init
alloc_init:
    ladr    x0, percpu
    msr     tpidr_el2, x0
    ret

/* kalloc_block ( -- x0 = 4 KiB block or 0 ) Clobbers x1-x4.
   The fast path: five instructions when the list has a block. */
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

    .bss
    .balign 64
    .globl percpu
percpu: .space  PC_SIZE
