/*
 * forth_cold: from the booted kernel to the console.  Lays out the Forth
 * memory in free RAM, switches to EL2t (SP_EL0 becomes the return stack,
 * exception handlers keep SP_EL2), prints the banner, compiles forth/
 * from the image and enters QUIT.
 */

#define DSTACK_SIZE   (64 * 1024)
#define RSTACK_SIZE   (64 * 1024)
#define DICT_SIZE     (16 * 1024 * 1024)
#define GUARD         16384
#define HEAP_SIZE     (16 * 1024 * 1024)

    .text
    .globl forth_cold
forth_cold:
    ladr    up, main_user

    /*
     * The stacks, each between unmapped guard pages:
     *   guard | return stack | guard | guard | data stack | guard
     * so an overflow or underflow faults at once and becomes THROW -3 -4
     * -5 or -6 (kernel/vectors.S tells them apart by the fault address).
     */
    movq    x0, (4 * GUARD + RSTACK_SIZE + GUARD + DSTACK_SIZE + GUARD)
    bl      early_alloc
    mov     x19, x0
    bl      mmu_unmap_page          /* below the return stack */
    add     x0, x19, #GUARD
    str     x0, [up, #U_RLIMIT]
    add     x0, x0, #RSTACK_SIZE
    str     x0, [up, #U_R0]
    msr     sp_el0, x0
    bl      mmu_unmap_page          /* above it */
    add     x0, x19, #(2 * GUARD + RSTACK_SIZE)
    bl      mmu_unmap_page          /* below the data stack */
    add     x0, x19, #(3 * GUARD + RSTACK_SIZE)
    str     x0, [up, #U_SLIMIT]
    add     x0, x0, #DSTACK_SIZE
    str     x0, [up, #U_S0]
    mov     dsp, x0
    mov     tos, #0
    bl      mmu_unmap_page          /* above it */
    msr     spsel, #0               /* EL2t from here on */

    /* dictionary space */
    movq    x0, DICT_SIZE
    bl      early_alloc
    ladr    x1, dp
    str     x0, [x1]
    movq    x2, DICT_SIZE
    add     x0, x0, x2
    str     x0, [x1, #8]
    movq    x0, HEAP_SIZE           /* the kernel heap (ALLOCATE) */
    bl      early_alloc
    ladr    x1, heap_region
    movq    x2, HEAP_SIZE
    stp     x0, x2, [x1]
    bl      kmem_init               /* ALLOCATE's page table (kernel/kmem.S) */
    bl      zpool_init              /* the zeroed-page stack (kernel/alloc.S) */

    ladr    x0, dict_head           /* the assembly-built dictionary */
    ldr     x1, [x0]
    add     x0, x0, x1
    ladr    x1, latest
    str     x0, [x1]
    bl      dict_init               /* the last write into .text: */
    bl      mmu_seal_image          /* the image's code and constants read-only from here */

    mov     x0, #10
    str     x0, [up, #U_BASE]
    str     xzr, [up, #U_STATE]
    str     xzr, [up, #U_HANDLER]
    str     xzr, [up, #U_SOURCEID]

    bl      board_counters_init
    bl      board_irq_init          /* the board's interrupt sources, the console's receive IRQ */
    bl      board_blk_init          /* the disk, if the board has one (kernel/blk.S) */
    bl      threads_init            /* the console becomes thread 1; idle; the timer */
    bl      smp_start               /* every other core the board lists (kernel/smp.S) */
    bl      banner
    bl      board_report            /* what the board found (and did not) */

    /* compile forth/ (embedded in the image), line by line */
    ladr    x0, blob_pos
    ladr    x1, forth_blob
    str     x1, [x0]
    ladr    x1, forth_blob_end
    str     x1, [x0, #16]
    mov     x0, #1
    str     x0, [up, #U_SOURCEID]
    str     xzr, [up, #U_SRCLEN]
    str     xzr, [up, #U_TOIN]
1:  bl      blob_next_line
    cbz     x0, 3f
    ladr    x0, w_interpret
    dpush   x0
    bl      w_catch
    cbnz    tos, 2f
    ldr     tos, [dsp], #8
    b       1b
2:  mov     x0, tos                 /* an error in forth/: say where, go on */
    bl      report_error
    ladr    x0, msg_boot_line
    bl      console_puts
    ladr    x0, blob_line
    ldr     x0, [x0]
    bl      console_dec
    bl      console_newline
    bl      reset_after_error
    mov     x0, #1
    str     x0, [up, #U_SOURCEID]
    b       1b
3:  str     xzr, [up, #U_SOURCEID]
    ladr    x0, dp                  /* where the user's words begin */
    ldr     x0, [x0]
    ladr    x1, boot_here
    str     x0, [x1]
    ladr    x0, msg_ready
    bl      console_puts
    bl      console_newline
    b       quit

/*
 * evaluate-lines ( i*x a u -- j*x ): interpret a text of many lines as
 * the boot source is, a line at a time (SOURCE-ID 1: REFILL takes its
 * next line, so a definition or a comment may go on across lines), then
 * the source before it back, whatever happened (a THROW passes on
 * after).  Why: forth/files/ is compiled on first use (forth/59-files.fth)
 * as forth/ is at boot; EVALUATE would take the text as one line.
 */
word "evaluate-lines", w_evaluate_lines
    enter
    ldr     x0, [up, #U_SOURCE]         /* the source, and the line reader's */
    ldr     x1, [up, #U_SRCLEN]         /*   place, which a nested use moves */
    stp     x0, x1, [sp, #-64]!
    ldr     x0, [up, #U_TOIN]
    ldr     x1, [up, #U_SOURCEID]
    stp     x0, x1, [sp, #16]
    ladr    x2, blob_pos
    ldp     x0, x1, [x2]
    stp     x0, x1, [sp, #32]
    ldr     x0, [x2, #16]
    str     x0, [sp, #48]
    ldr     x0, [dsp], #8               /* a */
    add     x1, x0, tos                 /* its end */
    ldr     tos, [dsp], #8
    stp     x0, xzr, [x2]
    str     x1, [x2, #16]
    mov     x0, #1
    str     x0, [up, #U_SOURCEID]
1:  bl      blob_next_line
    cbz     x0, 2f
    ladr    x0, w_interpret
    dpush   x0
    bl      w_catch
    cbnz    tos, 3f
    ldr     tos, [dsp], #8
    b       1b
2:  dpush   xzr                         /* the end: nothing to pass on */
3:  ladr    x2, blob_pos
    ldp     x0, x1, [sp, #32]
    stp     x0, x1, [x2]
    ldr     x0, [sp, #48]
    str     x0, [x2, #16]
    ldp     x0, x1, [sp]
    str     x0, [up, #U_SOURCE]
    str     x1, [up, #U_SRCLEN]
    ldp     x0, x1, [sp, #16]
    str     x0, [up, #U_TOIN]
    str     x1, [up, #U_SOURCEID]
    add     sp, sp, #64
    bl      w_throw                     /* a non-zero code goes on */
    leave
endword w_evaluate_lines

/* (files-source) ( -- a u ): the text of forth/files/, in the image */
word "(files-source)", w_files_source
    ladr    x0, files_blob
    ladr    x1, files_blob_end
    sub     x1, x1, x0
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    ret
endword w_files_source

/* (llm-source) ( -- a u ): the text of forth/llm/, in the image */
word "(llm-source)", w_llm_source
    ladr    x0, llm_blob
    ladr    x1, llm_blob_end
    sub     x1, x1, x0
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    ret
endword w_llm_source

/* blob_next_line ( -- x0 = -1 with SOURCE set to the next line | 0 at end )
   Clobbers x0-x4. */
    .globl blob_next_line
blob_next_line:
    ladr    x4, blob_pos
    ldr     x0, [x4]
    ldr     x1, [x4, #16]
    cmp     x0, x1
    b.hs    9f
    mov     x2, x0
1:  cmp     x2, x1
    b.hs    2f
    ldrb    w3, [x2]
    cmp     w3, #'\n'
    b.eq    2f
    add     x2, x2, #1
    b       1b
2:  str     x0, [up, #U_SOURCE]
    sub     x3, x2, x0
    str     x3, [up, #U_SRCLEN]
    str     xzr, [up, #U_TOIN]
    add     x2, x2, #1
    str     x2, [x4]
    ldr     x3, [x4, #8]
    add     x3, x3, #1
    str     x3, [x4, #8]
    mov     x0, #-1
    ret
9:  mov     x0, #0
    ret

/* banner: what we are, where, and how much memory */
banner:
    mov     x19, x30
    bl      console_newline
    ladr    x0, msg_banner
    bl      console_puts
    ladr    x0, board_name
    bl      console_puts
    ladr    x0, msg_at_el
    bl      console_puts
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    bl      console_dec
    bl      console_newline
    ladr    x20, boot_info
    ladr    x0, msg_memory
    bl      console_puts
    ldr     x0, [x20, #BI_MEM_SIZE]
    lsr     x0, x0, #20
    bl      console_dec
    ladr    x0, msg_mib_at
    bl      console_puts
    ldr     x0, [x20, #BI_PHYS_BASE]
    bl      console_hex
    ladr    x0, msg_loaded
    bl      console_puts
    ldr     x0, [x20, #BI_LOAD_BASE]
    bl      console_hex
    ladr    x0, msg_free
    bl      console_puts
    ldr     x0, [x20, #BI_FREE0]
    bl      console_hex
    bl      console_newline
    ladr    x0, msg_cores
    bl      console_puts
    ladr    x0, smp_cores
    ldr     x0, [x0]
    bl      console_dec
    bl      console_newline
    ret     x19

    .section .rodata
msg_banner:     .asciz "Sovereign Forth kernel on "
msg_at_el:      .asciz ", EL"
msg_memory:     .asciz "memory: "
msg_mib_at:     .asciz " MiB at "
msg_loaded:     .asciz ", loaded at "
msg_free:       .asciz ", free from "
msg_cores:      .asciz "cores: "
msg_ready:      .asciz "ready"
msg_boot_line:  .asciz "  in forth/ at boot source line "

    .balign 8
forth_blob:
    .incbin FORTH_BLOB
forth_blob_end:
    .byte 0
    .balign 8
files_blob:                 /* forth/files/: compiled on first use (forth/59-files.fth) */
    .incbin FILES_BLOB
files_blob_end:
    .byte 0
    .balign 8
llm_blob:                   /* forth/llm/: compiled on first use (forth/59-files.fth lazy-word) */
    .incbin LLM_BLOB
llm_blob_end:
    .byte 0
    .balign 8
    .globl help_blob, help_blob_end
help_blob:                  /* `help WORD`: a line per word (harness/help.py) */
    .incbin HELP_BLOB
help_blob_end:
    .byte 0

    .data
    .balign 8
blob_pos:   .quad 0, 0, 0   /* next byte of the source read line by line, line number, its end */
blob_line = blob_pos + 8

    .bss
    .balign 16
    .globl main_user
main_user:  .space U_SIZE
    .text
