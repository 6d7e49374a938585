/*
 * The compiler: subroutine-threaded native code.  A colon definition is
 *   str x30, [sp, #-8]!   ...calls (bl) and inlined bodies...   ldr x30, [sp], #8; ret
 * Literals load straight into tos.  Every instruction the compiler emits
 * comes from one place below: a template the assembler encodes, or one
 * asm_* routine per instruction form (as zeptoforth's code generator has
 * one per form), each citing its encoding in the ARM ARM (DDI 0487, C6.2,
 * by instruction and by the encoding's name in Arm's machine-readable
 * A64 spec).  forth/ reaches the branch forms through ASM-B, ASM-B.COND and
 * ASM-CBZ; forth/55-disasm.fth decodes them back for SEE.
 */

    .text
    .balign 4
/* Templates (the assembler encodes them; the compiler copies the word):
   STR (immediate), pre-index   STR_64_ldst_immpre    push tos / x30
   LDR (immediate), post-index  LDR_64_ldst_immpost   pop x30
   RET                          RET_64R_branch_reg
   NOP                          NOP_HI_hints
   BLR                          BLR_64_branch_reg     far call through x16
   ADR                          ADR_only_pcreladdr    DOES>'s code address */
tmpl_push:      str     tos, [dsp, #-8]!
tmpl_prologue:  str     x30, [sp, #-8]!
tmpl_epilogue:  ldr     x30, [sp], #8
tmpl_ret:       ret
tmpl_nop:       nop
tmpl_blr16:     blr     x16
tmpl_adr_x0:    adr     x0, . + 16      /* DOES>: the does-code's address (patched once it is known) */

/* Fixed bits of each form (its fields zero), 64-bit (sf = 1) variants. */
#define OP_B     0x14000000             /* C6.2 B, B_only_branch_imm: imm26 */
#define OP_BL    0x94000000             /* C6.2 BL, BL_only_branch_imm: imm26 */
#define OP_BCOND 0x54000000             /* C6.2 B.cond, B_only_condbranch: imm19, cond */
#define OP_CBZ   0xB4000000             /* C6.2 CBZ, CBZ_64_compbranch: imm19, Rt */
#define OP_MOVZ  0xD2800000             /* C6.2 MOVZ, MOVZ_64_movewide: hw, imm16, Rd */
#define OP_MOVN  0x92800000             /* C6.2 MOVN, MOVN_64_movewide */
#define OP_MOVK  0xF2800000             /* C6.2 MOVK, MOVK_64_movewide */
#define OP_ADDI  0x91000000             /* C6.2 ADD (immediate), ADD_64_addsub_imm: imm12, Rn, Rd */
#define OP_SUBI  0xD1000000             /* C6.2 SUB (immediate), SUB_64_addsub_imm */
#define OP_ADDSI 0xB1000000             /* C6.2 ADDS (immediate), ADDS_64S_addsub_imm (CMN: Rd = xzr) */
#define OP_SUBSI 0xF1000000             /* C6.2 SUBS (immediate), SUBS_64S_addsub_imm (CMP: Rd = xzr) */
#define OP_UBFM  0xD3400000             /* C6.2 UBFM, UBFM_64M_bitfield: immr, imms (LSL, LSR) */
#define OP_SBFM  0x93400000             /* C6.2 SBFM, SBFM_64M_bitfield (ASR) */
#define OP_MOVR  0xAA0003E0             /* C6.2 MOV (register) = ORR_64_log_shift, Rn = xzr: Rm, Rd */
#define OP_LDRL  0x58000000             /* C6.2 LDR (literal), LDR_64_loadlit: imm19, Rt */
#define OP_ADR   0x10000000             /* C6.2 ADR, ADR_only_pcreladdr: immlo, immhi, Rd */
#define REG_TOS  26
#define REG_XZR  31

/* bl_form routine: for the Forth words below: tos = the form's w0 (the
   forms are leaves, so x30 is kept in x9). */
.macro bl_form routine
    mov     x9, x30
    bl      \routine
    mov     tos, x0
    ret     x9
.endm

/* asm_b ( x0 = from, x1 = to -- w0 = b to ) imm26 = (to - from) / 4.
   Clobbers x1. */
    .globl asm_b
asm_b:
    sub     x1, x1, x0
    ubfx    x1, x1, #2, #26
    movz    w0, #(OP_B >> 16), lsl #16
    orr     w0, w0, w1
    ret

/* asm_bl ( x0 = from, x1 = to -- w0 = bl to ) Clobbers x1. */
asm_bl:
    sub     x1, x1, x0
    ubfx    x1, x1, #2, #26
    movz    w0, #(OP_BL >> 16), lsl #16
    orr     w0, w0, w1
    ret

/* asm_bcond ( x0 = from, x1 = to, w2 = cond -- w0 = b.cond to )
   imm19 = (to - from) / 4 at bit 5, cond at bit 0.  Clobbers x1. */
    .globl asm_bcond
asm_bcond:
    sub     x1, x1, x0
    ubfx    x1, x1, #2, #19
    movz    w0, #(OP_BCOND >> 16), lsl #16
    orr     w0, w0, w1, lsl #5
    orr     w0, w0, w2
    ret

/* asm_cbz ( x0 = from, x1 = to, w2 = Rt -- w0 = cbz Xt, to ) Clobbers x1. */
    .globl asm_cbz
asm_cbz:
    sub     x1, x1, x0
    ubfx    x1, x1, #2, #19
    movz    w0, #(OP_CBZ >> 16), lsl #16
    orr     w0, w0, w1, lsl #5
    orr     w0, w0, w2
    ret

/* asm_movz, asm_movn, asm_movk ( w0 = Rd, w1 = imm16, w2 = hw -- w0 = mov* Xd,
   #imm16, lsl #hw*16 ) hw at bit 21, imm16 at bit 5.  Clobbers x3. */
asm_movz:
    movz    w3, #(OP_MOVZ >> 16), lsl #16
    b       asm_movewide
asm_movn:
    movz    w3, #(OP_MOVN >> 16), lsl #16
    b       asm_movewide
asm_movk:
    movz    w3, #(OP_MOVK >> 16), lsl #16
asm_movewide:
    orr     w0, w3, w0
    orr     w0, w0, w2, lsl #21
    orr     w0, w0, w1, lsl #5
    ret

/* asm_add_imm, asm_sub_imm, asm_adds_imm, asm_subs_imm ( w0 = Rd, w1 = Rn,
   x2 = imm12 -- w0 = op Xd, Xn, #imm12 ) imm12 at bit 10, Rn at bit 5
   (unshifted: sh = 0).  cmp Xn, #i is asm_subs_imm with Rd = xzr, cmn
   asm_adds_imm.  Clobbers x3. */
asm_add_imm:
    movz    w3, #(OP_ADDI >> 16), lsl #16
    b       asm_addsub_imm
asm_sub_imm:
    movz    w3, #(OP_SUBI >> 16), lsl #16
    b       asm_addsub_imm
asm_adds_imm:
    movz    w3, #(OP_ADDSI >> 16), lsl #16
    b       asm_addsub_imm
asm_subs_imm:
    movz    w3, #(OP_SUBSI >> 16), lsl #16
asm_addsub_imm:
    orr     w0, w3, w0
    orr     w0, w0, w1, lsl #5
    orr     w0, w0, w2, lsl #10
    ret

/* asm_ubfm, asm_sbfm ( w0 = Rd, w1 = Rn, w2 = immr, w3 = imms -- w0 )
   immr at bit 16, imms at bit 10 (N = 1).  lsl #v = ubfm #(-v & 63),
   #(63 - v); lsr #v = ubfm #v, #63; asr #v = sbfm #v, #63.  Clobbers x4. */
asm_ubfm:
    movz    w4, #(OP_UBFM >> 16), lsl #16
    b       asm_bitfield
asm_sbfm:
    movz    w4, #(OP_SBFM >> 16), lsl #16
asm_bitfield:
    orr     w0, w4, w0
    orr     w0, w0, w1, lsl #5
    orr     w0, w0, w2, lsl #16
    orr     w0, w0, w3, lsl #10
    ret

/* asm_mov ( w0 = Rd, w1 = Rm -- w0 = mov Xd, Xm ) Rm at bit 16. */
asm_mov:
    movz    w2, #(OP_MOVR & 0xffff)
    movk    w2, #(OP_MOVR >> 16), lsl #16
    orr     w0, w2, w0
    orr     w0, w0, w1, lsl #16
    ret

/* asm_ldr_lit ( w0 = Rt, x1 = from, x2 = to -- w0 = ldr Xt, to )
   imm19 = (to - from) / 4 at bit 5.  Clobbers x1. */
asm_ldr_lit:
    sub     x1, x2, x1
    ubfx    x1, x1, #2, #19
    orr     w0, w0, w1, lsl #5
    movz    w2, #(OP_LDRL >> 16), lsl #16
    orr     w0, w0, w2
    ret

/* asm_adr ( w0 = Rd, x1 = from, x2 = to -- w0 = adr Xd, to ) the byte
   offset's low 2 bits (immlo) at bit 29, the rest (immhi) at bit 5.
   Clobbers x1, x2. */
asm_adr:
    sub     x1, x2, x1
    and     x2, x1, #3
    ubfx    x1, x1, #2, #19
    orr     w0, w0, w2, lsl #29
    orr     w0, w0, w1, lsl #5
    orr     w0, w0, #OP_ADR
    ret

/* emit_template ( x0 = template address ) Clobbers x0-x2. */
emit_template:
    ldr     w0, [x0]
    b       emit_inst

/* compile_movimm ( x0 = value, w1 = register ): the shortest movz/movn/movk
   sequence.  Clobbers x0-x9, x11. */
    .globl compile_movimm
compile_movimm:
    mov     x9, x30
    mov     x6, x0
    mov     w7, w1
    /* Halfwords that are all ones favour movn. */
    mov     x11, #0xffff
    mov     x3, #0                  /* count of 0xffff halfwords */
    mov     x4, #0
1:  lsr     x5, x6, x4
    and     x5, x5, #0xffff
    cmp     x5, x11
    cinc    x3, x3, eq
    add     x4, x4, #16
    cmp     x4, #64
    b.lo    1b
    cmp     x3, #2
    b.hs    5f
    /* movz: first non-zero halfword (or 0), then movk the others */
    mov     x4, #0                  /* halfword index */
    mov     x8, #0                  /* emitted anything */
2:  lsl     x5, x4, #4
    lsr     x5, x6, x5
    and     x5, x5, #0xffff
    cbz     x5, 3f
    mov     w0, w7
    mov     w1, w5
    mov     w2, w4
    cbnz    x8, 9f
    bl      asm_movz
    b       10f
9:  bl      asm_movk
10: bl      emit_inst
    mov     x8, #1
3:  add     x4, x4, #1
    cmp     x4, #4
    b.lo    2b
    cbnz    x8, 4f
    mov     w0, w7                  /* the value 0 */
    mov     w1, #0
    mov     w2, #0
    bl      asm_movz
    bl      emit_inst
4:  ret     x9
    /* movn on the inverted value, then movk the halfwords not 0xffff */
5:  mvn     x6, x6
    mov     x4, #0
    mov     x8, #0
6:  lsl     x5, x4, #4
    lsr     x5, x6, x5
    and     x5, x5, #0xffff
    cbz     x5, 7f
    mov     w0, w7
    mov     w2, w4
    cbnz    x8, 8f
    mov     w1, w5
    bl      asm_movn
    bl      emit_inst
    mov     x8, #1
    b       7f
8:  eor     w1, w5, #0xffff         /* movk writes the true halfword */
    bl      asm_movk
    bl      emit_inst
7:  add     x4, x4, #1
    cmp     x4, #4
    b.lo    6b
    cbnz    x8, 4b
    mov     w0, w7                  /* the value -1 */
    mov     w1, #0
    mov     w2, #0
    bl      asm_movn
    bl      emit_inst
    ret     x9

/* compile_literal ( x0 = value ): push tos, load the value.  Remembers
   where the literal's code is, so that a foldable word compiled right
   after it can take the value as an immediate instead.  Clobbers x0-x10. */
    .globl compile_literal
compile_literal:
    mov     x10, x30
    mov     x6, x0
    ladr    x1, lit_state
    ladr    x2, dp
    ldr     x2, [x2]
    stp     x2, xzr, [x1]           /* start; end is set when done */
    str     x0, [x1, #16]           /* value */
    ladr    x0, tmpl_push
    ldr     w0, [x0]
    bl      emit_inst
    mov     x0, x6
    mov     w1, #REG_TOS
    bl      compile_movimm
    ladr    x1, dp
    ldr     x2, [x1]
    ladr    x1, lit_state
    str     x2, [x1, #8]
    ret     x10

/* compile_call ( x0 = target ): bl when in range, else a far call through
   x16.  Clobbers x0-x10. */
    .globl compile_call
compile_call:
    mov     x10, x30
    ladr    x1, dp
    ldr     x1, [x1]
    sub     x2, x0, x1              /* displacement */
    asr     x3, x2, #27
    cmn     x3, #1                  /* -2^27 <= disp < 2^27 ? */
    ccmp    x3, #0, #4, ne
    b.ne    1f
    mov     x2, x0
    mov     x0, x1
    mov     x1, x2
    bl      asm_bl
    bl      emit_inst
    ret     x10
1:  mov     w1, #16
    bl      compile_movimm
    ladr    x0, tmpl_blr16
    bl      emit_template
    ret     x10

/*
 * compile_xt ( x0 = xt ): inline the body of short primitives, call the
 * rest.  A literal compiled just before a word with a fold kind (header
 * flags, K_*) is folded into it:
 *   5 +       add tos, tos, #5          (- too; negative values use sub)
 *   3 lshift  lsl tos, tos, #3          (rshift, arshift)
 *   10 <      cmp tos, #10; csetm tos, lt
 *   x and     mov x0, tos; <x into tos>; and tos, x0, tos  (no push/pop)
 * and a constant compiles as a literal of its value.
 * Clobbers x0-x15.
 */
    .globl compile_xt
compile_xt:
    ldrb    w1, [x0, #XT_FLAGS]
    tst     w1, #F_KIND
    b.ne    compile_folding
compile_plain:
    ldrb    w1, [x0, #XT_INLINE]
    cbz     w1, compile_call
    ladr    x2, dp
    ldr     x3, [x2]
1:  ldr     w4, [x0], #4
    str     w4, [x3], #4
    subs    w1, w1, #1
    b.ne    1b
    str     x3, [x2]
    ret

compile_folding:
    tbnz    w1, #2, 1f
    and     w2, w1, #F_KIND                 /* not inline: a constant? */
    cmp     w2, #K_CONST
    b.eq    compile_constant
    b       compile_plain
1:
    ladr    x2, lit_state
    ldr     x3, [x2, #8]
    ladr    x4, dp
    ldr     x5, [x4]
    cmp     x3, x5
    b.ne    compile_plain                   /* no literal right before */
    ldr     x3, [x2]
    str     x3, [x4]                        /* take the literal back */
    str     xzr, [x2, #8]
    ldr     x15, [x2, #16]                  /* its value */
    mov     x7, x15
    mov     x12, x0
    mov     x13, x30
    and     w6, w1, #F_KIND
    cmp     w6, #K_ADD
    b.eq    20f
    cmp     w6, #K_SUB
    b.eq    21f
    cmp     w6, #K_LSL
    b.eq    22f
    cmp     w6, #K_LSR
    b.eq    23f
    cmp     w6, #K_ASR
    b.eq    24f
    cmp     w6, #K_CMP
    b.eq    25f
    b       30f
21: neg     x7, x7                          /* x - v = x + -v */
20: mov     w0, #REG_TOS                    /* Rd = Rn = tos */
    mov     w1, #REG_TOS
    cmp     x7, #4096
    b.lo    26f
    neg     x2, x7
    cmp     x2, #4096
    b.hs    30f
    bl      asm_sub_imm                     /* sub tos, tos, #-v */
    b       29f
26: mov     x2, x7
    bl      asm_add_imm                     /* add tos, tos, #v */
29: bl      emit_inst
    ret     x13
22: cmp     x7, #64                         /* lsl #v = ubfm #(-v & 63), #(63 - v) */
    b.hs    30f
    neg     x2, x7
    and     x2, x2, #63
    mov     x3, #63
    sub     x3, x3, x7
    mov     w0, #REG_TOS
    mov     w1, #REG_TOS
    bl      asm_ubfm
    b       29b
23: cmp     x7, #64                         /* lsr #v = ubfm #v, #63 */
    b.hs    30f
    mov     w0, #REG_TOS
    mov     w1, #REG_TOS
    mov     x2, x7
    mov     w3, #63
    bl      asm_ubfm
    b       29b
24: cmp     x7, #64                         /* asr #v = sbfm #v, #63 */
    b.hs    30f
    mov     w0, #REG_TOS
    mov     w1, #REG_TOS
    mov     x2, x7
    mov     w3, #63
    bl      asm_sbfm
    b       29b
25: mov     w0, #REG_XZR                    /* cmp tos, #v  or  cmn tos, #-v */
    mov     w1, #REG_TOS
    cmp     x7, #4096
    b.lo    28f
    neg     x2, x7
    cmp     x2, #4096
    b.hs    30f
    bl      asm_adds_imm
    b       31f
28: mov     x2, x7
    bl      asm_subs_imm
31: bl      emit_inst
    ldr     w0, [x12, #8]                   /* the csetm */
    bl      emit_inst
    ret     x13
30: mov     w0, #0                          /* mov x0, tos */
    mov     w1, #REG_TOS
    bl      asm_mov
    bl      emit_inst
    mov     x0, x15
    mov     w1, #REG_TOS
    bl      compile_movimm
    ldrb    w1, [x12, #XT_INLINE]           /* the body after its pop */
    add     x0, x12, #4
    subs    w1, w1, #1
    b.eq    33f
    ladr    x2, dp
    ldr     x3, [x2]
32: ldr     w4, [x0], #4
    str     w4, [x3], #4
    subs    w1, w1, #1
    b.ne    32b
    str     x3, [x2]
33: ret     x13

/* a constant (see CONSTANT): its value is at align8(xt + 12) */
compile_constant:
    add     x0, x0, #12 + 7
    and     x0, x0, #~7
    ldr     x0, [x0]
    b       compile_literal

/* constant ( x "name" -- )  name: ( -- x )
 *   xt: str tos, [dsp, #-8]!   ldr tos, value   ret   (nop)   value
 * Compiled, it is a literal (so it folds like one). */
word "constant", w_constant
    enter
    bl      parse_name_x
    mov     x2, #K_CONST
    bl      make_header
    ladr    x12, dp
    ldr     x13, [x12]              /* xt */
    ladr    x0, tmpl_push
    bl      emit_template
    add     x14, x13, #12 + 7
    and     x14, x14, #~7           /* where the value goes */
    mov     w0, #REG_TOS            /* ldr tos, value (from xt+4) */
    add     x1, x13, #4
    mov     x2, x14
    bl      asm_ldr_lit
    bl      emit_inst
    ladr    x0, tmpl_ret
    bl      emit_template
    ldr     x1, [x12]
    cmp     x1, x14
    b.hs    1f
    ladr    x0, tmpl_nop
    bl      emit_template
1:  str     tos, [x14], #8
    str     x14, [x12]
    ldr     tos, [dsp], #8
    mov     x0, x13
    mov     x1, x14
    bl      sync_icache
    leave
endword w_constant

/* compile, ( xt -- ) */
word "compile,", w_compilecomma
    mov     x0, tos
    ldr     tos, [dsp], #8
    b       compile_xt
endword w_compilecomma

/* literal ( x -- ) compile: ( -- x ) at run time */
word "literal", w_literal, F_IMMEDIATE|F_COMPILE_ONLY
    mov     x0, tos
    ldr     tos, [dsp], #8
    b       compile_literal
endword w_literal

/* [ ( -- ) interpret */
word "[", w_lbracket, F_IMMEDIATE
    str     xzr, [up, #U_STATE]
    ret
endword w_lbracket

/* ] ( -- ) compile */
word "]", w_rbracket
    mov     x0, #-1
    str     x0, [up, #U_STATE]
    ret
endword w_rbracket

/* : ( "name" -- colon-sys ) start a hidden definition */
word ":", w_colon
    enter
    bl      parse_name_x
    mov     x2, #F_HIDDEN
    ladr    x3, colon_state          /* for rollback if the definition fails */
    ladr    x4, latest
    ldr     x4, [x4]
    str     x4, [x3, #8]            /* latest before */
    ladr    x4, dp
    ldr     x4, [x4]
    str     x4, [x3]                /* HERE before */
    bl      make_header
    ladr    x0, latest
    ldr     x0, [x0]
    ladr    x3, colon_state
    str     x0, [x3, #16]           /* the header being defined */
    ladr    x0, dp
    ldr     x0, [x0]
    str     x0, [x3, #32]           /* its xt */
    str     dsp, [x3, #24]          /* control-stack check for ; */
    ladr    x0, tmpl_prologue
    bl      emit_template
    mov     x0, #-1
    str     x0, [up, #U_STATE]
    leave
endword w_colon

/* :noname ( -- xt colon-sys ) */
word ":noname", w_noname
    enter
    ladr    x3, colon_state
    ladr    x4, latest
    ldr     x4, [x4]
    str     x4, [x3, #8]
    ladr    x4, dp
    ldr     x0, [x4]
    str     x0, [x3]
    add     x0, x0, #3
    and     x0, x0, #~3
    movz    w1, #0xA500, lsl #16    /* the info bytes below an xt: no flags, */
    str     w1, [x0], #4            /* not inline, no name */
    str     x0, [x4]
    str     xzr, [x3, #16]          /* no header */
    str     x0, [x3, #32]           /* the xt */
    dpush   x0
    str     dsp, [x3, #24]
    ladr    x0, tmpl_prologue
    bl      emit_template
    mov     x0, #-1
    str     x0, [up, #U_STATE]
    leave
endword w_noname

/* ; ( colon-sys -- ) end the definition and reveal it */
word ";", w_semicolon, F_IMMEDIATE|F_COMPILE_ONLY
    enter
    ladr    x3, colon_state
    ldr     x0, [x3, #24]
    cmp     x0, dsp
    b.ne    9f                      /* unbalanced control structure */
    ladr    x0, tmpl_epilogue
    bl      emit_template
    ladr    x0, tmpl_ret
    bl      emit_template
    ladr    x3, colon_state
    ldr     x0, [x3, #16]
    cbz     x0, 1f
    ldrb    w1, [x0, #H_NLEN]       /* reveal: clear F_HIDDEN */
    add     x1, x1, #(H_NAME + 3)
    add     x1, x0, x1
    and     x1, x1, #~3
    ldrb    w2, [x1]
    and     w2, w2, #~F_HIDDEN
    strb    w2, [x1]
1:  str     xzr, [x3, #16]
    str     xzr, [x3, #24]
    str     xzr, [up, #U_STATE]
    ldr     x0, [x3]                /* make the new code visible to fetch */
    ladr    x1, dp
    ldr     x1, [x1]
    bl      sync_icache
    leave
9:  mov     x0, #-22
    b       throw_x0
endword w_semicolon

/* immediate ( -- ) mark the newest word */
word "immediate", w_immediate
    mov     x2, #F_IMMEDIATE
    b       set_latest_flag
endword w_immediate

/* compile-only ( -- ) */
word "compile-only", w_compileonly
    mov     x2, #F_COMPILE_ONLY
    b       set_latest_flag
endword w_compileonly

set_latest_flag:
    ladr    x0, latest
    ldr     x0, [x0]
    ldrb    w1, [x0, #H_NLEN]
    add     x1, x1, #(H_NAME + 3)
    add     x1, x0, x1
    and     x1, x1, #~3
    ldrb    w3, [x1]
    orr     w3, w3, w2
    strb    w3, [x1]
    ret

/* exit ( -- ) return from the current definition */
word "exit", w_exit, F_IMMEDIATE|F_COMPILE_ONLY
    mov     x5, x30
    ladr    x0, tmpl_epilogue
    bl      emit_template
    ladr    x0, tmpl_ret
    bl      emit_template
    ret     x5
endword w_exit

/* execute ( xt -- ) */
word "execute", w_execute
    mov     x0, tos
    ldr     tos, [dsp], #8
    br      x0
endword w_execute

/* create ( "name" -- ) a word that pushes its data field address:
 *   xt+0 str tos,[dsp,#-8]!   xt+4 adr tos,data   xt+8 ret (DOES> patches a b)
 * and the data field is the next cell boundary. */
word "create", w_create
    enter
    bl      parse_name_x
    mov     x2, #0
    bl      make_header
    bl      build_create_code
    leave
endword w_create

    .globl build_create_code
build_create_code:
    mov     x11, x30
    ladr    x12, dp
    ldr     x13, [x12]              /* xt */
    add     x14, x13, #12 + 7
    and     x14, x14, #~7           /* data field */
    ladr    x0, tmpl_push
    bl      emit_template
    mov     w0, #REG_TOS            /* adr tos, data (from xt+4) */
    add     x1, x13, #4
    mov     x2, x14
    bl      asm_adr
    bl      emit_inst
    ladr    x0, tmpl_ret
    bl      emit_template
    ladr    x0, tmpl_nop
    ldr     x1, [x12]
    cmp     x1, x14
    b.hs    1f
    bl      emit_template
1:  mov     x0, x13
    mov     x1, x14
    bl      sync_icache
    ret     x11

/* >body ( xt -- a ) */
word ">body", w_tobody, F_INLINE
    add     tos, tos, #12 + 7
    and     tos, tos, #~7
    ret
endword w_tobody

/* does> ( -- ) compile: end the defining part; the code after DOES> runs
   with the data field on the stack for every word the definition creates */
word "does>", w_does, F_IMMEDIATE|F_COMPILE_ONLY
    ladr    x0, dp                  /* where the ADR goes: patched below */
    ldr     x0, [x0]
    stp     x30, x0, [sp, #-16]!
    ladr    x0, tmpl_adr_x0
    bl      emit_template
    ladr    x0, do_does
    bl      compile_call            /* a bl, or a far call of several */
    ladr    x0, tmpl_epilogue
    bl      emit_template
    ladr    x0, tmpl_ret
    bl      emit_template
    ldr     x1, [sp, #8]            /* the ADR: at the does-code, HERE now */
    mov     w0, #0                  /*   (not . + 16: a far call to do_does, */
    ladr    x2, dp                  /*   the dictionary over 128 MiB from the */
    ldr     x2, [x2]                /*   kernel, is longer than one bl) */
    bl      asm_adr
    ldr     x1, [sp, #8]
    str     w0, [x1]
    mov     x0, x1
    add     x1, x1, #4
    bl      sync_icache
    ladr    x0, tmpl_prologue
    bl      emit_template
    ldp     x30, x0, [sp], #16
    ret
endword w_does

/* do_does ( x0 = does-code ): patch the newest word's ret into b does-code */
do_does:
    mov     x6, x30
    ladr    x1, latest
    ldr     x1, [x1]
    ldrb    w2, [x1, #H_NLEN]
    add     x2, x2, #(H_NAME + 3 + 4)
    add     x2, x1, x2
    and     x2, x2, #~3             /* its xt */
    add     x2, x2, #8
    mov     x1, x0
    mov     x0, x2
    bl      asm_b                   /* b does-code, from the ret */
    str     w0, [x2]
    mov     x0, x2
    add     x1, x2, #4
    bl      sync_icache
    ret     x6

/*
 * sync_icache ( x0 = start, x1 = end ): make freshly written code visible
 * to instruction fetch (clean D to the point of unification, invalidate I).
 * Apple cores have 64-byte lines.  Clobbers x0-x2.
 */
    .globl sync_icache
sync_icache:
    and     x2, x0, #~63
1:  cmp     x2, x1
    b.hs    2f
    dc      cvau, x2
    add     x2, x2, #64
    b       1b
2:  dsb     ish
    and     x2, x0, #~63
3:  cmp     x2, x1
    b.hs    4f
    ic      ivau, x2
    add     x2, x2, #64
    b       3b
4:  dsb     ish
    isb
    ret

/* colon_state: HERE and LATEST before the definition (for rollback on an
   error), the header being defined, the data-stack depth at :, the xt */
    .data
    .balign 8
    .globl colon_state
colon_state: .quad 0, 0, 0, 0, 0
/* lit_state: where the last compiled literal's code starts and ends (0:
   none to fold), and its value */
    .globl lit_state
lit_state:  .quad 0, 0, 0
    .text

/* ' ( "name" -- xt ) THROW -13 when unknown */
word "'", w_tick
    mov     x11, x30
    bl      parse_name_x
    ladr    x2, err_word
    stp     x0, x1, [x2]
    cbz     x1, 1f
    bl      find_name
    cbz     x0, 1f
    dpush   x0
    ret     x11
1:  mov     x0, #-13
    b       throw_x0
endword w_tick

/* postpone ( "name" -- ) compile the compilation semantics of name */
word "postpone", w_postpone, F_IMMEDIATE|F_COMPILE_ONLY
    mov     x12, x30
    bl      w_tick                  /* ( xt ) */
    mov     x0, tos
    ldr     tos, [dsp], #8
    ldrb    w1, [x0, #XT_FLAGS]
    tbz     w1, #0, 1f
    mov     x30, x12                /* immediate: compile it now */
    b       compile_xt
1:  bl      compile_literal         /* otherwise: compile "xt compile," */
    ladr    x0, w_compilecomma
    mov     x30, x12
    b       compile_call
endword w_postpone

/* latestxt ( -- xt ) the definition being (or last) compiled */
word "latestxt", w_latestxt
    ladr    x0, colon_state
    ldr     x0, [x0, #32]
    dpush   x0
    ret
endword w_latestxt

/*
 * Code templates for control structures (inlined, compile-only).  forth/
 * builds the branches with the compiler's own branch forms:
 */

/* asm-b ( from to -- insn ) the b at from that reaches to (asm_b) */
word "asm-b", w_asm_b
    ldr     x0, [dsp], #8
    mov     x1, tos
    bl_form asm_b
endword w_asm_b

/* asm-b.cond ( from to cond -- insn ) b.cond (asm_bcond) */
word "asm-b.cond", w_asm_bcond
    mov     w2, tosw
    ldp     x1, x0, [dsp], #16
    bl_form asm_bcond
endword w_asm_bcond

/* asm-cbz ( from to reg -- insn ) cbz Xreg (asm_cbz) */
word "asm-cbz", w_asm_cbz
    mov     w2, tosw
    ldp     x1, x0, [dsp], #16
    bl_form asm_cbz
endword w_asm_cbz

/* (if) ( x -- ) move the flag out of tos for the cbz that follows */
word "(if)", w_pif, F_INLINE|F_COMPILE_ONLY
    mov     x0, tos
    ldr     tos, [dsp], #8
    ret
endword w_pif

/* (do) ( limit index -- ) ( R: -- outer-loop ) start a counted loop: the
   index is biased so LOOP is adds + b.vc (overflow = crossing the limit) */
word "(do)", w_pdo, F_INLINE|F_COMPILE_ONLY
    stp     lix, llim, [sp, #-16]!
    ldr     x0, [dsp], #8
    eor     llim, x0, #0x8000000000000000
    sub     lix, tos, llim
    ldr     tos, [dsp], #8
    ret
endword w_pdo

/* (?do) ( limit index -- ) sets V when index = limit (b.vc over the leave that follows) */
word "(?do)", w_pqdo, F_INLINE|F_COMPILE_ONLY
    cmp     lix, #1
    ret
endword w_pqdo

/* (loop) ( -- ) step by one; V set when the loop ends */
word "(loop)", w_ploop, F_INLINE|F_COMPILE_ONLY
    adds    lix, lix, #1
    ret
endword w_ploop

/* (+loop) ( n -- ) step by n; V set when the limit boundary is crossed */
word "(+loop)", w_pploop, F_INLINE|F_COMPILE_ONLY
    adds    lix, lix, tos
    ldr     tos, [dsp], #8
    ret
endword w_pploop

/* unloop ( -- ) ( R: loop -- ) */
word "unloop", w_unloop, F_INLINE|F_COMPILE_ONLY
    ldp     lix, llim, [sp], #16
    ret
endword w_unloop

/* i ( -- n ) the innermost loop index */
word "i", w_i, F_INLINE|F_COMPILE_ONLY
    str     tos, [dsp, #-8]!
    add     tos, lix, llim
    ret
endword w_i

/* j ( -- n ) the next outer loop index */
word "j", w_j, F_INLINE|F_COMPILE_ONLY
    str     tos, [dsp, #-8]!
    ldp     x0, x1, [sp]
    add     tos, x0, x1
    ret
endword w_j
