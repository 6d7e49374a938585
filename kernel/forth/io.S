/* Character I/O on the board's console UART. */

/* emit ( c -- ) */
word "emit", w_emit
    mov     x0, tos
    ldr     tos, [dsp], #8
    b       console_putc
endword w_emit

/* key ( -- c ) waits */
word "key", w_key
    mov     x5, x30
    bl      console_getc
    dpush   x0
    ret     x5
endword w_key

/* key? ( -- flag ) a byte waits in the console's ring (or the UART) */
word "key?", w_keyq
    mov     x5, x30
    bl      rx_count
    cmp     x0, #0
    csetm   x0, ne
    dpush   x0
    ret     x5
endword w_keyq

/* console-stats ( -- irq-wakes poll-wakes polled ) how the console's
   waits ended: by the UART's interrupt, by the poll period, and the bytes
   the poll found (each a byte whose interrupt never came: kernel/console.S) */
word "console-stats", w_consolestats
    ladr    x0, console_stats
    ldp     x1, x2, [x0]
    ldr     x3, [x0, #16]
    stp     x1, tos, [dsp, #-16]!
    str     x2, [dsp, #-8]!
    mov     tos, x3
    ret
endword w_consolestats

/* console-tx-stats ( -- sent waits pumped polled tx-irqs ) the console's
   output to the UART: bytes into its FIFO, times a thread found the TX
   ring full and waited, bytes the ring gave the FIFO at a wait's period's
   end (each moved without its interrupt), bytes polled out where no
   thread could wait, TX interrupts taken (kernel/console.S) */
word "console-tx-stats", w_consoletxstats
    ladr    x0, console_tx_stats
    str     tos, [dsp, #-8]!
    ldp     x1, x2, [x0]
    stp     x2, x1, [dsp, #-16]!
    ldp     x1, x2, [x0, #16]
    stp     x2, x1, [dsp, #-16]!
    ldr     tos, [x0, #32]
    ret
endword w_consoletxstats

/* line-editor ( -- a ) the cell holding the xt REFILL and ACCEPT read a
   console line with ( a n -- n' | -1 too long | -2 not text ); 0: the
   kernel's plain reader.  The next cell: the byte a -2 refused (the
   error report names it) */
word "line-editor", w_lineeditor
    str     tos, [dsp, #-8]!
    ladr    tos, line_editor
    ret
endword w_lineeditor

/* help-text ( -- a u ) the help table built from the sources: a line a
   word, name TAB stack effect TAB one line TAB file (harness/help.py) */
word "help-text", w_helptext
    ladr    x0, help_blob
    ladr    x1, help_blob_end
    sub     x1, x1, x0
    stp     x0, tos, [dsp, #-16]!   /* a second, the old top third */
    mov     tos, x1
    ret
endword w_helptext

/* type ( a u -- ) */
word "type", w_type
    ldr     x0, [dsp], #8
    mov     x1, tos
    ldr     tos, [dsp], #8
    b       console_write
endword w_type

/* cr ( -- ) */
word "cr", w_cr
    b       console_newline
endword w_cr

/* space ( -- ) */
word "space", w_space
    mov     x0, #' '
    b       console_putc
endword w_space

/* spaces ( n -- ) */
word "spaces", w_spaces
    mov     x6, x30
    mov     x7, tos
    ldr     tos, [dsp], #8
1:  cmp     x7, #0
    b.le    2f
    mov     x0, #' '
    bl      console_putc
    sub     x7, x7, #1
    b       1b
2:  ret     x6
endword w_spaces

/* bye ( -- ) end: QEMU switches off (PSCI SYSTEM_OFF); an M3 reboots through
   the ADT's watchdog, as m1n1 does (kernel/boards/m3/board.S board_poweroff) */
word "bye", w_bye
    bl      console_newline
    bl      console_flush               /* everything out on the wire first */
    b       board_poweroff
endword w_bye

/* cycles ( -- u ) the core cycle counter (Apple PMC0, ARM PMCCNTR) */
word "cycles", w_cycles
    mov     x5, x30
    bl      board_cycles
    dpush   x0
    ret     x5
endword w_cycles

/* instructions ( -- u ) the retired-instruction counter (Apple PMC1, ARM INST_RETIRED) */
word "instructions", w_instructions
    mov     x5, x30
    bl      board_instructions
    dpush   x0
    ret     x5
endword w_instructions

/* ms ( u -- ) sleep u milliseconds: the thread blocks until the generic
   timer (CNTPCT at CNTFRQ; in the emulated M3 deterministic time, from
   retired instructions) has advanced that far; others run meanwhile */
word "ms", w_ms
    mrs     x0, cntfrq_el0
    mul     x0, x0, tos
    mov     x1, #1000
    udiv    x0, x0, x1
    isb
    mrs     x1, cntpct_el0
    add     x0, x0, x1
    ldr     tos, [dsp], #8
    str     x30, [sp, #-16]!
    bl      thread_sleep_until
    ldr     x30, [sp], #16
    ret
endword w_ms

/* ticks ( -- u ) the generic timer's count;  ticks/s ( -- u ) its rate */
word "ticks", w_ticks
    isb
    mrs     x0, cntpct_el0
    dpush   x0
    ret
endword w_ticks
word "ticks/s", w_tickspers
    mrs     x0, cntfrq_el0
    dpush   x0
    ret
endword w_tickspers
