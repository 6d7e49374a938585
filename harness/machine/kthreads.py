"""The kernel's threads as the harness reads them from the emulated M3's
memory: the per-core block and the TCBs, with the offsets of
kernel/percpu.inc (the one layout file: read from it, not copied).  Used to
tell a deadlock (every thread waits and nothing can wake one) from a
console that waits for input, and to say who waits on what."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache

from harness import ROOT

STATES = {0: "running", 1: "ready", 2: "sending on", 3: "receiving on", 4: "waiting for the reply of a call on",
          5: "sleeping", 6: "dead", 7: "waiting for console input"}
BLOCKED = {2, 3, 4}     # waits nothing but another thread can end


@lru_cache(maxsize=1)
def layout() -> dict[str, int]:
    """The plain-number #defines of kernel/percpu.inc (PC_*, T_*, TS_*)."""
    text = (ROOT / "kernel" / "percpu.inc").read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^#define\s+(\w+)\s+(\d+)\b", text, re.M)}


@dataclass
class Thread:
    tcb: int
    id: int
    state: int
    prio: int
    xt: int
    waitep: int


def threads(read, percpu: int) -> list[Thread]:
    """Every live thread, from PC_THREADS along T_ALLNEXT (at most 4096: a
    corrupt list ends the walk)."""
    L = layout()
    q = lambda a: struct.unpack("<Q", read(a, 8))[0]  # noqa: E731
    out, t = [], q(percpu + L["PC_THREADS"])
    while t and len(out) < 4096:
        out.append(Thread(t, q(t + L["T_ID"]), q(t + L["T_STATE"]), q(t + L["T_PRIO"]), q(t + L["T_XT"]),
                          q(t + L["T_WAITEP"])))
        t = q(t + L["T_ALLNEXT"])
    return out


def sleepers(read, percpu: int) -> int:
    """The first thread with a deadline (0: none)."""
    return struct.unpack("<Q", read(percpu + layout()["PC_SLEEPERS"], 8))[0]


def describe_wait(t: Thread, name) -> str:
    """'thread 3 (echo, priority 32) receiving on endpoint 0x...'."""
    what = STATES.get(t.state, f"in state {t.state}")
    on = f" endpoint {t.waitep:#x}" if t.state in BLOCKED else ""
    return f"thread {t.id} ({name(t.xt)}, priority {t.prio}) {what}{on}"
