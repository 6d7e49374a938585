/*
 * The language model's numeric kernels: NEON, called from the Forth
 * transformer (forth/llm/, docs/llm.md).
 *
 * Why here and why these: token generation is a chain of matrix-vector
 * products over quantised weights, bound by the bytes read (docs/llm.md,
 * "Per token").  The products are integer dot products (`sdot`,
 * FEAT_DotProd, Arm ARM DDI 0487 K.a C7.2.331 SDOT (by element)) of 8-bit
 * activation blocks with the weights' 4-bit (Q4_1) or 8-bit (Q8_0) blocks,
 * as llama.cpp's ggml-cpu Q4_1 x Q8_1 and Q8_0 x Q8_0 paths compute them;
 * the model image interleaves four rows (docs/llm.md, "Q4_1x4 matrix") so
 * that one `sdot` by element serves four rows at once and the activations
 * are loaded once per block for four rows.  The rest (RMSNorm, RoPE,
 * attention, softmax, SiLU) is float32 over vectors of a few hundred
 * elements: a few percent of a token's instructions.
 *
 * Every routine is a leaf: arguments in x0-x7, clobbers x0-x17 and the
 * vector registers v0-v7 and v16-v31 (never v8-v15, nor x18-x30), no
 * stack.  The float results are held to numpy by tests/test_llm_kernels.py;
 * where the rounding matters (the activation quantisation) the routine
 * says what it does so the reference (tests/llm_ref.py) does the same.
 */

#include "macros.inc"

    .text

/* ---- constants ---------------------------------------------------------- */

    .section .rodata
    .balign 16
exp_consts:                               /* Cephes expf (S. Moshier, expf.c) */
    .float  1.44269504088896341            /* log2(e) */
    .float  0.693359375                    /* ln 2, high part (exact in a few bits) */
    .float  -2.12194440e-4                 /* ln 2, low part */
    .float  88.3762626647949               /* largest argument */
    .float  1.9875691500e-4                /* the polynomial for exp(r) - 1 - r, r in [-ln2/2, ln2/2] */
    .float  1.3981999507e-3
    .float  8.3334519073e-3
    .float  4.1665795894e-2
    .float  1.6666665459e-1
    .float  5.0000001201e-1
    .float  -87.3365447505531              /* smallest argument: 2^-126 */
    .float  1.0
    .text

/* exp4 ( v0.4s = x -- v0.4s = e^x ) Clobbers v1-v7, v16-v18, x9.  Cephes'
   range reduction x = n ln2 + r and a degree-5 polynomial, then 2^n by the
   exponent bits; about 1 ulp over [-87.3, 88.3], arguments clamped to that
   range (so e^-1000 is 2^-126, not 0: nothing here depends on the tail). */
