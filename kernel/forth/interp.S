/*
 * The outer interpreter: parsing, numbers, INTERPRET, CATCH/THROW, the
 * console's QUIT loop and EVALUATE.
 */

#define TIB_SIZE 1024

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
    stp     x0, tos, [dsp, #-16]!
    ldr     tos, [dsp], #8
    str     tos, [dsp, #-8]!
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

/*
 * interpret: execute or compile each word of the current source.
 * After every word the data stack is checked: above its base is THROW -4,
 * below its limit THROW -3.
 */
    .globl interpret
interpret:
    enter
1:  bl      parse_name_x
    cbz     x1, 8f
    ladr    x2, err_word            /* remembered for -13 / -14 messages */
    stp     x0, x1, [x2]
    stp     x0, x1, [sp, #-16]!
    bl      find_name
    cbz     x0, 5f
    add     sp, sp, #16
    ldr     x2, [up, #U_STATE]
    cbz     x2, 3f
    tbnz    w1, #0, 4f              /* immediate: execute while compiling */
    bl      compile_xt
    b       7f
3:  tbnz    w1, #1, 6f              /* compile-only, interpreted */
4:  blr     x0
    b       7f
5:  ldp     x0, x1, [sp], #16
    bl      number
    cbz     x2, 9f
    ldr     x3, [up, #U_STATE]
    cbnz    x3, 10f
    dpush   x0
    cmp     x2, #2
    b.ne    7f
    dpush   x1
    b       7f
10: mov     x19, x1                 /* compile a literal (two for a double) */
    mov     x20, x2
    bl      compile_literal
    cmp     x20, #2
    b.ne    7f
    mov     x0, x19
    bl      compile_literal
7:  ldr     x0, [up, #U_S0]         /* stack checks */
    cmp     dsp, x0
    b.hi    11f
    ldr     x0, [up, #U_SLIMIT]
    cmp     dsp, x0
    b.lo    12f
    b       1b
8:  leave
6:  mov     x0, #-14
    b       throw_x0
9:  mov     x0, #-13
    b       throw_x0
11: mov     x0, #-4
    b       throw_x0
12: mov     x0, #-3
    b       throw_x0

/* interpret ( -- ) as a word, for REFILL-driven loops in Forth */
word "interpret", w_interpret
    b       interpret
endword w_interpret

/*
 * CATCH / THROW.  A CATCH frame on the return stack:
 *   [sp+0] previous handler  [sp+8] dsp  [sp+16] unused  [sp+24] lix
 *   [sp+32] llim  [sp+40] return address
 * The saved dsp points at the cell that was the top of the stack below
 * the xt; THROW reloads tos from there, so the restored stack has the
 * depth it had and whatever the cells hold now (as in a Forth whose whole
 * stack is in memory).
 */
#define CF_SIZE 48

/* catch ( i*x xt -- j*x 0 | i*x n ) */
word "catch", w_catch
    sub     sp, sp, #CF_SIZE
    mov     x0, tos
    ldr     x1, [up, #U_HANDLER]
    stp     x1, dsp, [sp]
    stp     xzr, lix, [sp, #16]
    stp     llim, x30, [sp, #32]
    ldr     tos, [dsp], #8
    mov     x1, sp
    str     x1, [up, #U_HANDLER]
    blr     x0
    ldr     x1, [sp]                /* normal return: unlink, push 0 */
    str     x1, [up, #U_HANDLER]
    ldr     x30, [sp, #40]
    add     sp, sp, #CF_SIZE
    dpush   xzr
    ret
endword w_catch

/* throw ( k*x n -- k*x | i*x n ) */
word "throw", w_throw
    cbz     tos, 1f
    mov     x0, tos
    b       throw_x0
1:  ldr     tos, [dsp], #8
    ret
endword w_throw

/* throw_x0 ( x0 = code ): unwind to the innermost CATCH.  Touches neither
   stack before resetting it, so it also serves faults on a broken stack. */
    .globl throw_x0
throw_x0:
    ldr     x1, [up, #U_HANDLER]
    cbz     x1, 1f
    mov     sp, x1
    ldp     x1, dsp, [sp]
    str     x1, [up, #U_HANDLER]
    ldr     lix, [sp, #24]
    ldp     llim, x30, [sp, #32]
    add     sp, sp, #CF_SIZE
    mov     tos, x0
    ret
1:  /* no CATCH at all: report and restart the console */
    bl      report_error
    b       quit_restart

/* quit ( -- ) ( R: i*x -- ) empty the return stack, interpret from the
   console */
word "quit", w_quit
    str     xzr, [up, #U_STATE]
    b       quit_restart
endword w_quit

/* abort ( -- ) */
word "abort", w_abort
    mov     x0, #-1
    b       throw_x0
endword w_abort

/* (abort") ( flag a u -- ) THROW -2 with the message when flag is true */
word "(abort\")", w_pabortq
    ldp     x0, x1, [dsp], #16      /* x0 = a, x1 = flag */
    cbz     x1, 1f
    ladr    x2, abort_msg
    stp     x0, tos, [x2]
    mov     x0, #-2
    b       throw_x0
1:  ldr     tos, [dsp], #8
    ret
endword w_pabortq

/*
 * read_line ( x0 = buffer, x1 = size -- x0 = length | -1 too long | -2 bad byte )
 * Console line input with echo: backspace edits, CR or LF ends the line
 * (an LF right after a CR is the same line end), tab reads as a space.
 * Control characters are not text: the line is read to its end, then
 * rejected; so is a line longer than the buffer.  Clobbers x0-x9.
 */
read_line:
    mov     x9, x30
    mov     x5, x0
    mov     x6, x1
    mov     x7, #0                  /* length */
    mov     x8, #0                  /* error: 0, -1 long, -2 bad byte */
1:  bl      console_getc
    ladr    x1, last_was_cr
    ldrb    w2, [x1]
    strb    wzr, [x1]
    cmp     w0, #'\n'
    b.ne    2f
    cbz     w2, 9f                  /* LF ends the line */
    cbz     x7, 1b                  /* LF after CR: already ended */
    b       9f
2:  cmp     w0, #'\r'
    b.ne    3f
    mov     w2, #1
    strb    w2, [x1]
    b       9f
3:  cmp     w0, #8                  /* backspace, delete */
    mov     w2, #0x7f
    ccmp    w0, w2, #4, ne
    b.ne    4f
    cbz     x7, 1b
    sub     x7, x7, #1
    mov     x0, #8
    bl      console_putc
    mov     x0, #' '
    bl      console_putc
    mov     x0, #8
    bl      console_putc
    b       1b
4:  cmp     w0, #'\t'
    mov     w2, #' '
    csel    w0, w2, w0, eq
    cmp     w0, #' '
    b.hs    5f
    mov     x8, #-2                 /* a control character */
    ladr    x1, bad_byte
    str     x0, [x1]
    b       1b
5:  cmp     x7, x6
    b.lo    6f
    cbnz    x8, 1b
    mov     x8, #-1                 /* longer than the buffer */
    b       1b
6:  cbnz    x8, 1b
    strb    w0, [x5, x7]
    add     x7, x7, #1
    bl      console_putc            /* echo */
    b       1b
9:  mov     x0, x7
    cbz     x8, 10f
    mov     x0, x8
10: ret     x9

/*
 * console_line ( x0 = buffer, x1 = size -- x0 = length | -1 too long |
 * -2 bad byte ): a line from the console: through the line editor
 * forth/30-editline.fth installs (its xt in line_editor: edit-line, same
 * contract, on the data stack), else read_line.  Clobbers x0-x23 (a
 * Forth word runs).
 */
console_line:
    ladr    x2, line_editor
    ldr     x2, [x2]
    cbz     x2, read_line
    str     x30, [sp, #-16]!
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    blr     x2
    mov     x0, tos
    ldr     tos, [dsp], #8
    ldr     x30, [sp], #16
    ret

/* line-editor ( -- a ) the cell holding the xt REFILL and ACCEPT read a
   console line with ( a n -- n' | -1 too long | -2 not text ); 0: the
   kernel's plain reader.  The next cell: the byte a -2 refused (the
   error report names it) */
word "line-editor", w_lineeditor
    str     tos, [dsp, #-8]!
    ladr    tos, line_editor
    ret
endword w_lineeditor

/* accept ( a n -- n' ) read a line into the buffer (at most n chars) */
word "accept", w_accept
    enter
    ldr     x0, [dsp], #8
    mov     x1, tos
    bl      console_line
    cmp     x0, #0
    csel    tos, x0, xzr, ge
    leave
endword w_accept

/*
 * refill ( -- flag ) the console source: read the next line into the TIB.
 * Over-long lines and lines with control characters are refused with
 * their own error (THROW -18 / -256 family: see report_error).
 */
word "refill", w_refill
    enter
    ldr     x0, [up, #U_SOURCEID]
    cbnz    x0, 5f
    ladr    x0, tib
    mov     x1, #TIB_SIZE
    bl      console_line
    cmp     x0, #0
    b.lt    3f
    ladr    x1, tib
    str     x1, [up, #U_SOURCE]
    str     x0, [up, #U_SRCLEN]
    str     xzr, [up, #U_TOIN]
    dpush   #-1
    leave
3:  str     xzr, [up, #U_SRCLEN]    /* nothing of the bad line is kept */
    str     xzr, [up, #U_TOIN]
    cmn     x0, #1
    mov     x1, #-18                /* line too long: parsed string overflow */
    mov     x2, #-257               /* not text */
    csel    x0, x1, x2, eq
    b       throw_x0
5:  cmp     x0, #1                  /* the boot source: its next line */
    b.ne    6f
    bl      blob_next_line
    dpush   x0
    leave
6:  dpush   xzr                     /* EVALUATE strings: no more */
    leave
endword w_refill

/* source ( -- a u ) */
word "source", w_source
    ldr     x0, [up, #U_SOURCE]
    ldr     x1, [up, #U_SRCLEN]
    stp     x0, tos, [dsp, #-16]!
    ldr     tos, [dsp], #8
    str     tos, [dsp, #-8]!
    mov     tos, x1
    ret
endword w_source

/* >in ( -- a ) */
word ">in", w_toin, F_INLINE
    str     tos, [dsp, #-8]!
    add     tos, up, #U_TOIN
    ret
endword w_toin

/* source-id ( -- 0 | -1 | 1 ) */
word "source-id", w_sourceid, F_INLINE
    str     tos, [dsp, #-8]!
    ldr     tos, [up, #U_SOURCEID]
    ret
endword w_sourceid

/* state ( -- a )  base ( -- a ) */
word "state", w_state, F_INLINE
    str     tos, [dsp, #-8]!
    add     tos, up, #U_STATE
    ret
endword w_state
word "base", w_base, F_INLINE
    str     tos, [dsp, #-8]!
    add     tos, up, #U_BASE
    ret
endword w_base

/* evaluate ( i*x a u -- j*x ) interpret a string, then restore the source */
word "evaluate", w_evaluate
    enter
    ldr     x0, [up, #U_SOURCE]     /* save the current source */
    ldr     x1, [up, #U_SRCLEN]
    stp     x0, x1, [sp, #-32]!
    ldr     x0, [up, #U_TOIN]
    ldr     x1, [up, #U_SOURCEID]
    stp     x0, x1, [sp, #16]
    ldr     x0, [dsp], #8
    str     x0, [up, #U_SOURCE]
    str     tos, [up, #U_SRCLEN]
    ldr     tos, [dsp], #8
    str     xzr, [up, #U_TOIN]
    mov     x0, #-1
    str     x0, [up, #U_SOURCEID]
    ladr    x0, w_interpret         /* catch ( xt -- n ) with interpret */
    dpush   x0
    bl      w_catch
    ldp     x0, x1, [sp]            /* restore the source either way */
    str     x0, [up, #U_SOURCE]
    str     x1, [up, #U_SRCLEN]
    ldp     x0, x1, [sp, #16]
    str     x0, [up, #U_TOIN]
    str     x1, [up, #U_SOURCEID]
    add     sp, sp, #32
    bl      w_throw                 /* rethrow a non-zero code */
    leave
endword w_evaluate

/* Console transcript words used by QUIT and the boot. */

/* prompt: " ok" after a line interpreted, " compiled" inside a definition */
print_prompt:
    mov     x5, x30
    ldr     x0, [up, #U_STATE]
    ladr    x1, msg_ok
    ladr    x2, msg_compiled
    cmp     x0, #0
    csel    x0, x1, x2, eq
    bl      console_puts
    bl      console_newline
    ret     x5

/*
 * quit: the console.  Empties the return stack, then forever: read a line,
 * interpret it under CATCH, print " ok" or the error.  After an error the
 * data stack is emptied, a half-made definition is removed and the
 * interpreter is back in interpretation state; the dictionary is intact.
 */
    .globl quit
quit:
    sub     x0, up, #T_USER         /* the thread Ctrl-C interrupts (kernel/console.S) */
    ladr    x1, console_thread
    str     x0, [x1]
quit_restart:
    ldr     x0, [up, #U_R0]
    mov     sp, x0
    str     xzr, [up, #U_HANDLER]
    str     xzr, [up, #U_SOURCEID]
    mov     lix, #0
    mov     llim, #0
1:  ladr    x0, w_refill
    dpush   x0
    bl      w_catch
    cbnz    tos, 5f
    ldr     tos, [dsp], #8          /* the 0 from catch */
    ldr     tos, [dsp], #8          /* refill's flag (always true here) */
    mov     x0, #' '                /* the transcript: input, space, output */
    bl      console_putc
    ladr    x0, w_interpret
    dpush   x0
    bl      w_catch
    cbnz    tos, 5f
    ldr     tos, [dsp], #8
    bl      print_prompt
    b       1b
5:  mov     x0, tos
    bl      report_error
    bl      console_newline
    bl      reset_after_error
    b       1b

/* reset_after_error: empty the data stack, drop a half-made definition,
   back to interpretation state and decimal-preserving defaults */
    .globl reset_after_error
reset_after_error:
    ldr     dsp, [up, #U_S0]
    mov     tos, #0
    str     xzr, [up, #U_STATE]
    str     xzr, [up, #U_SOURCEID]
    ladr    x1, colon_state
    ldr     x2, [x1, #24]
    cbz     x2, 1f
    mov     x10, x30
    ldr     x2, [x1]                /* HERE and LATEST as before the : */
    ladr    x3, dp
    str     x2, [x3]
    ldr     x0, [x1, #8]
    bl      dict_forget_to
    ladr    x1, colon_state
    stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    mov     x30, x10
1:  ret

/*
 * report_error ( x0 = THROW code ): the standard message, and what is
 * known about the cause (the word, or the fault: class, address, pc and
 * the word it was in).  Clobbers x0-x12.
 */
    .globl report_error
report_error:
    mov     x12, x30
    mov     x10, x0
    ladr    x1, console_errors
    ldr     x2, [x1]
    add     x2, x2, #1
    str     x2, [x1]
    bl      console_newline
    cmn     x10, #1                 /* ABORT: silent */
    b.eq    9f
    cmn     x10, #2                 /* ABORT" prints its own message */
    b.ne    1f
    ladr    x0, abort_msg
    ldp     x0, x1, [x0]
    bl      console_write
    b       9f
1:  ladr    x0, msg_error
    bl      console_puts
    mov     x0, x10
    cmp     x0, #0
    b.ge    2f
    mov     x0, #'-'
    bl      console_putc
    neg     x0, x10
2:  bl      console_dec
    mov     x0, #':'
    bl      console_putc
    mov     x0, #' '
    bl      console_putc
    mov     x0, x10
    bl      error_text
    bl      console_puts
    cmn     x10, #13                /* name the word */
    ccmn    x10, #14, #4, ne
    b.ne    3f
    ladr    x0, msg_colon
    bl      console_puts
    ladr    x0, err_word
    ldp     x0, x1, [x0]
    bl      console_write
3:  cmn     x10, #257               /* the refused byte */
    b.ne    4f
    ladr    x0, msg_byte
    bl      console_puts
    ladr    x0, bad_byte
    ldr     x0, [x0]
    bl      console_hex
4:  ladr    x11, fault_info         /* a fault turned into this THROW */
    ldr     x0, [x11]
    cbz     x0, 9f
    str     xzr, [x11]
    bl      report_fault
9:  ret     x12

/* error_text ( x0 = code -- x0 = message ) Clobbers x1-x3. */
error_text:
    ladr    x1, error_table
1:  ldr     w2, [x1]
    cbz     w2, 3f
    sxtw    x2, w2
    cmp     x2, x0
    b.eq    2f
    add     x1, x1, #8
    b       1b
2:  ldr     w2, [x1, #4]
    add     x0, x1, x2              /* message offset is from the entry */
    ret
3:  ladr    x0, msg_unknown
    ret

/* report_fault: "  data abort[, write to read-only memory] (ESR 0x...) at pc 0x... in
   WORD+0x.., address 0x..." */
report_fault:
    mov     x9, x30
    ladr    x0, msg_fault1
    bl      console_puts
    ldr     x0, [x11, #8]           /* ESR */
    lsr     x0, x0, #26
    bl      ec_text
    bl      console_puts
    ldr     x0, [x11, #8]           /* a store the map refused: a data abort */
    lsr     x1, x0, #26             /* whose DFSC (bits 5:0) is 0b0011xx, a */
    and     x2, x0, #0x3c           /* permission fault, with WnR (bit 6) set */
    cmp     x1, #0x25               /* (Arm ARM ESR_EL2, ISS for a Data Abort; */
    ccmp    x2, #0x0c, #0, eq       /* Linux asm/esr.h ESR_ELx_FSC_PERM, */
    b.ne    0f                      /* ESR_ELx_WNR) */
    tbz     x0, #6, 0f
    ladr    x0, msg_fault_ro
    bl      console_puts
0:  ladr    x0, msg_fault_esr
    bl      console_puts
    ldr     x0, [x11, #8]
    bl      console_hex
    ladr    x0, msg_fault_pc
    bl      console_puts
    ldr     x0, [x11, #24]          /* ELR */
    bl      console_hex
    ldr     x0, [x11, #24]
    bl      word_containing
    cbz     x0, 1f
    mov     x10, x0
    ladr    x0, msg_fault_in
    bl      console_puts
    mov     x0, x10
    bl      header_of
    ldrb    w1, [x0, #H_NLEN]
    add     x0, x0, #H_NAME
    bl      console_write
    mov     x0, #'+'
    bl      console_putc
    ldr     x0, [x11, #24]
    sub     x0, x0, x10
    bl      console_hex
1:  ladr    x0, msg_fault_far
    bl      console_puts
    ldr     x0, [x11, #16]          /* FAR */
    bl      console_hex
    ret     x9

    .globl ec_text
ec_text:                             /* ( x0 = EC -- x0 = name ) */
    ladr    x1, ec_table
1:  ldr     w2, [x1]
    cmn     w2, #1
    b.eq    3f
    cmp     x2, x0
    b.eq    2f
    add     x1, x1, #8
    b       1b
2:  ldr     w2, [x1, #4]
    add     x0, x1, x2
    ret
3:  ladr    x0, msg_unknown
    ret

    .section .rodata
msg_ok:         .asciz " ok"
msg_compiled:   .asciz " compiled"
msg_error:      .asciz "error "
msg_colon:      .asciz ": "
msg_byte:       .asciz ", byte "
msg_unknown:    .asciz "unknown"
msg_fault1:     .asciz "\r\n  "
msg_fault_ro:   .asciz ", write to read-only memory"
msg_fault_esr:  .asciz " (ESR "
msg_fault_pc:   .asciz ") at pc "
msg_fault_in:   .asciz " in "
msg_fault_far:  .asciz ", address "

/* Standard THROW codes (Forth 2012, table 9.1) and ours (-256 down). */
.macro err code, text
    .balign 4
    .word   \code
    .word   9f - . + 4
    .pushsection .rodata.strings, "a"
9:  .asciz  "\text"
    .popsection
.endm
    .balign 4
error_table:
    err -1, "aborted"
    err -3, "stack overflow"
    err -4, "stack underflow"
    err -5, "return stack overflow"
    err -6, "return stack underflow"
    err -7, "do-loops nested too deeply during execution"
    err -8, "dictionary overflow"
    err -9, "invalid memory address"
    err -10, "division by zero"
    err -11, "result out of range"
    err -12, "argument type mismatch"
    err -13, "undefined word"
    err -14, "interpreting a compile-only word"
    err -15, "invalid FORGET"
    err -16, "attempt to use zero-length string as a name"
    err -17, "pictured numeric output string overflow"
    err -18, "parsed string overflow (input line too long, discarded)"
    err -19, "definition name too long"
    err -20, "write to a read-only location"
    err -21, "unsupported operation"
    err -22, "control structure mismatch"
    err -23, "address alignment exception"
    err -24, "invalid numeric argument"
    err -25, "return stack imbalance"
    err -26, "loop parameters unavailable"
    err -27, "invalid recursion"
    err -28, "user interrupt"
    err -29, "compiler nesting"
    err -31, ">BODY used on non-CREATEd definition"
    err -32, "invalid name argument"
    err -56, "QUIT"
    err -58, "[IF], [ELSE], or [THEN] exception"
    err -59, "ALLOCATE"
    err -60, "FREE"
    err -61, "RESIZE"
    err -256, "undefined instruction"
    err -257, "input line is not text (control character), discarded"
    err -258, "breakpoint"
    err -259, "reply to a call nobody is waiting on"
    err -260, "a benchmarked word must leave the stack as it found it"
    .word   0, 0

/* Exception classes (ESR_EL2.EC) named in fault reports. */
    .balign 4
ec_table:
    err 0x00, "undefined instruction"
    err 0x07, "FP/SIMD access trap"
    err 0x15, "SVC"
    err 0x16, "HVC"
    err 0x17, "SMC"
    err 0x18, "system register trap"
    err 0x20, "instruction abort from a lower level"
    err 0x21, "instruction abort"
    err 0x22, "PC alignment fault"
    err 0x24, "data abort from a lower level"
    err 0x25, "data abort"
    err 0x26, "SP alignment fault"
    err 0x2f, "SError"
    err 0x3c, "BRK"
    .word   -1, 0

    .data
    .balign 8
    .globl err_word, fault_info, console_errors
err_word:   .quad 0, 0          /* the word last parsed by INTERPRET */
console_errors: .quad 0         /* uncaught THROWs reported so far (the harness reads it:
                                   a script with an error does not exit 0) */
abort_msg:  .quad 0, 0          /* ABORT" message */
line_editor: .quad 0            /* console_line's xt (0: read_line); */
bad_byte:   .quad 0             /*   the editor leaves a refused byte here */
.if bad_byte - line_editor != 8
.error "interp.S: bad_byte must follow line_editor (line-editor cell+)"
.endif
fault_info: .quad 0, 0, 0, 0    /* set, ESR, FAR, ELR of a fault turned into THROW */
last_was_cr: .byte 0


    .bss
    .balign 16
tib:        .space TIB_SIZE
    .text
