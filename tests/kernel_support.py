"""Fixtures that build the real kernel once and boot it in the emulated M3."""

from __future__ import annotations

import re

import pytest

from harness import font
from harness.build import build
from harness.machine.framebuffer import from_rgb8
from harness.machine.m3 import M3, M3Config

W, H = font.CELL_W, font.CELL_H


def numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def say(m: M3, line: str) -> list[int]:
    """Type one line on machine m; the numbers the console printed for it
    (after the echo of the line itself).  The line must not fail."""
    before = len(m.output)
    r = m.run_script(line + "\n")
    assert r.ok, r.report
    out = m.output[before:]
    assert out.startswith(line + " "), out
    out = out[len(line) + 1:]
    assert "error" not in out, out
    return numbers(out)


@pytest.fixture(scope="session")
def kernel():
    """The real kernel, built once per test session (board m3)."""
    return build("m3")


class Console:
    """A booted kernel at its prompt; `send` types lines and returns what the
    console printed for them."""

    def __init__(self, machine: M3, boot_output: str):
        self.machine = machine
        self.boot_output = boot_output

    def send(self, text: str | bytes, limit: int = 200_000_000) -> str:
        before = len(self.machine.output)
        data = text.encode() if isinstance(text, str) else text
        if not data.endswith((b"\n", b"\r")):
            data += b"\n"
        result = self.machine.run_script(data, limit)
        assert result.status == "idle", f"{result.status}: {result.report}\n{result.output[-2000:]}"
        return self.machine.output[before:]


@pytest.fixture
def boot(kernel):
    """boot(**M3Config fields) -> Console at the first prompt.  The memory
    model (caches, DRAM, the cost of each access) is off unless a test asks
    for it (memory_model=True): it is the cycle model, nothing the kernel
    sees changes with it (the silicon's refusals, harness/machine/mmu_rules.py,
    are on in every run), and it halves the emulation's speed; the tests
    of cycles and the bench turn it on."""
    def start(**cfg) -> Console:
        m = M3(kernel.elf, M3Config(**{"memory_model": False, **cfg}))
        result = m.run(50_000_000)
        assert result.status == "idle", f"{result.status}: {result.report}\n{result.output}"
        assert "ready" in result.output, result.output
        return Console(m, result.output)
    return start


@pytest.fixture
def console(boot):
    return boot()


# ---- the screen, read back through the font (harness/font.py) ----------

def white(depth: int) -> int:
    return from_rgb8(255, 255, 255, depth)


def read_row(fb, row: int, fg: int, bg: int = 0, cols: int | None = None) -> str:
    """The text of one screen row, cell by cell: each cell must be exactly
    a glyph of the font in fg on bg (or the cursor cell), else '?'."""
    cols = cols or fb.width // W
    words = fb.words(0, row * H, cols * W, H)
    masks = {ch: font.glyph_mask(ch) for ch in range(font.FIRST, font.LAST + 1)}
    out = []
    for c in range(cols):
        cell = [[words[y][c * W + x] for x in range(W)] for y in range(H)]
        got = [[p == fg for p in r] for r in cell]
        if any(p not in (fg, bg) for r in cell for p in r):
            out.append("?")
            continue
        # the cursor: the cell's two bottom rows in fg
        if all(got[14]) and all(got[15]) and not any(any(r) for r in got[:14]):
            out.append("_")
            continue
        match = [chr(ch) for ch, m in masks.items() if m == got]
        out.append(match[0] if match else "?")
    return "".join(out).rstrip()


def screen_rows(console, fg=None):
    """The text on the screen, row by row (console: a Console, or an M3)."""
    m = getattr(console, "machine", console)
    fg = white(m.video.depth) if fg is None else fg
    return [read_row(m.framebuffer, r, fg) for r in range(m.video.height // H)]
