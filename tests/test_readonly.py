"""The kernel's code and constants are read-only at EL2, on both boards.

kernel/mmu.S maps [__image_start, __ro_end) (the header, .text, .rodata)
in 16 KiB pages and, once dict_init has filled the assembly words' hash
links, mmu_seal_image sets AP[2] there: a store into kernel code or
constants is a permission fault, which a Forth thread gets as THROW -9
with the fault's report, instead of a silent corruption that broke `dup`
until the next boot.  The dictionary, where Forth compiles code, stays
writable and executable; so do the image's .data and .bss and the stacks.
The emulated M3 relies on unicorn honouring AP at EL2 with E2H = 1
(tests/test_emulator_workarounds.py pins it); QEMU enforces it natively.
"""

from __future__ import annotations

import re

import pytest
from elftools.elf.elffile import ELFFile

from harness.machine.m3 import M3
from harness.pagetable import walk

PAGE = 16384


@pytest.fixture
def console(any_console):
    return any_console


def elf_symbol(machine, name: str) -> int:
    """A symbol's runtime address, read from the ELF itself (harness Symbols
    keeps one name per address, and __ro_end shares its with __data_start)."""
    with open(machine.elf, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
    return sym["st_value"] - machine.symbols.link_base + machine.load_base


def fault_line(out: str) -> str:
    return next(x for x in out.splitlines() if "data abort" in x)


def hexnum(console, expr: str) -> int:
    out = console.send(f"hex {expr} . decimal")
    return int(re.findall(r"\b[0-9A-F]+\b", out.split(" . decimal", 1)[1])[0], 16)


def test_a_store_into_kernel_code_is_throw_9_and_dup_still_works(console):
    m = console.machine
    dup = m.symbols.address("w_dup", m.load_base)
    store = m.symbols.address("w_store", m.load_base)
    code = hexnum(console, "' dup @")
    out = console.send("' dup 0 swap !")
    assert "error -9: invalid memory address" in out, out
    line = fault_line(out)
    assert "data abort, write to read-only memory (ESR 0x" in line, line
    assert f"address {dup:#x}" in line, line          # the address stored to ...
    pc = int(re.search(r"at pc (0x[0-9a-f]+)", line).group(1), 16)
    assert f"in !+{pc - store:#x}," in line, line       # ... and the word that stored
    esr = int(re.search(r"ESR (0x[0-9a-f]+)", line).group(1), 16)
    assert esr >> 26 == 0x25 and esr & 0x3C == 0x0C and esr & (1 << 6), hex(esr)
    assert "2  ok" in console.send("1 dup + .")      # dup untouched, the console answers
    assert hexnum(console, "' dup @") == code
    assert "error" not in console.send(": twice ( n -- 2n ) dup + ;  21 twice .")


def test_bulk_and_byte_stores_into_code_fault_the_same_way(console):
    for line, word in (("' dup 16 0 fill", "fill"), ("255 ' dup c!", "c!")):
        out = console.send(line)
        assert "error -9: invalid memory address" in out, out
        assert "write to read-only memory" in fault_line(out) and f" in {word}+0x" in fault_line(out), out
    assert "2  ok" in console.send("1 dup + .")


def test_a_store_into_rodata_faults_and_the_error_table_survives(console):
    m = console.machine
    table = m.symbols.address("error_table", m.load_base)      # kernel/forth/except.S, .rodata
    assert table < elf_symbol(m, "__ro_end")
    out = console.send(f"0 {table} !")
    assert "error -9: invalid memory address" in out, out
    assert f"address {table:#x}" in fault_line(out) and "write to read-only memory" in fault_line(out)
    out = console.send("frobnicate")                             # the table still reads right
    assert "error -13: undefined word: frobnicate" in out, out
    assert "3  ok" in console.send("1 2 + .")


def test_the_dictionary_stays_writable_and_executable(console):
    assert "1  ok" in console.send(": t 1 ; t .")
    assert "0  ok" in console.send("here 0 , @ .")
    assert "7  ok" in console.send("create buf 2 cells allot  7 buf !  buf @ .")
    assert "42  ok" in console.send("variable v  42 v !  v @ .")
    out = console.send("' dup c@ .")                            # code is still readable
    assert "error" not in out, out


def test_the_tables_map_the_image_read_only_and_the_rest_writable(kernel):
    """Walked from TTBR0_EL2 (harness/pagetable.py, the Arm ARM formats),
    not read from the kernel: every page of the header, .text and .rodata
    is a level-3 page, read-only and executable at EL2, Normal write-back;
    the first page of .data and everything the kernel hands out (the
    dictionary, the stacks) is writable, and the dictionary executable."""
    m = M3(kernel.elf)
    r = m.run(50_000_000)
    assert r.status == "idle", r.report
    ttbr = m.cpu.sysreg_read(3, 4, 2, 0, 0)
    mair = m.cpu.sysreg_read(3, 4, 10, 2, 0)

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))

    start, ro_end = m.load_base, elf_symbol(m, "__ro_end")
    assert elf_symbol(m, "__image_start") == start and ro_end % PAGE == 0
    assert elf_symbol(m, "__data_start") == ro_end
    for va in range(start, ro_end, PAGE):
        t = walk(read, ttbr, va)
        assert t.level == 3 and not t.writable_at_el2 and t.executable_at_el2, hex(va)
        assert (mair >> (8 * t.attr_index)) & 0xFF == 0xFF and t.pa == va
    for va in (ro_end, elf_symbol(m, "__image_end") - PAGE):
        assert walk(read, ttbr, va).writable_at_el2, hex(va)
    here = elf_symbol(m, "dp")
    dictionary = int.from_bytes(read(here, 8), "little")
    t = walk(read, ttbr, dictionary)
    assert t.writable_at_el2 and t.executable_at_el2
    sp0 = m.cpu.reg_read("sp_el0")                               # the console's return stack
    assert walk(read, ttbr, sp0 - 8).writable_at_el2
    # the harness's own audit of the live map agrees: one read-only range, exactly the image's
    ro = [x for x in m.mmu.audit() if x.regime.startswith("EL2") and x.perms.startswith("r-")]
    assert [(x.va, x.va + x.size, x.perms) for x in ro] == [(start, ro_end, "r-x")], ro
    assert m.mmu.violation is None
