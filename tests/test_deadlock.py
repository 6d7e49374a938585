"""A run where every thread waits for another and nothing can wake one
ends at once, as "deadlock", with who waits on what (harness/machine/m3.py
_deadlocked, harness/machine/kthreads.py); waiting for input, or for a
deadline, is not a deadlock."""

from __future__ import annotations

from harness import cli
from harness.machine.m3 import M3


def test_the_console_waiting_on_an_endpoint_nobody_sends_to_is_a_deadlock(kernel):
    m = M3(kernel.elf)
    r = m.run_script("endpoint e3  : srv ( -- ) e3 receive 2drop 2drop drop ;  ' srv 20 spawn drop\n"
                     "endpoint e4  e4 receive\n1 2 + .\n", 200_000_000)
    assert r.status == "deadlock" and not r.ok, (r.status, r.report)
    assert r.instructions < 20_000_000                     # at once, not at the limit
    assert "thread 1 (the console, priority 32) receiving on endpoint" in r.report
    assert "(srv+0x0, priority 20) receiving on endpoint" in r.report
    assert "3  ok" not in r.output                          # the line after it never ran


def test_a_sleeper_is_no_deadlock_until_its_deadline_has_passed(kernel):
    m = M3(kernel.elf)
    r = m.run_script("variable woke  : w ( -- ) 20 ms -1 woke ! ;  ' w 40 spawn drop  "
                     "endpoint e5  e5 receive\n", 200_000_000)
    assert r.status == "deadlock", r.status
    assert "(w" not in r.report                             # it ran to its end first


def test_threads_blocked_while_the_console_waits_for_input_are_idle(kernel):
    m = M3(kernel.elf)
    r = m.run_script("endpoint e6  : srv ( -- ) e6 receive 2drop 2drop drop ;  ' srv 20 spawn drop\n")
    assert r.status == "idle", (r.status, r.report)
    r = m.run_script("1 2 + .\n")                          # and the console still answers
    assert r.status == "idle" and "3  ok" in r.output


def test_the_cli_exits_5_with_the_report(kernel, tmp_path, capsys):
    script = tmp_path / "dl.fs"
    script.write_text("endpoint e7  e7 receive\n")
    assert cli.main(["run", "--elf", str(kernel.elf), "--script", str(script)]) == cli.EXIT_DEADLOCK
    err = capsys.readouterr().err
    assert "[deadlock:" in err and "the console, priority 32) receiving on endpoint" in err
