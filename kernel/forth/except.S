/*
 * Exceptions: CATCH and THROW (a frame on the return stack), ABORT and
 * ABORT", and what an uncaught THROW prints: the standard message (Forth
 * 2012 table 9.1, and ours from -256 down), the word it concerns, and for
 * a fault turned into a THROW (kernel/vectors.S) its class, address, pc
 * and the word it was in.
 */

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
1:  mov     x0, x10
    bl      console_error_code      /* "error -N: ", one piece */
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
    err -33, "block read exception"
    err -34, "block write exception"
    err -35, "invalid block number"
    err -36, "invalid file position"
    err -37, "file I/O exception (not an open file)"
    err -38, "non-existent file"
    err -39, "unexpected end of file"
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
    err -270, "no disk"
    err -271, "sector out of range"
    err -272, "disk error"
    err -273, "the disk is read-only"
    /* the file system's (forth/files/60-fat.fth, its ior constants) */
    err -280, "not a FAT32 volume"
    err -281, "sector size not 512"
    err -282, "bad BPB"
    err -283, "damaged cluster chain"
    err -284, "disk full"
    err -285, "directory full"
    err -286, "bad name"
    err -287, "file exists"
    err -288, "not a directory"
    err -289, "is a directory"
    err -290, "file not open for that"
    err -291, "read-only file"
    err -292, "file too large"
    err -293, "file is open"
    err -294, "directory not empty"
    /* the language model's (forth/llm/70-model.fth) */
    err -300, "the disk holds no model image"
    err -301, "damaged model image"
    err -302, "not enough memory for the model"
    err -303, "the CPU has no SDOT (FEAT_DotProd): the model cannot run"
    err -304, "the context is full"
    err -305, "no thread for the generator"
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
fault_info: .quad 0, 0, 0, 0    /* set, ESR, FAR, ELR of a fault turned into THROW */
    .text
