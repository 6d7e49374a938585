"""Ctrl-C: the console's receive interrupt sees 0x03 and the console thread
gets THROW -28 "user interrupt" wherever it is (kernel/console.S), on the
emulated M3 and under QEMU; other threads are left alone."""
import os
import select
import subprocess
import time

import pytest

from qemu_support import need_qemu, virt_kernel  # noqa: F401  (fixture)

ETX = b"\x03"


def interrupted(console, line: str, limit: int = 5_000_000, reported: bool = True) -> str:
    """Start `line` (it must not come back by itself: the run ends at the
    limit, or waiting, or as a deadlock when it waits on nobody), then
    Ctrl-C: what the console printed after the Ctrl-C; it answers again."""
    m = console.machine
    r = m.run_script((line + "\n").encode(), limit)
    assert r.status in ("limit", "idle", "deadlock"), f"{r.status}: {r.report}"
    before = len(m.output)
    r = m.run_script(ETX, 100_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output[-500:]}"
    out = m.output[before:]
    assert ("error -28: user interrupt" in out) == reported, out
    assert "<0>" in console.send(".s")                 # the error emptied the stack
    assert "42  ok" in console.send("6 7 * .")
    return out


@pytest.mark.parametrize("line", [
    ": spin begin again ; spin",                                  # running, no call at all
    ": chatter begin 42 . again ; chatter",                       # waiting for room in the TX ring
    ": nap begin 10 ms again ; nap",                              # asleep
    "endpoint ep1  ep1 receive",                                  # blocked in IPC, no deadline
    "endpoint ep2  1 2 3 4 ep2 send",                             # blocked sending
    "key",                                                        # waiting for a byte
    ": churn begin 100 allocate throw free throw again ; churn",  # often inside the allocators
    ": deep 0 begin 1+ dup 0= until ; : outer 5 0 do deep loop ; outer",
])
def test_ctrl_c_stops_the_running_word(console, line):
    interrupted(console, line)


def test_ctrl_c_is_caught_by_catch(console):
    out = interrupted(console, ": spin begin again ; : try ['] spin catch . ; try", reported=False)
    assert "-28  ok" in out                           # the word's own CATCH got it


def test_ctrl_c_does_not_stop_other_threads(console):
    console.send("variable n  : counter begin 1 n +! 1 ms again ;  ' counter 20 spawn drop")
    interrupted(console, ": spin begin again ; spin")
    first = console.send("n @ .")
    console.machine.run_script(b"20 ms\n", 50_000_000)
    second = console.send("n @ .")
    a, b = (int(s.split()[-2]) for s in (first, second))
    assert b > a, (first, second)                     # the counter thread still counts
    assert "ready" in console.send("threads") or "sleep" in console.send("threads")


def test_ctrl_c_at_the_prompt_drops_the_line_typed_so_far(console):
    m = console.machine
    r = m.run_script(b"1 2 3 frob" + ETX, 100_000_000)
    assert r.status == "idle"
    assert "error -28: user interrupt" in m.output
    assert "<0>" in console.send(".s")                 # nothing of it ran, nothing is left
    assert "3  ok" in console.send("1 2 + .")


def test_ctrl_c_counts_and_the_console_keeps_its_input(console):
    """Bytes typed after a Ctrl-C are kept: only what came before it goes."""
    m = console.machine
    m.run_script(b": spin begin again ; spin\n", 5_000_000)
    r = m.run_script(ETX + b"5 4 * .\n", 100_000_000)
    assert r.status == "idle"
    assert "20  ok" in m.output


# ---- under QEMU: the PL011's receive interrupt through the GICv3 -----------

def _qemu_console(elf):
    from harness.qemu import qemu_command
    p = subprocess.Popen(qemu_command(elf) + ["-serial", "stdio"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(p.stdout.fileno(), False)
    return p


def _wait_for(p, out: bytearray, text: bytes, seconds: float = 60) -> bool:
    """Read QEMU's console until `text` appears (a bound on a hang, not a
    measurement: the check is what the console printed)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([p.stdout], [], [], 0.1)
        if ready:
            out += p.stdout.read() or b""
        if text in out:
            return True
    return False


@pytest.mark.parametrize("line, started", [
    (b": spin .\" spinning\" begin again ; spin\n", b"spinning"),
    (b": chatter begin 42 . again ; chatter\n", b"42 42 42"),
    (b"endpoint ep  .\" waiting\" ep receive\n", b"waiting"),
])
def test_ctrl_c_under_qemu(virt_kernel, line, started):  # noqa: F811
    need_qemu()
    p = _qemu_console(virt_kernel.elf)
    try:
        out = bytearray()
        assert _wait_for(p, out, b"ready"), out.decode(errors="replace")
        p.stdin.write(line)
        p.stdin.flush()
        assert _wait_for(p, out, started), out.decode(errors="replace")
        p.stdin.write(ETX)
        p.stdin.flush()
        assert _wait_for(p, out, b"error -28: user interrupt"), out.decode(errors="replace")[-400:]
        p.stdin.write(b"6 7 * .\n")
        p.stdin.flush()
        assert _wait_for(p, out, b"42  ok"), out.decode(errors="replace")[-400:]
    finally:
        p.kill()
        p.wait()
