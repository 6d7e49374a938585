/*
 * Discovery on board m3: everything the kernel needs to know about the
 * machine, read from the Apple Device Tree m1n1 hands over, into m3_state
 * (layout: kernel/boards/m3/board.inc) and boot_info's device windows.
 * Nothing is assumed per chip: the same image runs on t8122, t6030 and
 * t6031, and a chip we do not list is named and used as its ADT says.
 *
 *   /chosen          chip-id, dram-base, dram-size (m1n1 src/main.c, kboot.c)
 *   /arm-io/uart6 if it has a debug-console child, else /arm-io/uart0:
 *                    the console (m1n1 src/uart.c picks the same way)
 *   /arm-io/aic      compatible aic,2 / aic,3; reg; aic-iack-offset,
 *                    extint-baseaddress, cap0-offset, maxnumirq-offset
 *                    (m1n1 src/aic.c aic23_init)
 *   /arm-io/wdt      reg 0: the watchdog (m1n1 src/wdt.c)
 *   /arm-io/pmgr     reg 0 (m1n1 src/smp.c: cpu start registers)
 *   /cpus/*          reg, cpu-impl-reg, state (m1n1 src/smp.c)
 *
 * Runs with the MMU off, from board_boot_info.  What goes wrong is kept as
 * flags in m3_diag and said once the console is up (board_report).
 */
#include "macros.inc"
#include BOARD_INC


    .text

/* diag ( bit ): note a problem. Clobbers x0, x1. */
.macro diag bit
    ladr    x0, m3_diag
    ldr     x1, [x0]
    orr     x1, x1, #\bit
    str     x1, [x0]
.endm

/* find path: x0 = node or 0 (and the trace for adt_reg) */
.macro find path
    ladr    x0, \path
    bl      adt_find
.endm

/*
 * m3_discover ( x0 = the ADT's physical address, x1 = its size ): fill
 * m3_state and boot_info's device windows from it.  Clobbers x0-x23.
 */
    .globl m3_discover
m3_discover:
    mov     x23, x30
    ladr    x22, m3_state
    ladr    x21, boot_info
    bl      adt_init
    cbnz    x0, 1f
    diag    DIAG_NO_ADT
    ret     x23

