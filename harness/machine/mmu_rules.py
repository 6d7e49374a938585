"""The translation-rule checker: the emulated M3 refuses table updates the
silicon does not forgive.

Why.  Apple cores report no FEAT_BBM, so changing a live translation
descriptor needs break-before-make (Arm ARM DDI 0487 K.a, D8.16.1 "Using
break-before-make when updating translation table entries"): write the
invalid entry, DSB, TLBI covering it, DSB, then the new entry; anything
else is UNPREDICTABLE (a TLB conflict abort, or both translations used).
Unicorn's QEMU does not model TLB conflicts, so without this checker a
kernel that splits a live block in one store passes every test.  And m1n1
keeps everything outside usable RAM unmapped because speculative accesses
into SEP/TZ carveouts raise SErrors (m1n1 src/memory.c, src/mcc.c
mcc_unmap_carveouts): nothing outside usable RAM and the framebuffer may be
mapped as Normal memory (docs/hardware.md boot_args).

How, at zero cost between checkpoints.  No memory hook is installed (any
UC_HOOK_MEM_* moves every load and store of the whole machine onto
unicorn's slow path, qemu/include/tcg/tcg.h tcg_uc_has_hookmem; and
uc_mem_protect splits RAM regions at 10-500 ms a call).  Instead the
checker keeps a shadow of every live table page and compares it with
memory at checkpoints:

- every TLBI (observed through El2Cpu.observe_sys, before the TLBI acts);
- every MSR of SCTLR_EL2, TTBR0_EL2, TTBR1_EL2, TCR_EL2, MAIR_EL2,
  VTTBR_EL2, VTCR_EL2, HCR_EL2 (El2Cpu.observe_msr, before the write);
- every exception the harness delivers (El2Cpu.exception_listeners);
- check(), which the machine calls when a run stops.

A checkpoint reads each live table page (16 KiB, ~4 us) and compares
bytes; only a page that changed is decoded.  Per descriptor the shadow
also keeps the valid values a TLB may still hold: every valid value seen
while the table was live, until a TLBI covers it.  A new valid value that
differs from one of those in a way that needs break-before-make is a
violation.  What needs it (D8.16.1, cross-checked with Linux arm64
pgattr_change_is_safe() in arch/arm64/mm/mmu.c, KVM's stage-2
stage2_pte_needs_update()/stage2_try_break_pte() in
arch/arm64/kvm/hyp/pgtable.c, "Enforce Break-Before-Make on Stage-2 page
tables", and google/aarch64-paging's checks "refuse to split live block
entries, to change the output address, to change the memory type or clear
the non-global bit"): block <-> table or page, another output address or
next-level table, another memory type (AttrIndx; stage-2 MemAttr),
shareability, clearing nG, and any change to a contiguous entry.  Not
needed: AP/S2AP, XN/PXN/UXN, AF, DBM, software bits, table attribute bits
(APTable etc.), setting nG.  invalid -> valid never needs it; valid ->
invalid is the break.

The other rules: SCTLR_EL2.M 0 -> 1 needs a TLBI ALLE2 after the last
write of TTBR0/TTBR1/TCR/MAIR_EL2 (else the loader's TLB entries may be
used; the full walk that builds the shadow happens then); a valid Normal
leaf (MAIR attribute with a non-zero high nibble; stage-2 MemAttr[3:2] !=
0) must map inside the allowed ranges, at enable and for every change;
no level-0/1 blocks (16 KiB granule without FEAT_LPA2, Arm ARM D8.3.1);
a VMID given another stage-2 root needs a TLBI covering the VMID first;
a MAIR_EL2 write with the MMU on must not change an attribute a live
leaf uses; a table page the TLB may still use at one position must not
be linked at another.  Which TLBI covers what: ALLE2* the EL2&0 regime;
VAE2* every level's entry for the VA, VALE2* only leaf values; ALLE1*
all stage 2; VMALLS12E1* stage 2 of the current VMID; IPAS2E1* /
IPAS2LE1* stage-2-only entries for the IPA (combined stage 1+2 entries
stay until VMALLE1 from the guest's context, as KVM's
__kvm_tlb_flush_vmid_ipa does); with HCR_EL2.{E2H,TGE} = {1,1} the *E1
forms at EL2 act on EL2&0.  Any other TLBI invalidates nothing here and
is named in the report.  Live roots: TTBR0_EL2 (and TTBR1_EL2 unless
TCR_EL2.EPD1) from SCTLR_EL2.M = 1; an old root until TLBI ALLE2; every
VTTBR_EL2 value written (or current when HCR_EL2.VM is set) until a TLBI
covering its VMID, and longer while it is current with VM set.

Limits (the cost of not hooking memory): a change that is undone before
the next checkpoint is not seen; barriers are not visible to unicorn, so
the DSBs of the sequence are checked statically (harness/barriers.py);
ASIDs of non-global EL2&0 entries are not tracked (a TLBI by VA covers
every ASID here); after a TTBR0_EL2 switch with the MMU on, the old root
stays live until TLBI ALLE2 but the two roots are not cross-checked
against each other; a VTCR_EL2 change does not re-shape roots already
live; a table shared by two positions of one regime is refused; only the
16 KiB granule is modelled; stage-2 MemAttr with HCR_EL2.FWB = 1 is
taken as Normal.

API (the machine integrates it; harness/machine/m3.py is not changed here):

    rules = MmuRules(cpu, allowed_normal, describe=None, stop=True)
        cpu             the El2Cpu
        allowed_normal  the physical ranges that may be mapped as Normal
                        memory, as (base, size) pairs: an iterable, or a
                        callable returning one (asked whenever needed, so
                        it may change between runs)
        describe        describe(pc) -> str, a symbol for reports
        stop            call cpu.request_stop() on a violation (default)
    rules.install()     hook it up (before the first run); if the MMU or
                        stage 2 is already on, the live tables are
                        shadowed now
    rules.check(reason="end of run") -> str | None
                        a checkpoint from outside (call when a run stops);
                        returns the first violation
    rules.violation     None, or the first report (a readable string)
    rules.violations    every report (the first MAX_REPORTS)
    rules.audit()       every live leaf mapping, coalesced: [Mapping]
    rules.mappings_outside(allowed, normal_only=True) -> [Mapping]
    rules.format_map()  audit() as text, one range a line

A violation never raises inside a callback: it is recorded, and the run
stops at the next block boundary (cpu.request_stop()), which the machine
turns into a crash report from rules.violation.
"""

