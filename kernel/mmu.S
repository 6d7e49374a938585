/*
 * The EL2 identity map: VHE (EL2&0 regime, TCR in the EL1 layout), 16 KiB
 * granule.  It maps exactly what may be touched, and nothing else:
 *   usable RAM [phys_base, phys_base + mem_size) Normal write-back,
 *   the framebuffer Normal non-cacheable,
 *   the board's device windows (from the ADT or DTB) Device-nGnRnE.
 * What lies around usable RAM is coprocessor, SEP and TZ carveouts that
 * raise SErrors even on speculative access (m1n1 src/mcc.c
 * mcc_unmap_carveouts, src/memory.c): unmapped.  phys_base is not 32 MiB
 * aligned on real machines (an M1 boot log shows 0x819b34000), so the
 * edges of each range are 16 KiB level-3 pages and only whole 32 MiB
 * blocks inside a range are level-2 blocks.
 *
 * Shape: with everything below 64 GiB (a base M3: DRAM at 0x8_0000_0000)
 * T0SZ = 28 and the walk starts at level 2: two levels, a TLB miss costs
 * one table read (level 3 where pages are).  RAM above 64 GiB (M3 Pro and
 * Max: DRAM at 0x100_0000_0000) widens the space up to 47 bits with a
 * level-1 root; beyond that boot stops with a message.
 *
 * Break-before-make.  Apple cores report no FEAT_BBM, so a live
 * descriptor may change from one valid value to another (block <-> table,
 * output address, attributes) only through an invalid entry and a TLBI
 * (Arm ARM DDI 0487, "Using break-before-make when updating translation
 * table entries").  So every table boot needs is built before the MMU goes
 * on, and afterwards:
 *   - a block becomes a table only while nothing uses it (mmu_split_block,
 *     from bump_alloc the moment the bump frontier first enters a block:
 *     memory above the frontier is untouched), with invalid, DSB, TLBI,
 *     DSB, table;
 *   - pages are only made invalid (guard pages; a "break" alone is always
 *     allowed) or valid from invalid (demand paging: no TLB holds an
 *     invalid entry).
 * The emulated M3 checks both rules on every run (harness/machine/
 * mmu_rules.py).
 *
 * The image's own code and constants are read-only.  [__image_start,
 * __ro_end) (the header, .text, .rodata: linker/kernel.ld puts
 * __ro_end on a 16 KiB boundary) is mapped in level-3 pages, and once the
 * dictionary's hash links in the assembly words' headers are filled
 * (dict_init, the one boot-time writer of .text) mmu_seal_image sets
 * AP[2] in those pages: read-only at EL2, still executable (PXN clear).
 * A store there is a permission fault, which a Forth thread sees as THROW
 * -9 (kernel/vectors.S); nothing at run time writes the image's code or
 * constants (everything mutable is in .data or .bss).  The image's .data
 * and .bss, the stacks, the dictionary (code compiled at run time: it
 * stays writable and executable) and everything else stay as above.
 * AP[2:1] are descriptor bits 7:6; in a regime with two privilege levels
 * (EL2&0 with E2H = 1, which this kernel runs in) 0b00 is read/write at
 * EL2 and no access at EL0, 0b10 read-only at EL2 and no access at EL0
 * (Arm ARM DDI 0487 K.a D8.4 "Memory access control", the stage 1 direct
 * data access permissions, Table D8-49).  Changing only AP on a live page
 * needs no break-before-make, only the TLBI afterwards (D8.16.1 lists what
 * needs it; Linux arch/arm64/mm/mmu.c pgattr_change_is_safe and
 * mark_rodata_ro do the same for the kernel's rodata).
 *
 * One range is not identity: the demand window, 4 GiB of addresses above
 * the highest one mapped, where demand regions get whichever zeroed frame
 * is at hand (usable RAM, so the rule on Normal memory still holds; see
 * mmu_window and docs/domains.md).  Its level-2 entries start invalid and
 * become tables when a region first needs them.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define BLOCK_SHIFT  25                 /* 32 MiB level-2 blocks */
#define BLOCK_SIZE   (1 << BLOCK_SHIFT)
#define PAGE         16384
#define L2_BITS      36                 /* a level-2 root covers 64 GiB */
#define VA_BITS_MAX  47                 /* a level-1 root (16 KiB granule) */

