/*
 * The kernel allocator behind ALLOCATE, FREE and RESIZE: size classes.
 *
 * Thirteen classes, powers of two from 16 bytes to 64 KiB (class c holds
 * chunks of 2^(c+4) bytes).  Nothing is kept next to a chunk: `4096
 * ALLOCATE` gets exactly a 4 KiB block, 4 KiB aligned (every chunk up to
 * 16 KiB is aligned to its size; 32 and 64 KiB chunks to 16 KiB), and a
 * Forth program writing past its chunk cannot corrupt the allocator's own
 * records.  The state is out of band:
 *
 * - The page table: one cell per 16 KiB page of usable RAM, indexed by
 *   address (PC_KTABLE, PC_KRANGE), in demand-zero memory (kmem_init): 0
 *   for a page the allocator does not own; for a page of class c, the
 *   address of its slab record(s) | c+1; for a page of the first-fit heap
 *   (forth/40-memory.fth) where an allocated heap chunk's data starts,
 *   31 | bit 5 | the page offset in bits 6-19 (heap chunks are over 64
 *   KiB: at most one starts in a page; HEAP-MARK, HEAP-UNMARK).  FREE
 *   finds a chunk's class, its slab record and whether it is allocated
 *   from the address alone.
 *
 * - Slab records, 64 bytes (kernel/percpu.inc KR_*): the free bitmap (bit
 *   63 - i set = chunk i is free), the slab's base, the next record on
 *   its class's list, the bitmap when every chunk is free, the owning
 *   core, the chunks other cores freed (pending), the link on the owner's
 *   list of such records, the class.  A slab is at most 64 chunks: for
 *   256 B .. 16 KiB it is a whole page (64 .. 1 chunks), for 32 and 64 KiB
 *   a span of 2 or 4 pages with one chunk, and a page of 16 .. 128 B
 *   chunks holds 16 .. 2 slabs of 64, whose records are one 1 KiB group
 *   (the page's cell points at the group; FREE picks the record by the
 *   offset).  Records come from pages carved into 256 records or 16
 *   groups, never handed to Forth.
 *
 * - Per core (TPIDR_EL2, kernel/percpu.inc): for each class the list of
 *   its slabs that have a free chunk.  ALLOCATE takes the first free chunk
 *   of the first slab (CLZ on its bitmap); a slab that becomes full leaves
 *   the list; FREE sets the chunk's bit and puts a slab that was full back
 *   at the head.  Both are O(1), touch the per-core block, one record and
 *   (FREE) one table cell, and never the chunk itself.  A chunk is freed
 *   only if its bit says allocated and the address is a chunk's start in
 *   a page of that class: FREE of anything else (never allocated, freed
 *   already, inside a chunk, outside RAM) is refused with ior -60 and
 *   changes nothing.
 *
 * Fresh memory: a slab of up to 16 KiB is one page from the page lists
 * (kalloc_page, which takes never-used memory from bump_alloc when they
 * are empty), a 32/64 KiB span is fresh contiguous memory from bump_alloc.
 * kmem_trim gives every slab whose chunks are all free back to the page
 * lists (ALLOCATE does it by itself before it reports memory exhausted).
 *
 * The fast paths (kernel/forth/kmem.S) run in .text.critical: a timer
 * interrupt there is deferred to their exit through critical_exit
 * (kernel/thread.S), so no thread on this core sees a list half changed.
 * The slow paths here run with interrupts masked (they are rare and
 * bounded: one page carved, or the trim's walk).
 *
 * Many cores.  Every core has its own lists, records and pages (kalloc_page
 * is per core; only bump_alloc, fresh memory, takes a lock), and the page
 * table is one, shared (kernel/smp.S gives every core the boot core's
 * PC_KTABLE; its demand-zero pages are installed with CAS, kernel/domain.S,
 * so two cores touching a table page first at once both see one page).  A
 * slab belongs to the core that made it (KR_OWNER), and only that core
 * changes its bitmap and its list links: ALLOCATE and a FREE on the owner
 * stay plain loads and stores, no lock, no atomic.  A FREE on another core
 * (a thread moved, or memory handed to a thread elsewhere) sets the chunk's
 * bit in the record's KR_PENDING with LDSET (the old value says whether it
 * was freed there already: ior -60), and the first pending chunk of a
 * record pushes the record on the owner's PC_KREMOTE list with CAS (the
 * inbox pattern of kernel/thread.S: many pushers, one taker, taken whole
 * with SWP, so no ABA).  The owner folds pending chunks into its bitmaps
 * (kmem_drain_masked) when a class's list is empty, before it carves a new
 * slab, and before a trim: a remote FREE costs the owner nothing until it
 * needs the memory, and memory freed elsewhere is reused before fresh
 * memory is taken.  A FREE racing a double FREE of the same chunk on two
 * other cores may answer 0 twice (the chunk is freed once: the bits are
 * ORed); a double FREE seen in order answers -60 as on one core.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define PAGE        16384
#define NCLASS      13
#define TAG_HEAP    31
#define PAGENO_MASK 0xFFFFFFFFF         /* PC_KRANGE bits 0-35 */

