\ Programming tools: DUMP (SEE is in 55-disasm.fth; .S ? WORDS are elsewhere).

: dump ( a u -- ) \ hex and characters, 16 bytes a line
  base @ >r hex
  bounds begin 2dup u> while
    cr dup 0 <# # # # # # # # # # # # # #> type ." :"
    2dup - 16 min dup 0 ?do space over i + c@ 0 <# # # #> type loop
    16 over - 3 * 2 + spaces
    0 ?do dup i + c@ dup 32 127 within 0= if drop [char] . then emit loop
    16 +
  repeat 2drop r> base ! ;
