"""The Apple-core cycle model: every executed instruction charged twice.

Two figures for every instruction stream (shared/spec/cycle-model.md):

- conservative (budgets are checked against it): at best one instruction
  per cycle; every load costs its L1-hit latency (4); multiply and divide
  their latency; each system, barrier or exception instruction the larger
  of 1 and its table or assumed figure.  Charging mul/div latency goes
  beyond the spec's wording in the conservative direction only.
- optimistic: the reciprocal throughputs of the table, a lower bound.

Measured figures are M1 Firestorm's (Dougall Johnson, dougallj/applecpu
firestorm.html and firestorm-int.html), M3 assumed no slower.  What nobody
has measured publicly (exception entry, ERET, EL1/EL2 system registers,
TLBI, DC/IC) carries an explicit assumption, overridable from a JSON file:

    {"exception_entry": {"conservative": 40, "optimistic": 40}}

A user with an M3 replaces an assumption by measuring it with the
benchmark words on hardware (PMC0 is the real cycle counter there).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs

MEASURED = "measured: M1 Firestorm (dougallj/applecpu)"
ASSUMED = "assumed"
RULE = "model rule (cycle-model.md)"


@dataclass(frozen=True)
class Cost:
    what: str
    conservative: float
    optimistic: float
    source: str


# The one cost table.  Keys are instruction classes (classify() below).
TABLE: dict[str, Cost] = {
    "alu": Cost("ADD/SUB/logical/MOV, register or immediate", 1, 0.167, MEASURED),
    "alu_shift": Cost("ADD/SUB/logical with shift or extend", 1, 0.333, MEASURED),
    "mul": Cost("MUL, MADD, UMULH, SMULH (latency 3)", 3, 0.5, MEASURED),
    "div": Cost("UDIV/SDIV (latency 7-9)", 9, 2, MEASURED),
    "load": Cost("LDR, LDP, LDUR... (L1 hit, latency 4)", 4, 0.333, MEASURED),
    "store": Cost("STR, STP, STUR...", 1, 0.5, MEASURED),
    "branch": Cost("B (unconditional)", 1, 0.0, MEASURED),
    "branch_cond": Cost("B.cond, CBZ, TBZ, BL, BLR, RET (taken)", 1, 1, MEASURED),
    "cas": Cost("CAS (no ordering)", 3, 3, MEASURED),
    "casal": Cost("CASAL / CAS with ordering", 7, 7, MEASURED),
    "atomic_rmw": Cost("LDADD/LDCLR/LDEOR/LDSET/SWP (as CASAL)", 7, 7, ASSUMED),
    "store_exclusive": Cost("STXR/STLXR", 38, 38, MEASURED),
    "dmb": Cost("DMB", 2.9, 2.9, MEASURED),
    "dsb": Cost("DSB", 17, 17, MEASURED),
    "isb": Cost("ISB", 28, 28, MEASURED),
    "msr_tpidr_el0": Cost("MSR TPIDR_EL0", 12, 12, MEASURED),
    "msr_fpcr": Cost("MSR FPCR", 11, 11, MEASURED),
    "mrs_counter": Cost("MRS CNTPCT_EL0 / CNTVCT_EL0", 1, 1, MEASURED),
    "mrs_cntfrq": Cost("MRS CNTFRQ_EL0", 8.5, 8.5, MEASURED),
    "mrs_el0": Cost("MRS of another EL0-accessible register", 1, 1, ASSUMED),
    "msr_sys": Cost("MSR to an EL1/EL2 system register or PSTATE field", 12, 12, ASSUMED),
    "mrs_sys": Cost("MRS of an EL1/EL2 system register", 2, 2, ASSUMED),
    "exception_entry": Cost("exception entry (SVC, HVC, IRQ, FIQ, abort)", 30, 30, ASSUMED),
    "exception_insn": Cost("SVC/HVC/SMC/BRK instruction (entry charged separately)", 1, 1, ASSUMED),
    "eret": Cost("ERET", 30, 30, ASSUMED),
    "tlbi": Cost("TLBI (the DSB that completes it is charged separately)", 40, 40, ASSUMED),
    "dc_ic": Cost("DC/IC by address", 8, 8, ASSUMED),
    "at": Cost("AT address translation (as TLBI)", 40, 40, ASSUMED),
    "wait": Cost("WFI/WFE (time until the next event is not charged)", 0, 0, RULE),
    "fp_simd": Cost("FP/SIMD arithmetic (as the integer ALU, pipelined)", 1, 0.25, ASSUMED),
    "nop": Cost("NOP, hints", 1, 0.167, ASSUMED),
}

_LOAD_PREFIXES = ("ldr", "ldur", "ldp", "ldnp", "ldar", "ldapr", "ldxr", "ldaxr", "ldxp",
                  "ldaxp", "ldtr", "ld1", "ld2", "ld3", "ld4", "ldlar", "prfm")
_STORE_PREFIXES = ("str", "stur", "stp", "stnp", "stlr", "sttr", "st1", "st2", "st3", "st4",
                   "stllr")
_ATOMIC_PREFIXES = ("ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax",
                    "ldumin", "swp")
_MUL = {"mul", "madd", "msub", "mneg", "smulh", "umulh", "smull", "umull", "smaddl",
        "umaddl", "smsubl", "umsubl", "smnegl", "umnegl"}
_DIV = {"udiv", "sdiv"}
_COND_BRANCHES = {"cbz", "cbnz", "tbz", "tbnz", "bl", "blr", "br", "ret", "blraa", "retaa",
                  "retab", "braa", "blraaz", "braaz"}
_SHIFTED = ("lsl #", "lsr #", "asr #", "ror #", "uxt", "sxt")
_SHIFTABLE = {"add", "adds", "sub", "subs", "and", "ands", "orr", "eor", "bic", "bics",
              "orn", "eon", "cmp", "cmn", "tst", "neg", "negs", "mvn"}
_EL0_REGS = {"tpidr_el0", "tpidrro_el0", "nzcv", "fpcr", "fpsr", "ctr_el0", "dczid_el0"}


def classify(mnemonic: str, op_str: str) -> str:
    """The cost class of one instruction, from capstone's text."""
    m, ops = mnemonic.lower(), op_str.lower()
    if m.startswith(_ATOMIC_PREFIXES):
        return "atomic_rmw"
    if m.startswith("cas"):
        return "cas" if m in ("cas", "casb", "cash", "casp") else "casal"
    if m.startswith(("stxr", "stlxr", "stxp", "stlxp")):
        return "store_exclusive"
    if m.startswith(_LOAD_PREFIXES):
        return "load"
    if m.startswith(_STORE_PREFIXES):
        return "store"
    if m in _MUL:
        return "mul"
    if m in _DIV:
        return "div"
    if m == "b":
        return "branch"
    if m.startswith("b.") or m in _COND_BRANCHES:
        return "branch_cond"
    if m in ("dmb", "dsb", "isb", "eret", "tlbi", "at"):
        return m
    if m in ("dc", "ic"):
        return "dc_ic"
    if m in ("svc", "hvc", "smc", "brk", "hlt"):
        return "exception_insn"
    if m in ("wfi", "wfe"):
        return "wait"
    if m == "msr":
        reg = ops.split(",")[0].strip()
        if reg == "tpidr_el0":
            return "msr_tpidr_el0"
        if reg == "fpcr":
            return "msr_fpcr"
        return "msr_sys"
    if m == "mrs":
        reg = ops.split(",")[1].strip()
        if reg in ("cntpct_el0", "cntvct_el0", "cntpctss_el0", "cntvctss_el0"):
            return "mrs_counter"
        if reg == "cntfrq_el0":
            return "mrs_cntfrq"
        if reg in _EL0_REGS:
            return "mrs_el0"
        return "mrs_sys"
    if m in ("nop", "yield", "sev", "sevl", "hint", "bti", "paciasp", "autiasp", "xpaclri",
             "pacibsp", "autibsp", "csdb", "esb", "sb", "clrex"):
        return "nop"
    if m.startswith("f") or " v" in f" {ops}" or ops.startswith(("q", "d", "s", "h", "b")) and \
            not ops.startswith(("sp",)) and m not in _SHIFTABLE:
        return "fp_simd"
    if m in _SHIFTABLE and any(s in ops for s in _SHIFTED):
        return "alu_shift"
    return "alu"


