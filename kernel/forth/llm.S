/* Forth words over the language model's NEON kernels (kernel/llm.S;
   docs/llm.md).  Vectors are f32 arrays, matrices the model image's
   Q4_1x4 and Q8_0x4; nothing is checked here beyond what the contracts
   say: the transformer in forth/llm/ passes what the image's header
   describes, and tests/test_llm_kernels.py holds each word to numpy. */

/* args: the data stack's top k cells into x0..x(k-1), the deepest into
   x0, the top into x(k-1); the cell under them becomes tos. */
.macro args2
    ldr     x0, [dsp, #0]
    mov     x1, tos
    ldr     tos, [dsp, #8]
    add     dsp, dsp, #16
.endm
.macro args3
    ldr     x0, [dsp, #8]
    ldr     x1, [dsp, #0]
    mov     x2, tos
    ldr     tos, [dsp, #16]
    add     dsp, dsp, #24
.endm
.macro args4
    ldr     x0, [dsp, #16]
    ldr     x1, [dsp, #8]
    ldr     x2, [dsp, #0]
    mov     x3, tos
    ldr     tos, [dsp, #24]
    add     dsp, dsp, #32
.endm
.macro args5
    ldr     x0, [dsp, #24]
    ldr     x1, [dsp, #16]
    ldr     x2, [dsp, #8]
    ldr     x3, [dsp, #0]
    mov     x4, tos
    ldr     tos, [dsp, #32]
    add     dsp, dsp, #40
.endm
.macro args6
    ldr     x0, [dsp, #32]
    ldr     x1, [dsp, #24]
    ldr     x2, [dsp, #16]
    ldr     x3, [dsp, #8]
    ldr     x4, [dsp, #0]
    mov     x5, tos
    ldr     tos, [dsp, #40]
    add     dsp, dsp, #48
.endm
.macro args7
    ldr     x0, [dsp, #40]
    ldr     x1, [dsp, #32]
    ldr     x2, [dsp, #24]
    ldr     x3, [dsp, #16]
    ldr     x4, [dsp, #8]
    ldr     x5, [dsp, #0]
    mov     x6, tos
    ldr     tos, [dsp, #48]
    add     dsp, dsp, #56
.endm

/* q8-quant ( xq xs x n -- ) n f32 at x as 8-bit blocks: n quants at xq, n/32 (d, s) f32 pairs at xs */
word "q8-quant", w_q8quant
    args4
    enter
    bl      llm_q8_quant
    leave
endword w_q8quant

/* q41-matvec ( out w xq xs rows cols -- ) out = the Q4_1x4 matrix w times the quantised vector */
word "q41-matvec", w_q41matvec
    args6
    enter
    bl      llm_q41_matvec
    leave
endword w_q41matvec

/* q80-matvec ( out w xq xs rows cols -- ) out = the Q8_0x4 matrix w times the quantised vector */
word "q80-matvec", w_q80matvec
    args6
    enter
    bl      llm_q80_matvec
    leave
endword w_q80matvec

/* rmsnorm ( out x w n eps -- ) out = x / rms(x) * w; eps an f32 bit pattern */
word "rmsnorm", w_rmsnorm
    args5
    enter
    bl      llm_rmsnorm
    leave
endword w_rmsnorm

/* rope ( v heads row -- ) rotate each head's pairs by the RoPE table's row for the position */
word "rope", w_rope
    args3
    enter
    bl      llm_rope
    leave
endword w_rope

/* attend ( out q k v n stride scratch -- ) one query head over n cached positions */
word "attend", w_attend
    args7
    enter
    bl      llm_attend
    leave
endword w_attend

/* swiglu ( g u n -- ) g = silu(g) * u */
word "swiglu", w_swiglu
    args3
    enter
    bl      llm_swiglu
    leave
endword w_swiglu

/* v+! ( a b n -- ) a += b, n f32 */
word "v+!", w_vaddstore
    args3
    enter
    bl      llm_vadd
    leave
endword w_vaddstore

/* embed ( out e row cols -- ) a row of the Q8_0x4 matrix e as f32 */
word "embed", w_embed
    args4
    enter
    bl      llm_embed
    leave
endword w_embed

/* argmax ( x n -- i ) the first index of the largest of n f32 */
word "argmax", w_argmax
    args2
    enter
    bl      llm_argmax
    dpush   x0
    leave
endword w_argmax

/* dotprod? ( -- flag ) the core has SDOT/UDOT: ID_AA64ISAR0_EL1.DP (bits 47:44) >= 1 (FEAT_DotProd, Arm ARM D23.2.77) */
word "dotprod?", w_dotprodq
    mrs     x0, id_aa64isar0_el1
    ubfx    x0, x0, #44, #4
    cmp     x0, #1
    csetm   x0, hs
    dpush   x0
    ret
endword w_dotprodq

/* carve ( u -- a | 0 ) u bytes of never-used memory from the bump frontier, 16 KiB aligned, for good (a model's weights); 0 when RAM is short */
word "carve", w_carve
    enter
    mov     x0, tos
    bl      bump_alloc
    mov     tos, x0
    leave
endword w_carve

/* sample ( x n temp top-p u scratch -- i ) top-k 40, top-p, temperature sampling of n f32 logits (llm_sample); temp and top-p f32 bits, u 32 random bits, scratch 480 bytes */
word "sample", w_sample
    args6
    enter
    bl      llm_sample
    dpush   x0
    leave
endword w_sample

/* rng! ( u -- ) seed the sampler's random numbers */
word "rng!", w_rngstore
    ladr    x0, rng_state
    str     tos, [x0]
    ldr     tos, [dsp], #8
    ret
endword w_rngstore

/* rng ( -- u ) the next 32 random bits: splitmix64's high half (Steele, Lea,
   Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) */
word "rng", w_rng
    ladr    x0, rng_state
    ldr     x1, [x0]
    movq    x2, 0x9e3779b97f4a7c15
    add     x1, x1, x2
    str     x1, [x0]
    eor     x1, x1, x1, lsr #30
    movq    x2, 0xbf58476d1ce4e5b9
    mul     x1, x1, x2
    eor     x1, x1, x1, lsr #27
    movq    x2, 0x94d049bb133111eb
    mul     x1, x1, x2
    eor     x1, x1, x1, lsr #31
    lsr     x1, x1, #32
    dpush   x1
    ret
endword w_rng

    .data
    .balign 8
rng_state:  .quad 0     /* splitmix64's state (rng!, rng): one for the system */
    .text
