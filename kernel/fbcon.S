/*
 * The framebuffer console and drawing: the screen m1n1 hands over
 * (boot_args.video, kept in boot_info), text mirrored from the serial
 * console with the built-in font (kernel/fbfont.inc: 12x16 cells), a
 * cursor, jump scrolling, and fill / rectangle / blit with NEON.
 *
 * Pixels: depth 30 = x2r10g10b10, depth 32 = x8r8g8b8; either way one
 * 32-bit word per pixel, rows `stride` bytes apart (any stride).  Other
 * depths leave the screen alone (the serial console still works).
 *
 * FP/SIMD: threads switch the FP/SIMD registers lazily (kernel/thread.S);
 * a drawing routine first moves the owner's state to its TCB
 * (kernel_fp_begin, in fb_enter: inside the section, so no switch can
 * come between its look at the owner and its save), and every routine
 * here that touches v-registers runs in
 * .text.critical:
 * the timer and the UART interrupt are deferred while the PC is inside
 * (kernel/thread.S, kernel/console.S), so no other thread can run, and use
 * the vector registers, between a routine's first and last NEON
 * instruction.  Each leaves through fb_leave (outside the section), which
 * lets a deferred interrupt in.  The cost is latency: a 1080p blit holds
 * interrupts off for its ~0.8 M cycles (about 230 us), under one time
 * slice.  The same rule keeps the cursor consistent on one core: one
 * drawer at a time.  Across cores the text console's state (cursor,
 * scroll) is console_lock's (kernel/console.S): fbcon_putc is called with
 * it held, and fbcon_page takes it.  fb_rect_entry and fb_blit_entry
 * change no state, only pixels, and take no lock (a 1080p blit would
 * hold it 230 us): what they draw over text from another core at the
 * same time is the caller's business.
 *
 * Scrolling is by half a screen at a time (jump scroll): one copy of
 * about 4 MB per 33 lines instead of 8 MB per line.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define CELL_W      12
#define CELL_H      16

/* state (fb_state + ...) */
#define FS_ON       0       /* 1: the screen console is live */
#define FS_BASE     8
#define FS_STRIDE   16
#define FS_WIDTH    24
#define FS_HEIGHT   32
#define FS_DEPTH    40
#define FS_COLS     48
#define FS_ROWS     56
#define FS_X        64      /* cursor column */
#define FS_Y        72      /* cursor row */
#define FS_FG       80      /* pixel words */
#define FS_BG       88
#define FS_SCROLL   96      /* text rows per scroll */
#define FS_SIZE     128
/* read and written in pairs (LDP/STP): base/stride, width/height,
   cols/rows, x/y, fg/bg */
assert_adjacent FS_BASE, FS_STRIDE
assert_adjacent FS_WIDTH, FS_HEIGHT
assert_adjacent FS_COLS, FS_ROWS
assert_adjacent FS_X, FS_Y
assert_adjacent FS_FG, FS_BG

    .data
    .balign 16
    .globl fb_state
fb_state:
    .fill   FS_SIZE, 1, 0

    .section .rodata
    .balign 16
/* nibble -> four pixel masks (bit 3 = the leftmost pixel) */
fb_nibble_masks:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .word   -((\n >> 3) & 1), -((\n >> 2) & 1), -((\n >> 1) & 1), -(\n & 1)
    .endr

#include "fbfont.inc"

    .text

/*
 * fbcon_init: the screen from boot_info, cleared; the console on it.
 * After alloc_init (TPIDR_EL2), before anything is printed that should
 * appear on screen.  Clobbers x0-x17, v0-v3.
 */
    .globl fbcon_init
