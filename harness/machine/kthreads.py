"""The kernel's threads as the harness reads them from guest memory (the
emulated M3's, or QEMU's through its gdb stub): the per-core block and the
TCBs, with the offsets of kernel/percpu.inc (the one layout file: read
from it, not copied).  Used to tell a deadlock (every thread waits and
nothing can wake one) from a console that waits for input, and to say who
waits on what."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache

from harness import ROOT

STATES = {0: "running", 1: "ready", 2: "sending on", 3: "receiving on", 4: "waiting for the reply of a call on",
          5: "sleeping", 6: "dead", 7: "waiting for console input",
          8: "waiting for the disk"}
BLOCKED = {2, 3, 4}     # waits nothing but another thread can end


@lru_cache(maxsize=1)
def layout() -> dict[str, int]:
    """The plain-number #defines of kernel/percpu.inc (PC_*, T_*, TS_*,
    SLOT_*) and kernel/macros.inc (the user area U_*, the header H_*)."""
    out: dict[str, int] = {}
    for name in ("percpu.inc", "macros.inc"):
        text = (ROOT / "kernel" / name).read_text()
        out.update((m.group(1), int(m.group(2)))
                   for m in re.finditer(r"^#define\s+(\w+)\s+(\d+)\b", text, re.M))
    return out


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


def deadlock(read, percpu: int, rx_waiter: int, name) -> str:
    """The report when nothing can ever run again, else '': no thread
    waits for console input (the word at `rx_waiter`, kernel/console.S),
    none has a deadline (the sleepers list is empty: ticks wake nobody) and
    every live thread but the idle one (priority 0) is blocked in IPC on
    another.  `name(xt)` names a thread's word; the console thread runs
    kernel code (no xt).  Both runners ask this when the core waits for an
    interrupt (m3: at WFI; virt: at the idle thread's WFI)."""
    if struct.unpack("<Q", read(rx_waiter, 8))[0] or sleepers(read, percpu):
        return ""
    live = [t for t in threads(read, percpu) if t.prio > 0 and t.state != 6]
    if any(t.state not in BLOCKED for t in live):
        return ""
    label = lambda xt: name(xt) if xt else "the console"  # noqa: E731
    lines = [describe_wait(t, label) for t in live] or ["no thread is left but the idle thread"]
    return ("deadlock: every thread waits for another and nothing can wake one (no deadline, "
            "nobody reads the console):\n  " + "\n  ".join(lines))