class CostModel:
    """Charges blocks of instructions: the callback the emulated CPU calls
    once per distinct block (the native hook caches the result)."""

    def __init__(self, table: dict[str, Cost] | None = None):
        self.table = dict(table or TABLE)
        self._cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)

    def charge(self, cls: str) -> tuple[int, int]:
        """(conservative cycles, optimistic milli-cycles) of one instruction
        of class cls.  Conservative is never below 1 except for WFI/WFE and
        rounds up (a conservative figure must not shrink)."""
        c = self.table[cls]
        cons = 0 if cls == "wait" else max(1, math.ceil(c.conservative))
        return cons, round(c.optimistic * 1000)

    def block_cost(self, code: bytes, address: int) -> tuple[int, int]:
        cons = opt = 0
        n = 0
        for insn in self._cs.disasm(code, address):
            c, o = self.charge(classify(insn.mnemonic, insn.op_str))
            cons += c
            opt += o
            n += 1
        # Words capstone cannot decode are charged as plain instructions:
        # the count must still be exact.
        missing = len(code) // 4 - n
        if missing > 0:
            c, o = self.charge("alu")
            cons += c * missing
            opt += o * missing
        return cons, opt

    def exception_entry(self) -> tuple[int, int]:
        return self.charge("exception_entry")

    def install(self, cpu) -> None:
        """Charge every block `cpu` (an El2Cpu) runs with this model."""
        read = cpu.uc.mem_read

        def cost(address: int, size: int) -> tuple[int, int]:
            return self.block_cost(bytes(read(address, size)), address)

        cpu.set_block_cost_fn(cost)
        cpu.exception_entry_cost = self.exception_entry()


def load_overrides(path: Path, table: dict[str, Cost] | None = None) -> dict[str, Cost]:
    """The table with assumed entries replaced from a JSON file.  Only
    assumptions may be overridden: a measured figure is not a setting."""
    table = dict(table or TABLE)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cost overrides {path}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"cost overrides {path}: expected an object of entries")
    for key, fields in data.items():
        if key not in table:
            raise ValueError(f"cost overrides {path}: no entry '{key}' (known: {', '.join(sorted(table))})")
        if table[key].source != ASSUMED:
            raise ValueError(f"cost overrides {path}: '{key}' is {table[key].source}, not an assumption")
        if not isinstance(fields, dict) or not set(fields) <= {"conservative", "optimistic"}:
            raise ValueError(f"cost overrides {path}: '{key}' takes conservative and/or optimistic")
        for v in fields.values():
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"cost overrides {path}: '{key}' needs non-negative numbers")
        table[key] = replace(table[key], source=f"override ({Path(path).name})", **fields)
    return table
