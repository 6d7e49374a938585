"""Figures for the Forth system, measured in the emulated M3.

    python -m harness.forthstats

Every figure is retired instructions (exact in emulation), read by the
kernel itself with its `instructions` word (the Apple PMC1 the harness
serves) around the code measured:

    boot        from the entry point to the first prompt, compiling forth/
    do-loop     per iteration of an empty DO LOOP (1,000,000 iterations)
    fib25       recursive fib of 25
    sieve       one pass of the classic sieve of Eratosthenes over 8190 flags

and one in time, across cores: a sum of 2,100,000 integers split evenly
over k worker threads placed on cores 1..k (SPAWN-ON), the boot core
waiting for all of them; the elapsed counter ticks (CNTPCT, the one clock
every core reads) for k = 1, and the speed-up over it for k = 2, 4, 7.
In the emulated M3 each core's time is its own retired instructions
(docs/emulation.md), every core runs the P-core's cycle model (its
E-cores are not slower here) and each core has its own DRAM channel (the
bandwidth cores share is not modelled yet): a compute-bound sum scales
as it would on the silicon, a memory-bound one would scale better here
than there.
"""

from __future__ import annotations

import re

from harness.build import build
from harness.machine.m3 import M3

PROGRAM = """
: empty-loop ( n -- ) 0 ?do loop ;
: fib ( n -- f ) dup 2 < if exit then dup 1- recurse swap 2 - recurse + ;
8190 constant sieve-size
create flags sieve-size allot
: sieve ( -- primes )
  flags sieve-size 1 fill 0
  sieve-size 0 do flags i + c@ if
    i 2* 3 + dup i + begin dup sieve-size < while 0 over flags + c! over + repeat 2drop 1+
  then loop ;
: measure ( xt -- instructions ) instructions swap execute instructions swap - ;
: noop ( -- ) ;
create par-done 8 cells allot  variable par-n
: par-work ( -- ) 0 par-n @ 0 do i + loop drop  1 par-done core cells + ! ;
: par ( k -- ticks ) dup >r 2100000 swap / par-n !  par-done 8 cells erase  ticks
  r@ 1+ 1 do ['] par-work 20 i spawn-on drop loop
  r> 1+ 1 do begin par-done i cells + @ until loop  ticks swap - ;
"""
PAR_CORES = (2, 4, 7)          # worker cores beside the one-core run (7: every other core of an M3)

# name: (the code measured, iterations it makes)
RUNS = {
    "do-loop": ("1000000 empty-loop", 1_000_000),
    "fib25": ("25 fib drop", 1),
    "sieve": ("sieve drop", 1),
}


# Goals from the Forth issue, in instructions (None: a figure to watch).
GOALS = {"boot": 5_000_000, "do-loop": 4, "fib25": None, "sieve": None,
         "par-1": None, **{f"par-{k}": None for k in PAR_CORES}}
NAMES = {"boot": "instructions to the first prompt (compiling forth/)",
         "do-loop": "empty DO LOOP, per iteration",
         "fib25": "recursive fib 25", "sieve": "sieve (8190 flags, one pass)",
         "par-1": "parallel sum of 2.1 M on 1 core (counter ticks)",
         **{f"par-{k}": f"  on {k} cores: speed-up" for k in PAR_CORES}}


def measure(board: str = "m3", elf=None) -> dict[str, float]:
    """{"boot": ..., "do-loop": ..., "fib25": ..., "sieve": ...} in instructions."""
    elf = elf or build(board).elf
    m = M3(elf)
    boot = m.run()
    if not boot.ok or "ready" not in boot.output:
        raise RuntimeError(f"the kernel did not reach its prompt: {boot.status} {boot.report}")
    figures: dict[str, float] = {"boot": boot.instructions}
    m.run_script(PROGRAM)
    overhead = _run(m, "' noop measure .")
    if _run(m, "25 fib .") != 75025 or _run(m, "sieve .") != 1899:
        raise RuntimeError("fib or sieve computed a wrong result")
    for name, (code, n) in RUNS.items():
        m.run_script(f": run-{name} {code} ;\n")
        figures[name] = (_run(m, f"' run-{name} measure .") - overhead) / n
    one = _run(m, "1 par .")
    figures["par-1"] = one
    for k in PAR_CORES:
        figures[f"par-{k}"] = round(one / _run(m, f"{k} par ."), 2)
    return figures


def _run(m: M3, line: str) -> int:
    before = len(m.output)
    result = m.run_script(line + "\n")
    out = m.output[before:]
    if not result.ok or "error" in out:
        raise RuntimeError(f"{line!r}: {result.status} {out}")
    return int(re.findall(r"(-?\d+)\s+ok", out)[-1])


def table(f: dict[str, float]) -> str:
    lines = []
    for key, name in NAMES.items():
        goal = GOALS[key]
        value = f"{f[key]:,.2f}" if f[key] < 100 else f"{f[key]:,.0f}"
        verdict = "" if goal is None else ("  within goal" if f[key] <= goal else "  OVER GOAL")
        shown_goal = "" if goal is None else f"goal {goal:,}"
        lines.append(f"{name:<54}{value:>12}  {shown_goal}{verdict}".rstrip())
    return "\n".join(lines)


def main() -> None:
    print(table(measure()))


if __name__ == "__main__":
    main()
