"""The emulated CPU core: unicorn's MAX AArch64 model running at EL2.

El2Cpu hides the unicorn 2.1.4 quirks listed in docs/emulation.md
(each pinned by tests/test_emulator_workarounds.py):

- it enters EL2h itself (PSTATE write + a CP_REG write to refresh flags);
- it delivers synchronous exceptions architecturally from UC_HOOK_INTR,
  with the syndrome read from QEMU's exception record (offset calibrated at
  start-up);
- it counts retired instructions exactly with a native block hook
  (harness/native/blockhook.c), which also enforces the instruction limit
  and raises event deadlines and IRQ/FIQ at block boundaries, because
  unicorn has neither a usable timer nor an interrupt line;
- it serves chosen system registers from Python through one MRS and one
  MSR hook;
- it lets checkers observe chosen MSRs (observe_msr) and SYS instructions
  such as TLBI (observe_sys) without changing what they do, and tells
  exception listeners (exception_listeners) about every exception it
  delivers.  Both cost nothing on ordinary instructions: they install no
  memory hook (any UC_HOOK_MEM_* moves every load and store of the
  machine onto unicorn's slow path: tcg_uc_has_hookmem in
  qemu/include/tcg/tcg.h);
- the memory and branch model (install_memory_model, native too) is the
  one memory hook: caches, the DRAM channel, Normal-NC and Device costs,
  the return stack and indirect-branch targets, added to the cycle counts
  (harness/costs.py MEMORY says what each costs and where it comes from).

Time never comes from the host: the clock is retired instructions plus the
time skipped while waiting in WFI.
"""

from __future__ import annotations

import ctypes
import enum
import hashlib
import os
import platform
import struct
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from unicorn import UC_ARCH_ARM64, UC_HOOK_INTR, UC_MODE_ARM, Uc, UcError
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH
from unicorn import arm64_const as A
from unicorn.unicorn_py3.arch.arm64 import UcRegCP64
from unicorn.unicorn_py3.unicorn import uclib

from harness import toolchain
from harness.machine import exceptions as exc
from harness.machine.exceptions import EmulatorError, decode_esr  # noqa: F401  (re-exported)
from harness.machine.vhe import serve_el12_aliases
from harness.machine import sysregs as R
from harness.machine.sysregs import SysregDispatcher, sysreg_key

ROOT = Path(__file__).resolve().parents[2]
NATIVE_SRC = ROOT / "harness" / "native" / "blockhook.c"
NATIVE_DIR = ROOT / "build" / "native"

NO_LIMIT = (1 << 64) - 1
# (op1, CRn, CRm, op2) of TLBI ALLE2IS, VAE2IS, VALE2IS (Arm ARM C5.5)
TLBI_IS_EL2 = [(4, 8, 3, 0), (4, 8, 3, 1), (4, 8, 3, 5)]
_UNTIL = (1 << 64) - 1  # an end address execution never reaches

# Flags and stop reasons shared with blockhook.c.
_F_STOP, _F_IRQ, _F_FIQ = 1, 2, 4
_STOP_LIMIT, _STOP_REQUESTED = 1, 2


class StopReason(enum.Enum):
    LIMIT = "limit"          # instructions >= limit
    STOPPED = "stopped"      # request_stop()
    WFI = "wfi"              # waiting for an interrupt and no event is due
    EXCEPTION = "exception"  # on_exception refused delivery; see last_exception


class SovState(ctypes.Structure):
    """The public head of sov_state in blockhook.c (same order and types)."""

    _fields_ = [
        ("instructions", ctypes.c_uint64),
        ("cycles_cons", ctypes.c_int64),
        ("cycles_opt", ctypes.c_int64),
        ("idle", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("deadline", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("stop_reason", ctypes.c_uint32),
        ("blk_addr", ctypes.c_uint64),
        ("blk_size", ctypes.c_uint32),
        ("in_sysreg", ctypes.c_uint32),
        ("blk_cons", ctypes.c_int64),
        ("blk_opt", ctypes.c_int64),
        ("mid_insns", ctypes.c_uint64),
        ("mid_cons", ctypes.c_int64),
        ("mid_opt", ctypes.c_int64),
        ("cycles_assumed", ctypes.c_int64),
        ("blk_assumed", ctypes.c_int64),
        ("mid_assumed", ctypes.c_int64),
        ("shoot_cons", ctypes.c_int64),
        ("shoot_opt", ctypes.c_int64),
        ("shoot_armed", ctypes.c_uint32),
        ("shoot_pad", ctypes.c_uint32),
    ]


_BOUNDARY_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint32)
_COST_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint32,
                            ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64),
                            ctypes.POINTER(ctypes.c_uint32))
_SR_READ_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint32)
_SR_WRITE_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint64)
_OBSERVE_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32)

_native_lib: ctypes.CDLL | None = None


