\ The language model on first use.  forth/llm/ (the model's loader and
\ forward pass, the tokenizer, generation and chat: docs/llm.md) is in
\ the image as a third text, compiled the first time one of these words
\ runs, as forth/files/ is (59-files.fth lazy-word): a boot that compiled
\ it would pay for a model most sessions never load.

variable llm-in   \ llm-in ( -- a ) true once forth/llm/ is compiled
: llm-text ( -- ) (llm-source) llm-in text-load ;   \ compile forth/llm/ if it is not yet
: llm-lazy ( "name" -- ) ['] llm-text lazy-word ;

llm-lazy model-load  llm-lazy .model    llm-lazy llm-reset  llm-lazy forward
llm-lazy tokenize    llm-lazy tokens    llm-lazy .tokens    llm-lazy detokenize
llm-lazy .tok        llm-lazy tok+      llm-lazy generate   llm-lazy more
llm-lazy ask         llm-lazy chat       llm-lazy chat-tokens  llm-lazy prefill
llm-lazy logits      llm-lazy sampling   llm-lazy greedy
