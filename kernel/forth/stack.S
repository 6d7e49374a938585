/* Stack words.  All straight-line and short: inlined by the compiler. */

/* dup ( x -- x x ) */
word "dup", w_dup, F_INLINE|F_FOLDABLE
    str     tos, [dsp, #-8]!
    ret
endword w_dup

/* drop ( x -- ) */
word "drop", w_drop, F_INLINE|F_FOLDABLE
    ldr     tos, [dsp], #8
    ret
endword w_drop

/* swap ( a b -- b a ) */
word "swap", w_swap, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    str     tos, [dsp]
    mov     tos, x0
    ret
endword w_swap

/* over ( a b -- a b a ) */
word "over", w_over, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    str     tos, [dsp, #-8]!
    mov     tos, x0
    ret
endword w_over

/* rot ( a b c -- b c a ) */
word "rot", w_rot, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp]
    stp     tos, x0, [dsp]
    mov     tos, x1
    ret
endword w_rot

/* -rot ( a b c -- c a b ) */
word "-rot", w_mrot, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp]
    stp     x1, tos, [dsp]
    mov     tos, x0
    ret
endword w_mrot

/* nip ( a b -- b ) */
word "nip", w_nip, F_INLINE|F_FOLDABLE
    add     dsp, dsp, #8
    ret
endword w_nip

/* tuck ( a b -- b a b ) */
word "tuck", w_tuck, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    str     tos, [dsp]
    str     x0, [dsp, #-8]!
    ret
endword w_tuck

/* ?dup ( x -- 0 | x x ) */
word "?dup", w_qdup, F_INLINE
    cbz     tos, 1f
    str     tos, [dsp, #-8]!
1:  ret
endword w_qdup

/* pick ( xu .. x0 u -- xu .. x0 xu ) */
word "pick", w_pick, F_INLINE
    ldr     tos, [dsp, tos, lsl #3]
    ret
endword w_pick

/* 2dup ( a b -- a b a b ) */
word "2dup", w_2dup, F_INLINE|F_FOLDABLE
    ldr     x0, [dsp]
    stp     x0, tos, [dsp, #-16]!
    ret
endword w_2dup

/* 2drop ( a b -- ) */
word "2drop", w_2drop, F_INLINE|F_FOLDABLE
    ldr     tos, [dsp, #8]
    add     dsp, dsp, #16
    ret
endword w_2drop

/* 2swap ( a b c d -- c d a b ) */
word "2swap", w_2swap, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp]
    ldr     x2, [dsp, #16]
    stp     x2, tos, [dsp]
    str     x0, [dsp, #16]
    mov     tos, x1
    ret
endword w_2swap

/* 2over ( a b c d -- a b c d a b ) */
word "2over", w_2over, F_INLINE|F_FOLDABLE
    ldp     x0, x1, [dsp, #8]
    stp     x1, tos, [dsp, #-16]!
    mov     tos, x0
    ret
endword w_2over

/* depth ( -- n ) */
word "depth", w_depth, F_INLINE
    ldr     x0, [up, #U_S0]
    sub     x0, x0, dsp
    str     tos, [dsp, #-8]!
    asr     tos, x0, #3
    ret
endword w_depth

/* >r ( x -- ) ( R: -- x ) */
word ">r", w_tor, F_INLINE|F_COMPILE_ONLY
    str     tos, [sp, #-8]!
    ldr     tos, [dsp], #8
    ret
endword w_tor

/* r> ( -- x ) ( R: x -- ) */
word "r>", w_rfrom, F_INLINE|F_COMPILE_ONLY
    str     tos, [dsp, #-8]!
    ldr     tos, [sp], #8
    ret
endword w_rfrom

/* r@ ( -- x ) ( R: x -- x ) */
word "r@", w_rfetch, F_INLINE|F_COMPILE_ONLY
    str     tos, [dsp, #-8]!
    ldr     tos, [sp]
    ret
endword w_rfetch

/* rdrop ( R: x -- ) */
word "rdrop", w_rdrop, F_INLINE|F_COMPILE_ONLY
    add     sp, sp, #8
    ret
endword w_rdrop

/* 2>r ( a b -- ) ( R: -- a b ) */
word "2>r", w_2tor, F_INLINE|F_COMPILE_ONLY
    ldr     x0, [dsp], #8
    stp     tos, x0, [sp, #-16]!
    ldr     tos, [dsp], #8
    ret
endword w_2tor

/* 2r> ( -- a b ) ( R: a b -- ) */
word "2r>", w_2rfrom, F_INLINE|F_COMPILE_ONLY
    ldp     x0, x1, [sp], #16
    stp     x1, tos, [dsp, #-16]!
    mov     tos, x0
    ret
endword w_2rfrom

/* 2r@ ( -- a b ) ( R: a b -- a b ) */
word "2r@", w_2rfetch, F_INLINE|F_COMPILE_ONLY
    ldp     x0, x1, [sp]
    stp     x1, tos, [dsp, #-16]!
    mov     tos, x0
    ret
endword w_2rfetch

/* sp@ ( -- addr ) address of the second item (tos lives in a register) */
word "sp@", w_spfetch, F_INLINE
    mov     x0, dsp
    str     tos, [dsp, #-8]!
    mov     tos, x0
    ret
endword w_spfetch

/* rp@ ( -- addr ) */
word "rp@", w_rpfetch, F_INLINE
    str     tos, [dsp, #-8]!
    mov     tos, sp
    ret
endword w_rpfetch

/* roll ( xu xu-1 .. x0 u -- xu-1 .. x0 xu ) */
word "roll", w_roll
    add     x2, dsp, tos, lsl #3
    ldr     x1, [x2]
1:  cmp     x2, dsp
    b.ls    2f
    ldr     x3, [x2, #-8]
    str     x3, [x2], #-8
    b       1b
2:  add     dsp, dsp, #8
    mov     tos, x1
    ret
endword w_roll

/* n>r ( i*x n -- ) ( R: -- i*x n )  (a called word's return address is in
   x30, so this works on its caller's return stack) */
word "n>r", w_ntor, F_COMPILE_ONLY
    mov     x1, tos
    mov     x2, tos
1:  cbz     x2, 2f
    ldr     x3, [dsp], #8
    str     x3, [sp, #-8]!
    sub     x2, x2, #1
    b       1b
2:  str     x1, [sp, #-8]!
    ldr     tos, [dsp], #8
    ret
endword w_ntor

/* nr> ( -- i*x n ) ( R: i*x n -- ) */
word "nr>", w_nrfrom, F_COMPILE_ONLY
    ldr     x1, [sp], #8
    mov     x2, x1
1:  cbz     x2, 2f
    ldr     x3, [sp], #8
    str     tos, [dsp, #-8]!
    mov     tos, x3
    sub     x2, x2, #1
    b       1b
2:  str     tos, [dsp, #-8]!
    mov     tos, x1
    ret
endword w_nrfrom
