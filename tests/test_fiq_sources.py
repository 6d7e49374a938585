"""Every FIQ source of an Apple core, and the combiner that ORs them onto
the core's one FIQ line: a source nobody clears keeps FIQ asserted, and a
handler that does not clear it is re-entered for ever (the storm Linux's
aic_handle_fiq guards against).  Register encodings written out from
Linux irq-apple-aic.c / apple_m1_pmu.h and m1n1 src/cpu_regs.h."""

import pytest

from harness.machine.cpu import StopReason
from harness.machine.fiq import FiqLines
from harness.machine.ipi import FastIpi
from harness.machine.pmu import ApplePmu
from harness.machine.timers import CNTFRQ_HZ, CPU_HZ, HypTimer, VirtTimer

IPI_SR = (3, 5, 15, 1, 1)
IPI_RR_LOCAL, IPI_RR_GLOBAL, IPI_CR = (3, 5, 15, 0, 0), (3, 5, 15, 0, 1), (3, 5, 15, 3, 1)
PMCR0 = (3, 1, 15, 0, 0)
IMODE_FIQ, IACT = 4 << 8, 1 << 11


def ticks_of(cpu):
    return cpu.now * CNTFRQ_HZ // CPU_HZ


def with_fiq_vector(main: str, handler: str) -> str:
    """A snippet with its own EL2 vector table: `handler` at the FIQ entry
    (current EL, SPx: +0x300), x19 counting entries."""
    return f"""
 adr x0, fiq_vectors
 msr vbar_el2, x0
 isb
 mov x19, #0
 mov x20, #0
{main}
.balign 0x800
fiq_vectors:
 .skip 0x300
 add x19, x19, #1
{handler}
 eret
"""


SELF_IPI = """
 mov x0, #0                       // IPI_RR_LOCAL: cpu 0 of this cluster, immediate: ourselves
 msr S3_5_C15_C0_0, x0
 msr daifclr, #1                  // FIQs on
main:
 add x20, x20, #1
 b main
"""


def test_a_fast_ipi_never_cleared_re_enters_the_fiq_vector_for_ever(make_cpu):
    cpu, _ = make_cpu(with_fiq_vector(SELF_IPI, " // does not touch IPI_SR"), vbar=False)
    ipi = FastIpi(cpu, mpidr=0x10100)
    assert cpu.run(None, 2_000) is StopReason.LIMIT
    entries, progress = cpu.reg_read("x19"), cpu.reg_read("x20")
    assert entries > 500                                  # a livelock: entry after entry
    assert progress <= 1                                  # and the main loop starves
    assert ipi.pending and FiqLines.of(cpu).sources == ["ipi"]


def test_a_fast_ipi_cleared_by_its_handler_returns_to_the_main_loop(make_cpu):
    handler = " mov x0, #1\n msr S3_5_C15_C1_1, x0          // IPI_SR: write 1 to clear\n isb"
    cpu, _ = make_cpu(with_fiq_vector(SELF_IPI, handler), vbar=False)
    ipi = FastIpi(cpu, mpidr=0x10100)
    assert cpu.run(None, 2_000) is StopReason.LIMIT
    assert cpu.reg_read("x19") == 1                       # taken once
    assert cpu.reg_read("x20") > 900                      # the main loop runs
    assert not ipi.pending and not FiqLines.of(cpu).level


class Core:
    """What the sysreg models touch, with registers callable from Python."""

    def __init__(self):
        self.now = 0
        self.instructions = 0
        self.cycles_conservative = 0
        self.fiq = False
        self.deadline = None
        self.regs = {}

    def on_sysreg(self, *enc, read=None, write=None):
        self.regs[enc] = (read, write)

    def mrs(self, enc):
        return self.regs[enc][0]()

    def msr(self, enc, value):
        self.regs[enc][1](value)

    def raise_fiq(self):
        self.fiq = True

    def lower_fiq(self):
        self.fiq = False

    def set_event_deadline(self, when, cb=None):
        self.deadline = when


