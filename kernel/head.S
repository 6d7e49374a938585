/*
 * Image header and entry.
 *
 * m1n1 enters at image offset 0x800 (raw chainload default; the Mach-O's
 * LC_UNIXTHREAD pc points at the same place) with:
 *   x0 = boot_args (physical), EL2, MMU and caches off, DAIF masked,
 *   HCR_EL2.E2H = TGE = 1 (VHE), VBAR_EL2 and SP still inside m1n1.
 * The image runs wherever it was loaded: PC-relative addressing only.
 */
#include "macros.inc"
#include BOARD_INC

/* boot_args offsets (XNU layout, shared/spec/m1n1-boot.md) */
#define BA_REVISION     0x00
#define BA_PHYS_BASE    0x10
#define BA_MEM_SIZE     0x18
#define BA_TOP_KDATA    0x20
#define BA_VIDEO_BASE   0x28
#define BA_VIDEO_STRIDE 0x38
#define BA_VIDEO_WIDTH  0x40
#define BA_VIDEO_HEIGHT 0x48
#define BA_VIDEO_DEPTH  0x50
#define BA_CMDLINE      0x6c

    .section .head, "ax"
    .globl _head
_head:
    b       _start                  /* 0x00: also entered from the base */
    .word   0
    .ascii  "SOVEREIGN-KERNEL"      /* 0x08: magic */
    /* 0x18: image size, 0x20: size of the zeroed .bss inside it, 0x28: entry
       offset: written by the linker script, which knows them */

    .section .text.entry, "ax"
    .globl _start
_start:
    mov     x19, x0                 /* boot_args */
    adr     x20, _head              /* where we were loaded */

    /* Our vectors and stack before anything can fault. */
    adrp    x1, vectors
    add     x1, x1, :lo12:vectors
    msr     vbar_el2, x1
    adrp    x1, boot_stack_top
    add     x1, x1, :lo12:boot_stack_top
    mov     sp, x1                  /* SP_EL2: the exception stack from now on */

    /* FP/SIMD on: CPTR_EL2 has the CPACR layout under VHE, FPEN = 0b11. */
    mov     x1, #(3 << 20)
    msr     cptr_el2, x1
    isb

    /* Clear .bss (carried in the file as zeros, cleared again for warm
       re-entry and for loaders that do not zero-fill). */
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:
    adrp    x1, boot_info
    add     x1, x1, :lo12:boot_info
    str     x19, [x1, #BI_ARGS]
    str     x20, [x1, #BI_LOAD_BASE]
    adrp    x2, __image_end
    add     x2, x2, :lo12:__image_end
    str     x2, [x1, #BI_IMAGE_END]

    ldr     x2, [x19, #BA_PHYS_BASE]
    str     x2, [x1, #BI_PHYS_BASE]
    ldr     x3, [x19, #BA_MEM_SIZE]
    str     x3, [x1, #BI_MEM_SIZE]
    add     x3, x2, x3
    str     x3, [x1, #BI_MEM_END]
    ldr     x2, [x19, #BA_TOP_KDATA]
    mov     x3, #0x3fff             /* free memory: 16 KiB aligned above */
    add     x2, x2, x3              /* everything m1n1 placed after us */
    and     x2, x2, #~0x3fff
    str     x2, [x1, #BI_FREE]
    str     x2, [x1, #BI_FREE0]
    add     x2, x19, #BA_CMDLINE
    str     x2, [x1, #BI_CMDLINE]
    ldr     x2, [x19, #BA_VIDEO_BASE]
    str     x2, [x1, #BI_FB_BASE]
    ldr     x2, [x19, #BA_VIDEO_STRIDE]
    str     x2, [x1, #BI_FB_STRIDE]
    ldr     x2, [x19, #BA_VIDEO_WIDTH]
    str     x2, [x1, #BI_FB_WIDTH]
    ldr     x2, [x19, #BA_VIDEO_HEIGHT]
    str     x2, [x1, #BI_FB_HEIGHT]
    ldr     x2, [x19, #BA_VIDEO_DEPTH]
    str     x2, [x1, #BI_FB_DEPTH]

    bl      mmu_init                /* identity map, MMU and caches on */
    bl      forth_cold              /* never returns */
    b       .

/* Everything the kernel learnt at boot; read by Forth through BOOT-INFO. */
    .bss
    .balign 16
    .globl boot_info
boot_info:
    .space  BI_SIZE

    .balign 16
boot_stack:
    .space  16384
    .globl boot_stack_top
boot_stack_top:
