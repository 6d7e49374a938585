/* Arithmetic, logic and comparison.  Cells are 64-bit two's complement;
 * division is floored (as gforth), flags are 0 / -1. */

.macro binop name, label, insn, flags=F_INLINE|F_FOLDABLE
word "\name", \label, \flags
    ldr     x0, [dsp], #8
    \insn   tos, x0, tos
    ret
endword \label
.endm

/* + ( a b -- a+b )   - ( a b -- a-b )   * ( a b -- a*b ) */
binop "+", w_plus, add, F_INLINE|F_FOLDABLE|K_ADD
binop "-", w_minus, sub, F_INLINE|F_FOLDABLE|K_SUB
binop "*", w_star, mul, F_INLINE|F_FOLDABLE|K_POP
/* and or xor ( a b -- a&b ... ) */
binop "and", w_and, and, F_INLINE|F_FOLDABLE|K_POP
binop "or", w_or, orr, F_INLINE|F_FOLDABLE|K_POP
binop "xor", w_xor, eor, F_INLINE|F_FOLDABLE|K_POP
/* lshift rshift ( x u -- x' ) logical shifts */
binop "lshift", w_lshift, lsl, F_INLINE|F_FOLDABLE|K_LSL
binop "rshift", w_rshift, lsr, F_INLINE|F_FOLDABLE|K_LSR
/* arshift ( n u -- n' ) arithmetic shift right */
binop "arshift", w_arshift, asr, F_INLINE|F_FOLDABLE|K_ASR

.macro unop name, label, insn:vararg
word "\name", \label, F_INLINE|F_FOLDABLE
    \insn
    ret
endword \label
.endm

unop "1+", w_oneplus, add tos, tos, #1          /* ( n -- n+1 ) */
unop "1-", w_oneminus, sub tos, tos, #1         /* ( n -- n-1 ) */
unop "2*", w_twostar, lsl tos, tos, #1          /* ( n -- n*2 ) */
unop "2/", w_twoslash, asr tos, tos, #1         /* ( n -- n/2 ) arithmetic */
unop "negate", w_negate, neg tos, tos           /* ( n -- -n ) */
unop "invert", w_invert, mvn tos, tos           /* ( x -- ~x ) */
unop "cells", w_cells, lsl tos, tos, #3         /* ( n -- n*8 ) */
unop "cell+", w_cellplus, add tos, tos, #8      /* ( a -- a+8 ) */
unop "char+", w_charplus, add tos, tos, #1      /* ( a -- a+1 ) */
unop "chars", w_chars, nop                      /* ( n -- n ) */

/* abs ( n -- |n| ) */
word "abs", w_abs, F_INLINE|F_FOLDABLE
    cmp     tos, #0
    cneg    tos, tos, lt
    ret
endword w_abs

/* min ( a b -- min ) max ( a b -- max ) signed */
word "min", w_min, F_INLINE|F_FOLDABLE|K_POP
    ldr     x0, [dsp], #8
    cmp     x0, tos
    csel    tos, x0, tos, lt
    ret
endword w_min
word "max", w_max, F_INLINE|F_FOLDABLE|K_POP
    ldr     x0, [dsp], #8
    cmp     x0, tos
    csel    tos, x0, tos, gt
    ret
endword w_max

/* Comparisons ( a b -- flag ): cmp second with top, all-ones when true. */
.macro cmpop name, label, cond
word "\name", \label, F_INLINE|F_FOLDABLE|K_CMP
    ldr     x0, [dsp], #8
    cmp     x0, tos
    csetm   tos, \cond
    ret
endword \label
.endm
cmpop "=", w_equal, eq
cmpop "<>", w_notequal, ne
cmpop "<", w_less, lt
cmpop ">", w_greater, gt
cmpop "u<", w_uless, lo
cmpop "u>", w_ugreater, hi

/* Tests against zero ( n -- flag ) */
.macro zcmp name, label, cond
word "\name", \label, F_INLINE|F_FOLDABLE
    cmp     tos, #0
    csetm   tos, \cond
    ret
endword \label
.endm
zcmp "0=", w_zequal, eq
zcmp "0<>", w_znotequal, ne
zcmp "0<", w_zless, lt
zcmp "0>", w_zgreater, gt

/* within ( n lo hi -- flag ) lo <= n < hi, on the number circle */
word "within", w_within, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #16      /* x0 = lo, x1 = n */
    sub     x2, tos, x0             /* hi - lo */
    sub     x1, x1, x0              /* n - lo */
    cmp     x1, x2
    csetm   tos, lo
    ret
endword w_within

/* Division.  AArch64 sdiv does not trap, so zero divisors are checked
 * here and become THROW -10. */

/* floored quotient and remainder of x0 / x1 into x2 (q), x3 (r) */
floor_divmod:
    cbz     x1, throw_div0
    sdiv    x2, x0, x1
    msub    x3, x2, x1, x0
    cbz     x3, 1f
    eor     x4, x3, x1
    tbz     x4, #63, 1f             /* remainder has the divisor's sign */
    sub     x2, x2, #1
    add     x3, x3, x1
1:  ret
throw_div0:
    mov     x0, #-10
    b       throw_x0

/* / ( n1 n2 -- q ) floored */
word "/", w_slash, F_FOLDABLE
    ldr     x0, [dsp], #8
    mov     x1, tos
    mov     x5, x30
    bl      floor_divmod
    mov     tos, x2
    ret     x5
endword w_slash

/* mod ( n1 n2 -- r ) floored */
word "mod", w_mod, F_FOLDABLE
    ldr     x0, [dsp], #8
    mov     x1, tos
    mov     x5, x30
    bl      floor_divmod
    mov     tos, x3
    ret     x5
endword w_mod

/* /mod ( n1 n2 -- r q ) floored */
word "/mod", w_slashmod, F_FOLDABLE
    ldr     x0, [dsp]
    mov     x1, tos
    mov     x5, x30
    bl      floor_divmod
    str     x3, [dsp]
    mov     tos, x2
    ret     x5
endword w_slashmod

/* um* ( u1 u2 -- ud ) */
word "um*", w_umstar, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    mul     x1, x0, tos
    umulh   tos, x0, tos
    str     x1, [dsp]
    ret
endword w_umstar

/* m* ( n1 n2 -- d ) */
word "m*", w_mstar, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    mul     x1, x0, tos
    smulh   tos, x0, tos
    str     x1, [dsp]
    ret
endword w_mstar

/*
 * um_divmod: unsigned 128 / 64.  x1:x0 (hi:lo) / x2 -> x0 quotient,
 * x1 remainder.  Restoring division, one bit per step; the quotient must
 * fit in 64 bits (hi < divisor), otherwise THROW -11 (result out of range).
 * Clobbers x3, x4.
 */
um_divmod:
    cbz     x2, throw_div0
    cmp     x1, x2
    b.hs    throw_range
    mov     x3, #64
1:  lsr     x4, x1, #63             /* bit shifted out of the remainder */
    extr    x1, x1, x0, #63         /* (hi:lo) <<= 1 */
    lsl     x0, x0, #1
    cmp     x1, x2
    ccmp    x4, #0, #0, lo          /* take the step if hi >= d or a bit fell out */
    b.eq    2f
    sub     x1, x1, x2
    orr     x0, x0, #1
2:  subs    x3, x3, #1
    b.ne    1b
    ret

throw_range:
    mov     x0, #-11
    b       throw_x0

/* um/mod ( ud u -- urem uquot ) */
word "um/mod", w_umslashmod, F_FOLDABLE
    mov     x5, x30
    ldp     x1, x0, [dsp], #8       /* x1 = hi (second), x0 = lo (third) */
    mov     x2, tos
    bl      um_divmod
    str     x1, [dsp]
    mov     tos, x0
    ret     x5
endword w_umslashmod

/* sm/rem ( d n -- rem quot ) symmetric: the remainder takes the dividend's
   sign; a quotient outside the signed range is THROW -11. */
word "sm/rem", w_smslashrem, F_FOLDABLE
    mov     x5, x30
    ldp     x1, x0, [dsp], #8       /* d = x1:x0 */
    mov     x6, x1                  /* sign of the dividend */
    eor     x7, x1, tos             /* sign of the quotient */
    tbz     x1, #63, 1f
    negs    x0, x0                  /* |d| */
    ngc     x1, x1
1:  cmp     tos, #0
    cneg    x2, tos, lt
    bl      um_divmod               /* x0 = |q|, x1 = |r| */
    tbnz    x7, #63, 2f
    tbnz    x0, #63, throw_range    /* positive quotient >= 2^63 */
    b       3f