def native_library() -> ctypes.CDLL:
    """Compile blockhook.c for the host with zig cc (once per source
    version) and load it."""
    global _native_lib
    if _native_lib is not None:
        return _native_lib
    src = NATIVE_SRC.read_bytes()
    tag = hashlib.sha256(src + platform.machine().encode() + platform.system().encode()).hexdigest()[:12]
    ext = ".dylib" if platform.system() == "Darwin" else ".so"
    out = NATIVE_DIR / f"blockhook-{tag}{ext}"
    if not out.exists():
        NATIVE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp{ext}")
        toolchain.host_cc(NATIVE_SRC, tmp)
        os.replace(tmp, out)  # atomic: parallel test workers may race here
    lib = ctypes.CDLL(str(out))
    vp, u32, u64, i32 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int
    lib.sov_new.restype = ctypes.POINTER(SovState)
    lib.sov_new.argtypes = [vp, vp, vp, i32, i32]
    lib.sov_free.argtypes = [vp]
    lib.sov_set_callbacks.argtypes = [vp, vp, vp, vp, vp]
    lib.sov_set_cost_fn.argtypes = [vp, vp]
    lib.sov_invalidate_costs.argtypes = [vp, u64, u64]
    lib.sov_uncount.argtypes = [vp, u64]
    lib.sov_serve_sysreg.argtypes = [vp, u32, i32, i32]
    lib.sov_observe.argtypes = [vp, u32, i32]
    lib.sov_compare_regions.argtypes = [vp, vp, u32, vp, vp, vp, vp]
    lib.sov_attach.argtypes = [vp, vp, vp, ctypes.POINTER(ctypes.c_size_t)]
    lib.sov_mm_install.argtypes = [vp, vp, vp, vp, u32, u32, vp, vp, vp, u32, u32]
    lib.sov_mm_share_l2.argtypes = [vp, vp]
    lib.sov_mm_l2_id.argtypes = [vp]
    lib.sov_mm_l2_id.restype = u64
    lib.sov_mm_flush.argtypes = [vp, i32]
    lib.sov_mm_set_streams.argtypes = [vp, u32]
    lib.sov_mm_set_streams.restype = u32
    lib.sov_mm_idle.argtypes = [vp]
    lib.sov_bp_exception.argtypes = [vp]
    lib.sov_mm_stats.argtypes = [vp, vp]
    lib.sov_mm_nstats.restype = u32
    lib.sov_mm_nparams.restype = u32
    _native_lib = lib
    return lib


def _fn_addr(fn) -> int:
    return ctypes.cast(fn, ctypes.c_void_p).value


_MEM_READ = _fn_addr(uclib.uc_mem_read)


# Register names: everything unicorn has a direct id for, lower-cased
# (x0..x30, sp, pc, pstate, nzcv, elr_el2, esr_el2, far_el2, vbar_el2,
# sp_el0..3, ...), plus system registers reachable only as CP_REG.
_DIRECT: dict[str, int] = {}
for _name in dir(A):
    if _name.startswith("UC_ARM64_REG_") and not any(
            _name.endswith(s) for s in ("INVALID", "ENDING", "CP_REG")):
        _DIRECT.setdefault(_name[len("UC_ARM64_REG_"):].lower(), getattr(A, _name))
_CPREG: dict[str, tuple[int, int, int, int, int]] = {
    name.lower(): getattr(R, name) for name in (
        "SPSR_EL1", "SPSR_EL2", "SCTLR_EL1", "SCTLR_EL2", "HCR_EL2", "CPTR_EL2", "TCR_EL1", "TCR_EL2",
        "TTBR0_EL2", "TTBR1_EL2", "VTTBR_EL2", "VTCR_EL2", "MAIR_EL2", "HPFAR_EL2", "TPIDR_EL2",
        "CNTHCTL_EL2", "CNTVOFF_EL2", "SCR_EL3", "MIDR_EL1", "MPIDR_EL1")}


@dataclass(frozen=True)
class ExceptionInfo:
    """The last exception, for crash reports."""

    kind: str          # udef, svc, hvc, smc, brk, prefetch_abort, data_abort, irq, fiq
    esr: int
    far: int | None
    elr: int
    from_el: int
    target_el: int
    delivered: bool

    def describe(self) -> str:
        text = f"{self.kind} at {self.elr:#x} (EL{self.from_el} -> EL{self.target_el})"
        if self.kind not in ("irq", "fiq"):
            text += f": ESR {self.esr:#010x} {decode_esr(self.esr)}"
        if self.far is not None:
            text += f", FAR {self.far:#x}"
        return text


