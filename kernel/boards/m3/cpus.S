/*
 * Board m3: the cores, as m1n1 starts them (src/smp.c smp_start_cpu) and
 * sets them up (src/chickens.c init_cpu), for kernel/smp.S.
 *
 * A core is listed in the ADT's /cpus (kernel/boards/m3/discover.S:
 * M3_CPUS, each its "reg" and the first cpu-impl-reg).  Starting one:
 *   - its RVBAR, the 64-bit register at cpu-impl-reg[0] (bits 47:12 the
 *     reset address, bit 0 LOCK), holds our entry: written at discovery,
 *     while the MMU is off and the register needs no mapping
 *     (m3_cpus_prepare); a locked RVBAR at another address cannot be
 *     changed and the core is not started (smp.c prints "RVBAR is locked
 *     and differs"; M3 has its Apple registers unlocked, features_m3
 *     apple_sysregs_unlocked, so it should not happen there);
 *   - PMGR's cpu-start block, pmgr + an offset per chip that the ADT does
 *     not give (smp.c CPU_START_OFF_*: t8122 and t6030 0x34000, t6031
 *     and t6034 0x88000): 1 << (4 cluster + core) to +0x4 ("some kind of
 *     system level startup/status bit. Without this, IRQs don't work"),
 *     then 1 << core to +0x8 + 4 cluster, which starts it.  Die 0 only
 *     (PMGR_DIE_OFFSET for the others: M3 Ultra UNVERIFIED).
 * A started core runs init_cpu's steps for the M3 feature set before it
 * takes interrupts (m3_core_init).  The core-type chicken bits
 * (src/chickens/everest.c, sawtooth.c) are not applied: UNVERIFIED which
 * of them a kernel that never runs EL1 guests at speed needs; the boot
 * core has them from m1n1.
 */
#include "macros.inc"
#include "percpu.inc"
#include BOARD_INC

#define RVBAR_LOCK      1
#define RVBAR_ADDR_MASK 0x0000fffffffff000     /* bits 47:12 */

/* M3_CPUS entry */
#define CPU_REG         0
#define CPU_IMPL        8
#define CPU_STATUS      16      /* START_OK, or why it cannot be started */

/* Apple implementation registers (m1n1 src/cpu_regs.h) */
#define HID4            S3_0_C15_C4_0
#define EHID4           S3_0_C15_C4_1
#define HID4_DISABLE_DC (1 << 11 | 1 << 44)   /* DISABLE_DC_MVA, DISABLE_DC_SW_L2_OPS */
#define HID13           S3_0_C15_C14_0
#define HID13_RESET_CYC_SHIFT 60               /* RESET_CYCLES 63:60 */
#define HID14           S3_0_C15_C15_0
#define HID14_NEX_PG    32                     /* ENABLE_NEX_POWER_GATING */
#define SIQ_CFG_EL1     S3_4_C15_C10_4
#define AMX_CTX_EL1     S3_4_C15_C5_0
#define AMX_CTL_EL1     S3_4_C15_C1_4
#define CYC_OVRD        S3_5_C15_C5_0
#define CYC_OVRD_CLEAR  (3 << 20 | 3 << 22 | 3 << 24 | 1)   /* FIQ, IRQ, WFI modes; DISABLE_WFI_RET */
#define CYC_OVRD_SET    (2 << 24 | 2 << 22)                 /* WFI mode 2 ("up"); IRQ mode 2:
                                                               masked (m1n1 src/utils.c cpu_sleep) */
#define ACC_CFG         S3_5_C15_C4_0
#define ACC_CFG_BP_SLEEP_SHIFT 2                            /* 3:2 */
#define AGTCNTRDIR_EL1  S3_1_C15_C1_5
#define AGTCNTRDIR_EL12 S3_4_C15_C14_6

    .text

/*
 * m3_cpus_prepare ( x0 = entry (physical, 4 KiB aligned) ): at discovery,
 * MMU off: every listed core but this one gets the entry in its RVBAR,
 * or its status says why not; the chip's cpu-start block is noted and
 * added to the device windows.  x21 = boot_info, x22 = m3_state (as
 * discover.S has them).  Clobbers x0-x8.
 */
    .globl m3_cpus_prepare
