"""The emulated M3 with several cores (harness/machine/smp.py, m3.py
M3._run_smp): secondaries held in reset until the boot core starts them
as m1n1 src/smp.c smp_start_cpu does (RVBAR, then the PMGR startup and
start bits), LSE atomics on shared RAM, fast IPIs after the modelled
latency, deterministic counts, and the refusals.

The payload is assembled here: a stand-in for the kernel with the
symbols the machine looks up (sync_icache, the console's words), position
independent (the machine loads it where m1n1 would), its entry at 0x800.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from pathlib import Path

import pytest

from asm_snippets import CACHE, assemble_snippet
from harness import chips, toolchain
from harness.machine import smp
from harness.machine.cpu import El2Cpu, StopReason
from harness.machine.ipi import FastIpi
from harness.machine.m3 import M3, M3Config, MachineError
from harness.machine.smp import Core, CpuStart, ImplRegs

CHIP = chips.load("t8122")
START = CHIP.pmgr.base + CHIP.pmgr.cpu_start_offset
BOOT = CHIP.boot_cpu
IPI_TO_BOOT = BOOT.core | BOOT.cluster << 16           # IPI_RR_GLOBAL: cpu 7:0, cluster 23:16


def _start_table(cores, *, rvbar=True, startup=True) -> str:
    """One entry per core to start: impl reg, startup value, start offset, start bit, flags."""
    rows = []
    for c in cores:
        flags = (1 if rvbar else 0) | (2 if startup else 0)
        rows += [f"    .quad {c.impl_reg:#x}", f"    .word {1 << (4 * c.cluster + c.core):#x}, {flags}",
                 f"    .word {8 + 4 * c.cluster:#x}, {1 << c.core:#x}"]
    return "\n".join(rows)


def payload(cores, *, rvbar=True, startup=True, ipi_to=IPI_TO_BOOT, expect=None, first_to=None,
            cyc_ovrd=True) -> str:
    """Boot core: start `cores`, wait (WFI) for `expect` IPIs (default one
    from each), store the shared counter in `result`, park at powered_off.
    Each secondary: its own stack, LDADD on the counter, an IPI to
    `ipi_to`, WFI for ever.  cyc_ovrd: each secondary lets interrupts in
    first (CYC_OVRD FIQ and IRQ modes 0, as m1n1's init_cpu:
    harness/machine/cpuregs.py), else they stay held off."""
    expect = len(cores) if expect is None else expect
    cyc = "    msr s3_5_c15_c5_0, xzr       // CYC_OVRD: IRQ and FIQ in\n" if cyc_ovrd else ""
    first = "" if first_to is None else f"    ldr x10, ={first_to:#x}\n    msr s3_5_c15_c0_1, x10\n"
    return f"""
    b .
    .balign 0x800
entry:
    adr x1, vectors
    msr vbar_el2, x1
    adr x1, boot_stack_top
    mov sp, x1
    adr x21, start_table
    mov x20, #{len(cores)}
    adr x22, secondary_entry
    ldr x3, =0x{START:x}