def test_fast_ipi_registers():
    core = Core()
    ipi = FastIpi(core, mpidr=0x10102)                    # P-cluster (Aff1 1), core 2
    core.msr(IPI_RR_LOCAL, 1)                             # core 1 of our cluster: not us
    core.msr(IPI_RR_GLOBAL, 2 | 0 << 16)                  # core 2 of cluster 0: not us either
    assert not core.fiq and ipi.sent == [(1, 1, 0), (0, 2, 0)]
    core.msr(IPI_RR_GLOBAL, 2 | 1 << 16)                  # m1n1 smp.c's form, to ourselves
    assert core.fiq and core.mrs(IPI_SR) == 1
    core.msr(IPI_SR, 0)                                   # writing 0 clears nothing
    assert core.fiq
    core.msr(IPI_SR, 1)
    assert not core.fiq and core.mrs(IPI_SR) == 0
    core.msr(IPI_RR_LOCAL, 2 | 2 << 28)                   # deferred ...
    assert core.fiq
    core.msr(IPI_RR_LOCAL, 2 | 1 << 28)                   # ... and retracted
    assert not core.fiq
    core.msr(IPI_CR, 0x1234)
    assert core.mrs(IPI_CR) == 0x1234                     # the countdown is kept
    ipi.inject()                                          # another core sent one
    assert core.fiq and core.mrs(IPI_SR) == 1


def test_the_virtual_timer_fires_as_its_own_fiq_source(make_cpu):
    cpu, syms = make_cpu("""
 mrs x1, cntvct_el0
 add x1, x1, #100
 msr S3_4_C14_C3_2, x1           // CNTHV_CVAL_EL2
 mov x2, #1
 msr S3_4_C14_C3_1, x2           // CNTHV_CTL_EL2: enable, unmask
 msr daifclr, #1
 wfi
after:
 b .""")
    cpu.on_sysreg(3, 3, 14, 0, 2, read=lambda: ticks_of(cpu))
    timer = VirtTimer(cpu, lambda: ticks_of(cpu))
    assert cpu.run(None, 5_000) is StopReason.LIMIT
    assert cpu.reg_read("x28") == 0x300 and cpu.reg_read("x26") == syms["after"]
    lines = FiqLines.of(cpu)
    assert lines.sources == ["cntv"]
    timer._write_ctl(3)                                   # IMASK: the line drops, ISTATUS stays
    assert not lines.level and timer._read_ctl() == 7


def test_a_fiq_handler_that_masks_the_virtual_timer_is_not_re_entered(make_cpu):
    main = """
 mrs x1, cntvct_el0
 add x1, x1, #50
 msr cntv_cval_el0, x1           // the EL0 names reach CNTHV at EL2 under VHE
 mov x2, #1
 msr cntv_ctl_el0, x2
 msr daifclr, #1
1:
 wfi
 add x20, x20, #1
 b 1b
"""
    handler = " mrs x0, cntv_ctl_el0\n orr x0, x0, #2           // IMASK\n msr cntv_ctl_el0, x0"
    cpu, _ = make_cpu(with_fiq_vector(main, handler), vbar=False)
    cpu.on_sysreg(3, 3, 14, 0, 2, read=lambda: ticks_of(cpu))
    VirtTimer(cpu, lambda: ticks_of(cpu))
    assert cpu.run(None, 5_000) is StopReason.WFI         # masked: nothing left to wake it
    assert cpu.reg_read("x19") == 1 and cpu.reg_read("x20") == 1


def test_the_virtual_timer_starts_as_m1n1_leaves_it():
    core = Core()
    t = VirtTimer(core, lambda: 0)
    assert core.mrs((3, 4, 14, 3, 1)) == 7                # enabled, masked, condition met (CVAL 0)
    assert core.mrs((3, 3, 14, 3, 1)) == 7                # the same timer through CNTV_CTL_EL0
    assert not core.fiq and core.deadline is None
    core.msr((3, 3, 14, 3, 1), 1)                         # unmask without moving CVAL: at once
    assert core.fiq and t.fired == 1


def test_pmu_iact_with_imode_fiq_asserts_fiq_until_acknowledged():
    core = Core()
    pmu = ApplePmu(core)
    pmu.inject()                                          # IACT, but IMODE off
    assert core.mrs(PMCR0) & IACT and not core.fiq
    core.msr(PMCR0, core.mrs(PMCR0) | IMODE_FIQ)
    assert core.fiq and FiqLines.of(core).sources == ["pmu"]
    core.msr(PMCR0, core.mrs(PMCR0) | 3)                  # counters on, IACT kept: still asserted
    assert core.fiq
    core.msr(PMCR0, core.mrs(PMCR0) & ~IACT)              # acknowledge
    assert not core.fiq and core.mrs(PMCR0) == IMODE_FIQ | 3


