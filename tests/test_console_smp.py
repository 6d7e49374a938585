"""Console output from several cores at once (kernel/console.S, the
header's "Many cores"; docs/threads.md, Many cores): threads on
different cores print numbered tokens concurrently, each token one TYPE,
and every token must arrive exactly once and whole, on the UART and (on
the emulated M3) on the screen in the same order, with the console
answering afterwards.

The emulated M3 runs its cores in quanta of 128 instructions (harness/
machine/smp.py DEFAULT_QUANTUM), so two cores' writes meet well inside
one token; 4 x 60 tokens of 7 bytes are more than the TX ring's 1024
bytes, so threads on the boot core and on the others find it full and
wait (the boot core's waiter woken by the UART's interrupt, the others'
sleeping the wait's period).  Under QEMU with MTTCG the cores really run
in parallel.  Against the kernel before the console lock the emulated
M3's tests fail: tokens cut into pieces (two cores), and with four cores
the run never finished (the host-time watchdog below stopped it).
"""

from __future__ import annotations

import re
import signal
from contextlib import contextmanager

import pytest

from harness.qemu import QemuVirt
from kernel_support import screen_rows

MTTCG = "tcg,thread=multi"

# Each core builds its token in its own 16 bytes (the pictured-number
# buffer behind `.` is one for every thread, so `.` is not used here),
# "<Xnnn> " with X = A + the core, then TYPEs it: one write.  A thread sets
# its core's cell of `done` when it has printed them all.
WORDS = """create tb 256 allot  create done 16 cells allot  done 16 cells erase  variable nt
: tbuf ( -- a ) core 16 * tb + ;
: d! ( n a -- ) >r dup 100 / 48 + r@ c!  dup 10 / 10 mod 48 + r@ 1+ c!  10 mod 48 + r> 2 + c! ;
: tok ( n -- ) tbuf >r 60 r@ c!  core 65 + r@ 1+ c!  r@ 2 + d!  62 r@ 5 + c!  32 r@ 6 + c!  r> 7 type ;
: talk ( -- ) nt @ 0 do i tok loop  -1 core cells done + ! ;
: all? ( n -- f ) -1 swap 0 do i cells done + @ and loop ;
: waitall ( n -- ) begin 1 ms dup all? until drop ;
"""
TOKEN = re.compile(r"<([A-H])(\d{3})> ")


def _line(cores: int, n: int) -> str:
    """The console (core 0) spawns a talker on each other core, talks
    itself, waits for all of them, then says END."""
    spawn = "".join(f"' talk 20 {c} spawn-on drop " for c in range(1, cores))
    return f"{n} nt ! {spawn}talk {cores} waitall .\" END\""


def _check_tokens(out: str, cores: int, n: int) -> list[str]:
    """Every token of every core exactly once, whole, and nothing else
    between the line's echo and END: no byte lost, doubled or split."""
    assert "error" not in out, out
    start = out.index("waitall .\" END\"") + len("waitall .\" END\"") + 1
    body = out[start:out.index("END", start)]
    toks = TOKEN.findall(body)
    assert TOKEN.sub("", body) == "", f"bytes outside whole tokens: {TOKEN.sub('', body)!r}"
    want = {(chr(65 + c), f"{i:03d}") for c in range(cores) for i in range(n)}
    assert len(toks) == len(want) and set(toks) == want, sorted(want - set(toks))[:10]
    for c in range(cores):                                  # each core's in its own order
        mine = [int(i) for x, i in toks if x == chr(65 + c)]
        assert mine == list(range(n)), (c, mine)
    return [x + i for x, i in toks]


def _waits(c) -> int:
    """console-tx-stats' waits: times a thread found the TX ring full."""
    irqs, polled, pumped, waits, sent = map(int, re.findall(r"\d+", c.send("console-tx-stats . . . . .")))
    return waits


@contextmanager
def _watchdog(machine, seconds: int):
    """Stop the run after `seconds` of host time (the old console could
    leave a core spinning where no instruction limit ends the run)."""
    old = signal.signal(signal.SIGALRM, lambda *_: machine.interrupt())
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("cores,n", [(2, 30), (4, 60)])
def test_m3_threads_on_several_cores_print_every_token_once(boot, cores, n):
    c = boot()
    assert "cores: 8\n" in c.boot_output
    c.send(WORDS)
    before = _waits(c)
    with _watchdog(c.machine, 120):
        out = c.send(_line(cores, n), limit=150_000_000)
    toks = _check_tokens(out, cores, n)
    if cores == 4:
        # more than the ring holds: the printers found it full and waited
        assert _waits(c) > before
    # the screen shows the same tokens in the same order as the UART
    screen = "".join(screen_rows(c))
    assert re.findall(r"<[A-H]\d{3}>", screen)[-len(toks):] == [f"<{t}>" for t in toks]
    assert "7 " in c.send("3 4 + .")                         # and it keeps answering


def test_m3_a_report_from_another_core_does_not_tear_the_console(boot):
    """An uncaught THROW in a thread on core 3 is reported there (the
    report path: console_puts, console_dec, the error's text) while the
    console thread on core 0 prints: each of the report's writes comes out
    whole ("thread 3 terminated:", "error -4", ": stack underflow"), though
    the console's tokens may come between them (one write is one piece,
    a line of several writes is not)."""
    c = boot()
    c.send(WORDS)
    out = c.send(": bad ( -- ) 5 0 do i tok loop  -4 throw ; "
                 "30 nt ! ' bad 20 3 spawn-on drop talk 5 ms .\" END\"")
    body = out[out.index("talk 5 ms"):]
    assert re.search(r"\nthread 3 terminated:", body), body
    assert "error -4: " in body and "stack underflow" in body, body
    toks = TOKEN.findall(body)
    assert len(toks) == 35 and len(set(toks)) == 35, body
    echo = 'talk 5 ms ." END"'
    rest = TOKEN.sub("", body[len(echo):body.rindex("END")])
    for piece in ("\nthread 3 terminated:", "error -4: ", "stack underflow", "\n"):
        rest = rest.replace(piece, "", 1)
    assert rest.strip() == "", repr(rest)
    assert "7 " in c.send("3 4 + .")


@pytest.mark.parametrize("accel", [None, MTTCG], ids=["icount", "mttcg"])
def test_virt_threads_on_four_cores_print_every_token_once(virt_kernel, accel):
    q = QemuVirt(virt_kernel.elf, cores=4, accel=accel)
    with q:
        r = q.run(200_000_000)
        assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
        assert "cores: 4\n" in r.output
        r = q.run_script(WORDS)
        assert r.status == "idle", r.output[-2000:]
        before = len(r.output)
        r = q.run_script(_line(4, 150) + "\n")
        assert r.status == "idle", f"{r.status}: {r.report}\n{r.output[-2000:]}"
        _check_tokens(r.output[before:], 4, 150)
        r = q.run_script("3 4 + .\n")
        assert "3 4 + . 7 " in r.output, r.output[-500:]