1:  /* the chip and its DRAM */
    find    path_chosen
    cbz     x0, 2f
    mov     x19, x0
    ladr    x1, str_chip_id
    bl      adt_u32
    str     x0, [x22, #M3_CHIP]
    cbz     x1, 3f
2:  diag    DIAG_NO_CHIP
    b       4f
3:  mov     x0, x19
    ladr    x1, str_dram_base
    bl      adt_u64
    str     x0, [x22, #M3_DRAM_BASE]
    mov     x0, x19
    ladr    x1, str_dram_size
    bl      adt_u64
    str     x0, [x22, #M3_DRAM_SIZE]

4:  /* the console UART */
    find    path_uart6_debug
    ladr    x1, path_uart6
    cbnz    x0, 5f
    ladr    x1, path_uart0
5:  mov     x0, x1
    bl      adt_find
    cbz     x0, 6f
    mov     x19, x0
    mov     x0, #0
    bl      adt_reg
    cbnz    x2, 6f
    bl      add_device
    cbz     x2, 6f
    str     x0, [x22, #M3_UART]
    mov     x0, x19
    ladr    x1, str_interrupts
    bl      adt_u32
    cbnz    x1, 7f                      /* no interrupt: polled only */
    str     x0, [x22, #M3_UART_IRQ]
    lsr     x1, x0, #5
    lsl     x1, x1, #2
    str     x1, [x22, #M3_UART_WORD]
    and     x0, x0, #31
    mov     x1, #1
    lsl     x1, x1, x0
    str     x1, [x22, #M3_UART_BIT]
    b       7f
6:  diag    DIAG_NO_UART

7:  /* the interrupt controller */
    bl      discover_aic

    /* the watchdog, PMGR */
    find    path_wdt
    cbz     x0, 8f
    mov     x0, #0
    bl      adt_reg
    cbnz    x2, 8f
    bl      add_device
    cbz     x2, 8f
    str     x0, [x22, #M3_WDT]
    b       9f
8:  diag    DIAG_NO_WDT
9:  find    path_pmgr
    cbz     x0, 10f
    mov     x0, #0
    bl      adt_reg
    cbnz    x2, 10f
    str     x0, [x22, #M3_PMGR]
10: bl      discover_cpus
    ret     x23

/*
 * discover_aic: /arm-io/aic as m1n1's aic23_init reads it.  AIC1 (aic,1:
 * M1 and older) has another layout and is not driven: noted.  Clobbers
 * x0-x20.
 */
discover_aic:
    mov     x20, x30
    find    path_aic
    cbz     x0, 9f
    mov     x19, x0
    ladr    x1, str_aic3
    bl      adt_compatible
    mov     x2, #3
    cbnz    x0, 1f
    mov     x0, x19
    ladr    x1, str_aic2
    bl      adt_compatible
    mov     x2, #2
    cbnz    x0, 1f
    diag    DIAG_AIC_VER
    ret     x20
1:  str     x2, [x22, #M3_AIC_VER]
    find    path_aic                    /* the trace again, for adt_reg */
    mov     x0, #0
    bl      adt_reg
    cbnz    x2, 9f
    mov     x17, x0                     /* the core's base */
    bl      add_device
    cbz     x2, 9f
    mov     x0, x19
    ladr    x1, str_iack
    bl      adt_u64
    cbnz    x1, 9f                      /* m1n1 fails without it too */
    add     x0, x17, x0
    str     x0, [x22, #M3_AIC_EVENT]
    mov     x0, x19
    ladr    x1, str_extint
    bl      adt_u32
    mov     x2, #AIC2_IRQ_CFG           /* AIC2's fixed place, if the ADT is silent */
    cmp     x1, #0
    csel    x0, x0, x2, eq
    add     x0, x17, x0
    str     x0, [x22, #M3_AIC_CFG]
    /* CAP0 and MAXNUMIRQ are read at boot by aic_init (kernel/boards/m3/
       aic.S) at these offsets: keep them beside the base for it */
    mov     x0, x19
    ladr    x1, str_cap0
    bl      adt_u32
    mov     x2, #AIC2_CAP0
    cmp     x1, #0
    csel    x0, x0, x2, eq
    str     x0, [x22, #M3_AIC_MASKSET]  /* (scratch until aic_init lays out) */
    mov     x0, x19
    ladr    x1, str_maxnumirq
    bl      adt_u32
    mov     x2, #AIC2_MAXNUMIRQ
    cmp     x1, #0
    csel    x0, x0, x2, eq
    str     x0, [x22, #M3_AIC_MASKCLR]  /* (scratch until aic_init) */
    str     x17, [x22, #M3_AIC]         /* published last: an AIC to drive */
    ret     x20
9:  diag    DIAG_NO_AIC
    ret     x20

/*
 * discover_cpus: every /cpus child: its "reg" (die 14:11, cluster 10:8,
 * core 7:0: m1n1 src/smp.c), the first word of "cpu-impl-reg" (the core's
 * implementation registers: RVBAR for starting it), and which one is
 * "running" (this core, as m1n1 and XNU tell).  Clobbers x0-x20.
 */
discover_cpus:
    mov     x20, x30
    find    path_cpus
    cbz     x0, 9f
    bl      adt_children
    cbz     x0, 9f
    mov     x19, x0                     /* the child */
    mov     x15, x1                     /* children left */
    add     x16, x22, #M3_CPUS
1:  ldr     x2, [x22, #M3_NCPU]
    cmp     x2, #NCPU_MAX
    b.hs    8f
    mov     x0, x19
    ladr    x1, str_reg
    bl      adt_u32
    cbnz    x1, 3f                      /* no reg: not a core */
    ldr     x2, [x22, #M3_NCPU]
    mov     x3, #M3_CPU_SIZE
    madd    x17, x2, x3, x16
    str     x0, [x17]
    mov     x0, x19
    ladr    x1, str_impl_reg
    bl      adt_u64
    str     x0, [x17, #8]
    mov     x0, x19
    ladr    x1, str_state
    bl      adt_getprop
    cmp     x1, #8                      /* "running" and its NUL */
    b.lo    2f
    ldp     w2, w3, [x0]                /* 32-bit loads: with the MMU off the */
    movq    x4, 0x6e6e7572              /* tree is Device memory (aligned only) */
    cmp     w2, w4                      /* "runn" */
    b.ne    2f
    movq    x4, 0x00676e69              /* "ing\0" */
    cmp     w3, w4
    b.ne    2f
    ldr     x0, [x17]
    str     x0, [x22, #M3_BOOTCPU]
2:  ldr     x2, [x22, #M3_NCPU]
    add     x2, x2, #1
    str     x2, [x22, #M3_NCPU]
3:  subs    x15, x15, #1
    b.eq    8f
    mov     x0, x19
    bl      adt_node_end                /* the next sibling */
    cbz     x0, 8f
    mov     x19, x0
    add     x16, x22, #M3_CPUS
    b       1b
8:  ldr     x0, [x22, #M3_NCPU]
    cbz     x0, 9f
    ladr    x0, secondary_entry         /* their RVBARs (kernel/boards/m3/cpus.S) */
    bl      m3_cpus_prepare
    ret     x20
9:  diag    DIAG_NO_CPUS
    ret     x20

/* add_device ( x0 = base, x1 = size -- x2 = 1 if taken ): a window for
   the map (Device-nGnRnE); not taken when the size is 0 or it overlaps
   usable RAM (an ADT that says so is wrong: RAM is mapped as RAM; the
   device is then not used), taken but not mapped when the table is full.
   Clobbers x2-x4. */
    .globl add_device
add_device:
    cbz     x1, 3f
    ldr     x2, [x21, #BI_PHYS_BASE]
    ldr     x3, [x21, #BI_MEM_END]
    add     x4, x0, x1
    cmp     x4, x2                      /* overlaps [phys_base, mem_end)? */
    ccmp    x0, x3, #2, hi              /* end > phys_base and base < mem_end */
    b.lo    2f
    ldr     x2, [x21, #BI_NDEV]
    cmp     x2, #BI_NDEV_MAX
    b.hs    1f
    add     x3, x21, #BI_DEVS
    add     x3, x3, x2, lsl #4
    stp     x0, x1, [x3]
    add     x2, x2, #1
    str     x2, [x21, #BI_NDEV]
1:  mov     x2, #1
    ret
2:  stp     x0, x1, [sp, #-16]!
    diag    DIAG_DEV_IN_RAM
    ldp     x0, x1, [sp], #16
3:  mov     x2, #0
    ret

/*
 * m3_diag_flags ( -- x0 ): the problems discovery noted (DIAG_*), for
 * board_report.  m3_note_adt_free: the ADT lay in free memory and was
 * kept by moving free memory above it.  m3_note_diag: any other.
 */
    .globl m3_diag_flags, m3_note_adt_free, m3_note_diag
m3_diag_flags:
    ladr    x0, m3_diag
    ldr     x0, [x0]
    ret
m3_note_adt_free:
    diag    DIAG_ADT_FREE
    ret
/* m3_note_diag ( x0 = DIAG_* bits ): note them (kernel/boards/m3/ramdisk.S).
   Clobbers x0, x1. */
m3_note_diag:
    ladr    x1, m3_diag
    ldr     x1, [x1]
    orr     x1, x1, x0
    ladr    x0, m3_diag
    str     x1, [x0]
    ret

    .section .rodata
path_chosen:        .asciz "/chosen"
path_uart6_debug:   .asciz "/arm-io/uart6/debug-console"
path_uart6:         .asciz "/arm-io/uart6"
path_uart0:         .asciz "/arm-io/uart0"
path_aic:           .asciz "/arm-io/aic"
path_wdt:           .asciz "/arm-io/wdt"
path_pmgr:          .asciz "/arm-io/pmgr"
path_cpus:          .asciz "/cpus"
str_chip_id:        .asciz "chip-id"
str_dram_base:      .asciz "dram-base"
str_dram_size:      .asciz "dram-size"
str_interrupts:     .asciz "interrupts"
str_aic2:           .asciz "aic,2"
str_aic3:           .asciz "aic,3"
str_iack:           .asciz "aic-iack-offset"
str_extint:         .asciz "extint-baseaddress"
str_cap0:           .asciz "cap0-offset"
str_maxnumirq:      .asciz "maxnumirq-offset"
str_reg:            .asciz "reg"
str_impl_reg:       .asciz "cpu-impl-reg"
str_state:          .asciz "state"

    .bss
    .balign 8
    .globl m3_state
m3_state:   .space  M3_SIZE
m3_diag:    .quad   0
