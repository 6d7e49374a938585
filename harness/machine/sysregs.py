"""MRS/MSR dispatch: system registers the board serves from Python.

Unicorn fires only the first UC_HOOK_INSN hook for an MRS or MSR, so there
is exactly one MRS hook and one MSR hook (native, in blockhook.c).  They
look the register's 16-bit encoding up in a bitmap and call into Python
only for registers registered here; everything else takes unicorn's native
path (which makes unknown registers, such as Apple's S3_x_C15_* ones when
nobody serves them, UNDEFINED as on a core without them).

When a handler serves an access the hook returns 1 (skip the native access)
and, if the instruction is the last of its block, advances PC by 4 itself:
otherwise unicorn restarts at the same instruction forever.  Handlers are
keyed by (op0, op1, CRn, CRm, op2).
"""

from __future__ import annotations

from typing import Callable

ReadFn = Callable[[], int]
WriteFn = Callable[[int], None]

MASK64 = (1 << 64) - 1


def sysreg_key(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """The architectural encoding op0:op1:CRn:CRm:op2 as one 16-bit number."""
    for v, bits in ((op0, 2), (op1, 3), (crn, 4), (crm, 4), (op2, 3)):
        if not 0 <= v < 1 << bits:
            raise ValueError(f"system register field {v} out of range")
    return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


# ---- the harness's one table of system-register encodings ----------------
# (op0, op1, CRn, CRm, op2) as MRS/MSR encode them.  Architectural ones from
# the Arm ARM (DDI 0487, "AArch64 System Register Descriptions"; at EL2
# under VHE the CNTP_*/CNTV_*_EL0 names reach the EL2 timers, as its
# Generic Timer chapter says); Apple's implementation-defined S3_x_C15_*
# ones from m1n1 src/cpu_regs.h and Linux arch/arm64/include/asm/
# apple_m1_pmu.h, drivers/irqchip/irq-apple-aic.c.  Every module that names
# a register imports it from here.

MIDR_EL1 = (3, 0, 0, 0, 0)
MPIDR_EL1 = (3, 0, 0, 0, 5)
ID_AA64MMFR0_EL1 = (3, 0, 0, 7, 0)
ID_AA64MMFR1_EL1 = (3, 0, 0, 7, 1)
ID_AA64MMFR2_EL1 = (3, 0, 0, 7, 2)
SCTLR_EL1 = (3, 0, 1, 0, 0)
TCR_EL1 = (3, 0, 2, 0, 2)
SPSR_EL1 = (3, 0, 4, 0, 0)
CURRENT_EL = (3, 0, 4, 2, 2)
SCTLR_EL2 = (3, 4, 1, 0, 0)
HCR_EL2 = (3, 4, 1, 1, 0)
CPTR_EL2 = (3, 4, 1, 1, 2)
TTBR0_EL2 = (3, 4, 2, 0, 0)
TTBR1_EL2 = (3, 4, 2, 0, 1)
TCR_EL2 = (3, 4, 2, 0, 2)
VTTBR_EL2 = (3, 4, 2, 1, 0)
VTCR_EL2 = (3, 4, 2, 1, 2)
SPSR_EL2 = (3, 4, 4, 0, 0)
HPFAR_EL2 = (3, 4, 6, 0, 4)
MAIR_EL2 = (3, 4, 10, 2, 0)
VBAR_EL2 = (3, 4, 12, 0, 0)
TPIDR_EL2 = (3, 4, 13, 0, 2)
SCR_EL3 = (3, 6, 1, 1, 0)

CNTFRQ_EL0 = (3, 3, 14, 0, 0)
CNTPCT_EL0 = (3, 3, 14, 0, 1)
CNTVCT_EL0 = (3, 3, 14, 0, 2)
CNTP_TVAL_EL0 = (3, 3, 14, 2, 0)
CNTP_CTL_EL0 = (3, 3, 14, 2, 1)
CNTP_CVAL_EL0 = (3, 3, 14, 2, 2)
CNTV_TVAL_EL0 = (3, 3, 14, 3, 0)
CNTV_CTL_EL0 = (3, 3, 14, 3, 1)
CNTV_CVAL_EL0 = (3, 3, 14, 3, 2)
CNTVOFF_EL2 = (3, 4, 14, 0, 3)
CNTHCTL_EL2 = (3, 4, 14, 1, 0)
CNTHP_TVAL_EL2 = (3, 4, 14, 2, 0)
CNTHP_CTL_EL2 = (3, 4, 14, 2, 1)
CNTHP_CVAL_EL2 = (3, 4, 14, 2, 2)
CNTHV_TVAL_EL2 = (3, 4, 14, 3, 0)
CNTHV_CTL_EL2 = (3, 4, 14, 3, 1)
CNTHV_CVAL_EL2 = (3, 4, 14, 3, 2)

APPLE_PMCR0 = (3, 1, 15, 0, 0)          # counter enables, interrupt mode
APPLE_PMCR1 = (3, 1, 15, 1, 0)          # which exception levels count
APPLE_PMSR = (3, 1, 15, 13, 0)          # overflow status
APPLE_PMC0 = (3, 2, 15, 0, 0)           # cycles
APPLE_PMC1 = (3, 2, 15, 1, 0)           # instructions
APPLE_IPI_RR_LOCAL_EL1 = (3, 5, 15, 0, 0)
APPLE_IPI_RR_GLOBAL_EL1 = (3, 5, 15, 0, 1)
APPLE_IPI_SR_EL1 = (3, 5, 15, 1, 1)
APPLE_IPI_CR_EL1 = (3, 5, 15, 3, 1)
APPLE_VM_TMR_FIQ_ENA_EL2 = (3, 5, 15, 1, 3)   # the guest timers' FIQ enables


class SysregDispatcher:
    """Python side of the MRS/MSR hooks: handler lookup by encoding.

    `serve_fn(key, read, write)` tells the native hook which encodings to
    pass up (El2Cpu wires it to sov_serve_sysreg)."""

    def __init__(self, serve_fn: Callable[[int, bool, bool], None]):
        self._serve = serve_fn
        self._read: dict[int, ReadFn] = {}
        self._write: dict[int, WriteFn] = {}

    def register(self, op0: int, op1: int, crn: int, crm: int, op2: int,
                 read: ReadFn | None = None, write: WriteFn | None = None) -> None:
        key = sysreg_key(op0, op1, crn, crm, op2)
        for table, fn in ((self._read, read), (self._write, write)):
            if fn is None:
                table.pop(key, None)
            else:
                table[key] = fn
        self._serve(key, read is not None, write is not None)

    def on_read(self, key: int) -> int:
        return self._read[key]() & MASK64

    def on_write(self, key: int, value: int) -> None:
        self._write[key](value)
