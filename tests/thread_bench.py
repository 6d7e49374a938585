"""The thread rows in their variants: a test-only helper, not part of
`make bench` (harness/bench.py measures one variant a row).

    PYTHONPATH=. python tests/thread_bench.py [--elf build/kernel.elf] [--trace] [names...]

Each variant is Forth setup plus an xt that the kernel's own BENCH word
(forth/90-bench.fth) runs N times between the PMU counters, exactly as
harness/bench.py does: the same words give the same figures on a real M3
(`' timer-interrupt-test 200 bench` at its console).  Figures are per
operation (`per` operations a run): instructions and cycles under both
models (conservative, optimistic), min / median / max.

--trace adds what the harness sees from outside, for the rows where a
run of the xt holds more than the span of interest: every instruction is
charged with the same cost table (harness/costs.py) between two points,
  preempt, tick, tick-busy
                 the FIQ's exception entry .. the first instruction back in
                 a thread: after the ERET, or after resume_from_handler's
                 RET for a thread switched out at a call (the interrupted
                 thread's: "return", or another's: "switch")
  spawn-run      the entry of SPAWN .. the new thread's first instruction
                 (thread_start)
so the trigger (timer-interrupt-test's DAIF and CVAL writes) and the new
thread's life after its first instruction are left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.bench import Benchmark, boot, measure_xt  # noqa: E402
from harness.costs import CostModel  # noqa: E402

# The partner threads run at the console's priority (32) unless said.
VARIANTS: dict[str, tuple[str, Benchmark]] = {
    "yield": (
        "context switch, cooperative: half a YIELD round trip between two threads of one priority",
        Benchmark(": partner ( -- ) begin yield again ;  ' partner 32 spawn drop", "yield", per=2)),
    "preempt": (
        "context switch, preemptive: a timer FIQ that round-robins to a thread of the same priority; "
        "the partner does the same back, so a run is two preemptions (each with the trigger: "
        "timer-interrupt-test's DAIF/CVAL writes and ISB)",
        Benchmark(": pinger ( -- ) begin timer-interrupt-test again ;  ' pinger 32 spawn drop",
                  "timer-interrupt-test", per=2)),
    "tick": (
        "timer interrupt row: a tick with nothing else ready (entry, handler, return, the trigger)",
        Benchmark("", "timer-interrupt-test")),
    "tick-busy": (
        "a tick that switches nothing, with work around: a sleeper not yet due, a lower thread ready",
        Benchmark(": napper ( -- ) 100000 ms ;  ' napper 40 spawn drop "
                  ": low ( -- ) begin again ;  ' low 20 spawn drop", "timer-interrupt-test")),
    "ipc": (
        "IPC, fast path: half a CALL to a server in REPLY-RECEIVE (the bench row)",
        Benchmark("endpoint bench-ep "
                  ": echo ( -- ) bench-ep receive begin bench-ep reply-receive again ; "
                  "' echo 32 spawn drop  1 2 3 4 "
                  ": bench-call ( m0 m1 m2 m3 -- r0 r1 r2 r3 ) bench-ep call ;", "bench-call", per=2)),
    "call-timeout": (
        "IPC, timed call: half a CALL-TIMEOUT round trip to the same server (deadline far away)",
        Benchmark("endpoint bench-tep "
                  ": techo ( -- ) bench-tep receive begin bench-tep reply-receive again ; "
                  "' techo 32 spawn drop  1 2 3 4 "
                  ": bench-tcall ( m0 m1 m2 m3 -- r0 r1 r2 r3 ) bench-tep 100000000 call-timeout drop ;",
                  "bench-tcall", per=2)),
    "send": (
        "IPC, a SEND that blocks: no receiver waiting, so the sender queues and blocks; a receiver "
        "below it runs, takes the message (the sender is free and outranks it: back to the "
        "sender) and is preempted inside RECEIVE, so it is never waiting when the next SEND comes. "
        "One message, two switches (figures per message: per = 1)",
        Benchmark("endpoint bench-sep "
                  ": sink ( -- ) begin bench-sep receive drop 2drop 2drop again ; "
                  "' sink 20 spawn drop "
                  ": bench-send ( -- ) 1 2 3 4 bench-sep send ;", "bench-send")),
    "spawn": (
        "thread spawn, recycled slot (the bench row: warm free lists)",
        Benchmark(": nothing ( -- ) ; "
                  ": warm ( -- ) 250 0 do ['] nothing 20 spawn drop loop 1 ms ; warm "
                  ": bench-spawn ( -- ) ['] nothing 20 spawn drop ;", "bench-spawn")),
    "spawn-fresh": (
        "thread spawn, fresh slot: no slot free, so each one is carved and its 3 guard pages unmapped",
        Benchmark(": nothing ( -- ) ; : bench-fspawn ( -- ) ['] nothing 20 spawn drop ;",
                  "bench-fspawn")),
    "spawn-run": (
        "spawn of a thread that outranks the spawner: it runs at once, returns, exits, the spawner "
        "resumes (recycled slot): the whole round trip; --trace gives spawn to its first instruction",
        Benchmark(": nothing ( -- ) ; : bench-rspawn ( -- ) ['] nothing 40 spawn drop ;",
                  "bench-rspawn")),
    "sched": (
        "scheduling decision: CLZ on the bitmap, the head of that queue (the bench row)",
        Benchmark(": bench-pick ( -- ) sched-peek drop ;", "bench-pick")),
}


def measure(elf: Path, name: str) -> dict:
    _, b = VARIANTS[name]
    out = {}
    for model in ("conservative", "optimistic_milli"):
        m = boot(elf, model)
        insns, cyc = measure_xt(m, b)
        if model == "conservative":
            out["insns"], out["cons"] = insns, cyc
        else:
            out["opt"] = type(cyc)(cyc.min / 1000, cyc.median / 1000, cyc.max / 1000)
    return out


# ---- the outside view ------------------------------------------------------

class Tracer:
    """Charges every instruction between a start and an end point with the
    cost model, per instruction (unicorn code hook: slow, for short runs).

    An interrupt's span starts at the exception entry (charged as the
    model charges it; counting from the first instruction in the vector
    table) and ends at the first instruction back in a thread: the one an
    ERET returns to, or the one the RET of resume_from_handler returns to
    (a thread switched out at a call is resumed by SPSel and RET).  It is
    a switch when x28 (the thread's user area) differs from the
    interrupted thread's."""

    def __init__(self, machine):
        from unicorn import UC_HOOK_CODE
        self.m = machine
        self.cpu = machine.cpu
        self.model = CostModel()
        self.cache: dict[int, tuple[int, int]] = {}
        self.entry = self.model.exception_entry()       # (conservative, optimistic x1000)
        self.spans: list[tuple[str, int, int, int]] = []   # (what, insns, cons, opt x1000)
        self.open = None        # [what, insns, cons, up at start, counting, opt x1000]
        self.last = None        # the previous instruction: "eret", "ret" or None
        self.starts: dict[int, str] = {}
        self.ends: dict[int, str] = {}
        self.interrupts = False
        self.vbar = self.sym("vectors")
        lo = self.sym("resume_from_handler")
        self.resume = (lo, self.sym("timer_start"))
        self._h = self.cpu.uc.hook_add(UC_HOOK_CODE, self._code)
        self.cpu.uc.ctl_flush_tb()      # code translated before the hook would not call it
        self.cpu.exception_listeners.append(self._exc)

    def sym(self, name: str) -> int:
        return self.m.symbols.address(name, self.m.load_base)

    def close(self) -> None:
        self.cpu.uc.hook_del(self._h)
        self.cpu.uc.ctl_flush_tb()
        self.cpu.exception_listeners.remove(self._exc)

    def _word(self, addr: int) -> int:
        return int.from_bytes(bytes(self.cpu.uc.mem_read(addr, 4)), "little")

    def _cost(self, addr: int) -> tuple[int, int]:
        c = self.cache.get(addr)
        if c is None:
            c = self.model.block_cost(bytes(self.cpu.uc.mem_read(addr, 4)), addr)
            self.cache[addr] = c
        return c

    def _exc(self, kind: str, pc: int) -> None:
        if kind == "fiq" and self.open is None and self.interrupts:     # the timer (m3)
            self.open = ["fiq", 0, self.entry[0], self.cpu.reg_read("x28"), False, self.entry[1]]
            self.last = None

    def _code(self, uc, addr, size, _user) -> None:
        o = self.open
        if o is None:
            what = self.starts.get(addr)
            if what is None:
                return
            o = self.open = [what, 0, 0, self.cpu.reg_read("x28"), True, 0]
        elif o[0] == "fiq":
            if not o[4]:
                if not self.vbar <= addr < self.vbar + 0x800:
                    return                  # not entered yet (an instruction hooked twice)
                o[4] = True
            elif self.last is not None:
                switched = self.cpu.reg_read("x28") != o[3]
                self.spans.append(("switch" if switched else "return", o[1], o[2], o[5]))
                self.open = None
                return
            w = self._word(addr)
            self.last = "eret" if w == 0xD69F03E0 else \
                "ret" if w == 0xD65F03C0 and self.resume[0] <= addr < self.resume[1] else None
        elif addr in self.ends and self.ends[addr] == o[0]:
            self.spans.append((o[0], o[1], o[2], o[5]))
            self.open = None
            return
        cons, opt = self._cost(addr)
        o[1] += 1
        o[2] += cons
        o[5] += opt


def trace(elf: Path, name: str) -> dict[str, list[tuple[int, int, float]]]:
    _, b = VARIANTS[name]
    m = boot(elf, "conservative")
    # setup, and a few runs first: the spans start from the steady state
    r = m.run_script(b.setup + f"\n: trace-loop ( n -- ) 0 do {b.xt} loop ;  5 trace-loop\n")
    assert r.ok, r.report
    t = Tracer(m)
    if name in ("preempt", "tick", "tick-busy"):
        t.interrupts = True
    elif name == "spawn-run":
        t.starts[t.sym("w_spawn")] = "spawn"
        t.ends[t.sym("thread_start")] = "spawn"
    r = m.run_script("50 trace-loop\n")
    t.close()
    assert r.ok and "error" not in r.output[-200:], r.output[-500:] + r.report
    out: dict[str, list[tuple[int, int, float]]] = {}
    for what, n, c, o in t.spans:
        out.setdefault(what, []).append((n, c, o / 1000))
    return out


def fmt(s, digits=0) -> str:
    return f"{s.min:,.{digits}f} / {s.median:,.{digits}f} / {s.max:,.{digits}f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--elf", default=str(ROOT / "build" / "kernel.elf"))
    p.add_argument("--trace", action="store_true", help="the outside view as well")
    p.add_argument("names", nargs="*", default=list(VARIANTS))
    a = p.parse_args(argv)
    elf = Path(a.elf)
    for name in a.names:
        r = measure(elf, name)
        print(f"{name:<13} instr {fmt(r['insns'], 1):>24}   cons {fmt(r['cons'], 1):>26}   "
              f"opt {fmt(r['opt'], 1):>24}   (min / median / max)", flush=True)
        if a.trace and name in ("preempt", "tick", "tick-busy", "spawn-run"):
            for what, xs in trace(elf, name).items():
                cols = [sorted(x[i] for x in xs) for i in range(3)]
                f = [f"{c[0]:,.1f} / {c[len(c) // 2]:,.1f} / {c[-1]:,.1f}" for c in cols]
                print(f"  trace {what:<7} {len(xs):3} spans: instr {f[0]}   cons {f[1]}   opt {f[2]}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
