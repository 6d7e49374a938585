"""`python -m harness run` at a terminal (a pty here): the terminal is put
back however the run ends, SIGTERM leaves at once, and a second SIGINT
leaves even while a word runs (the first reaches the kernel as Ctrl-C)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import termios
import time

import pytest

from harness import ROOT


def _start(kernel):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([sys.executable, "-m", "harness", "run", "--elf", str(kernel.elf)],
                         cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    return p, master, slave, before


def _read_until(master, text: bytes, timeout: float = 60) -> bytes:
    out, end = b"", time.monotonic() + timeout
    while text not in out:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {text!r} in {out[-500:]!r}")
        if select.select([master], [], [], left)[0]:
            out += os.read(master, 4096)
    return out


def _finish(p, master, slave, before):
    try:
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    assert after[3] == before[3], "the terminal was left raw"     # lflag: ICANON, ECHO, ISIG
    return rc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
def test_sigterm_leaves_and_puts_the_terminal_back(kernel):
    p, master, slave, before = _start(kernel)
    _read_until(master, b"ready")
    os.write(master, b"1 2 + .\r")
    _read_until(master, b"3  ok")
    p.send_signal(signal.SIGTERM)
    assert _finish(p, master, slave, before) == 130


def _guarded(kernel, steps) -> None:
    """Run steps(p, master, slave, before) on a fresh session; a failed
    step must not leave the harness spinning behind the test."""
    p, master, slave, before = _start(kernel)
    try:
        steps(p, master, slave, before)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
def test_a_second_sigint_leaves_a_running_word(kernel):
    def steps(p, master, slave, before):
        _read_until(master, b"ready")
        os.write(master, b": spin begin again ; spin\r")
        _read_until(master, b"spin")
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        time.sleep(0.2)
        assert p.poll() is None                                   # the first one is the kernel's
        p.send_signal(signal.SIGINT)
        assert _finish(p, master, slave, before) == 130
    _guarded(kernel, steps)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
def test_a_person_at_the_terminal_ctrl_c_arrows_history_tab_and_bye(kernel):
    """What the issue's "in tmux" asks, on a pty: a looping word stops on
    Ctrl-C (typed: the raw terminal passes 0x03 to the kernel) and the
    prompt answers; Left, Up and Tab edit in the kernel; BYE ends the run."""
    def steps(p, master, slave, before):
        _read_until(master, b"ready")
        os.write(master, b": spin begin again ; spin\r")
        _read_until(master, b"spin begin again ; spin")
        os.write(master, b"\x03")
        _read_until(master, b"error -28: user interrupt")
        os.write(master, b"+ .9\x08\x1b[D\x1b[C\x1b[H4 3 \x1b[F\r")   # Backspace, Left, Right, Home, End
        _read_until(master, b"7  ok")
        os.write(master, b"\x1b[A\r")                                  # Up: the same line again
        _read_until(master, b"7  ok")
        os.write(master, b"varia\tzz 5 zz ! zz @ .\r")                 # Tab completes VARIABLE
        _read_until(master, b"variable zz 5 zz ! zz @ . 5  ok")
        os.write(master, b"bye\r")
        assert _finish(p, master, slave, before) == 0                  # interactive BYE: a plain exit
    _guarded(kernel, steps)