from __future__ import annotations

import ctypes
import struct
from array import array
from dataclasses import dataclass, field
from typing import Callable, Iterable

from unicorn.unicorn_py3.unicorn import uclib

from harness import pagetable as pt
from harness.pagetable import Geometry, TablePage, descriptor_kind, output_mask
from harness.machine import sysregs

BBM_RULE = "break-before-make (Arm ARM DDI 0487 K.a D8.16.1)"
NORMAL_RULE = ("no Normal memory outside usable RAM and the framebuffer "
               "(m1n1 mcc_unmap_carveouts; docs/hardware.md boot_args)")
ENABLE_RULE = "TLBI ALLE2 after the last TTBR0_EL2/TCR_EL2/MAIR_EL2 write, before SCTLR_EL2.M = 1"
MAX_REPORTS = 20
_CHUNK = 512                       # bytes compared at a time when scanning a table
_ZERO = bytes(_CHUNK)

# --------------------------------------------------------------- registers
# The El2Cpu register name and its encoding (harness/machine/sysregs.py).
REGISTERS = {name.lower(): getattr(sysregs, name) for name in (
    "SCTLR_EL2", "HCR_EL2", "TTBR0_EL2", "TTBR1_EL2", "TCR_EL2", "VTTBR_EL2", "VTCR_EL2", "MAIR_EL2")}
SCTLR_M = 1 << 0
HCR_VM, HCR_E2H, HCR_TGE, HCR_TTLB, HCR_FWB = 1 << 0, 1 << 34, 1 << 27, 1 << 25, 1 << 46
VTCR_VS = 1 << 19

# Descriptor bits (Arm ARM D8.3, VMSAv8-64 stage 1 / stage 2).
D_ATTRINDX = 7 << 2          # stage 1 AttrIndx[2:0]
D_MEMATTR = 0xF << 2         # stage 2 MemAttr[3:0]
D_AP_RO, D_AP_EL0 = 1 << 7, 1 << 6
D_S2AP_R, D_S2AP_W = 1 << 6, 1 << 7
D_SH = 3 << 8
D_AF = 1 << 10
D_NG = 1 << 11
D_CONT = 1 << 52
D_PXN, D_UXN = 1 << 53, 1 << 54
D_SW = 0xF << 55
SH_NAMES = {0: "non-shareable", 1: "shareability reserved", 2: "outer shareable", 3: "inner shareable"}

# ----------------------------------------------------------------- TLBIs
# (op1, CRm, op2) of TLBI (op0 1, CRn 8) -> (name, scope).  Scopes:
#   e2       every EL2&0 stage-1 entry          e2_va / e2_va_leaf  by VA
#   s2_all   every stage-2 and combined entry   s12_vmid  both, current VMID
#   s1_vmid  combined entries, current VMID     ipa / ipa_leaf  stage 2 by IPA
#   e1_va*   by VA at EL1 (EL2&0 when HCR_EL2.{E2H,TGE} = {1,1})
#   aside1   by ASID (EL2&0 non-global entries when {E2H,TGE} = {1,1})
# Arm ARM C5.5 (TLB maintenance instructions); with {E2H,TGE} = {1,1}
# the *E1 forms executed at EL2 apply to EL2&0 (QEMU: vae1_tlbmask).
_TLBI: dict[tuple[int, int, int], tuple[str, str]] = {}


def _tlbi(name: str, scope: str, op1: int, variants: dict[str, tuple[int, int]]) -> None:
    for suffix, (crm, op2) in variants.items():
        _TLBI[(op1, crm, op2)] = (name + suffix, scope)


_tlbi("ALLE2", "e2", 4, {"": (7, 0), "IS": (3, 0), "OS": (1, 0)})
_tlbi("VAE2", "e2_va", 4, {"": (7, 1), "IS": (3, 1), "OS": (1, 1)})
_tlbi("VALE2", "e2_va_leaf", 4, {"": (7, 5), "IS": (3, 5), "OS": (1, 5)})
_tlbi("ALLE1", "s2_all", 4, {"": (7, 4), "IS": (3, 4), "OS": (1, 4)})
_tlbi("VMALLS12E1", "s12_vmid", 4, {"": (7, 6), "IS": (3, 6), "OS": (1, 6)})
_tlbi("IPAS2E1", "ipa", 4, {"": (4, 1), "IS": (0, 1), "OS": (4, 0)})
_tlbi("IPAS2LE1", "ipa_leaf", 4, {"": (4, 5), "IS": (0, 5), "OS": (4, 4)})
_tlbi("VMALLE1", "s1_vmid", 0, {"": (7, 0), "IS": (3, 0), "OS": (1, 0)})
_tlbi("VAE1", "e1_va", 0, {"": (7, 1), "IS": (3, 1), "OS": (1, 1)})
_tlbi("VAAE1", "e1_va", 0, {"": (7, 3), "IS": (3, 3), "OS": (1, 3)})
_tlbi("VALE1", "e1_va_leaf", 0, {"": (7, 5), "IS": (3, 5), "OS": (1, 5)})
_tlbi("VAALE1", "e1_va_leaf", 0, {"": (7, 7), "IS": (3, 7), "OS": (1, 7)})
_tlbi("ASIDE1", "aside1", 0, {"": (7, 2), "IS": (3, 2), "OS": (1, 2)})
ALLE2_NAMES = ("ALLE2", "ALLE2IS", "ALLE2OS")
# Every TLBI encoding (CRn 8), modelled or not: an unmodelled one is noted.
TLBI_ENCODINGS = [(op1, 8, crm, op2) for op1 in range(8) for crm in range(16) for op2 in range(8)]


def tlbi_name(op1: int, crm: int, op2: int) -> str:
    entry = _TLBI.get((op1, crm, op2))
    return entry[0] if entry else f"SYS #{op1}, C8, C{crm}, #{op2}"


# --------------------------------------------------------------- regimes