def test_pmu_overflow_of_a_preloaded_pmc1_is_a_fiq_at_the_crossing(make_cpu):
    main = """
 mov x0, #-100                    // 2^64 - 100
 msr S3_2_C15_C1_0, x0            // PMC1
 mov x0, #0x2402                  // PMC1 on, IMODE FIQ (4 << 8), PMI for PMC1 (bit 13)
 msr S3_1_C15_C0_0, x0
 msr daifclr, #1
main:
 add x20, x20, #1
 b main
"""
    handler = """
 mrs x21, S3_2_C15_C1_0           // PMC1: just past the wrap
 mrs x22, S3_1_C15_C13_0          // PMSR
 mrs x23, S3_1_C15_C0_0           // PMCR0, IACT set
 bic x0, x23, #0x800              // acknowledge
 msr S3_1_C15_C0_0, x0"""
    cpu, _ = make_cpu(with_fiq_vector(main, handler), vbar=False)
    pmu = ApplePmu(cpu)
    assert cpu.run(None, 1_000) is StopReason.LIMIT
    assert cpu.reg_read("x19") == 1                       # one overflow, acknowledged
    assert 1 <= cpu.reg_read("x21") <= 3                  # taken at the first boundary past it
    assert cpu.reg_read("x22") == 1 << 1                  # PMSR: PMC1 overflowed
    assert cpu.reg_read("x23") & IACT
    assert pmu.overflows == [0, 1] and not FiqLines.of(cpu).level
    assert cpu.reg_read("x20") > 400                      # and the main loop ran on


def test_pmu_overflow_without_pmi_enable_sets_only_pmsr():
    core = Core()
    pmu = ApplePmu(core)
    core.msr((3, 2, 15, 1, 0), (1 << 64) - 10)
    core.msr(PMCR0, IMODE_FIQ | 2)                        # PMC1 on, no PMI enable
    core.instructions += 20
    assert core.mrs((3, 1, 15, 13, 0)) == 2 and not core.mrs(PMCR0) & IACT and not core.fiq
    assert core.mrs((3, 2, 15, 1, 0)) == 10
    core.msr((3, 2, 15, 1, 0), 0)                         # writing the counter clears its bit
    assert core.mrs((3, 1, 15, 13, 0)) == 0 and pmu.overflows == [0, 1]


def test_pmc0_overflow_is_found_within_the_cycle_bound():
    core = Core()
    pmu = ApplePmu(core)
    fired = []
    core.msr((3, 2, 15, 0, 0), (1 << 64) - 1000)          # PMC0: 1000 cycles to go
    core.msr(PMCR0, IMODE_FIQ | 1 | 1 << 12)              # PMC0 on, PMI for PMC0
    events = pmu.events
    while not core.fiq:                                   # 4 cycles an instruction, deadline by deadline
        target = events.when("pmc0-overflow")
        assert target is not None and target > core.instructions
        step = target - core.instructions
        core.instructions += step
        core.cycles_conservative += 4 * step
        core.now = core.instructions
        fired.append(core.cycles_conservative)
        events._fire()
    assert fired[-1] - 4 < 1000 <= fired[-1]              # seen in the first instruction past it


def test_the_combiner_keeps_fiq_while_any_source_holds_it():
    core = Core()
    ipi = FastIpi(core)
    timer = HypTimer(core, lambda: 1000)
    timer._write_cval(0)
    timer._write_ctl(1)
    ipi.inject()
    lines = FiqLines.of(core)
    assert lines.sources == ["cntp", "ipi"] and core.fiq
    core.msr(IPI_SR, 1)                                   # one source cleared ...
    assert core.fiq and lines.sources == ["cntp"]         # ... the timer still holds the line
    timer._write_ctl(3)
    assert not core.fiq and "no source" in lines.describe()
    with pytest.raises(ValueError):
        FiqLines(core)                                    # one combiner per core
