/*
 * Image header and entry.
 *
 * m1n1 enters at image offset 0x800 (raw chainload default; the Mach-O's
 * LC_UNIXTHREAD pc points at the same place) with:
 *   x0 = boot_args (physical), EL2, MMU and caches off, DAIF masked,
 *   HCR_EL2.E2H = TGE = 1 (VHE), VBAR_EL2 and SP still inside m1n1.
 * The image runs wherever it was loaded: PC-relative addressing only.
 * What x0 points at is the board's business (board_boot_info): on m3
 * boot_args and through it the Apple Device Tree, on virt the DTB.
 */
#include "macros.inc"
#include BOARD_INC

    .section .head, "ax"
_head:
    b       _start                  /* 0x00: also entered from the base */
    .word   0
    .ascii  "SOVEREIGN-KERNEL"      /* 0x08: magic */
    /* 0x18: image size, 0x20: size of the zeroed .bss inside it, 0x28: entry
       offset: written by the linker script, which knows them; 0x30, 0x38:
       a RAM disk's offset and length (macros.inc HDR_DISK_*), 0 here and
       written into the payload by the build (harness/payload.py with_disk) */

    .section .text.entry, "ax"
    .globl _start
_start:
    board_entry                     /* the board's first word: may clobber x1 only */
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

    bl      alloc_init              /* TPIDR_EL2: this core's state, from here on */
    mov     x0, x19
    bl      board_boot_info         /* memory, free RAM, the devices: boot_args and ADT or DTB */

    bl      mmu_init                /* the exact identity map, MMU and caches on */
    bl      fbcon_init              /* the screen: from here the console is on it too */
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
