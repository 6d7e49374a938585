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


def boot(elf: Path, pmc0: str) -> M3:
    m = M3(elf, M3Config(pmc0=pmc0))
    r = m.run(100_000_000)
    if not r.ok:
        raise BenchError(f"the kernel did not boot: {r.status}\n{r.report}\n{r.output}")
    return m


def run(elf: Path, budgets=BUDGETS, benchmarks=BENCHMARKS) -> list[Row]:
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
    for r in rows:
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


def write_json(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(rows), indent=2) + "\n")
