"""The Apple-core cycle model: every executed instruction charged twice.

Two figures for every instruction stream (docs/emulation.md, the cycle model):

- conservative (budgets are checked against it): at best one instruction
  per cycle; every load costs its L1-hit latency (4); multiply and divide
  their latency; each system, barrier or exception instruction the larger
  of 1 and its table or assumed figure.  Charging mul/div latency goes
  beyond the spec's wording in the conservative direction only.
- optimistic: the reciprocal throughputs of the table, a lower bound.

Measured figures are M1 Firestorm's (Dougall Johnson, dougallj/applecpu
firestorm.html and firestorm-int.html), M3 assumed no slower.  What nobody
has measured publicly (exception entry, ERET, EL1/EL2 system registers,
TLBI, DC/IC, AT) is an assumption, and an assumption is a range: the
conservative model takes its high end, the optimistic its low end, so the
two columns bracket what we do not know (docs/bench.md lists every figure
of the model with its source, generated from this file).  The share of a figure's conservative cycles that
rests on assumptions is counted too (cpu.cycles_assumed_x1000: the cost of
an assumed instruction above the one-cycle floor, every exception entry,
every memory-model charge but a mispredict), and `make bench` prints it.
Assumptions are overridable from a JSON file, by either end or both, and
so are the memory parameters:

    {"exception_entry": {"conservative": 40, "optimistic": 25},
     "l2_hit": {"low": 16, "high": 21}}

A user with an M3 replaces an assumption by measuring it with the
benchmark words on hardware (PMC0 is the real cycle counter there).

The memory hierarchy and the branch predictor (MEMORY, GEOMETRY below;
charged natively by harness/native/blockhook.c once a machine installs
them: M3Config(memory_model=True), the default) add what the static
block cost cannot see: a load that misses L1 (L2, DRAM behind it, a
next-line prefetcher for streams, which covers a line only once two in
a row confirmed the stream), the DRAM channel's bandwidth (a streaming
loop costs the larger of its core cycles and bytes over bandwidth;
stores wait only past a store buffer's worth, but a load of a line a
store miss is still filling waits for the fill), Normal-NC
memory (the framebuffer: reads uncached, writes combined at their own
bandwidth), Device memory (every access a round trip), and returns or
indirect branches to an address the return stack or the last target did
not predict (a context switch, a THROW), and every ERET.  Each parameter
is a range (low, high) with its source; the conservative model takes the
costlier end, the optimistic the cheaper one (for a latency the high and
the low end, for a bandwidth or a buffer the low and the high).  Measured
ones are M1 Firestorm's, by whom is said; most are assumptions, and say
so: nobody has published M3 memory latencies we could find.
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


@dataclass(frozen=True)
class Param:
    """One parameter of the memory/branch model: a range and its source.
    `costlier` names the end that costs more cycles ("high" for a
    latency, "low" for a bandwidth, a buffer or an overlap): the
    conservative model takes that end, the optimistic the other.  A point
    (measured once, or a rule) has low == high."""
    what: str
    low: float
    high: float
    unit: str
    source: str
    costlier: str = "high"

    @property
    def conservative(self) -> float:
        return self.high if self.costlier == "high" else self.low

    @property
    def optimistic(self) -> float:
        return self.low if self.costlier == "high" else self.high


@dataclass(frozen=True)
class Geometry:
    """A structural figure of the modelled core: one value for both
    models (one simulated cache, one predictor).  blockhook.c holds the
    same numbers as constants (tests/test_memory_model.py checks)."""
    what: str
    value: int
    unit: str
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
    "atomic_rmw": Cost("LDADD/LDCLR/LDEOR/LDSET/SWP (between CAS and CASAL)", 7, 3, ASSUMED),
    "store_exclusive": Cost("STXR/STLXR", 38, 38, MEASURED),
    "dmb": Cost("DMB", 2.9, 2.9, MEASURED),
    "dsb": Cost("DSB", 17, 17, MEASURED),
    "isb": Cost("ISB", 28, 28, MEASURED),
    "msr_tpidr_el0": Cost("MSR TPIDR_EL0", 12, 12, MEASURED),
    "msr_fpcr": Cost("MSR FPCR", 11, 11, MEASURED),
    "mrs_counter": Cost("MRS CNTPCT_EL0 / CNTVCT_EL0", 1, 1, MEASURED),
    "mrs_cntfrq": Cost("MRS CNTFRQ_EL0", 8.5, 8.5, MEASURED),
    "mrs_el0": Cost("MRS of another EL0-accessible register", 1, 1, ASSUMED),
    "msr_sys": Cost("MSR to an EL1/EL2 system register or PSTATE field", 20, 6, ASSUMED),
    "mrs_sys": Cost("MRS of an EL1/EL2 system register", 4, 1, ASSUMED),
    "exception_entry": Cost("exception entry (SVC, HVC, IRQ, FIQ, abort)", 60, 20, ASSUMED),
    "exception_insn": Cost("SVC/HVC/SMC/BRK instruction (entry charged separately)", 1, 1, ASSUMED),
    "eret": Cost("ERET", 50, 16, ASSUMED),
    "tlbi": Cost("TLBI (the DSB that completes it is charged separately)", 200, 20, ASSUMED),
    # DC ZVA is not cache maintenance: it writes a line of zeros (64 bytes on
    # Apple cores, DCZID_EL0) without reading it; between one line-wide store
    # and the four STPs it replaces.
    "dc_zva": Cost("DC ZVA (zero a 64-byte line)", 4, 1, ASSUMED),
    "dc_ic": Cost("DC/IC by address or whole cache", 30, 4, ASSUMED),
    "at": Cost("AT address translation (a TLB lookup, a walk on a miss)", 100, 20, ASSUMED),
    "wait": Cost("WFI/WFE (time until the next event is not charged)", 0, 0, RULE),
    "fp_simd": Cost("FP/SIMD arithmetic (as the integer ALU, pipelined)", 1, 0.25, ASSUMED),
    "nop": Cost("NOP, hints", 1, 0.167, ASSUMED),
}

_DOUGALL = "measured: M1 Firestorm, Dougall Johnson (dougallj/applecpu firestorm.html)"

# The memory hierarchy and the branch predictor, charged by the native hook.
MEMORY: dict[str, Param] = {
    "l1d_hit": Param(
        "L1D load-to-use latency (the static cost already charges it to every load)", 3, 4, "cycles",
        _DOUGALL + ": 3 cycles load to load address, 4 otherwise; AnandTech's M1 Max review (Andrei "
        "Frumusanu) also reads 3 cycles load-load"),
    "l2_hit": Param(
        "L2 load-to-use latency (a load that misses L1 and hits L2)", 16, 18, "cycles",
        "assumed: ~16-18 cycles, read off the public M1 latency plots "
        "(AnandTech's A14/M1 articles); no source we found states the cycle count, and M3's 16 MiB "
        "L2 is unmeasured"),
    "dram_latency": Param(
        "DRAM load-to-use latency (an L2 miss; the system level cache is not modelled)", 100, 120, "ns",
        "assumed, around AnandTech's (Andrei Frumusanu) measurements of Apple SoCs: structural DRAM "
        "latency 102.8 ns on A12, ~104 ns on A13 (iPhone 11 review); the LPDDR5 M1 Max ~15 ns slower "
        "than the M1 at 128 MB depth (M1 Max review).  No M3 figure found: the high end allows M3's "
        "LPDDR5 the M1 Max's regression"),
    "dram_read_bw": Param(
        "DRAM read bandwidth one P-core draws (line fills, prefetches, Normal-NC reads)", 50, 100, "GB/s",
        "assumed: 100 GB/s is Apple's figure for the whole M3 (LPDDR5), a ceiling no core exceeds; "
        "one core reaches less (cycle-model.md: a single P-core cannot saturate the chip's), the "
        "low end assumes half", costlier="low"),
    "dram_write_bw": Param(
        "DRAM write bandwidth one P-core draws (dirty lines written back)", 30, 100, "GB/s",
        "assumed: writes below reads, as on every core we know of; the high end Apple's M3 figure",
        costlier="low"),
    "nc_write_bw": Param(
        "Normal-NC write-combining bandwidth (the framebuffer)", 30, 100, "GB/s",
        "assumed: combined stores go out as full-line writes, at best the chip's DRAM bandwidth, at "
        "worst the core's write bandwidth; unmeasured on Apple cores", costlier="low"),
    "device_latency": Param(
        "Device-nGnRnE access (MMIO: UART, AIC, watchdog), a round trip to the device", 50, 300, "cycles",
        "assumed (cycle-model.md: hundreds of cycles on Apple SoCs; measure with the probe on an M3)"),
    "store_buffer": Param(
        "stores in flight (the store buffer)", 108, 108, "stores",
        _DOUGALL + ": ~108 in-flight stores", costlier="low"),
    "store_bytes": Param(
        "bytes a buffered store holds, for the store buffer's worth of traffic", 8, 8, "bytes",
        "assumed: an X-register store", costlier="low"),
    "mlp": Param(
        "misses in flight at once (memory-level parallelism): the optimistic model divides a miss's "
        "latency by it, the conservative makes every miss wait alone", 1, 28, "misses",
        "the high end measured on M1 by Daniel Lemire (lemire.me, 2021-01-06, 'Memory access on the "
        "Apple M1 processor': ~28); the low end is the rule (no overlap)", costlier="low"),
    "mispredict_penalty": Param(
        "a mispredicted return or indirect branch, and every ERET (its target is a switch's)", 13, 16,
        "cycles", "measured on M1 Firestorm by Dougall Johnson as cycle-model.md cites it (13-16 "
        "cycles); the firestorm.html pages we read do not state it"),
    "prefetch_train": Param(
        "lines of a sequential stream the prefetcher must see in a row before it covers the next "
        "(one value for both models: one prefetcher is simulated)", 2, 2, "lines",
        "assumed: Apple's data prefetchers are undocumented; stream prefetchers confirm a direction "
        "on the second miss before they issue (a prefetch for one miss alone would double the "
        "traffic of every scattered access), so the second line of a two-line structure is a "
        "demand miss and a sweep is covered from its third line"),
    "return_stack": Param(
        "return address stack entries (BL pushes, RET pops; deeper calls lose the oldest)", 32, 32,
        "entries", "assumed (not measured on Apple cores); one depth for both models: one predictor "
        "is simulated", costlier="low"),
    # A TLB shootdown (docs/emulation.md, The cores): a broadcast TLBI
    # (TLBI ...IS/OS) is complete, for every core of the inner-shareable
    # domain, only once the DSB after it (SY, ISH or OSH: a barrier of
    # loads and stores there) has completed (Arm ARM, "Ordering and
    # completion of TLB maintenance instructions"), and that DSB cannot
    # complete before every other core has dropped the entries and
    # finished the accesses it translated with them and said so.  The
    # DSB of such a sequence costs, beyond its own 17 (measured, a local
    # DSB), tlbi_sync_core per other running core and tlbi_sync_cluster
    # per other cluster with a core running (a core held in reset is in no
    # domain; one in WFI is, and answers).  Charged whether or not the
    # memory model is on (harness/machine/m3.py).
    "tlbi_sync_core": Param(
        "a DSB completing a broadcast TLBI: each other running core's share (it drops the entries, "
        "finishes the accesses that used them, acknowledges; serialised at its cluster's L2)", 2, 18,
        "cycles",
        "assumed: no Apple figure published.  The high end serialises the acknowledgements at "
        "one L2 access each (l2_hit's high end, 18: the cluster's L2 is where its cores meet); "
        "the low end overlaps them, a couple of cycles each for the extra message.  That the "
        "cost grows with the cores of the domain is what Arm server kernels report "
        "(Linaro Connect MAD24-316, 'Why TLBI matters on ARM server': broadcast TLBI and its DSB "
        "scale with the cores, up to a 50% gain from limiting the domain on 96 cores)"),
    "tlbi_sync_cluster": Param(
        "a DSB completing a broadcast TLBI: the trip to each other cluster with a running core "
        "and back (the message and the cluster's answer)", 50, 175, "cycles",
        "assumed: the high end is the cross-cluster trip harness/machine/smp.py IPI_LATENCY "
        "assumes (175 cycles, 50 ns: a cross-cluster coherence round trip on M1-class parts); "
        "the low end, 50 cycles (14 ns), a fabric hop without the queueing"),
    # A disk flush (FLUSH-FILE, CLOSE-FILE, UNMOUNT: kernel/blk.S blk_flush):
    # the drive writes its volatile cache to flash and answers.  On the
    # emulated M3 the disk is a RAM disk with no cache, so the flush is
    # this assumption, charged at every blk_flush (harness/machine/m3.py).
    "disk_flush": Param(
        "a disk flush: the M3's NVMe drive (ANS2) writing its volatile write cache to flash and "
        "answering (NVMe Flush); the RAM disk the emulated M3 has does nothing for it", 20, 18_000, "us",
        "assumed: the high end is what Jens Axboe measured on an M1's Apple NVMe (Linux commit "
        "'apple-nvme: defer cache flushes by a specified amount': flushes take 17-18 ms, random "
        "writes bound by them at 55-60 IOPS; Hector Martin's Feb 2022 F_FULLFSYNC report says the "
        "same of macOS), M3 assumed no faster; the low end, 20 us, a round trip to a drive whose "
        "write cache is safe on power loss (a datacenter NVMe: the flush has nothing to do)"),
}


def disk_flush_cost(memory: dict[str, Param] | None = None, hz: float = 3_500_000_000) -> tuple[int, int]:
    """One disk flush as the RAM disk's stand-in for the drive charges it:
    (conservative cycles, optimistic milli-cycles) at a core clock of hz."""
    p = (memory or MEMORY)["disk_flush"]
    return math.ceil(p.conservative * hz / 1e6), round(p.optimistic * hz / 1e6 * 1000)


def shootdown_cost(others: int, other_clusters: int, memory: dict[str, Param] | None = None) -> tuple[int, int]:
    """What the DSB completing a broadcast TLBI waits for the other cores:
    (conservative cycles, optimistic milli-cycles) with `others` other
    running cores in `other_clusters` other clusters (0, 0: one core
    alone, nothing to wait for)."""
    mem = memory or MEMORY
    core, cluster = mem["tlbi_sync_core"], mem["tlbi_sync_cluster"]
    cons = others * core.conservative + other_clusters * cluster.conservative
    opt = others * core.optimistic + other_clusters * cluster.optimistic
    return math.ceil(cons), round(opt * 1000)

GEOMETRY: dict[str, Geometry] = {
    "l1d_size": Geometry("L1D size (P-core)", 128 << 10, "bytes",
                         "Linux (AsahiLinux) arch/arm64/boot/dts/apple/t8122.dtsi: apple,everest "
                         "d-cache-size = <0x20000>"),
    "l1d_ways": Geometry("L1D associativity", 8, "ways", "assumed (cycle-model.md)"),
    "l1d_line": Geometry("L1D line", 64, "bytes", "assumed (cycle-model.md)"),
    "l2_size": Geometry("L2 size (shared by the P-cluster)", 16 << 20, "bytes",
                        "Linux t8122.dtsi: l2-cache-1 cache-size = <0x1000000>"),
    "l1d_size_e": Geometry("L1D size (E-core)", 64 << 10, "bytes",
                           "Linux t8122.dtsi: apple,sawtooth d-cache-size = <0x10000>"),
    "l2_size_e": Geometry("L2 size (shared by the E-cluster)", 4 << 20, "bytes",
                          "Linux t8122.dtsi: l2-cache-0 cache-size = <0x400000>, the next-level-cache "
                          "of cpu@0-cpu@3 (l2-cache-1 that of cpu@10100-cpu@10103: one L2 per cluster)"),
    "l2_ways": Geometry("L2 associativity", 16, "ways", "assumed"),
    "l2_line": Geometry("L2 line", 128, "bytes",
                        "assumed per cycle-model.md (Apple's coherence line is 128 B at L2); a 2026 "
                        "pointer-chase write-up on M4 (soohamurai.com) reports 128-byte lines too"),
    "streams": Geometry("sequential streams the prefetcher follows (next line, either direction)", 16,
                        "streams", "assumed"),
    "btb": Geometry("indirect-branch targets remembered (direct-mapped by the branch's address)", 256,
                    "entries", "assumed"),
}
# One L2 per cluster, shared by its cores; an L1D per core (harness/machine/m3.py _install_costs;
# t6030 and t6031 have the same E and P figures in their .dtsi).  An E-core has the P-core's ways,
# lines and latencies (ASSUMED: only its sizes are in the device tree).
# Not modelled: the L1I (192 KiB on P-cores, t8122.dtsi i-cache-size = <0x30000>; kernel code fits
# it), conditional-branch mispredicts, TLB misses, the system level cache (inside dram_latency's range),
# coherence between the L1s (a line another core wrote stays in this one's L1), a DRAM channel
# shared by the cores (each core has its own).


def cache_sets(kind: str = "P") -> tuple[int, int]:
    """(L1D sets, L2 sets) of a core of this kind ("P" or "E")."""
    g = {k: v.value for k, v in GEOMETRY.items()}
    l1 = g["l1d_size" if kind == "P" else "l1d_size_e"]
    l2 = g["l2_size" if kind == "P" else "l2_size_e"]
    return l1 // g["l1d_line"] // g["l1d_ways"], l2 // g["l2_line"] // g["l2_ways"]

# How a block ends, for the branch model (blockhook.c K_*), and the DSB flag.
BLOCK_NONE, BLOCK_CALL, BLOCK_CALL_IND, BLOCK_JUMP_IND, BLOCK_RET, BLOCK_ERET = range(6)
BLOCK_DSB = 8
BLOCK_DSB_SYNC = 16     # a DSB that completes broadcast TLB maintenance (SY, ISH, OSH: loads and stores)
_DSB_SYNC = ("sy", "ish", "osh")
# A kind's bits 8-31: the block's conservative cycles that rest on assumed
# costs (blockhook.c K_ASSUMED_SHIFT).
BLOCK_ASSUMED_SHIFT = 8
BLOCK_ASSUMED_MAX = (1 << 24) - 1
_BLOCK_END = {"bl": BLOCK_CALL, "blr": BLOCK_CALL_IND, "blraa": BLOCK_CALL_IND, "blrab": BLOCK_CALL_IND,
              "blraaz": BLOCK_CALL_IND, "blrabz": BLOCK_CALL_IND, "br": BLOCK_JUMP_IND,
              "braa": BLOCK_JUMP_IND, "brab": BLOCK_JUMP_IND, "braaz": BLOCK_JUMP_IND,
              "brabz": BLOCK_JUMP_IND, "ret": BLOCK_RET, "retaa": BLOCK_RET, "retab": BLOCK_RET,
              "eret": BLOCK_ERET, "eretaa": BLOCK_ERET, "eretab": BLOCK_ERET}


def native_memory_params(memory: dict[str, Param] | None = None, hz: float = 3_500_000_000) -> list[int]:
    """The native hook's parameters (blockhook.c P_*, in that order),
    conservative then optimistic, in milli-cycles at a core clock of hz:
    latencies beyond the L1 hit the block cost already charged (the
    optimistic divided by the memory-level parallelism), cycles per byte
    of each bandwidth, the store buffer's worth of traffic and the
    prefetcher's lead (one DRAM latency) as channel time."""
    mem = memory or MEMORY
    out: list[int] = []
    for end in ("conservative", "optimistic"):
        def v(key: str) -> float:
            return getattr(mem[key], end)
        l1, mlp = v("l1d_hit"), max(1.0, v("mlp"))
        dram_cyc = v("dram_latency") * hz / 1e9
        per_byte = lambda gb_s: hz / (gb_s * 1e9)  # noqa: E731
        rd = per_byte(v("dram_read_bw"))
        vals = [
            max(0.0, v("l2_hit") - l1) / mlp,                 # P_L2
            max(0.0, dram_cyc - l1) / mlp,                    # P_DRAM
            max(0.0, dram_cyc - l1) / mlp,                    # P_NC_READ: a DRAM round trip each
            max(0.0, v("device_latency") - l1),               # P_DEVICE: never overlapped
            v("mispredict_penalty"),                          # P_MISPREDICT
            rd,                                               # P_RD_MPB
            per_byte(v("dram_write_bw")),                     # P_WR_MPB
            per_byte(v("nc_write_bw")),                       # P_NC_MPB
            v("store_buffer") * v("store_bytes") * rd,        # P_SB_WINDOW
            dram_cyc,                                         # P_PF_WINDOW
            mem["prefetch_train"].conservative,               # P_PF_TRAIN (one value)
        ]
        out += [round(x * 1000) for x in vals]
    return out


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
    if m == "dc" and ops.startswith("zva"):
        return "dc_zva"
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


# block_info's results by (table, code bytes), shared by every CostModel.
_BLOCK_INFO: dict[tuple, tuple[int, int, int]] = {}


class CostModel:
    """Charges blocks of instructions: the callback the emulated CPU calls
    once per distinct block (the native hook caches the result)."""

    def __init__(self, table: dict[str, Cost] | None = None, memory: dict[str, Param] | None = None):
        self.table = dict(table or TABLE)
        self.memory = dict(memory or MEMORY)
        self._cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
        self._table_key = tuple(sorted(self.table.items()))
        # Classes whose cost is not a measurement or a rule: their cycles above
        # the one-cycle floor are the assumed share.
        self._assumed = {k for k, c in self.table.items() if not c.source.startswith(("measured", "model rule"))}

    def charge(self, cls: str) -> tuple[int, int]:
        """(conservative cycles, optimistic milli-cycles) of one instruction
        of class cls.  Conservative is never below 1 except for WFI/WFE and
        rounds up (a conservative figure must not shrink)."""
        c = self.table[cls]
        cons = 0 if cls == "wait" else max(1, math.ceil(c.conservative))
        return cons, round(c.optimistic * 1000)

    def block_cost(self, code: bytes, address: int) -> tuple[int, int]:
        return self.block_info(code, address)[:2]

    def block_info(self, code: bytes, address: int) -> tuple[int, int, int]:
        """(conservative cycles, optimistic milli-cycles, kind): kind is how
        the block ends for the branch model (BLOCK_*), | BLOCK_DSB if it
        holds a DSB.  A function of the code and the table alone, so it is
        kept across machines (every machine boots the same kernel)."""
        key = (self._table_key, code)
        info = _BLOCK_INFO.get(key)
        if info is None:
            if len(_BLOCK_INFO) > 200_000:
                _BLOCK_INFO.clear()
            info = _BLOCK_INFO[key] = self._block_info(code, address)
        return info

    def _block_info(self, code: bytes, address: int) -> tuple[int, int, int]:
        cons = opt = assumed = 0
        n = 0
        kind = BLOCK_NONE
        dsb = 0
        last = None
        for insn in self._cs.disasm(code, address):
            cls = classify(insn.mnemonic, insn.op_str)
            c, o = self.charge(cls)
            cons += c
            opt += o
            if cls in self._assumed:
                assumed += c - 1
            n += 1
            if cls == "dsb":
                dsb |= BLOCK_DSB
                if insn.op_str.strip().lower() in _DSB_SYNC:
                    dsb |= BLOCK_DSB_SYNC
            last = insn
        # Words capstone cannot decode are charged as plain instructions:
        # the count must still be exact.
        missing = len(code) // 4 - n
        if missing > 0:
            c, o = self.charge("alu")
            cons += c * missing
            opt += o * missing
        elif last is not None:
            kind = _BLOCK_END.get(last.mnemonic.lower(), BLOCK_NONE)
        return cons, opt, kind | dsb | min(assumed, BLOCK_ASSUMED_MAX) << BLOCK_ASSUMED_SHIFT

    def exception_entry(self) -> tuple[int, int]:
        return self.charge("exception_entry")

    def install(self, cpu) -> None:
        """Charge every block `cpu` (an El2Cpu) runs with this model."""
        read = cpu.uc.mem_read

        def cost(address: int, size: int) -> tuple[int, int, int]:
            return self.block_info(bytes(read(address, size)), address)

        cpu.set_block_cost_fn(cost)
        cpu.exception_entry_cost = self.exception_entry()
        cpu.exception_entry_assumed = int("exception_entry" in self._assumed)

    def install_memory(self, cpu, ram: list[tuple[int, int]], nc: list[tuple[int, int]],
                       device: list[tuple[int, int]], hz: float = 3_500_000_000, kind: str = "P") -> None:
        """Charge `cpu`'s memory accesses and branches with this model's
        MEMORY parameters: ram, nc, device are [lo, hi) physical ranges
        (cacheable RAM, Normal-NC, Device; anything else counts as Device).
        After install() (the branch model reads the block kinds it returns).
        kind: the core's ("P" or "E"), for its L1D and L2 sizes (GEOMETRY);
        the machine then shares one L2 among a cluster's cores
        (El2Cpu.share_l2)."""
        ranges = [(lo, hi, "ram") for lo, hi in ram] + [(lo, hi, "nc") for lo, hi in nc] + \
            [(lo, hi, "device") for lo, hi in device]
        l1_sets, l2_sets = cache_sets(kind)
        cpu.install_memory_model(ranges, native_memory_params(self.memory, hz),
                                 int(self.memory["return_stack"].conservative), l1_sets, l2_sets)