2:  movz    x4, #0x8000, lsl #48
    cmp     x0, x4
    b.hi    throw_range             /* negative quotient below -2^63 */
    neg     x0, x0
3:  tbz     x6, #63, 4f
    neg     x1, x1
4:  str     x1, [dsp]
    mov     tos, x0
    ret     x5
endword w_smslashrem

/* fm/mod ( d n -- rem quot ) floored */
word "fm/mod", w_fmslashmod, F_FOLDABLE
    mov     x9, x30
    mov     x11, tos                /* the divisor */
    bl      w_smslashrem
    ldr     x1, [dsp]               /* symmetric remainder */
    cbz     x1, 1f
    eor     x2, x1, x11
    tbz     x2, #63, 1f             /* remainder already has the divisor's sign */
    sub     tos, tos, #1
    add     x1, x1, x11
    str     x1, [dsp]
1:  ret     x9
endword w_fmslashmod

/* Double cells: ( lo hi ) with the high cell on top. */

/* d+ ( d1 d2 -- d3 ) */
word "d+", w_dplus, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #16      /* x0 = d2 lo, x1 = d1 hi */
    ldr     x2, [dsp]               /* d1 lo */
    adds    x2, x2, x0
    adc     tos, x1, tos
    str     x2, [dsp]
    ret
endword w_dplus

/* d- ( d1 d2 -- d3 ) */
word "d-", w_dminus, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #16
    ldr     x2, [dsp]
    subs    x2, x2, x0
    sbc     tos, x1, tos
    str     x2, [dsp]
    ret
endword w_dminus

/* dnegate ( d -- -d ) */
word "dnegate", w_dnegate, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    negs    x0, x0
    ngc     tos, tos
    str     x0, [dsp]
    ret
endword w_dnegate

/* dabs ( d -- |d| ) */
word "dabs", w_dabs, F_INLINE|F_FOLDABLE
    tbz     tos, #63, 1f
    ldr     x0, [dsp]
    negs    x0, x0
    ngc     tos, tos
    str     x0, [dsp]
1:  ret
endword w_dabs

/* m+ ( d n -- d' ) */
word "m+", w_mplus, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #8       /* x0 = hi, x1 = lo */
    adds    x1, x1, tos
    asr     x2, tos, #63
    adc     tos, x0, x2
    str     x1, [dsp]
    ret
endword w_mplus

/* d0= ( d -- flag )  d0< ( d -- flag ) */
word "d0=", w_dzequal, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp], #8
    orr     x0, x0, tos
    cmp     x0, #0
    csetm   tos, eq
    ret
endword w_dzequal
word "d0<", w_dzless, F_INLINE|F_FOLDABLE
    add     dsp, dsp, #8
    asr     tos, tos, #63
    ret
endword w_dzless

/* d= ( d1 d2 -- flag ) */
word "d=", w_dequal, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #16      /* d2 lo, d1 hi */
    ldr     x2, [dsp], #8           /* d1 lo */
    cmp     x2, x0
    ccmp    x1, tos, #0, eq
    csetm   tos, eq
    ret
endword w_dequal

/* d< ( d1 d2 -- flag ) signed;  du< ( ud1 ud2 -- flag ) unsigned */
word "d<", w_dless, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #16
    ldr     x2, [dsp], #8
    cmp     x2, x0
    sbcs    xzr, x1, tos
    csetm   tos, lt
    ret
endword w_dless
word "du<", w_duless, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp], #16
    ldr     x2, [dsp], #8
    cmp     x2, x0
    sbcs    xzr, x1, tos
    csetm   tos, lo
    ret
endword w_duless

/* d2* ( d -- d*2 )  d2/ ( d -- d/2 ) */
word "d2*", w_dtwostar, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    extr    tos, tos, x0, #63
    lsl     x0, x0, #1
    str     x0, [dsp]
    ret
endword w_dtwostar
word "d2/", w_dtwoslash, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    extr    x0, tos, x0, #1
    asr     tos, tos, #1
    str     x0, [dsp]
    ret
endword w_dtwoslash

/* d>s ( d -- n ) */
word "d>s", w_dtos, F_INLINE|F_FOLDABLE
    ldr     tos, [dsp], #8
    ret
endword w_dtos
