"""How a script's run ends on the virt board under QEMU, and the exit
status the command line gives it: the same as on the emulated M3
(tests/test_deadlock.py, tests/test_cli.py).  A deadlock ends at once with
who waits on what (harness/qemu.py at the idle thread's WFI), a Forth error
exits 6 unless --keep-going (console_errors read through the gdb stub,
before BYE's SYSTEM_OFF too), BYE ends the run as `off`, a stop at boot is
a crash with the kernel's own message."""

from __future__ import annotations

import struct
import time

import pytest

import harness.qemu as hq
from harness import cli
from harness.qemu import QemuVirt


@pytest.fixture
def no_long_hang(monkeypatch):
    """A hang would end as `limit` within 20 s: a deadlock must end first,
    and as `deadlock`."""
    monkeypatch.setattr(hq, "BASE_SECONDS", 20.0)


def _virt(virt_kernel, *args):
    return cli.main(["run", "--board", "virt", "--elf", str(virt_kernel.elf), *args])


def test_the_console_waiting_on_an_endpoint_nobody_sends_to_is_a_deadlock(virt_kernel, no_long_hang):
    with QemuVirt(virt_kernel.elf) as q:
        start = time.monotonic()
        r = q.run_script("endpoint e3  : srv ( -- ) e3 receive 2drop 2drop drop ;  ' srv 20 spawn drop\n"
                         "endpoint e4  e4 receive\n1 2 + .\n", limit=0)
        assert r.status == "deadlock" and not r.ok, (r.status, r.report)
        assert time.monotonic() - start < 15
        assert "thread 1 (the console, priority 32) receiving on endpoint" in r.report
        assert "(srv+0x0, priority 20) receiving on endpoint" in r.report
        assert "3  ok" not in r.output                      # the line after it never ran


def test_a_sleeper_is_no_deadlock_until_its_deadline_has_passed(virt_kernel, no_long_hang):
    with QemuVirt(virt_kernel.elf) as q:
        r = q.run_script("variable woke  : w ( -- ) 20 ms -1 woke ! ;  ' w 40 spawn drop  "
                         "endpoint e5  e5 receive\n", limit=0)
        assert r.status == "deadlock", (r.status, r.report)
        assert "(w" not in r.report                         # it ran to its end first
        assert struct.unpack("<q", q.read_symbol("console_errors"))[0] == 0


def test_the_console_sleeping_is_no_deadlock(virt_kernel):
    with QemuVirt(virt_kernel.elf) as q:
        r = q.run_script("30 ms 1 2 + .\n")
        assert r.status == "idle" and "3  ok" in r.output, (r.status, r.report)


def test_threads_blocked_while_the_console_waits_for_input_are_idle(virt_kernel):
    with QemuVirt(virt_kernel.elf) as q:
        r = q.run_script("endpoint e6  : srv ( -- ) e6 receive 2drop 2drop drop ;  ' srv 20 spawn drop\n")
        assert r.status == "idle", (r.status, r.report)
        r = q.run_script("1 2 + .\n")                       # and the console still answers
        assert r.status == "idle" and "3  ok" in r.output


def test_the_cli_exits_5_with_the_report(virt_kernel, tmp_path, capsys):
    script = tmp_path / "dl.fs"
    script.write_text("endpoint e7  e7 receive\n")
    assert _virt(virt_kernel, "--script", str(script)) == cli.EXIT_DEADLOCK
    err = capsys.readouterr().err
    assert "[deadlock:" in err and "the console, priority 32) receiving on endpoint" in err


def test_a_script_with_a_forth_error_exits_6_unless_keep_going(virt_kernel, tmp_path, capsys):
    script = tmp_path / "err.fs"
    script.write_text("1 2 + .\nnosuchword\n3 4 + .\n")
    assert _virt(virt_kernel, "--script", str(script)) == cli.EXIT_FORTH_ERROR
    captured = capsys.readouterr()
    assert "1 Forth error(s) in the script" in captured.err
    assert "7  ok" in captured.out                          # the lines after it still ran
    assert _virt(virt_kernel, "--script", str(script), "--keep-going") == 0
    assert _virt(virt_kernel, "--input", "1 2 + .") == 0


def test_a_thread_ending_in_an_error_counts_too(virt_kernel, capsys):
    assert _virt(virt_kernel, "--input", ": bad ( -- ) 0 @ ;  ' bad 40 spawn drop  1 2 + .") \
        == cli.EXIT_FORTH_ERROR


def test_errors_are_counted_per_run(virt_kernel):
    with QemuVirt(virt_kernel.elf) as q:
        assert q.run_script("nosuchword\n1 @ drop\n").errors == 2
        assert q.run_script("1 2 + .\n").errors == 0


def test_bye_powers_off_and_an_error_before_it_still_counts(virt_kernel, tmp_path, capsys):
    with QemuVirt(virt_kernel.elf) as q:
        r = q.run_script("nosuchword\nbye\n")
        assert r.status == "off" and r.errors == 1, (r.status, r.report)
        assert q.proc.returncode == 0                       # QEMU itself left: PSCI SYSTEM_OFF
    assert _virt(virt_kernel, "--input", "1 2 + . bye") == cli.EXIT_OFF
    assert "[off:" in capsys.readouterr().err
    script = tmp_path / "bye.fs"
    script.write_text("nosuchword\nbye\n")
    assert _virt(virt_kernel, "--script", str(script)) == cli.EXIT_FORTH_ERROR
    assert _virt(virt_kernel, "--script", str(script), "--keep-going") == cli.EXIT_OFF


def test_a_stop_at_boot_is_a_crash_with_the_kernels_message(virt_kernel, capsys):
    assert _virt(virt_kernel, "--mem-size", "16M", "--input", "1 2 + .") == cli.EXIT_CRASH
    err = capsys.readouterr().err
    assert "[crash:" in err
    assert "CRASH: the kernel stopped at boot: out of memory while building the kernel's tables" in err
    assert "x30" not in err and "Traceback" not in err     # no register dump of an empty frame


def test_a_kernel_panic_is_reported_from_its_frame(virt_kernel):
    with QemuVirt(virt_kernel.elf) as q:
        addr = q.symbols.address("map_range", q.load_base)
        q.write_memory(addr, bytes(4))                      # UDF where mmu_init calls
        r = q.run()
        assert r.status == "crash"
        assert "KERNEL PANIC: synchronous exception in the kernel" in r.output
        assert "CRASH: kernel panic" in r.report
        assert f"ELR {addr:#x} map_range" in r.report
        assert "x30" in r.report and "sp_el0" in r.report


def test_a_hang_is_reported_never_a_silent_timeout(virt_kernel, monkeypatch, capsys):
    monkeypatch.setattr(hq, "BASE_SECONDS", 1.0)
    assert _virt(virt_kernel, "--limit", "1", "--input", ": spin begin again ; spin") == cli.EXIT_HANG
    err = capsys.readouterr().err
    assert "hang: no prompt within 1 s" in err and "in Forth word spin" in err