def _read_overrides(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cost overrides {path}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"cost overrides {path}: expected an object of entries")
    for key, fields in data.items():
        if key not in TABLE and key not in MEMORY:
            raise ValueError(f"cost overrides {path}: no entry '{key}' "
                             f"(known: {', '.join(sorted(TABLE) + sorted(MEMORY))})")
        if not isinstance(fields, dict) or not fields:
            raise ValueError(f"cost overrides {path}: '{key}' takes an object of numbers")
        for v in fields.values():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"cost overrides {path}: '{key}' needs non-negative numbers")
    return data


def load_overrides(path: Path, table: dict[str, Cost] | None = None) -> dict[str, Cost]:
    """The table with assumed entries replaced from a JSON file (the
    instruction costs: {"eret": {"conservative": 40, "optimistic": 20}}, or
    "high"/"low" for the same ends).  Only assumptions may be overridden: a
    measured figure is not a setting."""
    table = dict(table or TABLE)
    for key, fields in _read_overrides(path).items():
        if key not in TABLE:
            continue
        if table[key].source != ASSUMED:
            raise ValueError(f"cost overrides {path}: '{key}' is {table[key].source}, not an assumption")
        names = {"high": "conservative", "low": "optimistic"}
        if not set(fields) <= {"conservative", "optimistic", "high", "low"}:
            raise ValueError(f"cost overrides {path}: '{key}' takes conservative and/or optimistic "
                             f"(or high and/or low)")
        fields = {names.get(k, k): v for k, v in fields.items()}
        new = replace(table[key], source=f"override ({Path(path).name})", **fields)
        if new.optimistic > new.conservative:
            raise ValueError(f"cost overrides {path}: '{key}': the low end is above the high end")
        table[key] = new
    return table


def load_memory_overrides(path: Path, memory: dict[str, Param] | None = None) -> dict[str, Param]:
    """MEMORY with assumed parameters' ends replaced from the same JSON file
    ({"l2_hit": {"low": 16, "high": 21}})."""
    memory = dict(memory or MEMORY)
    for key, fields in _read_overrides(path).items():
        if key not in MEMORY:
            continue
        if not memory[key].source.startswith("assumed"):
            raise ValueError(f"cost overrides {path}: '{key}' is measured, not an assumption")
        if not set(fields) <= {"low", "high"}:
            raise ValueError(f"cost overrides {path}: '{key}' takes low and/or high")
        new = replace(memory[key], source=f"override ({Path(path).name})", **fields)
        if new.low > new.high:
            raise ValueError(f"cost overrides {path}: '{key}': low is above high")
        memory[key] = new
    return memory


def model_from(path: Path | None) -> "CostModel":
    """The cycle model with a JSON file's overrides (None: the standard one)."""
    if path is None:
        return CostModel()
    return CostModel(load_overrides(path), load_memory_overrides(path))