@dataclass
class Regime:
    """One translation space whose tables a TLB may cache."""

    kind: str                 # "el2" (EL2&0 or EL2 stage 1) or "s2"
    name: str
    root: int
    geometry: Geometry
    va_base: int = 0
    vmid: int = 0
    ttbr: int = 0             # the register value it came from

    @property
    def key(self) -> tuple:
        return (self.kind, self.name, self.root, self.geometry, self.va_base, self.vmid)

    @property
    def stage(self) -> int:
        return 2 if self.kind == "s2" else 1

    def classes(self, kind: str) -> tuple[str, ...]:
        """The kinds of TLB entry a valid descriptor may live on in: EL2
        entries; stage-2-only entries (walks and leaves) and, for leaves,
        combined stage 1+2 entries."""
        if self.kind == "el2":
            return ("e2",)
        return ("s2",) if kind == "table" else ("s2", "s12")


@dataclass
class Table:
    """A live table page, its shadow and the stale values a TLB may hold
    (index -> {(value, entry class)}; the current valid value is always
    held as well and is not stored)."""

    regime: Regime
    page: TablePage
    shadow: bytes
    stale: dict[int, set[tuple[int, str]]] = field(default_factory=dict)
    children: dict[int, int] = field(default_factory=dict)   # index -> next-level table (current)

    def entry(self, i: int) -> int:
        return struct.unpack_from("<Q", self.shadow, 8 * i)[0]

    def va_range(self, i: int) -> tuple[int, int]:
        lo = self.page.va + i * self.page.span
        return lo, lo + self.page.span


@dataclass(frozen=True)
class Mapping:
    """A coalesced range of live leaf mappings (audit())."""

    regime: str
    va: int
    pa: int
    size: int
    level: int
    memory: str
    normal: bool
    perms: str

    def describe(self) -> str:
        return (f"{self.regime:<28} VA {self.va:#014x}-{self.va + self.size - 1:#014x} -> "
                f"PA {self.pa:#014x}  {self.size >> 10:>9} KiB  L{self.level}  {self.perms:<7} {self.memory}")


# -------------------------------------------------------------- decoding


def stage1_memory(desc: int, mair: int) -> tuple[str, bool]:
    """(description, is Normal) from AttrIndx and MAIR_EL2 (Arm ARM
    D8.5.4: an attribute with a zero high nibble is Device memory)."""
    index = (desc >> 2) & 7
    attr = (mair >> (8 * index)) & 0xFF
    if not attr & 0xF0:
        kinds = {0x0: "nGnRnE", 0x4: "nGnRE", 0x8: "nGRE", 0xC: "GRE"}
        return f"Device-{kinds.get(attr & 0xF, f'? {attr:#04x}')} (AttrIndx {index})", False
    names = {0xFF: "Normal write-back", 0x44: "Normal non-cacheable", 0xBB: "Normal write-through"}
    return f"{names.get(attr, f'Normal (MAIR {attr:#04x})')} (AttrIndx {index})", True


def stage2_memory(desc: int, fwb: bool) -> tuple[str, bool]:
    """Stage-2 MemAttr[3:0] (bits 5:2) with HCR_EL2.FWB = 0 (Arm ARM
    D8.5.5): [3:2] = 00 is Device.  FWB = 1 is not modelled: every leaf
    then counts as Normal, the strict reading."""
    memattr = (desc >> 2) & 0xF
    if fwb:
        return f"MemAttr {memattr:#x} (FWB = 1, not decoded: taken as Normal)", True
    if not memattr >> 2:
        return f"Device-{('nGnRnE', 'nGnRE', 'nGRE', 'GRE')[memattr & 3]} (MemAttr {memattr:#x})", False
    cache = {1: "non-cacheable", 2: "write-through", 3: "write-back"}
    outer, inner = cache.get(memattr >> 2, "?"), cache.get(memattr & 3, "?")
    text = f"Normal {outer}" if outer == inner else f"Normal outer {outer} inner {inner}"
    return f"{text} (MemAttr {memattr:#x})", True


def permissions(desc: int, stage: int, vhe: bool) -> str:
    """'rwx'-style for the regime's own level (EL2 at stage 1), plus 'u'
    when EL0 may access (AP[1] under VHE)."""
    if stage == 2:
        r = "r" if desc & D_S2AP_R else "-"
        w = "w" if desc & D_S2AP_W else "-"
        return r + w + ("-" if desc & D_UXN else "x")
    w = "-" if desc & D_AP_RO else "w"
    x = "-" if desc & (D_PXN if vhe else D_UXN) else "x"
    return "r" + w + x + ("u" if vhe and desc & D_AP_EL0 else "")


def bbm_reason(old: int, new: int, level: int, stage: int) -> str | None:
    """Why replacing valid `old` by valid `new` (as a TLB may still hold
    old) needs break-before-make, or None (see the module doc)."""
    ko, kn = descriptor_kind(old, level), descriptor_kind(new, level)
    if ko != kn:
        return f"{ko} -> {kn}"
    if kn == "table":
        if (old ^ new) & pt.ADDR_MASK:
            return "another next-level table"
        return None
    if (old ^ new) & output_mask(level):
        return "another output address"
    if (old | new) & D_CONT and (old ^ new) & ~D_SW:
        return "a contiguous entry changed (live contiguous entries may not change at all)"
    if (old ^ new) & (D_MEMATTR if stage == 2 else D_ATTRINDX):
        return "another memory type"
    if (old ^ new) & D_SH:
        return "another shareability"
    if stage == 1 and old & ~new & D_NG:
        return "nG cleared (non-global -> global)"
    return None


# -------------------------------------------------------------- the checker


