/*
 * Parsing and number conversion: the words of the current source (PARSE,
 * PARSE-NAME) and what a word that is not in the dictionary may be (a
 * number in BASE or with a $ # % prefix, a double, a character literal).
 * The outer interpreter (forth/interpret.S) is their one big user.
 */

/* source_rest ( -- x0 = current address, x1 = bytes left ) Clobbers x2. */
source_rest:
    ldr     x0, [up, #U_SOURCE]
    ldr     x1, [up, #U_SRCLEN]
    ldr     x2, [up, #U_TOIN]
    cmp     x2, x1
    csel    x2, x1, x2, hi
    add     x0, x0, x2
    sub     x1, x1, x2
    ret

/* parse_name_x ( -- x0 = address, x1 = length ): skip blanks, take the
   next blank-delimited word, advance >IN past it.  Clobbers x0-x4. */
    .globl parse_name_x
parse_name_x:
    mov     x4, x30
    bl      source_rest
    add     x1, x0, x1              /* end */
1:  cmp     x0, x1                  /* skip blanks (anything <= space) */
    b.hs    2f
    ldrb    w2, [x0]
    cmp     w2, #' '
    b.hi    2f
    add     x0, x0, #1
    b       1b
2:  mov     x3, x0                  /* word start */
3:  cmp     x0, x1
    b.hs    4f
    ldrb    w2, [x0]
    cmp     w2, #' '
    b.ls    4f
    add     x0, x0, #1
    b       3b
4:  sub     x2, x0, x3              /* length */
    cmp     x0, x1                  /* step over the delimiter */
    cinc    x0, x0, lo
    ldr     x1, [up, #U_SOURCE]
    sub     x0, x0, x1
    str     x0, [up, #U_TOIN]
    mov     x0, x3
    mov     x1, x2
    ret     x4

/* parse-name ( "name" -- a u ) */
word "parse-name", w_parsename
    mov     x5, x30
    bl      parse_name_x
    stp     x0, tos, [dsp, #-16]!   /* a second, the old top third */
    mov     tos, x1
    ret     x5
endword w_parsename

/* parse ( char "ccc<char>" -- a u ) */
word "parse", w_parse
    mov     x5, x30
    bl      source_rest
    add     x3, x0, x1              /* end */
    mov     x4, x0
1:  cmp     x4, x3
    b.hs    2f
    ldrb    w2, [x4]
    cmp     x2, tos
    b.eq    2f
    add     x4, x4, #1
    b       1b
2:  sub     tos, x4, x0             /* length */
    str     x0, [dsp, #-8]!
    cmp     x4, x3
    cinc    x4, x4, lo
    ldr     x1, [up, #U_SOURCE]
    sub     x4, x4, x1
    str     x4, [up, #U_TOIN]
    ret     x5
endword w_parse

/*
 * to_number ( x0 = ud, x1 = address, x2 = length, x3 = base
 *             -- x0 = ud', x1 = address', x2 = length' )
 * Accumulate digits (single cell: the high cell is kept in x7 for >NUMBER).
 * Clobbers x4-x7.
 */
to_number:
1:  cbz     x2, 9f
    ldrb    w4, [x1]
    sub     w5, w4, #'0'
    cmp     w5, #10
    b.lo    2f
    orr     w4, w4, #0x20           /* letters, either case */
    sub     w5, w4, #('a' - 10)
    cmp     w5, #10
    b.lo    9f
2:  cmp     x5, x3
    b.hs    9f
    umulh   x6, x0, x3              /* ud = ud * base + digit, 128-bit */
    mul     x0, x0, x3
    madd    x7, x7, x3, x6
    adds    x0, x0, x5
    cinc    x7, x7, cs
    add     x1, x1, #1
    sub     x2, x2, #1
    b       1b
9:  ret

/* >number ( ud a u -- ud' a' u' ) */
word ">number", w_tonumber
    mov     x10, x30
    ldp     x1, x7, [dsp]           /* x1 = a, x7 = ud high */
    ldr     x0, [dsp, #16]          /* ud low */
    mov     x2, tos
    ldr     x3, [up, #U_BASE]
    bl      to_number
    str     x0, [dsp, #16]
    stp     x1, x7, [dsp]
    mov     tos, x2
    ret     x10
endword w_tonumber

/*
 * number ( x0 = address, x1 = length -- x0 = low, x1 = high,
 *          x2 = 0 not a number | 1 single | 2 double )
 * Accepts an optional base prefix ($ hex, # decimal, % binary), a minus
 * sign, a trailing '.' for a double, and 'c' character literals.
 * Clobbers x0-x9.
 */
number:
    mov     x9, x30
    mov     x8, x0
    cbz     x1, 90f
    /* 'c' */
    cmp     x1, #3
    b.ne    1f
    ldrb    w2, [x0]
    cmp     w2, #'\''
    b.ne    1f
    ldrb    w2, [x0, #2]
    cmp     w2, #'\''
    b.ne    1f
    ldrb    w0, [x0, #1]
    mov     x1, #0
    mov     x2, #1
    ret     x9
1:  ldr     x3, [up, #U_BASE]
    ldrb    w2, [x8]
    cmp     w2, #'$'
    mov     x4, #16
    csel    x3, x4, x3, eq
    cinc    x8, x8, eq
    cset    x5, eq
    cmp     w2, #'#'
    mov     x4, #10
    csel    x3, x4, x3, eq
    cinc    x8, x8, eq
    cinc    x5, x5, eq
    cmp     w2, #'%'
    mov     x4, #2
    csel    x3, x4, x3, eq
    cinc    x8, x8, eq
    cinc    x5, x5, eq
    sub     x1, x1, x5
    cbz     x1, 90f
    /* sign */
    mov     x6, #0
    ldrb    w2, [x8]
    cmp     w2, #'-'
    b.ne    2f
    mov     x6, #1
    add     x8, x8, #1
    sub     x1, x1, #1
    cbz     x1, 90f
2:  str     x6, [sp, #-16]!
    /* double if it ends in '.' */
    add     x2, x8, x1
    ldrb    w2, [x2, #-1]
    cmp     w2, #'.'
    cset    x6, eq
    sub     x2, x1, x6
    str     x6, [sp, #8]
    cbz     x2, 91f
    mov     x1, x8
    mov     x0, #0
    mov     x7, #0
    bl      to_number
    cbnz    x2, 91f                 /* a character that is not a digit */
    ldp     x6, x5, [sp], #16       /* x6 = negative, x5 = double */
    mov     x1, x7
    cbz     x6, 3f
    negs    x0, x0
    ngc     x1, x1
3:  add     x2, x5, #1
    ret     x9
91: add     sp, sp, #16
90: mov     x2, #0
    ret     x9
