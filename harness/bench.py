"""`make bench`: every budget of the seed document, measured on the real
kernel image in the emulated M3.

Each implemented primitive has a benchmark: Forth that sets it up, and an
xt the kernel's BENCH word (forth/90-bench.fth) runs N times, bracketing
each run with the PMU counters and subtracting the bracket's own cost.  The
kernel prints per-iteration instructions and cycles; the harness boots the
image twice, once with PMC0 counting the conservative model's cycles and
once the optimistic model's (in thousandths), so both figures come from the
same kernel code.  A primitive not built yet is listed as not implemented.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.machine.m3 import CPU_HZ, M3, M3Config

GHZ = CPU_HZ / 1e9


@dataclass(frozen=True)
class Budget:
    key: str
    primitive: str
    budget_ns: float

    @property
    def budget_cycles(self) -> int:
        return int(self.budget_ns * GHZ)   # whole cycles, rounded down: 25 ns -> 87


# The seed's bare-metal M3 column (shared/seed, shared/spec/cycle-model.md).
BUDGETS = [
    Budget("context_switch", "context switch", 50),
    Budget("ipc", "IPC message", 30),
    Budget("page_fault", "page fault (soft)", 100),
    Budget("thread_spawn", "thread spawn", 200),
    Budget("malloc_4k", "malloc (4 KB)", 25),
    Budget("sched_decision", "scheduling decision", 30),
    Budget("timer_interrupt", "timer interrupt", 300),
    Budget("keystroke", "keystroke to screen", 15_000),
    Budget("blit_1080p", "screen blit (1080p)", 300_000),
    Budget("file_open", "file open", 2_000),
    Budget("file_read", "file read 4 KB", 1_500),
    Budget("file_write", "file write 4 KB", 2_000),
    Budget("app_launch", "app launch", 10_000),
    Budget("window_create", "window create", 5_000),
    Budget("window_resize", "window resize", 3_000),
    Budget("mouse_click", "mouse click to response", 12_000),
    Budget("scroll", "scroll event", 10_000),
    Budget("net_tx", "network packet TX", 3_000),
    Budget("net_rx", "network packet RX", 3_000),
    Budget("disk_flush", "disk flush", 80_000),
]


# Extra rows, after the seed's twenty: domains (docs/domains.md).  Their
# budgets: the domain IPC one is the seed's Phase 2 column (IPC message,
# 80 ns: the EL1/EL2 boundary), the others are ours, set from the seed's
# figures before measuring: a domain switch costs no more than a thread
# context switch (50 ns); a null HVC round trip, the crossing inside an
# IPC across the boundary, half of that IPC (40 ns); a soft stage-2 fault
# the seed's soft page fault (100 ns).
EXTRA = [
    Budget("domain_switch", "domain switch", 50),
    Budget("hvc_round_trip", "HVC round trip", 40),
    Budget("domain_ipc", "IPC across domain boundary", 80),
    Budget("stage2_fault", "soft stage-2 fault", 100),
]


@dataclass(frozen=True)
class Benchmark:
    setup: str          # Forth run once before measuring
    xt: str             # the word BENCH runs
    samples: int = 200
    per: int = 1        # operations one run of xt performs (a round trip is 2)


# The implemented primitives.  Keys match BUDGETS.  Each xt is one
# operation as a Forth program performs it (the call from Forth included).
BENCHMARKS: dict[str, Benchmark] = {
    # A 4 KiB block from this core's free list.
    "malloc_4k": Benchmark(": bench-malloc ( -- ) block-alloc drop ;", "bench-malloc"),
    # Two threads of one priority yielding to each other: one run of YIELD
    # is two switches (there and back), each with its scheduling decision.
    "context_switch": Benchmark(
        ": partner ( -- ) begin yield again ;  ' partner 32 spawn drop", "yield", per=2),
    # CALL to a server waiting in REPLY-RECEIVE: the request and the reply
    # are two messages, each switching straight to the partner (fast path).
    # The four message cells stay on the stack: CALL consumes them and the
    # endpoint and leaves the four reply cells.
    "ipc": Benchmark(
        "endpoint bench-ep "
        ": echo ( -- ) bench-ep receive begin bench-ep reply-receive again ; "
        "' echo 32 spawn drop  1 2 3 4 "
        ": bench-call ( m0 m1 m2 m3 -- r0 r1 r2 r3 ) bench-ep call ;", "bench-call", per=2),
    # A new thread, ready to run (below the console's priority, so it does
    # not run during the measurement).  Warm-up first: the stack slots and
    # TCBs come from the free lists, as they do once a system has run.
    "thread_spawn": Benchmark(
        ": nothing ( -- ) ; "
        ": warm ( -- ) 250 0 do ['] nothing 20 spawn drop loop 1 ms ; warm "
        ": bench-spawn ( -- ) ['] nothing 20 spawn drop ;", "bench-spawn"),
    # The decision: CLZ on the ready bitmap, the head of that queue.
    "sched_decision": Benchmark(": bench-pick ( -- ) sched-peek drop ;", "bench-pick"),
    # One timer FIQ: entry, the handler (re-arming the timer), the return;
    # the few instructions that make it pending are counted too.
    "timer_interrupt": Benchmark("", "timer-interrupt-test"),
    # A load from the next untouched page of an EL2 demand-zero region: the
    # level-3 translation fault, the page mapped, the load retried.
    "page_fault": Benchmark(
        "variable pf-next  256 16384 * demand-region pf-next ! "
        ": bench-pf ( -- ) pf-next @ c@ drop 16384 pf-next +! ;", "bench-pf"),
}

# A domain (kernel/domain.S) with a code page and a stack page; its code
# (machine code words, tests/test_domains.py checks them against the
# assembler) is loaded at bd-code.
_DOMAIN = ("domain-new value bd  bd 16384 d-rx domain-memory value bd-code "
           "bd 16384 d-rw domain-memory value bd-stack "
           "bd-code bd-stack 16384 + bd domain-entry!  bd-code ")
_LOAD = " drop  bd-code 64 sync-code "
DOMAIN_CODE = {
    "switch": "hvc #0",
    "hvc": "mov x19, #64\n1: hvc #1\n subs x19, x19, #1\n b.ne 1b\n hvc #0",
    "ipc": "mov x19, #64\n1: mov x0, #0\n hvc #2\n subs x19, x19, #1\n b.ne 1b\n hvc #0",
    "s2pf": "mov x19, #16\n1: ldr x1, [x0]\n add x0, x0, #16384\n subs x19, x19, #1\n"
            " b.ne 1b\n hvc #0",
}
DOMAIN_WORDS = {
    "switch": [0xD4000002],
    "hvc": [0xD2800813, 0xD4000022, 0xF1000673, 0x54FFFFC1, 0xD4000002],
    "ipc": [0xD2800813, 0xD2800000, 0xD4000042, 0xF1000673, 0x54FFFFA1, 0xD4000002],
    "s2pf": [0xD2800213, 0xF9400001, 0x91401000, 0xF1000673, 0x54FFFFA1, 0xD4000002],
}


def _code(name: str) -> str:
    return _DOMAIN + " ".join(f"${w:x} code," for w in DOMAIN_WORDS[name]) + _LOAD


EXTRA_BENCHMARKS: dict[str, Benchmark] = {
    # Into the domain by ERET and back by HVC #0 (its code is that HVC):
    # two switches, each charged half.
    "domain_switch": Benchmark(_code("switch") + ": bench-dswitch ( -- ) 0 bd domain-run 2drop ;",
                               "bench-dswitch", per=2),
    # 64 null HVCs in a loop inside the domain (the loop's two instructions
    # and one enter/exit, 1/64 of it, are in the figure).
    "hvc_round_trip": Benchmark(_code("hvc") + ": bench-hvc ( -- ) 0 bd domain-run 2drop ;",
                                "bench-hvc", per=64),
    # 64 CALLs by HVC #2 from the domain to an echo server thread waiting in
    # REPLY-RECEIVE: 128 messages (request and reply), the domain's loop
    # and one enter/exit included.
    "domain_ipc": Benchmark(
        "endpoint bdep  : bd-echo ( -- ) bdep receive begin bdep reply-receive again ; "
        "' bd-echo 32 spawn drop " + _code("ipc") + "bdep 0 bd domain-endpoint! "
        ": bench-dipc ( -- ) 0 bd domain-run 2drop ;", "bench-dipc", per=128),
    # 16 first touches of demand-zero pages per run, each a stage-2
    # translation fault mapped by the kernel; one enter/exit per 16.
    "stage2_fault": Benchmark(
        _code("s2pf") + "bd 520 16384 * d-rw d-demand or domain-memory value bd-dz "
        "variable bd-next  bd-dz bd-next ! "
        ": bench-s2pf ( -- ) bd-next @ bd domain-run 2drop 16 16384 * bd-next +! ;",
        "bench-s2pf", samples=32, per=16),
}

_BENCH_LINE = re.compile(
    r"bench: (\d+) samples, instructions min (-?\d+) median (-?\d+) max (-?\d+), "
    r"cycles min (-?\d+) median (-?\d+) max (-?\d+)")


class BenchError(RuntimeError):
    pass


@dataclass
class Stats:
    min: float
    median: float
    max: float


@dataclass
class Row:
    key: str
    primitive: str
    budget_ns: float
    budget_cycles: int
    implemented: bool
    instructions: Stats | None = None
    conservative: Stats | None = None
    optimistic: Stats | None = None

    @property
    def ns(self) -> float | None:
        return None if self.conservative is None else self.conservative.median / GHZ

    @property
    def within_budget(self) -> bool | None:
        return None if self.conservative is None else self.conservative.median <= self.budget_cycles

    @property
    def margin(self) -> float | None:
        """The share of the budget left under the conservative figure."""
        if self.conservative is None:
            return None
        return 1 - self.conservative.median / self.budget_cycles


def measure_xt(machine: M3, bench: Benchmark) -> tuple[Stats, Stats]:
    """Run one benchmark on a booted machine: (instructions, cycles) per
    iteration as the kernel's BENCH word printed them."""
    if isinstance(bench, Measured):
        return bench.fn(machine)
    before = len(machine.output)
    result = machine.run_script(f"{bench.setup}\n' {bench.xt} {bench.samples} bench\n")
    out = machine.output[before:]
    if not result.ok or "error" in out:
        raise BenchError(f"benchmark {bench.xt!r} failed ({result.status}):\n{out}\n{result.report}")
    m = _BENCH_LINE.search(out)
    if not m:
        raise BenchError(f"benchmark {bench.xt!r}: no bench line in:\n{out}")
    v = [int(x) for x in m.groups()]
    p = bench.per
    return Stats(*(x / p for x in v[1:4])), Stats(*(x / p for x in v[4:7]))