m3_cpus_prepare:
    mov     x8, x30
    mov     x7, x0
    ldr     x0, [x22, #M3_CHIP]
    movq    x1, 0x8122
    movq    x2, 0x6030
    movq    x3, 0x6031
    movq    x4, 0x6034
    movq    x5, 0x34000
    movq    x6, 0x88000
    cmp     x0, x1
    ccmp    x0, x2, #4, ne
    csel    x5, x5, xzr, eq             /* t8122, t6030 */
    cmp     x0, x3
    ccmp    x0, x4, #4, ne
    csel    x5, x6, x5, eq              /* t6031, t6034 */
    ldr     x0, [x22, #M3_PMGR]
    cmp     x0, #0
    ccmp    x5, #0, #4, ne
    b.eq    1f                          /* no PMGR, or no offset: no starting */
    add     x0, x0, x5
    mov     x1, #0x4000
    bl      add_device
    cbz     x2, 1f
    str     x0, [x22, #M3_CPUSTART]
1:  ldr     x6, [x22, #M3_NCPU]
    add     x5, x22, #M3_CPUS
2:  cbz     x6, 9f
    ldr     x0, [x5, #CPU_REG]
    ldr     x1, [x22, #M3_BOOTCPU]
    mov     x4, #START_OK
    cmp     x0, x1
    b.eq    4f                          /* us */
    mov     x4, #START_NO_METHOD
    ldr     x1, [x22, #M3_CPUSTART]
    ldr     x2, [x5, #CPU_IMPL]
    cmp     x1, #0
    ccmp    x2, #0, #4, ne
    b.eq    4f
    mov     x4, #START_BAD_ID
    ubfx    x1, x0, #11, #4             /* die */
    cbnz    x1, 4f
    ubfx    x1, x0, #8, #3              /* cluster */
    and     x3, x0, #0xff               /* core */
    add     x1, x3, x1, lsl #2
    cmp     x1, #32
    b.hs    4f
    ldr     x1, [x2]                    /* RVBAR */
    mov     x4, #START_LOCKED
    and     x3, x1, #RVBAR_ADDR_MASK
    tbz     x1, #0, 3f                  /* LOCK clear: ours to write */
    cmp     x3, x7
    b.ne    4f
    b       5f
3:  str     x7, [x2]
5:  mov     x4, #START_OK
4:  str     x4, [x5, #CPU_STATUS]
    add     x5, x5, #M3_CPU_SIZE
    sub     x6, x6, #1
    b       2b
9:  dsb     sy
    ret     x8

/*
 * kernel/smp.S's board interface (contracts there and in
 * kernel/boards/virt/board.S): board_cpu_count, board_cpu_key,
 * board_cpu_start, board_core_init.
 */
    .globl board_cpu_count, board_cpu_key, board_cpu_start, board_core_init
board_cpu_count:
    ladr    x0, m3_state
    ldr     x0, [x0, #M3_NCPU]
    ret

board_cpu_key:
    ladr    x2, m3_state
    mov     x1, #M3_CPU_SIZE
    madd    x1, x0, x1, x2
    ldr     x0, [x1, #(M3_CPUS + CPU_REG)]
    ldr     x2, [x2, #M3_BOOTCPU]
    cmp     x0, x2
    cset    x1, eq
    and     x0, x0, #0x7ff              /* cluster 10:8, core 7:0: mpidr_key's */
    ret

board_cpu_start:
    ladr    x2, m3_state
    mov     x3, #M3_CPU_SIZE
    madd    x4, x0, x3, x2
    add     x4, x4, #M3_CPUS            /* the entry */
    ldr     x0, [x4, #CPU_STATUS]
    cbnz    x0, 9f                      /* prepared: or why not */
    ldr     x5, [x2, #M3_CPUSTART]
    ldr     x0, [x4, #CPU_REG]
    ubfx    x1, x0, #8, #3              /* cluster */
    and     x3, x0, #0xff               /* core */
    add     x6, x3, x1, lsl #2
    mov     w7, #1
    lsl     w6, w7, w6
    dsb     sy                          /* our writes before the core runs */
    str     w6, [x5, #0x4]              /* its startup bit: IRQs */
    lsl     w3, w7, w3
    add     x1, x5, x1, lsl #2
    str     w3, [x1, #0x8]              /* go */
    mov     x0, #START_OK
9:  ret

/*
 * board_core_init ( x9 = per-core ): m1n1's init_cpu for the M3 feature
 * set (src/chickens.c features_m3), in its order, on a started core.
 * E-core or P-core from MPIDR bit 16 (m1n1 is_ecore).  Clobbers x0-x2.
 */
board_core_init:
    msr     oslar_el1, xzr              /* the OS lock off */
    mrs     x2, mpidr_el1
    movq    x1, HID4_DISABLE_DC         /* disable_dc_mva */
    tbnz    x2, #16, 1f
    mrs     x0, EHID4
    orr     x0, x0, x1
    msr     EHID4, x0
    b       2f
1:  mrs     x0, HID4
    orr     x0, x0, x1
    msr     HID4, x0
    mrs     x0, HID13                   /* nex_powergating (P-cores) */
    and     x0, x0, #~(0xf << HID13_RESET_CYC_SHIFT)
    mov     x1, #12
    orr     x0, x0, x1, lsl #HID13_RESET_CYC_SHIFT
    msr     HID13, x0
    mrs     x0, HID14
    orr     x0, x0, #(1 << HID14_NEX_PG)
    msr     HID14, x0
2:  mov     x0, #2                      /* siq_cfg: "0 causes pathological */
    msr     SIQ_CFG_EL1, x0             /*   behavior in EL1, 2 works" */
    isb
    and     x0, x2, #0xff               /* amx */
    msr     AMX_CTX_EL1, x0
    mov     x0, #0x100
    msr     AMX_CTL_EL1, x0
    mrs     x0, CYC_OVRD                /* FIQ unmasked (its timers, fast IPIs), WFI mode
                                           up; device IRQs masked: the AIC's go to the
                                           boot core, whose console takes them (m1n1's
                                           init_cpu unmasks both; we keep IRQs off here) */
    movq    x1, CYC_OVRD_CLEAR
    bic     x0, x0, x1
    movq    x1, CYC_OVRD_SET
    orr     x0, x0, x1
    msr     CYC_OVRD, x0
    mrs     x0, ACC_CFG                 /* branch predictor kept across sleep */
    orr     x0, x0, #(3 << ACC_CFG_BP_SLEEP_SHIFT)
    msr     ACC_CFG, x0
    msr     AGTCNTRDIR_EL1, xzr         /* counter redirect: the scaled counter */
    msr     AGTCNTRDIR_EL12, xzr
    isb
    ret
