/* The dictionary: headers, search, and walking from code back to names. */

#define HASH_BUCKETS 1024

/*
 * name_hash ( x0 = address, x1 = length -- x2 = address of the bucket )
 * Case-insensitive (bit 5 of every byte is ignored, so names equal under
 * a-z/A-Z folding hash alike).  Clobbers x3-x5.
 */
name_hash:
    mov     x3, x1
    mov     x4, #0
1:  cmp     x4, x1
    b.hs    2f
    ldrb    w5, [x0, x4]
    and     w5, w5, #~0x20
    add     x3, x3, x3, lsl #5      /* h * 33 ^ c */
    eor     x3, x3, x5
    add     x4, x4, #1
    b       1b
2:  eor     x3, x3, x3, lsr #10
    and     x3, x3, #(HASH_BUCKETS - 1)
    ladr    x2, dict_hash
    add     x2, x2, x3, lsl #3
    ret

/*
 * find_name ( x0 = address, x1 = length -- x0 = xt or 0, x1 = flags )
 * Case-insensitive search of the name's hash bucket, newest first; hidden
 * words are skipped, and so are headers in the blind range [lo, hi) that
 * find-blind set (forth/59-files.fth: the file system compiled on first
 * use sees the system's words, not the user's).  Clobbers x0-x9.
 */
    .globl find_name
find_name:
    mov     x9, x30
    bl      name_hash
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
    cmp     w6, w7
    b.eq    3f
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
3:  add     x5, x5, #1
    b       2b