/* slab_link: record x11 (slab base x10, free bitmap x14) at the head of
   class x19's list on this core (x9), owned by it, and counted.  Clobbers
   x0, x3, x4. */
.macro slab_link
    add     x3, x9, x19, lsl #3
    ldr     x4, [x3, #PC_KCLASS]
    stp     x14, x10, [x11, #KR_BITS]
    stp     x4, x14, [x11, #KR_NEXT]
    stp     x9, xzr, [x11, #KR_OWNER]
    stp     xzr, x19, [x11, #KR_RNEXT]
    str     x11, [x3, #PC_KCLASS]
    ldr     x0, [x3, #PC_KSLABS]
    add     x0, x0, #1
    str     x0, [x3, #PC_KSLABS]
.endm

    .text

/*
 * kmem_init: the page table, a cell per page of usable RAM, as a lazy
 * demand-zero region of the demand window (kernel/domain.S): its pages
 * are zeroed when first touched, which only ALLOCATE's slow path and the
 * heap's marks do (a FREE of a page nobody allocated in reads 0 there),
 * so boot zeroes nothing and a machine with much RAM spends memory on the
 * table only where the allocator works.  After alloc_init and the MMU, at
 * EL2t (the first touches are soft faults).  Clobbers x0-x23.
 */
    .globl kmem_init
kmem_init:
    mov     x15, x30
    ladr    x10, boot_info
    ldr     x11, [x10, #BI_PHYS_BASE]
    ldr     x12, [x10, #BI_MEM_END]
    lsr     x11, x11, #14               /* the first page number */
    mov     x0, #(PAGE - 1)
    add     x12, x12, x0
    lsr     x12, x12, #14
    sub     x12, x12, x11               /* pages */
    stp     x11, x12, [sp, #-16]!
    stp     x15, xzr, [sp, #-16]!
    lsl     x0, x12, #3
    bl      demand_region_lazy
    ldp     x15, xzr, [sp], #16
    ldp     x11, x12, [sp], #16
    cbz     x0, 9f
    mrs     x9, tpidr_el2
    orr     x1, x11, x12, lsl #36
    str     x0, [x9, #PC_KTABLE]
    str     x1, [x9, #PC_KRANGE]
    ret     x15
9:  ladr    x0, msg_no_table
    b       boot_fail

    .section .rodata
msg_no_table: .asciz "no room in the demand window for ALLOCATE's page table"
    .text

/*
 * kmem_cell ( x0 = address, x9 = per-core -- x1 = its page's table cell's
 * address, or 0 outside usable RAM ).  Clobbers x2, x3.
 */
    .globl kmem_cell
kmem_cell:
    ldr     x1, [x9, #PC_KTABLE]
    ldr     x2, [x9, #PC_KRANGE]
    lsr     x3, x0, #14
    and     x2, x2, #PAGENO_MASK
    sub     x3, x3, x2
    ldr     x2, [x9, #PC_KRANGE]
    cmp     x3, x2, lsr #36
    b.hs    9f
    add     x1, x1, x3, lsl #3
    ret
9:  mov     x1, #0
    ret

/*
 * kmem_grow ( x19 = class -- x0 = 0, or -59 when memory is exhausted ):
 * a new slab (or slabs) at the head of this core's list for the class.
 * From thread context; masks interrupts for its duration.  Clobbers
 * x0-x18, x20, x22 (keeps x19, x21, x23-x28).
 */
    .globl kmem_grow
kmem_grow:
    mov     x22, x30
    mrs     x20, daif
    msr     daifset, #3                 /* nothing on this core runs meanwhile */
    mrs     x9, tpidr_el2
    ldr     x0, [x9, #PC_KREMOTE]
    cbz     x0, 3f
    bl      kmem_drain_masked           /* chunks other cores freed come first */
    add     x3, x9, x19, lsl #3
    ldr     x0, [x3, #PC_KCLASS]
    cbnz    x0, 70f                     /* a slab of the class has one now */
3:  cmp     x19, #11
    b.hs    40f
    bl      kalloc_page                 /* the slab's page */
    cbnz    x0, 1f
    bl      kmem_trim_masked            /* out of memory: empty slabs back first */
    bl      kalloc_page
    cbz     x0, 90f
1:  mov     x10, x0
    cmp     x19, #4
    b.hs    20f

    /* 16 .. 128 B: 2^(4-c) slabs of 64 chunks, their records one group */
    bl      kmem_group
    cbz     x0, 80f
    mov     x11, x0
    mov     x12, #16
    lsr     x12, x12, x19               /* slabs */
    mov     x13, #1024
    lsl     x13, x13, x19               /* slab bytes: 64 chunks */
    mov     x14, #-1                    /* all 64 free */
    add     x3, x9, x19, lsl #3
    ldr     x4, [x3, #PC_KCLASS]        /* the old head goes behind them */
    mov     x5, x11
    mov     x6, x10
    mov     x7, x12
2:  subs    x7, x7, #1
    add     x8, x5, #KREC
    csel    x8, x4, x8, eq
    stp     x14, x6, [x5, #KR_BITS]     /* bitmap, base */
    stp     x8, x14, [x5, #KR_NEXT]     /* next, full */
    stp     x9, xzr, [x5, #KR_OWNER]    /* ours, nothing pending */
    stp     xzr, x19, [x5, #KR_RNEXT]
    add     x5, x5, #KREC
    add     x6, x6, x13
    b.ne    2b
    str     x11, [x3, #PC_KCLASS]
    ldr     x0, [x3, #PC_KSLABS]
    add     x0, x0, x12
    str     x0, [x3, #PC_KSLABS]
    mov     x0, x11
    b       30f

    /* 256 B .. 16 KiB: the page is one slab of 2^(10-c) chunks */
20: bl      kmem_rec
    cbz     x0, 80f
    mov     x11, x0
    mov     x12, #10
    sub     x12, x12, x19
    mov     x13, #1
    lsl     x13, x13, x12               /* chunks n */
    mov     x12, #64
    sub     x12, x12, x13
    mov     x14, #-1
    lsl     x14, x14, x12               /* the top n bits: n free chunks */
    slab_link
    mov     x0, x11

    /* the page's cell: the record (or group) | class + 1 */
30: add     x1, x19, #1
    orr     x4, x0, x1
    mov     x0, x10
    bl      kmem_cell
    str     x4, [x1]
    b       70f

    /* 32, 64 KiB: a span of 2 or 4 fresh pages, one chunk */
40: mov     x0, #16
    lsl     x0, x0, x19
    bl      bump_alloc
    cbz     x0, 90f
    mov     x10, x0
    bl      kmem_rec
    cbz     x0, 85f
    mov     x11, x0
    mov     x14, #(1 << 63)
    slab_link
    add     x0, x19, #1
    orr     x4, x11, x0
    mov     x0, x10
    bl      kmem_cell
    sub     x5, x19, #10
    mov     x6, #1
    lsl     x6, x6, x5                  /* its pages: every cell names the record */
41: str     x4, [x1], #8
    subs    x6, x6, #1
    b.ne    41b

70: msr     daif, x20
    mov     x0, #0
    ret     x22
80: mov     x0, x10                     /* no record: the page back */
    bl      kfree_page
90: msr     daif, x20
    mov     x0, #-59
    ret     x22
85: sub     x5, x19, #10                /* no record: the span's pages to the page lists */
    mov     x6, #1
    lsl     x6, x6, x5
86: mov     x0, x10
    bl      kfree_page
    add     x10, x10, #PAGE
    subs    x6, x6, #1
    b.ne    86b
    b       90b

/* kmem_rec ( x9 -- x0 = a 32-byte record or 0 ), masked: from the free
   records, or a page carved into 256.  Clobbers x1-x3, x5. */
kmem_rec:
    ldr     x0, [x9, #PC_KREC]
    cbz     x0, 1f
    ldr     x1, [x0]
    str     x1, [x9, #PC_KREC]
    ret
1:  mov     x5, #KREC
    mov     x1, #PC_KREC
    b       kmem_carve

/* kmem_group ( x9 -- x0 = a 512-byte group of 16 records or 0 ), masked.
   Clobbers x1-x3, x5. */
kmem_group:
    ldr     x0, [x9, #PC_KGROUP]
    cbz     x0, 1f
    ldr     x1, [x0]
    str     x1, [x9, #PC_KGROUP]
    ret
1:  mov     x5, #KGROUP
    mov     x1, #PC_KGROUP
    /* fall through */

/* kmem_carve ( x5 = unit, x1 = its free list's per-core offset, x9 -- x0
   = the first unit of a new page or 0 ): the other units chained on the
   list.  Clobbers x1-x3. */
kmem_carve:
    stp     x1, x30, [sp, #-16]!
    bl      kalloc_page
    ldp     x3, x30, [sp], #16
    cbz     x0, 9f
    add     x1, x0, x5                  /* the second unit: the list's head */
    str     x1, [x9, x3]
    mov     x2, #PAGE
    add     x2, x0, x2
    sub     x2, x2, x5                  /* the last */
2:  add     x3, x1, x5
    str     x3, [x1]
    mov     x1, x3
    cmp     x1, x2
    b.lo    2b
    str     xzr, [x2]
9:  ret

/*
 * kmem_drain_masked ( x9 = this core ): the chunks other cores freed in
 * this core's slabs into their bitmaps; a slab that was full goes back on
 * its class's list.  The list is taken whole (SWP: pushes after that
 * start a new one); each record's link is read before its pending bits
 * are taken, because once they are taken a FREE elsewhere may push the
 * record again (and write the link).  Interrupts masked (or at boot).
 * Clobbers x0-x7.
 */
    .globl kmem_drain_masked
kmem_drain_masked:
    add     x1, x9, #PC_KREMOTE
    swpal   xzr, x0, [x1]
1:  cbz     x0, 9f
    ldr     x2, [x0, #KR_RNEXT]
    add     x3, x0, #KR_PENDING
    swpal   xzr, x4, [x3]               /* the chunks freed elsewhere */
    ldr     x5, [x0, #KR_BITS]
    orr     x6, x5, x4
    str     x6, [x0, #KR_BITS]
    cbnz    x5, 2f                      /* on its list already */
    cbz     x4, 2f
    ldr     x7, [x0, #KR_CLASS]         /* it was full: back at its list's head */
    add     x3, x9, x7, lsl #3
    ldr     x7, [x3, #PC_KCLASS]
    str     x7, [x0, #KR_NEXT]
    str     x0, [x3, #PC_KCLASS]
2:  mov     x0, x2
    b       1b
9:  ret

/*
 * kmem_trim_masked ( x9 ): every slab whose chunks are all free leaves its
 * class's list and gives its pages back to the page lists, its record
 * back to the records; a page of small slabs goes when all of its slabs
 * are free (each is dropped as the walk meets it; the last one dropped
 * frees the page and the group).  Interrupts masked.  Clobbers x0-x8,
 * x11-x18 (keeps x9, x10, x19-x23).
 */
kmem_trim_masked:
    mov     x18, x30
    bl      kmem_drain_masked           /* what other cores freed counts as free */
    mov     x11, #0                     /* class */
1:  add     x12, x9, x11, lsl #3
    add     x13, x12, #PC_KCLASS        /* the link that points at the record */
    ldr     x14, [x13]
2:  cbz     x14, 8f
    ldp     x15, x16, [x14, #KR_BITS]   /* bitmap, base */
    ldp     x17, x0, [x14, #KR_NEXT]    /* next, full */
    cmp     x15, x0
    b.ne    6f                          /* chunks in use: kept */
    cmp     x11, #4
    b.lo    4f
    str     x17, [x13]                  /* one slab, its own pages: unlinked */
    mov     x0, x16
    bl      kmem_cell
    mov     x6, #1                      /* pages: 1, or the span's 2^(c-10) */
    cmp     x11, #11
    b.lo    3f
    sub     x5, x11, #10
    lsl     x6, x6, x5
3:  str     xzr, [x1], #8
    mov     x0, x16
    mov     x7, x1
    bl      kfree_page
    mov     x1, x7
    add     x16, x16, #PAGE
    subs    x6, x6, #1
    b.ne    3b
    ldr     x0, [x9, #PC_KREC]          /* the record back */
    str     x0, [x14]
    str     x14, [x9, #PC_KREC]
    b       5f

4:  mov     x0, x16                     /* a slab of a shared page: the group */
    bl      kmem_cell
    ldr     x7, [x1]
    bic     x7, x7, #31
    mov     x8, #16
    lsr     x8, x8, x11                 /* its slabs */
    mov     x2, x7
    mov     x3, x8
41: ldr     x4, [x2], #KREC             /* all free? */
    cmn     x4, #1
    b.ne    6f
    subs    x3, x3, #1
    b.ne    41b
    str     x17, [x13]                  /* unlinked, marked dropped */
    str     xzr, [x14, #KR_FULL]
    mov     x2, x7
    mov     x3, x8
42: ldr     x4, [x2, #KR_FULL]          /* the last one dropped? */
    cbnz    x4, 5f
    add     x2, x2, #KREC
    subs    x3, x3, #1
    b.ne    42b
    str     xzr, [x1]                   /* yes: the page and the group go */
    ldr     x0, [x7, #KR_BASE]
    bl      kfree_page
    ldr     x0, [x9, #PC_KGROUP]
    str     x0, [x7]
    str     x7, [x9, #PC_KGROUP]
    /* fall through */

5:  add     x0, x9, #PC_KSLABS          /* one slab fewer */
    ldr     x2, [x0, x11, lsl #3]
    sub     x2, x2, #1
    str     x2, [x0, x11, lsl #3]
    mov     x14, x17
    b       2b
6:  add     x13, x14, #KR_NEXT
    mov     x14, x17
    b       2b
8:  add     x11, x11, #1
    cmp     x11, #NCLASS
    b.lo    1b
    ret     x18

/* kmem_trim: kmem_trim_masked from thread context.  Clobbers x0-x20. */
    .globl kmem_trim
kmem_trim:
    mov     x20, x30
    mrs     x19, daif
    msr     daifset, #3
    mrs     x9, tpidr_el2
    bl      kmem_trim_masked
    msr     daif, x19
    ret     x20

    .data
    .balign 8
    .globl kmem_hooks
kmem_hooks: .quad 0, 0      /* the first-fit heap's ALLOCATE and FREE (Forth xts) */