class El2Cpu:
    """One M3 core, emulated by unicorn, at EL2.  See the module doc."""

    def __init__(self):
        self.uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM, A.UC_CPU_ARM64_MAX)
        self._uch = self.uc._uch
        self._buf = ctypes.c_uint64()
        self._buf_addr = ctypes.addressof(self._buf)
        self._cp = UcRegCP64()
        self._cp_addr = ctypes.addressof(self._cp)
        exc.enter_el2(self.uc)

        self.record_offset = exc.calibrate_record_offset()
        self._ctx = exc.ContextReader(self.uc)

        lib = self._lib = native_library()
        self._st_ptr = lib.sov_new(_fn_addr(uclib.uc_emu_stop), _fn_addr(uclib.uc_reg_read),
                                   _fn_addr(uclib.uc_reg_write), A.UC_ARM64_REG_PC,
                                   A.UC_ARM64_REG_PSTATE)
        if not self._st_ptr:
            raise MemoryError("sov_new")
        self._st = self._st_ptr.contents
        self._stp = ctypes.cast(self._st_ptr, ctypes.c_void_p).value
        # ctypes callbacks must outlive the hooks: keep them on self.
        self._cb_boundary = _BOUNDARY_FN(self._boundary)
        self._cb_sr_read = _SR_READ_FN(self._sysreg_read_cb)
        self._cb_sr_write = _SR_WRITE_FN(self._sysreg_write_cb)
        self._cb_observe = _OBSERVE_FN(self._observe_cb)
        self._cb_cost = None
        lib.sov_set_callbacks(self._stp, _fn_addr(self._cb_boundary), _fn_addr(self._cb_sr_read),
                              _fn_addr(self._cb_sr_write), _fn_addr(self._cb_observe))
        self._hooks = (ctypes.c_size_t * 4)()
        err = lib.sov_attach(self._stp, self._uch.value, _fn_addr(uclib.uc_hook_add), self._hooks)
        if err:
            raise EmulatorError(f"registering the native hooks failed: {UcError(err)}")
        self.uc.hook_add(UC_HOOK_INTR, self._on_intr)
        # The native state must live exactly as long as the Uc whose hooks
        # point at it (the Uc also keeps this object alive through its
        # Python hooks).  uc_close never calls hooks, so the order in which
        # the two are released does not matter.
        weakref.finalize(self.uc, lib.sov_free, self._stp)

        self.sysregs = SysregDispatcher(
            lambda key, r, w: lib.sov_serve_sysreg(self._stp, key, int(r), int(w)))
        self._observers: dict[int, list[Callable]] = {}
        # During an observer: the instruction's PC and the EL it runs at
        # (read natively; the hook runs before unicorn's access check, so
        # an MSR or TLBI below the EL it needs is observed, then UNDEF).
        self.observed_pc = 0
        self.observed_el = 0
        # fn(kind, pc) before every exception the harness delivers (kind as
        # in ExceptionInfo; pc: the return or faulting address, i.e. ELR).
        self.exception_listeners: list[Callable[[str, int], None]] = []
        self._deadline_cb: Callable[[], None] | None = None
        self._exception_policy: Callable[[str, int, int, int], bool] = self.default_exception_policy
        self._cb_error: BaseException | None = None
        self._refused = False
        self._policy_target = 2
        self.last_exception: ExceptionInfo | None = None
        self.exception_entry_cost = (0, 0)
        self.exception_entry_assumed = 0       # 1: that cost is an assumption (cycles_assumed_x1000)
        self.memory_model = False     # install_memory_model() sets it
        serve_el12_aliases(self)   # unicorn lacks the VHE *_EL12 aliases (machine/vhe.py)
        # unicorn 2.1.4's TLBI VAE2IS, VALE2IS and ALLE2IS flush only QEMU's
        # non-VHE EL2 TLB (qemu/target/arm/helper.c tlbi_aa64_vae2is_write:
        # ARMMMUIdxBit_E2), not the EL2&0 regime E2H = 1 runs in, so a page
        # made invalid would keep its stale translation; the local VAE2 uses
        # e2_tlbmask and is right.  Flush everything before those three.
        # Pinned by tests/test_emulator_workarounds.py.
        self._observe_tlbi_is()
        self.on_wfi: Callable[[], None] | None = None   # called when the core starts waiting in WFI
        # fn(address, size) for every block before it is costed (once per
        # distinct block while a cost function is set): the multi-core
        # machine refuses instructions it cannot model (harness/machine/smp.py).
        self.block_inspect: Callable[[int, int], None] | None = None

    # ---- memory -------------------------------------------------------

    def map_ram(self, base: int, size: int) -> None:
        self.uc.mem_map(base, size)

    def map_ram_ptr(self, base: int, size: int, host, offset: int = 0) -> None:
        """RAM backed by `host` (a writable buffer such as an anonymous
        mmap) from byte `offset`: several cores map the same buffer and see
        one memory (harness/machine/smp.py).  The buffer is kept alive as
        long as this core's Uc."""
        if offset < 0 or offset + size > len(host):
            raise ValueError(f"RAM {base:#x}+{size:#x}: outside the host buffer")
        ptr = ctypes.addressof(ctypes.c_char.from_buffer(host, offset))
        self.uc.mem_map_ptr(base, size, 7, ptr)     # UC_PROT_ALL
        held = vars(self.uc).setdefault("_sov_host_buffers", [])
        if not any(h is host for h in held):
            held.append(host)

    def map_mmio(self, base: int, size: int, read_fn: Callable[[int, int], int],
                 write_fn: Callable[[int, int, int], None]) -> None:
        """Device registers served by read_fn(offset, size) -> int and
        write_fn(offset, size, value).  Inside these callbacks
        `instructions` still includes the rest of the current block
        (unicorn does not sync PC for MMIO, so the exact point is unknown)."""
        self.uc.mmio_map(base, size,
                         lambda uc, off, sz, _: read_fn(off, sz), None,
                         lambda uc, off, sz, val, _: write_fn(off, sz, val), None)

    # ---- registers ----------------------------------------------------

    def reg_read(self, name: str) -> int:
        """By name: x0..x30, sp (the live stack pointer), pc, pstate, nzcv,
        elr/esr/far/vbar_el1..2, sp_el0..3 (the banked copies: QEMU keeps the
        live one in sp and the bank of the current stack is stale), and
        the CP_REG-only registers in _CPREG (spsr_el2, hcr_el2, ...)."""
        rid = _DIRECT.get(name)
        if rid is not None:
            self._buf.value = 0  # 32-bit registers fill only the low half
            err = uclib.uc_reg_read(self._uch, rid, self._buf_addr)
            if err:
                raise UcError(err)
            return self._buf.value
        if name in _CPREG:
            return self.sysreg_read(*_CPREG[name])
        raise KeyError(f"unknown register {name!r}")

    def reg_write(self, name: str, value: int) -> None:
        rid = _DIRECT.get(name)
        if rid is not None:
            self._buf.value = value & ((1 << 64) - 1)
            err = uclib.uc_reg_write(self._uch, rid, self._buf_addr)
            if err:
                raise UcError(err)
            return
        if name in _CPREG:
            return self.sysreg_write(*_CPREG[name], value)
        raise KeyError(f"unknown register {name!r}")

    def sysreg_read(self, op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
        cp = self._cp
        cp.op0, cp.op1, cp.crn, cp.crm, cp.op2, cp.val = op0, op1, crn, crm, op2, 0
        err = uclib.uc_reg_read(self._uch, A.UC_ARM64_REG_CP_REG, self._cp_addr)
        if err:
            raise UcError(err)
        return cp.val

    def sysreg_write(self, op0: int, op1: int, crn: int, crm: int, op2: int, value: int) -> None:
        """CP_REG write.  Note that every CP_REG write also rebuilds QEMU's
        cached per-EL flags (see refresh_flags)."""
        cp = self._cp
        cp.op0, cp.op1, cp.crn, cp.crm, cp.op2 = op0, op1, crn, crm, op2
        cp.val = value & ((1 << 64) - 1)
        err = uclib.uc_reg_write(self._uch, A.UC_ARM64_REG_CP_REG, self._cp_addr)
        if err:
            raise UcError(err)

    def refresh_flags(self) -> None:
        """Make QEMU re-derive its cached EL/SP flags after a PSTATE write:
        rewrite SCR_EL3 with its own value (any CP_REG write does it)."""
        scr = _CPREG["scr_el3"]
        self.sysreg_write(*scr, self.sysreg_read(*scr))

    def on_sysreg(self, op0: int, op1: int, crn: int, crm: int, op2: int,
                  read: Callable[[], int] | None = None,
                  write: Callable[[int], None] | None = None) -> None:
        """Serve MRS (read() -> int) and/or MSR (write(value)) of one system
        register from Python instead of unicorn.  During these callbacks
        `instructions` and the cycle counts are exact as of just before the
        MRS/MSR."""
        self.sysregs.register(op0, op1, crn, crm, op2, read, write)

    def observe_msr(self, op0: int, op1: int, crn: int, crm: int, op2: int,
                    fn: Callable[[int], None]) -> None:
        """Call fn(new_value) on every MSR to this register, before the
        write takes effect; the write then happens as without the observer
        (natively, or through on_sysreg's server).  Counts are exact as of
        just before the MSR; observed_pc is the MSR's address and
        observed_el the EL it runs at (below the register's EL the MSR is
        UNDEFINED and writes nothing: the observer is called first).
        Several observers may watch one register."""
        self._add_observer(sysreg_key(op0, op1, crn, crm, op2), lambda _key, value: fn(value))

    def observe_sys(self, which: Iterable[tuple[int, int, int, int]] | Callable[[int, int, int, int], bool],
                    fn: Callable[[tuple[int, int, int, int, int], int], None]) -> None:
        """Call fn((1, op1, crn, crm, op2), xt) before each SYS instruction
        (op0 = 1: TLBI, DC, IC, AT) whose (op1, crn, crm, op2) is in `which`
        (an iterable of tuples, or a predicate on the four fields, e.g.
        `lambda op1, crn, crm, op2: crn == 8` for every TLBI).  The
        instruction still runs natively afterwards (unicorn flushes its
        own TLB).  Same exactness as observe_msr."""
        if callable(which):
            fields = [(a, b, c, d) for a in range(8) for b in range(16) for c in range(16) for d in range(8)]
            which = [f for f in fields if which(*f)]
        call = lambda key, value: fn(_decode_key(key), value)  # noqa: E731 - one wrapper for all keys
        for enc in which:
            self._add_observer(sysreg_key(1, *enc), call)

    def compare_regions(self, n: int, addrs, sizes, shadows, changed) -> int:
        """Compare n regions of physical memory (ctypes arrays: uint64
        addresses, uint32 sizes of at most 16 KiB, pointers to shadow
        copies) with their shadows in one native call; changed[i] becomes
        0 (same), 1 (different) or 2 (unreadable).  Returns the number not
        0.  For checkers that must look at memory often and cheaply."""
        return self._lib.sov_compare_regions(self._uch.value, _MEM_READ, n, addrs, sizes, shadows, changed)

    def flush_tlb(self) -> None:
        """Drop every translation unicorn (QEMU's softmmu TLB) has cached."""
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def _observe_tlbi_is(self) -> None:
        self.observe_sys(TLBI_IS_EL2, lambda _enc, _xt: self.flush_tlb())

    def _add_observer(self, key: int, fn: Callable[[int, int], None]) -> None:
        self._observers.setdefault(key, []).append(fn)
        self._lib.sov_observe(self._stp, key, 1)

    def _notify_exception(self, kind: str, pc: int) -> None:
        for fn in self.exception_listeners:
            fn(kind, pc)

    # ---- counters -----------------------------------------------------

    @property
    def instructions(self) -> int:
        st = self._st
        return st.instructions - st.mid_insns

    @property
    def cycles_conservative(self) -> int:
        st = self._st
        return st.cycles_cons - st.mid_cons

    @property
    def cycles_optimistic_x1000(self) -> int:
        st = self._st
        return st.cycles_opt - st.mid_opt

    @property
    def cycles_assumed_x1000(self) -> int:
        """Thousandths of the conservative cycles that rest on assumed costs:
        instructions' cost above the one-cycle floor where the cost is an
        assumption, exception entries, and every memory-model charge but a
        mispredict (harness/costs.py says which figures are assumed)."""
        st = self._st
        return st.cycles_assumed - st.mid_assumed

    @property
    def cycles_optimistic(self) -> float:
        return self.cycles_optimistic_x1000 / 1000

    @property
    def now(self) -> int:
        """Emulated time in instruction units: retired instructions plus the
        time skipped in WFI.  Event deadlines are on this clock."""
        st = self._st
        return st.instructions - st.mid_insns + st.idle

    def set_block_cost_fn(self, fn: Callable[[int, int], tuple] | None) -> None:
        """fn(address, size_in_bytes) -> (conservative_cycles,
        optimistic_cycles_x1000) or (..., kind), called once per distinct
        block (the native hook caches by (address, size)).  kind (the branch
        model's: harness/costs.py BLOCK_*) says how the block ends; without
        it, as no branch.  None restores one cycle per instruction.  Resets
        the cache."""
        if fn is None:
            self._cb_cost = None
            self._lib.sov_set_cost_fn(self._stp, None)
            return

        def cost(addr, size, cons_p, opt_p, kind_p):
            try:
                if self.block_inspect is not None:
                    self.block_inspect(addr, size)
                r = fn(addr, size)
                cons_p[0], opt_p[0] = int(r[0]), int(r[1])
                kind_p[0] = int(r[2]) if len(r) > 2 else 0
            except BaseException as e:  # noqa: BLE001 - reported after the run
                self._callback_failed(e)

        self._cb_cost = _COST_FN(cost)
        if self._lib.sov_set_cost_fn(self._stp, _fn_addr(self._cb_cost)):
            raise MemoryError("cost table")

    def charge_exception_entry(self) -> None:
        """Add the cost model's exception-entry cycles (set in
        exception_entry_cost as (conservative, optimistic_x1000)): entry is
        done by the harness, not by an instruction the block costs saw."""
        cons, opt = self.exception_entry_cost
        self._st.cycles_cons += cons
        self._st.cycles_opt += opt
        self._st.cycles_assumed += cons * 1000 * self.exception_entry_assumed
        self._lib.sov_bp_exception(self._stp)   # the next block is a vector, not a branch target

    # ---- the memory and branch model --------------------------------------

    def install_memory_model(self, ranges: Iterable[tuple[int, int, str]], params: list[int],
                             return_stack: int, l1_sets: int = 256, l2_sets: int = 8192) -> None:
        """Charge memory accesses and branches natively (blockhook.c): caches,
        the DRAM channel, Normal-NC and Device accesses, the return stack
        (`return_stack` entries) and last-target indirect prediction.
        `ranges`: (lo, hi, "ram" | "nc" | "device") physical ranges, at most
        16; an address in none of them is Device.  `params`: the native
        parameters, conservative then optimistic (harness/costs.py
        native_memory_params makes them).  `l1_sets`, `l2_sets`: this
        core's L1D and (until share_l2) its own L2, in sets (powers of two,
        at most a P-core's: 256 and 8192).  Once per CPU; it cannot be
        removed (a machine without it: M3Config(memory_model=False)).
        Installing it puts every load and store on unicorn's slow path."""
        ranges = list(ranges)
        kinds = {"ram": 0, "nc": 1, "device": 2}
        n = len(ranges)
        nparam = self._lib.sov_mm_nparams()
        if len(params) != 2 * nparam:
            raise ValueError(f"memory model: {2 * nparam} parameters expected, not {len(params)}")
        lo = (ctypes.c_uint64 * max(n, 1))(*[r[0] for r in ranges])
        hi = (ctypes.c_uint64 * max(n, 1))(*[r[1] for r in ranges])
        ty = (ctypes.c_uint32 * max(n, 1))(*[kinds[r[2]] for r in ranges])
        p = (ctypes.c_int64 * len(params))(*[int(v) for v in params])
        err = self._lib.sov_mm_install(self._stp, self._uch.value, _fn_addr(uclib.uc_hook_add), p,
                                       return_stack, n, lo, hi, ty, int(l1_sets), int(l2_sets))
        if err:
            raise EmulatorError(f"installing the memory model failed ({err})")
        self.memory_model = True

    def share_l2(self, owner: "El2Cpu") -> None:
        """Use `owner`'s L2 from now on (the cores of a cluster share
        one): this core's own is dropped.  A line either core brings in is
        a hit for the other; either's traffic evicts the other's lines.
        The L1s stay per core.  Both need the memory model."""
        if self._lib.sov_mm_share_l2(self._stp, owner._stp):
            raise EmulatorError("sharing an L2 needs the memory model on both cores")

    @property
    def l2_id(self) -> int:
        """Which L2 this core's memory model uses (equal for cores sharing one; 0: no model)."""
        return self._lib.sov_mm_l2_id(self._stp)

    def shootdown_pending(self, cons: int, opt_x1000: int, armed: bool) -> None:
        """A broadcast TLBI ran: the next DSB that completes it (a block
        holding DSB SY/ISH/OSH: costs.BLOCK_DSB_SYNC) costs `cons` more
        conservative cycles and `opt_x1000` optimistic milli-cycles, all
        assumed; `armed` False when the current block's DSB came before the
        TLBI.  Several TLBIs before one DSB: one wait (the largest)."""
        st = self._st
        st.shoot_cons = max(st.shoot_cons, int(cons))
        st.shoot_opt = max(st.shoot_opt, int(opt_x1000))
        st.shoot_armed = int(armed)

    def charge_assumed(self, cons: int, opt_x1000: int) -> None:
        """Add cycles that rest on an assumption to both counters now."""
        st = self._st
        st.cycles_cons += int(cons)
        st.cycles_opt += int(opt_x1000)
        st.cycles_assumed += int(cons) * 1000

    def set_prefetch_streams(self, n: int) -> int:
        """The sequential streams the modelled prefetcher follows (default
        costs.GEOMETRY["streams"]; 0: no prefetcher, every miss pays its
        latency).  Returns the number set (capped at the geometry's)."""
        if not self.memory_model:
            raise EmulatorError("the prefetcher belongs to the memory model, which is not installed")
        return self._lib.sov_mm_set_streams(self._stp, int(n))

    def flush_caches(self, writeback: bool = False) -> None:
        """Cold caches and predictors for the next run: every L1/L2 line
        invalidated, the prefetcher's streams, the return stack and the
        indirect-branch targets forgotten.  Dirty lines are discarded, or
        with writeback=True put on the DRAM channel as write-backs (the next
        DRAM access then waits behind them).  Nothing without the model."""
        self._lib.sov_mm_flush(self._stp, int(writeback))

    MEMORY_STATS = ("accesses", "l1_load_misses", "l1_store_misses", "l2_misses", "prefetched",
                    "dram_read_bytes", "dram_write_bytes", "nc_reads", "nc_write_bytes", "device",
                    "mispredicts", "returns", "stall_conservative_x1000", "stall_optimistic_x1000",
                    "fill_waits")

    def memory_stats(self) -> dict[str, int]:
        """What the memory and branch model has seen so far (counts since
        it was installed; the stall_* entries are the milli-cycles it added)."""
        n = self._lib.sov_mm_nstats()
        out = (ctypes.c_uint64 * n)()
        self._lib.sov_mm_stats(self._stp, out)
        return dict(zip(self.MEMORY_STATS, out))

    def invalidate_costs(self, lo: int, hi: int) -> None:
        """Forget the cached costs of blocks overlapping [lo, hi), e.g.
        after code there was rewritten."""
        if self._lib.sov_invalidate_costs(self._stp, lo, hi):
            raise MemoryError("cost table")

    # ---- events and interrupts -----------------------------------------

    def set_event_deadline(self, instr_count: int | None, callback: Callable[[], None] | None = None) -> None:
        """Call callback() at the first block boundary where now >= instr_count
        (one deadline at a time; None clears it).  The deadline is cleared
        before the callback runs, which may set the next one."""
        self._deadline_cb = callback if instr_count is not None else None
        self._st.deadline = NO_LIMIT if instr_count is None else max(0, instr_count)

    @property
    def event_deadline(self) -> int | None:
        d = self._st.deadline
        return None if d == NO_LIMIT else d

    # The lines into the core, and whether the core lets each in at all (an
    # Apple core's CYC_OVRD IRQ and FIQ modes: harness/machine/cpuregs.py).
    # A line held off there neither interrupts nor wakes a WFI.
    _irq_line = _fiq_line = False
    irq_held = fiq_held = False

    def _lines(self) -> None:
        f = self._st.flags & ~(_F_IRQ | _F_FIQ)
        if self._irq_line and not self.irq_held:
            f |= _F_IRQ
        if self._fiq_line and not self.fiq_held:
            f |= _F_FIQ
        self._st.flags = f

    def hold_lines(self, irq: bool, fiq: bool) -> None:
        """Let the core take IRQ and FIQ (False) or not (True)."""
        self.irq_held, self.fiq_held = irq, fiq
        self._lines()

    def raise_irq(self) -> None:
        self._irq_line = True
        if not self.irq_held:
            self._st.flags |= _F_IRQ

    def lower_irq(self) -> None:
        self._irq_line = False
        self._st.flags &= ~_F_IRQ

    def raise_fiq(self) -> None:
        self._fiq_line = True
        if not self.fiq_held:
            self._st.flags |= _F_FIQ

    def lower_fiq(self) -> None:
        self._fiq_line = False
        self._st.flags &= ~_F_FIQ

    def request_stop(self) -> None:
        """Stop at the next block boundary.  Deliberately not uc.emu_stop():
        from an MMIO callback that abandons the access mid-instruction and
        re-executes it (side effects twice) on the next run."""
        self._st.flags |= _F_STOP

    def _callback_failed(self, e: BaseException) -> None:
        if self._cb_error is None:
            self._cb_error = e
        self._st.flags |= _F_STOP

    def _boundary(self, addr: int, size: int) -> int:
        """Called by the native hook at a block boundary when a deadline has
        passed or an interrupt may be deliverable.  Returns 1 if PC was
        redirected (the block will not run)."""
        try:
            st = self._st
            if st.instructions + st.idle >= st.deadline:
                cb, self._deadline_cb = self._deadline_cb, None
                st.deadline = NO_LIMIT
                if cb is not None:
                    cb()
            return 1 if self._deliver_interrupt(addr) else 0
        except BaseException as e:  # noqa: BLE001
            self._callback_failed(e)
            return 1

    def _deliver_interrupt(self, return_pc: int) -> bool:
        """Take a pending FIQ (Apple's timers and IPIs) or IRQ if the
        architecture lets it in now.  Routing: at EL2 PSTATE.I/F mask; below
        EL2, HCR_EL2.TGE or IMO/FMO send it to EL2 regardless of PSTATE,
        otherwise it goes to EL1 and PSTATE masks."""
        flags = self._st.flags
        if not flags & (_F_IRQ | _F_FIQ):
            return False
        pstate = self.reg_read("pstate")
        el = (pstate >> 2) & 3
        hcr = self.reg_read("hcr_el2") if el < 2 else 0
        for bit, kind, mask, route, offset in ((_F_FIQ, "fiq", exc.PSTATE_F, exc.HCR_FMO, exc.VEC_FIQ),
                                               (_F_IRQ, "irq", exc.PSTATE_I, exc.HCR_IMO, exc.VEC_IRQ)):
            if not flags & bit:
                continue
            target = 2 if el == 2 or hcr & (exc.HCR_TGE | route) else 1
            if target == el and pstate & mask:
                continue
            self.last_exception = ExceptionInfo(kind, 0, None, return_pc, el, target, True)
            self._notify_exception(kind, return_pc)
            exc.take_exception(self, target, offset, return_pc)
            return True
        return False

    # ---- synchronous exceptions -----------------------------------------

    def on_exception(self, fn: Callable[[str, int, int, int], bool] | None) -> None:
        """fn(kind, esr, far, elr) -> bool decides each synchronous
        exception: True delivers it, False stops the run with
        StopReason.EXCEPTION (last_exception says what happened).  None
        restores default_exception_policy."""
        self._exception_policy = fn or self.default_exception_policy

    def default_exception_policy(self, kind: str, esr: int, far: int, elr: int) -> bool:
        """Deliver, unless no vector table is installed (VBAR_ELx = 0) or the
        fault comes from inside the vector table itself (a recursive fault
        would loop forever)."""
        vbar = self.reg_read(f"vbar_el{self._policy_target}")
        return vbar != 0 and not vbar <= elr < vbar + 0x800

    def _on_intr(self, uc, intno: int, _user) -> None:
        pc = self.reg_read("pc")
        kind = exc.INTR_KINDS.get(intno)
        if kind is None:
            raise EmulatorError(f"unexpected QEMU exception number {intno}", pc)
        # The block was counted whole on entry; the faulting instruction and
        # the rest did not retire.  SVC/HVC/SMC leave PC past themselves, so
        # they count as executed.  A prefetch abort happens before its block
        # is entered, so there is nothing to take back.
        if kind != "prefetch_abort":
            self._lib.sov_uncount(self._stp, pc)
        rec = exc.read_record(self._ctx, self.record_offset)
        esr = rec.syndrome
        if (esr >> 26) == 0x07:
            esr &= ~0xFFFFF  # QEMU-internal AArch32 bits (as its own entry code does)
        far = rec.vaddress if kind in exc.ABORT_KINDS else None
        from_el = (self.reg_read("pstate") >> 2) & 3
        # Target EL from QEMU; EL3 (SMC with no secure monitor, since an M3
        # has no EL3) is taken to EL2, the highest EL this machine has.
        target = min(max(rec.target_el, 1), 2)
        self._policy_target = target
        deliver = bool(self._exception_policy(kind, esr, far or 0, pc))
        self.last_exception = ExceptionInfo(kind, esr, far, pc, from_el, target, deliver)
        if not deliver:
            self._refused = True
            self._st.flags |= _F_STOP
            self.uc.emu_stop()
            return
        try:
            self._notify_exception(kind, pc)
        except BaseException as e:  # noqa: BLE001 - reported after the run
            self._callback_failed(e)
        exc.take_exception(self, target, exc.VEC_SYNC, pc, esr=esr, far=far)

    # ---- running ---------------------------------------------------------

    def run(self, pc: int | None, limit: int, wait: bool = True) -> StopReason:
        """Run from pc (None: the current PC) until `instructions` reaches
        `limit` (an absolute count, checked at block boundaries, so a run may
        end up to one block past it), request_stop(), a WFI with no event
        to wait for, or a refused exception.  Raises EmulatorError on
        anything unicorn cannot go on from (e.g. unmapped memory).

        wait=False (a core among several, harness/machine/smp.py): a WFI
        with no interrupt pending returns StopReason.WFI at once, time not
        moved on (after on_wfi); whoever schedules the cores moves this
        core's clock with sleep_step() / advance_to()."""
        st = self._st
        st.limit = min(limit, NO_LIMIT)
        st.stop_reason = 0
        st.flags &= ~_F_STOP
        self._refused = False
        self._cb_error = None
        start = self.reg_read("pc") if pc is None else pc
        while True:
            try:
                self.uc.emu_start(start, _UNTIL)
            except UcError as e:
                here = self.reg_read("pc")
                self._lib.sov_uncount(self._stp, here)
                raise EmulatorError(f"unicorn stopped: {e}", here) from None
            if self._cb_error is not None:
                raise self._cb_error
            if self._refused:
                return StopReason.EXCEPTION
            if st.stop_reason == _STOP_LIMIT:
                return StopReason.LIMIT
            if st.flags & _F_STOP:
                return StopReason.STOPPED
            start = self.reg_read("pc")
            self._check_wfi(start)
            if not wait:
                if not self.interrupt_pending and self.on_wfi is not None:
                    try:
                        self.on_wfi()
                    except BaseException as e:  # noqa: BLE001
                        self._callback_failed(e)
                    if self._cb_error is not None:
                        raise self._cb_error
                if st.flags & _F_STOP:
                    return StopReason.STOPPED
                if not self.interrupt_pending:
                    return StopReason.WFI
                continue
            if not self._wait_for_interrupt():
                return StopReason.STOPPED if st.flags & _F_STOP else StopReason.WFI
            if self._cb_error is not None:
                raise self._cb_error
            if st.flags & _F_STOP:
                return StopReason.STOPPED

    def _check_wfi(self, pc: int) -> None:
        """emu_start returned by itself: the only way that should happen is
        WFI, which ends its block and leaves PC after itself, i.e. at the end
        of the last block counted.  (Compared as virtual addresses; reading
        the instruction back would need a table walk.)"""
        st = self._st
        if pc != st.blk_addr + st.blk_size:
            raise EmulatorError("emulation ended for no known reason (not at a WFI)", pc)

    @property
    def interrupt_pending(self) -> bool:
        """An IRQ or FIQ is raised (masked or not: either ends a WFI)."""
        return bool(self._st.flags & (_F_IRQ | _F_FIQ))

    def advance_to(self, instant: int) -> None:
        """A core waiting in WFI: its clock (now) moves on to `instant`
        (never back)."""
        st = self._st
        now = st.instructions + st.idle
        if instant > now:
            st.idle += instant - now
            self._lib.sov_mm_idle(self._stp)   # the DRAM channel drained while the core slept

    def sleep_step(self) -> None:
        """A core waiting in WFI reaches its event deadline: move its clock
        there and run the event (what _wait_for_interrupt does once).
        Callback errors are raised here."""
        st = self._st
        if st.deadline == NO_LIMIT:
            return
        self.advance_to(st.deadline)
        cb, self._deadline_cb = self._deadline_cb, None
        st.deadline = NO_LIMIT
        if cb is not None:
            cb()

    def _wait_for_interrupt(self) -> bool:
        """WFI: fast-forward time to the next event until an interrupt is
        pending (masked or not: WFI wakes on either).  False if nothing can
        ever wake the core."""
        st = self._st
        if self.on_wfi is not None and not st.flags & (_F_IRQ | _F_FIQ):
            try:
                self.on_wfi()
            except BaseException as e:  # noqa: BLE001
                self._callback_failed(e)
                return True
        while not st.flags & (_F_IRQ | _F_FIQ):
            if st.deadline == NO_LIMIT or st.flags & _F_STOP:
                return False
            now = st.instructions + st.idle
            if st.deadline > now:
                st.idle += st.deadline - now
                self._lib.sov_mm_idle(self._stp)   # the DRAM channel drained while the core slept
            cb, self._deadline_cb = self._deadline_cb, None
            st.deadline = NO_LIMIT
            if cb is not None:
                try:
                    cb()
                except BaseException as e:  # noqa: BLE001
                    self._callback_failed(e)
                    return True
        return True

    # ---- sysreg callbacks from the native hook ---------------------------

    def _sysreg_read_cb(self, key: int) -> int:
        try:
            return self.sysregs.on_read(key)
        except BaseException as e:  # noqa: BLE001
            self._callback_failed(e)
            return 0

    def _sysreg_write_cb(self, key: int, value: int) -> None:
        try:
            self.sysregs.on_write(key, value)
        except BaseException as e:  # noqa: BLE001
            self._callback_failed(e)

    def _observe_cb(self, key: int, value: int, pc: int, el: int) -> None:
        self.observed_pc, self.observed_el = pc, el
        try:
            for fn in self._observers.get(key, ()):
                fn(key, value)
        except BaseException as e:  # noqa: BLE001
            self._callback_failed(e)


def _decode_key(key: int) -> tuple[int, int, int, int, int]:
    """sysreg_key's inverse: (op0, op1, CRn, CRm, op2)."""
    return key >> 14, (key >> 11) & 7, (key >> 7) & 15, (key >> 3) & 15, key & 7


# ---------------------------------------------------------------------------
# Speed measurement (make bench-emulator)
# ---------------------------------------------------------------------------

def _loop_code(body: int) -> bytes:
    """`1: add x1, x1, #1` x body; `subs x0, x0, #1`; `b.ne 1b`; `b .`,
    hand-encoded so the measurement needs no assembler."""
    words = [0x91000421] * body + [0xF1000400]
    back = -(body + 1)  # b.ne to the first add
    words.append(0x54000001 | ((back & 0x7FFFF) << 5))
    words.append(0x14000000)  # b .
    return b"".join(struct.pack("<I", w) for w in words)


def measure_speed(instructions: int = 100_000_000, cost_fn: bool = False) -> dict[str, float]:
    """Emulated M instructions per host second on straight-line loops with
    16- and 4-instruction blocks (host time is used for this report only,
    never by the emulation)."""
    results = {}
    for block in (16, 4):
        cpu = El2Cpu()
        base = 0x8_0000_0000
        cpu.map_ram(base, 0x4000)
        cpu.uc.mem_write(base, _loop_code(block - 2))
        cpu.reg_write("x0", (1 << 63))  # never reaches zero within the limit
        if cost_fn:
            cpu.set_block_cost_fn(lambda a, s: (s // 4, s // 4 * 250))
        t0 = time.perf_counter()
        reason = cpu.run(base, instructions)
        dt = time.perf_counter() - t0
        assert reason is StopReason.LIMIT, reason
        results[f"{block}-insn blocks M/s"] = cpu.instructions / dt / 1e6
    return results


if __name__ == "__main__":
    for k, v in measure_speed().items():
        print(f"{k}: {v:.0f}")