class MmuRules:
    """See the module doc."""

    def __init__(self, cpu, allowed_normal: Iterable[tuple[int, int]] | Callable[[], Iterable[tuple[int, int]]],
                 describe: Callable[[int], str] | None = None, stop: bool = True):
        self.cpu = cpu
        self._allowed_src = allowed_normal
        self._describe = describe or (lambda pc: "?")
        self.stop = stop
        self.violation: str | None = None
        self.violations: list[str] = []
        self.checkpoints = 0
        self.notes: list[str] = []          # TLBIs treated as covering nothing
        self._regimes: dict[tuple, Regime] = {}
        self._tables: dict[tuple, Table] = {}
        self._regs: dict[str, int] = {}
        self._seq = 0
        self._ctx_seq = 0                   # last TTBR0/TTBR1/TCR/MAIR write (or MMU off)
        self._ctx_where = "when the checker was installed"
        self._alle2_seq = -1                # last TLBI ALLE2*
        self._prev = (None, "install")
        self._here = (None, "install")
        self._buf = ctypes.create_string_buffer(pt.GRANULE)
        self._allowed_cache: list[tuple[int, int]] | None = None
        self._cmp: tuple | None = None      # see _comparison
        self._installed = False

    # ---- wiring -------------------------------------------------------------

    def install(self) -> "MmuRules":
        if self._installed:
            return self
        self._installed = True
        self._allowed_cache = None
        cpu = self.cpu
        for name, enc in REGISTERS.items():
            cpu.observe_msr(*enc, lambda value, name=name: self._on_msr(name, value))
        cpu.observe_sys(TLBI_ENCODINGS, self._on_tlbi)
        cpu.exception_listeners.append(self._on_exception)
        self._sync_registers()
        self._ctx_seq = self._next()
        if self._regs["sctlr_el2"] & SCTLR_M:
            self._activate_el2(self._regs)
        if self._regs["hcr_el2"] & HCR_VM:
            self._activate_s2(self._regs["vttbr_el2"])
        return self

    def _sync_registers(self) -> None:
        """The harness may write these registers directly between runs
        (cpu.sysreg_write is not observed): take them from the CPU."""
        for name in REGISTERS:
            self._regs[name] = self.cpu.reg_read(name)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    # ---- checkpoints --------------------------------------------------------

    def _checkpoint(self, pc: int | None, what: str | tuple) -> None:
        """Compare every live table with its shadow (one native call) and
        judge each changed descriptor; `what` says what this checkpoint
        is (a string, or a tuple _what() formats for reports)."""
        self.checkpoints += 1
        self._allowed_cache = None
        self._prev, self._here = self._here, (pc, what)
        linked: list[tuple[Regime, TablePage]] = []
        tables, arrays = self._comparison()
        if tables and self.cpu.compare_regions(len(tables), *arrays):
            changed = arrays[-1]
            for table, flag in zip(tables, changed):
                current = self._read(table.page.address, 8 * table.page.entries) if flag else None
                if flag == 2 or (flag and current is None):
                    self._report_unreadable(table)
                elif flag:
                    self._diff(table, current, linked)
        for regime, page in linked:
            self._link(regime, page)

    def _comparison(self) -> tuple[list[Table], tuple]:
        """The live tables and the native arrays that compare them with
        their shadows in one call (El2Cpu.compare_regions), rebuilt only
        when a table joins, leaves or changes."""
        if self._cmp is None:
            tables = list(self._tables.values())
            n = len(tables)
            self._cmp = (tables, ((ctypes.c_uint64 * n)(*(t.page.address for t in tables)),
                                  (ctypes.c_uint32 * n)(*(8 * t.page.entries for t in tables)),
                                  (ctypes.c_char_p * n)(*(t.shadow for t in tables)),
                                  (ctypes.c_uint8 * n)()))
        return self._cmp

    def check(self, reason: str = "end of run") -> str | None:
        """A checkpoint from outside the run (the machine calls it when a
        run stops).  Returns the first violation, or None."""
        self._sync_registers()
        self._checkpoint(self.cpu.reg_read("pc"), reason)
        return self.violation

    def _on_exception(self, kind: str, pc: int) -> None:
        self._checkpoint(pc, ("exception", kind, None))

    def _current_el(self) -> int:
        return self.cpu.observed_el

    def _on_msr(self, name: str, value: int) -> None:
        # The hook runs before unicorn's access check (translate-a64.c
        # handle_sys): below EL2 these MSRs are UNDEFINED and write nothing.
        if self._current_el() != 2:
            return
        pc = self.cpu.observed_pc
        self._checkpoint(pc, ("MSR", name, value))
        old = dict(self._regs)
        self._regs[name] = value
        getattr(self, f"_msr_{name}")(old, self._regs)

    def _on_tlbi(self, enc: tuple[int, int, int, int, int], xt: int) -> None:
        _op0, op1, _crn, crm, op2 = enc
        name, scope = _TLBI.get((op1, crm, op2), (tlbi_name(op1, crm, op2), "none"))
        # Below EL2 an EL2 TLBI is UNDEFINED and an EL1 one traps to EL2
        # when HCR_EL2.TTLB is set; the hook fires before either happens.
        if self._current_el() < 2 and (op1 != 0 or self._regs["hcr_el2"] & HCR_TTLB):
            return
        pc = self.cpu.observed_pc
        self._checkpoint(pc, ("TLBI", name, None if scope in ("e2", "s2_all", "s12_vmid", "s1_vmid") else xt))
        if scope == "none":
            self._note(f"TLBI {name} at pc {pc:#x} {self._describe(pc)} is not modelled: "
                       "taken to invalidate nothing")
            return
        if name in ALLE2_NAMES:
            self._alle2_seq = self._next()
        self._invalidate(scope, xt, pc, name)
        self._prune()

    # ---- register writes ----------------------------------------------------

    def _msr_sctlr_el2(self, old: dict, new: dict) -> None:
        was, now = old["sctlr_el2"] & SCTLR_M, new["sctlr_el2"] & SCTLR_M
        if now and not was:
            if self._alle2_seq < self._ctx_seq:
                self._violation(ENABLE_RULE, [
                    "SCTLR_EL2.M goes 0 -> 1 with no TLBI ALLE2 since the translation registers "
                    f"were last written ({self._ctx_where}): the TLB may still hold the loader's "
                    "or older translations, which would then be used"])
            self._activate_el2(new)
        elif was and not now:
            # Off: the EL2 tables may change freely; the next enable needs
            # a TLBI ALLE2 again (the TLB keeps what it holds).
            self._drop_regimes("el2")
            self._prune()
            self._ctx_changed("the MMU was turned off")

    def _ctx_changed(self, what: str) -> None:
        self._ctx_seq = self._next()
        pc, _ = self._here
        self._ctx_where = f"{what} at pc {_pc(pc)} {self._sym(pc)}".rstrip()

    def _msr_ttbr0_el2(self, old: dict, new: dict) -> None:
        self._ctx_changed(_what(self._here[1]).split(",")[0])
        if new["sctlr_el2"] & SCTLR_M:
            self._activate_el2(new)

    _msr_ttbr1_el2 = _msr_ttbr0_el2
    _msr_tcr_el2 = _msr_ttbr0_el2

    def _msr_mair_el2(self, old: dict, new: dict) -> None:
        self._ctx_changed("MSR MAIR_EL2")
        if not new["sctlr_el2"] & SCTLR_M or old["mair_el2"] == new["mair_el2"]:
            return
        changed = {i for i in range(8) if (old["mair_el2"] ^ new["mair_el2"]) >> (8 * i) & 0xFF}
        for table in self._tables.values():
            if table.regime.kind != "el2":
                continue
            for i, desc, kind in self._valid_entries(table):
                if kind in ("block", "page") and (desc >> 2) & 7 in changed:
                    self._violation(BBM_RULE, [
                        f"MAIR_EL2 {old['mair_el2']:#x} -> {new['mair_el2']:#x} changes attribute "
                        f"{(desc >> 2) & 7}, which live mappings use: their memory type changes "
                        "under the TLB (break them first)"] + self._where(table, i) + [
                        f"  entry   {self._decode(desc, table.page.level, 1, old['mair_el2'])}"])
                    return
        for table in list(self._tables.values()):
            if table.regime.kind == "el2":
                self._scan(table)

    def _msr_vttbr_el2(self, old: dict, new: dict) -> None:
        self._activate_s2(new["vttbr_el2"], new)

    def _msr_vtcr_el2(self, old: dict, new: dict) -> None:
        if new["hcr_el2"] & HCR_VM:
            self._activate_s2(new["vttbr_el2"], new)

    def _msr_hcr_el2(self, old: dict, new: dict) -> None:
        if new["hcr_el2"] & HCR_VM and not old["hcr_el2"] & HCR_VM:
            self._activate_s2(new["vttbr_el2"], new)

    # ---- live roots ---------------------------------------------------------

    def _el2_regimes(self, regs: dict, report: bool = False) -> list[Regime]:
        """The roots the EL2 (E2H = 0) or EL2&0 (E2H = 1: TCR_EL2 in the
        TCR_EL1 layout, TTBR1_EL2 too) stage-1 walk uses.  report: a
        granule or size this checker cannot model is a violation."""
        tcr, vhe = regs["tcr_el2"], bool(regs["hcr_el2"] & HCR_E2H)
        regimes = []
        if not (vhe and tcr & (1 << 7)):                  # EPD0
            g = self._geometry(tcr & 0x3F, (tcr >> 14) & 3, 0b10, "TCR_EL2.TG0", report)
            if g:
                regimes.append(Regime("el2", "EL2&0 stage 1 TTBR0_EL2" if vhe else "EL2 stage 1 TTBR0_EL2",
                                      g.root_address(regs["ttbr0_el2"]), g, 0, ttbr=regs["ttbr0_el2"]))
        if vhe and not tcr & (1 << 23):                   # EPD1
            g = self._geometry((tcr >> 16) & 0x3F, (tcr >> 30) & 3, 0b01, "TCR_EL2.TG1", report)
            if g:
                regimes.append(Regime("el2", "EL2&0 stage 1 TTBR1_EL2", g.root_address(regs["ttbr1_el2"]), g,
                                      (1 << 64) - (1 << g.va_bits), ttbr=regs["ttbr1_el2"]))
        return regimes

    def _geometry(self, tsz: int, tg: int, tg16k: int, field_name: str, report: bool) -> Geometry | None:
        problem = None
        if tg != tg16k:
            problem = (f"{field_name} = {tg:#b}: the kernel's map uses the 16 KiB granule, "
                       "the only one this checker models")
        else:
            try:
                return Geometry.from_t0sz(tsz)
            except ValueError as e:
                problem = str(e)
        if report:
            self._violation("16 KiB granule", [problem])
        return None

    def _activate_el2(self, regs: dict) -> None:
        for regime in self._el2_regimes(regs, report=True):
            self._add_regime(regime)

    def _activate_s2(self, vttbr: int, regs: dict | None = None) -> None:
        """A VTTBR_EL2 value becomes live (written, or HCR_EL2.VM set).
        While HCR_EL2.VM = 0 nothing walks it yet, so a VTCR_EL2 not set up
        or a root outside RAM (VTTBR = 0 at reset) is not an error then:
        the root is taken up when VM is set."""
        regs = regs or self._regs
        in_use = bool(regs["hcr_el2"] & HCR_VM)
        try:
            g = Geometry.from_vtcr(regs["vtcr_el2"])
        except ValueError as e:
            if in_use:
                self._violation("stage-2 geometry", [str(e)])
            return
        vmid = self._vmid(vttbr, regs)
        regime = Regime("s2", f"stage 2 VMID {vmid}", g.root_address(vttbr), g, 0, vmid, ttbr=vttbr)
        if not in_use and self._read(regime.root, 8) is None:
            return
        for other in self._regimes.values():
            if other.kind == "s2" and other.vmid == vmid and other.key != regime.key:
                self._violation(BBM_RULE, [
                    f"VTTBR_EL2 = {vttbr:#x} gives VMID {vmid} a new stage-2 root {regime.root:#x} while "
                    f"its old root {other.root:#x} may still be cached: no TLBI covering the VMID "
                    "(ALLE1, VMALLS12E1) in between"])
                break
        self._add_regime(regime)

    @staticmethod
    def _vmid(vttbr: int, regs: dict) -> int:
        return (vttbr >> 48) & (0xFFFF if regs["vtcr_el2"] & VTCR_VS else 0xFF)

    def _add_regime(self, regime: Regime) -> None:
        if regime.key in self._regimes:
            return
        self._regimes[regime.key] = regime
        for page in pt.root_pages(regime.root, regime.geometry, regime.va_base):
            self._link(regime, page)

    def _drop_regimes(self, kind: str, keep: Callable[[Regime], bool] = lambda r: False) -> None:
        """Forget roots no TLB entry can come from any more (their tables
        go at the next _prune)."""
        for key, regime in list(self._regimes.items()):
            if regime.kind == kind and not keep(regime):
                del self._regimes[key]

    # ---- tables -------------------------------------------------------------

    def _link(self, regime: Regime, page: TablePage) -> None:
        """A table becomes live: shadow it and everything below it, and
        hold every valid entry to the rules from now on."""
        key = (regime.key, page.address)
        known = self._tables.get(key)
        if known is not None:
            if (known.page.level, known.page.va) != (page.level, page.va):
                self._violation(BBM_RULE, [
                    f"the table page at PA {page.address:#x} is linked as the level-{page.level} table for "
                    f"VA {page.va:#x} while the TLB may still use it as the level-{known.page.level} "
                    f"table for VA {known.page.va:#x} ({regime.name})"])
            return
        data = self._read(page.address, 8 * page.entries)
        if data is None:
            self._violation("tables in RAM", [f"{regime.name}: a level-{page.level} table at PA "
                                              f"{page.address:#x} (for VA {page.va:#x}) is not in memory"])
            return
        table = Table(regime, page, data)
        self._tables[key] = table
        self._cmp = None
        self._scan(table)
        for i, address in list(table.children.items()):
            self._link(regime, TablePage(address, page.level + 1, page.va + i * page.span, pt.ENTRIES))

    def _valid_entries(self, table: Table):
        level = table.page.level
        for i, desc in enumerate(struct.unpack(f"<{table.page.entries}Q", table.shadow)):
            if desc & 1:
                yield i, desc, descriptor_kind(desc, level)

    def _scan(self, table: Table) -> None:
        """The per-descriptor rules that need no history, over a whole
        table (no level-1 blocks; Normal leaves only inside the allowed
        ranges), and its current child tables.

        Fast because a kernel map is regular: all-zero stretches are
        skipped, and stretches equal to the arithmetic progression of the
        table's first leaf (same attributes, consecutive output addresses,
        the whole progression checked once against the allowed ranges) need
        no decoding.  Only the rest is looked at entry by entry."""
        level, span, n = table.page.level, table.page.span, table.page.entries
        data = table.shadow
        expected = self._progression(table)
        table.children = {}
        for off in range(0, 8 * n, _CHUNK):
            chunk = data[off:off + _CHUNK]
            if chunk == _ZERO[:len(chunk)] or (expected is not None and chunk == expected[off:off + _CHUNK]):
                continue
            for j in range(off, off + len(chunk), 8):
                d = struct.unpack_from("<Q", data, j)[0]
                if d and not (expected is not None and data[j:j + 8] == expected[j:j + 8]):
                    self._scan_entry(table, j // 8, d, level, span)

    def _progression(self, table: Table) -> bytes | None:
        """The table as it would be if every entry were the first leaf's
        neighbour, when that whole progression passes the rules; else
        None."""
        level, span, n = table.page.level, table.page.span, table.page.entries
        if level < 2:
            return None
        leaf_type = 3 if level == 3 else 1
        first, d0 = next(((i, d) for i, (d,) in enumerate(struct.iter_unpack("<Q", table.shadow))
                          if d & 3 == leaf_type), (None, 0))
        if first is None:
            return None
        start = d0 - first * span
        lo = (d0 & output_mask(level)) - first * span
        if lo < 0 or lo + n * span > 1 << 48:
            return None                       # would carry out of the address bits
        if self._normal_test(table.regime)(d0) and not any(
                a <= lo and lo + n * span <= b for a, b in self._allowed()):
            return None
        return array("Q", range(start, start + n * span, span)).tobytes()

    def _scan_entry(self, table: Table, i: int, d: int, level: int, span: int) -> None:
        if not d & 1:
            return
        if d & 2:
            if level < 3:
                table.children[i] = d & pt.ADDR_MASK
                return
        elif level != 2:
            if level < 2:
                self._check_descriptor(table, i, d, "invalid")
            return
        if self._normal_test(table.regime)(d):
            pa = d & output_mask(level)
            if not any(a <= pa and pa + span <= b for a, b in self._allowed()):
                self._check_descriptor(table, i, d, descriptor_kind(d, level))

    def _normal_test(self, regime: Regime) -> Callable[[int], bool]:
        """A fast `is this leaf Normal memory` for the regime's current
        attributes (what stage1_memory / stage2_memory decide)."""
        if regime.kind == "s2":
            if self._regs["hcr_el2"] & HCR_FWB:
                return lambda d: True
            return lambda d: bool(d & 0x30)                 # MemAttr[3:2] != 0
        mair = self._regs["mair_el2"]
        normal = frozenset(i for i in range(8) if (mair >> (8 * i)) & 0xF0)
        return lambda d: (d >> 2) & 7 in normal

    def _check_descriptor(self, table: Table, i: int, desc: int, kind: str) -> None:
        level = table.page.level
        if pt.block_not_allowed(desc, level):
            self._violation("no level-0/1 blocks with the 16 KiB granule", [
                f"a block descriptor at level {level}: the 16 KiB granule has level-1 blocks only "
                "with FEAT_LPA2 (TCR.DS = 1), which Apple cores lack: the walk faults (Arm ARM D8.3.1)"]
                + self._where(table, i) + [f"  entry   {desc:#018x}"])
        elif kind in ("block", "page"):
            memory, normal = self._memory(desc, table.regime)
            pa = desc & output_mask(level)
            if normal and not self._inside_allowed(pa, table.page.span):
                self._violation(NORMAL_RULE, [
                    f"PA {pa:#x}-{pa + table.page.span - 1:#x} is mapped as {memory}, outside "
                    f"the allowed ranges {self._format_allowed()}: speculative accesses there "
                    "raise SErrors on Apple silicon"] + self._where(table, i)
                    + [f"  entry   {self._decode(desc, level, table.regime.stage)}"])

    def _diff(self, table: Table, current: bytes, linked: list) -> None:
        old = table.shadow
        table.shadow = current
        self._cmp = None
        for off in range(0, len(current), 512):
            if old[off:off + 512] == current[off:off + 512]:
                continue
            for j in range(off, min(off + 512, len(current)), 8):
                if old[j:j + 8] != current[j:j + 8]:
                    o, n = struct.unpack_from("<Q", old, j)[0], struct.unpack_from("<Q", current, j)[0]
                    self._change(table, j // 8, o, n, linked)

    def _change(self, table: Table, i: int, old: int, new: int, linked: list) -> None:
        level, regime = table.page.level, table.regime
        kind_old, kind_new = descriptor_kind(old, level), descriptor_kind(new, level)
        if kind_old != "invalid":
            table.stale.setdefault(i, set()).update((old, c) for c in regime.classes(kind_old))
        table.children.pop(i, None)
        self._check_descriptor(table, i, new, kind_new)
        if kind_new == "invalid":
            return
        for held in sorted({v for v, _c in table.stale.get(i, ())}):
            if held == new:
                continue
            why = bbm_reason(held, new, level, regime.stage)
            if why:
                self._report_bbm(table, i, held, new, why)
                break
        if kind_new == "table":
            table.children[i] = new & pt.ADDR_MASK
            linked.append((regime, pt.child_page(new, table.page, i)))

    # ---- TLB invalidation ---------------------------------------------------

    def _invalidate(self, scope: str, xt: int, pc: int, name: str) -> None:
        """Drop the stale values the TLBI removes from every TLB (it acts
        after the checkpoint's diff).  What each scope covers: Arm ARM
        C5.5 and D8.17 (TLB maintenance)."""
        hcr = self._regs["hcr_el2"]
        host = hcr & (HCR_E2H | HCR_TGE) == HCR_E2H | HCR_TGE
        vmid = self._vmid(self._regs["vttbr_el2"], self._regs)
        va = _sign_extend_56((xt & ((1 << 44) - 1)) << 12)
        ttl = (xt >> 44) & 0xF
        if scope in ("e1_va", "e1_va_leaf", "s1_vmid", "aside1") and host:
            scope = {"e1_va": "e2_va", "e1_va_leaf": "e2_va_leaf", "s1_vmid": "e2", "aside1": "e2_ng"}[scope]
        if scope == "e2":
            self._clear(lambda t: t.regime.kind == "el2", ("e2",))
            self._drop_regimes("el2", keep=self._is_current_el2)
        elif scope == "e2_ng":
            self._clear(lambda t: t.regime.kind == "el2", ("e2",), value_filter=lambda v: bool(v & D_NG))
        elif scope in ("e2_va", "e2_va_leaf"):
            self._clear_address("el2", va, ("e2",), scope.endswith("leaf"), ttl)
        elif scope == "s2_all":
            self._clear(lambda t: t.regime.kind == "s2", ("s2", "s12"))
            self._drop_regimes("s2", keep=self._is_current_s2)
        elif scope == "s12_vmid":
            self._clear(lambda t: t.regime.kind == "s2" and t.regime.vmid == vmid, ("s2", "s12"))
            self._drop_regimes("s2", keep=lambda r: r.vmid != vmid or self._is_current_s2(r))
        elif scope == "s1_vmid":
            self._clear(lambda t: t.regime.kind == "s2" and t.regime.vmid == vmid, ("s12",))
        elif scope in ("ipa", "ipa_leaf"):
            ipa = (xt & ((1 << 36) - 1)) << 12
            self._clear_address("s2", ipa, ("s2",), scope.endswith("leaf"), ttl, vmid)
        else:
            self._note(f"TLBI {name} at pc {pc:#x} {self._describe(pc)} outside HCR_EL2.{{E2H,TGE}} = "
                       "{1,1} is modelled as invalidating no stage-2 entry")

    def _clear(self, which: Callable[[Table], bool], classes: tuple[str, ...],
               value_filter: Callable[[int], bool] = lambda v: True) -> None:
        for table in self._tables.values():
            if not which(table):
                continue
            for i in list(table.stale):
                left = {(v, c) for v, c in table.stale[i] if c not in classes or not value_filter(v)}
                if left:
                    table.stale[i] = left
                else:
                    del table.stale[i]

    def _clear_address(self, kind: str, address: int, classes: tuple[str, ...], leaf_only: bool,
                       ttl: int, vmid: int | None = None) -> None:
        """By address (VA[55:12] in Xt[43:0], IPA[47:12] in Xt[35:0]):
        every level's entry for it, or only leaf values (the *L* forms:
        cached table walks stay).  A TTL hint (Xt[47:44], FEAT_TTL) with
        the 16 KiB granule (0b10xx) limits it to that level; a TTL for
        another granule matches nothing here."""
        only_level = None
        if ttl:
            if ttl >> 2 != 0b10:
                return
            only_level = ttl & 3
        mask56 = (1 << 56) - 1
        for table in self._tables.values():
            r = table.regime
            if r.kind != kind or (vmid is not None and r.vmid != vmid):
                continue
            if only_level is not None and table.page.level != only_level:
                continue
            base = table.page.va & mask56
            offset = (address & mask56) - base
            if not 0 <= offset < table.page.entries * table.page.span:
                continue
            i = offset // table.page.span
            held = table.stale.get(i)
            if not held:
                continue
            level = table.page.level
            left = {(v, c) for v, c in held
                    if c not in classes or (leaf_only and descriptor_kind(v, level) == "table")}
            if left:
                table.stale[i] = left
            else:
                del table.stale[i]

    def _is_current_el2(self, regime: Regime) -> bool:
        return bool(self._regs["sctlr_el2"] & SCTLR_M) and any(
            r.key == regime.key for r in self._el2_regimes(self._regs))

    def _is_current_s2(self, regime: Regime) -> bool:
        regs = self._regs
        return bool(regs["hcr_el2"] & HCR_VM) and regime.ttbr == regs["vttbr_el2"]

    def _prune(self) -> None:
        """Keep the tables reachable from a live root through current
        descriptors or through table values a TLB may still hold."""
        live: set[tuple] = set()
        for regime in self._regimes.values():
            stack = [(regime.key, p.address) for p in pt.root_pages(regime.root, regime.geometry, regime.va_base)]
            while stack:
                key = stack.pop()
                table = self._tables.get(key)
                if table is None or key in live:
                    continue
                live.add(key)
                if table.page.level == 3:
                    continue
                stack.extend((regime.key, a) for a in table.children.values())
                for i, held in table.stale.items():
                    for v, _c in held:
                        if descriptor_kind(v, table.page.level) == "table":
                            stack.append((regime.key, v & pt.ADDR_MASK))
        for key in list(self._tables):
            if key not in live:
                del self._tables[key]
                self._cmp = None

    # ---- memory and ranges --------------------------------------------------

    def _read(self, address: int, size: int) -> bytes | None:
        """Physical memory (uc_mem_read ignores the MMU) into one reused
        buffer: ~4 us for a 16 KiB page."""
        if size > len(self._buf):
            self._buf = ctypes.create_string_buffer(size)
        if uclib.uc_mem_read(self.cpu._uch, address, self._buf, size):
            return None
        return ctypes.string_at(self._buf, size)

    def _allowed(self) -> list[tuple[int, int]]:
        """The allowed ranges, merged; asked of the provider once per
        checkpoint."""
        if self._allowed_cache is None:
            src = self._allowed_src() if callable(self._allowed_src) else self._allowed_src
            self._allowed_cache = _merge((base, base + size) for base, size in src)
        return self._allowed_cache

    def _inside_allowed(self, pa: int, size: int) -> bool:
        return any(lo <= pa and pa + size <= hi for lo, hi in self._allowed())

    def _format_allowed(self) -> str:
        return ", ".join(f"{lo:#x}-{hi - 1:#x}" for lo, hi in self._allowed()) or "(none)"

    def _memory(self, desc: int, regime: Regime, mair: int | None = None) -> tuple[str, bool]:
        if regime.kind == "s2":
            return stage2_memory(desc, bool(self._regs["hcr_el2"] & HCR_FWB))
        return stage1_memory(desc, self._regs["mair_el2"] if mair is None else mair)

    # ---- reports ------------------------------------------------------------

    def _decode(self, desc: int, level: int, stage: int, mair: int | None = None) -> str:
        kind = descriptor_kind(desc, level)
        if kind == "invalid":
            return f"{desc:#018x} invalid" + (" (a block at level 1: faults)" if pt.block_not_allowed(desc, level)
                                             else "")
        if kind == "table":
            return f"{desc:#018x} table -> next level at PA {desc & pt.ADDR_MASK:#x}"
        regime = Regime("s2" if stage == 2 else "el2", "", 0, pt.DEFAULT)
        memory, _ = self._memory(desc, regime, mair)
        bits = [SH_NAMES[(desc >> 8) & 3], permissions(desc, stage, bool(self._regs["hcr_el2"] & HCR_E2H))]
        if desc & D_AF:
            bits.append("AF")
        if stage == 1 and desc & D_NG:
            bits.append("nG")
        if desc & D_CONT:
            bits.append("contiguous")
        return f"{desc:#018x} {kind} -> PA {desc & output_mask(level):#x}, {memory}, " + ", ".join(bits)

    def _where(self, table: Table, i: int) -> list[str]:
        lo, hi = table.va_range(i)
        space = "IPA" if table.regime.kind == "s2" else "VA"
        return [f"  regime  {table.regime.name} (root PA {table.regime.root:#x})",
                f"  entry   level {table.page.level}, index {i}, at PA {table.page.address + 8 * i:#x}; "
                f"translates {space} {lo:#x}-{hi - 1:#x}"]

    def _report_bbm(self, table: Table, i: int, held: int, new: int, why: str) -> None:
        level, stage = table.page.level, table.regime.stage
        self._violation(BBM_RULE, [
            f"a live descriptor changed to a value that needs break-before-make ({why}): "
            "the TLB may still hold the old value, which was never made invalid and "
            "covered by a TLBI"] + self._where(table, i) + [
            f"  was     {self._decode(held, level, stage)}",
            f"  now     {self._decode(new, level, stage)}",
            "  do      store the invalid entry, DSB, TLBI covering it, DSB, then the new entry"])

    def _report_unreadable(self, table: Table) -> None:
        self._violation("tables in RAM", [f"the live table at PA {table.page.address:#x} is no longer "
                                          "readable memory"])
        self._tables.pop((table.regime.key, table.page.address), None)
        self._cmp = None

    def _violation(self, rule: str, lines: list[str]) -> None:
        pc, what = self._here[0], _what(self._here[1])
        ppc, pwhat = self._prev[0], _what(self._prev[1])
        text = [f"MMU rule broken: {rule}"] + [ln if ln.startswith("  ") else f"  {ln}" for ln in lines]
        text.append(f"  seen at pc {_pc(pc)} {self._sym(pc)} ({what})")
        text.append(f"  previous checkpoint pc {_pc(ppc)} {self._sym(ppc)} ({pwhat}): "
                    "the change was made between the two")
        text += [f"  note: {n}" for n in self.notes[-3:]]
        report = "\n".join(text)
        if len(self.violations) < MAX_REPORTS:
            self.violations.append(report)
        if self.violation is None:
            self.violation = report
        if self.stop:
            self.cpu.request_stop()

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _sym(self, pc: int | None) -> str:
        return "" if pc is None else self._describe(pc)

    # ---- audit --------------------------------------------------------------

    def audit(self) -> list[Mapping]:
        """Every live leaf mapping (from memory now), coalesced into ranges
        with equal attributes and contiguous VA and PA."""
        out: list[Mapping] = []
        vhe = bool(self._regs["hcr_el2"] & HCR_E2H)
        read = lambda a, n: self._read(a, n) or bytes(n)  # noqa: E731
        for regime in self._regimes.values():
            leaves = sorted(pt.iter_leaves(read, regime.root, regime.geometry, regime.va_base),
                            key=lambda leaf: leaf.va)
            for leaf in leaves:
                memory, normal = self._memory(leaf.descriptor, regime)
                m = Mapping(regime.name, leaf.va, leaf.pa, leaf.size, leaf.level, memory, normal,
                            permissions(leaf.descriptor, regime.stage, vhe))
                last = out[-1] if out else None
                if (last and last.regime == m.regime and last.level == m.level and last.memory == m.memory
                        and last.perms == m.perms and last.va + last.size == m.va
                        and last.pa + last.size == m.pa):
                    out[-1] = Mapping(last.regime, last.va, last.pa, last.size + m.size, last.level,
                                      last.memory, last.normal, last.perms)
                else:
                    out.append(m)
        return out

    def mappings_outside(self, allowed: Iterable[tuple[int, int]], normal_only: bool = True) -> list[Mapping]:
        """audit() ranges whose output is not inside one of `allowed`
        ((base, size) pairs); only Normal ones unless normal_only=False."""
        ranges = _merge((b, b + s) for b, s in allowed)
        return [m for m in self.audit() if (m.normal or not normal_only)
                and not any(lo <= m.pa and m.pa + m.size <= hi for lo, hi in ranges)]

    def format_map(self) -> str:
        return "\n".join(m.describe() for m in self.audit())

    @property
    def live_tables(self) -> int:
        return len(self._tables)


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _sign_extend_56(va: int) -> int:
    return va | (0xFF << 56) if va >> 55 & 1 else va


def _what(what) -> str:
    """A checkpoint's description; kept as a tuple until a report needs
    it (checkpoints are frequent, reports rare)."""
    if isinstance(what, str):
        return what
    kind, name, value = what
    if kind == "MSR":
        return f"MSR {name.upper()}, {value:#x}"
    if kind == "TLBI":
        return f"TLBI {name}" + ("" if value is None else f", x = {value:#x}")
    return f"{name} exception entry"


def _pc(pc: int | None) -> str:
    return "?" if pc is None else f"{pc:#x}"
