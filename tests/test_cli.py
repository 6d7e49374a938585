"""The harness CLI on ordinary bad input: a one-line message and an exit
code, never a traceback (argparse's usage errors exit 2, the harness's own
refusals 1)."""

from __future__ import annotations

import argparse

import pytest

from harness import cli


@pytest.mark.parametrize("text, value", [
    ("0x20000000", 0x2000_0000), ("512M", 512 << 20), ("16G", 16 << 30), ("16GiB", 16 << 30),
    ("24k", 24 << 10), ("1_000", 1000), ("0x8_0000_0000", 0x8_0000_0000)])
def test_sizes_take_units(text, value):
    assert cli._size(text) == value


@pytest.mark.parametrize("text", ["16X", "G", "-1", "0", "1.5G", "", "0x"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli._size(text)


@pytest.mark.parametrize("text, value", [("2e9", 2_000_000_000), ("1.5e9", 1_500_000_000),
                                         ("2_000_000_000", 2_000_000_000), ("100", 100), ("0x10", 16)])
def test_counts_take_exponents(text, value):
    assert cli._count(text) == value


@pytest.mark.parametrize("text", ["-1", "0", "1e-3", "2.5", "lots", "inf", "nan"])
def test_bad_counts_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli._count(text)


def _fails(capsys, argv: list[str], code: int) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err
    message = e.value.code if isinstance(e.value.code, str) else err
    assert (e.value.code if isinstance(e.value.code, int) else 1) == code, (argv, e.value.code)
    assert "Traceback" not in err
    return message


def test_the_default_limit_as_the_help_writes_it_is_accepted(kernel, capsys):
    assert cli.main(["run", "--elf", str(kernel.elf), "--input", "1 2 + .", "--limit", "2e9"]) == 0


def test_usage_errors_exit_2_with_a_message(capsys):
    assert "must be at least 1" in _fails(capsys, ["run", "--input", "1", "--limit", "-1"], 2)
    assert "not a size" in _fails(capsys, ["run", "--input", "1", "--mem-size", "lots"], 2)


def test_a_screenshot_into_a_missing_directory_is_refused_before_the_run(tmp_path, capsys):
    msg = _fails(capsys, ["run", "--input", "1", "--screenshot", str(tmp_path / "no" / "such" / "x.png")], 1)
    assert msg.startswith("error: --screenshot") and "no directory" in msg


def test_bench_emulator_refuses_the_virt_board(capsys):
    msg = _fails(capsys, ["bench-emulator", "--board", "virt"], 1)
    assert msg.startswith("error: bench-emulator measures the emulated M3")


def test_m3_only_options_are_refused_on_virt(capsys):
    msg = _fails(capsys, ["run", "--board", "virt", "--input", "1", "--load-base", "0x81c000000"], 1)
    assert "--load-base" in msg and "virt board takes --mem-size and --cmdline" in msg
    assert "--chip" in _fails(capsys, ["run", "--board", "virt", "--input", "1", "--chip", "t6030"], 1)


def test_chainload_refuses_the_virt_board(capsys):
    assert "board virt runs under QEMU" in _fails(capsys, ["chainload", "--board", "virt"], 1)


def test_a_missing_virt_build_names_the_virt_build(tmp_path, capsys):
    msg = _fails(capsys, ["run", "--board", "virt", "--input", "1", "--elf", str(tmp_path / "none.elf")], 1)
    assert "make kernel BOARD=virt" in msg


def test_chainload_expands_a_tilde_in_m1n1dir(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("M1N1DIR", "~/m1n1")
    msg = _fails(capsys, ["chainload"], 1)
    assert str(tmp_path / "m1n1" / "proxyclient" / "tools" / "chainload.py") in msg


def test_a_script_with_a_forth_error_exits_6_unless_keep_going(kernel, tmp_path, capsys):
    script = tmp_path / "err.fs"
    script.write_text("1 2 + .\nnosuchword\n3 4 + .\n")
    assert cli.main(["run", "--elf", str(kernel.elf), "--script", str(script)]) == cli.EXIT_FORTH_ERROR
    captured = capsys.readouterr()
    assert "1 Forth error(s) in the script" in captured.err
    assert "7  ok" in captured.out                        # the lines after it still ran
    assert cli.main(["run", "--elf", str(kernel.elf), "--script", str(script), "--keep-going"]) == 0


def test_a_thread_ending_in_an_error_counts_too(kernel, capsys):
    assert cli.main(["run", "--elf", str(kernel.elf), "--input",
                     ": bad ( -- ) 0 @ ;  ' bad 40 spawn drop  1 2 + ."]) == cli.EXIT_FORTH_ERROR


def test_the_last_line_runs_without_its_newline(kernel, tmp_path, capsys):
    script = tmp_path / "nonl.fs"
    script.write_bytes(b"1 2 + .\n20 22 + .")
    assert cli.main(["run", "--elf", str(kernel.elf), "--script", str(script)]) == 0
    assert "42  ok" in capsys.readouterr().out


@pytest.mark.parametrize("status, errors, keep_going, code", [
    ("idle", 0, False, 0), ("off", 0, False, cli.EXIT_OFF), ("reboot", 0, False, cli.EXIT_OFF),
    ("idle", 2, False, cli.EXIT_FORTH_ERROR), ("off", 1, False, cli.EXIT_FORTH_ERROR),
    ("reboot", 1, True, cli.EXIT_OFF), ("idle", 1, True, 0),
    ("crash", 1, True, cli.EXIT_CRASH), ("limit", 0, False, cli.EXIT_HANG),
    ("deadlock", 0, True, cli.EXIT_DEADLOCK), ("stopped", 3, False, cli.EXIT_STOPPED)])
def test_one_exit_status_mapping_for_both_boards(status, errors, keep_going, code):
    from harness.run import RunResult, exit_status
    assert exit_status(RunResult(status, "", 0, "why", errors), keep_going)[0] == code
    codes = {cli.EXIT_OK, cli.EXIT_CRASH, cli.EXIT_HANG, cli.EXIT_DEADLOCK, cli.EXIT_FORTH_ERROR,
             cli.EXIT_OFF, cli.EXIT_STOPPED}
    assert len(codes) == 7                          # each ending its own code


def test_bye_at_an_interactive_console_is_a_plain_exit():
    from harness.run import RunResult, exit_status
    assert exit_status(RunResult("reboot", "", 0, "", 0), script=False)[0] == 0
    assert exit_status(RunResult("off", "", 0, "", 0), script=False)[0] == 0
    assert exit_status(RunResult("idle", "", 0, "", 3), script=False)[0] == 0


def test_an_empty_halt_frame_is_a_stop_at_boot_not_a_register_dump():
    import struct
    from harness.run import FRAME_BYTES, FRAME_WORDS, halt_report
    text = halt_report(bytes(FRAME_BYTES), "\nBOOT STOPPED: out of memory\n", hex)
    assert text == "CRASH: the kernel stopped at boot: out of memory"
    words = [0] * FRAME_WORDS
    words[32], words[34], words[35] = 0x1000, 0x96000045, 0x20       # ELR, ESR (data abort), FAR
    text = halt_report(struct.pack(f"<{FRAME_WORDS}Q", *words), "", lambda a: f"<{a:#x}>")
    assert text.startswith("CRASH: kernel panic\n  class: ") and "ELR 0x1000 <0x1000>" in text
    assert "FAR 0x20 <0x20>" in text and "sp_el0" in text
