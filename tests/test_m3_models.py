"""The emulated M3's timer and PMU models, which stand in for what unicorn
lacks (its timer writes are dropped and its counter is host time:
tests/test_emulator_workarounds.py pins that), and the deadline
multiplexer they share.  Exact, on modelled time."""

import pytest

from harness.machine.cpu import StopReason
from harness.machine.events import EventStorm, Events
from harness.machine.m3 import CNTFRQ_HZ, CPU_HZ, ApplePmu, HypTimer   # still importable from the board
from harness.machine.timers import Clock


def ticks_of(cpu):
    return cpu.now * CNTFRQ_HZ // CPU_HZ


class FakeCore:
    """Just what the models touch: time, one deadline, the FIQ line."""

    def __init__(self):
        self.now = 0
        self.instructions = 0
        self.deadline = None
        self._cb = None
        self.fiq = False

    def on_sysreg(self, *a, **k):
        pass

    def raise_fiq(self):
        self.fiq = True

    def lower_fiq(self):
        self.fiq = False

    def set_event_deadline(self, when, cb=None):
        self.deadline, self._cb = when, (cb if when is not None else None)

    def _advance(self, until, running):
        """Time passes (running: instructions retire with it), deadlines
        fire as the core would fire them."""
        while self.deadline is not None and self.deadline <= until:
            step = max(self.deadline, self.now) - self.now
            self.now += step
            if running:
                self.instructions += step
            cb, self._cb, self.deadline = self._cb, None, None
            cb()
        if running:
            self.instructions += until - self.now
        self.now = until

    def run_to(self, t):
        self._advance(t, True)

    def wait(self):
        """WFI: fast-forward deadline after deadline until FIQ is raised or
        nothing is armed (El2Cpu._wait_for_interrupt)."""
        for _ in range(1000):
            if self.fiq or self.deadline is None:
                return
            self._advance(max(self.deadline, self.now), False)
        raise AssertionError("the wait never ends")


# ---- the physical timer (unchanged in behaviour by its move to timers.py) ---------

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
    cpu = FakeCore()
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
    assert cpu.deadline is None                            # a masked timer wakes nobody
    t._write_tval(50)                                      # TVAL: relative to the counter
    assert t.cval == 1050 and t._read_tval() == 50


def test_hyp_timer_uses_a_clock_to_find_its_instant():
    cpu = FakeCore()
    clock = Clock(cpu, hz=1_000, cpu_hz=3_000)             # one tick every 3 instants
    t = HypTimer(cpu, clock)
    t._write_cval(10)
    t._write_ctl(1)
    assert cpu.deadline == 30 and not cpu.fiq
    cpu.run_to(29)
    assert not cpu.fiq
    cpu.run_to(30)
    assert cpu.fiq and t.fired == 1


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


# ---- the clock ---------------------------------------------------------------

@pytest.mark.parametrize("hz", [CNTFRQ_HZ, 1_000_000_000, 7])
def test_clock_instant_of_is_the_first_instant_the_counter_reaches_a_value(hz):
    cpu = FakeCore()
    clock = Clock(cpu, hz=hz)
    for ticks in (0, 1, 2, 99, 1 << 20, 123_456_789):
        t = clock.instant_of(ticks)
        cpu.now = t
        assert clock() >= ticks
        if t:
            cpu.now = t - 1
            assert clock() < ticks


# ---- the deadline multiplexer ------------------------------------------------

def test_events_run_the_earliest_first_on_the_real_core(make_cpu):
    cpu, _ = make_cpu("1: b 1b")                           # one-instruction blocks: exact instants
    ev = Events.of(cpu)
    log = []
    ev.schedule("late", 300, lambda: log.append(("late", cpu.now)))
    ev.schedule("early", 100, lambda: log.append(("early", cpu.now)))
    assert cpu.event_deadline == 100                       # only the earliest is on the core
    assert cpu.run(None, 1000) is StopReason.LIMIT
    assert log == [("early", 100), ("late", 300)]
    assert cpu.event_deadline is None and ev.names() == []


