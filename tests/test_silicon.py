"""An emulated M3 as strict as the silicon, and a kernel that passes it.

Each test here fails on a kernel that leans on what the models used to
forgive: addresses hard-coded for one chip, a map rounded out to 32 MiB
blocks over carveouts, an AIC never enabled, every FIQ taken for the timer,
BYE that parks the core.  The machine's rules themselves are tested in
tests/test_mmu_rules.py (translation), test_aic_model.py, test_wdt_model.py
and test_fiq_sources.py; here the real kernel meets them.
"""

from __future__ import annotations

import re
import struct

import pytest

from elftools.elf.elffile import ELFFile

from harness import chips
from harness.machine.layout import DEFAULT_PHYS_OFFSET, PAGE
from harness.machine.m3 import CPU_HZ, M3, M3Config
from harness.pagetable import Geometry, TranslationFault, iter_leaves, walk
from kernel_support import screen_rows

CHIPS = ["t8122", "t6030", "t6031"]
# (phys_base - DRAM base, image base - phys_base): an M1's phys_base offset
# and the default image place; then both moved, neither 32 MiB aligned
BASES = [(DEFAULT_PHYS_OFFSET, 0x20_4000), (0x1357_C000, 0x2A0_8000)]


def booted(kernel, **cfg) -> M3:
    m = M3(kernel.elf, M3Config(**cfg))
    r = m.run(80_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
    return m


def say(m: M3, line: str) -> str:
    before = len(m.output)
    r = m.run_script(line + "\n", 300_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output[-2000:]}"
    return m.output[before:]


def numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def answer(m: M3, line: str) -> list[int]:
    """The numbers the console printed for a line (after its echo)."""
    out = say(m, line)
    assert out.startswith(line), out
    return numbers(out[len(line):])


def console_stats(m: M3) -> tuple[int, int, int]:
    """(wake-ups by the interrupt, by the poll period, bytes found by polling)"""
    polled, poll_wakes, irq = answer(m, "console-stats . . .")
    return irq, poll_wakes, polled


def normal_ranges_mapped(m: M3) -> list[tuple[int, int]]:
    """[lo, hi) of every Normal leaf in the kernel's EL2 map, coalesced."""
    out = []
    for r in m.mmu.audit():
        if r.regime.startswith("EL2") and r.normal:
            out.append((r.pa, r.pa + r.size))
    return out


def inside(ranges, lo, hi) -> bool:
    return any(a <= lo and hi <= b for a, b in ranges)


def read_only_ranges(m: M3) -> list[tuple[int, int]]:
    """[lo, hi) of every EL2 leaf without write permission (AP[2] set), coalesced."""
    return [(r.va, r.va + r.size) for r in m.mmu.audit() if r.regime.startswith("EL2") and r.perms[1] == "-"]


def image_read_only_size(kernel) -> int:
    """__ro_end - __image_start from the ELF: the header, .text and .rodata."""
    with open(kernel.elf, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        start, end = (table.get_symbol_by_name(n)[0]["st_value"] for n in ("__image_start", "__ro_end"))
    return end - start


# ---- one image, every chip, real bases --------------------------------------

@pytest.mark.parametrize("phys_offset,load_offset", BASES)
@pytest.mark.parametrize("chip", CHIPS)
def test_one_image_finds_its_console_on_every_chip(kernel, chip, phys_offset, load_offset):
    c = chips.load(chip)
    phys_base = c.dram_base + phys_offset
    m = booted(kernel, chip=chip, phys_offset=phys_offset, load_base=phys_base + load_offset)
    out = m.output
    assert f"memory: 2048 MiB at {phys_base:#x}, loaded at {phys_base + load_offset:#x}" in out
    assert f"chip {c.chip_id:#x}" in out and f"cores {len(c.cpus)}" in out
    assert f"console UART {c.uart.base:#x} irq {c.uart.irq}" in out
    assert f"AIC3 {c.aic.base:#x}" in out and f"watchdog {c.wdt.base:#x}" in out
    assert "3  ok" in say(m, "1 2 + .")
    irq, _, polled = console_stats(m)
    assert irq >= 1 and polled == 0                 # the bytes came by the UART's interrupt
    assert m.aic.enabled and not m.aic.misrouted and not m.aic.starved
    # the map: Normal memory only in usable RAM and the framebuffer
    allowed = m.layout.normal_ranges()
    mapped = normal_ranges_mapped(m)
    assert mapped and all(inside(allowed, lo, hi) for lo, hi in mapped), (mapped, allowed)
    # the image's code and constants read-only, exactly and nothing else (kernel/mmu.S mmu_seal_image)
    load_base = phys_base + load_offset
    assert read_only_ranges(m) == [(load_base, load_base + image_read_only_size(kernel))]
    assert m.mmu.violation is None


def test_the_map_is_exact_at_unaligned_edges_and_a_framebuffer_on_top(kernel):
    m = booted(kernel)                              # phys_base 0x819b34000, fb moved to the top
    lay = m.layout
    ttbr = m.cpu.sysreg_read(3, 4, 2, 0, 0)
    mair = m.cpu.sysreg_read(3, 4, 10, 2, 0)

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))

    def attr(va):
        return (mair >> (8 * walk(read, ttbr, va).attr_index)) & 0xFF

    assert lay.phys_base % (32 << 20) and lay.mem_end % (32 << 20)
    first, last = walk(read, ttbr, lay.phys_base), walk(read, ttbr, lay.mem_end - 8)
    assert first.level == 3 and last.level == 3     # pages at the unaligned edges
    ro_end = lay.load_base + image_read_only_size(kernel)
    for va in (lay.load_base, ro_end - 8):          # the image's code and constants: read-only pages
        t = walk(read, ttbr, va)
        assert t.level == 3 and not t.writable_at_el2 and t.executable_at_el2, hex(va)
    assert walk(read, ttbr, ro_end).writable_at_el2 and walk(read, ttbr, lay.load_base - 8).writable_at_el2
    assert attr(lay.phys_base) == 0xFF and attr(lay.mem_end - 8) == 0xFF   # the last RAM page stays write-back
    assert attr(lay.fb.base) == 0x44 and attr(lay.fb_end - 8) == 0x44     # the framebuffer non-cacheable
    for gone in (lay.phys_base - 8, lay.mem_end, lay.fb_end, lay.dram_base):
        with pytest.raises(TranslationFault):       # carveouts and m1n1's guard page: not mapped
            walk(read, ttbr, gone)
    # whole 32 MiB blocks inside RAM are still blocks: two levels, one read
    middle = (lay.phys_base + (64 << 20)) & ~((32 << 20) - 1)
    assert walk(read, ttbr, middle + (64 << 20)).level in (2, 3)


