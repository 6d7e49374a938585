"""The boot command line from Forth (CMDLINE) and `run=` (forth/96-cmdline.fth):
on the emulated M3 through boot_args, under QEMU through /chosen/bootargs."""
import pytest

from qemu_support import need_qemu, virt_kernel  # noqa: F401  (fixture)


def test_cmdline_reads_the_boot_args_command_line(boot):
    c = boot(cmdline="quiet debug=1")
    out = c.send("cmdline type")
    assert "quiet debug=1 ok" in out
    assert "13  ok" in c.send("cmdline nip .")


def test_no_command_line_is_empty(boot):
    assert "0  ok" in boot().send("cmdline nip .")


def test_run_runs_the_rest_of_the_line_at_boot_as_a_typed_line(kernel):
    from harness.machine.m3 import M3, M3Config
    m = M3(kernel.elf, M3Config(cmdline='quiet run=: hi ." hello" ; hi 6 7 * .'))
    r = m.run(80_000_000)
    assert r.status == "idle", r.report
    tail = r.output[r.output.index("ready"):]
    assert ': hi ." hello" ; hi 6 7 * . hello42  ok' in tail
    assert r.errors == 0


def test_an_error_in_run_is_reported_and_counted(kernel):
    from harness.machine.m3 import M3, M3Config
    m = M3(kernel.elf, M3Config(cmdline="run=1 frob"))
    r = m.run(80_000_000)
    assert r.status == "idle"
    assert "error -13: undefined word: frob" in r.output
    assert r.errors == 1                       # a script run with it exits non-zero
    r = m.run_script(b"2 3 + .\n")
    assert "5  ok" in r.output


def test_run_must_be_its_own_word(boot):
    c = boot(cmdline="xrun=1 2 3")
    assert "<0>" in c.send(".s")               # nothing ran


def test_cmdline_and_run_under_qemu(virt_kernel):  # noqa: F811
    need_qemu()
    from harness.qemu import QemuVirt
    with QemuVirt(virt_kernel.elf, cmdline="run=6 7 * .") as q:
        r = q.run(80_000_000)
        assert r.status == "idle", r.report
        assert "6 7 * . 42  ok" in r.output
        r = q.run_script(b"cmdline type\n")
        assert "run=6 7 * . ok" in r.output
