/* Memory access and the dictionary pointer. */

/* @ ( a -- x ) */
word "@", w_fetch, F_INLINE
    ldr     tos, [tos]
    ret
endword w_fetch
/* ! ( x a -- ) */
word "!", w_store, F_INLINE
    ldp     x0, x1, [dsp], #16
    str     x0, [tos]
    mov     tos, x1
    ret
endword w_store
/* c@ ( a -- c ) */
word "c@", w_cfetch, F_INLINE
    ldrb    tosw, [tos]
    ret
endword w_cfetch
/* c! ( c a -- ) */
word "c!", w_cstore, F_INLINE
    ldp     x0, x1, [dsp], #16
    strb    w0, [tos]
    mov     tos, x1
    ret
endword w_cstore
/* w@ ( a -- u16 )  w! ( u16 a -- )  l@ ( a -- u32 )  l! ( u32 a -- ) */
word "w@", w_wfetch, F_INLINE
    ldrh    tosw, [tos]
    ret
endword w_wfetch
word "w!", w_wstore, F_INLINE
    ldp     x0, x1, [dsp], #16
    strh    w0, [tos]
    mov     tos, x1
    ret
endword w_wstore
word "l@", w_lfetch, F_INLINE
    ldr     tosw, [tos]
    ret
endword w_lfetch
word "l!", w_lstore, F_INLINE
    ldp     x0, x1, [dsp], #16
    str     w0, [tos]
    mov     tos, x1
    ret
endword w_lstore
/* +! ( n a -- ) */
word "+!", w_plusstore, F_INLINE
    ldp     x0, x1, [dsp], #16
    ldr     x2, [tos]
    add     x2, x2, x0
    str     x2, [tos]
    mov     tos, x1
    ret
