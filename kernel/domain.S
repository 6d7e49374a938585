/*
 * Domains and soft page faults.
 *
 * EL2 demand-zero regions.  A region is reserved and zeroed when it is
 * made, and its 16 KiB pages are left invalid in the EL2 map (level 3 of
 * the two-level walk).  The first touch from a Forth thread is a level-3
 * translation fault; el2_sync_sp0 (the vector for Forth's synchronous
 * exceptions) looks the address up in the region list and, if it is
 * there, writes the page descriptor and returns: the "soft page fault".
 * The map is identity, so a page's frame is fixed: the zeroing cannot be
 * moved to a pre-zeroed pool and is done when the region is made, off
 * the fault path.  Invalid -> valid needs no TLB maintenance (no TLB
 * caches a faulting entry), only the DSB that makes the store visible
 * to the walker; the ERET is the context synchronisation.
 *
 * Domains.  A domain is code running at EL1 (stage 1 off, HCR_EL2.DC: its
 * accesses are Normal write-back) under its own stage-2 identity tables
 * that grant only its regions: one level-2 table of 2048 32-MiB entries,
 * level-3 tables of 16 KiB pages where it has grants, so every stage-2
 * walk is two levels deep.  Each domain has a VMID, so entering another
 * domain is a VTTBR write and no TLB flush.  It is entered by ERET from
 * the Forth thread that runs it (DOMAIN-RUN) and comes back by:
 *   HVC #0   exit: x0 is DOMAIN-RUN's value
 *   HVC #1   null call (returns at once; the HVC round trip)
 *   HVC #2   IPC CALL: x0 = endpoint slot (0-7), x1-x4 the message; the
 *            running thread calls that endpoint on its behalf; x0 = 0 and
 *            x1-x4 the reply come back (x0 = -1: no such slot)
 *   a stage-2 translation fault in a demand-zero region: the page is
 *            mapped and the access retried (the soft stage-2 fault)
 *   any other stage-2 fault: the domain is ended, with a report
 *   an exception to EL1 (UDF, SVC, alignment...): EL1's vectors are a
 *            kernel stub page (granted read/execute to every domain)
 *            that turns it into HVC #0x100+n: the domain is ended
 *   a physical interrupt (routed to EL2 by HCR_EL2.FMO/IMO): the domain's
 *            registers are saved, the thread takes the interrupt in its
 *            own context (it may be preempted), then re-enters.
 * HVC calls clobber x5-x17 (they come back zero) and SP_EL0.
 *
 * While a domain runs, SP_EL2 points at its control block (DCB), whose
 * first bytes are its register frame: a lower-EL exception saves
 * registers with no address arithmetic.  Leaving for the thread puts
 * SP_EL2 back on the exception stack and drops to EL2t (SPSel = 0) in the
 * thread's context: no ERET.  HCR_EL2 switches between the host value
 * (m1n1's: E2H, TGE) and the domain value (TGE clear; VM, DC, FMO/IMO/AMO,
 * TWI/TWE, TSC set) on each crossing.
 *
 * The kernel's own record of a domain's grants is a list of records
 * (base, length, flags) applied oldest first: MAP sets a page's state to
 * its permissions (R 1, W 2, X 4, demand-zero 8), UNMAP clears it,
 * PROTECT replaces the permissions of a granted page.  The tables are
 * rebuilt from the record for every page a new record covers, so the two
 * always agree (tests/test_domains.py walks the tables and checks).
 *
 * One core: the current/loaded domain are globals (per-core later).
 * EL1 system registers other than SP_EL1 and VBAR_EL1 are not switched
 * between domains (docs/domains.md).
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

/* DCB: one 4 KiB block */
#define D_X(n)          ((n) * 8)       /* x0-x30 */
#define D_ELR           248
#define D_SPSR          256
#define D_SPEL1         264
#define D_HOST          272             /* x24 x25 x26 x27 x28 sp of the running thread */
#define D_VTTBR         320
#define D_ID            328
#define D_HCR_HOST      336
#define D_HCR_DOM       344
#define D_ENTRY         352
#define D_STACK         360
#define D_STATE         368             /* 0 idle, 1 running, 2 ended */
#define D_NREC          376
#define D_EPS           384             /* 8 endpoint slots */
#define D_FESR          448             /* the fault that ended it: ESR, address, ELR */
#define D_FADDR         456
#define D_FELR          464
#define D_REPLY         480             /* a reply lands here: r3 r2 r1 r0 */
#define D_REC           512             /* records: base, length, flags */
#define REC_SIZE        24
#define NREC_MAX        64

