"""Property tests of threads, IPC and memory, run in the kernel.

hypothesis writes random programs: a few threads at random priorities, each
a random sequence of send, call, receive (answering calls), yield, sleep,
block allocation and freeing, and an early exit.  Every IPC operation has a
timeout, so no program can deadlock.  Each thread logs what happened in its
own buffer; the console waits for all of them, then the logs and the
kernel's counters are checked:

- no message lost or duplicated: a send reported delivered was received
  exactly once, one not delivered never; a call that got its reply was
  received exactly once and answered with its own id; a call that timed out
  was received at most once, and then its late reply was refused; nothing
  is received that nobody sent;
- the highest-priority ready thread always runs (PRIO-OK? after every step);
- no block handed out twice (each block is stamped; the stamp is checked
  when it is freed);
- once every thread has exited, all memory is back in the free lists: the
  stack slots, and the blocks (TCBs and the program's own).
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.machine.m3 import M3, M3Config
from harness.qemu import QemuVirt

TMO = 24_000          # IPC timeout in counter ticks (1 ms at 24 MHz)
# Examples per run (CI runs these; set lower for a quick local check, higher
# for a stress run).  The many-core runs below cover the same programs across
# cores, so the one-core run keeps fewer than it once had (120), for make
# test's ten minutes.
EXAMPLES = int(os.environ.get("THREAD_EXAMPLES", "30"))
QEMU_EXAMPLES = int(os.environ.get("QEMU_THREAD_EXAMPLES", "12"))
PRIOS = [10, 20, 32, 40]
# 0: a 4 KiB block (block-alloc, the kernel's per-core block lists); else
# ALLOCATE of that many bytes: size classes (per-core slabs, freed on
# whichever core the thread is on then: kernel/kmem.S, Many cores) and,
# past 64 KiB, the shared heap under its lock
ALLOC_SIZES = [0, 16, 200, 4096, 70000]
ENDPOINTS = 2

op = st.one_of(
    st.tuples(st.just("tx"), st.integers(0, ENDPOINTS - 1)),
    st.tuples(st.just("cx"), st.integers(0, ENDPOINTS - 1)),
    st.tuples(st.just("rx"), st.integers(0, ENDPOINTS - 1)),
    st.tuples(st.just("yield")),
    st.tuples(st.just("sleep"), st.integers(0, 2)),
    st.tuples(st.just("alloc"), st.sampled_from(ALLOC_SIZES)),
    st.tuples(st.just("free")),
    st.tuples(st.just("exit")),
)
program = st.lists(st.tuples(st.sampled_from(PRIOS), st.lists(op, min_size=1, max_size=12)),
                   min_size=1, max_size=4)


def forth_program(threads, cores: int = 1) -> tuple[str, dict]:
    """The Forth text, and what the checker needs to know (ids sent).
    With several cores, endpoint j lives on core j mod cores (its users
    on other cores move there for each operation: kernel/ipc.S)."""
    lines = [f"{j % cores} endpoint-on e{j}" for j in range(ENDPOINTS)]
    sent = {}                                   # id -> ("tx" | "cx", thread)
    for i, (prio, ops) in enumerate(threads):
        lines += [
            f"create log{i} 256 cells allot variable lp{i} variable done{i} "
            f"create held{i} 16 cells allot variable nh{i}",
            f": lg{i} ( code value -- ) swap log{i} lp{i} @ cells + ! 1 lp{i} +! "
            f"log{i} lp{i} @ cells + ! 1 lp{i} +! ;",
            f": chk{i} ( -- ) prio-ok? 0= if 8 0 lg{i} then ;",
            f": tx{i} ( id ep -- ) over >r >r 0 0 me r> {TMO} send-timeout r> swap "
            f"if 1 else 4 then swap lg{i} ;",
            f": cx{i} ( id ep -- ) over >r >r 1 0 me r> {TMO} call-timeout "
            f"if 2drop drop 5 swap lg{i} r> drop else 6 r> lg{i} then ;",
            f": rx{i} ( ep -- ) {TMO} receive-timeout 0= if 3 0 lg{i} exit then "
            f">r 2drop over 2 swap lg{i} if dup 1000000 + 0 0 0 r> ['] reply catch "
            f"if 2drop 2drop drop 7 swap lg{i} else drop then else drop r> drop then ;",
        ]
        body, held, stamp = [], [], 0
        if cores > 1 and i % 2:     # the balancer may move it (UNPIN): an idle core
            body.append("me unpin")  # takes it from a core where it waits
        for k, o in enumerate(ops):
            ident = 1000 * (i + 1) + k
            kind = o[0]
            if kind == "tx":
                body.append(f"{ident} e{o[1]} tx{i}")
                sent[ident] = ("tx", i)
            elif kind == "cx":
                body.append(f"{ident} e{o[1]} cx{i}")
                sent[ident] = ("cx", i)
            elif kind == "rx":
                body.append(f"e{o[1]} rx{i}")
            elif kind == "yield":
                body.append("yield")
            elif kind == "sleep":
                body.append(f"{o[1]} ms")
            elif kind == "alloc" and len(held) < 16:
                stamp = ident
                get = ("block-alloc" if o[1] == 0 else
                       f"{o[1]} allocate if 11 {stamp} lg{i} then")
                body.append(f"{get} dup {stamp} swap ! held{i} nh{i} @ cells + ! 1 nh{i} +!")
                held.append((stamp, o[1]))
            elif kind == "free" and held:
                body.append(_free(i, *held.pop()))
            elif kind == "exit":
                break
            body.append(f"chk{i}")
        while held:                               # all the program's memory back
            body.append(_free(i, *held.pop()))
        body.append(f"1 done{i} !")
        # one step a line: a definition may span lines, a line is at most 1 KiB
        lines += [f": t{i} ( -- )"] + body + [";"]
    n = len(threads)
    all_done = " ".join(f"done{i} @" for i in range(n)) + " +" * (n - 1)
    lines.append(f": wait-all ( -- ) 2000 0 do {all_done} {n} = if unloop exit then 1 ms loop ;")
    return "\n".join(lines) + "\n", sent


def _free(i: int, stamp: int, size: int) -> str:
    give = "block-free" if size == 0 else f"free if 10 {stamp} lg{i} then"
    return (f"-1 nh{i} +! held{i} nh{i} @ cells + @ dup @ {stamp} <> "
            f"if 9 {stamp} lg{i} then {give}")


def say(m, line: str) -> str:
    before = len(m.output)
    r = m.run_script(line + "\n", limit=3_000_000_000)
    assert r.ok, f"{r.status}: {r.report}\n{m.output[-3000:]}"
    out = m.output[before:]
    assert "error" not in out, out
    return out[len(line) + 1:] if out.startswith(line) else out


def ints(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def _summed(machine, word: str, cores: int, n: int) -> list[int]:
    """word ( core -- x1 .. xn ) of every core, summed (printed xn first)."""
    total = [0] * n
    for c in range(cores):
        for k, v in enumerate(ints(say(machine, f"{c} {word}" + " ." * n))):
            total[k] += v
    return total


def run_program(machine, threads, cores: int = 1):
    """cores > 1: thread i starts on core i mod cores (odd ones may be
    moved by the balancer), and the free lists
    are summed over the cores (a slot or block goes back to the lists of
    the core its thread ended on)."""
    text, sent = forth_program(threads, cores)
    for line in text.splitlines():
        say(machine, line)
    slots0 = _summed(machine, "core-slots", cores, 2)          # made free
    stats0 = _summed(machine, "core-mem-stats", cores, 4)      # untouched split pages blocks
    spawn = " ".join(f"' t{i} {prio} {i % cores} spawn-on drop"
                     for i, (prio, _) in enumerate(threads))
    say(machine, spawn + " wait-all")
    n = len(threads)
    done = ints(say(machine, " ".join(f"done{i} @ ." for i in range(n))))
    assert done == [1] * n, f"threads did not finish: {done}"
    logs = []
    for i in range(n):
        cells = ints(say(machine, f": show{i} lp{i} @ 0 ?do log{i} i cells + @ . loop ; show{i}"))
        logs.append(list(zip(cells[0::2], cells[1::2])))
    say(machine, "2 ms")                               # let the last exits finish
    slots1 = _summed(machine, "core-slots", cores, 2)
    slots1 += ints(say(machine, "cores ."))            # each core's idle thread keeps its slot
    stats1 = _summed(machine, "core-mem-stats", cores, 4)
    listing = say(machine, "threads")
    return sent, logs, (slots0, slots1), (stats0, stats1), listing


def check(sent, logs, slots, stats, listing):
    events = [(code, value, t) for t, log in enumerate(logs) for code, value in log]
    assert not [e for e in events if e[0] == 8], "a thread ran while a higher-priority one was ready"
    assert not [e for e in events if e[0] == 9], "a block was overwritten: handed out twice?"
    assert not [e for e in events if e[0] == 10], "FREE refused a chunk ALLOCATE gave"
    assert not [e for e in events if e[0] == 11], "ALLOCATE failed"
    received = {}
    for code, value, _ in events:
        if code == 2:
            received[value] = received.get(value, 0) + 1
    assert all(v in sent for v in received), f"received what nobody sent: {received}"
    assert all(c == 1 for c in received.values()), f"a message received twice: {received}"
    refused = {value for code, value, _ in events if code == 7}
    for code, value, _ in events:
        if code == 1:                                  # send delivered
            assert received.get(value) == 1, f"delivered send {value} not received"
        elif code == 4:                                # send timed out
            assert value not in received, f"undelivered send {value} was received"
        elif code == 5:                                # call answered
            ident = value - 1_000_000
            assert ident in sent and received.get(ident) == 1, f"answer {value} to no call"
        elif code == 6:                                # call timed out
            assert value not in received or value in refused, \
                f"call {value} timed out, was received, yet its reply was not refused"
    # every call that got an answer got its own (by id)
    answered = {v - 1_000_000 for c, v, _ in events if c == 5}
    assert answered <= {i for i, (kind, _) in sent.items() if kind == "cx"}
    (free0, made0), (free1, made1) = slots[0][::-1], slots[1][:2][::-1]
    cores = slots[1][2]
    # in use: each core's idle thread (and a listed core that did not start
    # keeps the one made for it), nothing else
    assert made0 - free0 >= cores
    assert made1 - free1 == made0 - free0, \
        f"stack slots not all back: {free1} free of {made1}, {made0 - free0} in use before"
    (untouched0, split0, pages0, blocks0), (untouched1, split1, pages1, blocks1) = stats
    assert blocks1 - blocks0 == 4 * (split1 - split0), (stats, "blocks not all back")
    rows = [r for r in listing.splitlines() if re.match(r"\s+\d+ ", r)]
    assert len(rows) == 2, f"threads left over:\n{listing}"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_threads_ipc_and_memory_properties(kernel, threads):
    m = M3(kernel.elf)
    assert m.run(50_000_000).ok
    check(*run_program(m, threads))


@settings(max_examples=QEMU_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_threads_ipc_and_memory_properties_under_qemu(virt_kernel, threads):
    """The same programs on QEMU's virt machine: its own GIC, timer and
    exception delivery (a second opinion on the emulated M3's)."""
    q = QemuVirt(virt_kernel.elf)
    try:
        assert q.run(50_000_000).status == "idle"
        check(*run_program(q, threads))
    finally:
        q.close()


# Many cores: the same programs with thread i on core i mod N and the
# endpoints spread over the cores, so calls, sends and replies cross cores
# (the caller moves to the endpoint's core and back: kernel/ipc.S).  The
# invariants are the same; "the highest-priority ready thread runs" is per
# core.  Fewer examples per core count: each run starts N cores.
SMP_EXAMPLES = int(os.environ.get("SMP_THREAD_EXAMPLES", "8"))
QEMU_SMP_EXAMPLES = int(os.environ.get("QEMU_SMP_THREAD_EXAMPLES", "6"))


@pytest.mark.parametrize("cores", [1, 2, 4, 8])
@settings(max_examples=SMP_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(threads=program)
def test_threads_ipc_and_memory_properties_on_n_cores(kernel, cores, threads):
    m = M3(kernel.elf, M3Config(cores=cores))
    assert m.run(50_000_000).ok
    assert ints(say(m, "cores .")) == [cores]
    check(*run_program(m, threads, cores))


@pytest.mark.parametrize("accel", [None, "tcg,thread=multi"], ids=["icount", "mttcg"])
@settings(max_examples=QEMU_SMP_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(threads=program)
def test_threads_ipc_and_memory_properties_under_qemu_smp4(virt_kernel, accel, threads):
    """-smp 4 under QEMU: with -icount (one thread, deterministic round
    robin) and with MTTCG (the cores really in parallel, host timing)."""
    kw = {"cores": 4} if accel is None else {"cores": 4, "accel": accel}
    q = QemuVirt(virt_kernel.elf, **kw)
    try:
        assert q.run(50_000_000).status == "idle"
        check(*run_program(q, threads, 4))
    finally:
        q.close()