def test_a_framebuffer_outside_usable_ram(kernel):
    m = booted(kernel, fb_placement="outside")
    assert inside(m.layout.normal_ranges(), *normal_ranges_mapped(m)[-1])
    assert m.mmu.violation is None
    assert "3  ok" in say(m, "1 2 + .")


@pytest.mark.parametrize("chip", ["t6030", "t6031"])
def test_ram_above_64_gib_gets_a_level_1_root(kernel, chip):
    m = booted(kernel, chip=chip)
    tcr = m.cpu.sysreg_read(3, 4, 2, 0, 2)
    va_bits = 64 - (tcr & 0x3F)
    assert va_bits > 36                               # DRAM at 0x100_0000_0000
    geo = Geometry.for_va_bits(va_bits)
    assert geo.start_level == 1
    ttbr = m.cpu.sysreg_read(3, 4, 2, 0, 0)

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))
    leaves = list(iter_leaves(read, geo.root_address(ttbr), geo))
    assert any(lf.va <= m.load_base < lf.va + lf.size for lf in leaves)
    assert any(lf.va <= m.chip.uart.base < lf.va + lf.size for lf in leaves)


# ---- what m1n1 may hand over -------------------------------------------------

@pytest.mark.parametrize("revision", [2, 3])
def test_boot_args_revisions(kernel, revision):
    line = "x" * (700 if revision == 3 else 500)      # a revision-3 cmdline holds 1023 bytes
    m = booted(kernel, bootargs_revision=revision, cmdline=line)
    n, = answer(m, ": len 0 begin bootargs 108 + over + c@ while 1+ repeat ; len .")
    assert n == len(line)


@pytest.mark.parametrize("hz", [24_000_000, 1_000_000_000])
def test_the_counter_at_24_mhz_and_1_ghz(kernel, hz):
    m = booted(kernel, cntfrq=hz)
    assert str(hz) in say(m, "ticks/s .")
    t0 = m.cpu.now
    say(m, "250 ms")
    elapsed = (m.cpu.now - t0) / CPU_HZ
    assert 0.25 <= elapsed < 0.30, elapsed            # 250 ms of modelled time, whatever the rate
    # the time slice still preempts: a spinning thread does not starve the console
    assert "ok" in say(m, ": spin begin again ; ' spin 32 spawn drop 5 ms 7 .")