#define P_PERM          7
#define P_DEMAND        8
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

/* VTCR_EL2: T0SZ 28 (36-bit IPA), SL0 = 1 (start at level 2 with 16 KiB),
   inner/outer write-back, inner shareable, TG0 = 16 KiB, RES1 bit 31; PS
   from ID_AA64MMFR0 */
#define VTCR_VALUE      (28 | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 14) | (1 << 31))
#define HCR_VM          (1 << 0)
#define HCR_FMO_IMO_AMO 0x38
#define HCR_DC          (1 << 12)
#define HCR_TWI_TWE     (3 << 13)
#define HCR_TSC         (1 << 19)
#define HCR_TGE         (1 << 27)
#define HCR_RW          (1 << 31)
#define SPSR_EL1H       0x3c5           /* EL1h; its own DAIF masks only virtual interrupts */

/* the globals */
#define G_NDEMAND       0               /* EL2 demand regions: how many (the list is last) */
#define G_CURRENT       8               /* the domain running (or last run) */
#define G_LOADED        16              /* whose VTTBR, VBAR_EL1, SP_EL1 are loaded */
#define G_READY         24
#define G_HCR_HOST      32
#define G_HCR_DOM       40
#define G_VMIDS         48              /* 256-bit VMID bitmap */
#define G_DEMAND        80              /* per region: base, end, its level-2 table, 0 */
#define DEMAND_SIZE     32
#define NDEMAND_MAX     16
#define G_SIZE          (G_DEMAND + DEMAND_SIZE * NDEMAND_MAX)

/* ---- the soft page fault at EL2 ----------------------------------------- */

    .text
/*
 * el2_sync_sp0: VBAR_EL2 + 0x000, a synchronous exception from a Forth
 * thread (EL2t), on SP_EL2.  A level-3 translation fault on a data access
 * inside a demand-zero region maps the page and returns to retry it;
 * everything else goes to forth_sync with the registers as they came.
 */
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
    ladr    x1, domain_globals
    ldr     x2, [x1], #G_DEMAND         /* the count */