endword w_plusstore
/* 2@ ( a -- x1 x2 ) x2 at a, x1 at a+8 */
word "2@", w_2fetch, F_INLINE
    ldp     x0, x1, [tos]
    str     x1, [dsp, #-8]!
    mov     tos, x0
    ret
endword w_2fetch
/* 2! ( x1 x2 a -- ) */
word "2!", w_2store, F_INLINE
    ldp     x0, x1, [dsp], #16      /* x0 = x2, x1 = x1 */
    stp     x0, x1, [tos]
    ldr     tos, [dsp], #8
    ret
endword w_2store

/* here ( -- a ) */
word "here", w_here
    ladr    x0, lit_state           /* HERE may become a branch target: */
    str     xzr, [x0, #8]           /* a literal before it must stay */
    ladr    x0, dp
    ldr     x0, [x0]
    dpush   x0
    ret
endword w_here

/* allot ( n -- ) */
word "allot", w_allot
    ladr    x0, dp
    ldr     x1, [x0]
    add     x1, x1, tos
    ldr     x2, [x0, #8]            /* dp_limit */
    cmp     x1, x2
    b.hi    throw_dict_full
    str     x1, [x0]
    ldr     tos, [dsp], #8
    ret
endword w_allot

throw_dict_full:
    mov     x0, #-8
    b       throw_x0

/* , ( x -- ) */
word ",", w_comma
    ladr    x0, dp
    ldr     x1, [x0]
    str     tos, [x1], #8
    str     x1, [x0]
    ldr     tos, [dsp], #8
    ret
endword w_comma

/* c, ( c -- ) */
word "c,", w_ccomma
    ladr    x0, dp
    ldr     x1, [x0]
    strb    tosw, [x1], #1
    str     x1, [x0]
    ldr     tos, [dsp], #8
    ret
endword w_ccomma

/* i, ( inst -- ) compile one 32-bit instruction at HERE */
word "i,", w_icomma
    mov     x0, tos
    ldr     tos, [dsp], #8
    b       emit_inst
endword w_icomma

/* aligned ( a -- a' ) to a cell */
word "aligned", w_aligned, F_INLINE|F_FOLDABLE
    add     tos, tos, #7
    and     tos, tos, #~7
    ret
endword w_aligned

/* align ( -- ) */
word "align", w_align
    ladr    x0, dp
    ldr     x1, [x0]
    add     x1, x1, #7
    and     x1, x1, #~7
    str     x1, [x0]
    ret
endword w_align

/* fill ( a u c -- ) */
word "fill", w_fill
    ldp     x1, x0, [dsp], #16      /* x1 = u, x0 = a */
    cbz     x1, 2f
1:  strb    tosw, [x0], #1
    subs    x1, x1, #1
    b.ne    1b
2:  ldr     tos, [dsp], #8
    ret
endword w_fill

/* move ( src dst u -- ) overlap-safe */
word "move", w_move
    ldp     x1, x0, [dsp], #16      /* x1 = dst, x0 = src */
    mov     x2, tos
    ldr     tos, [dsp], #8
    b       memmove
endword w_move

/* cmove ( src dst u -- ) low to high */
word "cmove", w_cmove
    ldp     x1, x0, [dsp], #16
    cbz     tos, 2f
1:  ldrb    w3, [x0], #1
    strb    w3, [x1], #1
    subs    tos, tos, #1
    b.ne    1b
2:  ldr     tos, [dsp], #8
    ret
endword w_cmove

/* cmove> ( src dst u -- ) high to low */
word "cmove>", w_cmoveup
    ldp     x1, x0, [dsp], #16
    cbz     tos, 2f
    add     x0, x0, tos
    add     x1, x1, tos
1:  ldrb    w3, [x0, #-1]!
    strb    w3, [x1, #-1]!
    subs    tos, tos, #1
    b.ne    1b
2:  ldr     tos, [dsp], #8
    ret
endword w_cmoveup

/* count ( c-addr -- a u ) */
word "count", w_count, F_INLINE
    ldrb    w0, [tos], #1
    str     tos, [dsp, #-8]!
    mov     tos, x0
    ret
endword w_count

/*
 * memmove ( x0 = src, x1 = dst, x2 = bytes ): overlap-safe, towards the
 * end when dst is above src.  When both are alike modulo 8 (sector
 * buffers, cells, most buffers) it goes 16 bytes a step once dst is
 * 8-aligned, every access aligned (so Device memory, where an unaligned
 * access faults, is fine too: Arm ARM B2.5.2); otherwise a byte at a
 * time.  Each 16-byte step reads before it writes, so an overlap is safe
 * either way.  Why: MOVE under the file system's sector copies was a
 * byte a step, over half of a 4 KB READ-FILE (the file rows of make bench).
 * Clobbers x0-x4.
 */
memmove:
    cbz     x2, 9f
    eor     x3, x0, x1
    cmp     x1, x0
    b.hi    5f
    tst     x3, #7                      /* forwards */
    b.ne    3f
1:  tst     x1, #7                      /* dst (and src) to 8 */
    b.eq    2f
    ldrb    w3, [x0], #1
    strb    w3, [x1], #1
    subs    x2, x2, #1
    b.ne    1b
    ret
2:  cmp     x2, #16
    b.lo    3f
    ldp     x3, x4, [x0], #16
    stp     x3, x4, [x1], #16
    sub     x2, x2, #16
    b       2b
3:  cbz     x2, 9f                      /* the bytes left, or all of them */
4:  ldrb    w3, [x0], #1
    strb    w3, [x1], #1
    subs    x2, x2, #1
    b.ne    4b
    ret
5:  add     x0, x0, x2                  /* backwards, from the ends */
    add     x1, x1, x2
    tst     x3, #7
    b.ne    8f
6:  tst     x1, #7
    b.eq    7f
    ldrb    w3, [x0, #-1]!
    strb    w3, [x1, #-1]!
    subs    x2, x2, #1
    b.ne    6b
    ret
7:  cmp     x2, #16
    b.lo    8f
    ldp     x3, x4, [x0, #-16]!
    stp     x3, x4, [x1, #-16]!
    sub     x2, x2, #16
    b       7b
8:  cbz     x2, 9f
10: ldrb    w3, [x0, #-1]!
    strb    w3, [x1, #-1]!
    subs    x2, x2, #1
    b.ne    10b
9:  ret

/* emit_inst ( w0 = instruction ): store at HERE, advance. Clobbers x1, x2. */
    .globl emit_inst
emit_inst:
    ladr    x1, dp
    ldr     x2, [x1]
    str     w0, [x2], #4
    str     x2, [x1]
    ret

    .data
    .balign 8
    .globl dp
dp:         .quad 0     /* HERE */
dp_limit:   .quad 0     /* end of dictionary space */
    .globl heap_region
heap_region: .quad 0, 0 /* the kernel heap: base, size (forth_cold) */
    .text

/* unused ( -- u ) bytes left in the dictionary */
word "unused", w_unused
    ladr    x0, dp
    ldp     x1, x2, [x0]
    sub     x0, x2, x1
    dpush   x0
    ret
endword w_unused

/* heap-region ( -- a u ) the memory ALLOCATE manages (forth/40-memory.fth) */
word "heap-region", w_heapregion
    ladr    x0, heap_region
    ldp     x0, x1, [x0]
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    ret
endword w_heapregion

/* bootargs ( -- a ) the boot_args m1n1 passed in x0 */
word "bootargs", w_bootargs
    ladr    x0, boot_info
    ldr     x0, [x0, #BI_ARGS]
    dpush   x0
    ret
endword w_bootargs

/* cmdline ( -- a u ) the command line the machine was booted with: m1n1's
   boot_args cmdline (the harness's --cmdline), QEMU's /chosen/bootargs
   (-append); up to its NUL, at most CMDLINE_MAX bytes; 0 0 without one */
#define CMDLINE_MAX 1024
word "cmdline", w_cmdline
    ladr    x0, boot_info
    ldr     x0, [x0, #BI_CMDLINE]
    mov     x1, #0
    cbz     x0, 2f
1:  ldrb    w2, [x0, x1]
    cbz     w2, 2f
    add     x1, x1, #1
    cmp     x1, #CMDLINE_MAX
    b.lo    1b
2:  stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    ret
endword w_cmdline

/* boot-info ( -- a ) what the kernel learnt at boot (kernel/macros.inc BI_*) */
word "boot-info", w_bootinfo
    ladr    x0, boot_info
    dpush   x0
    ret
endword w_bootinfo
