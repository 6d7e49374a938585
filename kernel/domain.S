/*
 * Domains and soft page faults.
 *
 * EL2 demand-zero regions live in the demand window (kernel/mmu.S): 4 GiB
 * of addresses above everything the identity map maps, so a region's
 * pages can be backed by whichever zeroed frame is at hand.  A region's
 * pages are invalid level-3 entries carrying the demand-zero mark in
 * their software bits (DZ below; an invalid descriptor's bits other than
 * bit 0 are ignored by the walker, Arm ARM D8.3).  The first touch from a
 * Forth thread is a level-3 translation fault; el2_sync_sp0 (the vector
 * for Forth's synchronous exceptions) finds the entry from the address
 * alone (the window's level-2 entries, then the level-3 entry), sees the
 * mark, takes a page from the per-core stack of pages zeroed ahead of
 * time (kernel/alloc.S), writes the descriptor and returns: the "soft
 * page fault".  No region list is searched and nothing is zeroed on the
 * fast path.  Invalid -> valid needs no TLB maintenance (no TLB caches a
 * faulting entry), only the DSB that makes the store visible to the
 * walker; the ERET is the context synchronisation.
 *
 * Domains.  A domain is code running at EL1 (stage 1 off, HCR_EL2.DC: its
 * accesses are Normal write-back) under its own stage-2 tables that grant
 * only its regions: one level-2 table of 2048 32-MiB entries, level-3
 * tables of 16 KiB pages where it has grants, so every stage-2 walk is
 * two levels deep.  Grants of memory are identity (IPA = PA); a
 * pool-backed demand grant (DOMAIN-DEMAND) is at IPAs from the demand
 * window, backed by zeroed frames at the first touch.  Each domain has a
 * VMID, so entering another domain is a VTTBR write and no TLB flush.  It
 * is entered by ERET from the Forth thread that runs it (DOMAIN-RUN) and
 * comes back by:
 *   HVC #0   exit: x0 is DOMAIN-RUN's value
 *   HVC #1   null call (returns at once; the HVC round trip)
 *   HVC #2   IPC CALL: x0 = endpoint slot (0-7), x1-x4 the message; the
 *            running thread calls that endpoint on its behalf; x0 = 0 and
 *            x1-x4 the reply come back (x0 = -1: no such slot)
 *   a stage-2 translation fault on a page marked demand-zero (S2 DZ in the
 *            invalid entry, with the rights granted): the page is mapped
 *            and the access retried (the soft stage-2 fault)
 *   any other stage-2 fault: the domain is ended, with a report
 *   a write to an EL1 virtual-memory register (SCTLR_EL1, TTBR0/1, TCR,
 *            MAIR, AMAIR, CONTEXTIDR, AFSR0/1, ESR, FAR: trapped by
 *            HCR_EL2.TVM): done for it and recorded in its DCB, so the
 *            switch knows what to load
 *   an exception to EL1 (UDF, SVC, alignment...): taken at the domain's
 *            VBAR_EL1, which is a kernel stub page (granted read/execute
 *            to every domain) unless the domain set its own; the stub
 *            turns it into HVC #0x100+n: the domain is ended
 *   a physical interrupt (routed to EL2 by HCR_EL2.FMO/IMO): the domain's
 *            registers are saved, the thread takes the interrupt in its
 *            own context (it may be preempted), then re-enters.
 * HVC calls clobber x5-x17 (they come back zero) and SP_EL0.
 *
 * EL1 state is switched only when a different domain is entered than the
 * one whose state is loaded (G_LOADED), never on re-entering the same
 * one: VTTBR and SP_EL1; the VM-control group above only if the loaded
 * or the incoming domain ever wrote one (their writes trap: F_VMSET in
 * D_FLAGS); the group no trap covers (VBAR_EL1, TPIDR_EL1, TPIDR_EL0,
 * TPIDRRO_EL0, ELR_EL1, SPSR_EL1, ESR_EL1, FAR_EL1, PAR_EL1, CNTKCTL_EL1,
 * CPACR_EL1, CSSELR_EL1) read live and compared with the defaults: when
 * they and the incoming domain's copy are the defaults nothing is
 * written, else the live values are saved to the outgoing DCB and the
 * incoming's written where they differ (docs/domains.md).
 *
 * While a domain runs, SP_EL2 points at its control block (DCB), whose
 * first bytes are its register frame: a lower-EL exception saves
 * registers with no address arithmetic.  Leaving for the thread puts
 * SP_EL2 back on the exception stack and drops to EL2t (SPSel = 0) in the
 * thread's context: no ERET.  HCR_EL2 switches between the host value
 * (m1n1's: E2H, TGE) and the domain value (TGE clear; VM, DC, FMO/IMO/AMO,
 * TWI/TWE, TSC, TVM set) on each crossing.
 *
 * The kernel's own record of a domain's grants is a list of records
 * (base, length, flags) applied oldest first: MAP sets a page's state to
 * its permissions (R 1, W 2, X 4, demand-zero 8, pool-backed 16), UNMAP
 * clears it, PROTECT replaces the permissions of a granted page.  The
 * tables are rebuilt from the record for every page a new record covers,
 * so the two always agree (tests/test_domains.py walks the tables and
 * checks); an untouched demand-zero page's invalid entry carries its
 * rights, so the fault path needs no record.
 *
 * One core: the current/loaded domain are globals (per-core later).
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

/* zero_regs n, ...: mov xN, #0 for each N given (no kernel values leak
   into a domain) */
.macro zero_regs regs:vararg
    .irp r, \regs
    mov     x\r, #0
    .endr
.endm

#define PAGE            16384
#define VA_BITS         36
#define OA_MASK         0xFFFFFFFFC000

/* The DCB (D_*): kernel/percpu.inc */

/* EL1 defaults: what a new domain finds (SCTLR_EL1: its RES1 bits, MMU
   and caches off; VBAR_EL1: the stub; all else 0) */
#define SCTLR_EL1_DEFAULT 0x30D00800
#define F_EL1SET        1
#define F_VMSET         2

#define P_PERM          7
#define P_DEMAND        8
#define P_POOL          16              /* demand-zero from the zeroed-page stack */
#define K_UNMAP         (1 << 8)
#define K_PROTECT       (2 << 8)

/* reasons DOMAIN-RUN gives */
#define R_EXIT          0
#define R_FAULT         1               /* forbidden stage-2 access: value = address */
#define R_EXCEPTION     2               /* exception to EL1: value = ESR_EL1 */
#define R_TRAP          3               /* anything else trapped to EL2: value = ESR_EL2 */
#define R_BUSY          4               /* ended before, or running elsewhere */

/* Stage-2 page descriptor: valid page, AF, inner shareable, MemAttr
   Normal write-back; S2AP (bits 7:6) from R/W, XN (bit 54) unless X. */
#define S2_PAGE         (3 | (1 << 10) | (3 << 8) | (0xF << 2))
#define S2_XN_HI        (1 << 6)        /* bit 54, as movk #.., lsl #48 */
/* EL2 demand page: valid page, AF, inner shareable, Normal, PXN, UXN */
#define EL2_DEMAND_LO   (3 | (1 << 10) | (3 << 8) | (1 << 2))
#define EL2_DEMAND_HI   (3 << 5)        /* bits 53, 54 */

