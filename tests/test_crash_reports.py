"""A crash is reported readably; a hang ends at the instruction limit."""

import struct
import subprocess
import sys

from harness import ROOT
from harness.machine.m3 import M3

UDF = struct.pack("<I", 0x00000000)   # permanently undefined


def _inject(m: M3, symbol: str, code: bytes = UDF) -> int:
    addr = m.symbols.address(symbol, m.load_base)
    m.cpu.uc.mem_write(addr, code)
    return addr


def test_kernel_fault_is_a_panic_with_a_decoded_report(kernel):
    m = M3(kernel.elf)
    addr = _inject(m, "map_range")           # runs at EL2h during mmu_init
    r = m.run(10_000_000)
    assert r.status == "crash"
    # the kernel's own report on the console (what a real M3 shows) ...
    assert "KERNEL PANIC: synchronous exception in the kernel" in r.output
    assert "class: undefined instruction" in r.output
    assert f"ELR {addr:#x}" in r.output
    # ... and the harness's, with symbols and registers
    assert "CRASH: kernel panic" in r.report
    assert "EC 0x00 unknown" in r.report or "undefined" in r.report.lower()
    assert f"ELR {addr:#x} map_range" in r.report
    assert "x30" in r.report and "sp_el0" in r.report


def test_fault_before_the_kernel_has_vectors_is_reported(kernel):
    m = M3(kernel.elf)
    _inject(m, "_start")
    r = m.run(1_000_000)
    assert r.status == "crash"
    assert "exception taken into m1n1's vectors" in r.report
    assert "_start" in r.report and "ESR 0x02000000" in r.report


def test_unmapped_physical_access_is_reported_not_fatal_to_python(kernel):
    m = M3(kernel.elf)
    m.cpu.reg_write("x0", 0x7_0000_0000)     # boot_args pointer into nothing
    r = m.run(1_000_000)
    assert r.status == "crash"
    assert "emulation stopped" in r.report and "UNMAPPED" in r.report.upper()


def test_endless_loop_stops_at_the_instruction_limit(console):
    m = console.machine
    r = m.run_script(": spin begin again ; spin\n", limit=3_000_000)
    assert r.status == "limit"
    assert "instruction limit reached: 3,000,000 instructions" in r.report
    assert "in Forth word spin" in r.report


def _cli(*args, input=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, input=input,
                          capture_output=True, text=True, timeout=120)


def test_cli_runs_a_script_file(kernel, tmp_path):
    script = tmp_path / "s.fth"
    script.write_text(": sq dup * ;\n9 sq .\n")
    p = _cli("run", "--script", str(script))
    assert p.returncode == 0, p.stderr
    assert "9 sq . 81  ok" in p.stdout
    assert "[idle:" in p.stderr


def test_cli_exits_nonzero_on_a_hang(kernel):
    p = _cli("run", "--limit", "2_000_000", input=": spin begin again ; spin\n")
    assert p.returncode == 4
    assert "hang: instruction limit reached" in p.stderr


def test_cli_refuses_bad_input_clearly(kernel, tmp_path):
    p = _cli("run", "--script", str(tmp_path / "missing.fth"))
    assert p.returncode != 0 and "cannot read script" in p.stderr
    p = _cli("run", "--load-base", "0x802001000", "--input", "1")
    assert p.returncode != 0 and "16 KiB aligned" in p.stderr
    p = _cli("run", "--limit", "lots", "--input", "1")
    assert p.returncode == 2 and "not a number" in p.stderr


def test_a_wild_address_names_no_word_and_a_real_one_does(console):
    """kernel/forth/dict.S word_containing: -1 EXECUTE faults at pc
    0xffffffffffffffff, which is nobody's code (it used to be named as the
    newest word plus a huge offset); a fault inside a word still names it."""
    out = console.send("-1 execute")
    line = next(x for x in out.splitlines() if "instruction abort" in x)
    assert "pc 0xffffffffffffffff," in line and " in " not in line.split("pc")[1], line
    out = console.send(": peek ( -- x ) 0 @ ;  peek")
    assert "in peek+0x" in out, out
    assert "3  ok" in console.send("1 2 + .")


def test_a_fault_report_over_a_broken_dictionary_ends(console):
    """A wild store may break the dictionary's links (a buffer overrun into
    the headers after it): the fault report's walk for the word's name
    (word_containing) trusts no link, so the report is printed once and the
    console answers, where it used to fault inside its own report and
    report that again without end."""
    out = console.send(": peek ( -- x ) 0 @ ;  : tail ( -- ) ;  $7ff0000000 latest !  peek")
    assert out.count("data abort") == 1, out
    assert "3  ok" in console.send("1 2 + .")