/* MAIR_EL2 attribute indices */
#define ATTR_DEVICE  0                  /* Device-nGnRnE: MMIO is never posted */
#define ATTR_NORMAL  1                  /* write-back, read/write allocate */
#define ATTR_NC      2                  /* normal non-cacheable (framebuffer) */
#define MAIR_VALUE   ((0x00 << (8*ATTR_DEVICE)) | (0xff << (8*ATTR_NORMAL)) | (0x44 << (8*ATTR_NC)))

/* Descriptor bits (EL1 stage-1 format under VHE) */
#define D_BLOCK      0x1
#define D_TABLE      0x3
#define D_PAGE       0x3
#define D_AP_RO      (1 << 7)           /* AP[2]: read-only (AP[1] = 0: no EL0 access) */
#define D_AF         (1 << 10)
#define D_SH_INNER   (3 << 8)
#define D_PXN        (1 << 53)
#define D_UXN        (1 << 54)
#define OA_MASK      0x0000FFFFFFFFC000 /* a page's (or a table's) address */
#define A_NORMAL     (D_AF | D_SH_INNER | (ATTR_NORMAL << 2) | D_UXN)
#define A_NC         (D_AF | D_SH_INNER | (ATTR_NC << 2) | D_UXN | D_PXN)
#define A_DEVICE     (D_AF | (ATTR_DEVICE << 2) | D_UXN | D_PXN)
#define A_MASK       0xFFF0000000000FFC /* the attributes a block and its pages share */

/* TCR_EL2 (EL1 layout): WB-WA inner/outer walks, inner shareable, TG0 =
   16 KiB, TTBR1 walks disabled (EPD1); T0SZ and IPS filled at boot. */
#define TCR_FIXED    ((1 << 8) | (1 << 10) | (3 << 12) | (2 << 14) | (1 << 23))

/* SCTLR_EL2 (EL1 layout under VHE): M, C, I on; SA/SA0 off (8-byte
   return-stack cells); RES1 bits 11, 20, 22, 23, 28, 29. */
#define SCTLR_MMU_ON ((1 << 0) | (1 << 2) | (1 << 12) | (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29))

/* mmu_state */
#define MS_ROOT      0
#define MS_VA_BITS   8
#define MS_POOL      16                 /* level-3 tables reserved for usable RAM: */
#define MS_POOL_LO   24                 /*   one per block, first block number */
#define MS_POOL_HI   32                 /*   and one past the last */
assert_adjacent MS_POOL_LO, MS_POOL_HI
#define MS_LIVE      40                 /* the MMU is on */
#define MS_DWIN      48                 /* the demand window: its base, */
#define MS_DWIN_L2   56                 /*   the level-2 entry of its first block, */
#define MS_DWIN_NEXT 64                 /*   its first address not handed out */
#define MS_SIZE      80

/* The EL2 demand window: 4 GiB of addresses above everything the map
   maps, inside one level-2 table (128 of its entries).  Demand regions
   live there, backed by pages from the zeroed-page stack: their addresses
   are not their frames' (docs/domains.md). */
#define DW_SHIFT     32
#define DW_SIZE      (1 << DW_SHIFT)

    .text

/*
 * bump_alloc ( x0 = bytes -- x0 = 16 KiB-aligned address, or 0 when usable
 * RAM is exhausted ): never-used memory from the bump region (boot_info
 * BI_FREE, up to BI_MEM_END): the one allocator of fresh memory; the page
 * and block lists (kernel/alloc.S) recycle on top of it.  Every 32 MiB
 * block it enters is page-mapped first (mmu_split_block) while nothing
 * uses it yet, so guard pages and demand paging can later be cut anywhere
 * in memory handed out.  Every core's page lists draw on it: it runs
 * under bump_lock (kernel/percpu.inc spin_lock: the allocators are a
 * region where no switch happens and no interrupt allocates).
 * Clobbers x1-x3 only.
 */
    .globl bump_alloc
