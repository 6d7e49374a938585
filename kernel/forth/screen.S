/* Forth words for the screen (kernel/fbcon.S).  Pixels are words in the
   framebuffer's own format: fb-rgb makes one from 8-bit channels. */

/* fb-width ( -- n ) fb-height ( -- n ) fb-depth ( -- n ): the screen
   (0 0 0 without one) */
word "fb-width", w_fbwidth
    ladr    x0, boot_info
    ldr     x1, [x0, #BI_FB_BASE]
    ldr     x0, [x0, #BI_FB_WIDTH]
    cmp     x1, #0
    csel    x0, xzr, x0, eq
    dpush   x0
    ret
endword w_fbwidth

word "fb-height", w_fbheight
    ladr    x0, boot_info
    ldr     x1, [x0, #BI_FB_BASE]
    ldr     x0, [x0, #BI_FB_HEIGHT]
    cmp     x1, #0
    csel    x0, xzr, x0, eq
    dpush   x0
    ret
endword w_fbheight

word "fb-depth", w_fbdepth
    ladr    x0, boot_info
    ldr     x1, [x0, #BI_FB_BASE]
    ldr     x0, [x0, #BI_FB_DEPTH]
    and     x0, x0, #0xff
    cmp     x1, #0
    csel    x0, xzr, x0, eq
    dpush   x0
    ret
endword w_fbdepth

/* fb-rgb ( r g b -- pixel ) 8-bit channels in the screen's format: depth
   30 widens each to 10 bits (top bits repeated: 255 -> 1023) */
word "fb-rgb", w_fbrgb
    ldp     x1, x0, [dsp], #16          /* x1 = g, x0 = r, tos = b */
    and     x0, x0, #0xff
    and     x1, x1, #0xff
    and     x2, tos, #0xff
    ladr    x3, boot_info
    ldr     x3, [x3, #BI_FB_DEPTH]
    and     x3, x3, #0xff
    cmp     x3, #30
    b.eq    1f
    lsl     x0, x0, #16
    orr     x0, x0, x1, lsl #8
    orr     tos, x0, x2
    ret
1:  lsl     x4, x0, #2
    orr     x0, x4, x0, lsr #6
    lsl     x4, x1, #2
    orr     x1, x4, x1, lsr #6
    lsl     x4, x2, #2
    orr     x2, x4, x2, lsr #6
    lsl     x0, x0, #20
    orr     x0, x0, x1, lsl #10
    orr     tos, x0, x2
    ret
endword w_fbrgb

/* fb-rect ( x y w h pixel -- ) fill a rectangle, clipped to the screen */
word "fb-rect", w_fbrect
    str     x30, [sp, #-16]!
    mov     x4, tos
    ldp     x3, x2, [dsp], #16          /* h, w */
    ldp     x1, x0, [dsp], #16          /* y, x */
    ldr     tos, [dsp], #8
    bl      fb_rect_entry
    ldr     x30, [sp], #16
    ret
endword w_fbrect

/* fb-fill ( pixel -- ) the whole screen */
word "fb-fill", w_fbfill
    str     x30, [sp, #-16]!
    mov     x4, tos
    ldr     tos, [dsp], #8
    mov     x0, #0
    mov     x1, #0
    ladr    x3, boot_info
    ldr     x2, [x3, #BI_FB_WIDTH]
    ldr     x3, [x3, #BI_FB_HEIGHT]
    bl      fb_rect_entry
    ldr     x30, [sp], #16
    ret
endword w_fbfill

/* fb-blit ( src stride x y w h -- ) copy a w x h image of pixel words
   (rows `stride` bytes apart) to (x, y), clipped; NEON, 128 bytes a step */
/* bench: blit_1080p (budget 1050000 cycles; the copy: kernel/fbcon.S fb_blit_entry) */
word "fb-blit", w_fbblit
    str     x30, [sp, #-16]!
    mov     x5, tos
    ldp     x4, x3, [dsp], #16          /* w, y */
    ldp     x2, x1, [dsp], #16          /* x, stride */
    ldp     x0, tos, [dsp], #16         /* src */
    bl      fb_blit_entry
    ldr     x30, [sp], #16
    ret
endword w_fbblit

/* page ( -- ) clear the screen, the cursor to the top left */
word "page", w_page
    b       fbcon_page
endword w_page

/* fb-console ( flag -- ) mirror the console on the screen, or stop */
word "fb-console", w_fbconsole
    ladr    x0, fb_state
    ldr     x1, [x0, #8]                /* FS_BASE: set once fbcon_init took the screen */
    cmp     x1, #0
    ccmp    tos, #0, #4, ne
    cset    x1, ne
    str     x1, [x0]                    /* FS_ON */
    ldr     tos, [dsp], #8
    ret
endword w_fbconsole
