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


def key_name(key: int) -> str:
    return (f"S{key >> 14}_{(key >> 11) & 7}_C{(key >> 7) & 15}_C{(key >> 3) & 15}_{key & 7}")


# Registers the board models (time and Apple implementation-defined ones).
# Names follow the Arm ARM and m1n1's sysreg list.
CNTFRQ_EL0 = (3, 3, 14, 0, 0)
CNTPCT_EL0 = (3, 3, 14, 0, 1)
CNTVCT_EL0 = (3, 3, 14, 0, 2)
CNTP_TVAL_EL0 = (3, 3, 14, 2, 0)
CNTP_CTL_EL0 = (3, 3, 14, 2, 1)
CNTP_CVAL_EL0 = (3, 3, 14, 2, 2)
CNTV_TVAL_EL0 = (3, 3, 14, 3, 0)
CNTV_CTL_EL0 = (3, 3, 14, 3, 1)
CNTV_CVAL_EL0 = (3, 3, 14, 3, 2)
CNTHP_TVAL_EL2 = (3, 4, 14, 2, 0)
CNTHP_CTL_EL2 = (3, 4, 14, 2, 1)
CNTHP_CVAL_EL2 = (3, 4, 14, 2, 2)
APPLE_PMC0 = (3, 2, 15, 0, 0)        # cycles
APPLE_PMC1 = (3, 2, 15, 1, 0)        # instructions
APPLE_PMCR0 = (3, 1, 15, 0, 0)
APPLE_AGTCNTRDIR_EL1 = (3, 1, 15, 1, 5)
APPLE_AGTCNTRDIR_EL12 = (3, 4, 15, 14, 6)
APPLE_IPI_SR_EL1 = (3, 5, 15, 1, 1)


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

    def served(self) -> list[str]:
        return sorted(key_name(k) for k in set(self._read) | set(self._write))