def test_events_cancel_and_reschedule_from_a_callback(make_cpu):
    cpu, _ = make_cpu("1: b 1b")
    ev = Events.of(cpu)
    log = []

    def tick():
        log.append(cpu.now)
        if len(log) < 3:
            ev.schedule("tick", cpu.now + 50, tick)        # re-arm itself
        if len(log) == 1:
            ev.cancel("doomed")                            # and cancel another, due later

    ev.schedule("tick", 10, tick)
    ev.schedule("doomed", 40, lambda: log.append("doomed ran"))
    ev.schedule("gone", 20, lambda: log.append("gone ran"))
    ev.cancel("gone")
    assert cpu.run(None, 500) is StopReason.LIMIT
    assert log == [10, 60, 110]


def test_events_same_instant_runs_in_scheduling_order_and_a_callback_can_add_a_due_one():
    cpu = FakeCore()
    ev = Events.of(cpu)
    log = []
    ev.schedule("b", 5, lambda: (log.append("b"), ev.schedule("c", cpu.now, lambda: log.append("c"))))
    ev.schedule("a", 5, lambda: log.append("a"))
    ev.schedule("z", 4, lambda: log.append("z"))
    cpu.run_to(5)
    assert log == ["z", "b", "a", "c"]     # by instant, then as scheduled; c came due in the same pass


def test_events_fast_forward_a_waiting_core(make_cpu):
    cpu, _ = make_cpu(" wfi\n b .")
    ev = Events.of(cpu)
    log = []
    ev.schedule("a", 1_000, lambda: log.append(("a", cpu.now)))
    ev.schedule("b", 5_000, lambda: (log.append(("b", cpu.now)), cpu.request_stop()))
    assert cpu.run(None, 10_000) is StopReason.STOPPED
    assert log == [("a", 1_000), ("b", 5_000)]
    assert cpu.instructions == 1 and cpu.now == 5_000      # one WFI, the rest idle


def test_events_progress_entry_parks_and_comes_back_with_a_timer():
    cpu = FakeCore()
    ev = Events.of(cpu)
    log = []
    ev.schedule_progress("p", 100, lambda: log.append(("p", cpu.instructions)))
    cpu.wait()                                             # only p: it cannot come due by waiting
    assert log == [] and cpu.deadline is None and "p" in ev     # parked: the wait ends
    ev.schedule("t", 1_000, lambda: (log.append(("t", cpu.now)), cpu.raise_fiq()))
    cpu.wait()                                             # waits: p cannot come due, t does
    assert log == [("t", 1_000)] and cpu.fiq
    assert cpu.deadline == 1_000 + 100                     # p back on the core once t ran
    cpu.run_to(cpu.now + 100)                              # the core runs on: p is due
    assert log == [("t", 1_000), ("p", 100)]


def test_events_a_progress_deadline_cannot_be_reached_by_waiting(make_cpu):
    # an instruction-count deadline (a PMU counter) while the core waits:
    # parked, not fast-forwarded step after step; re-armed when it runs on
    cpu, _ = make_cpu(" wfi\n1: b 1b")
    ev = Events.of(cpu)
    hits = []
    ev.schedule_progress("p", 50, lambda: hits.append(cpu.instructions))
    ev.schedule("guard", 10**7, cpu.request_stop)
    assert cpu.run(None, 1_000) is StopReason.STOPPED      # the wait reached the guard ...
    assert hits == [] and "p" in ev
    assert ev.wakeups <= 3                                 # ... at once, not 50 instants at a time
    ev.resume()
    assert cpu.run(None, 1_000) is StopReason.LIMIT
    assert hits == [50]


def test_events_refuse_a_second_multiplexer_and_a_storm():
    cpu = FakeCore()
    ev = Events.of(cpu)
    assert Events.of(cpu) is ev
    with pytest.raises(ValueError):
        Events(cpu)

    def again():
        ev.schedule("storm", 0, again)

    ev.schedule("storm", 1, again)
    with pytest.raises(EventStorm):
        cpu.run_to(1)