# ---- the AIC as the silicon takes it ----------------------------------------

def test_the_kernel_enables_the_aic_and_leaves_the_route_alone(kernel):
    m = booted(kernel)
    irq = m.chip.uart.irq
    assert m.aic.enabled and m.aic.route(irq) == 0
    say(m, "1 2 + .")
    assert m.aic.events >= 1 and "nothing refused" in m.aic.describe()


def test_a_dead_interrupt_path_degrades_to_polling(kernel):
    # as if iBoot had left the UART's IRQ routed to a group nothing delivers
    m = M3(kernel.elf)
    a = m.chip.aic
    m.aic.write(a.config_offset + 4 * m.chip.uart.irq, 4, 3)
    assert m.run(80_000_000).status == "idle"
    assert "3  ok" in say(m, "1 2 + .")
    assert "7  ok" in say(m, "3 4 + .")
    irq, _, polled = console_stats(m)
    assert irq == 0 and polled >= 2                   # every byte found by the poll period
    assert m.chip.uart.irq in m.aic.misrouted


def test_no_aic_in_the_adt_polls(kernel):
    m = booted(kernel, adt_overrides={"/arm-io/aic": None})
    assert "no usable /arm-io/aic: console input is polled" in m.output
    assert "3  ok" in say(m, "1 2 + .")


# ---- FIQs that are not the timer ----------------------------------------------

def test_a_fast_ipi_is_acknowledged_not_a_livelock(kernel):
    m = booted(kernel)
    m.ipi.inject()                                    # as if another core sent one
    assert "3  ok" in say(m, "1 2 + .")
    unknown, vtimer, pmu, ipi = answer(m, "fiq-stats . . . .")
    assert (ipi, pmu, vtimer) == (1, 0, 0) and not m.ipi.pending


def test_pmu_and_virtual_timer_fiqs_are_acknowledged(kernel):
    m = booted(kernel)
    m.pmu.pmcr0 |= 4 << 8                             # IMODE = FIQ, as if something set it
    m.pmu.inject()
    assert "3  ok" in say(m, "1 2 + .")
    m.vtimer.ctl, m.vtimer.cval = 1, 0                # enabled, unmasked, due at once
    m.vtimer.update()
    assert "7  ok" in say(m, "3 4 + .")
    unknown, vtimer, pmu, ipi = answer(m, "fiq-stats . . . .")
    assert (ipi, pmu, vtimer) == (0, 1, 1)


# ---- BYE, and what the ADT may lack ----------------------------------------------

def test_bye_reboots_through_the_adts_watchdog(kernel):
    m = booted(kernel)
    start = m.cpu.instructions
    r = m.run_script("bye\n", 50_000_000)
    assert r.status == "reboot", r.report
    assert r.instructions - start < 1_000_000         # no spinning until the watchdog bites


def test_without_a_watchdog_bye_halts(kernel):
    m = booted(kernel, adt_overrides={"/arm-io/wdt": None})
    assert "no /arm-io/wdt: BYE halts the core" in m.output
    assert m.run_script("bye\n", 50_000_000).status == "off"


def test_an_unknown_chip_runs_on_what_its_adt_says(kernel):
    m = booted(kernel, adt_overrides={"/chosen/chip-id": 0x9999})
    assert "chip 0x9999 (not one this kernel knows" in m.output
    assert "3  ok" in say(m, "1 2 + .")


def test_no_console_uart_says_so_on_the_screen(kernel):
    m = M3(kernel.elf, M3Config(adt_overrides={"/arm-io/uart0": None}))
    r = m.run(80_000_000)
    assert r.status == "idle" and r.output == ""      # nothing on a UART nobody found
    rows = "\n".join(screen_rows(m))
    assert "no console UART in the ADT" in rows and "ready" in rows


def test_no_adt_at_all_says_so_on_the_screen(kernel):
    m = M3(kernel.elf, M3Config(adt=False))
    r = m.run(80_000_000)
    assert r.status == "idle" and r.output == ""
    assert "no Apple Device Tree from m1n1" in "\n".join(screen_rows(m))


