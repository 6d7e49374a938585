/*
 * The outer interpreter: INTERPRET over the current source, the source
 * itself (SOURCE >IN SOURCE-ID, the terminal input buffer), REFILL and
 * ACCEPT (a line from the console: kernel/console.S console_line, through
 * the line editor), STATE BASE, and EVALUATE.  Errors unwind through
 * forth/except.S; the console's loop is forth/quit.S.
 */

#define TIB_SIZE 1024

/*
 * interpret: execute or compile each word of the current source.
 * After every word the data stack is checked: above its base is THROW -4,
 * below its limit THROW -3.
 */
    .globl interpret
interpret:
    enter
1:  bl      parse_name_x
    cbz     x1, 8f
    ladr    x2, err_word            /* remembered for -13 / -14 messages */
    stp     x0, x1, [x2]
    stp     x0, x1, [sp, #-16]!
    bl      find_name
    cbz     x0, 5f
    add     sp, sp, #16
    ldr     x2, [up, #U_STATE]
    cbz     x2, 3f
    tbnz    w1, #0, 4f              /* immediate: execute while compiling */
    bl      compile_xt
    b       7f
3:  tbnz    w1, #1, 6f              /* compile-only, interpreted */
4:  blr     x0
    b       7f
5:  ldp     x0, x1, [sp], #16
    bl      number
    cbz     x2, 9f
    ldr     x3, [up, #U_STATE]
    cbnz    x3, 10f
    dpush   x0
    cmp     x2, #2
    b.ne    7f
    dpush   x1
    b       7f
10: mov     x19, x1                 /* compile a literal (two for a double) */
    mov     x20, x2
    bl      compile_literal
    cmp     x20, #2
    b.ne    7f
    mov     x0, x19
    bl      compile_literal
7:  ldr     x0, [up, #U_S0]         /* stack checks */
    cmp     dsp, x0
    b.hi    11f
    ldr     x0, [up, #U_SLIMIT]
    cmp     dsp, x0
    b.lo    12f
    b       1b
8:  leave
6:  mov     x0, #-14
    b       throw_x0
9:  mov     x0, #-13
    b       throw_x0
11: mov     x0, #-4
    b       throw_x0
12: mov     x0, #-3
    b       throw_x0

/* interpret ( -- ) as a word, for REFILL-driven loops in Forth */
word "interpret", w_interpret
    b       interpret
endword w_interpret

/* accept ( a n -- n' ) read a line into the buffer (at most n chars) */
word "accept", w_accept
    enter
    ldr     x0, [dsp], #8
    mov     x1, tos
    bl      console_line
    cmp     x0, #0
    csel    tos, x0, xzr, ge
    leave
endword w_accept

/*
 * refill ( -- flag ) the console source: read the next line into the TIB.
 * Over-long lines and lines with control characters are refused with
 * their own error (THROW -18 / -256 family: see report_error).
 */
word "refill", w_refill
    enter
    ldr     x0, [up, #U_SOURCEID]
    cbnz    x0, 5f
    ladr    x0, tib
    mov     x1, #TIB_SIZE
    bl      console_line
    cmp     x0, #0
    b.lt    3f
    ladr    x1, tib
    str     x1, [up, #U_SOURCE]
    str     x0, [up, #U_SRCLEN]
    str     xzr, [up, #U_TOIN]
    dpush   #-1
    leave
3:  str     xzr, [up, #U_SRCLEN]    /* nothing of the bad line is kept */
    str     xzr, [up, #U_TOIN]
    cmn     x0, #1
    mov     x1, #-18                /* line too long: parsed string overflow */
    mov     x2, #-257               /* not text */
    csel    x0, x1, x2, eq
    b       throw_x0
5:  cmp     x0, #1                  /* the boot source: its next line */
    b.ne    6f
    bl      blob_next_line
    dpush   x0
    leave
6:  cmn     x0, #1                  /* EVALUATE strings: no more */
    b.eq    7f
    ladr    x1, refill_file         /* a file (INCLUDE-FILE, forth/files/): */
    ldr     x1, [x1]                /*   the file system's reader */
    cbz     x1, 7f
    blr     x1
    leave
7:  dpush   xzr
    leave
endword w_refill

/* 'refill-file ( -- a ): the xt REFILL runs for a file source, a source
   id other than 0 (the console), -1 (EVALUATE) and 1 (the image's text):
   ( -- flag ), forth/files/62-include.fth's.  0: none. */
word "'refill-file", w_trefill_file
    str     tos, [dsp, #-8]!
    ladr    tos, refill_file
    ret
endword w_trefill_file

/* source! ( a u -- ) the input source's text is now a u, from its start */
word "source!", w_source_store
    ldr     x0, [dsp], #8
    str     x0, [up, #U_SOURCE]
    str     tos, [up, #U_SRCLEN]
    str     xzr, [up, #U_TOIN]
    ldr     tos, [dsp], #8
    ret
endword w_source_store

/* source-id! ( id -- ) the input source is now id's (INCLUDE-FILE) */
word "source-id!", w_sourceid_store
    str     tos, [up, #U_SOURCEID]
    ldr     tos, [dsp], #8
    ret
endword w_sourceid_store

/* source ( -- a u ) */
word "source", w_source
    ldr     x0, [up, #U_SOURCE]
    ldr     x1, [up, #U_SRCLEN]
    stp     x0, tos, [dsp, #-16]!   /* a second, the old top third */
    mov     tos, x1
    ret
endword w_source

/* >in ( -- a ) */
word ">in", w_toin, F_INLINE
    str     tos, [dsp, #-8]!
    add     tos, up, #U_TOIN
    ret
endword w_toin

/* source-id ( -- 0 | -1 | 1 | fileid ) */
word "source-id", w_sourceid, F_INLINE
    str     tos, [dsp, #-8]!
    ldr     tos, [up, #U_SOURCEID]
    ret
endword w_sourceid

/* state ( -- a )  base ( -- a ) */
word "state", w_state, F_INLINE
    str     tos, [dsp, #-8]!
    add     tos, up, #U_STATE
    ret
endword w_state
word "base", w_base, F_INLINE
    str     tos, [dsp, #-8]!
    add     tos, up, #U_BASE
    ret
endword w_base

/* evaluate ( i*x a u -- j*x ) interpret a string, then restore the source */
word "evaluate", w_evaluate
    enter
    ldr     x0, [up, #U_SOURCE]     /* save the current source */
    ldr     x1, [up, #U_SRCLEN]
    stp     x0, x1, [sp, #-32]!
    ldr     x0, [up, #U_TOIN]
    ldr     x1, [up, #U_SOURCEID]
    stp     x0, x1, [sp, #16]
    ldr     x0, [dsp], #8
    str     x0, [up, #U_SOURCE]
    str     tos, [up, #U_SRCLEN]
    ldr     tos, [dsp], #8
    str     xzr, [up, #U_TOIN]
    mov     x0, #-1
    str     x0, [up, #U_SOURCEID]
    ladr    x0, w_interpret         /* catch ( xt -- n ) with interpret */
    dpush   x0
    bl      w_catch
    ldp     x0, x1, [sp]            /* restore the source either way */
    str     x0, [up, #U_SOURCE]
    str     x1, [up, #U_SRCLEN]
    ldp     x0, x1, [sp, #16]
    str     x0, [up, #U_TOIN]
    str     x1, [up, #U_SOURCEID]
    add     sp, sp, #32
    bl      w_throw                 /* rethrow a non-zero code */
    leave
endword w_evaluate

    .data
    .balign 8
refill_file: .quad 0

    .bss
    .balign 16
tib:        .space TIB_SIZE
    .text
