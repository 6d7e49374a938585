"""The emulated M3's timer and PMU models, which stand in for what unicorn
lacks (its timer writes are dropped and its counter is host time:
tests/test_emulator_workarounds.py pins that).  Exact, on modelled time."""

from harness.machine.cpu import StopReason
from harness.machine.m3 import CNTFRQ_HZ, CPU_HZ, ApplePmu, HypTimer


def ticks_of(cpu):
    return cpu.now * CNTFRQ_HZ // CPU_HZ


def test_hyp_timer_raises_fiq_when_the_counter_reaches_cval(make_cpu):
    # arm CNTHP 100 ticks ahead, unmask FIQ, wait: the FIQ arrives at the
    # first modelled instant the counter reaches CVAL, not before
    cpu, syms = make_cpu("""
 mrs x1, cntpct_el0
 add x1, x1, #100
 msr cnthp_cval_el2, x1
 mov x2, #1
 msr cnthp_ctl_el2, x2
 mrs x3, cnthp_ctl_el2      // ISTATUS not yet
 msr daifclr, #1
 wfi
after:
 b .""")
    timer = HypTimer(cpu, lambda: ticks_of(cpu))
    cpu.on_sysreg(3, 3, 14, 0, 1, read=lambda: ticks_of(cpu))
    assert cpu.run(None, 5_000) is StopReason.LIMIT
    assert cpu.reg_read("x3") == 1                          # enabled, not fired
    assert cpu.reg_read("x28") == 0x300                     # the FIQ vector (EL2h)
    assert cpu.reg_read("x26") == syms["after"]             # taken out of the WFI
    assert ticks_of(cpu) >= timer.cval and timer._read_ctl() & 4    # ISTATUS now set
    due = -(-timer.cval * CPU_HZ // CNTFRQ_HZ)
    # eight instructions ran up to the WFI; the rest of the wait was idle
    # time, fast-forwarded to exactly the deadline
    assert cpu.now - cpu.instructions == due - 8


def test_hyp_timer_line_drops_when_cval_moves_ahead_or_masked():
    class Cpu:
        now = 0
        fiq = False

        def on_sysreg(self, *a, **k):
            pass

        def raise_fiq(self):
            self.fiq = True

        def lower_fiq(self):
            self.fiq = False

        def set_event_deadline(self, when, cb=None):
            self.deadline = when

    cpu = Cpu()
    t = HypTimer(cpu, lambda: 1000)
    t._write_cval(500)
    t._write_ctl(1)
    assert cpu.fiq and t._read_ctl() == 5                  # fired: ISTATUS
    t._write_cval(2000)
    assert not cpu.fiq and t._read_ctl() == 1              # ahead again: the line drops
    assert cpu.deadline == -(-2000 * CPU_HZ // CNTFRQ_HZ)  # and a wake-up is due then
    t._write_cval(10)
    t._write_ctl(3)                                        # IMASK: no FIQ, ISTATUS still
    assert not cpu.fiq and t._read_ctl() == 7
    t._write_tval(50)                                      # TVAL: relative to the counter
    assert t.cval == 1050 and t._read_tval() == 50


def test_apple_pmu_counts_exact_instructions_only_while_enabled(make_cpu):
    cpu, _ = make_cpu("""
 mrs x1, S3_1_C15_C0_0
 orr x1, x1, #3
 msr S3_1_C15_C0_0, x1      // PMCR0: PMC0 and PMC1 on
 mrs x2, S3_2_C15_C1_0      // PMC1
 nop
 nop
 nop
 mrs x3, S3_2_C15_C1_0      // three nops and the mrs: 4 more
 msr S3_1_C15_C0_0, xzr     // off: frozen
 nop
 nop
 mrs x4, S3_2_C15_C1_0
 wfi
 b .""")
    ApplePmu(cpu)
    cpu.run(None, 1000)
    x2, x3, x4 = (cpu.reg_read(r) for r in ("x2", "x3", "x4"))
    assert x3 - x2 == 4
    assert x4 == x3 + 1                                    # counted up to the msr, then frozen
