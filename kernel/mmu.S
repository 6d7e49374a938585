/*
 * The EL2 identity map: VHE (EL2&0 regime, TCR in the EL1 layout), 16 KiB
 * granule, a 36-bit space (T0SZ = 28) whose walk starts at level 2, so
 * bulk memory is one level-2 table of 2048 32-MiB blocks: a TLB miss costs
 * a single memory access.  Level-3 pages come later, only where finer
 * control is needed (guard pages, demand paging).
 */
#include "macros.inc"
#include BOARD_INC

#define BLOCK_SHIFT  25                 /* 32 MiB level-2 blocks */
#define BLOCK_SIZE   (1 << BLOCK_SHIFT)
#define VA_BITS      36

/* MAIR_EL2 attribute indices */
#define ATTR_DEVICE  0                  /* Device-nGnRnE: MMIO is never posted */
#define ATTR_NORMAL  1                  /* write-back, read/write allocate */
#define ATTR_NC      2                  /* normal non-cacheable (framebuffer) */
#define MAIR_VALUE   ((0x00 << (8*ATTR_DEVICE)) | (0xff << (8*ATTR_NORMAL)) | (0x44 << (8*ATTR_NC)))

/* Level-2 block descriptor bits (EL1 format under VHE) */
#define D_BLOCK      0x1
#define D_AF         (1 << 10)
#define D_SH_INNER   (3 << 8)
#define D_PXN        (1 << 53)
#define D_UXN        (1 << 54)
#define D_NORMAL     (D_BLOCK | D_AF | D_SH_INNER | (ATTR_NORMAL << 2) | D_UXN)
#define D_NC         (D_BLOCK | D_AF | D_SH_INNER | (ATTR_NC << 2) | D_UXN | D_PXN)
#define D_DEVICE     (D_BLOCK | D_AF | (ATTR_DEVICE << 2) | D_UXN | D_PXN)

/* TCR_EL2 (EL1 layout): T0SZ=28, WB-WA inner/outer, inner shareable,
   TG0 = 16 KiB, TTBR1 walks disabled; IPS filled from ID_AA64MMFR0. */
#define TCR_VALUE    ((64 - VA_BITS) | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 14) | (1 << 23))

/* SCTLR_EL2 (EL1 layout under VHE): M, C, I on; SA/SA0 off (8-byte
   return-stack cells); RES1 bits 11, 20, 22, 23, 28, 29. */
#define SCTLR_MMU_ON ((1 << 0) | (1 << 2) | (1 << 12) | (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29))

    .text

/* early_alloc ( x0 = bytes -- x0 = 16 KiB-aligned address ). Bump allocator
   over free memory, used before the real allocator exists. Clobbers x1-x3. */
    .globl early_alloc