1:  cbz x20, 2f
    ldr x1, [x21]                // the core's cpu-impl-reg: RVBAR at +0
    ldp w2, w6, [x21, #8]        // startup bit, flags
    ldp w4, w5, [x21, #16]       // start register offset, start bit
    tbz w6, #0, 3f
    str x22, [x1]                // RVBAR = secondary_entry (4 KiB aligned)
    ldr x7, [x1]
    adr x8, rvbar_seen
    str x7, [x8]
3:  tbz w6, #1, 4f
    str w2, [x3, #4]             // the system-level startup bit
4:  str w5, [x3, x4]             // start the core
    add x21, x21, #24
    sub x20, x20, #1
    b 1b
2:  msr daifclr, #1              // FIQs in: fast IPIs
5:  adr x9, ipis
    ldr x9, [x9]
    cmp x9, #{expect}
    b.hs 6f
    wfi
    b 5b
6:  adr x1, counter
    ldr x2, [x1]
    adr x1, result
    str x2, [x1]
    b powered_off

fiq_handler:
    mrs x9, s3_5_c15_c1_1        // IPI_SR_EL1
    mov x10, #1
    msr s3_5_c15_c1_1, x10       // acknowledge (W1C)
    adr x11, ipis
    ldadd x10, x12, [x11]
    eret

    .balign 0x1000
secondary_entry:
    mrs x1, mpidr_el1
    and x2, x1, #0xff
    ubfx x3, x1, #8, #8
    add x4, x2, x3, lsl #2       // cluster * 4 + core
    adr x5, stacks
    add x6, x4, #1
    add x5, x5, x6, lsl #12
    mov sp, x5
    adr x6, mpidrs
    str x1, [x6, x4, lsl #3]
{cyc}    adr x7, counter
    mov x8, #1
    ldadd x8, x9, [x7]
{first}    ldr x10, ={ipi_to:#x}
    msr s3_5_c15_c0_1, x10       // IPI_RR_GLOBAL_EL1
7:  wfi
    b 7b

sync_icache:
    ret
powered_off:
    msr daifset, #0xf
    wfi
    b powered_off
kernel_halted:
    msr daifset, #0xf
    wfi
    b kernel_halted
    .ltorg

    .balign 0x800
vectors:
    .rept 6
    .balign 0x80
    b .
    .endr
    .balign 0x80                 // +0x300: FIQ, current EL with SPx
    b fiq_handler
    .rept 9
    .balign 0x80
    b .
    .endr

    .balign 8
start_table:
{_start_table(cores, rvbar=rvbar, startup=startup)}
counter: .quad 0
ipis: .quad 0
result: .quad 0
rvbar_seen: .quad 0
mpidrs: .space 8 * 16
rx_waiter: .quad 0
console_tx: .quad 0, 0
console_errors: .quad 0
latest: .quad 0
    .balign 64
percpu: .space 4096
    .balign 0x1000
stacks: .space 0x1000 * 17
boot_stack: .space 0x1000
boot_stack_top:
"""


def payload_elf(source: str) -> Path:
    """The payload linked with its entry (`entry`) at offset 0x800, as
    m1n1's raw chainload enters (cached by the source's hash)."""
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    out = CACHE / f"smp-{key}.elf"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        src, obj, lds = (out.with_suffix(x) for x in (".S", ".o", ".ld"))
        src.write_text(".text\n.globl entry\n" + source + "\n")
        lds.write_text("ENTRY(entry)\nSECTIONS {\n . = 0x800000000;\n .text : { *(.text) }\n}\n")
        toolchain.assemble(src, obj, {}, [])
        tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
        toolchain.link([obj], lds, tmp, {})
        os.replace(tmp, out)
    return out


def machine(source: str, **cfg) -> M3:
    return M3(payload_elf(source), M3Config(**cfg))


def word(m: M3, name: str) -> int:
    return struct.unpack("<Q", m._read(m.symbols.address(name, m.load_base), 8))[0]


SECONDARIES = [c for c in CHIP.cpus if c.cpu_id != BOOT.cpu_id]


def run_all():
    m = machine(payload(SECONDARIES))
    r = m.run(2_000_000)
    return m, r


def test_boot_core_starts_every_secondary():
    m, r = run_all()
    assert r.status == "off", r.report
    assert word(m, "result") == len(SECONDARIES)          # every LDADD counted: one memory, atomics exact
    assert word(m, "ipis") == len(SECONDARIES)
    assert all(c.started for c in m.cores)
    assert [c.index for c in m.cores] == [c.cpu_id for c in CHIP.cpus]
    assert m.cpu is m.boot_core.cpu and m.boot_core.index == BOOT.cpu_id
    # MPIDR_EL1 as each core read it: bit 31 | the affinity of Linux t8122.dtsi
    mp = m._read(m.symbols.address("mpidrs", m.load_base), 8 * 8)
    seen = struct.unpack("<8Q", mp)
    for c in SECONDARIES:
        assert seen[c.cluster * 4 + c.core] == 1 << 31 | c.mpidr
    assert all(n > 0 for n in r.core_instructions)
    assert r.instructions == r.core_instructions[BOOT.cpu_id]


def test_counts_identical_across_runs():
    (_, a), (_, b) = run_all(), run_all()
    assert a.core_instructions == b.core_instructions
    assert a.core_cycles == b.core_cycles
    assert a.output == b.output


def test_ipi_arrives_after_the_modelled_latency():
    m, r = run_all()
    assert r.status == "off", r.report
    arrivals = m.boot_core.ipi_arrivals
    assert sorted(s for s, _, _ in arrivals) == sorted(c.cpu_id for c in SECONDARIES)
    for _sender, sent, arrived in arrivals:
        assert arrived - sent >= smp.IPI_LATENCY
        assert arrived - sent <= smp.IPI_LATENCY + m.quantum + 64     # a quantum and a block at most late


def test_midr_per_core_type():
    assert smp.midr("t8122", "E") == 0x610F0420 and smp.midr("t8122", "P") == 0x610F0430
    assert smp.midr("t6031", "E") >> 4 & 0xFFF == 0x48


def test_one_core_runs_alone():
    """cores=1: the starts are ignored (those cores are not emulated), the
    boot core waits for IPIs that never come."""
    m = machine(payload(SECONDARIES), cores=1)
    r = m.run(2_000_000)
    assert r.status != "off" and word(m, "ipis") == 0
    assert not any(c.started for c in m.cores if not c.boot)
    assert all(c.starts_ignored == 1 for c in m.cores if not c.boot)


def test_fewer_cores_start_the_ones_after_the_boot_core():
    m = machine(payload(SECONDARIES[4:6], expect=2), cores=3)  # the P-cores after the boot core
    r = m.run(2_000_000)
    assert r.status == "off", r.report
    assert [c.index for c in m.cores if c.started] == [4, 5, 6]


@pytest.mark.parametrize("n", [0, 9])
def test_bad_core_count(n):
    with pytest.raises(MachineError, match="emulate 1 to 8"):
        machine(payload([]), cores=n)


# ---- refusals -----------------------------------------------------------------

def test_core_started_without_rvbar_runs_into_m1n1():
    target = SECONDARIES[0]
    m = machine(payload([target], rvbar=False))
    r = m.run(2_000_000)
    assert r.status == "crash"
    assert f"core {target.cpu_id} (MPIDR {target.mpidr:#x}, E-core)" in r.report
    assert "RVBAR was never written" in r.report


def test_locked_rvbar_ignores_the_write():
    target = SECONDARIES[0]
    m = machine(payload([target]), rvbar_locked=True)
    r = m.run(2_000_000)
    assert word(m, "rvbar_seen") == m.standin | smp.RVBAR_LOCK     # read back: the old value
    assert m.cores[target.cpu_id].refusals and "LOCK" in m.cores[target.cpu_id].refusals[0]
    assert r.status == "crash" and "m1n1" in r.report


def test_core_without_startup_bit_gets_no_irq():
    with_bit, without = SECONDARIES[4], SECONDARIES[5]
    m = machine(payload([with_bit], expect=1))
    assert m.run(2_000_000).status == "off"
    m2 = machine(payload([with_bit, without], expect=2) .replace(
        _start_table([with_bit, without]),
        _start_table([with_bit]) + "\n" + _start_table([without], startup=False)))
    r = m2.run(2_000_000)
    assert r.status == "off", r.report
    a = m2.aic
    irq = 100
    a.write(a.enable_offset, 4, 1)
    a.write(a.mask_clr + 4 * (irq // 32), 4, 1 << irq % 32)
    a.write(a.sw_set + 4 * (irq // 32), 4, 1 << irq % 32)
    assert m2.cores[with_bit.cpu_id].cpu.interrupt_pending
    assert m2.boot_core.cpu.interrupt_pending
    assert not m2.cores[without.cpu_id].cpu.interrupt_pending
    assert not m2.cores[without.cpu_id].startup


def test_ipi_to_a_core_in_reset_is_lost():
    sender = SECONDARIES[4]
    asleep = SECONDARIES[0]                                    # never started
    m = machine(payload([sender], first_to=asleep.core | asleep.cluster << 16))
    r = m.run(2_000_000)
    assert r.status == "off", r.report
    lost = m.cores[asleep.cpu_id].ipis_lost
    assert [(s, k) for s, k, _ in lost] == [(sender.cpu_id, 0)]
    assert m.cores[asleep.cpu_id].cpu is None


def test_wfe_is_refused_with_several_cores():
    src = payload([SECONDARIES[4]]).replace("7:  wfi\n    b 7b", "7:  wfe\n    b 7b")
    r = machine(src).run(2_000_000)
    assert r.status == "crash" and "executed WFE" in r.report
    assert f"core {SECONDARIES[4].cpu_id} (MPIDR {SECONDARIES[4].mpidr:#x}, P-core)" in r.report


def test_exclusives_are_refused_with_several_cores():
    src = payload([SECONDARIES[4]]).replace("    ldadd x8, x9, [x7]\n    ldr x10",
                                            "8:  ldxr x9, [x7]\n    add x9, x9, #1\n    stxr w11, x9, [x7]\n"
                                            "    cbnz w11, 8b\n    ldr x10")
    r = machine(src).run(2_000_000)
    assert r.status == "crash" and "exclusive" in r.report


def test_exclusive_decoder():
    assert smp.is_exclusive(0xC85F7C00)          # ldxr x0, [x0]
    assert smp.is_exclusive(0xC8007C20)          # stxr w0, x0, [x1]
    assert not smp.is_exclusive(0xC8DFFC00)      # ldar x0, [x0]
    assert not smp.is_exclusive(0xC8E0FC20)      # casal x0, x0, [x1]
    assert not smp.is_exclusive(0x48207C82)      # casp w0, w1, w2, w3, [x4]
    assert not smp.is_exclusive(0xF8200020)      # ldadd x0, x0, [x1]


# ---- the register models on their own -------------------------------------------

def test_impl_regs_and_cpu_start():
    cores = [Core(c.cpu_id, c, True) for c in CHIP.cpus]
    regs = ImplRegs(cores[0], reset_rvbar=0x8_1000_0000)
    assert regs.read(0, 8) == 0x8_1000_0000
    regs.write(0, 8, 0x8_2000_0fff)
    assert regs.read(0, 8) == 0x8_2000_0001           # bits 47:12 and LOCK kept
    regs.write(0, 8, 0x8_3000_0000)
    assert regs.read(0, 8) == 0x8_2000_0001 and cores[0].refusals
    assert regs.read(smp.STATE_OFFSET, 8) & 0xFF == 0
    started = []
    start = CpuStart(cores, started.append)
    start.write(smp.CPU_START_STARTUP, 4, 1 << (4 * 1 + 2))
    assert cores[6].startup and not cores[5].startup
    start.write(smp.CPU_START_CLUSTER + 4, 4, 1 << 2)
    assert started == [cores[6]]
    cores[0].started = True
    assert regs.read(smp.STATE_OFFSET, 8) & 0xFF != 0


def test_fast_ipi_route_and_inject():
    class FakeCpu:
        def __init__(self):
            self.fiq = False

        def on_sysreg(self, *a, **k):
            pass

        def raise_fiq(self):
            self.fiq = True

        def lower_fiq(self):
            self.fiq = False

    routed = []
    cpu = FakeCpu()
    ipi = FastIpi(cpu, 0x10100, route=lambda *r: routed.append(r))
    ipi._write_global(2 | 0 << 16)
    assert routed == [(0, 2, 0)] and not ipi.pending
    ipi.inject(2)                                   # deferred from another core
    assert ipi.pending and cpu.fiq
    ipi.inject(1)                                   # retracted
    assert not ipi.pending and not cpu.fiq


# ---- what unicorn instances do not share: pinned ------------------------------------

CODE = 0x8_0000_0000


def _shared_pair():
    host = mmap.mmap(-1, 0x10000)
    a, b = El2Cpu(), El2Cpu()
    for cpu in (a, b):
        cpu.map_ram_ptr(CODE, 0x10000, host)
    return a, b


def test_translated_code_does_not_travel_between_instances():
    """Core B rewrites code core A has run: A keeps its stale translation
    until the machine drops it (ctl_remove_cache, what the code
    invalidation broadcast does)."""
    code, _ = assemble_snippet("mov x0, #1\n wfi\n b .", CODE)
    new, _ = assemble_snippet("mov x0, #2\n wfi\n b .", CODE)
    a, b = _shared_pair()
    b.uc.mem_write(CODE, code)
    assert a.run(CODE, 100) is StopReason.WFI and a.reg_read("x0") == 1
    b.uc.mem_write(CODE, new)                       # through the shared memory, not A's softmmu
    assert bytes(a.uc.mem_read(CODE, 4)) == new[:4]
    a.run(CODE, 200)
    assert a.reg_read("x0") == 1                    # stale: the emulator limit the broadcast covers
    a.uc.ctl_remove_cache(CODE, CODE + 4)
    a.run(CODE, 300)
    assert a.reg_read("x0") == 2


def test_code_invalidation_reaches_the_other_cores():
    m, r = run_all()
    other = m.cores[SECONDARIES[0].cpu_id]
    m.boot_core.cpu.reg_write("x0", 0x1000)
    m.boot_core.cpu.reg_write("x1", 0x2000)
    m._code_rewritten(m.boot_core)
    assert other.pending_code == [(0x1000, 0x2000)] and not m.boot_core.pending_code
    m._apply_pending(other)
    assert other.pending_code == []


def test_tlbi_is_reaches_the_other_cores():
    """A TLBI VAE2IS on one core flushes every other core's TLB (before
    it runs next): unicorn's TLB is per instance."""
    src = payload([SECONDARIES[4]]).replace("    ldadd x8, x9, [x7]\n",
                                            "    ldadd x8, x9, [x7]\n    tlbi vae2is, xzr\n    dsb ish\n")
    m = machine(src)
    flushed = []
    boot = m.boot_core
    orig = boot.cpu.flush_tlb
    boot.cpu.flush_tlb = lambda: (flushed.append(1), orig())
    r = m.run(2_000_000)
    assert r.status == "off", r.report
    assert flushed                                  # the boot core's TLB went before it ran again


# ---- the real kernel: deterministic whatever N ------------------------------

SCRIPT = ": sq dup * ; 7 sq . 3 4 + . cores .\n"


def test_real_kernel_starts_the_cores_emulated_and_is_deterministic(kernel):
    """The kernel starts every core the ADT lists (kernel/smp.S); the ones
    not emulated (cores=N) stay in reset and are reported by id.  Same
    input, same output and counts, for each N."""
    for n in (1, 2, 4, 8):
        runs = [M3(kernel.elf, M3Config(cores=n)).run_script(SCRIPT) for _ in range(2)]
        for r in runs:
            assert r.status == "idle", r.report
            assert f"cores: {n}\n" in r.output, r.output
            assert r.output.count("did not start: no answer within 100 ms") == 8 - n, r.output
            assert f"cores . 49 7 {n} " in r.output, r.output
        a, b = runs
        assert (a.output, a.instructions, a.core_instructions) == (b.output, b.instructions, b.core_instructions)
        started = [i for i, count in enumerate(a.core_instructions) if count]
        assert len(started) == n, a.core_instructions


def test_a_core_that_does_not_let_interrupts_in_gets_no_ipi():
    """CYC_OVRD's FIQ mode not 0 (a secondary out of reset, ASSUMED): a
    fast IPI to it neither interrupts nor wakes it (harness/machine/
    cpuregs.py), so the boot core waits for ever for its answer."""
    target = SECONDARIES[4]
    ok = machine(payload([target], first_to=0, expect=1))
    assert ok.run(2_000_000).status == "off"
    held = machine(payload([target], expect=1, cyc_ovrd=False), cores=8)
    held.run(2_000_000)
    core = held.cores[target.cpu_id]
    regs, cpu = core.models["regs"], core.cpu
    assert regs.fiq_mode == 2 and regs.irq_mode == 2 and cpu.fiq_held
    core.models["ipi"].inject(0)                 # an IPI arrives: pending, held off
    assert not cpu.interrupt_pending
    regs._write_cyc_ovrd(0)                      # what board_core_init does: let it in
    assert cpu.interrupt_pending


def _mmu_pair(flush: bool):
    """Core A reads through an alias (its TLB caches the translation),
    core B's side of the shared memory makes the block invalid, A reads
    again: (first read, second read, ESR A's vectors recorded)."""
    from conftest import vector_table
    l1, l2 = CODE + 0x100000, CODE + 0x104000
    alias = 0x40_0000_0000
    entry = l2 + ((alias >> 25) & 0x7FF) * 8
    code, syms = assemble_snippet(f"""
 ldr x0, =((1 << 34) | (1 << 31))
 msr hcr_el2, x0
 isb
 ldr x0, ={l1:#x}
 msr ttbr0_el2, x0
 ldr x0, =0xff
 msr mair_el2, x0
 ldr x0, =((2 << 32) | (1 << 23) | (2 << 14) | (3 << 12) | (1 << 10) | (1 << 8) | 25)
 msr tcr_el2, x0
 isb
 mrs x0, sctlr_el2
 orr x0, x0, #1
 msr sctlr_el2, x0
 isb
 ldr x9, ={alias + 0x10000:#x}
 ldr x1, [x9]
 wfi
 mov x2, #0
 ldr x2, [x9]
 wfi
 b .
""" + vector_table("vectors", 2), CODE)
    host = mmap.mmap(-1, 0x200000)
    a, b = El2Cpu(), El2Cpu()
    for cpu in (a, b):
        cpu.map_ram_ptr(CODE, 0x200000, host)
    b.uc.mem_write(CODE, code)
    for addr, val in {l1: l2 | 3, l1 + (alias >> 36) * 8: l2 | 3, l2 + ((CODE >> 25) & 0x7FF) * 8: CODE | 0x401,
                      entry: CODE | 0x401, CODE + 0x10000: 0x5EED}.items():
        b.uc.mem_write(addr, val.to_bytes(8, "little"))
    a.reg_write("vbar_el2", syms["vectors"])
    a.reg_write("sp", CODE + 0x1F0000)
    assert a.run(CODE, 1000, wait=False) is StopReason.WFI
    b.uc.mem_write(entry, bytes(8))                 # the other core's store: invalid
    if flush:
        a.flush_tlb()                               # what a broadcast TLBI makes the machine do
    a.run(None, 2000, wait=False)
    return a.reg_read("x1"), a.reg_read("x2"), a.reg_read("x27")


def test_tlb_does_not_travel_between_instances():
    """Pinned: a translation core A cached survives another instance's
    change of the descriptor; only flushing A's TLB (the TLBI broadcast)
    makes A see it."""
    first, second, esr = _mmu_pair(flush=False)
    assert first == second == 0x5EED and esr == 0     # stale
    first, second, esr = _mmu_pair(flush=True)
    assert first == 0x5EED and second == 0 and esr >> 26 == 0x25, hex(esr)
