\ The Double-Number word set beyond the assembly core.

: 2literal ( x1 x2 -- ) ( run: -- x1 x2 ) swap postpone literal postpone literal ; immediate compile-only
: dmax ( d1 d2 -- d ) 2over 2over d< if 2swap then 2drop ;
: dmin ( d1 d2 -- d ) 2over 2over d< 0= if 2swap then 2drop ;
\ M*/ through a triple-cell product, floored like / and FM/MOD
: t* ( ud u -- t ) tuck um* 2swap um* swap >r 0 d+ r> -rot ;
: t/ ( t u -- urem ud ) >r r@ um/mod -rot r> um/mod rot ;
: m*/ ( d1 n1 +n2 -- d2 )
  >r 2dup xor 0< >r abs >r dabs r> t* r> r> swap >r t/
  r> if dnegate rot if 1. d- then else rot drop then ;