1:  cbz     x2, 9f
    ldp     x3, x4, [x1], #DEMAND_SIZE  /* base, end */
    sub     x2, x2, #1
    cmp     x0, x3
    ccmp    x0, x4, #2, hs              /* inside: base <= far < end */
    b.hs    1b
    ldur    x5, [x1, #(16 - DEMAND_SIZE)]   /* its level-2 table */
    ubfx    x2, x0, #25, #11
    ldr     x5, [x5, x2, lsl #3]        /* the level-3 table */
    and     x5, x5, #0xFFFFFFFFC000
    ubfx    x2, x0, #14, #11
    and     x0, x0, #~(PAGE - 1)
    mov     x3, #EL2_DEMAND_LO
    movk    x3, #EL2_DEMAND_HI, lsl #48
    orr     x0, x0, x3
    str     x0, [x5, x2, lsl #3]
    dsb     ishst                       /* the walker sees it; ERET synchronises */
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x0, x1, [sp], #48
    eret
9:  ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x0, x1, [sp], #48
    b       forth_sync

/*
 * demand_region ( x0 = bytes -- x0 = address or 0 ): a new EL2
 * demand-zero region, 16 KiB aligned, zeroed, its pages unmapped.
 * From thread context.  Clobbers x0-x23.
 */
    .globl demand_region
demand_region:
    mov     x23, x30
    ladr    x19, domain_globals
    ldr     x1, [x19, #G_NDEMAND]
    cmp     x1, #NDEMAND_MAX
    b.hs    8f
    mov     x1, #(PAGE - 1)
    add     x0, x0, x1
    and     x20, x0, #~(PAGE - 1)       /* bytes, whole pages */
    cbz     x20, 8f
    bl      reserve_pages
    cbz     x0, 8f
    mov     x21, x0
    add     x22, x0, x20                /* end */
    mov     x1, x21
    mov     x2, x22
    bl      zero_range
    sub     x0, x22, #1                 /* one level-2 table must cover it all */
    bl      l2_slot
    mov     x5, x1
    mov     x0, x21
    bl      l2_slot
    cmp     x1, x5
    b.ne    8f                          /* it straddles 64 GiB (level-1 root) */
    cbz     x1, 8f
    ubfx    x2, x21, #25, #11
    sub     x1, x1, x2, lsl #3          /* the table itself */
    mov     x6, x1
    mov     x5, x21
1:  mov     x0, x5                      /* mmu_unmap_page keeps x4-x9 */
    bl      mmu_unmap_page
    add     x5, x5, #PAGE
    cmp     x5, x22
    b.lo    1b
    ldr     x1, [x19, #G_NDEMAND]
    add     x2, x19, #G_DEMAND
    add     x2, x2, x1, lsl #5
    stp     x21, x22, [x2]
    stp     x6, xzr, [x2, #16]
    add     x1, x1, #1
    str     x1, [x19, #G_NDEMAND]       /* published last: the handler may use it */
    mov     x0, x21
    ret     x23
8:  mov     x0, #0
    ret     x23

/* reserve_pages ( x0 = bytes, a multiple of 16 KiB -- x0 = address or 0 ):
   never-used memory from the boot bump region.  Clobbers x1-x3. */
    .globl reserve_pages
reserve_pages:
    b       bump_alloc

/* zero_range ( x1 = start, x2 = end, both 64-byte aligned ) Clobbers x1. */
zero_range:
    cmp     x1, x2
    b.hs    2f
1:  stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    stp     xzr, xzr, [x1, #32]
    stp     xzr, xzr, [x1, #48]
    add     x1, x1, #64
    cmp     x1, x2
    b.lo    1b
2:  ret

/* ---- domains: making, granting, ending ---------------------------------- */

/* domains_hw_init: HCR values, VTCR_EL2, VMID 0 kept for the host.
   Clobbers x0, x1. */
domains_hw_init:
    ladr    x1, domain_globals
    mrs     x0, hcr_el2
    str     x0, [x1, #G_HCR_HOST]
    bic     x0, x0, #HCR_TGE
    movq    x2, (HCR_VM | HCR_FMO_IMO_AMO | HCR_DC | HCR_TWI_TWE | HCR_TSC | HCR_RW)
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
    mov     x1, x0
    add     x2, x0, #4096
    bl      zero_range
    bl      kalloc_page
    cbz     x0, 7f
    mov     x22, x0
    mov     x1, x0
    add     x2, x0, #PAGE
    bl      zero_range
    dsb     ishst
    orr     x0, x22, x20, lsl #48
    str     x0, [x21, #D_VTTBR]
    str     x20, [x21, #D_ID]
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
 * domain_free ( x0 = DCB ): its tables, its VMID (its TLB entries
 * flushed first), the DCB.  Not while it runs.  Clobbers x0-x23.
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
    and     x0, x0, #0xFFFFFFFFC000
    bl      kfree_page                  /* a level-3 table */
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
    str     xzr, [x19, #G_LOADED]
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
    and     x2, x7, #15                 /* MAP */
    b       1b
2:  mov     x2, #0                      /* UNMAP */
    b       1b
3:  cbz     x2, 1b                      /* PROTECT: granted pages only */
    and     x2, x2, #P_DEMAND
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
 * K_UNMAP or K_PROTECT), then every page it covers rebuilt from the whole
 * record.  Pages going from valid to anything else cost one TLB
 * invalidation at the end.  Clobbers x0-x18.
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
    ldr     x5, [x0, #D_NREC]
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
    ldr     x15, [x10, #D_VTTBR]
    and     x15, x15, #0xFFFFFFFFC000
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
    cbz     x0, 7f
    mov     x1, x0
    add     x2, x0, #PAGE
    bl      zero_range
    dsb     ishst
    orr     x6, x0, #3
    str     x6, [x15, x5, lsl #3]
    mov     x2, x16
3:  and     x6, x6, #0xFFFFFFFFC000
    ubfx    x5, x11, #14, #11
    add     x6, x6, x5, lsl #3          /* the page's entry */
    ldr     x7, [x6]                    /* old */
    mov     x3, #0                      /* new: invalid unless... */
    tst     x2, #P_PERM
    b.eq    5f                          /* no access */
    mov     x0, x11
    tbz     x2, #3, 4f                  /* not demand-zero: mapped now */
    tst     x13, #(K_UNMAP | K_PROTECT)
    b.eq    41f                         /* a fresh demand-zero grant */
    tbz     x7, #0, 5f                  /* demand-zero, not touched yet */
4:  bl      s2_desc
    b       5f
41: mov     x1, x11                     /* zeroed now; mapped at first touch */
    add     x2, x11, #PAGE
    bl      zero_range
    mov     x3, #0
5:  cmp     x3, x7
    b.eq    6f
    tbz     x7, #0, 51f
    mov     x14, #1                     /* a valid entry changes */
51: str     x3, [x6]
6:  add     x11, x11, #PAGE
    cmp     x11, x12
    b.lo    1b
    dsb     ishst
    cbz     x14, 61f
    tlbi    alle1is
    dsb     ish
    isb
61: mov     x0, #0
    ret     x18
7:  mov     x0, #-59                    /* ALLOCATE: out of records or memory */
    ret     x18
8:  mov     x0, #-24                    /* invalid numeric argument */
    ret     x18

/* ---- running a domain --------------------------------------------------- */

/* load_domain x9 = DCB (masked): VTTBR, VBAR_EL1, SP_EL1 when another
   domain's are loaded.  Clobbers x16, x17. */
.macro load_domain
    ladr    x17, domain_globals
    str     x9, [x17, #G_CURRENT]
    ldr     x16, [x17, #G_LOADED]
    cmp     x16, x9
    b.eq    8901f
    str     x9, [x17, #G_LOADED]
    ldr     x16, [x9, #D_VTTBR]
    msr     vttbr_el2, x16              /* VMID-tagged: no TLB flush */
    ladr    x16, domain_el1_vectors
    msr     vbar_el12, x16
    ldr     x16, [x9, #D_SPEL1]
    msr     sp_el1, x16
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
 * domain_run ( x0 = DCB, x1 = argument -- x0 = value, x1 = reason ): run
 * the domain from its entry point with x0 = argument until it exits or
 * is ended.  From a Forth thread (EL2t).  Clobbers x0-x23.
 */
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
    mov     x4, #SPSR_EL1H
    stp     x2, x4, [x0, #D_ELR]
    str     x3, [x0, #D_SPEL1]
    mov     x9, x0
    msr     daifset, #3
    load_domain
    msr     sp_el1, x3                  /* a fresh start: its initial stack */
    enter_prepare
    mov     x0, x1                      /* the argument; nothing else of ours */
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
    mov     x4, #0
    b       enter_clear5

9:  mov     x0, #0
    mov     x1, #R_BUSY
    ldp     x30, x9, [sp], #16
    ret

/* enter_clear5: x5-x30 zeroed, ERET (x0-x4 as given) */
enter_clear5:
    zero_regs 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    eret

/*
 * to_host (SP_EL2 = DCB, x16/x17 free): back to the thread that runs the
 * domain, still masked: host HCR, SP_EL2 on the exception stack, EL2t on
 * the thread's stack, its x24-x28.  Leaves x9 = DCB.
 */
.macro to_host
    mov     x9, sp
    mrs     x16, sp_el1
    str     x16, [x9, #D_SPEL1]
    ldr     x16, [x9, #D_HCR_HOST]
    msr     hcr_el2, x16
    ladr    x16, boot_stack_top
    mov     sp, x16
    msr     spsel, #0
    ldp     x24, x25, [x9, #D_HOST]
    ldp     x26, x27, [x9, #(D_HOST + 16)]
    ldp     x28, x16, [x9, #(D_HOST + 32)]
    mov     sp, x16
.endm

/*
 * domain_sync: VBAR_EL2 + 0x400, a synchronous exception from the
 * domain, SP_EL2 = its DCB.  The HVC fast paths first.
 */
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
    to_host
    mov     x1, #R_EXIT
domain_return:                          /* x0 value, x1 reason, x9 DCB */
    ldr     x2, [x9, #D_STATE]
    cmp     x2, #1
    b.ne    1f
    str     xzr, [x9, #D_STATE]         /* idle again (not if ended) */
1:  msr     daifclr, #3
    ldp     x30, x9, [sp], #16
    ret

/*
 * HVC #2: IPC CALL on the domain's behalf.  The domain's x18-x30, ELR,
 * SPSR are kept in the frame (x0-x4 carry the call and the reply, x5-x17
 * are the call's to clobber); the thread calls the endpoint as any thread
 * does (kernel/ipc.S; it may block, be preempted, anything), then the
 * domain resumes with the reply.
 */
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
 * domain_abort (x16 = ESR, x17 = EC): a stage-2 abort.  A translation
 * fault in a demand-zero region the access is allowed in: map the page
 * and retry (the soft stage-2 fault).  Anything else ends the domain.
 */
domain_abort:
    cmp     x17, #0x24                  /* data abort from a lower EL */
    b.eq    1f
    cmp     x17, #0x20                  /* or an instruction abort */
    b.ne    domain_trap
1:
    stp     x0, x1, [sp, #D_X(0)]
    stp     x2, x3, [sp, #D_X(2)]
    stp     x4, x5, [sp, #D_X(4)]
    stp     x6, x7, [sp, #D_X(6)]
    and     x0, x16, #0x3c
    cmp     x0, #0x04                   /* translation fault, any level */
    b.ne    domain_forbidden
    mrs     x0, hpfar_el2
    lsl     x0, x0, #8                  /* HPFAR[39:4] = IPA[51:12] */
    and     x0, x0, #0xFFFFFFFFC000     /* the page */
    lsr     x1, x0, #VA_BITS
    cbnz    x1, domain_forbidden
    str     x30, [sp, #D_X(30)]
    mov     x1, sp
    bl      s2_state                    /* x2 = the page's state */
    tbz     x2, #3, domain_forbidden    /* not demand-zero */
    mov     x3, #4                      /* needs X (fetch), W (write) or R */
    cmp     x17, #0x20
    b.eq    1f
    tst     x16, #(1 << 6)              /* WnR */
    mov     x3, #1
    mov     x4, #2
    csel    x3, x4, x3, ne
1:  tst     x2, x3
    b.eq    domain_forbidden
    ldr     x5, [sp, #D_VTTBR]
    and     x5, x5, #0xFFFFFFFFC000
    ubfx    x4, x0, #25, #11
    ldr     x5, [x5, x4, lsl #3]        /* a table: the grant made it */
    and     x5, x5, #0xFFFFFFFFC000
    ubfx    x4, x0, #14, #11
    add     x5, x5, x4, lsl #3
    bl      s2_desc
    str     x3, [x5]
    dsb     ishst                       /* invalid -> valid: no TLBI */
    ldp     x0, x1, [sp, #D_X(0)]
    ldp     x2, x3, [sp, #D_X(2)]
    ldp     x4, x5, [sp, #D_X(4)]
    ldp     x6, x7, [sp, #D_X(6)]
    ldp     x16, x17, [sp, #D_X(16)]
    ldr     x30, [sp, #D_X(30)]
    eret

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
    to_host
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
    .globl domain_globals
domain_globals:
    .space  G_SIZE
