"""The real payload boots in the emulated M3 as m1n1 hands it over."""

import struct

import pytest

from harness.machine.layout import DEFAULT_PHYS_OFFSET
from harness.machine.m3 import M3, M3Config
from harness.pagetable import TranslationFault, walk

PHYS_BASE = 0x8_0000_0000 + DEFAULT_PHYS_OFFSET      # t8122's DRAM base + an M1's phys_base offset
BASES = [PHYS_BASE + 0x20_4000, PHYS_BASE + 0x1357_C000]


@pytest.mark.parametrize("base", BASES)
def test_boots_at_any_16k_aligned_base_and_adds(boot, base):
    con = boot(load_base=base)
    assert "Sovereign Forth kernel on m3, EL2" in con.boot_output
    assert f"loaded at {base:#x}" in con.boot_output
    out = con.send("1 2 + .")
    assert "1 2 + . 3  ok" in out


def test_banner_reports_memory_from_boot_args(boot):
    con = boot(mem_size=1536 << 20)
    assert f"memory: 1536 MiB at {PHYS_BASE:#x}" in con.boot_output
    # free memory starts 16 KiB aligned above top_of_kernel_data
    top = con.machine.after.top_of_kernel_data
    assert f"free from {top:#x}" in con.boot_output


def _sysreg(m, op0, op1, crn, crm, op2):
    return m.cpu.sysreg_read(op0, op1, crn, crm, op2)


def test_kernel_owns_vectors_stack_and_fp(console):
    m = console.machine
    image = range(m.load_base, m.load_base + m.image_size)
    vbar = m.cpu.reg_read("vbar_el2")
    assert vbar != m.standin and vbar in image and vbar % 2048 == 0
    assert m.cpu.reg_read("sp_el2") in image          # exception stack in our .bss
    assert (m.cpu.reg_read("pstate") >> 2) & 3 == 2  # still EL2 (EL2t, Forth on SP_EL0)
    cptr = _sysreg(m, 3, 4, 1, 1, 2)
    assert (cptr >> 20) & 3 == 0                      # FPEN 0 at the prompt: FP/SIMD traps, switched lazily


def test_identity_map_is_two_level_16k_with_device_mmio(console):
    m = console.machine
    sctlr = _sysreg(m, 3, 4, 1, 0, 0)
    tcr = _sysreg(m, 3, 4, 2, 0, 2)
    ttbr = _sysreg(m, 3, 4, 2, 0, 0)
    mair = _sysreg(m, 3, 4, 10, 2, 0)
    assert sctlr & 1 and sctlr & 4 and sctlr & (1 << 12)      # M, C, I
    assert tcr & 0x3F == 28                                    # 36-bit space: walk starts at level 2
    assert (tcr >> 14) & 3 == 2                                # TG0 = 16 KiB

    def read(addr, n):
        return bytes(m.cpu.uc.mem_read(addr, n))

    def attr(t):
        return (mair >> (8 * t.attr_index)) & 0xFF

    lay = m.layout
    for addr in [m.load_base, m.entry, lay.mem_end - 8] + list(range(lay.phys_base, lay.mem_end, 97 << 20)):
        t = walk(read, ttbr, addr)
        assert t.pa == addr and t.level in (2, 3)              # identity, at most two levels
        assert attr(t) == 0xFF and t.access_flag               # normal write-back
        assert t.executable_at_el2
    uart = walk(read, ttbr, m.chip.uart.base)
    assert uart.pa == m.chip.uart.base and attr(uart) == 0x00  # Device-nGnRnE
    assert not uart.executable_at_el2
    with pytest.raises(TranslationFault):
        walk(read, ttbr, 0)                                    # NULL faults
    with pytest.raises(TranslationFault):
        walk(read, ttbr, lay.phys_base - 8)                    # the carveout below usable RAM
    with pytest.raises(TranslationFault):
        walk(read, ttbr, lay.mem_end)                          # the guard page m1n1 left below the framebuffer


def test_stacks_sit_between_guard_pages(console):
    m = console.machine
    ttbr = _sysreg(m, 3, 4, 2, 0, 0)

    def read(addr, n):
        return bytes(m.cpu.uc.mem_read(addr, n))

    user = m.symbols.address("main_user", m.load_base)
    s0, r0, slimit, rlimit = (struct.unpack("<Q", read(user + off, 8))[0] for off in (24, 32, 40, 88))
    for guard in (s0, slimit - 1, r0, rlimit - 1):
        with pytest.raises(TranslationFault) as e:
            walk(read, ttbr, guard)
        assert e.value.level == 3
    for inside in (s0 - 8, slimit, r0 - 8, rlimit):
        assert walk(read, ttbr, inside).pa == inside


def test_stack_errors_are_caught_by_the_guards(console):
    assert "error -4: stack underflow" in console.send("drop")
    assert "error -3: stack overflow" in console.send(": fill 0 begin 1 again ; fill")
    assert "error -6: return stack underflow" in console.send(": up r> r> r> r> r> r> r> r> r> ; up")
    assert "error -5: return stack overflow" in console.send(": down recurse ; down")
    assert "3  ok" in console.send("1 2 + .")


def test_boot_is_deterministic(kernel):
    runs = []
    for _ in range(2):
        m = M3(kernel.elf)
        r = m.run_script("1 2 + . words\n")
        runs.append((r.output, r.instructions))
    assert runs[0] == runs[1]


def test_boot_reads_cmdline_at_0x6c_not_0x70(kernel):
    m = M3(kernel.elf, M3Config(cmdline="hello=1"))
    r = m.run_script("bootargs 108 + 7 type\n")
    assert "hello=1" in r.output