4:  add     x3, x2, #(H_NAME + 3 + 4) /* xt = align4(header + 9 + n) + 4 */
    add     x3, x3, x1
    and     x3, x3, #~3
    ldrb    w8, [x3, #XT_FLAGS]
    tbnz    w8, #3, 5f              /* F_HIDDEN */
    ladr    x6, find_blind          /* in the blind range (find-blind): */
    ldp     x6, x7, [x6]            /*   not found either */
    cmp     x2, x6
    ccmp    x2, x7, #2, hs          /* lo <= header: is it below hi? */
    b.lo    5f
    mov     x0, x3
    mov     x1, x8
    ret     x9
5:  ldr     x2, [x2, #-8]           /* the hash chain */
    b       1b
9:  mov     x0, #0
    mov     x1, #0
    ret     x9

/* hash_insert ( x0 = header ): make it the newest of its bucket.
   Clobbers x0-x7. */
hash_insert:
    mov     x7, x30
    mov     x6, x0
    add     x0, x6, #H_NAME
    ldrb    w1, [x6, #H_NLEN]
    bl      name_hash
    ldr     x3, [x2]
    str     x3, [x6, #-8]
    str     x6, [x2]
    ret     x7

/* dict_init: hash the assembly-built dictionary (newest first, each header
   appended to its bucket's chain so the newer of two equal names wins).
   It writes the hash links of headers in .text: forth_cold calls it once,
   before mmu_seal_image makes .text read-only.  Clobbers x0-x11. */
    .globl dict_init
dict_init:
    mov     x10, x30
    ladr    x11, latest
    ldr     x11, [x11]
1:  cbz     x11, 9f
    add     x0, x11, #H_NAME
    ldrb    w1, [x11, #H_NLEN]
    bl      name_hash
    str     xzr, [x11, #-8]
2:  ldr     x3, [x2]                /* x2: the slot that ends the chain */
    cbz     x3, 3f
    sub     x2, x3, #8
    b       2b
3:  str     x11, [x2]
    ldr     x3, [x11, #H_LINK]
    cbz     x3, 9f
    add     x11, x11, x3
    b       1b
9:  ret     x10

/*
 * dict_forget_to ( x0 = header ): remove every word newer than it from the
 * dictionary and the hash table (an interrupted definition, MARKER).
 * Clobbers x0-x9.
 */
    .globl dict_forget_to
dict_forget_to:
    mov     x9, x30
    mov     x8, x0
    ladr    x7, latest
1:  ldr     x6, [x7]
    cmp     x6, x8
    b.eq    9f
    cbz     x6, 9f
    add     x0, x6, #H_NAME
    ldrb    w1, [x6, #H_NLEN]
    bl      name_hash
2:  ldr     x3, [x2]                /* find the slot that points at it */
    cbz     x3, 4f
    cmp     x3, x6
    b.eq    3f
    sub     x2, x3, #8
    b       2b
3:  ldr     x3, [x6, #-8]
    str     x3, [x2]
4:  ldr     x3, [x6, #H_LINK]
    add     x4, x6, x3
    cmp     x3, #0
    csel    x4, xzr, x4, eq
    str     x4, [x7]
    b       1b
9:  ret     x9

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
 * The word whose code holds the address: the largest xt not above it, if
 * the address is below HERE and within 64 KiB of that xt (no word is
 * longer): a wild address (-1 EXECUTE) names no word.  Used to name the
 * word in fault reports, so it trusts no link: a header outside the image
 * and the dictionary below HERE ends the walk.  Clobbers x0-x5.
 */
    .globl word_containing
word_containing:
    ladr    x2, latest
    ldr     x2, [x2]
    mov     x5, #0
1:  cbz     x2, 9f
    tst     x2, #7                  /* a header out of the dictionary (one a */
    b.ne    9f                      /*   wild store overwrote): the walk stops */
    ladr    x3, __image_start       /*   there, or this report would fault in */
    cmp     x2, x3                  /*   its turn, and report again, forever */
    b.lo    9f
    ladr    x3, dp
    ldr     x3, [x3]
    cmp     x2, x3
    b.hs    9f
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
9:  ladr    x3, dp
    ldr     x3, [x3]
    cmp     x0, x3
    b.hs    8f                      /* at or above HERE: nobody's code */
    sub     x4, x0, x5
    cmp     x4, #0x10, lsl #12
    b.hs    8f                      /* too far past the nearest word */
    mov     x0, x5
    ret
8:  mov     x0, #0
    ret

/*
 * make_header ( x0 = name, x1 = length, x2 = flags )
 * Lay a header at HERE (cell aligned), link it as the newest word and
 * leave HERE at the xt.  Empty names are THROW -16, names over 255
 * characters THROW -19.  Clobbers x0-x8.
 */
    .globl make_header
make_header:
    cbz     x1, 8f
    cmp     x1, #255
    b.hi    7f
    ladr    x3, dp
    ldr     x4, [x3]
    add     x4, x4, #7 + 8
    and     x4, x4, #~7             /* the header, after its hash link */
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
    mov     x0, x4
    b       hash_insert
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

/* find-blind ( lo hi -- ) headers at lo .. hi-1 are not found (0 0: all are) */
word "find-blind", w_find_blind
    ladr    x0, find_blind
    ldr     x1, [dsp], #8
    stp     x1, tos, [x0]
    ldr     tos, [dsp], #8
    ret
endword w_find_blind

/*
 * hide-unknown ( lo -- ) every word defined at lo and above whose name
 * the system did not have before is hidden (F_HIDDEN): a text compiled
 * after the boot keeps its own helpers to itself, and only names the
 * system already had (the stand-ins forth/59-files.fth made, words it
 * redefines) stay in reach.  The names are looked up with everything
 * from boot-here on blind (the user's words do not count); the blind
 * range is 0 0 after.
 */
word "hide-unknown", w_hide_unknown
    enter
    stp     x19, x20, [sp, #-16]!
    ladr    x0, find_blind              /* blind from the boot's end on: the */
    ladr    x1, boot_here               /*   user's words do not count either */
    ldr     x1, [x1]
    cmp     x1, tos
    csel    x1, x1, tos, lo
    mov     x2, #-1
    stp     x1, x2, [x0]
    mov     x19, tos
    ladr    x20, latest
    ldr     x20, [x20]
1:  cbz     x20, 8f
    cmp     x20, x19
    b.lo    8f                          /* below lo: done (newest first) */
    add     x0, x20, #H_NAME
    ldrb    w1, [x20, #H_NLEN]
    bl      find_name                   /* clobbers x0-x9 */
    cbnz    x0, 2f
    ldrb    w1, [x20, #H_NLEN]
    add     x3, x20, #(H_NAME + 3 + 4)
    add     x3, x3, x1
    and     x3, x3, #~3
    ldrb    w8, [x3, #XT_FLAGS]
    orr     w8, w8, #F_HIDDEN
    strb    w8, [x3, #XT_FLAGS]
2:  ldr     x3, [x20, #H_LINK]
    cbz     x3, 8f
    add     x20, x20, x3
    b       1b
8:  ladr    x0, find_blind
    stp     xzr, xzr, [x0]
    ldp     x19, x20, [sp], #16
    ldr     tos, [dsp], #8
    leave
endword w_hide_unknown

/* boot-here ( -- a ) HERE when the boot had compiled forth/ */
word "boot-here", w_boot_here
    str     tos, [dsp, #-8]!
    ladr    tos, boot_here
    ret
endword w_boot_here

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


/* forget-to ( header a -- ) drop every word newer than header, HERE = a
   (MARKER) */
word "forget-to", w_forgetto
    mov     x12, x30
    ladr    x0, dp
    str     tos, [x0]
    ldr     x0, [dsp], #8
    ldr     tos, [dsp], #8
    bl      dict_forget_to
    ret     x12
endword w_forgetto
    .data
    .balign 8
    .globl latest
latest:     .quad 0     /* header of the newest word */
find_blind: .quad 0, 0  /* headers find_name does not see: [lo, hi) (find-blind) */
    .globl boot_here
boot_here:  .quad 0     /* HERE after the boot compiled forth/ (cold.S) */
    .bss
    .balign 8
dict_hash:  .space HASH_BUCKETS * 8     /* newest header of each bucket */
    .text