fbcon_init:
    mov     x17, x30
    ladr    x10, fb_state
    ladr    x11, boot_info
    str     xzr, [x10, #FS_ON]
    ldr     x0, [x11, #BI_FB_BASE]
    cbz     x0, 9f
    ldr     x1, [x11, #BI_FB_DEPTH]
    and     x1, x1, #0xff
    movq    x2, 0x3fffffff              /* white, depth 30 */
    cmp     x1, #30
    b.eq    1f
    movq    x2, 0x00ffffff              /* white, depth 32 */
    cmp     x1, #32
    b.ne    9f                          /* a format we do not draw */
1:  ldr     x3, [x11, #BI_FB_WIDTH]
    ldr     x4, [x11, #BI_FB_HEIGHT]
    ldr     x5, [x11, #BI_FB_STRIDE]
    lsl     x6, x3, #2
    cmp     x5, x6
    b.lo    9f                          /* stride below the width: nonsense */
    cmp     x3, #CELL_W
    b.lo    9f                          /* too small for a column */
    cmp     x4, #(2 * CELL_H)
    b.lo    9f                          /* or for two rows */
    stp     x0, x5, [x10, #FS_BASE]
    stp     x3, x4, [x10, #FS_WIDTH]
    str     x1, [x10, #FS_DEPTH]
    mov     x6, #CELL_W
    udiv    x6, x3, x6
    lsr     x7, x4, #4                  /* CELL_H = 16 */
    stp     x6, x7, [x10, #FS_COLS]
    stp     xzr, xzr, [x10, #FS_X]
    stp     x2, xzr, [x10, #FS_FG]
    lsr     x7, x7, #1
    str     x7, [x10, #FS_SCROLL]
    /* clear it */
    mov     x0, #0
    mov     x1, #0
    mov     x2, x3
    mov     x3, x4
    mov     x4, #0
    bl      fb_rect
    ladr    x10, fb_state
    mov     x0, #1
    str     x0, [x10, #FS_ON]
    bl      fbcon_cursor_on
9:  ret     x17

/* fb_leave: the way out of the drawing routines (outside the section):
   callee-saved registers back, a deferred interrupt let in. */
fb_leave:
    mrs     x9, tpidr_el2
    bl      critical_exit
    ldp     x3, x4, [sp, #16]
    ldp     x5, x6, [sp, #32]
    ldp     x7, x8, [sp, #48]
    ldp     x9, x10, [sp, #64]
    ldp     x11, x12, [sp, #80]
    ldp     x13, x14, [sp, #96]
    ldp     x15, x16, [sp, #112]
    ldr     x17, [sp, #128]
    ldp     x29, x30, [sp], #144
    ret

.macro fb_enter
    stp     x29, x30, [sp, #-144]!
    stp     x3, x4, [sp, #16]
    stp     x5, x6, [sp, #32]
    stp     x7, x8, [sp, #48]
    stp     x9, x10, [sp, #64]
    stp     x11, x12, [sp, #80]
    stp     x13, x14, [sp, #96]
    stp     x15, x16, [sp, #112]
    str     x17, [sp, #128]
    bl      kernel_fp_begin             /* a thread's FP state out of the way */
.endm


    .section .text.critical, "ax"

/* fb_leave_held: fb_leave without critical_exit, inside the section: for
   fbcon_putc, whose caller holds console_lock and leaves the section
   itself. */
fb_leave_held:
    ldp     x3, x4, [sp, #16]
    ldp     x5, x6, [sp, #32]
    ldp     x7, x8, [sp, #48]
    ldp     x9, x10, [sp, #64]
    ldp     x11, x12, [sp, #80]
    ldp     x13, x14, [sp, #96]
    ldp     x15, x16, [sp, #112]
    ldr     x17, [sp, #128]
    ldp     x29, x30, [sp], #144
    ret

/*
 * fbcon_cursor_on / fbcon_cursor_off: the cursor (the cell's two bottom
 * pixel rows) drawn in the foreground / background colour.  Plain
 * subroutines for code already in the section (and fbcon_init).
 * Clobbers x0-x4, v0.
 */
fbcon_cursor_on:
    ladr    x0, fb_state
    ldr     x1, [x0, #FS_FG]
    b       1f
fbcon_cursor_off:
    ladr    x0, fb_state
    ldr     x1, [x0, #FS_BG]
1:  dup     v0.4s, w1
    ldp     x1, x2, [x0, #FS_X]
    ldp     x3, x4, [x0, #FS_BASE]      /* base, stride */
    mov     x0, #(CELL_W * 4)
    madd    x3, x1, x0, x3              /* + x * 48 */
    lsl     x2, x2, #4
    add     x2, x2, #(CELL_H - 2)
    madd    x3, x2, x4, x3              /* + (16y + 14) * stride */
    stp     q0, q0, [x3]
    str     q0, [x3, #32]
    add     x3, x3, x4
    stp     q0, q0, [x3]
    str     q0, [x3, #32]
    ret


/*
 * fbcon_putc ( w0 = byte ): draw it at the cursor and advance; CR, LF,
 * backspace move the cursor; scrolls at the bottom.  With console_lock
 * held (kernel/console.S con_ring, con_polled), inside the critical
 * section or with interrupts masked; it does not leave the section (FP
 * stays on for the caller's critical_exit).  Clobbers x0-x2 only (the
 * console's contract: callers keep state in x3 and up).
 */
    .globl fbcon_putc
fbcon_putc:
    ladr    x1, fb_state
    ldr     x2, [x1, #FS_ON]
    cbnz    x2, 1f
    ret
1:  fb_enter
    and     w15, w0, #0xff
    bl      fbcon_cursor_off
    ladr    x10, fb_state
    cmp     w15, #'\r'
    b.eq    20f
    cmp     w15, #'\n'
    b.eq    30f
    cmp     w15, #8
    b.eq    40f
    /* a glyph: index = c - 0x1f for 0x20..0x7e, else 0 (the box) */
    sub     w0, w15, #0x1f              /* 1 .. 95 when printable */
    cmp     w0, #95
    csel    w0, w0, wzr, ls
    cmp     w15, #0x20
    csel    w0, w0, wzr, hs
    ladr    x12, fb_font
    add     x12, x12, x0, lsl #5        /* 16 halfwords a glyph */
    ldp     x1, x2, [x10, #FS_X]
    ldp     x3, x11, [x10, #FS_BASE]    /* base, stride */
    mov     x4, #(CELL_W * 4)
    madd    x3, x1, x4, x3
    lsl     x2, x2, #4
    madd    x3, x2, x11, x3             /* the cell's top left pixel */
    ldp     x4, x5, [x10, #FS_FG]
    dup     v16.4s, w4
    dup     v17.4s, w5
    ladr    x13, fb_nibble_masks
    mov     x14, #CELL_H
2:  ldrh    w5, [x12], #2
    ubfx    w6, w5, #8, #4
    ubfx    w7, w5, #4, #4
    and     w5, w5, #15
    ldr     q0, [x13, x6, lsl #4]
    ldr     q1, [x13, x7, lsl #4]
    ldr     q2, [x13, x5, lsl #4]
    bsl     v0.16b, v16.16b, v17.16b
    bsl     v1.16b, v16.16b, v17.16b
    bsl     v2.16b, v16.16b, v17.16b
    stp     q0, q1, [x3]
    str     q2, [x3, #32]
    add     x3, x3, x11
    subs    x14, x14, #1
    b.ne    2b
    ldp     x1, x2, [x10, #FS_X]        /* advance; wrap at the right edge */
    add     x1, x1, #1
    ldr     x3, [x10, #FS_COLS]
    cmp     x1, x3
    b.lo    50f
    mov     x1, #0
    add     x2, x2, #1
    b       60f
20: mov     x1, #0                      /* CR */
    ldr     x2, [x10, #FS_Y]
    b       50f
30: ldp     x1, x2, [x10, #FS_X]        /* LF: down a row (CR LF is the line end) */
    add     x2, x2, #1
    b       60f
40: ldp     x1, x2, [x10, #FS_X]        /* backspace: left, not past the margin */
    cmp     x1, #0
    cinc    x1, x1, eq
    sub     x1, x1, #1
    b       50f
60: ldr     x3, [x10, #FS_ROWS]         /* below the last row: scroll */
    cmp     x2, x3
    b.lo    50f
    stp     x1, x2, [x10, #FS_X]
    bl      fbcon_scroll
    ladr    x10, fb_state
    ldp     x1, x2, [x10, #FS_X]
50: stp     x1, x2, [x10, #FS_X]
    bl      fbcon_cursor_on
    b       fb_leave_held

/*
 * fbcon_scroll: the text moves up FS_SCROLL rows; those at the bottom are
 * cleared; the cursor row moves with the text.  Clobbers x0-x8, x10-x16, v0-v7.
 */
fbcon_scroll:
    mov     x16, x30
    ladr    x10, fb_state
    ldp     x11, x12, [x10, #FS_BASE]   /* base, stride */
    ldp     x13, x14, [x10, #FS_WIDTH]  /* width (pixels), height */
    ldr     x6, [x10, #FS_ROWS]
    ldr     x7, [x10, #FS_SCROLL]
    lsl     x13, x13, #2                /* bytes a row */
    sub     x8, x6, x7                  /* text rows that stay */
    lsl     x8, x8, #4                  /* pixel rows that move */
    lsl     x5, x7, #4
    mul     x5, x5, x12
    add     x5, x11, x5                 /* source: FS_SCROLL text rows down */
    mov     x4, x11
1:  cbz     x8, 2f
    mov     x0, x4
    mov     x1, x5
    mov     x2, x13
    bl      fb_copy_span
    add     x4, x4, x12
    add     x5, x5, x12
    sub     x8, x8, #1
    b       1b
2:  ldr     x0, [x10, #FS_BG]           /* the freed rows: background */
    dup     v0.4s, w0
    ldr     x8, [x10, #FS_SCROLL]
    lsl     x8, x8, #4
3:  cbz     x8, 4f
    mov     x0, x4
    mov     x2, x13
    bl      fb_fill_span
    add     x4, x4, x12
    sub     x8, x8, #1
    b       3b
4:  ldr     x2, [x10, #FS_Y]
    ldr     x7, [x10, #FS_SCROLL]
    sub     x2, x2, x7
    str     x2, [x10, #FS_Y]
    ret     x16

/* fb_copy_span ( x0 = dst, x1 = src, x2 = bytes, a multiple of 4 ):
   128 bytes a step with ld1/st1 of four q registers, then 4-byte tails.
   Clobbers x0-x3, v0-v7. */
fb_copy_span:
    subs    x3, x2, #128
    b.lo    2f
1:  ld1     {v0.16b, v1.16b, v2.16b, v3.16b}, [x1], #64
    ld1     {v4.16b, v5.16b, v6.16b, v7.16b}, [x1], #64
    st1     {v0.16b, v1.16b, v2.16b, v3.16b}, [x0], #64
    st1     {v4.16b, v5.16b, v6.16b, v7.16b}, [x0], #64
    subs    x3, x3, #128
    b.hs    1b
2:  adds    x3, x3, #128
    b.eq    4f
3:  ldr     w2, [x1], #4
    str     w2, [x0], #4
    subs    x3, x3, #4
    b.hi    3b
4:  ret

/* fb_fill_span ( x0 = dst, x2 = bytes, a multiple of 4; v0 = four pixels ).
   Clobbers x0, x2, x3. */
fb_fill_span:
    subs    x3, x2, #128
    b.lo    2f
1:  stp     q0, q0, [x0]
    stp     q0, q0, [x0, #32]
    stp     q0, q0, [x0, #64]
    stp     q0, q0, [x0, #96]
    add     x0, x0, #128
    subs    x3, x3, #128
    b.hs    1b
2:  adds    x3, x3, #128
    b.eq    4f
3:  str     s0, [x0], #4
    subs    x3, x3, #4
    b.hi    3b
4:  ret

/* fb_clip ( x0 = x, x1 = y, x2 = w, x3 = h -- same, clipped to the
   screen; x2 or x3 = 0 when nothing is left ).  Signed coordinates.
   x10 = fb_state.  Clobbers x5, x6. */
fb_clip:
    ldp     x5, x6, [x10, #FS_WIDTH]
    cmp     x2, #0
    csel    x2, xzr, x2, le
    cmp     x3, #0
    csel    x3, xzr, x3, le
    cmp     x0, #0                      /* left edge: drop what is left of 0 */
    b.ge    1f
    adds    x2, x2, x0
    csel    x2, xzr, x2, mi
    mov     x0, #0
1:  cmp     x1, #0
    b.ge    2f
    adds    x3, x3, x1
    csel    x3, xzr, x3, mi
    mov     x1, #0
2:  cmp     x0, x5                      /* right and bottom */
    csel    x2, xzr, x2, ge
    csel    x0, xzr, x0, ge
    sub     x7, x5, x0
    cmp     x2, x7
    csel    x2, x7, x2, gt
    cmp     x1, x6
    csel    x3, xzr, x3, ge
    csel    x1, xzr, x1, ge
    sub     x7, x6, x1
    cmp     x3, x7
    csel    x3, x7, x3, gt
    ret

/*
 * fb_rect ( x0 = x, x1 = y, x2 = w, x3 = h, x4 = pixel ): fill a
 * rectangle, clipped to the screen.  Clobbers x0-x8, x10-x13, v0.
 * fb_rect_entry: the same from thread code (saves registers, leaves
 * through fb_leave: clobbers x0-x2 only).
 */
    .globl fb_rect_entry
fb_rect_entry:
    fb_enter
    bl      fb_rect
    b       fb_leave
fb_rect:
    mov     x13, x30
    ladr    x10, fb_state
    ldr     x5, [x10, #FS_BASE]
    cbz     x5, 9f
    bl      fb_clip
    cbz     x2, 9f
    cbz     x3, 9f
    dup     v0.4s, w4
    ldp     x11, x12, [x10, #FS_BASE]
    madd    x11, x1, x12, x11
    add     x11, x11, x0, lsl #2        /* first pixel */
    lsl     x8, x2, #2                  /* bytes a row */
    mov     x4, x3
1:  mov     x0, x11
    mov     x2, x8
    bl      fb_fill_span
    add     x11, x11, x12
    subs    x4, x4, #1
    b.ne    1b
9:  ret     x13

/*
 * fb_blit_entry ( x0 = source, x1 = source stride in bytes, x2 = x,
 * x3 = y, x4 = w, x5 = h ): copy a w x h image of pixel words (already in
 * the screen's format) to (x, y), clipped.  From thread code; clobbers
 * x0-x2 only.
 */
    .globl fb_blit_entry
fb_blit_entry:
    fb_enter
    ladr    x10, fb_state
    ldr     x6, [x10, #FS_BASE]
    cbz     x6, 9f
    mov     x14, x0                     /* source */
    mov     x15, x1
    mov     x0, x2                      /* the clip works on x0-x3 */
    mov     x1, x3
    mov     x2, x4
    mov     x3, x5
    mov     x8, x0                      /* unclipped x, y */
    mov     x9, x1
    bl      fb_clip
    cbz     x2, 9f
    cbz     x3, 9f
    sub     x8, x0, x8                  /* columns and rows cut off the source */
    sub     x9, x1, x9
    madd    x14, x9, x15, x14
    add     x14, x14, x8, lsl #2
    ldp     x11, x12, [x10, #FS_BASE]
    madd    x11, x1, x12, x11
    add     x11, x11, x0, lsl #2
    lsl     x13, x2, #2
    mov     x4, x3
1:  mov     x0, x11
    mov     x1, x14
    mov     x2, x13
    bl      fb_copy_span
    add     x11, x11, x12
    add     x14, x14, x15
    subs    x4, x4, #1
    b.ne    1b
9:  b       fb_leave

/* fbcon_page: clear the screen, cursor home, under console_lock (the
   cursor is the text console's).  From thread code; clobbers x0-x2 only. */
    .globl fbcon_page
fbcon_page:
    fb_enter
    bl      con_acquire                 /* clobbers x0-x3 */
    mov     x14, x0
    ladr    x10, fb_state
    ldr     x0, [x10, #FS_ON]
    cbz     x0, 9f
    mov     x0, #0
    mov     x1, #0
    ldp     x2, x3, [x10, #FS_WIDTH]
    ldr     x4, [x10, #FS_BG]
    bl      fb_rect
    ladr    x10, fb_state
    stp     xzr, xzr, [x10, #FS_X]
    bl      fbcon_cursor_on
9:  cbz     x14, 10f
    ladr    x0, console_lock
    stlr    xzr, [x0]
10: b       fb_leave
