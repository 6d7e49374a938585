"""Figures for the Forth system, measured in the emulated M3.

    python -m harness.forthstats

Every figure is retired instructions (exact in emulation), read by the
kernel itself with its `instructions` word (the Apple PMC1 the harness
serves) around the code measured:

    boot        from the entry point to the first prompt, compiling forth/
    do-loop     per iteration of an empty DO LOOP (1,000,000 iterations)
    fib25       recursive fib of 25
    sieve       one pass of the classic sieve of Eratosthenes over 8190 flags
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
"""

# name: (the code measured, iterations it makes)
RUNS = {
    "do-loop": ("1000000 empty-loop", 1_000_000),
    "fib25": ("25 fib drop", 1),
    "sieve": ("sieve drop", 1),
}


def measure(board: str = "m3") -> dict[str, float]:
    """{"boot": ..., "do-loop": ..., "fib25": ..., "sieve": ...} in instructions."""
    elf = build(board).elf
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
    return figures


def _run(m: M3, line: str) -> int:
    before = len(m.output)
    result = m.run_script(line + "\n")
    out = m.output[before:]
    if not result.ok or "error" in out:
        raise RuntimeError(f"{line!r}: {result.status} {out}")
    return int(re.findall(r"(-?\d+)\s+ok", out)[-1])


def main() -> None:
    f = measure()
    print(f"instructions to the first prompt (compiling forth/): {f['boot']:,}")
    print(f"empty DO LOOP, per iteration:                         {f['do-loop']:.2f}")
    print(f"recursive fib 25:                                     {f['fib25']:,.0f}")
    print(f"sieve (8190 flags, one pass):                         {f['sieve']:,.0f}")


if __name__ == "__main__":
    main()