/* DZ_BIT, POOL_BIT, SWPERM_SHIFT, EL2_DZ_MARK: kernel/percpu.inc */

/* VTCR_EL2: T0SZ 28 (36-bit IPA), SL0 = 1 (start at level 2 with 16 KiB),
   inner/outer write-back, inner shareable, TG0 = 16 KiB, RES1 bit 31; PS
   from ID_AA64MMFR0 */
#define VTCR_VALUE      (28 | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 14) | (1 << 31))
#define HCR_VM          (1 << 0)
#define HCR_FMO_IMO_AMO 0x38
#define HCR_DC          (1 << 12)
#define HCR_TWI_TWE     (3 << 13)
#define HCR_TSC         (1 << 19)
#define HCR_TVM         (1 << 26)
#define HCR_TGE         (1 << 27)
#define HCR_RW          (1 << 31)
#define SPSR_EL1H       0x3c5           /* EL1h; its own DAIF masks only virtual interrupts */

/* the globals */
#define G_CURRENT       0               /* the domain running (or last run) */
#define G_LOADED        8               /* whose EL1 state (and VTTBR) is loaded */
#define G_READY         16
#define G_HCR_HOST      24              /* LDP with G_HCR_DOM */
#define G_HCR_DOM       32
#define G_VMIDS         48              /* 256-bit VMID bitmap */
#define G_SIZE          80
assert_adjacent G_HCR_HOST, G_HCR_DOM

/* ---- the soft page fault at EL2 ----------------------------------------- */

    .text
/*
 * el2_sync_sp0: VBAR_EL2 + 0x000, a synchronous exception from a Forth
 * thread (EL2t), on SP_EL2.  A level-3 translation fault on a data access
 * to a page of the demand window marked demand-zero maps a zeroed page
 * there and returns to retry it; everything else goes to forth_sync with
 * the registers as they came.
 */
/* bench: page_fault (budget 350 cycles) */
    .globl el2_sync_sp0
