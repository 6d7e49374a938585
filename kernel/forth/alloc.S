/* Forth words over the kernel's page and block allocators (kernel/alloc.S). */
#include "percpu.inc"

/* block-alloc ( -- a | 0 ) a 4 KiB block */
word "block-alloc", w_blockalloc
    mov     x5, x30
    bl      kalloc_block
    dpush   x0
    ret     x5
endword w_blockalloc

/* block-free ( a -- ) */
word "block-free", w_blockfree
    mov     x0, tos
    ldr     tos, [dsp], #8
    b       kfree_block
endword w_blockfree

/* page-alloc ( -- a | 0 ) a 16 KiB page */
word "page-alloc", w_pagealloc
    mov     x5, x30
    bl      kalloc_page
    dpush   x0
    ret     x5
endword w_pagealloc

/* page-free ( a -- ) */
word "page-free", w_pagefree
    mov     x0, tos
    ldr     tos, [dsp], #8
    b       kfree_page
endword w_pagefree

/* mem-stats ( -- free-blocks free-pages split-pages untouched-bytes )
   walks the lists: for tests and the console, not for hot paths */
word "mem-stats", w_memstats
    mrs     x1, tpidr_el2
    b       mem_stats_x1
endword w_memstats

/* core-mem-stats ( core -- free-blocks free-pages split-pages untouched-bytes )
   the same of another core's lists (a snapshot: exact while that core is
   idle; a walk stops after 2^20 entries).  THROW -24 if no such core. */
word "core-mem-stats", w_corememstats
    mov     x6, x30
    bl      core_state
    ldr     tos, [dsp], #8
    mov     x1, x0
    mov     x30, x6
    b       mem_stats_x1
endword w_corememstats

/* mem_stats_x1 ( x1 = per-core state ): MEM-STATS's body.  Clobbers x0-x5, x7. */
mem_stats_x1:
    mov     x7, #(1 << 20)
    mov     x2, #0
    ldr     x0, [x1, #PC_BLOCKS]
1:  cbz     x0, 2f
    add     x2, x2, #1
    cmp     x2, x7
    b.hs    2f
    ldr     x0, [x0]
    b       1b
2:  mov     x3, #0
    ldr     x0, [x1, #PC_PAGES]
3:  cbz     x0, 4f
    add     x3, x3, #1
    cmp     x3, x7
    b.hs    4f
    ldr     x0, [x0]
    b       3b
4:  ldr     x4, [x1, #PC_SPLIT]
    ladr    x0, boot_info
    ldr     x5, [x0, #BI_MEM_END]
    ldr     x0, [x0, #BI_FREE]
    sub     x5, x5, x0
    dpush   x2
    dpush   x3
    dpush   x4
    dpush   x5
    ret
