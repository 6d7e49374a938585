/*
 * ALLOCATE FREE and the words under RESIZE (forth/40-memory.fth): the
 * kernel's size classes (kernel/kmem.S), the first-fit heap beyond 64 KiB.
 *
 * ALLOCATE and FREE run in .text.critical (a timer interrupt there is
 * deferred to critical_exit, kernel/thread.S): one thread at a time
 * changes this core's lists.  Every way out of the section passes
 * critical_exit (x9 = per-core): inline on the fast paths (its common
 * case, nothing pending, is a load and a branch), called before the slow
 * and the heap's ways.
 */
#include "percpu.inc"

#define KM_TAG_HEAP 31
#define KM_NCLASS   13
#define KM_HEAD0    (PC_KCLASS + 8 * 60)  /* head[c] = [x9 - 8 * (60 - c) + KM_HEAD0] */

/* allocate ( u -- a-addr ior ) u bytes: up to 64 KiB a chunk of the
   smallest class that holds them (a power of two, at least 16 bytes,
   aligned to its size up to 16 KiB), beyond from the first-fit heap;
   ior 0, or -59 (and 0) when there is no memory */
/* bench: malloc_4k (budget 87 cycles; the budget's variant: 4096 ALLOCATE) */
word "allocate", w_allocate, 0, 1
kmem_allocate:
    sub     x0, tos, #1
    orr     x0, x0, #15
    clz     x0, x0                      /* 60 - class (0 if u = 0) */
    cmp     x0, #(60 - KM_NCLASS + 1)
    b.lo    kmem_allocate_big           /* beyond 64 KiB, or 0 bytes */
    mrs     x9, tpidr_el2
    sub     x3, x9, x0, lsl #3
    ldr     x4, [x3, #KM_HEAD0]         /* a slab with a free chunk */
    cbz     x4, kmem_allocate_grow
    ldp     x5, x6, [x4, #KR_BITS]      /* its bitmap, its base */
    clz     x7, x5                      /* the first free chunk */
    mov     x8, #(1 << 63)
    lsr     x8, x8, x7
    bic     x5, x5, x8
    str     x5, [x4]
    cbz     x5, 2f                      /* full now: off the list */
1:  neg     x8, x0                      /* class + 4: the chunk's size, log 2 */
    lsl     x7, x7, x8
    add     x0, x6, x7
    str     x0, [dsp, #-8]!
    mov     tos, #0
    ldr     x16, [x9, #PC_PENDING]      /* critical_exit, its common case inline */
    cbnz    x16, critical_exit
    ret
2:  ldr     x10, [x4, #KR_NEXT]
    str     x10, [x3, #KM_HEAD0]
    b       1b
endword w_allocate

/* free ( a-addr -- ior ) give back what ALLOCATE gave: ior 0; -60 for an
   address it did not give or that is free already (nothing changes);
   FREE of 0 is 0 */
word "free", w_free, 0, 1
kmem_free:
    mrs     x9, tpidr_el2
    add     x1, x9, #PC_KTABLE          /* (past LDP's reach from the per-core base) */
    ldp     x1, x2, [x1]
    lsr     x3, tos, #14
    and     x4, x2, #0xFFFFFFFFF
    sub     x3, x3, x4                  /* its page in the table */
    cmp     x3, x2, lsr #36
    b.hs    kmem_free_outside
    ldr     x5, [x1, x3, lsl #3]        /* the record(s) | class + 1 */
    and     x6, x5, #31
    sub     x7, x6, #1
    cmp     x7, #(KM_NCLASS - 1)
    b.hi    kmem_free_other             /* not a class's page */
    bic     x5, x5, #31
    and     x8, tos, #0x3fff
    add     x10, x6, #9                 /* class + 10: a slab of 64 chunks */
    lsr     x8, x8, x10
    add     x5, x5, x8, lsl #KREC_SHIFT /* this chunk's slab */
    ldp     x11, x12, [x5]              /* bitmap, base */
    add     x10, x6, #3                 /* class + 4 */
    sub     x13, tos, x12
    lsr     x14, x13, x10               /* the chunk */
    lsl     x15, x14, x10
    cmp     x15, x13
    b.ne    kmem_free_bad               /* not a chunk's start */
    mov     x16, #(1 << 63)
    lsr     x16, x16, x14
    tst     x11, x16
    b.ne    kmem_free_bad               /* free already */
    ldr     x17, [x5, #KR_OWNER]
    cmp     x17, x9
    b.ne    3f                          /* another core's slab */
    orr     x15, x11, x16
    str     x15, [x5, #KR_BITS]
    cbz     x11, 2f                     /* it was full: back on the list */
1:  mov     tos, #0
    ldr     x16, [x9, #PC_PENDING]
    cbnz    x16, critical_exit
    ret
2:  add     x3, x9, x7, lsl #3
    ldr     x10, [x3, #PC_KCLASS]
    str     x10, [x5, #KR_NEXT]
    str     x5, [x3, #PC_KCLASS]
    b       1b
    /* another core's: its pending bit (LDSET: whether it was freed here
       already), and the record on the owner's list if it is the first
       (kernel/kmem.S, Many cores); the owner folds it in */
3:  add     x3, x5, #KR_PENDING
    ldsetal x16, x4, [x3]
    tst     x4, x16
    b.ne    kmem_free_bad               /* freed elsewhere already */
    cbnz    x4, 1b                      /* the record is on the owner's list */
    add     x17, x17, #PC_KREMOTE
    ldr     x4, [x17]
4:  str     x4, [x5, #KR_RNEXT]
    mov     x6, x4
    casl    x6, x5, [x17]               /* (release: the link before the record) */
    cmp     x6, x4
    mov     x4, x6
    b.ne    4b
    b       1b
endword w_free

/* alloc-size ( a-addr -- u ior ) the bytes an allocation holds (its class's
   chunk, or the heap chunk's data): ior 0; 0 -60 if a-addr is not one */
word "alloc-size", w_allocsize
    mrs     x9, tpidr_el2
    mov     x0, tos
    mov     x8, x30
    bl      kmem_cell
    mov     x30, x8
    cbz     x1, 9f
    ldr     x5, [x1]
    and     x6, x5, #31
    sub     x7, x6, #1
    cmp     x7, #(KM_NCLASS - 1)
    b.hi    5f
    bic     x5, x5, #31
    and     x8, tos, #0x3fff
    add     x10, x6, #9
    lsr     x8, x8, x10
    add     x5, x5, x8, lsl #KREC_SHIFT
    ldp     x11, x12, [x5]              /* bitmap, base */
    add     x10, x6, #3
    sub     x13, tos, x12
    lsr     x14, x13, x10
    lsl     x15, x14, x10
    cmp     x15, x13
    b.ne    9f
    mov     x16, #(1 << 63)
    lsr     x16, x16, x14
    tst     x11, x16
    b.ne    9f                          /* free */
    mov     x0, #1
    lsl     x0, x0, x10
    b       8f
5:  cmp     x6, #KM_TAG_HEAP            /* the heap: a chunk marked here */
    b.ne    9f
    tbz     x5, #5, 9f
    ubfx    x7, x5, #6, #14
    and     x8, tos, #0x3fff
    cmp     x7, x8
    b.ne    9f
    ldur    x0, [tos, #-8]              /* its header: size | used, header included */
    and     x0, x0, #~1
    sub     x0, x0, #8
8:  str     x0, [dsp, #-8]!
    mov     tos, #0
    ret
9:  str     xzr, [dsp, #-8]!
    mov     tos, #-60
    ret
endword w_allocsize

/* heap-mark ( a -- ) an allocated heap chunk's data starts at a (its
   page's cell says where)   heap-unmark ( a -- ) no longer */
word "heap-mark", w_heapmark
    mov     x4, #1
    b       kmem_heapmark
endword w_heapmark

word "heap-unmark", w_heapunmark
    mov     x4, #0
    b       kmem_heapmark
endword w_heapunmark

kmem_heapmark:
    mrs     x9, tpidr_el2
    mov     x0, tos
    ldr     tos, [dsp], #8
    ladr    x1, heap_region
    ldp     x2, x3, [x1]
    sub     x1, x0, x2
    cmp     x1, x3
    b.hs    9f                          /* not in the heap: left alone */
    mov     x8, x30
    bl      kmem_cell
    mov     x30, x8
    cbz     x1, 9f
    mov     x2, #KM_TAG_HEAP
    cbz     x4, 1f
    and     x3, x0, #0x3fff
    orr     x2, x2, #(1 << 5)
    orr     x2, x2, x3, lsl #6
1:  str     x2, [x1]
9:  ret

/* kmem-heap! ( xt-allocate xt-free -- ) the first-fit heap's words, which
   ALLOCATE and FREE hand requests beyond 64 KiB (and heap chunks) to */
word "kmem-heap!", w_kmemheap
    ladr    x0, kmem_hooks
    ldr     x1, [dsp], #8
    stp     x1, tos, [x0]
    ldr     tos, [dsp], #8
    ret
endword w_kmemheap

/* kmem-trim ( -- ) every slab whose chunks are all free: its pages back to
   the page lists */
word "kmem-trim", w_kmemtrim
    mov     x21, x30
    bl      kmem_trim
    ret     x21
endword w_kmemtrim

/* kmem-class ( c -- free total ) class c (chunks of 2^(c+4) bytes): its
   free chunks, and all it holds (for tests and the console) */
word "kmem-class", w_kmemclass
    cmp     tos, #KM_NCLASS
    b.hs    kmem_throw_range
    mrs     x9, tpidr_el2
    mrs     x10, daif
    msr     daifset, #3
    add     x1, x9, tos, lsl #3
    ldr     x2, [x1, #PC_KCLASS]
    mov     x3, #0                      /* free */
1:  cbz     x2, 3f
    ldr     x4, [x2]                    /* popcount of its bitmap */
2:  cbz     x4, 21f
    sub     x5, x4, #1
    and     x4, x4, x5
    add     x3, x3, #1
    b       2b
21: ldr     x2, [x2, #16]
    b       1b
3:  ldr     x4, [x1, #PC_KSLABS]
    msr     daif, x10
    mov     x5, #64                     /* chunks a slab holds */
    cmp     tos, #4
    b.ls    4f
    mov     x5, #1
    cmp     tos, #10
    b.hi    4f
    mov     x6, #10
    sub     x6, x6, tos
    lsl     x5, x5, x6
4:  mul     x4, x4, x5
    str     x3, [dsp, #-8]!
    mov     tos, x4
    ret
endword w_kmemclass

kmem_throw_range:
    mov     x0, #-24
    b       throw_x0

    .text

/* out of the section first (a deferred interrupt is taken), then the
   slow or the heap's way */
kmem_allocate_grow:
    mov     x21, x30
    bl      critical_exit
    mov     x19, #60
    sub     x19, x19, x0                /* the class */
    bl      kmem_grow
    mov     x30, x21
    cbz     x0, kmem_allocate           /* a slab now: again */
    str     xzr, [dsp, #-8]!
    mov     tos, x0
    ret

kmem_allocate_big:
    mrs     x9, tpidr_el2
    mov     x21, x30
    bl      critical_exit
    mov     x30, x21
    cbnz    tos, 1f
    mov     tos, #1                     /* 0 bytes: the smallest chunk */
    b       kmem_allocate
1:  ladr    x1, kmem_hooks
    ldr     x1, [x1]                    /* the first-fit heap's ALLOCATE */
    cbz     x1, 2f
    br      x1
2:  str     xzr, [dsp, #-8]!
    mov     tos, #-59
    ret

kmem_free_outside:
    mov     x21, x30
    bl      critical_exit
    mov     x30, x21
    cbz     tos, 1f                     /* FREE of 0: nothing, ior 0 */
    mov     tos, #-60
    ret
1:  mov     tos, #0
    ret

kmem_free_other:
    mov     x21, x30
    bl      critical_exit
    mov     x30, x21
    cmp     x6, #KM_TAG_HEAP            /* a heap chunk's data starts here? */
    b.ne    1f
    tbz     x5, #5, 1f
    ubfx    x7, x5, #6, #14
    and     x8, tos, #0x3fff
    cmp     x7, x8
    b.ne    1f
    ladr    x1, kmem_hooks
    ldr     x1, [x1, #8]                /* the first-fit heap's FREE */
    cbz     x1, 1f
    br      x1
1:  mov     tos, #-60
    ret

kmem_free_bad:
    mov     x21, x30
    bl      critical_exit
    mov     x30, x21
    mov     tos, #-60
    ret