exp4:
    ladr    x9, exp_consts
    ldp     q16, q17, [x9]                 /* v16 = log2e, c1, c2, max; v17 = p0..p3 */
    ldr     q18, [x9, #32]                 /* v18 = p4, p5, min, 1.0 */
    dup     v1.4s, v16.s[3]
    fmin    v0.4s, v0.4s, v1.4s
    dup     v1.4s, v18.s[2]
    fmax    v0.4s, v0.4s, v1.4s
    fmul    v1.4s, v0.4s, v16.s[0]         /* x log2e */
    frintn  v1.4s, v1.4s                   /* n */
    fmls    v0.4s, v1.4s, v16.s[1]         /* r = x - n c1 */
    fmls    v0.4s, v1.4s, v16.s[2]         /*     - n c2 */
    dup     v2.4s, v17.s[0]
    dup     v3.4s, v17.s[1]
    fmla    v3.4s, v2.4s, v0.4s            /* p0 r + p1 */
    dup     v2.4s, v17.s[2]
    fmla    v2.4s, v3.4s, v0.4s            /* (..) r + p2 */
    dup     v3.4s, v17.s[3]
    fmla    v3.4s, v2.4s, v0.4s            /* .. + p3 */
    dup     v2.4s, v18.s[0]
    fmla    v2.4s, v3.4s, v0.4s            /* .. + p4 */
    dup     v3.4s, v18.s[1]
    fmla    v3.4s, v2.4s, v0.4s            /* .. + p5 */
    fmul    v4.4s, v0.4s, v0.4s            /* r^2 */
    dup     v5.4s, v18.s[3]
    fadd    v5.4s, v5.4s, v0.4s            /* 1 + r */
    fmla    v5.4s, v3.4s, v4.4s            /* 1 + r + p r^2 */
    fcvtzs  v1.4s, v1.4s                   /* n as an integer (already whole) */
    movi    v6.4s, #127
    add     v1.4s, v1.4s, v6.4s
    shl     v1.4s, v1.4s, #23              /* 2^n */
    fmul    v0.4s, v5.4s, v1.4s
    ret

/* llm_q8_quant ( x0 = quants out (n int8), x1 = scales out (n/32 pairs of
   f32: d, s), x2 = x (n f32), x3 = n, a multiple of 32 -- ) Clobbers
   x0-x3, x9, v0-v7, v16-v23.  Each block of 32: d = max|x| / 127 (f32
   division), q = x * (1/d) rounded to nearest, ties to even (0 where d is
   0), s = d * sum(q): llama.cpp's Q8_1 block (ggml-quants.c
   quantize_row_q8_1, with its NEON path's round-to-nearest-even). */
    .globl llm_q8_quant
llm_q8_quant:
    mov     w9, #127
    scvtf   s7, w9
    fmov    s6, #1.0
1:  cbz     x3, 9f
    ld1     {v16.4s-v19.4s}, [x2], #64
    ld1     {v20.4s-v23.4s}, [x2], #64
    fabs    v0.4s, v16.4s
    fabs    v1.4s, v17.4s
    fabs    v2.4s, v18.4s
    fabs    v3.4s, v19.4s
    fmax    v0.4s, v0.4s, v1.4s
    fmax    v2.4s, v2.4s, v3.4s
    fabs    v1.4s, v20.4s
    fabs    v3.4s, v21.4s
    fmax    v1.4s, v1.4s, v3.4s
    fabs    v3.4s, v22.4s
    fabs    v4.4s, v23.4s
    fmax    v3.4s, v3.4s, v4.4s
    fmax    v0.4s, v0.4s, v2.4s
    fmax    v1.4s, v1.4s, v3.4s
    fmax    v0.4s, v0.4s, v1.4s
    fmaxv   s0, v0.4s                      /* amax */
    fdiv    s1, s0, s7                     /* d */
    fdiv    s2, s6, s1                     /* 1/d */
    fcmp    s0, #0.0
    fcsel   s2, s2, s0, ne                 /* 0 when the block is all zeros */
    fmul    v16.4s, v16.4s, v2.s[0]
    fmul    v17.4s, v17.4s, v2.s[0]
    fmul    v18.4s, v18.4s, v2.s[0]
    fmul    v19.4s, v19.4s, v2.s[0]
    fmul    v20.4s, v20.4s, v2.s[0]
    fmul    v21.4s, v21.4s, v2.s[0]
    fmul    v22.4s, v22.4s, v2.s[0]
    fmul    v23.4s, v23.4s, v2.s[0]
    fcvtns  v16.4s, v16.4s
    fcvtns  v17.4s, v17.4s
    fcvtns  v18.4s, v18.4s
    fcvtns  v19.4s, v19.4s
    fcvtns  v20.4s, v20.4s
    fcvtns  v21.4s, v21.4s
    fcvtns  v22.4s, v22.4s
    fcvtns  v23.4s, v23.4s
    add     v3.4s, v16.4s, v17.4s          /* the sum of the quants */
    add     v4.4s, v18.4s, v19.4s
    add     v5.4s, v20.4s, v21.4s
    add     v0.4s, v22.4s, v23.4s
    add     v3.4s, v3.4s, v4.4s
    add     v5.4s, v5.4s, v0.4s
    add     v3.4s, v3.4s, v5.4s
    addv    s3, v3.4s
    scvtf   s3, s3
    fmul    s3, s3, s1                     /* s = d * sum */
    stp     s1, s3, [x1], #8
    xtn     v16.4h, v16.4s                 /* |q| <= 127: plain narrowing */
    xtn2    v16.8h, v17.4s
    xtn     v18.4h, v18.4s
    xtn2    v18.8h, v19.4s
    xtn     v20.4h, v20.4s
    xtn2    v20.8h, v21.4s
    xtn     v22.4h, v22.4s
    xtn2    v22.8h, v23.4s
    xtn     v16.8b, v16.8h
    xtn2    v16.16b, v18.8h
    xtn     v20.8b, v20.8h
    xtn2    v20.16b, v22.8h
    stp     q16, q20, [x0], #32
    sub     x3, x3, #32
    b       1b
9:  ret

/* llm_q41_matvec ( x0 = out (rows f32), x1 = W (Q4_1x4, docs/llm.md),
   x2 = quants, x3 = scales (llm_q8_quant's, of cols values), x4 = rows (a
   multiple of 4), x5 = cols (a multiple of 32) -- ) Clobbers x0-x1,
   x4, x6-x9, v0-v7, v16-v31.  out[r] = sum over blocks, in order, of
   (dw dx) isum + mw sx, each step a fused multiply-add in f32; isum the
   block's exact integer dot product of the weight quants (0..15) and the
   activation quants.  Four rows a pass; per block of four rows: 5 loads,
   8 nibble extractions, 8 SDOTs, the scale arithmetic. */
    .globl llm_q41_matvec
llm_q41_matvec:
    movi    v31.16b, #0x0f
    lsr     x6, x5, #5                     /* blocks a row */
1:  cbz     x4, 9f
    movi    v0.4s, #0                      /* four rows' sums */
    mov     x7, x2
    mov     x8, x3
    mov     x9, x6
2:  ldr     q20, [x1]                      /* d0..d3, m0..m3 (f16) */
    ldp     q16, q17, [x1, #16]            /* chunks 0, 1 */
    ldp     q18, q19, [x1, #48]            /* chunks 2, 3 */
    add     x1, x1, #80
    ldp     q21, q22, [x7], #32            /* the block's 32 activation quants */
    ldr     d23, [x8], #8                  /* dx, sx */
    movi    v26.4s, #0
    movi    v27.4s, #0
    and     v24.16b, v16.16b, v31.16b      /* columns 0-3 of four rows */
    ushr    v25.16b, v16.16b, #4           /* columns 16-19 */
    sdot    v26.4s, v24.16b, v21.4b[0]
    sdot    v27.4s, v25.16b, v22.4b[0]
    and     v24.16b, v17.16b, v31.16b
    ushr    v25.16b, v17.16b, #4
    sdot    v26.4s, v24.16b, v21.4b[1]
    sdot    v27.4s, v25.16b, v22.4b[1]
    and     v24.16b, v18.16b, v31.16b
    ushr    v25.16b, v18.16b, #4
    sdot    v26.4s, v24.16b, v21.4b[2]
    sdot    v27.4s, v25.16b, v22.4b[2]
    and     v24.16b, v19.16b, v31.16b
    ushr    v25.16b, v19.16b, #4
    sdot    v26.4s, v24.16b, v21.4b[3]
    sdot    v27.4s, v25.16b, v22.4b[3]
    add     v26.4s, v26.4s, v27.4s         /* isum of four rows */
    scvtf   v26.4s, v26.4s
    fcvtl   v28.4s, v20.4h                 /* dw */
    fcvtl2  v29.4s, v20.8h                 /* mw */
    fmul    v28.4s, v28.4s, v23.s[0]       /* dw dx */
    fmla    v0.4s, v28.4s, v26.4s
    fmla    v0.4s, v29.4s, v23.s[1]        /* + mw sx */
    subs    x9, x9, #1
    b.ne    2b
    str     q0, [x0], #16
    sub     x4, x4, #4
    b       1b
9:  ret

/* llm_q80_matvec ( x0 = out, x1 = W (Q8_0x4), x2 = quants, x3 = scales,
   x4 = rows, x5 = cols -- ) Clobbers x0-x1, x4, x6-x9, v0-v7, v16-v31.
   out[r] = sum over blocks, in order, of (dw dx) isum (fused in f32):
   llama.cpp's Q8_0 x Q8_0. */
    .globl llm_q80_matvec
llm_q80_matvec:
    lsr     x6, x5, #5
1:  cbz     x4, 9f
    movi    v0.4s, #0
    mov     x7, x2
    mov     x8, x3
    mov     x9, x6
2:  ldr     d20, [x1], #8                  /* d0..d3 (f16) */
    ld1     {v16.16b-v19.16b}, [x1], #64   /* chunks 0-3: columns 0-15 */
    ld1     {v24.16b-v27.16b}, [x1], #64   /* chunks 4-7: columns 16-31 */
    ldp     q21, q22, [x7], #32
    ldr     s23, [x8], #8                  /* dx */
    movi    v1.4s, #0
    movi    v2.4s, #0
    sdot    v1.4s, v16.16b, v21.4b[0]
    sdot    v2.4s, v17.16b, v21.4b[1]
    sdot    v1.4s, v18.16b, v21.4b[2]
    sdot    v2.4s, v19.16b, v21.4b[3]
    sdot    v1.4s, v24.16b, v22.4b[0]
    sdot    v2.4s, v25.16b, v22.4b[1]
    sdot    v1.4s, v26.16b, v22.4b[2]
    sdot    v2.4s, v27.16b, v22.4b[3]
    add     v1.4s, v1.4s, v2.4s
    scvtf   v1.4s, v1.4s
    fcvtl   v28.4s, v20.4h
    fmul    v28.4s, v28.4s, v23.s[0]
    fmla    v0.4s, v28.4s, v1.4s
    subs    x9, x9, #1
    b.ne    2b
    str     q0, [x0], #16
    sub     x4, x4, #4
    b       1b
9:  ret

/* llm_rmsnorm ( x0 = out, x1 = x, x2 = w, x3 = n (a multiple of 4),
   w4 = epsilon (f32 bits) -- ) Clobbers x0-x3, x9-x10, v0-v7.
   out = x * (1 / sqrt(mean(x^2) + eps)) * w, the sum of squares in four
   f32 lanes. out may be x. */
    .globl llm_rmsnorm
llm_rmsnorm:
    movi    v0.4s, #0
    mov     x9, x1
    mov     x10, x3
1:  ldr     q1, [x9], #16
    fmla    v0.4s, v1.4s, v1.4s
    subs    x10, x10, #4
    b.hi    1b
    faddp   v0.4s, v0.4s, v0.4s
    faddp   s0, v0.2s
    ucvtf   s1, x3
    fdiv    s0, s0, s1                     /* mean */
    fmov    s1, w4
    fadd    s0, s0, s1
    fsqrt   s0, s0
    fmov    s1, #1.0
    fdiv    s0, s1, s0                     /* the scale */
2:  ldr     q1, [x1], #16
    ldr     q2, [x2], #16
    fmul    v1.4s, v1.4s, v0.s[0]
    fmul    v1.4s, v1.4s, v2.4s
    str     q1, [x0], #16
    subs    x3, x3, #4
    b.hi    2b
    ret

/* llm_rope ( x0 = vector (heads x 64 f32), x1 = heads, x2 = the RoPE
   table's row for this position (32 pairs cos, sin) -- ) Clobbers x0-x1,
   x9, v0-v7.  Pair i of each head (elements 2i, 2i+1) is rotated:
   a' = a cos - b sin, b' = a sin + b cos. */
    .globl llm_rope
llm_rope:
1:  cbz     x1, 9f
    mov     x9, #0
2:  ld2     {v0.4s, v1.4s}, [x0]           /* a, b of four pairs */
    ld2     {v2.4s, v3.4s}, [x2]           /* cos, sin */
    add     x2, x2, #32
    fmul    v4.4s, v0.4s, v2.4s
    fmls    v4.4s, v1.4s, v3.4s
    fmul    v5.4s, v0.4s, v3.4s
    fmla    v5.4s, v1.4s, v2.4s
    st2     {v4.4s, v5.4s}, [x0], #32
    add     x9, x9, #4
    cmp     x9, #32
    b.lo    2b
    sub     x2, x2, #256                   /* the same row for the next head */
    sub     x1, x1, #1
    b       1b
9:  ret

/* llm_attend ( x0 = out (64 f32), x1 = q (64 f32), x2 = keys (position 0
   of this KV head), x3 = values (the same), x4 = positions n >= 1, x5 =
   bytes from one position to the next, x6 = scratch (n f32) -- )
   Clobbers x0-x17, v0-v7, v16-v31.  One query head over the cache:
   scores q.k / 8 (sqrt of the head's 64), softmax, out = sum p v. */
    .globl llm_attend
llm_attend:
    mov     x10, x30
    ld1     {v16.4s-v19.4s}, [x1], #64     /* q: sixteen registers */
    ld1     {v20.4s-v23.4s}, [x1], #64
    ld1     {v24.4s-v27.4s}, [x1], #64
    ld1     {v28.4s-v31.4s}, [x1]
    mov     x11, x2
    mov     x12, #0
    mov     w9, #0xff800000                /* -inf */
    fmov    s7, w9                         /* the largest score */
1:  mov     x13, x11
    ld1     {v0.4s-v3.4s}, [x13], #64
    fmul    v4.4s, v0.4s, v16.4s
    fmul    v5.4s, v1.4s, v17.4s
    fmla    v4.4s, v2.4s, v18.4s
    fmla    v5.4s, v3.4s, v19.4s
    ld1     {v0.4s-v3.4s}, [x13], #64
    fmla    v4.4s, v0.4s, v20.4s
    fmla    v5.4s, v1.4s, v21.4s
    fmla    v4.4s, v2.4s, v22.4s
    fmla    v5.4s, v3.4s, v23.4s
    ld1     {v0.4s-v3.4s}, [x13], #64
    fmla    v4.4s, v0.4s, v24.4s
    fmla    v5.4s, v1.4s, v25.4s
    fmla    v4.4s, v2.4s, v26.4s
    fmla    v5.4s, v3.4s, v27.4s
    ld1     {v0.4s-v3.4s}, [x13]
    fmla    v4.4s, v0.4s, v28.4s
    fmla    v5.4s, v1.4s, v29.4s
    fmla    v4.4s, v2.4s, v30.4s
    fmla    v5.4s, v3.4s, v31.4s
    add     x11, x11, x5
    fadd    v4.4s, v4.4s, v5.4s
    faddp   v4.4s, v4.4s, v4.4s
    faddp   s4, v4.2s
    fmov    s5, #0.125                     /* 1 / sqrt(64) */
    fmul    s4, s4, s5
    str     s4, [x6, x12, lsl #2]
    fmax    s7, s7, s4
    add     x12, x12, #1
    cmp     x12, x4
    b.lo    1b
    /* e^(s - max), four at a time; the tail of n mod 4 one at a time through lane 0 */
    dup     v22.4s, v7.s[0]
    movi    v21.4s, #0                     /* the sum */
    mov     x12, #0
2:  add     x13, x12, #4
    cmp     x13, x4
    b.hi    3f
    add     x14, x6, x12, lsl #2
    ldr     q0, [x14]
    fsub    v0.4s, v0.4s, v22.4s
    bl      exp4
    str     q0, [x14]
    fadd    v21.4s, v21.4s, v0.4s
    mov     x12, x13
    b       2b
3:  cmp     x12, x4
    b.hs    4f
    ldr     s0, [x6, x12, lsl #2]
    fsub    s0, s0, s22
    bl      exp4
    str     s0, [x6, x12, lsl #2]
    movi    v1.4s, #0
    mov     v1.s[0], v0.s[0]
    fadd    v21.4s, v21.4s, v1.4s
    add     x12, x12, #1
    b       3b
4:  faddp   v21.4s, v21.4s, v21.4s
    faddp   s21, v21.2s
    fmov    s6, #1.0
    fdiv    s6, s6, s21                    /* 1 / sum */
    /* out = (sum e v) / sum: sixteen accumulators */
    movi    v16.4s, #0
    movi    v17.4s, #0
    movi    v18.4s, #0
    movi    v19.4s, #0
    movi    v20.4s, #0
    movi    v21.4s, #0
    movi    v22.4s, #0
    movi    v23.4s, #0
    movi    v24.4s, #0
    movi    v25.4s, #0
    movi    v26.4s, #0
    movi    v27.4s, #0
    movi    v28.4s, #0
    movi    v29.4s, #0
    movi    v30.4s, #0
    movi    v31.4s, #0
    mov     x11, x3
    mov     x12, #0
5:  ldr     s0, [x6, x12, lsl #2]
    mov     x13, x11
    ld1     {v1.4s-v4.4s}, [x13], #64
    fmla    v16.4s, v1.4s, v0.s[0]
    fmla    v17.4s, v2.4s, v0.s[0]
    fmla    v18.4s, v3.4s, v0.s[0]
    fmla    v19.4s, v4.4s, v0.s[0]
    ld1     {v1.4s-v4.4s}, [x13], #64
    fmla    v20.4s, v1.4s, v0.s[0]
    fmla    v21.4s, v2.4s, v0.s[0]
    fmla    v22.4s, v3.4s, v0.s[0]
    fmla    v23.4s, v4.4s, v0.s[0]
    ld1     {v1.4s-v4.4s}, [x13], #64
    fmla    v24.4s, v1.4s, v0.s[0]
    fmla    v25.4s, v2.4s, v0.s[0]
    fmla    v26.4s, v3.4s, v0.s[0]
    fmla    v27.4s, v4.4s, v0.s[0]
    ld1     {v1.4s-v4.4s}, [x13]
    fmla    v28.4s, v1.4s, v0.s[0]
    fmla    v29.4s, v2.4s, v0.s[0]
    fmla    v30.4s, v3.4s, v0.s[0]
    fmla    v31.4s, v4.4s, v0.s[0]
    add     x11, x11, x5
    add     x12, x12, #1
    cmp     x12, x4
    b.lo    5b
    .irp r, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    fmul    v\r\().4s, v\r\().4s, v6.s[0]
    .endr
    st1     {v16.4s-v19.4s}, [x0], #64
    st1     {v20.4s-v23.4s}, [x0], #64
    st1     {v24.4s-v27.4s}, [x0], #64
    st1     {v28.4s-v31.4s}, [x0]
    ret     x10

/* llm_swiglu ( x0 = g (n f32, overwritten), x1 = u (n f32), x2 = n (a
   multiple of 4) -- ) Clobbers x0-x2, x9-x10, v0-v7, v16-v23.
   g = g / (1 + e^-g) * u: SiLU of the gate times the up projection. */
    .globl llm_swiglu
llm_swiglu:
    mov     x10, x30
1:  cbz     x2, 9f
    ldr     q22, [x0]
    fneg    v0.4s, v22.4s
    bl      exp4
    fmov    v1.4s, #1.0
    fadd    v0.4s, v0.4s, v1.4s            /* 1 + e^-g */
    fdiv    v0.4s, v22.4s, v0.4s
    ldr     q1, [x1], #16
    fmul    v0.4s, v0.4s, v1.4s
    str     q0, [x0], #16
    sub     x2, x2, #4
    b       1b
9:  ret     x10

/* llm_vadd ( x0 = a, x1 = b, x2 = n (a multiple of 4) -- ) a += b, n f32.
   Clobbers x0-x2, v0-v1. */
    .globl llm_vadd
llm_vadd:
1:  cbz     x2, 9f
    ldr     q0, [x0]
    ldr     q1, [x1], #16
    fadd    v0.4s, v0.4s, v1.4s
    str     q0, [x0], #16
    sub     x2, x2, #4
    b       1b
9:  ret

/* llm_embed ( x0 = out (cols f32), x1 = E (Q8_0x4), x2 = row, x3 = cols
   (a multiple of 32) -- ) Clobbers x0-x9, v0-v7.  One row of a Q8_0x4
   matrix, dequantised: d q.  Row 4g+r's block b is in group g's block b,
   its scale the r-th f16, its quants bytes 4r..4r+3 of each chunk. */
    .globl llm_embed
llm_embed:
    lsr     x4, x3, #5                     /* blocks a row */
    mov     x5, #136
    mul     x6, x4, x5                     /* bytes a group */
    lsr     x7, x2, #2
    madd    x1, x7, x6, x1                 /* the group */
    and     x7, x2, #3                     /* r */
    add     x8, x1, x7, lsl #1             /* its scales */
    add     x1, x1, #8
    add     x1, x1, x7, lsl #2             /* its first quants */
1:  cbz     x4, 9f
    ldr     h0, [x8]
    fcvt    s0, h0
    mov     x9, #8
2:  ldr     s1, [x1], #16                  /* four quants */
    sxtl    v1.8h, v1.8b
    sxtl    v1.4s, v1.4h
    scvtf   v1.4s, v1.4s
    fmul    v1.4s, v1.4s, v0.s[0]
    str     q1, [x0], #16
    subs    x9, x9, #1
    b.ne    2b
    add     x8, x8, #136
    add     x1, x1, #8                     /* past the next block's scales */
    sub     x4, x4, #1
    b       1b
9:  ret

/* llm_argmax ( x0 = x (f32), x1 = n >= 1 -- x0 = the first index of the
   largest ) Clobbers x0-x3, v0-v1. */
    .globl llm_argmax
llm_argmax:
    ldr     s0, [x0]
    mov     x2, #0
    mov     x3, #1
1:  cmp     x3, x1
    b.hs    9f
    ldr     s1, [x0, x3, lsl #2]
    fcmp    s1, s0
    b.le    2f                             /* not larger (or NaN): keep the first */
    fmov    s0, s1
    mov     x2, x3
2:  add     x3, x3, #1
    b       1b
9:  mov     x0, x2
    ret

/* llm_sample ( x0 = logits (n f32), x1 = n >= 1, x2 = the temperature (f32
   bits, > 0), x3 = top-p (f32 bits, in (0, 1]), x4 = u (a uniform 32-bit
   random number, the low half), x5 = scratch (480 bytes) -- x0 = the
   token ) Clobbers x0-x17, v0-v7, v16-v30.

   Top-k (k = 40), then temperature and top-p (nucleus) sampling, the
   order llama.cpp's default sampler chain applies them (top-k, top-p,
   temperature: the same set and weights, since the temperature scales
   every weight's exponent alike and keeps their order).  Deterministic
   given u, and float32 step by step so tests/test_llm_kernels.py's numpy
   twin picks the same token:
     1. the 40 largest logits, largest first; equal values keep the lower
        index first; a NaN is never chosen (it is below everything here);
     2. w_i = e^((l_i - l_0) / T), c_i = w_0 + ... + w_i (in order);
     3. top-p: the shortest prefix 0..m with c_m >= p c_39 (p = 1: all);
     4. r = u 2^-32 c_m, the token is the first i <= m with c_i > r.
   All logits -inf or NaN: index 0.
   Scratch: [0, 160) the 40 values, [160, 320) their indices (u32),
   [320, 480) the weights, then their running sums. */
    .globl llm_sample
llm_sample:
    mov     x10, x30
    fmov    s21, w2                        /* T */
    fmov    s22, w3                        /* p */
    mov     w4, w4
    mov     w9, #0xff800000
    fmov    s20, w9                        /* the bar to enter the list: -inf */
    mov     x12, #0                        /* the list's length */
    mov     x11, #0                        /* i */
    bic     x13, x1, #3
    add     x17, x5, #160                  /* the indices */
1:  cmp     x11, x13                       /* four at a time: any above the bar? */
    b.hs    3f
    add     x9, x0, x11, lsl #2
    ldr     q0, [x9]
    dup     v1.4s, v20.s[0]
    fcmgt   v1.4s, v0.4s, v1.4s            /* false for a NaN */
    umaxv   s1, v1.4s
    fmov    w9, s1
    cbnz    w9, 2f
    add     x11, x11, #4
    b       1b
2:  add     x14, x11, #4                   /* one by one, these four */
    b       4f
3:  mov     x14, x1                        /* one by one, the tail */
    cmp     x11, x14
    b.hs    6f
4:  ldr     s0, [x0, x11, lsl #2]
    fcmp    s0, s20
    b.le    5f                             /* not above the bar (or NaN) */
    mov     x15, #39                       /* its slot: the end of the list */
    cmp     x12, #40
    csel    x15, x12, x15, lo
    cinc    x12, x12, lo
7:  cbz     x15, 8f                        /* move the smaller ones down */
    sub     x16, x15, #1
    ldr     s1, [x5, x16, lsl #2]
    fcmp    s1, s0
    b.ge    8f                             /* an equal one stays ahead */
    str     s1, [x5, x15, lsl #2]
    ldr     w9, [x17, x16, lsl #2]
    str     w9, [x17, x15, lsl #2]
    mov     x15, x16
    b       7b
8:  str     s0, [x5, x15, lsl #2]
    str     w11, [x17, x15, lsl #2]
    cmp     x12, #40
    b.lo    5f
    ldr     s20, [x5, #156]                /* full: the bar is the 40th */
5:  add     x11, x11, #1
    cmp     x11, x14
    b.lo    4b
    cmp     x14, x1
    b.lo    1b
6:  mov     x0, #0
    cbz     x12, 99f                       /* nothing above -inf */
    ldr     s23, [x5]
    dup     v24.4s, v23.s[0]               /* l_0 */
    dup     v25.4s, v21.s[0]               /* T */
    add     x16, x5, #320                  /* the weights */
    mov     x15, #0
10: ldr     q0, [x5, x15]
    fsub    v0.4s, v0.4s, v24.4s
    fdiv    v0.4s, v0.4s, v25.4s
    bl      exp4
    str     q0, [x16, x15]
    add     x15, x15, #16
    cmp     x15, #160
    b.lo    10b
    movi    v26.4s, #0                     /* their running sums */
    mov     x15, #0
11: ldr     s1, [x16, x15, lsl #2]
    fadd    s26, s26, s1
    str     s26, [x16, x15, lsl #2]
    add     x15, x15, #1
    cmp     x15, x12
    b.lo    11b
    fmul    s27, s22, s26                  /* p c_last */
    sub     x14, x12, #1
    mov     x15, #0
12: cmp     x15, x14                       /* m: the first c_m >= p c_last */
    b.hs    13f
    ldr     s1, [x16, x15, lsl #2]
    fcmp    s1, s27
    b.ge    13f
    add     x15, x15, #1
    b       12b
13: ldr     s28, [x16, x15, lsl #2]        /* c_m */
    mov     x14, x15
    ucvtf   s29, x4
    mov     w9, #0x2f800000                /* 2^-32 */
    fmov    s30, w9
    fmul    s29, s29, s30
    fmul    s29, s29, s28                  /* r */
    mov     x15, #0
14: cmp     x15, x14                       /* the first c_i > r (c_m if rounding says none) */
    b.hs    15f
    ldr     s1, [x16, x15, lsl #2]
    fcmp    s1, s29
    b.gt    15f
    add     x15, x15, #1
    b       14b
15: ldr     w0, [x17, x15, lsl #2]
99: ret     x10
