"""Threads, the scheduler, IPC and time, driven from the console.

Every test runs on the emulated M3 (the harness delivers the timer FIQ)
and on the virt board under QEMU (QEMU's own GIC, timer and exceptions)."""

import re

import pytest


@pytest.fixture
def console(any_console):
    return any_console


def numbers(text: str) -> list[int]:
    """The numbers a line printed, after its echo."""
    return [int(x) for x in re.findall(r"-?\d+", text.split("\n")[-2] if "\n" in text else text)]


def said(console, line: str) -> list[int]:
    out = console.send(line)
    assert "error" not in out, out
    body = out[out.index(line) + len(line):] if line in out else out
    return [int(x) for x in re.findall(r"-?\d+", body)]


def test_a_higher_priority_thread_runs_at_once(console):
    # it prints before SPAWN returns its id
    assert said(console, ": hi ( -- ) 3 0 do 7 . loop ; ' hi 40 spawn .") == [7, 7, 7, 3]


def test_a_lower_priority_thread_waits_until_the_console_sleeps(console):
    assert said(console, "variable ran : lo ( -- ) 1 ran ! ; ' lo 10 spawn drop ran @ .") == [0]
    assert said(console, "1 ms ran @ .") == [1]


def test_yield_is_round_robin_within_a_priority(console):
    got = said(console, ": lo ( -- ) 3 0 do me . yield loop ; ' lo 32 spawn drop ' lo 32 spawn drop "
                        "yield yield yield yield")
    assert got == [3, 4, 3, 4, 3, 4]


def test_ms_sleeps_and_others_run_meanwhile(console):
    got = said(console, "variable n : count ( -- ) begin 1 n +! yield again ; ' count 20 spawn drop "
                        "ticks 2 ms ticks swap - ticks/s 1000 / / . n @ 0> .")
    assert got[0] >= 2 and got[1] == -1


def test_the_timer_preempts_a_busy_thread_of_the_same_priority(console):
    got = said(console, ": busy ( -- ) begin again ; ' busy 32 spawn drop 3 ms 5 . timer-interrupts 0> .")
    assert got == [5, -1]


def test_call_and_reply(console):
    got = said(console, "endpoint ep : server ( -- ) begin ep receive >r + + + 0 0 0 r> reply again ; "
                        "' server 40 spawn drop 1 2 3 4 ep call . . . .")
    assert got == [0, 0, 0, 10]


def test_reply_receive_server_and_many_calls(console):
    got = said(console, "endpoint ep : echo ( -- ) ep receive begin >r 1+ r> ep reply-receive again ; "
                        "' echo 32 spawn drop : many ( -- n ) 0 100 0 do i 0 0 0 ep call drop drop drop + loop ; "
                        "many .")
    assert got == [sum(range(100))]          # r0 comes back as sent


def test_send_and_receive_are_fifo_per_endpoint(console):
    # three senders below the console queue on the endpoint in order
    out = said(console, "endpoint q : s ( n -- ) 0 0 me q send ; "
                        ": s1 1 s ; : s2 2 s ; : s3 3 s ; "
                        "' s1 10 spawn drop ' s2 10 spawn drop ' s3 10 spawn drop 1 ms "
                        "q receive drop drop drop drop . q receive drop drop drop drop . "
                        "q receive drop drop drop drop .")
    assert out == [1, 2, 3]


def test_timeouts(console):
    assert said(console, "endpoint nobody nobody 100 receive-timeout .") == [0]
    assert said(console, "1 2 3 4 nobody 100 send-timeout .") == [0]
    assert said(console, "1 2 3 4 nobody 100 call-timeout .") == [0]


def test_a_reply_reaches_only_the_call_it_answers(console):
    # the server takes a call, holds it past the caller's timeout, and then
    # its reply (with the old token) must not reach the caller's next call
    console.send("endpoint ep variable held variable outcome "
                 ": slow ( -- ) ep receive held ! 2drop 2drop 2 ms "
                 "  9 9 9 9 held @ ['] reply catch outcome ! "
                 "  ep receive >r 2drop 2drop 5 5 5 5 r> reply ; "
                 "' slow 40 spawn drop")
    got = said(console, "1 1 1 1 ep 24 call-timeout .")
    assert got[-1] == 0                      # the first call timed out
    got = said(console, "3 ms outcome @ . 2 2 2 2 ep call . . . .")
    assert got == [-259, 5, 5, 5, 5]         # stale reply refused; the new call gets its own


def test_a_faulting_thread_ends_with_a_report_and_the_rest_runs_on(console):
    out = console.send(": bad ( -- ) 0 @ ; ' bad 40 spawn .")
    assert re.search(r"thread \d+ terminated:\s*error -9: invalid memory address", out), out
    out = console.send(": deep ( -- ) recurse ; ' deep 40 spawn .")
    assert re.search(r"thread \d+ terminated:\s*error -5: return stack overflow", out), out
    assert "4  ok" in console.send("2 2 + .")
    free, made = said(console, "slots . .")[::-1]
    cores = said(console, "cores .")[0]
    assert free == made - cores              # every slot but the idle threads' (one a core) is free again


def test_threads_lists_state_priority_and_time(console):
    out = console.send("endpoint e : w ( -- ) e receive ; ' w 12 spawn drop 1 ms threads")
    assert "id state    prio" in out
    assert re.search(r"\n\s+1 running\s+32\s+\d+\s+\d+", out), out
    assert re.search(r"\n\s+\d+ receive\s+12\s+\d+\s+\d+", out), out
    assert re.search(r"\n\s+2 ready\s+0\s+\d+\s+\d+", out), out


def test_bad_arguments_are_refused(console):
    assert "error -24" in console.send("' dup 0 spawn")
    assert "error -24" in console.send("' dup 64 spawn")
    assert "error -259" in console.send("0 0 0 0 12345 reply")
    assert "4  ok" in console.send("2 2 + .")


def test_fp_simd_state_is_switched_lazily(qemu_console):
    """Each thread keeps its own FP/SIMD registers: d0 carries a value across
    a YIELD (other threads use d0 meanwhile) and across preemption.  The
    first FP instruction of a thread that does not own the registers traps
    (CPTR_EL2.FPEN = 0) and the state changes hands (kernel/thread.S
    fp_trap).  unicorn 2.1.4 never traps FP at EL2
    (test_unicorn_does_not_trap_fp_at_el2), so this runs under QEMU only."""
    console = qemu_console
    got = said(console, ": t ( -- ) 3 0 do 1000 i + me 100 * + fp-hold . loop ; "
                        "' t 32 spawn drop ' t 32 spawn drop 177 fp-hold . 188 fp-hold . 199 fp-hold . 5 ms")
    assert got == [177, 1300, 1400, 188, 1301, 1401, 199, 1302, 1402]
    got = said(console, ": s1 ( -- ) 11 3000000 fp-spin . ; : s2 ( -- ) 22 3000000 fp-spin . ; "
                        "' s1 32 spawn drop ' s2 32 spawn drop 33 3000000 fp-spin . 20 ms")
    assert sorted(got) == [11, 22, 33]               # preempted mid-spin, each kept its d0