el2_sync_sp0:
    stp     x0, x1, [sp, #-48]!
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    mrs     x0, esr_el2
    lsr     x1, x0, #26
    and     x2, x0, #0x3f
    cmp     x1, #0x25                   /* data abort, same EL */
    ccmp    x2, #0x07, #0, eq           /* translation fault, level 3 */
    b.ne    9f
    mrs     x0, far_el2
    mrs     x1, tpidr_el2
    add     x1, x1, #PC_DWIN            /* (past LDP's reach from the per-core base) */
    ldp     x2, x3, [x1]                /* the window's base, its first level-2 entry */
    sub     x2, x0, x2
    lsr     x5, x2, #32
    cbnz    x5, 9f                      /* not in the 4 GiB window */
    lsr     x2, x2, #25
    ldr     x3, [x3, x2, lsl #3]        /* a table: the walk reached level 3 */
    and     x3, x3, #OA_MASK
    ubfx    x2, x0, #14, #11
    add     x4, x3, x2, lsl #3          /* the page's entry */
    ldr     x5, [x4]
    tbz     x5, #DZ_BIT, 8f             /* not demand-zero: a guard page, or mapped */
    ldp     x2, x3, [x1, #(PC_ZTOP - PC_DWIN)]  /* a page zeroed ahead of time */
    cmp     x2, x3
    b.eq    5f
    ldr     x0, [x2, #-8]!
    str     x2, [x1, #(PC_ZTOP - PC_DWIN)]
4:  mov     x3, #EL2_DEMAND_LO
    movk    x3, #EL2_DEMAND_HI, lsl #48
    orr     x3, x0, x3
    cas     x5, x3, [x4]                /* only over the entry we read: two cores */
    tbnz    x5, #0, 7f                  /*   touching the page first at once map one
                                           (the only other writer of a demand-zero
                                           entry is another core's fault) */
    dsb     ishst                       /* the walker sees it; ERET synchronises */
6:  ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x0, x1, [sp], #48
    eret
7:  mrs     x1, tpidr_el2               /* the other core's page won: ours to the */
    ldr     x2, [x1, #PC_PAGES]         /*   page list (kernel/alloc.S kfree_page) */
    str     x2, [x0]
    str     x0, [x1, #PC_PAGES]
    b       6b
5:  stp     x4, x9, [sp, #-32]!         /* none left: zero one now (the old cost) */
    stp     x30, x5, [sp, #16]
    sub     x9, x1, #PC_DWIN
    bl      zpage_slow
    ldp     x30, x5, [sp, #16]
    ldp     x4, x9, [sp], #32
    cbnz    x0, 4b
8:  tbnz    x5, #0, 6b                  /* valid: another core mapped it meanwhile (a
                                           TLB never holds an entry that faults, Arm
                                           ARM D8.16: the retry walks again) */
9:  ldp     x2, x3, [sp, #16]           /* not ours (or no memory left): THROW */
    ldp     x4, x5, [sp, #32]
    ldp     x0, x1, [sp], #48
    b       forth_sync

/*
 * demand_ipa ( x0 = bytes, whole pages -- x0 = address or 0 ): addresses
 * in the demand window for a pool-backed domain grant (no EL2 tables are
 * made: the domain's IPAs only), the stack topped up for its pages.
 * Clobbers x0-x8.
 */
    .globl demand_ipa
demand_ipa:
    stp     x0, x30, [sp, #-16]!
    bl      mmu_window_ipa
    ldr     x1, [sp]
    cbz     x0, 9f
    str     x0, [sp]
    lsr     x0, x1, #14
    bl      zpool_fill
    ldr     x0, [sp]
9:  ldr     x30, [sp, #8]
    add     sp, sp, #16
    ret

/* vm_group_defaults: the VM-control group (the EL1 registers whose writes
   HCR_EL2.TVM traps) at a new domain's values.  Clobbers x0. */
.macro vm_group_defaults
    movq    x0, SCTLR_EL1_DEFAULT
    msr     sctlr_el12, x0
    msr     ttbr0_el12, xzr
    msr     ttbr1_el12, xzr
    msr     tcr_el12, xzr
    msr     mair_el12, xzr
    msr     amair_el12, xzr
    msr     contextidr_el12, xzr
    msr     afsr0_el12, xzr
    msr     afsr1_el12, xzr
.endm

/* ---- domains: making, granting, ending ---------------------------------- */

/* domains_hw_init: HCR values, VTCR_EL2, VMID 0 kept for the host, the
   EL1 registers a domain sees set to the defaults (a new domain's
   state: nothing of m1n1's or of the kernel's reaches one).
   Clobbers x0-x2. */
domains_hw_init:
    ladr    x1, domain_globals
    mrs     x0, hcr_el2
    str     x0, [x1, #G_HCR_HOST]
    bic     x0, x0, #HCR_TGE
    movq    x2, (HCR_VM | HCR_FMO_IMO_AMO | HCR_DC | HCR_TWI_TWE | HCR_TSC | HCR_TVM | HCR_RW)
    orr     x0, x0, x2
    str     x0, [x1, #G_HCR_DOM]
    mov     x0, #1
    str     x0, [x1, #G_VMIDS]
    str     x0, [x1, #G_READY]
    movq    x0, VTCR_VALUE
    mrs     x2, id_aa64mmfr0_el1
    and     x2, x2, #7
    orr     x0, x0, x2, lsl #16
    msr     vtcr_el2, x0
    vm_group_defaults                   /* the trapped group */
    ladr    x0, domain_el1_vectors      /* the compared group */
    msr     vbar_el12, x0
    msr     tpidr_el1, xzr
    msr     tpidr_el0, xzr
    msr     tpidrro_el0, xzr
    msr     elr_el12, xzr
    msr     spsr_el12, xzr
    msr     esr_el12, xzr
    msr     far_el12, xzr
    msr     par_el1, xzr
    msr     cntkctl_el12, xzr
    msr     cpacr_el12, xzr
    msr     csselr_el1, xzr
    isb
    ret

/*
 * domain_new ( -- x0 = DCB or 0 ): a domain with a VMID, an empty
 * stage-2 level-2 table and no grants but the EL1 vector stub page.
 * Clobbers x0-x23.
 */
    .globl domain_new
domain_new:
    mov     x23, x30
    ladr    x19, domain_globals
    ldr     x0, [x19, #G_READY]
    cbnz    x0, 1f
    bl      domains_hw_init
1:  mov     x20, #0                     /* a free VMID */
    add     x1, x19, #G_VMIDS
2:  ldr     x2, [x1, x20, lsl #3]
    mvn     x3, x2
    cbnz    x3, 3f
    add     x20, x20, #1
    cmp     x20, #4
    b.lo    2b
    b       9f                          /* 255 domains live */
3:  rbit    x3, x3
    clz     x3, x3
    mov     x4, #1
    lsl     x4, x4, x3
    orr     x2, x2, x4
    str     x2, [x1, x20, lsl #3]
    add     x20, x3, x20, lsl #6        /* the VMID */
    bl      kalloc_block
    cbz     x0, 8f
    mov     x21, x0
    add     x1, x0, #4096
    bl      zero_fast
    bl      kalloc_page
    cbz     x0, 7f
    mov     x22, x0
    add     x1, x0, #PAGE
    bl      zero_fast
    dsb     ishst
    orr     x0, x22, x20, lsl #48
    str     x0, [x21, #D_VTTBR]
    str     x20, [x21, #D_ID]
    ladr    x0, domain_el1_vectors      /* its EL1 state: the defaults (the rest is 0) */
    str     x0, [x21, #D_VBAR]
    movq    x0, SCTLR_EL1_DEFAULT
    str     x0, [x21, #D_SCTLR]
    ldp     x0, x1, [x19, #G_HCR_HOST]
    stp     x0, x1, [x21, #D_HCR_HOST]
    mov     x0, x21                     /* the EL1 vector stub: read, execute */
    ladr    x1, domain_el1_vectors
    mov     x2, #PAGE
    mov     x3, #5
    bl      domain_grant
    mov     x0, x21
    ret     x23
7:  mov     x0, x21
    bl      kfree_block
8:  lsr     x1, x20, #6                 /* the VMID back */
    and     x2, x20, #63
    add     x3, x19, #G_VMIDS
    ldr     x4, [x3, x1, lsl #3]
    mov     x5, #1
    lsl     x5, x5, x2
    bic     x4, x4, x5
    str     x4, [x3, x1, lsl #3]
9:  mov     x0, #0
    ret     x23

/*
 * domain_free ( x0 = DCB ): its tables, the frames its pool-backed grants
 * were given, its VMID (its TLB entries flushed first), the DCB.  Not
 * while it runs.  Clobbers x0-x23.
 */
    .globl domain_free
domain_free:
    mov     x23, x30
    mov     x21, x0
    ladr    x19, domain_globals
    ldr     x22, [x21, #D_VTTBR]
    and     x22, x22, #0xFFFFFFFFC000   /* the level-2 table */
    mov     x20, #0
1:  ldr     x0, [x22, x20, lsl #3]
    and     x1, x0, #3
    cmp     x1, #3
    b.ne    2f
    and     x18, x0, #OA_MASK           /* a level-3 table: */
    lsl     x17, x20, #25               /*   the IPA of its first page */
    mov     x16, #0
11: ldr     x0, [x18, x16, lsl #3]      /* a page (valid, or parked in its mark) */
    tbnz    x0, #0, 13f                 /* not at its IPA: a frame from the */
    tbz     x0, #DZ_BIT, 12f            /* zeroed stack, given back */
13: ands    x0, x0, #OA_MASK
    b.eq    12f
    orr     x1, x17, x16, lsl #14
    cmp     x0, x1
    b.eq    12f
    bl      kfree_page
12: add     x16, x16, #1
    cmp     x16, #2048
    b.lo    11b
    mov     x0, x18
    bl      kfree_page                  /* the table */
2:  add     x20, x20, #1
    cmp     x20, #2048
    b.lo    1b
    mov     x0, x22
    bl      kfree_page
    dsb     ishst
    tlbi    alle1is                     /* its VMID may be reused */
    dsb     ish
    isb
    ldr     x0, [x19, #G_LOADED]
    cmp     x0, x21
    b.ne    3f
    str     xzr, [x19, #G_LOADED]       /* its state stays in the registers: */
    ldr     x0, [x21, #D_FLAGS]         /* the VM group back to the defaults */
    tbz     x0, #1, 3f                  /* (the compared group is read live) */
    bl      vm_defaults
3:  ldr     x0, [x21, #D_ID]
    lsr     x1, x0, #6
    and     x2, x0, #63
    add     x3, x19, #G_VMIDS
    ldr     x4, [x3, x1, lsl #3]
    mov     x5, #1
    lsl     x5, x5, x2
    bic     x4, x4, x5
    str     x4, [x3, x1, lsl #3]
    mov     x0, x21
    bl      kfree_block
    ret     x23

/*
 * s2_state ( x0 = page, x1 = DCB -- x2 = its state ): the record, applied
 * oldest first.  Clobbers x3-x7.
 */
    .globl s2_state_entry
s2_state_entry:
s2_state:
    mov     x2, #0
    ldr     x3, [x1, #D_NREC]
    add     x4, x1, #D_REC
1:  cbz     x3, 9f
    ldp     x5, x6, [x4]                /* base, length */
    ldr     x7, [x4, #16]               /* flags */
    add     x4, x4, #REC_SIZE
    sub     x3, x3, #1
    sub     x5, x0, x5
    cmp     x5, x6
    b.hs    1b                          /* not in this record */
    tbnz    x7, #8, 2f
    tbnz    x7, #9, 3f
    and     x2, x7, #31                 /* MAP */
    b       1b
2:  mov     x2, #0                      /* UNMAP */
    b       1b
3:  cbz     x2, 1b                      /* PROTECT: granted pages only */
    and     x2, x2, #(P_DEMAND | P_POOL)
    and     x7, x7, #P_PERM
    orr     x2, x2, x7
    b       1b
9:  ret

/* s2_desc ( x0 = page, x2 = state -- x3 = its valid descriptor ) Clobbers x4. */
s2_desc:
    movq    x3, S2_PAGE
    orr     x3, x3, x0
    and     x4, x2, #3                  /* R, W -> S2AP */
    orr     x3, x3, x4, lsl #6
    tbnz    x2, #2, 1f
    orr     x3, x3, #(1 << 54)          /* not executable */
1:  ret

/*
 * domain_grant ( x0 = DCB, x1 = base, x2 = length, x3 = flags -- x0 = 0
 * or a THROW code ): a new record (flags: permissions, demand-zero,
 * pool-backed, K_UNMAP or K_PROTECT), then every page it covers rebuilt
 * from the whole record.  An untouched demand-zero page is an invalid
 * entry marked DZ with its rights and its frame (the IPA for a grant of
 * memory, zeroed here when granted; 0 for a pool-backed one: a zeroed
 * frame is taken at the first touch), so the fault path needs no record.
 * A pool-backed page keeps its frame through PROTECT (parked in the mark
 * while it has no rights) and gives it back at UNMAP.  Pages going from
 * valid to anything else cost one TLB invalidation at the end; frames
 * given back go to the page lists after it.  A grant of memory (not
 * pool-backed) inside the demand window is refused: those addresses are
 * no memory's.  Clobbers x0-x18.
 */
    .globl domain_grant
domain_grant:
    mov     x18, x30
    mov     x17, #(PAGE - 1)
    orr     x4, x1, x2
    tst     x4, x17
    b.ne    8f                          /* whole pages only */
    cbz     x2, 8f
    add     x4, x1, x2
    cmp     x4, x1
    b.lo    8f
    mov     x5, #(1 << (VA_BITS - 32))
    lsl     x5, x5, #32
    cmp     x4, x5
    b.hi    8f                          /* inside the 36-bit IPA space */
    tbnz    x3, #4, 1f                  /* P_POOL */
    tst     x3, #(K_UNMAP | K_PROTECT)
    b.ne    1f
    stp     x0, x1, [sp, #-16]!
    bl      mmu_window_bounds           /* x0 base, x1 end */
    mov     x5, x0
    mov     x6, x1
    ldp     x0, x1, [sp], #16
    cmp     x1, x6                      /* [base, end) meets the window? */
    ccmp    x4, x5, #0, lo
    b.hi    8f
1:  ldr     x5, [x0, #D_NREC]
    cmp     x5, #NREC_MAX
    b.hs    7f
    mov     x6, #REC_SIZE
    add     x7, x0, #D_REC
    madd    x7, x5, x6, x7
    stp     x1, x2, [x7]
    str     x3, [x7, #16]
    add     x5, x5, #1
    str     x5, [x0, #D_NREC]
    mov     x10, x0                     /* DCB */
    mov     x11, x1                     /* page */
    mov     x12, x4                     /* end */
    mov     x13, x3                     /* the new record's flags */
    mov     x14, #0                     /* a valid entry changed: flush */
    mov     x9, #0                      /* frames to give back, linked through them */
    mov     x17, #0                     /* the result */
    ldr     x15, [x10, #D_VTTBR]
    and     x15, x15, #OA_MASK
1:  mov     x0, x11
    mov     x1, x10
    bl      s2_state                    /* x2 = state */
    ubfx    x5, x11, #25, #11
    ldr     x6, [x15, x5, lsl #3]
    and     x7, x6, #3
    cmp     x7, #3
    b.eq    3f
    cbz     x2, 6f                      /* nothing granted, no table: nothing to do */
    mov     x16, x2
    bl      kalloc_page                 /* a level-3 table for this 32 MiB */
    cbz     x0, 69f
    mov     x4, x0
    add     x1, x0, #PAGE
    bl      zero_fast                   /* (x0, x2, x3) */
    dsb     ishst
    orr     x6, x4, #3
    str     x6, [x15, x5, lsl #3]
    mov     x2, x16
3:  and     x6, x6, #OA_MASK
    ubfx    x5, x11, #14, #11
    add     x6, x6, x5, lsl #3          /* the page's entry */
    ldr     x7, [x6]                    /* old */
    mov     x8, #0                      /* its frame: a valid entry's or a mark's */
    tbnz    x7, #0, 31f
    tbz     x7, #DZ_BIT, 32f
31: and     x8, x7, #OA_MASK
32: tst     x2, #P_PERM
    b.eq    40f
    tbnz    x2, #3, 33f
    mov     x0, x11                     /* not demand-zero: mapped now, identity */
    bl      s2_desc
    b       5f
33: tbz     x7, #0, 34f
    mov     x0, x8                      /* demand-zero, touched: its frame, new rights */
    bl      s2_desc
    b       5f
34: tst     x13, #(K_UNMAP | K_PROTECT)
    b.ne    36f
    bl      give_back                   /* a fresh grant reads as zero: */
    mov     x8, #0
    tbnz    x2, #4, 37f                 /*   pool-backed: a frame at the first touch */
    mov     x16, x2                     /*   memory: zeroed now, mapped then */
    mov     x0, x11
    add     x1, x11, #PAGE
    bl      zero_fast
    mov     x2, x16
    mov     x8, x11
    b       37f
36: cbnz    x8, 37f                     /* protected, untouched: its frame as it was */
    tbnz    x2, #4, 37f
    mov     x8, x11
37: movz    x3, #(1 << (DZ_BIT - 48)), lsl #48
    orr     x3, x3, x8
    and     x0, x2, #P_PERM
    orr     x3, x3, x0, lsl #SWPERM_SHIFT
    b       5f
40: mov     x3, #0                      /* no access */
    tbz     x2, #3, 41f
    cbz     x8, 5f
    movz    x3, #(1 << (DZ_BIT - 48)), lsl #48
    orr     x3, x3, x8                  /* still granted: the frame parked, no rights */
    b       5f
41: bl      give_back                   /* unmapped: a pool frame goes back */
5:  cmp     x3, x7
    b.eq    6f
    tbz     x7, #0, 51f
    mov     x14, #1                     /* a valid entry changes */
51: str     x3, [x6]
6:  add     x11, x11, #PAGE
    cmp     x11, x12
    b.lo    1b
60: dsb     ishst
    cbz     x14, 61f
    tlbi    alle1is
    dsb     ish
    isb
61: cbz     x9, 62f                     /* the frames given back, now no TLB holds them */
    ldr     x16, [x9]
    mov     x0, x9
    bl      kfree_page
    mov     x9, x16
    b       61b
62: mov     x0, x17
    ret     x18
69: mov     x17, #-59                   /* out of memory for a table */
    b       60b
7:  mov     x0, #-59                    /* ALLOCATE: out of records */
    ret     x18
8:  mov     x0, #-24                    /* invalid numeric argument */
    ret     x18

/* give_back ( x8 = a page's frame or 0, x11 = its IPA, x9 = the list ):
   a frame from the zeroed stack (not the IPA itself) onto the list of
   frames to give back.  Clobbers nothing else. */
give_back:
    cbz     x8, 1f
    cmp     x8, x11
    b.eq    1f
    str     x9, [x8]
    mov     x9, x8
1:  ret

/* ---- running a domain --------------------------------------------------- */

/* el1_pair n (el1_switch's full switch; x14 = the incoming's D_VBAR,
   x15 = the outgoing's or none if x16 = 0): registers 2n and 2n+1 of the
   compared group live, saved to the outgoing's copy, the incoming's
   written where they differ.  Clobbers x10-x13. */
.macro el1_pair n
    .if \n == 0
    mrs     x10, vbar_el12
    mrs     x11, tpidr_el1
    .elseif \n == 1
    mrs     x10, tpidr_el0
    mrs     x11, tpidrro_el0
    .elseif \n == 2
    mrs     x10, elr_el12
    mrs     x11, spsr_el12
    .elseif \n == 3
    mrs     x10, esr_el12
    mrs     x11, far_el12
    .elseif \n == 4
    mrs     x10, par_el1
    mrs     x11, cntkctl_el12
    .else
    mrs     x10, cpacr_el12
    mrs     x11, csselr_el1
    .endif
    cbz     x16, 8920f
    stp     x10, x11, [x15, #(16 * \n)]
8920:
    ldp     x12, x13, [x14, #(16 * \n)]
    cmp     x10, x12
    b.eq    8921f
    .if \n == 0
    msr     vbar_el12, x12
    .elseif \n == 1
    msr     tpidr_el0, x12
    .elseif \n == 2
    msr     elr_el12, x12
    .elseif \n == 3
    msr     esr_el12, x12
    .elseif \n == 4
    msr     par_el1, x12
    .else
    msr     cpacr_el12, x12
    .endif
8921:
    cmp     x11, x13
    b.eq    8922f
    .if \n == 0
    msr     tpidr_el1, x13
    .elseif \n == 1
    msr     tpidrro_el0, x13
    .elseif \n == 2
    msr     spsr_el12, x13
    .elseif \n == 3
    msr     far_el12, x13
    .elseif \n == 4
    msr     cntkctl_el12, x13
    .else
    msr     csselr_el1, x13
    .endif
8922:
.endm

/* vm_msr key, reg, field (domain_msr; x16 = the trapped register's key,
   x17 = the value): if it is this one, write it, keep it, mark the
   domain (8f) */
.macro vm_msr key, reg, field
    movq    x15, \key
    cmp     x16, x15
    b.ne    8930f
    msr     \reg, x17
    str     x17, [sp, #\field]
    b       8f
8930:
.endm

/* load_domain x9 = DCB (masked): everything el1_switch loads, when
   another domain's state is loaded; nothing for the same one.  Clobbers
   x5-x8, x10-x17, x30. */
.macro load_domain
    ladr    x17, domain_globals
    str     x9, [x17, #G_CURRENT]
    ldr     x16, [x17, #G_LOADED]
    cmp     x16, x9
    b.eq    8901f
    bl      el1_switch
8901:
.endm

/* enter x9 = DCB (masked, loaded): HCR for the domain, ELR/SPSR from the
   frame, SP_EL2 onto the frame.  Clobbers x16, x17. */
.macro enter_prepare
    ldr     x16, [x9, #D_HCR_DOM]
    msr     hcr_el2, x16
    ldp     x16, x17, [x9, #D_ELR]
    msr     elr_el2, x16
    msr     spsr_el2, x17
    msr     spsel, #1
    mov     sp, x9
.endm

/*
 * domain_run ( x0 = DCB, x1 = argument; DOMAIN-RUN's stack: tos the DCB,
 * [dsp] the argument -- [dsp] = value, tos = reason ): run the domain
 * from its entry point with x0 = argument until it exits or is ended,
 * and return to DOMAIN-RUN's caller.  From a Forth thread (EL2t).
 * Clobbers x0-x23.
 */
/* bench: domain_switch (budget 175 cycles) */
    .globl domain_run
domain_run:
    stp     x30, x0, [sp, #-16]!        /* the DCB stays on the thread's stack */
    ldr     x2, [x0, #D_STATE]
    cbnz    x2, 9f
    mov     x2, #1
    str     x2, [x0, #D_STATE]
    stp     x24, x25, [x0, #D_HOST]
    stp     x26, x27, [x0, #(D_HOST + 16)]
    mov     x3, sp
    stp     x28, x3, [x0, #(D_HOST + 32)]
    ldp     x2, x3, [x0, #D_ENTRY]      /* entry, stack */
    str     x3, [x0, #D_SPEL1]
    mov     x9, x0
    msr     daifset, #3
    ladr    x17, domain_globals         /* load_domain, and a fresh start: */
    str     x9, [x17, #G_CURRENT]
    ldr     x16, [x17, #G_LOADED]
    cmp     x16, x9
    b.eq    1f
    bl      el1_switch                  /*   it loads SP_EL1 from D_SPEL1 */
    b       2f
1:  msr     sp_el1, x3                  /*   its initial stack */
2:  ldr     x16, [x9, #D_HCR_DOM]       /* enter_prepare, ELR and SPSR from here */
    msr     hcr_el2, x16
    msr     elr_el2, x2
    mov     x4, #SPSR_EL1H
    msr     spsr_el2, x4
    msr     spsel, #1
    mov     sp, x9
    mov     x0, x1                      /* the argument; nothing else of ours */
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
    mov     x4, #0
    b       enter_clear5

9:  ldp     x30, x9, [sp], #16          /* it had ended, or runs elsewhere */
    str     xzr, [dsp]
    mov     tos, #R_BUSY
    ret

/* enter_clear5: x5-x30 zeroed, ERET (x0-x4 as given) */
enter_clear5:
    zero_regs 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    eret

/*
 * to_host (SP_EL2 = DCB, x16/x17 free): back to the thread that runs the
 * domain, still masked: host HCR, SP_EL2 on the exception stack, EL2t on
 * the thread's stack, its x24-x28 (keep_sp: SP_EL1 kept for a resume; not
 * when the run is over).  Leaves x9 = DCB.
 */
.macro to_host keep_sp=1
    mov     x9, sp
    .if \keep_sp
    mrs     x16, sp_el1                 /* it will be resumed */
    str     x16, [x9, #D_SPEL1]
    .endif
    ldr     x16, [x9, #D_HCR_HOST]
    msr     hcr_el2, x16
    mrs     x16, tpidr_el2              /* this core's exception stack */
    ldr     x16, [x16, #PC_ESTACK]
    mov     sp, x16
    msr     spsel, #0
    ldp     x24, x25, [x9, #D_HOST]
    ldp     x26, x27, [x9, #(D_HOST + 16)]
    ldp     x28, x16, [x9, #(D_HOST + 32)]
    mov     sp, x16
.endm

/*
 * el1_switch ( x9 = the domain to enter, x16 = the one whose state is
 * loaded or 0, x17 = domain_globals ), masked: x9's VTTBR, SP_EL1 and EL1
 * state in place of the loaded ones.
 * - The VM-control group (SCTLR_EL1, TTBR0/1, TCR, MAIR, AMAIR,
 *   CONTEXTIDR, AFSR0/1): a domain's writes trap (HCR_EL2.TVM) and are
 *   kept in its DCB (F_VMSET), so the live values are the outgoing's
 *   shadow, the defaults unless it has F_VMSET (a loaded domain freed
 *   with it puts the defaults back, domain_free); they are loaded from
 *   the incoming's shadow only if either has F_VMSET.
 * - The group no trap covers without FEAT_FGT (VBAR_EL1, TPIDR_EL1,
 *   TPIDR_EL0, TPIDRRO_EL0, ELR/SPSR/ESR/FAR_EL1 (written by an EL1
 *   exception too), PAR_EL1, CNTKCTL_EL1, CPACR_EL1, CSSELR_EL1): read
 *   live.  If they are the defaults and the incoming's copy is too
 *   (F_EL1SET clear), nothing is written (the outgoing's copy is made
 *   the defaults if it said otherwise); else they are saved into the
 *   outgoing DCB and the incoming's values written where they differ
 *   (an MSR costs six MRS).
 * Clobbers x5-x8, x10-x17 (keeps x0-x4, x9).
 */
el1_switch:
    str     x9, [x17, #G_LOADED]
    ldr     x10, [x9, #D_VTTBR]
    msr     vttbr_el2, x10              /* VMID-tagged: no TLB flush */
    ldr     x10, [x9, #D_SPEL1]
    msr     sp_el1, x10
    ldr     x12, [x9, #D_FLAGS]         /* the incoming's */
    mov     x13, #0
    cbz     x16, 1f
    ldr     x13, [x16, #D_FLAGS]        /* the outgoing's */
1:  orr     x10, x12, x13
    tbnz    x10, #1, 20f                /* F_VMSET: the VM-control group */
2:  and     x10, x12, #F_EL1SET         /* the compared group: all the defaults? */
    mrs     x11, vbar_el12
    ladr    x14, domain_el1_vectors
    eor     x11, x11, x14
    orr     x10, x10, x11
    mrs     x11, tpidr_el1
    orr     x10, x10, x11
    mrs     x11, tpidr_el0
    orr     x10, x10, x11
    mrs     x11, tpidrro_el0
    orr     x10, x10, x11
    mrs     x11, elr_el12
    orr     x10, x10, x11
    mrs     x11, spsr_el12
    orr     x10, x10, x11
    mrs     x11, esr_el12
    orr     x10, x10, x11
    mrs     x11, far_el12
    orr     x10, x10, x11
    mrs     x11, par_el1
    orr     x10, x10, x11
    mrs     x11, cntkctl_el12
    orr     x10, x10, x11
    mrs     x11, cpacr_el12
    orr     x10, x10, x11
    mrs     x11, csselr_el1
    orr     x10, x10, x11
    cbnz    x10, 10f
    tbnz    x13, #0, 8f                 /* yes: nothing to write */
    ret
8:  bic     x13, x13, #F_EL1SET         /* the outgoing's copy: the defaults now */
    str     x13, [x16, #D_FLAGS]
    add     x15, x16, #D_VBAR
    stp     x14, xzr, [x15]
    stp     xzr, xzr, [x15, #16]
    stp     xzr, xzr, [x15, #32]
    stp     xzr, xzr, [x15, #48]
    stp     xzr, xzr, [x15, #64]
    stp     xzr, xzr, [x15, #80]
    ret

10: add     x14, x9, #D_VBAR            /* no: the full switch */
    add     x15, x16, #D_VBAR
    cbz     x16, 11f
    orr     x13, x13, #F_EL1SET
    str     x13, [x16, #D_FLAGS]
11: .irp pair, 0, 1, 2, 3, 4, 5
    el1_pair \pair
    .endr
    ret

20: add     x14, x9, #D_SCTLR           /* the VM-control group: the incoming's */
    ldp     x10, x11, [x14]
    msr     sctlr_el12, x10
    msr     ttbr0_el12, x11
    ldp     x10, x11, [x14, #16]
    msr     ttbr1_el12, x10
    msr     tcr_el12, x11
    ldp     x10, x11, [x14, #32]
    msr     mair_el12, x10
    msr     amair_el12, x11
    ldp     x10, x11, [x14, #48]
    msr     contextidr_el12, x10
    msr     afsr0_el12, x11
    ldr     x10, [x14, #64]
    msr     afsr1_el12, x10
    b       2b

/* vm_defaults: the VM-control group's defaults into the registers (a
   domain with F_VMSET whose state was loaded is freed).  Clobbers x0. */
vm_defaults:
    vm_group_defaults
    ret

/*
 * domain_msr: a domain's MSR to a VM-control register, trapped by
 * HCR_EL2.TVM (x16 = ESR, x16/x17 in the frame): done for it (so it takes
 * effect), kept in its DCB, the domain marked as having set them
 * (F_VMSET: el1_switch reloads the group); ESR_EL1 and FAR_EL1
 * are written only (they are in the compared group).  Then on after the
 * MSR.  Anything else trapped here ends the domain.
 */
domain_msr:
    tbnz    x16, #0, domain_trap        /* a read: never trapped (TRVM clear) */
    str     x15, [sp, #D_X(15)]
    ubfx    x17, x16, #5, #5            /* Rt: its value into x17 */
    adr     x15, 1f
    add     x15, x15, x17, lsl #3
    br      x15
1:  .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
    mov     x17, x\n
    b       2f
    .endr
    .irp n, 15, 16, 17
    ldr     x17, [sp, #D_X(\n)]
    b       2f
    .endr
    .irp n, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    mov     x17, x\n
    b       2f
    .endr
    mov     x17, xzr
    b       2f
2:  movq    x15, 0x3FFC1E
    and     x16, x16, x15               /* Op0 Op2 Op1 CRn CRm */
    vm_msr  0x300400, sctlr_el12, D_SCTLR
    vm_msr  0x300800, ttbr0_el12, D_TTBR0
    vm_msr  0x320800, ttbr1_el12, D_TTBR1
    vm_msr  0x340800, tcr_el12, D_TCR
    vm_msr  0x302804, mair_el12, D_MAIR
    vm_msr  0x302806, amair_el12, D_AMAIR
    vm_msr  0x323400, contextidr_el12, D_CTXIDR
    vm_msr  0x301402, afsr0_el12, D_AFSR0
    vm_msr  0x321402, afsr1_el12, D_AFSR1
    movq    x15, 0x301404
    cmp     x16, x15
    b.ne    3f
    msr     esr_el12, x17
    b       9f
3:  movq    x15, 0x301800
    cmp     x16, x15
    b.ne    4f
    msr     far_el12, x17
    b       9f
4:  ldr     x15, [sp, #D_X(15)]         /* none of ours: ended */
    mrs     x16, esr_el2
    b       domain_trap
8:  ldr     x16, [sp, #D_FLAGS]         /* F_VMSET: el1_switch reloads the group */
    orr     x16, x16, #F_VMSET
    str     x16, [sp, #D_FLAGS]
9:  ldr     x15, [sp, #D_X(15)]
    mrs     x16, elr_el2
    add     x16, x16, #4                /* past the MSR */
    msr     elr_el2, x16
    ldp     x16, x17, [sp, #D_X(16)]
    eret

/*
 * domain_sync: VBAR_EL2 + 0x400, a synchronous exception from the
 * domain, SP_EL2 = its DCB.  The HVC fast paths first.
 */
/* bench: hvc_round_trip (budget 140 cycles; HVC #1 below) */
    .globl domain_sync
domain_sync:
    stp     x16, x17, [sp, #D_X(16)]
    mrs     x16, esr_el2
    lsr     x17, x16, #26
    cmp     x17, #0x16                  /* HVC */
    b.ne    domain_abort
    and     x17, x16, #0xffff
    cmp     x17, #1
    b.ne    1f
    ldp     x16, x17, [sp, #D_X(16)]    /* HVC #1: the null call */
    eret
1:  cmp     x17, #2
    b.eq    domain_call
    cbz     x17, domain_exit
    cmp     x17, #0x100
    b.hs    domain_el1_exception
    b       domain_trap

/* HVC #0: the domain is done, x0 is the value */
domain_exit:
    to_host 0
    mov     x1, #R_EXIT
domain_return:                          /* x0 value, x1 reason, x9 DCB */
    ldr     x2, [x9, #D_STATE]
    cmp     x2, #1
    b.ne    1f
    str     xzr, [x9, #D_STATE]         /* idle again (not if ended) */
1:  msr     daifclr, #3
    ldp     x30, x9, [sp], #16
    str     x0, [dsp]                   /* DOMAIN-RUN's results */
    mov     tos, x1
    ret

/*
 * HVC #2: IPC CALL on the domain's behalf.  The domain's x18-x30, ELR,
 * SPSR are kept in the frame (x0-x4 carry the call and the reply, x5-x17
 * are the call's to clobber); the thread calls the endpoint as any thread
 * does (kernel/ipc.S; it may block, be preempted, anything), then the
 * domain resumes with the reply.
 */
/* bench: domain_ipc (budget 280 cycles) */
domain_call:
    stp     x18, x19, [sp, #D_X(18)]
    stp     x20, x21, [sp, #D_X(20)]
    stp     x22, x23, [sp, #D_X(22)]
    stp     x24, x25, [sp, #D_X(24)]
    stp     x26, x27, [sp, #D_X(26)]
    stp     x28, x29, [sp, #D_X(28)]
    mrs     x16, elr_el2
    mrs     x17, spsr_el2
    str     x30, [sp, #D_X(30)]
    stp     x16, x17, [sp, #D_ELR]
    to_host
    cmp     x0, #8
    b.hs    2f
    add     x16, x9, #D_EPS
    ldr     x0, [x16, x0, lsl #3]
    cbz     x0, 2f
    msr     daifclr, #3                 /* a thread again */
    mov     x15, #0                     /* no deadline */
    add     x21, x9, #D_REPLY           /* the reply is written there (the fast paths) */
    bl      ipc_call
    ldr     x9, [sp, #8]
    ldp     x4, x3, [x9, #D_REPLY]
    ldp     x2, x1, [x9, #(D_REPLY + 16)]
    mov     x0, #0
3:  msr     daifset, #3
    b       domain_resume_call
2:  mov     x0, #-1                     /* no such endpoint slot */
    b       3b

/* domain_resume_call ( x9 = DCB, masked, x0-x4 the result ): back into
   the domain after a call */
domain_resume_call:
    load_domain
    enter_prepare
    ldp     x18, x19, [sp, #D_X(18)]
    ldp     x20, x21, [sp, #D_X(20)]
    ldp     x22, x23, [sp, #D_X(22)]
    ldp     x24, x25, [sp, #D_X(24)]
    ldp     x26, x27, [sp, #D_X(26)]
    ldp     x28, x29, [sp, #D_X(28)]
    ldr     x30, [sp, #D_X(30)]
    zero_regs 5,6,7,8,9,10,11,12,13,14,15,16,17
    eret

/*
 * domain_interrupt: VBAR_EL2 + 0x480/0x500, a physical interrupt while
 * the domain runs.  Everything into the frame; the thread unmasks and
 * takes the interrupt itself (the vector for threads, where it may be
 * preempted like any thread), then re-enters with every register back.
 */
    .globl domain_interrupt
domain_interrupt:
    stp     x16, x17, [sp, #D_X(16)]
    str     x30, [sp, #D_X(30)]
    bl      save_all
    to_host
    msr     daifclr, #3                 /* taken here */
    isb
    msr     daifset, #3
    ldr     x9, [sp, #8]
    load_domain
    enter_prepare
    ldp     x0, x1, [sp, #D_X(0)]
    ldp     x2, x3, [sp, #D_X(2)]
    ldp     x4, x5, [sp, #D_X(4)]
    ldp     x6, x7, [sp, #D_X(6)]
    ldp     x8, x9, [sp, #D_X(8)]
    ldp     x10, x11, [sp, #D_X(10)]
    ldp     x12, x13, [sp, #D_X(12)]
    ldp     x14, x15, [sp, #D_X(14)]
    ldp     x16, x17, [sp, #D_X(16)]
    ldp     x18, x19, [sp, #D_X(18)]
    ldp     x20, x21, [sp, #D_X(20)]
    ldp     x22, x23, [sp, #D_X(22)]
    ldp     x24, x25, [sp, #D_X(24)]
    ldp     x26, x27, [sp, #D_X(26)]
    ldp     x28, x29, [sp, #D_X(28)]
    ldr     x30, [sp, #D_X(30)]
    eret

/* save_all: x0-x15, x18-x30 (x16/x17 already), ELR, SPSR into the frame.
   (x30 is saved before the call clobbers it: see the caller's BL.) */
save_all:
    stp     x0, x1, [sp, #D_X(0)]
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x0, x1, [sp, #D_ELR]
    stp     x2, x3, [sp, #D_X(2)]
    stp     x4, x5, [sp, #D_X(4)]
    stp     x6, x7, [sp, #D_X(6)]
    stp     x8, x9, [sp, #D_X(8)]
    stp     x10, x11, [sp, #D_X(10)]
    stp     x12, x13, [sp, #D_X(12)]
    stp     x14, x15, [sp, #D_X(14)]
    stp     x18, x19, [sp, #D_X(18)]
    stp     x20, x21, [sp, #D_X(20)]
    stp     x22, x23, [sp, #D_X(22)]
    stp     x24, x25, [sp, #D_X(24)]
    stp     x26, x27, [sp, #D_X(26)]
    stp     x28, x29, [sp, #D_X(28)]
    ret

/*
 * domain_abort (x16 = ESR, x17 = EC): a trapped MSR (domain_msr), or a
 * stage-2 abort.  A level-3 translation fault on a page whose invalid
 * entry is marked demand-zero, by an access the rights in the mark allow:
 * the page is mapped (its frame from the mark, or the zeroed-page stack
 * when the mark has none) and the access retried (the soft stage-2
 * fault).  No record is searched.  Anything else ends the domain.
 */
/* bench: stage2_fault (budget 350 cycles) */
domain_abort:
    cmp     x17, #0x18                  /* MSR trapped by TVM */
    b.eq    domain_msr
    cmp     x17, #0x24                  /* data abort from a lower EL */
    b.eq    1f
    cmp     x17, #0x20                  /* or an instruction abort */
    b.ne    domain_trap
1:
    stp     x0, x1, [sp, #D_X(0)]
    stp     x2, x3, [sp, #D_X(2)]
    stp     x4, x5, [sp, #D_X(4)]
    stp     x6, x7, [sp, #D_X(6)]
    and     x0, x16, #0x3f
    cmp     x0, #0x07                   /* translation fault, level 3 */
    b.ne    domain_forbidden
    mrs     x0, hpfar_el2
    lsl     x0, x0, #8                  /* HPFAR[39:4] = IPA[51:12] */
    and     x0, x0, #OA_MASK            /* the page */
    ldr     x5, [sp, #D_VTTBR]
    and     x5, x5, #OA_MASK
    ubfx    x4, x0, #25, #11
    ldr     x5, [x5, x4, lsl #3]        /* a table: the walk reached level 3 */
    and     x5, x5, #OA_MASK
    ubfx    x4, x0, #14, #11
    add     x5, x5, x4, lsl #3          /* the page's entry */
    ldr     x6, [x5]
    tbz     x6, #DZ_BIT, domain_forbidden
    mov     x3, #4                      /* needs X (fetch), W (write) or R */
    cmp     x17, #0x20
    b.eq    2f
    tst     x16, #(1 << 6)              /* WnR */
    mov     x3, #1
    mov     x4, #2
    csel    x3, x4, x3, ne
2:  ubfx    x2, x6, #SWPERM_SHIFT, #3   /* the rights in the mark */
    tst     x2, x3
    b.eq    domain_forbidden
    str     x30, [sp, #D_X(30)]
    ands    x0, x6, #OA_MASK            /* its frame; none yet: from the stack */
    b.eq    5f
3:  bl      s2_desc
    str     x3, [x5]
    dsb     ishst                       /* invalid -> valid: no TLBI */
    ldp     x0, x1, [sp, #D_X(0)]
    ldp     x2, x3, [sp, #D_X(2)]
    ldp     x4, x5, [sp, #D_X(4)]
    ldp     x6, x7, [sp, #D_X(6)]
    ldp     x16, x17, [sp, #D_X(16)]
    ldr     x30, [sp, #D_X(30)]
    eret
5:  mrs     x1, tpidr_el2
    add     x1, x1, #PC_ZTOP
    ldp     x7, x4, [x1]                /* top, base */
    cmp     x7, x4
    b.eq    6f
    ldr     x0, [x7, #-8]!
    str     x7, [x1]
    b       3b
6:  stp     x8, x9, [sp, #D_X(8)]       /* none zeroed ahead: one now, on the */
    mov     x6, x5                      /* exception stack (free while a domain runs) */
    mov     x7, x2
    sub     x9, x1, #PC_ZTOP
    mov     x8, sp
    ldr     x0, [x9, #PC_ESTACK]        /* this core's exception stack */
    mov     sp, x0
    bl      zpage_slow
    mov     sp, x8
    mov     x5, x6
    mov     x2, x7
    ldp     x8, x9, [sp, #D_X(8)]
    cbnz    x0, 3b
    /* no memory left: ended, as a fault at that address */

/* a forbidden access (x16 = ESR): the address from HPFAR and FAR */
domain_forbidden:
    mrs     x0, hpfar_el2
    lsl     x0, x0, #8
    and     x0, x0, #~0xfff
    mrs     x1, far_el2
    and     x1, x1, #0xfff
    orr     x0, x0, x1
    mrs     x1, elr_el2
    mov     x17, #R_FAULT
    b       domain_end

/* an exception to EL1, turned into HVC #0x100+n by the stub vectors */
domain_el1_exception:
    mrs     x16, esr_el12
    mov     x0, x16
    mrs     x1, elr_el12
    mov     x17, #R_EXCEPTION
    b       domain_end

/* anything else (trapped WFI, SMC, an unknown HVC): x16 = ESR */
domain_trap:
    mov     x0, x16
    mrs     x1, elr_el2
    mov     x17, #R_TRAP
    /* fall through */

/* domain_end (x16 ESR, x0 value, x1 ELR, x17 reason): ended, reported */
domain_end:
    stp     x16, x0, [sp, #D_FESR]
    str     x1, [sp, #D_FELR]
    mov     x1, #2
    str     x1, [sp, #D_STATE]
    mov     x19, x17
    to_host 0
    mov     x20, x9
    ladr    x0, msg_domain
    bl      console_puts
    ldr     x0, [x20, #D_ID]
    bl      console_dec
    ladr    x0, msg_ended
    bl      console_puts
    sub     x0, x19, #1
    ladr    x1, msg_reasons
    ldr     x0, [x1, x0, lsl #3]
    ladr    x1, msg_reasons
    add     x0, x1, x0
    bl      console_puts
    ladr    x0, msg_at
    bl      console_puts
    ldr     x0, [x20, #D_FADDR]
    bl      console_hex
    ladr    x0, msg_elr
    bl      console_puts
    ldr     x0, [x20, #D_FELR]
    bl      console_hex
    ladr    x0, msg_esr
    bl      console_puts
    ldr     x0, [x20, #D_FESR]
    bl      console_hex
    bl      console_newline
    ldr     x0, [x20, #D_FADDR]
    mov     x1, x19
    mov     x9, x20
    b       domain_return

/* VBAR_EL2 + 0x580: SError from the domain: ended */
    .globl domain_serror
domain_serror:
    stp     x16, x17, [sp, #D_X(16)]
    mov     x16, #(0x2f << 26)
    b       domain_trap

/*
 * The EL1 vectors every domain has (granted read/execute): each entry
 * is HVC #0x100+n, so an exception inside the domain ends it with
 * ESR_EL1 and ELR_EL1 in the report.  A page of its own.
 */
    .balign PAGE
    .globl domain_el1_vectors
domain_el1_vectors:
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    hvc     #(0x100 + \n)
    .endr
    .balign PAGE

    .section .rodata
msg_domain:     .asciz "\r\ndomain "
msg_ended:      .asciz " ended: "
msg_at:         .asciz " at "
msg_elr:        .asciz " ELR "
msg_esr:        .asciz " ESR "
    .balign 8
msg_reasons:
    .quad   msg_r1 - msg_reasons
    .quad   msg_r2 - msg_reasons
    .quad   msg_r3 - msg_reasons
msg_r1:         .asciz "forbidden access (stage-2 fault)"
msg_r2:         .asciz "exception at EL1, ESR_EL1"
msg_r3:         .asciz "trapped, ESR_EL2"

    .bss
    .balign 16
domain_globals:
    .space  G_SIZE
