/* Forth words for demand-zero regions and domains (kernel/domain.S). */

#include "percpu.inc"                  /* the DCB layout (D_*) */

/* demand-region ( u -- addr ) u bytes (whole pages) of EL2 memory that
   reads as zero, each page mapped at its first touch (a soft page fault)
   to a page zeroed ahead of time; its addresses are in the demand window
   (not its frames', which are wherever the zeroed pages were) */
word "demand-region", w_demandregion
    str     x30, [sp, #-16]!
    mov     x0, tos
    bl      demand_region
    mov     tos, x0
    ldr     x30, [sp], #16
    cbz     x0, throw_alloc
    ret
endword w_demandregion

throw_alloc:
    mov     x0, #-59                    /* ALLOCATE */
    b       throw_x0

/* demand-ipa ( u -- ipa ) u bytes (rounded up to pages) of addresses in
   the demand window for a domain's pool-backed grant (DOMAIN-DEMAND), the
   zeroed-page stack topped up for them */
word "demand-ipa", w_demandipa
    mov     x1, #0x3fff
    adds    x0, tos, x1
    b.cs    throw_alloc
    and     x0, x0, #~0x3fff
    cbz     x0, throw_alloc
    mov     x21, x30
    bl      demand_ipa
    mov     x30, x21
    mov     tos, x0
    cbz     x0, throw_alloc
    ret
endword w_demandipa

/* demand-window ( -- base end ) the EL2 demand window's addresses */
word "demand-window", w_demandwindow
    mov     x8, x30
    bl      mmu_window_bounds
    mov     x30, x8
    stp     x0, tos, [dsp, #-16]!
    mov     tos, x1
    ret
endword w_demandwindow

/* zeroed-pages ( -- n missed ) pages on this core's zeroed-page stack, and
   the faults that found it empty (and zeroed a page themselves) */
word "zeroed-pages", w_zeroedpages
    mrs     x1, tpidr_el2
    ldr     x2, [x1, #PC_ZTOP]
    ldr     x3, [x1, #PC_ZBASE]
    sub     x2, x2, x3
    lsr     x2, x2, #3
    ldr     x3, [x1, #PC_ZMISSED]
    stp     x2, tos, [dsp, #-16]!
    mov     tos, x3
    ret
endword w_zeroedpages

/* zero-refill ( u -- n ) up to u more pages zeroed ahead of time (never
   past the stack's capacity), preemptibly: what a low-priority thread
   runs in idle time; n the pages the stack holds now */
word "zero-refill", w_zerorefill
    mov     x21, x30
    mov     x0, tos
    bl      zpool_fill
    mov     x30, x21
    mov     tos, x0
    ret
endword w_zerorefill

/* reserve-pages ( u -- addr ) u bytes rounded up to 16 KiB pages, 16 KiB
   aligned, never given back (memory for domains) */
word "reserve-pages", w_reservepages
    mov     x1, #0x3fff
    add     x0, tos, x1
    and     x0, x0, #~0x3fff
    cbz     x0, throw_alloc
    mov     x4, x30
    bl      bump_alloc
    mov     x30, x4
    mov     tos, x0
    cbz     x0, throw_alloc
    ret
endword w_reservepages

/* domain-new ( -- dom ) a domain with its VMID and no grants */
word "domain-new", w_domainnew
    str     x30, [sp, #-16]!
    bl      domain_new
    ldr     x30, [sp], #16
    cbz     x0, throw_alloc
    dpush   x0
    ret
endword w_domainnew

/* domain-free ( dom -- ) its tables, VMID and block back (not while it runs) */
word "domain-free", w_domainfree
    ldr     x1, [tos, #D_STATE]
    cmp     x1, #1
    b.eq    throw_busy
    str     x30, [sp, #-16]!
    mov     x0, tos
    bl      domain_free
    ldr     tos, [dsp], #8
    ldr     x30, [sp], #16
    ret
endword w_domainfree

throw_busy:
    mov     x0, #-24
    b       throw_x0

/* domain-grant ( dom addr len flags -- ) a record: permissions 1 R, 2 W,
   4 X, 8 demand-zero; 256 unmap, 512 protect (DOMAIN-MAP and friends) */
word "domain-grant", w_domaingrant
    str     x30, [sp, #-16]!
    mov     x3, tos
    ldp     x2, x1, [dsp]
    ldr     x0, [dsp, #16]
    add     dsp, dsp, #24
    ldr     tos, [dsp], #8
    bl      domain_grant
    ldr     x30, [sp], #16
    cbnz    x0, throw_x0
    ret
endword w_domaingrant

/* domain-query ( dom addr -- state ) the kernel's record for that page:
   permissions | 8 if demand-zero, 0 if not granted */
word "domain-query", w_domainquery
    and     x0, tos, #~0x3fff
    ldr     x1, [dsp], #8
    mov     x8, x30
    bl      s2_state_entry
    mov     x30, x8
    mov     tos, x2
    ret
endword w_domainquery

/* domain-entry! ( pc sp dom -- ) where DOMAIN-RUN starts it, its stack */
word "domain-entry!", w_domainentry
    ldp     x2, x1, [dsp], #16          /* sp, pc */
    stp     x1, x2, [tos, #D_ENTRY]
    ldr     tos, [dsp], #8
    ret
endword w_domainentry

/* domain-endpoint! ( ep slot dom -- ) the endpoint its HVC #2 with x0 =
   slot calls (slots 0-7) */
word "domain-endpoint!", w_domainendpoint
    ldp     x1, x2, [dsp], #16          /* slot, ep */
    cmp     x1, #8
    b.hs    throw_busy
    add     x0, tos, #D_EPS
    str     x2, [x0, x1, lsl #3]
    ldr     tos, [dsp], #8
    ret
endword w_domainendpoint

/* domain-run ( arg dom -- value reason ) run it from its entry with x0 =
   arg until it exits (reason 0, value its x0) or is ended (1 forbidden
   access: value the address; 2 exception at EL1: ESR_EL1; 3 trapped:
   ESR_EL2; 4 it had ended before or is running elsewhere) */
word "domain-run", w_domainrun
    mov     x0, tos
    ldr     x1, [dsp]
    b       domain_run                  /* it returns to our caller, results in place */
endword w_domainrun

/* domain-vttbr ( dom -- x ) its stage-2 table base with the VMID (bits
   55:48)   domain-id ( dom -- n ) its VMID */
word "domain-vttbr", w_domainvttbr
    ldr     tos, [tos, #D_VTTBR]
    ret
endword w_domainvttbr

word "domain-id", w_domainid
    ldr     tos, [tos, #D_ID]
    ret
endword w_domainid

/* sync-code ( addr u -- ) make code just written there executable:
   clean the data cache to the point of unification, invalidate the
   instruction cache (64-byte lines) */
word "sync-code", w_synccode
    ldr     x0, [dsp], #8
    add     x1, x0, tos
    and     x0, x0, #~63
1:  cmp     x0, x1
    b.hs    2f
    dc      cvau, x0
    add     x0, x0, #64
    b       1b
2:  dsb     ish
    ldr     x0, [dsp, #-8]
    and     x0, x0, #~63
3:  cmp     x0, x1
    b.hs    4f
    ic      ivau, x0
    add     x0, x0, #64
    b       3b
4:  dsb     ish
    isb
    ldr     tos, [dsp], #8
    ret
endword w_synccode
