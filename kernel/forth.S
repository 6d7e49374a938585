/*
 * The Forth core: every word written in assembly, one file per topic,
 * assembled as one unit so the dictionary chain runs through them all.
 * The rest of the language is Forth in forth/, compiled at boot.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#include "forth/stack.S"
#include "forth/arith.S"
#include "forth/memory.S"
#include "forth/io.S"
#include "forth/screen.S"
#include "forth/dict.S"
#include "forth/compiler.S"
#include "forth/parse.S"
#include "forth/interpret.S"
#include "forth/except.S"
#include "forth/quit.S"
#include "forth/cold.S"
#include "forth/bench.S"
#include "forth/alloc.S"
#include "forth/kmem.S"
#include "forth/threads.S"
#include "forth/domains.S"
#include "forth/blk.S"
#include "forth/llm.S"
#include BOARD_WORDS                  /* the board's own words (kernel/boards/<board>/words.inc) */

/* The newest assembly-defined header, relative to here. */
    .section .rodata
    .balign 8
    .globl dict_head
dict_head:
    .quad   dict_last - dict_head
