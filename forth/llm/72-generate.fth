\ Generation: the prompt through the model, then token after token,
\ printed as it is made, in a thread of its own; the chat template.
\
\ generate and chat run on the console's thread only to read the model
\ and the prompt (the disk is the boot core's), then spawn the generator
\ (priority 16, below the console's) and wait for it, a millisecond's
\ sleep at a time.  Ctrl-C reaches the waiting console thread (THROW -28
\ in MS); it asks the generator to stop, waits for it to finish the
\ token it is on, and passes the -28 on: the console says "user
\ interrupt" and keeps answering.  An error in the generator (the
\ context full) is THROWn on the console's thread after it ends.
\
\ Choosing a token: greedy (the first largest logit) unless sampling
\ set a temperature (73-sampling.fth).

variable gen-stop     \ the generator stops before its next token
variable gen-done     \ the generator has ended
variable gen-error    \ its THROW code, 0 if none
0 value gen-n         \ tokens still to make
0 value gen-stop-id   \ a second token that ends it (<|endoftext|> always does)
0 value gen-made      \ tokens it made

defer choose ( -- id )   \ choose ( -- id ) the next token from the logits
: greedy-token ( -- id ) logits vocab argmax ;
' greedy-token is choose

: prefill ( -- ) \ the context's tokens through the model from position 0
  llm-reset  #toks 0 ?do i tok@ forward loop ;

: gen-body ( -- ) \ prefill, then up to gen-n tokens, each printed as made
  0 to gen-made  prefill
  begin gen-n 0> gen-stop @ 0= and while
    choose  dup 52 hl@ = over gen-stop-id = or if drop exit then
    dup tok+ dup .tok  gen-made 1+ to gen-made  gen-n 1- to gen-n
    gen-n 0> if forward else drop then
  repeat ;
: gen-thread ( -- ) ['] gen-body catch gen-error !  true gen-done ! ;

: gen-wait ( -- ) begin gen-done @ 0= while 1 ms repeat ;
\ run-gen ( n -- ) n tokens after the context's, made by a thread of their own
: run-gen ( n -- )
  #toks 0= if drop -304 throw then
  to gen-n  0 gen-stop !  0 gen-done !  0 gen-error !
  ['] gen-thread 16 spawn 0= if -305 throw then
  ['] gen-wait catch ?dup if true gen-stop ! gen-wait throw then
  gen-error @ throw ;

\ generate ( a u n -- ) the text's continuation, n tokens, printed as they
\ are made (the text itself is not printed); Ctrl-C stops it
: generate ( a u n -- )
  >r model-load tokens  #toks 0= if 0 tok+ then     \ an empty text: after <|endoftext|>
  2 to gen-stop-id  r> run-gen ;

\ more ( n -- ) n more tokens after what generate or chat last made
: more ( n -- ) #toks 0= if drop exit then  run-gen ;

: nl-tok ( -- ) 10 byte-tok tok+ ;
: im-start ( a u -- ) 56 hl@ tok+ tokenize nl-tok ;   \ <|im_start|>role\n
: im-end ( -- ) 60 hl@ tok+ nl-tok ;                   \ <|im_end|>\n
300 value answer-max   \ the longest answer chat gives, in tokens
: chat-tokens ( n -- ) 1 max to answer-max ;   \ chat-tokens ( n -- ) chat's answers at most n tokens long (300 at first)
: system-prompt ( -- a u ) s" You are a helpful AI assistant named SmolLM, trained by Hugging Face" ;

\ ask ( a u -- ) the question's answer, the instruct model's chat template
\ (the GGUF's: a system turn, the user's, then the assistant's), printed as
\ it is made; it ends at <|im_end|> or when the context is full
: ask ( a u -- )
  model-load  0 to #toks
  s" system" im-start system-prompt tokenize im-end
  s" user" im-start tokenize im-end
  s" assistant" im-start
  60 hl@ to gen-stop-id  ctx #toks - answer-max min run-gen ;

create question 256 allot
\ chat ( "question" -- ) the rest of the line is the question (or, if there
\ is none, the next line typed); the answer is printed as it is made
: chat ( "question" -- )
  0 parse dup 0= if 2drop ." ? " question 256 accept question swap then
  dup 0= if 2drop exit then
  cr ask cr ;