def test_a_panic_reaches_the_screen(kernel):
    m = M3(kernel.elf)
    # UDF where forth_cold, still at EL2h, cuts its first guard page: a
    # kernel fault after the screen is up
    addr = m.symbols.address("mmu_unmap_page", m.load_base)
    m.cpu.uc.mem_write(addr, struct.pack("<I", 0))
    r = m.run(80_000_000)
    assert r.status == "crash"
    assert "KERNEL PANIC" in "\n".join(screen_rows(m))


# ---- the translation rules meet the kernel --------------------------------------

def _l3_entry(m: M3, va: int) -> int:
    """The address of va's level-3 descriptor in the kernel's map (t8122:
    a level-2 root)."""
    root = m.cpu.sysreg_read(3, 4, 2, 0, 0)
    l2 = struct.unpack("<Q", m.cpu.uc.mem_read(root + ((va >> 25) & 2047) * 8, 8))[0]
    assert l2 & 3 == 3, f"{va:#x} is not page-mapped"
    return (l2 & 0xFFFF_FFFF_C000) + ((va >> 14) & 2047) * 8


def test_a_live_descriptor_changed_without_break_before_make_stops_the_run(kernel):
    m = booted(kernel)
    here, = answer(m, "here .")
    entry = _l3_entry(m, here + PAGE)
    old = struct.unpack("<Q", m.cpu.uc.mem_read(entry, 8))[0]
    # a kernel bug, poked from Forth: the page's output address changed in place
    r = m.run_script(f"{old ^ 0x8000} {entry} ! 1 ms\n", 50_000_000)
    assert r.status == "crash"
    assert "break-before-make" in r.report and f"{entry:#x}" in r.report


def test_normal_memory_mapped_in_a_carveout_stops_the_run(kernel):
    m = booted(kernel)
    below = m.layout.phys_base - PAGE                 # the carveout under usable RAM
    entry = _l3_entry(m, below)
    normal = below | (1 << 10) | (3 << 8) | (1 << 2) | 3 | (1 << 54)
    r = m.run_script(f"{normal} {entry} ! 1 ms\n", 50_000_000)
    assert r.status == "crash"
    assert "Normal" in r.report and f"{below:#x}" in r.report


# ---- the ADT: looked at from Forth, and not trusted -----------------------------

@pytest.mark.parametrize("chip", CHIPS)
def test_the_adt_and_the_cores_from_forth(kernel, chip):
    c = chips.load(chip)
    m = booted(kernel, chip=chip)
    assert say(m, "adt-ls /arm-io").split()[2:6] == ["uart0", "aic", "pmgr", "wdt"]
    shown = say(m, "adt-show /arm-io/uart0")
    assert f"reg = 0x{c.uart.base - c.mmio_base:X} 0x{c.uart.size:X}" in shown
    assert "compatible = uart-1,samsung" in shown
    assert "no such ADT node" in say(m, "adt-show /arm-io/nothing")
    cores = say(m, ".cpus")
    assert cores.count("\ncpu ") == len(c.cpus)
    assert cores.count("(running: this one)") == 1
    assert f"{c.chip_id}" in say(m, "chip-id .")


@pytest.mark.parametrize("cut", [0, 8, 40, 0x200, 0x800])
def test_a_truncated_adt_is_read_within_its_bounds(kernel, cut):
    m = M3(kernel.elf)
    struct.pack_into("<I", buf := bytearray(4), 0, cut)
    m.cpu.uc.mem_write(m.boot_args + 0x68, bytes(buf))     # boot_args.devtree_size
    r = m.run(80_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}"    # no wild read, no hang
    assert "ready" in "\n".join(screen_rows(m))


def test_an_adt_that_puts_a_device_in_ram_is_not_believed(kernel):
    in_ram = 0x8_0000_0000 + DEFAULT_PHYS_OFFSET + (256 << 20) - 0x2_0000_0000   # under /arm-io's ranges
    reg = struct.pack("<4I", in_ram & 0xFFFF_FFFF, in_ram >> 32, 0x4000, 0)
    wide = struct.pack("<6I", 0, 0, 0, 2, 0, 8)        # /arm-io covering 0x2_0000_0000 + 32 GiB
    m = booted(kernel, adt_overrides={"/arm-io/ranges": wide, "/arm-io/wdt/reg": reg})
    assert "puts a device inside usable RAM" in m.output
    assert "no /arm-io/wdt" in m.output               # so there is none: BYE halts
    assert m.mmu.violation is None                    # and RAM stayed RAM
    assert m.run_script("bye\n", 50_000_000).status == "off"