bump_alloc:
    stp     x4, x5, [sp, #-16]!
    ladr    x4, mmu_state
    ldr     x4, [x4, #MS_LIVE]
    cbz     x4, 11f                     /* boot, MMU off: one core, and atomics on Device */
    ladr    x4, bump_lock               /*   memory are IMPLEMENTATION DEFINED (Arm ARM) */
    spin_lock x4, w5, w1
11: ladr    x1, boot_info
    ldr     x2, [x1, #BI_FREE]
    mov     x3, #(PAGE - 1)
    adds    x0, x0, x3
    b.cs    9f
    and     x0, x0, #~(PAGE - 1)
    adds    x0, x2, x0                  /* the new frontier */
    b.cs    9f
    ldr     x3, [x1, #BI_MEM_END]
    cmp     x0, x3
    b.hi    9f
    str     x0, [x1, #BI_FREE]
    ladr    x3, mmu_state
    ldr     x3, [x3, #MS_LIVE]
    cbz     x3, 8f                      /* at boot mmu_init keeps the invariant */
    /* split the blocks [old, new) touches that are still blocks */
    stp     x2, x0, [sp, #-48]!
    stp     x4, x5, [sp, #16]
    stp     x6, x30, [sp, #32]
    sub     x6, x0, #1
    lsr     x6, x6, #BLOCK_SHIFT        /* the last block */
    lsr     x5, x2, #BLOCK_SHIFT        /* the first */
1:  lsl     x0, x5, #BLOCK_SHIFT
    bl      mmu_split_block
    add     x5, x5, #1
    cmp     x5, x6
    b.ls    1b
    ldp     x4, x5, [sp, #16]
    ldp     x6, x30, [sp, #32]
    ldp     x2, x0, [sp], #48
8:  mov     x0, x2
    b       10f
9:  mov     x0, #0
10: cbz     x4, 12f
    spin_unlock x4
12: ldp     x4, x5, [sp], #16
    ret

/* early_alloc ( x0 = bytes -- x0 = 16 KiB-aligned address ): bump_alloc
   for boot, where running out of memory is fatal.  Clobbers x1-x3. */
    .globl early_alloc
early_alloc:
    str     x30, [sp, #-16]!
    bl      bump_alloc
    ldr     x30, [sp], #16
    cbz     x0, 1f
    ret
1:  ladr    x0, msg_boot_oom
    b       boot_fail

/* zero_page ( x0 = page ) Clobbers x1, x2. */
zero_page:
    mov     x1, x0
    add     x2, x0, #PAGE
1:  stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    stp     xzr, xzr, [x1, #32]
    stp     xzr, xzr, [x1, #48]
    add     x1, x1, #64
    cmp     x1, x2
    b.lo    1b
    ret

/* alloc_table ( -- x0 = a zeroed 16 KiB table ). Boot only. Clobbers x1-x3. */
alloc_table:
    mov     x2, #PAGE
    mov     x0, x2
    str     x30, [sp, #-16]!
    bl      early_alloc
    bl      zero_page
    ldr     x30, [sp], #16
    ret

/*
 * l2_slot ( x0 = address -- x1 = its level-2 entry's address, or 0 when
 * the address is beyond the map or (level-1 root) its 64 GiB have no
 * level-2 table ).  Clobbers x1-x3.
 */
    .globl l2_slot
l2_slot:
    ladr    x1, mmu_state
    ldp     x1, x2, [x1]                /* MS_ROOT, MS_VA_BITS */
    lsr     x3, x0, x2
    cbnz    x3, 9f                      /* beyond the space */
    cmp     x2, #L2_BITS
    b.eq    1f
    lsr     x3, x0, #L2_BITS
    ldr     x1, [x1, x3, lsl #3]        /* the level-1 entry */
    and     x3, x1, #3
    cmp     x3, #D_TABLE
    b.ne    9f
    and     x1, x1, #OA_MASK
1:  ubfx    x3, x0, #BLOCK_SHIFT, #11
    add     x1, x1, x3, lsl #3
    ret
9:  mov     x1, #0
    ret

/*
 * l2_slot_make ( x0 = address -- x1 = its level-2 entry ): l2_slot, making
 * the level-2 table of a level-1 root if needed.  Boot only (MMU off).
 * Clobbers x1-x5.
 */
l2_slot_make:
    mov     x5, x30
    bl      l2_slot
    cbnz    x1, 1f
    ladr    x1, mmu_state
    ldr     x4, [x1, #MS_ROOT]
    lsr     x3, x0, #L2_BITS
    add     x4, x4, x3, lsl #3          /* the level-1 entry to fill */
    str     x0, [sp, #-16]!
    bl      alloc_table
    orr     x1, x0, #D_TABLE
    str     x1, [x4]
    ldr     x0, [sp], #16
    bl      l2_slot
1:  ret     x5

/* pool_table ( x0 = address -- x0 = the reserved level-3 table of its
   block, or 0 if the block is not usable RAM's ).  Clobbers x1, x2. */
pool_table:
    ladr    x1, mmu_state
    lsr     x0, x0, #BLOCK_SHIFT
    ldp     x2, x1, [x1, #MS_POOL_LO]   /* MS_POOL_LO, MS_POOL_HI */
    cmp     x0, x2
    b.lo    9f
    cmp     x0, x1
    b.hs    9f
    sub     x0, x0, x2
    ladr    x1, mmu_state
    ldr     x1, [x1, #MS_POOL]
    add     x0, x1, x0, lsl #14
    ret
9:  mov     x0, #0
    ret

/* fill_pages ( x0 = table, x1 = the first page's descriptor ): 2048 page
   descriptors, consecutive output addresses.  Clobbers x0-x2. */
fill_pages:
    add     x2, x0, #PAGE
1:  stp     x1, x1, [x0], #16
    add     x1, x1, #PAGE
    stur    x1, [x0, #-8]
    add     x1, x1, #PAGE
    cmp     x0, x2
    b.lo    1b
    ret

/*
 * map_range ( x0 = start, x1 = end, both 16 KiB aligned, x2 = attributes
 * ): identity-map [start, end) at boot: whole 32 MiB blocks as level-2
 * blocks, the rest as level-3 pages.  Tables for usable RAM's blocks come
 * from the reserved pool, others are allocated.  Clobbers x0-x15.
 */
map_range:
    mov     x15, x30
    mov     x12, x0
    mov     x13, x1
    mov     x14, x2
1:  cmp     x12, x13
    b.hs    9f
    mov     x0, x12
    bl      l2_slot_make
    mov     x11, x1                     /* the level-2 entry */
    and     x10, x12, #~(BLOCK_SIZE - 1)
    mov     x9, #BLOCK_SIZE
    add     x9, x10, x9                 /* the block's end */
    cmp     x13, x9
    csel    x8, x13, x9, lo             /* this step's end */
    ldr     x7, [x11]
    cmp     x12, x10
    ccmp    x8, x9, #0, eq              /* the whole block? */
    ccmp    x7, #0, #0, eq              /* and nothing there yet */
    b.ne    2f
    orr     x0, x12, x14
    orr     x0, x0, #D_BLOCK
    str     x0, [x11]
    b       6f
2:  and     x0, x7, #3                  /* pages: the block's level-3 table */
    cmp     x0, #D_TABLE
    b.ne    3f
    and     x6, x7, #OA_MASK
    b       4f
3:  mov     x0, x12
    bl      pool_table
    cbnz    x0, 31f
    bl      alloc_table
    b       32f
31: bl      zero_page
32: mov     x6, x0
    tbz     x7, #0, 33f                 /* a block there (overlapping ranges): */
    and     x1, x7, #~3                 /* its pages first */
    orr     x1, x1, #D_PAGE
    bl      fill_pages
33: orr     x0, x6, #D_TABLE
    str     x0, [x11]
4:  mov     x0, x12                     /* the pages of [x12, x8) */
5:  cmp     x0, x8
    b.hs    6f
    ubfx    x1, x0, #14, #11
    orr     x2, x0, x14
    orr     x2, x2, #D_PAGE
    str     x2, [x6, x1, lsl #3]
    add     x0, x0, #PAGE
    b       5b
6:  mov     x12, x8
    b       1b
9:  ret     x15

/* round_out ( x0 = start, x1 = end -- x0, x1 on 16 KiB boundaries ) */
.macro round_out
    and     x0, x0, #~(PAGE - 1)
    mov     x2, #(PAGE - 1)
    add     x1, x1, x2
    and     x1, x1, #~(PAGE - 1)
.endm

/*
 * mmu_init: the map above, then MMU and caches on, with what the
 * architecture asks around it: the tables' stores complete (DSB) before
 * the walker may read them, any TLB entry left by the loader invalidated
 * after TTBR0/TCR/MAIR are written and before SCTLR.M, an ISB after
 * SCTLR, and the instruction cache invalidated (it may hold lines fetched
 * under the loader's map).  Clobbers x0-x23.
 */
    .globl mmu_init
mmu_init:
    mov     x23, x30
    ladr    x22, boot_info
    ladr    x21, mmu_state

    /* the image must lie in usable RAM: it is mapped as part of it */
    ldr     x0, [x22, #BI_LOAD_BASE]
    ldr     x1, [x22, #BI_PHYS_BASE]
    cmp     x0, x1
    b.lo    90f
    ldr     x0, [x22, #BI_IMAGE_END]
    ldr     x1, [x22, #BI_MEM_END]
    cmp     x0, x1
    b.hi    90f

    /* the address bits: the highest byte to map */
    ldr     x20, [x22, #BI_MEM_END]
    ldr     x0, [x22, #BI_FB_BASE]
    cbz     x0, 1f
    ldr     x1, [x22, #BI_FB_STRIDE]
    ldr     x2, [x22, #BI_FB_HEIGHT]
    madd    x1, x1, x2, x0
    cmp     x1, x20
    csel    x20, x1, x20, hi
1:  ldr     x3, [x22, #BI_NDEV]
    add     x4, x22, #BI_DEVS
2:  cbz     x3, 3f
    ldp     x0, x1, [x4], #16
    add     x1, x0, x1
    cmp     x1, x20
    csel    x20, x1, x20, hi
    sub     x3, x3, #1
    b       2b
    /* the demand window: above it all, in one level-2 table (64 GiB) */
3:  movq    x1, (BLOCK_SIZE - 1)
    add     x0, x20, x1
    bic     x0, x0, x1                  /* the next 32 MiB block */
    movq    x1, DW_SIZE
    add     x2, x0, x1
    sub     x3, x2, #1
    eor     x3, x3, x0
    lsr     x3, x3, #L2_BITS
    cbz     x3, 4f
    lsr     x0, x2, #L2_BITS            /* it would straddle: the next 64 GiB */
    lsl     x0, x0, #L2_BITS
    add     x2, x0, x1
4:  str     x0, [x21, #MS_DWIN]
    str     x0, [x21, #MS_DWIN_NEXT]
    mov     x20, x2                     /* the space reaches its end */
    sub     x0, x20, #1
    clz     x0, x0
    mov     x1, #64
    sub     x0, x1, x0                  /* bits needed */
    mov     x1, #L2_BITS
    cmp     x0, x1
    csel    x0, x0, x1, hi
    cmp     x0, #VA_BITS_MAX
    b.hi    91f
    str     x0, [x21, #MS_VA_BITS]
    str     x0, [x22, #BI_VA_BITS]
    bl      alloc_table
    str     x0, [x21, #MS_ROOT]
    str     x0, [x22, #BI_ROOT]
    ldr     x0, [x21, #MS_DWIN]         /* the window's level-2 table (a level-1 root) */
    bl      l2_slot_make
    str     x1, [x21, #MS_DWIN_L2]
    mrs     x9, tpidr_el2               /* the fault path's copy (kernel/domain.S) */
    ldr     x0, [x21, #MS_DWIN]
    str     x0, [x9, #PC_DWIN]
    str     x1, [x9, #PC_DWINL2]

    /* a level-3 table reserved for every block of usable RAM */
    ldr     x0, [x22, #BI_PHYS_BASE]
    lsr     x0, x0, #BLOCK_SHIFT
    ldr     x1, [x22, #BI_MEM_END]
    sub     x1, x1, #1
    lsr     x1, x1, #BLOCK_SHIFT
    add     x1, x1, #1
    stp     x0, x1, [x21, #MS_POOL_LO]
    sub     x0, x1, x0
    lsl     x0, x0, #14
    bl      early_alloc
    str     x0, [x21, #MS_POOL]
    str     x0, [x22, #BI_L3POOL]

    /* usable RAM, the framebuffer, the devices */
    ldr     x0, [x22, #BI_PHYS_BASE]
    ldr     x1, [x22, #BI_MEM_END]
    movq    x2, A_NORMAL
    bl      map_range
    ladr    x0, __image_start           /* the image's code and constants in pages: */
    ladr    x1, __ro_end                /* writable until mmu_seal_image */
    movq    x2, A_NORMAL
    bl      map_range
    ldr     x0, [x22, #BI_FB_BASE]
    cbz     x0, 4f
    ldr     x1, [x22, #BI_FB_STRIDE]
    ldr     x2, [x22, #BI_FB_HEIGHT]
    madd    x1, x1, x2, x0
    round_out
    movq    x2, A_NC
    bl      map_range
4:  ldr     x19, [x22, #BI_NDEV]
    add     x20, x22, #BI_DEVS
5:  cbz     x19, 6f
    ldp     x0, x1, [x20], #16
    add     x1, x0, x1
    round_out
    movq    x2, A_DEVICE
    bl      map_range
    sub     x19, x19, #1
    b       5b

    /* the bump frontier's block: page-mapped now, before the MMU is on
       (from here, bump_alloc splits every block it enters) */
6:  ldr     x0, [x22, #BI_FREE]
    bl      mmu_split_block

    /* registers, barriers, on */
    movq    x0, MAIR_VALUE
    msr     mair_el2, x0
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #7                  /* PARange -> IPS */
    movq    x0, TCR_FIXED
    orr     x0, x0, x1, lsl #32
    ldr     x1, [x21, #MS_VA_BITS]
    mov     x2, #64
    sub     x1, x2, x1                  /* T0SZ */
    orr     x0, x0, x1
    msr     tcr_el2, x0
    ldr     x0, [x21, #MS_ROOT]
    msr     ttbr0_el2, x0
    dsb     sy                          /* the tables are in memory */
    isb
    tlbi    alle2                       /* nothing of the loader's map survives */
    dsb     sy
    isb
    movq    x0, SCTLR_MMU_ON
    msr     sctlr_el2, x0
    isb
    ic      iallu                       /* nor any line fetched under it */
    dsb     sy
    isb
    mov     x0, #1
    str     x0, [x21, #MS_LIVE]
    ret     x23
90: ladr    x0, msg_image_outside
    b       boot_fail
91: ladr    x0, msg_too_wide
    b       boot_fail

/*
 * mmu_split_block ( x0 = an address in the block ): a 32 MiB level-2
 * block of usable RAM becomes its reserved level-3 table of 2048 pages
 * with the same attributes.  With the MMU on this is break-before-make:
 * the block's entry invalid, DSB, TLBI, DSB, then the table: only for a
 * block nothing uses (bump_alloc's contract), since its addresses fault
 * in between.  Nothing to do for a table or an unmapped block.
 * Clobbers x0-x4.
 */
    .globl mmu_split_block
mmu_split_block:
    mov     x4, x30
    bl      l2_slot
    cbz     x1, 9f
    ldr     x3, [x1]
    and     x2, x3, #3
    cmp     x2, #D_BLOCK
    b.ne    9f
    stp     x0, x1, [sp, #-32]!
    bl      pool_table
    cbz     x0, 8f                      /* not usable RAM: never split */
    str     x0, [sp, #16]
    and     x1, x3, #~3
    orr     x1, x1, #D_PAGE
    bl      fill_pages
    ldp     x0, x1, [sp]
    ldr     x2, [sp, #16]
    add     sp, sp, #32
    ladr    x3, mmu_state
    ldr     x3, [x3, #MS_LIVE]
    cbz     x3, 1f
    dsb     ishst                       /* the table is in memory */
    str     xzr, [x1]                   /* break */
    dsb     ishst
    lsr     x3, x0, #12
    tlbi    vae2is, x3
    dsb     ish
1:  orr     x2, x2, #D_TABLE            /* make */
    str     x2, [x1]
    dsb     ishst
    isb
9:  ret     x4
8:  add     sp, sp, #32
    ret     x4

/*
 * mmu_seal_image: the pages of [__image_start, __ro_end) (the header,
 * .text and .rodata, page-mapped by mmu_init) become read-only at EL2:
 * AP[2] set in each live entry, then DSB, one TLBI ALLE2IS, DSB, ISB (a
 * permission change alone: no break needed, see the header).  The whole
 * EL2&0 TLB rather than a TLBI by address per page: once, at boot, it
 * costs nothing, and QEMU 7.2 (the virt board) makes TLBI VAE2IS with
 * E2H = 1 flush only the non-VHE EL2 regime, so the stale writable
 * entries would stay there (fixed upstream in 2023, "target/arm/helper: Fix
 * vae2_tlbmask()"; docs/emulation.md).  Called once, after the last
 * write into .text (dict_init).  A page that is not page-mapped there is
 * a kernel bug: boot stops with a message.  Clobbers x0-x6.
 */
    .globl mmu_seal_image
mmu_seal_image:
    mov     x6, x30
    ladr    x4, __image_start
    ladr    x5, __ro_end
1:  mov     x0, x4
    bl      mmu_l3_entry
    cbz     x1, 9f
    ldr     x2, [x1]
    tbz     x2, #0, 9f                  /* an invalid page: never so here */
    orr     x2, x2, #D_AP_RO
    str     x2, [x1]
    add     x4, x4, #PAGE
    cmp     x4, x5
    b.lo    1b
    dsb     ishst
    tlbi    alle2is
    dsb     ish
    isb
    ret     x6
9:  ladr    x0, msg_seal_block
    b       boot_fail

/*
 * mmu_unmap_page ( x0 = address ): make the 16 KiB page holding x0
 * invalid (a guard page, a demand-zero page).  Valid -> invalid is the
 * "break" alone: allowed without more, then the TLBI.  The page must lie
 * in memory bump_alloc handed out (page-mapped); anything else is a
 * kernel bug and stops the boot with a message.  Clobbers x0-x3, x10-x15
 * (keeps x4-x9).
 */
    .globl mmu_unmap_page
mmu_unmap_page:
    mov     x15, x30
    mov     x14, x0
    bl      l2_slot
    cbz     x1, 9f
    ldr     x12, [x1]
    and     x13, x12, #3
    cmp     x13, #D_TABLE
    b.ne    9f                          /* a block: it would need splitting */
    and     x13, x12, #OA_MASK
    ubfx    x11, x14, #14, #11
    str     xzr, [x13, x11, lsl #3]
    dsb     ishst
    lsr     x0, x14, #12
    tlbi    vae2is, x0
    dsb     ish
    isb
    ret     x15
9:  ladr    x0, msg_unmap_block
    b       boot_fail

/*
 * mmu_window ( x0 = bytes, a multiple of 16 KiB -- x0 = address, or 0 when
 * the window is full ): addresses in the demand window for a region, one
 * guard page (left invalid, unmarked) above it; every level-3 table the
 * region needs made: a zeroed page linked into an invalid level-2 entry
 * (invalid -> table: no TLB maintenance; the DSB and ISB make the walker
 * see it).  Addresses are never reused.  From thread context (interrupts
 * masked inside).  Clobbers x0-x8.
 */
    .globl mmu_window
mmu_window:
    mov     x8, x30
    mrs     x7, daif
    msr     daifset, #3
    ladr    x6, mmu_state
    ldr     x4, [x6, #MS_DWIN_NEXT]
    add     x5, x4, x0                  /* the region's end */
    add     x1, x5, #PAGE               /* and the guard page's */
    ldr     x2, [x6, #MS_DWIN]
    movq    x3, DW_SIZE
    add     x2, x2, x3
    cmp     x1, x2
    b.hi    9f
    cmp     x0, #0
    b.eq    9f
    str     x1, [x6, #MS_DWIN_NEXT]
    /* the level-2 entries of [x4, x5): tables */
    ldr     x6, [x6, #MS_DWIN_L2]
    ubfx    x3, x4, #BLOCK_SHIFT, #11
    ladr    x2, mmu_state
    ldr     x2, [x2, #MS_DWIN]
    ubfx    x2, x2, #BLOCK_SHIFT, #11
    sub     x3, x3, x2
    add     x6, x6, x3, lsl #3          /* the first block's entry */
    sub     x3, x5, #1
    lsr     x3, x3, #BLOCK_SHIFT
    lsr     x2, x4, #BLOCK_SHIFT
    sub     x3, x3, x2                  /* blocks - 1 */
1:  ldr     x0, [x6]
    tbnz    x0, #0, 2f                  /* a table already */
    stp     x3, x4, [sp, #-32]!
    stp     x5, x6, [sp, #16]
    bl      kalloc_page
    cbz     x0, 8f
    mov     x1, x0
    add     x1, x1, #PAGE
    mov     x4, x0
    bl      zero_fast
    ldp     x5, x6, [sp, #16]
    orr     x0, x4, #D_TABLE
    dsb     ishst                       /* the zeroed table before the link */
    str     x0, [x6]
    ldp     x3, x4, [sp], #32
2:  add     x6, x6, #8
    subs    x3, x3, #1
    b.pl    1b
    dsb     ishst
    isb
    msr     daif, x7
    mov     x0, x4
    ret     x8
8:  add     sp, sp, #32                 /* no page for a table: give up (the
                                           addresses taken stay unused) */
9:  msr     daif, x7
    mov     x0, #0
    ret     x8

/*
 * mmu_window_ipa ( x0 = bytes, a multiple of 16 KiB -- x0 = address, or 0
 * when the window is full ): addresses in the demand window and a guard
 * page, as mmu_window, but no EL2 tables: for a domain's pool-backed
 * grant, whose IPAs must not be any real memory's address.  Masks
 * interrupts inside.  Clobbers x0-x7.
 */
    .globl mmu_window_ipa
mmu_window_ipa:
    mrs     x7, daif
    msr     daifset, #3
    ladr    x6, mmu_state
    ldr     x4, [x6, #MS_DWIN_NEXT]
    add     x1, x4, x0
    add     x1, x1, #PAGE
    ldr     x2, [x6, #MS_DWIN]
    movq    x3, DW_SIZE
    add     x2, x2, x3
    cmp     x1, x2
    b.hi    9f
    cbz     x0, 9f
    str     x1, [x6, #MS_DWIN_NEXT]
    msr     daif, x7
    mov     x0, x4
    ret
9:  msr     daif, x7
    mov     x0, #0
    ret

/* demand-window ( -- base end ): the window, for tests and the console */
    .globl mmu_window_bounds
mmu_window_bounds:
    ladr    x1, mmu_state
    ldr     x0, [x1, #MS_DWIN]
    movq    x1, DW_SIZE
    add     x1, x0, x1
    ret

/* mmu_l3_entry ( x0 = address -- x1 = the address of its level-3 entry,
   or 0 if its block is not page-mapped ).  Clobbers x1-x3. */
    .globl mmu_l3_entry
mmu_l3_entry:
    str     x30, [sp, #-16]!
    bl      l2_slot
    cbz     x1, 1f
    ldr     x1, [x1]
    and     x2, x1, #3
    cmp     x2, #D_TABLE
    b.ne    2f
    and     x1, x1, #OA_MASK
    ubfx    x2, x0, #14, #11
    add     x1, x1, x2, lsl #3
1:  ldr     x30, [sp], #16
    ret
2:  mov     x1, #0
    b       1b

/*
 * boot_fail ( x0 = message ): the kernel cannot go on: the message on the
 * console (the UART if the board found one; the screen once it is up),
 * then the core halts at kernel_halted with an empty frame for the
 * emulated M3's report.  Never returns.
 */
    .globl boot_fail
boot_fail:
    mov     x19, x0
    sub     sp, sp, #(36 * 8)
    mov     x20, sp
    mov     x0, #0
1:  str     xzr, [x20, x0, lsl #3]
    add     x0, x0, #1
    cmp     x0, #36
    b.lo    1b
    bl      console_newline
    ladr    x0, msg_boot_fail
    bl      console_puts
    mov     x0, x19
    bl      console_puts
    bl      console_newline
    b       kernel_halted

    .section .rodata
msg_boot_fail:      .asciz "BOOT STOPPED: "
msg_boot_oom:       .asciz "out of memory while building the kernel's tables"
msg_image_outside:  .asciz "the image lies outside usable RAM (boot_args phys_base/mem_size)"
msg_too_wide:       .asciz "memory or devices above 2^47: more than a level-1 root maps"
msg_unmap_block:    .asciz "a page of block-mapped memory was to be unmapped (kernel bug)"
msg_seal_block:     .asciz "the image's code is not page-mapped: it cannot be made read-only (kernel bug)"

    .bss
    .balign 8
    .globl mmu_state
mmu_state:  .space MS_SIZE
bump_lock:  .word 0
