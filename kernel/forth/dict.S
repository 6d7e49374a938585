/* The dictionary: headers, search, and walking from code back to names. */

/*
 * find_name ( x0 = address, x1 = length -- x0 = xt or 0, x1 = flags )
 * Case-insensitive search from the newest word; hidden words are skipped.
 * Clobbers x0-x9.
 */
    .globl find_name
find_name:
    ladr    x2, latest
    ldr     x2, [x2]
1:  cbz     x2, 9f
    ldrb    w3, [x2, #H_NLEN]
    cmp     x3, x1
    b.ne    5f
    add     x4, x2, #H_NAME
    mov     x5, #0
2:  cmp     x5, x1
    b.eq    4f
    ldrb    w6, [x4, x5]
    ldrb    w7, [x0, x5]
    sub     w8, w6, #'a'            /* fold both to upper case */
    cmp     w8, #26
    sub     w8, w6, #32
    csel    w6, w8, w6, lo
    sub     w8, w7, #'a'
    cmp     w8, #26
    sub     w8, w7, #32
    csel    w7, w8, w7, lo
    cmp     w6, w7
    b.ne    5f
    add     x5, x5, #1
    b       2b
4:  add     x9, x2, #(H_NAME + 3 + 4) /* xt = align4(header + 9 + n) + 4 */
    add     x9, x9, x1
    and     x9, x9, #~3
    ldrb    w8, [x9, #XT_FLAGS]
    tbnz    w8, #3, 5f              /* F_HIDDEN */
    mov     x0, x9
    mov     x1, x8
    ret
5:  ldr     x3, [x2, #H_LINK]
    cbz     x3, 9f
    add     x2, x2, x3
    b       1b
9:  mov     x0, #0
    mov     x1, #0
    ret

/* header_of ( x0 = xt -- x0 = header ) Clobbers x1. */
    .globl header_of
header_of:
    ldrb    w1, [x0, #XT_NLEN]
    add     x1, x1, #(H_NAME + 3)
    and     x1, x1, #~3
    sub     x0, x0, x1
    sub     x0, x0, #4
    ret

/*
 * word_containing ( x0 = address -- x0 = xt or 0 )
 * The word whose code holds the address: the largest xt not above it.
 * Used to name the word in fault reports.  Clobbers x0-x5.
 */
    .globl word_containing
word_containing:
    ladr    x2, latest
    ldr     x2, [x2]
    mov     x5, #0
1:  cbz     x2, 9f
    ldrb    w3, [x2, #H_NLEN]
    add     x4, x2, #(H_NAME + 3 + 4)
    add     x4, x4, x3
    and     x4, x4, #~3             /* this header's xt */
    cmp     x4, x0
    b.hi    2f
    cmp     x4, x5
    csel    x5, x4, x5, hi
2:  ldr     x3, [x2, #H_LINK]
    cbz     x3, 9f
    add     x2, x2, x3
    b       1b
9:  mov     x0, x5
    ret

/*
 * make_header ( x0 = name, x1 = length, x2 = flags )
 * Lay a header at HERE (cell aligned), link it as the newest word and
 * leave HERE at the xt.  Empty names are THROW -16, names over 255
 * characters THROW -19.  Clobbers x0-x7.
 */
    .globl make_header
make_header:
    cbz     x1, 8f
    cmp     x1, #255
    b.hi    7f
    ladr    x3, dp
    ldr     x4, [x3]
    add     x4, x4, #7
    and     x4, x4, #~7             /* the header */
    add     x5, x4, x1
    add     x5, x5, #(H_NAME + 3 + 4 + 256)
    ldr     x6, [x3, #8]            /* dp_limit: room for header and some code */
    cmp     x5, x6
    b.hi    6f
    ladr    x5, latest
    ldr     x6, [x5]
    sub     x7, x6, x4
    cmp     x6, #0
    csel    x7, xzr, x7, eq
    str     x7, [x4, #H_LINK]
    strb    w1, [x4, #H_NLEN]
    add     x6, x4, #H_NAME
    mov     x7, #0
1:  cmp     x7, x1
    b.hs    2f
    ldrb    w8, [x0, x7]
    strb    w8, [x6, x7]
    add     x7, x7, #1
    b       1b
2:  add     x6, x6, x1              /* zero pad to 4 */
3:  tst     x6, #3
    b.eq    4f
    strb    wzr, [x6], #1
    b       3b
4:  strb    w2, [x6], #1            /* flags */
    strb    wzr, [x6], #1           /* inline length: set by ; when useful */
    strb    w1, [x6], #1
    mov     w7, #0xA5
    strb    w7, [x6], #1
    str     x6, [x3]                /* HERE = xt */
    str     x4, [x5]                /* latest */
    ret
6:  mov     x0, #-8
    b       throw_x0
7:  mov     x0, #-19
    b       throw_x0
8:  mov     x0, #-16
    b       throw_x0

/* words ( -- ) list every visible word, newest first */
word "words", w_words
    enter
    ladr    x10, latest
    ldr     x10, [x10]
    mov     x11, #0                 /* column */
1:  cbz     x10, 3f
    ldrb    w12, [x10, #H_NLEN]
    add     x0, x10, #(H_NAME + 3 + 4)
    add     x0, x0, x12
    and     x0, x0, #~3
    ldrb    w0, [x0, #XT_FLAGS]
    tbnz    w0, #3, 2f
    add     x11, x11, x12
    add     x11, x11, #1
    cmp     x11, #72
    b.lo    4f
    bl      console_newline
    add     x11, x12, #1
4:  add     x0, x10, #H_NAME
    mov     x1, x12
    bl      console_write
    mov     x0, #' '
    bl      console_putc
2:  ldr     x0, [x10, #H_LINK]
    cbz     x0, 3f
    add     x10, x10, x0
    b       1b
3:  leave
endword w_words

/* latest ( -- header ) the newest header */
word "latest", w_latest
    ladr    x0, latest
    ldr     x0, [x0]
    dpush   x0
    ret
endword w_latest

/* >flags ( xt -- c ) the header flag byte */
word ">flags", w_toflags, F_INLINE
    ldrb    tosw, [tos, #XT_FLAGS]
    ret
endword w_toflags

/* >name ( xt -- a u ) the word's name */
word ">name", w_toname
    mov     x0, tos
    mov     x5, x30
    bl      header_of
    ldrb    w1, [x0, #H_NLEN]
    add     x0, x0, #H_NAME
    str     x0, [dsp, #-8]!
    mov     tos, x1
    ret     x5
endword w_toname

/* find-name ( a u -- xt flags | 0 0 ) */
word "find-name", w_findname
    mov     x10, x30
    ldr     x0, [dsp]
    mov     x1, tos
    bl      find_name
    str     x0, [dsp]
    mov     tos, x1
    ret     x10
endword w_findname

    .data
    .balign 8
    .globl latest
latest:     .quad 0     /* header of the newest word */
    .text
