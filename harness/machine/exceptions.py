"""Synchronous-exception support that unicorn 2.1.4 lacks at EL2.

Unicorn does not deliver synchronous exceptions: it calls UC_HOOK_INTR with
QEMU's exception number and, if the hook changes nothing, retries the
instruction (docs/emulation.md).  QEMU has already computed the
syndrome, fault address and target EL in its CPU state (`env->exception`),
which lies in the saved context at a build-specific offset.  This module
finds that offset at start-up, reads the record, performs the AArch64
exception entry the way QEMU's arm_cpu_do_interrupt_aarch64 would, and
decodes syndromes for crash reports.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

from unicorn import UC_ARCH_ARM64, UC_HOOK_INTR, UC_MODE_ARM, Uc
from unicorn import arm64_const as A
from unicorn.unicorn_py3.unicorn import uclib

from harness.machine.sysregs import SCR_EL3 as _SCR_EL3


class EmulatorError(RuntimeError):
    """The emulated machine cannot go on; `pc` says where it stood."""

    def __init__(self, message: str, pc: int | None = None):
        super().__init__(message if pc is None else f"{message} (pc={pc:#x})")
        self.pc = pc


# QEMU's exception numbers as passed to UC_HOOK_INTR (target/arm/cpu.h).
INTR_KINDS = {
    1: "udef",
    2: "svc",
    3: "prefetch_abort",
    4: "data_abort",
    7: "brk",
    11: "hvc",
    13: "smc",
}
ABORT_KINDS = ("prefetch_abort", "data_abort")  # the only ones that set FAR

# Vector offsets inside a 2 KiB table (Arm ARM D1.10.2).
VEC_SYNC, VEC_IRQ, VEC_FIQ, VEC_SERROR = 0x000, 0x080, 0x100, 0x180
VEC_CUR_SPX, VEC_LOWER_A64 = 0x200, 0x400

PSTATE_SP = 1 << 0
PSTATE_F, PSTATE_I = 1 << 6, 1 << 7
PSTATE_DAIF = 0xF << 6
PSTATE_PAN = 1 << 22
HCR_FMO, HCR_IMO, HCR_TGE, HCR_E2H = 1 << 3, 1 << 4, 1 << 27, 1 << 34
SCTLR_SPAN = 1 << 23

# --------------------------------------------------------------------------
# Calibration: where is env->exception inside the saved context?
# --------------------------------------------------------------------------

# struct { uint32 syndrome; uint32 fsr; uint64 vaddress; uint32 target_el; }
_RECORD = struct.Struct("<IIQI")
RECORD_SIZE = _RECORD.size

SCR_EL3_VALUE = 0x30501  # NS | HCE (hvc) | RW (AArch64 EL2, eret) | APK | API (PAC)
_CAL_BASE = 0x10000
_CAL_IMMS = (0x1234, 0x5A5A)


def enter_el2(uc: Uc) -> None:
    """Move a fresh unicorn CPU from EL1h to EL2h with DAIF masked.

    Writing PSTATE alone stores the value but leaves QEMU's cached per-EL
    flags stale (CurrentEL still reads 1); any CP_REG write rebuilds them,
    so SCR_EL3 is written last, after PSTATE."""
    uc.cpr_write(*_SCR_EL3, SCR_EL3_VALUE)
    uc.reg_write(A.UC_ARM64_REG_PSTATE, 0x3C9)
    uc.cpr_write(*_SCR_EL3, SCR_EL3_VALUE)


class ContextReader:
    """uc_context_save into one preallocated buffer; read bytes from it."""

    def __init__(self, uc: Uc):
        self._uch = uc._uch
        self.size = uclib.uc_context_size(self._uch)
        self._ctx = ctypes.c_void_p()
        err = uclib.uc_context_alloc(self._uch, ctypes.byref(self._ctx))
        if err:
            raise EmulatorError(f"uc_context_alloc failed ({err})")

    def __del__(self):
        if getattr(self, "_ctx", None):
            uclib.uc_context_free(self._ctx)

    def snapshot(self) -> None:
        uclib.uc_context_save(self._uch, self._ctx)

    def read(self, offset: int, size: int) -> bytes:
        return ctypes.string_at(self._ctx.value + offset, size)

    def all(self) -> bytes:
        self.snapshot()
        return self.read(0, self.size)


def calibrate_record_offset() -> int:
    """Find the offset of env->exception in the saved context.

    A scratch CPU at EL2 executes `svc #0x1234; svc #0x5a5a`; the record
    must hold each SVC's syndrome (EC 0x15, IL, imm16) and target EL 2 at
    the same offset.  Anything but exactly one candidate means the unicorn
    build differs from the one this harness knows: stop loudly rather than
    deliver garbage syndromes."""
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM, A.UC_CPU_ARM64_MAX)
    enter_el2(uc)
    uc.mem_map(_CAL_BASE, 0x4000)
    code = b"".join(struct.pack("<I", 0xD4000001 | imm << 5) for imm in _CAL_IMMS)
    uc.mem_write(_CAL_BASE, code)
    reader = ContextReader(uc)
    snaps: list[bytes] = []

    def on_intr(uc, intno, _):
        snaps.append(reader.all() if intno == 2 else b"")
        if len(snaps) == len(_CAL_IMMS):
            uc.emu_stop()

    uc.hook_add(UC_HOOK_INTR, on_intr)
    uc.emu_start(_CAL_BASE, _CAL_BASE + len(code) + 4, count=len(_CAL_IMMS) + 1)
    if len(snaps) != len(_CAL_IMMS) or not all(snaps):
        raise EmulatorError(f"exception-record calibration: expected {len(_CAL_IMMS)} SVC "
                            f"exceptions, saw QEMU exception numbers for {len(snaps)}")
    candidates = []
    for off in range(0, len(snaps[0]) - RECORD_SIZE + 1, 4):
        ok = True
        for imm, snap in zip(_CAL_IMMS, snaps):
            syndrome, _fsr, _va, target_el = _RECORD.unpack_from(snap, off)
            if syndrome != (0x15 << 26 | 1 << 25 | imm) or target_el != 2:
                ok = False
                break
        if ok:
            candidates.append(off)
    if len(candidates) != 1:
        raise EmulatorError(
            "exception-record calibration found "
            f"{len(candidates)} candidate offsets {candidates[:8]} instead of exactly one: "
            "this unicorn build is not the one emulation.md describes (unicorn==2.1.4)")
    return candidates[0]


@dataclass(frozen=True)
class ExceptionRecord:
    syndrome: int
    vaddress: int
    target_el: int


def read_record(reader: ContextReader, offset: int) -> ExceptionRecord:
    reader.snapshot()
    syndrome, _fsr, vaddress, target_el = _RECORD.unpack(reader.read(offset, RECORD_SIZE))
    return ExceptionRecord(syndrome, vaddress, target_el)


# --------------------------------------------------------------------------
# Architectural exception entry (as QEMU's arm_cpu_do_interrupt_aarch64)
# --------------------------------------------------------------------------


def vector_offset(from_pstate: int, target_el: int, kind_offset: int) -> int:
    """Offset into VBAR_ELx: lower EL (AArch64; nothing here runs AArch32)
    at +0x400, same EL on SP_ELx at +0x200, same EL on SP_EL0 at +0."""
    from_el = (from_pstate >> 2) & 3
    if from_el < target_el:
        base = VEC_LOWER_A64
    elif from_pstate & PSTATE_SP:
        base = VEC_CUR_SPX
    else:
        base = 0
    return base + kind_offset


def take_exception(cpu, target_el: int, kind_offset: int, elr: int,
                   esr: int | None = None, far: int | None = None) -> int:
    """Perform AArch64 exception entry to `target_el` (1 or 2) on `cpu`
    (an El2Cpu).  Returns the new PC.

    QEMU keeps the live SP in X31 and the others in SP_EL0..3, and only its
    own entry/ERET code swaps them, so the swap is done here: the current
    SP goes to its bank (SP_EL0 if PSTATE.SP is 0) and SP_ELx becomes live.
    PSTATE becomes ELxh with DAIF masked (NZCV etc. cleared, as QEMU does)
    and PAN set as the Arm ARM says; then a CP_REG write rebuilds QEMU's
    cached flags, which a PSTATE write alone does not."""
    cpu.charge_exception_entry()
    old = cpu.reg_read("pstate")
    from_el = (old >> 2) & 3
    cpu.reg_write(f"sp_el{from_el if old & PSTATE_SP else 0}", cpu.reg_read("sp"))
    vbar = cpu.reg_read(f"vbar_el{target_el}")
    pc = vbar + vector_offset(old, target_el, kind_offset)
    if esr is not None:
        cpu.reg_write(f"esr_el{target_el}", esr)
    if far is not None:
        cpu.reg_write(f"far_el{target_el}", far)
    cpu.reg_write(f"elr_el{target_el}", elr)
    cpu.reg_write(f"spsr_el{target_el}", old)
    new = PSTATE_DAIF | target_el << 2 | PSTATE_SP | (old & PSTATE_PAN)
    if target_el == 1 or (cpu.reg_read("hcr_el2") & (HCR_E2H | HCR_TGE)) == HCR_E2H | HCR_TGE:
        if not cpu.reg_read(f"sctlr_el{target_el}") & SCTLR_SPAN:
            new |= PSTATE_PAN
    cpu.reg_write("pstate", new)
    cpu.reg_write("sp", cpu.reg_read(f"sp_el{target_el}"))
    cpu.refresh_flags()
    cpu.reg_write("pc", pc)
    return pc


# --------------------------------------------------------------------------
# Syndrome decoding for crash reports
# --------------------------------------------------------------------------

EC_NAMES = {
    0x00: "unknown reason (UNDEFINED instruction)",
    0x01: "trapped WFI/WFE",
    0x03: "trapped MCR/MRC (coproc 0b1111)",
    0x04: "trapped MCRR/MRRC (coproc 0b1111)",
    0x05: "trapped MCR/MRC (coproc 0b1110)",
    0x06: "trapped LDC/STC",
    0x07: "SVE/SIMD/FP access trap",
    0x09: "pointer authentication instruction trap",
    0x0A: "LD64B/ST64B trap",
    0x0C: "trapped MRRC (coproc 0b1110)",
    0x0D: "branch target exception (BTI)",
    0x0E: "illegal execution state",
    0x11: "SVC (AArch32)",
    0x12: "HVC (AArch32)",
    0x13: "SMC (AArch32)",
    0x15: "SVC (AArch64)",
    0x16: "HVC (AArch64)",
    0x17: "SMC (AArch64)",
    0x18: "trapped MSR/MRS/system instruction",
    0x19: "SVE access trap",
    0x1A: "trapped ERET",
    0x1C: "pointer authentication failure",
    0x1D: "SME access trap",
    0x1F: "implementation defined (EL3)",
    0x20: "instruction abort from a lower EL",
    0x21: "instruction abort, same EL",
    0x22: "PC alignment fault",
    0x24: "data abort from a lower EL",
    0x25: "data abort, same EL",
    0x26: "SP alignment fault",
    0x27: "memory operation exception",
    0x28: "FP exception (AArch32)",
    0x2C: "FP exception (AArch64)",
    0x2F: "SError",
    0x30: "breakpoint from a lower EL",
    0x31: "breakpoint, same EL",
    0x32: "software step from a lower EL",
    0x33: "software step, same EL",
    0x34: "watchpoint from a lower EL",
    0x35: "watchpoint, same EL",
    0x38: "BKPT (AArch32)",
    0x3A: "vector catch (AArch32)",
    0x3C: "BRK (AArch64)",
}


def decode_fsc(fsc: int) -> str:
    """DFSC/IFSC, ESR bits [5:0]."""
    level = fsc & 3
    group = fsc >> 2
    by_level = {0: "address size fault", 1: "translation fault", 2: "access flag fault",
                3: "permission fault", 5: "synchronous external abort on table walk",
                7: "parity/ECC error on table walk"}
    if group in by_level and not (group == 2 and level == 0):
        return f"{by_level[group]}, level {level}"
    return {
        0x08: "access flag fault, level 0",
        0x10: "synchronous external abort",
        0x11: "synchronous tag check fault",
        0x18: "synchronous parity/ECC error",
        0x21: "alignment fault",
        0x22: "granule protection fault",
        0x23: "granule protection fault on table walk, level -1",
        0x29: "address size fault, level -1",
        0x2B: "translation fault, level -1",
        0x30: "TLB conflict abort",
        0x31: "unsupported atomic hardware update",
        0x34: "implementation defined fault (lockdown)",
        0x35: "unsupported exclusive or atomic access",
    }.get(fsc, f"fault status {fsc:#04x}")


def decode_esr(esr: int) -> str:
    """One line a person can read: exception class, then what the ISS says."""
    ec = (esr >> 26) & 0x3F
    iss = esr & 0x1FFFFFF
    text = f"EC {ec:#04x} {EC_NAMES.get(ec, 'reserved exception class')}"
    if ec in (0x15, 0x16, 0x17, 0x11, 0x12, 0x13, 0x3C):
        text += f", imm {iss & 0xFFFF:#x}"
    elif ec in (0x20, 0x21):
        text += f": {decode_fsc(iss & 0x3F)}"
        if iss & (1 << 7):
            text += " (stage 2, on stage-1 table walk)"
    elif ec in (0x24, 0x25):
        text += f": {decode_fsc(iss & 0x3F)}, {'write' if iss & (1 << 6) else 'read'}"
        if iss & (1 << 24):  # ISV: the access is described
            text += f", {1 << ((iss >> 22) & 3)} bytes, register x{(iss >> 16) & 0x1F}"
        if iss & (1 << 10):
            text += ", FAR not valid"
        if iss & (1 << 7):
            text += " (stage 2, on stage-1 table walk)"
    elif ec == 0x18:
        op0, op2, op1 = (iss >> 20) & 3, (iss >> 17) & 7, (iss >> 14) & 7
        crn, rt, crm = (iss >> 10) & 0xF, (iss >> 5) & 0x1F, (iss >> 1) & 0xF
        direction = "MRS" if iss & 1 else "MSR"
        text += f": {direction} S{op0}_{op1}_C{crn}_C{crm}_{op2}, x{rt}"
    elif ec == 0x01:
        text += ": " + ("WFE" if iss & 1 else "WFI")
    elif ec == 0x00 and iss:
        text += f", iss {iss:#x}"
    return text