KEYS = b"the quick brown fox jumps"


@dataclass(frozen=True)
class Measured:
    """A row the harness measures itself instead of through BENCH:
    fn(booted machine) -> (instructions, cycles) per operation, the cycles
    from the model the machine's PMC0 counts (as measure_xt's)."""
    fn: object


def measure_keystroke(machine: M3, keys: bytes = KEYS) -> tuple[Stats, Stats]:
    """Keystroke to screen: the span starts when the byte reaches the UART
    (the core idles, the console thread waits in KEY for the UART's
    interrupt: kernel/boards/m3/aic.S, kernel/console.S) and ends at the last framebuffer store into
    the cell of its glyph (the echo: kernel/fbcon.S).  The framebuffer's
    stores are watched with a memory hook for this run only.  One sample
    a key; each store is stamped at the end of its basic block, so a
    figure errs long by at most a few instructions."""
    cpu, v = machine.cpu, machine.video
    if machine.config.pmc0 == "conservative":
        clock = lambda: (cpu.instructions, cpu.cycles_conservative)  # noqa: E731
    else:
        clock = lambda: (cpu.instructions, cpu.cycles_optimistic_x1000)  # noqa: E731

    def cell(addr: int) -> tuple[int, int]:
        off = addr - v.base
        return off // v.stride // 16, off % v.stride // 4 // 12

    samples = []
    for key in keys:
        start = clock()
        watch = machine.framebuffer.watch_writes(clock)
        try:
            r = machine.run_script(bytes([key]), 10_000_000)
        finally:
            watch.stop()
        if r.status != "idle" or not watch.writes:
            raise BenchError(f"keystroke {chr(key)!r}: {r.status}, {len(watch.writes)} screen writes\n{r.report}")
        glyph = cell(watch.writes[0][0])
        end = max(t for a, t in watch.writes if cell(a) == glyph)
        samples.append(tuple(e - s for e, s in zip(end, start)))

    def stats(i: int) -> Stats:
        xs = sorted(x[i] for x in samples)
        return Stats(xs[0], xs[len(xs) // 2], xs[-1])
    return stats(0), stats(1)


# The screen's rows (docs/framebuffer.md).
BENCHMARKS["keystroke"] = Measured(measure_keystroke)
# A 1920x1080 image of 32-bit pixel words (already in the screen's format)
# copied to the framebuffer: fb-blit's NEON loop, 128 bytes a step
# (kernel/fbcon.S).  The image sits in the kernel heap.
BENCHMARKS["blit_1080p"] = Benchmark(
    "1920 1080 * 4 * allocate throw constant bench-img "
    ": bench-blit ( -- ) bench-img 7680 0 0 1920 1080 fb-blit ;", "bench-blit", samples=5)


def boot(elf: Path, pmc0: str) -> M3:
    m = M3(elf, M3Config(pmc0=pmc0))
    r = m.run(100_000_000)
    if not r.ok:
        raise BenchError(f"the kernel did not boot: {r.status}\n{r.report}\n{r.output}")
    return m


def run(elf: Path, budgets=None, benchmarks=None) -> list[Row]:
    """Every row: the seed's twenty, then the EXTRA ones."""
    if budgets is None:
        budgets = BUDGETS + EXTRA
    if benchmarks is None:
        benchmarks = {**BENCHMARKS, **EXTRA_BENCHMARKS}
    rows = []
    cons_m = opt_m = None
    for b in budgets:
        row = Row(b.key, b.primitive, b.budget_ns, b.budget_cycles, b.key in benchmarks)
        if row.implemented:
            # Fresh machines per benchmark: every figure starts from the same state.
            cons_m, opt_m = boot(elf, "conservative"), boot(elf, "optimistic_milli")
            row.instructions, row.conservative = measure_xt(cons_m, benchmarks[b.key])
            insns, milli = measure_xt(opt_m, benchmarks[b.key])
            if insns != row.instructions:
                raise BenchError(f"{b.key}: instruction counts differ between runs "
                                 f"({insns} vs {row.instructions}): not deterministic")
            row.optimistic = Stats(milli.min / 1000, milli.median / 1000, milli.max / 1000)
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    head = (f"{'primitive':<26}{'instr':>8}{'cons cyc':>10}{'opt cyc':>10}{'ns@3.5GHz':>11}"
            f"{'budget ns':>11}{'budget cyc':>12}  margin")
    lines = [head, "-" * len(head)]
    extra = {b.key for b in EXTRA}
    for r in rows:
        if r.key in extra and r.key == next(x.key for x in rows if x.key in extra):
            lines.append("-- extra rows (not in the seed's table; budgets: harness/bench.py EXTRA) --")
        if not r.implemented:
            lines.append(f"{r.primitive:<26}{'-':>8}{'-':>10}{'-':>10}{'-':>11}"
                         f"{r.budget_ns:>11,.0f}{r.budget_cycles:>12,}  not implemented")
            continue
        verdict = f"{r.margin:6.0%} left" if r.within_budget else "OVER BUDGET"
        lines.append(f"{r.primitive:<26}{r.instructions.median:>8,.0f}{r.conservative.median:>10,.0f}"
                     f"{r.optimistic.median:>10,.1f}{r.ns:>11,.1f}{r.budget_ns:>11,.0f}"
                     f"{r.budget_cycles:>12,}  {verdict}")
    return "\n".join(lines)


def to_json(rows: list[Row]) -> dict:
    out = []
    for r in rows:
        d = asdict(r)
        d.update(ns=r.ns, within_budget=r.within_budget, margin=r.margin)
        out.append(d)
    return {"clock_hz": CPU_HZ, "cycles": "conservative model is the budget figure; "
            "optimistic is the lower bound (harness/costs.py)", "rows": out}


def write_json(rows: list[Row], path: Path, forth: dict | None = None) -> None:
    data = to_json(rows)
    if forth is not None:
        data["forth_instructions"] = forth
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