early_alloc:
    ladr    x1, boot_info
    ldr     x2, [x1, #BI_FREE]
    mov     x3, #0x3fff
    add     x3, x0, x3
    and     x3, x3, #~0x3fff
    add     x3, x2, x3
    str     x3, [x1, #BI_FREE]
    mov     x0, x2
    ret

/* map_blocks ( x0 = start, x1 = end, x2 = descriptor bits, x3 = L2 table ):
   identity-map [start, end) rounded out to 32 MiB blocks. Addresses beyond
   the 36-bit space are skipped. Clobbers x0, x1, x4, x5, x7. */
map_blocks:
    and     x0, x0, #~(BLOCK_SIZE - 1)
    mov     x4, #(BLOCK_SIZE - 1)
    add     x1, x1, x4
    and     x1, x1, #~(BLOCK_SIZE - 1)
    mov     x4, #(1 << (VA_BITS - 32))
    lsl     x4, x4, #32
    cmp     x1, x4
    csel    x1, x1, x4, lo
1:  cmp     x0, x1
    b.hs    2f
    orr     x5, x0, x2
    lsr     x4, x0, #BLOCK_SHIFT
    str     x5, [x3, x4, lsl #3]
    mov     x7, #BLOCK_SIZE
    add     x0, x0, x7
    b       1b
2:  ret

    .globl mmu_init
mmu_init:
    mov     x23, x30
    mov     x0, #16384
    bl      early_alloc
    mov     x21, x0                 /* the level-2 table */
    mov     x1, x0
    add     x2, x0, #16384
1:  stp     xzr, xzr, [x1], #16
    cmp     x1, x2
    b.lo    1b
    ladr    x22, boot_info
    str     x21, [x22, #BI_L2TABLE]

    /* DRAM, from the lower of our load base and phys_base to the end. */
    ldr     x0, [x22, #BI_LOAD_BASE]
    ldr     x1, [x22, #BI_PHYS_BASE]
    cmp     x0, x1
    csel    x0, x0, x1, lo
    ldr     x1, [x22, #BI_MEM_END]
    movq    x2, D_NORMAL
    mov     x3, x21
    bl      map_blocks

    /* The framebuffer m1n1 describes (outside DRAM proper). */
    ldr     x0, [x22, #BI_FB_BASE]
    cbz     x0, 3f
    ldr     x1, [x22, #BI_FB_STRIDE]
    ldr     x2, [x22, #BI_FB_HEIGHT]
    madd    x1, x1, x2, x0
    movq    x2, D_NC
    mov     x3, x21
    bl      map_blocks
3:
    /* The board's MMIO windows. */
    ladr    x6, board_mmio
4:  ldp     x0, x1, [x6], #16
    cbz     x1, 5f
    add     x1, x0, x1
    movq    x2, D_DEVICE
    mov     x3, x21
    bl      map_blocks
    b       4b
5:
    movq    x0, MAIR_VALUE
    msr     mair_el2, x0
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #7              /* PARange -> IPS */
    movq    x0, TCR_VALUE
    orr     x0, x0, x1, lsl #32
    msr     tcr_el2, x0
    msr     ttbr0_el2, x21
    isb
    tlbi    alle2
    dsb     ish
    isb
    movq    x0, SCTLR_MMU_ON
    msr     sctlr_el2, x0
    isb
    ret     x23

/*
 * mmu_unmap_page ( x0 = address ): make the 16 KiB page holding x0 invalid
 * (a guard page), first splitting its 32 MiB block into a level-3 table
 * of 2048 pages with the same attributes.  The walk stays two levels deep.
 * The block is replaced by the equivalent table in one store: same output
 * addresses and attributes, so no break-before-make is needed for the
 * pages that stay mapped (the code doing this may live in that block).
 * Clobbers x0-x3, x10-x15.
 */
    .globl mmu_unmap_page
mmu_unmap_page:
    mov     x15, x30
    mov     x14, x0
    ladr    x10, boot_info
    ldr     x10, [x10, #BI_L2TABLE]
    ubfx    x11, x14, #BLOCK_SHIFT, #11
    ldr     x12, [x10, x11, lsl #3]
    and     x13, x12, #3
    cmp     x13, #3
    b.eq    2f                      /* already a table */
    mov     x0, #16384
    bl      early_alloc
    mov     x13, x0
    and     x1, x12, #~3
    orr     x1, x1, #3              /* page descriptor, first page */
    mov     x2, #0
1:  str     x1, [x13, x2, lsl #3]
    add     x1, x1, #16384
    add     x2, x2, #1
    cmp     x2, #2048
    b.lo    1b
    dsb     ishst
    orr     x12, x13, #3            /* table descriptor */
    str     x12, [x10, x11, lsl #3]
    dsb     ishst
2:  and     x13, x12, #0xFFFFFFFFC000
    ubfx    x11, x14, #14, #11
    str     xzr, [x13, x11, lsl #3]
    dsb     ishst
    tlbi    alle2
    dsb     ish
    isb
    ret     x15
