"""Differential property test: random well-formed programs over arithmetic,
logic, comparison, stack and double-cell words, run in the kernel (each
compiled into a colon definition, so literal folding and inlining are
exercised, and also interpreted) and by a Python model of 64-bit two's
complement Forth.  Where gforth is installed (CI installs it) it is a
second oracle for the same programs."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from harness.machine.m3 import M3

M = 1 << 64


def s64(x: int) -> int:
    x %= M
    return x - M if x >> 63 else x


def flag(b: bool) -> int:
    return -1 if b else 0


def floordiv(a: int, b: int) -> tuple[int, int]:
    q = a // b          # Python floors, like the kernel (and gforth)
    return a - q * b, q


def d_(lo: int, hi: int) -> int:
    return s64(hi) * M + (lo % M)


def undo(d: int) -> list[int]:
    return [s64(d), s64(d >> 64)]


# name: (inputs, function of the inputs -> outputs); None = not applicable
def _ops():
    u = lambda x: x % M
    return {
        "+": (2, lambda a, b: [s64(a + b)]),
        "-": (2, lambda a, b: [s64(a - b)]),
        "*": (2, lambda a, b: [s64(a * b)]),
        "and": (2, lambda a, b: [s64(a & b)]),
        "or": (2, lambda a, b: [s64(a | b)]),
        "xor": (2, lambda a, b: [s64(a ^ b)]),
        "=": (2, lambda a, b: [flag(a == b)]),
        "<>": (2, lambda a, b: [flag(a != b)]),
        "<": (2, lambda a, b: [flag(a < b)]),
        ">": (2, lambda a, b: [flag(a > b)]),
        "u<": (2, lambda a, b: [flag(u(a) < u(b))]),
        "u>": (2, lambda a, b: [flag(u(a) > u(b))]),
        "min": (2, lambda a, b: [min(a, b)]),
        "max": (2, lambda a, b: [max(a, b)]),
        "/": (2, lambda a, b: None if b == 0 or (a == -(1 << 63) and b == -1) else [floordiv(a, b)[1]]),
        "mod": (2, lambda a, b: None if b == 0 or (a == -(1 << 63) and b == -1) else [floordiv(a, b)[0]]),
        "lshift": (2, lambda a, b: [s64(a << b)] if 0 <= b < 64 else None),
        "rshift": (2, lambda a, b: [s64(u(a) >> b)] if 0 <= b < 64 else None),
        "negate": (1, lambda a: [s64(-a)]),
        "invert": (1, lambda a: [s64(~a)]),
        "abs": (1, lambda a: [s64(abs(a))]),
        "1+": (1, lambda a: [s64(a + 1)]),
        "1-": (1, lambda a: [s64(a - 1)]),
        "2*": (1, lambda a: [s64(a * 2)]),
        "2/": (1, lambda a: [a >> 1]),
        "0=": (1, lambda a: [flag(a == 0)]),
        "0<": (1, lambda a: [flag(a < 0)]),
        "0>": (1, lambda a: [flag(a > 0)]),
        "dup": (1, lambda a: [a, a]),
        "drop": (1, lambda a: []),
        "swap": (2, lambda a, b: [b, a]),
        "over": (2, lambda a, b: [a, b, a]),
        "rot": (3, lambda a, b, c: [b, c, a]),
        "nip": (2, lambda a, b: [b]),
        "tuck": (2, lambda a, b: [b, a, b]),
        "2dup": (2, lambda a, b: [a, b, a, b]),
        "2swap": (4, lambda a, b, c, d: [c, d, a, b]),
        "2over": (4, lambda a, b, c, d: [a, b, c, d, a, b]),
        "s>d": (1, lambda a: [a, flag(a < 0)]),
        "m*": (2, lambda a, b: undo(a * b)),
        "um*": (2, lambda a, b: undo(u(a) * u(b))),
        "d+": (4, lambda a, b, c, d: undo(d_(a, b) + d_(c, d))),
        "d-": (4, lambda a, b, c, d: undo(d_(a, b) - d_(c, d))),
        "dnegate": (2, lambda a, b: undo(-d_(a, b))),
        "d0=": (2, lambda a, b: [flag(d_(a, b) == 0)]),
        "d<": (4, lambda a, b, c, d: [flag(d_(a, b) < d_(c, d))]),
        "d=": (4, lambda a, b, c, d: [flag(d_(a, b) == d_(c, d))]),
        "fm/mod": (3, lambda a, b, c: None if c == 0 or not -(1 << 63) <= d_(a, b) // c < (1 << 63)
                   else [s64(d_(a, b) - d_(a, b) // c * c), d_(a, b) // c]),
    }


OPS = _ops()
numbers = st.one_of(st.integers(-5, 70), st.sampled_from([0, 1, -1, 4095, 4096, -4096, 1 << 63, (1 << 63) - 1, -(1 << 63)]),
                    st.integers(-(1 << 63), (1 << 63) - 1))
token = st.one_of(numbers.map(lambda n: s64(n)), st.sampled_from(sorted(OPS)))


def model(tokens) -> list[int] | None:
    """The stack after the program, or None when it is not well formed."""
    stack: list[int] = []
    for t in tokens:
        if isinstance(t, int):
            stack.append(t)
            continue
        n, fn = OPS[t]
        if len(stack) < n:
            return None
        args = stack[len(stack) - n:]
        out = fn(*args)
        if out is None:
            return None
        del stack[len(stack) - n:]
        stack.extend(out)
    return stack


programs = st.lists(token, min_size=1, max_size=12).filter(lambda p: model(p) is not None)


def source(tokens) -> str:
    return " ".join(str(t) for t in tokens)


@pytest.fixture(scope="module")
def machine(kernel):
    m = M3(kernel.elf)
    assert m.run(50_000_000).ok
    return m


def kernel_stack(m: M3, line: str) -> list[int]:
    before = len(m.output)
    r = m.run_script(line + "\n", 50_000_000)
    out = m.output[before:]
    assert r.ok and "error" not in out, out
    got = re.search(r"<(\d+)> ((?:-?\d+ )*) ok", out)
    assert got, out
    return [int(x) for x in got.group(2).split()]


@settings(max_examples=200, deadline=None)
@given(programs)
def test_kernel_agrees_with_the_model(machine, prog):
    expect = model(prog)
    # interpreted, then compiled (folding literals into the instructions)
    assert kernel_stack(machine, f"{source(prog)} .s clearstack") == expect
    assert kernel_stack(machine, f": (t) {source(prog)} ; (t) .s clearstack") == expect


def test_clearstack_exists(machine):
    assert kernel_stack(machine, "1 2 3 clearstack .s") == []


@pytest.mark.skipif(shutil.which("gforth") is None, reason="gforth is not installed (CI installs it)")
@settings(max_examples=40, deadline=None)
@given(st.lists(programs, min_size=5, max_size=5))
def test_gforth_agrees_with_the_model(batch):
    # gforth 0.7 prints .s with at most 9 items shown: print the stack ourselves
    lines = [": show depth dup 0 ?do dup i - pick . loop drop cr ;"]
    lines += [f"{source(p)} show clearstack" for p in batch]
    out = subprocess.run(["gforth", "-e", "\n".join(lines) + "\nbye"], capture_output=True,
                         text=True, timeout=60).stdout
    rows = [[int(x) for x in line.split()] for line in out.strip().splitlines()[-len(batch):]]
    assert rows == [model(p) for p in batch], out
