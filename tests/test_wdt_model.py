"""The watchdog model: the machine resets when reset is enabled and COUNT
reaches ALARM, on modelled time (24 MHz over the modelled core clock),
including while the core sleeps in WFI.  Offsets and bits written out from
m1n1 src/wdt.c and Linux drivers/watchdog/apple_wdt.c."""

import pytest

from harness.machine.cpu import StopReason
from harness.machine.events import Events
from harness.machine.timers import CPU_HZ, Clock
from harness.machine.wdt import Watchdog

COUNT, ALARM, CTL = 0x10, 0x14, 0x1C
RESET_ENABLE = 1 << 2
WDT_BASE = 0x2_3D2B_0000          # anywhere outside RAM will do for the snippets
TICK = CPU_HZ // 24_000_000       # ~145.8 instants per watchdog tick


class Core:
    """Time and one deadline, nothing else (see tests/test_m3_models.py)."""

    def __init__(self):
        self.now = 0
        self.deadline = None
        self._cb = None

    def set_event_deadline(self, when, cb=None):
        self.deadline, self._cb = when, (cb if when is not None else None)

    def run_to(self, t):
        while self.deadline is not None and self.deadline <= t:
            self.now = max(self.now, self.deadline)
            cb, self._cb, self.deadline = self._cb, None, None
            cb()
        self.now = t


def wdt_on(cpu, resets):
    w = Watchdog(cpu, on_reset=lambda: resets.append(cpu.now))
    cpu.map_mmio(WDT_BASE, w.size, w.read, w.write)
    return w


def snippet(alarm: int, ctl: int, tail: str) -> str:
    return f"""
 movz x0, #0x2, lsl #32
 movk x0, #0x3D2B, lsl #16
 movz w1, #{alarm & 0xFFFF}
 movk w1, #{alarm >> 16}, lsl #16
 str w1, [x0, #0x14]                // ALARM
 str wzr, [x0, #0x10]               // COUNT = 0
 mov w1, #{ctl}
 str w1, [x0, #0x1c]                // CTL
{tail}"""


def test_m1n1_reboot_sequence_resets_a_waiting_core_at_the_exact_instant(make_cpu):
    # wdt_reboot: ALARM = 0x100000, COUNT = 0, CTL = 4; then the core sleeps
    cpu, _ = make_cpu(snippet(0x100000, 4, "1: wfi\n b 1b"))
    resets = []
    w = Watchdog(cpu, on_reset=lambda: (resets.append((cpu.now, w.count)), cpu.request_stop()))
    cpu.map_mmio(WDT_BASE, w.size, w.read, w.write)
    assert cpu.run(None, 10**9) is StopReason.STOPPED      # ended by the reset, not the limit
    assert len(resets) == 1
    now, count = resets[0]
    assert count == 0x100000                               # COUNT just reached ALARM ...
    clock = Clock(cpu, 24_000_000)
    cpu_now = cpu.now
    assert now == cpu_now == w.reset_at
    origin = clock() - count
    assert now == clock.instant_of(origin + 0x100000)      # ... at the first instant it does
    assert cpu.instructions < 20                           # 43.7 ms of idle time, fast-forwarded
    assert now > 0x100000 * TICK


def test_reset_while_running_is_seen_at_the_next_block_boundary(make_cpu):
    cpu, _ = make_cpu(snippet(0x100, 4, "1: b 1b"))        # one-instruction blocks
    resets = []
    w = wdt_on(cpu, resets)
    assert cpu.run(None, 200_000) is StopReason.LIMIT
    assert len(resets) == 1
    assert resets[0] == w.reset_at                         # exact with one-instruction blocks
    assert w.reset_at == Clock(cpu, 24_000_000).instant_of(w._origin + 0x100)


@pytest.mark.parametrize("tail,why", [("1: wfi\n b 1b", StopReason.WFI), ("1: b 1b", StopReason.LIMIT)])
def test_ctl_zero_never_resets(make_cpu, tail, why):
    cpu, _ = make_cpu(snippet(0, 0, tail))                 # COUNT >= ALARM at once, reset disabled
    resets = []
    w = wdt_on(cpu, resets)
    assert cpu.run(None, 200_000) is why                   # WFI: nothing left to wake the core
    assert resets == [] and w.reset_at is None
    assert "wdt" not in Events.of(cpu)


def test_count_counts_at_24mhz_of_modelled_time_and_writes_set_it():
    core = Core()
    w = Watchdog(core)
    assert w.read(CTL, 4) == 0                             # m1n1 disabled it before hand-over
    core.now = 3_500_000_000                               # one modelled second
    assert w.read(COUNT, 4) == 24_000_000
    w.write(COUNT, 4, 0)
    assert w.read(COUNT, 4) == 0
    core.now += 35_000                                     # 10 us: 240 ticks
    assert w.read(COUNT, 4) == 240
    w.write(COUNT, 4, 0xFFFF_FFFF)
    core.now += 146                                        # one more tick: it wraps
    assert w.read(COUNT, 4) == 0


def test_immediate_reset_linux_restart_order():
    # apple_wdt_restart: CTRL = RESET_EN, BITE_TIME = 0, CUR_TIME = 0
    core = Core()
    resets = []
    w = Watchdog(core, on_reset=lambda: resets.append(core.now))
    w.write(ALARM, 4, 30 * 24_000_000)                     # as the driver's probe left it
    core.now = 1_000
    w.write(CTL, 4, RESET_ENABLE)
    assert resets == [] and core.deadline is not None
    w.write(ALARM, 4, 0)                                   # COUNT >= 0: the reset is now
    assert resets == [1_000] and core.deadline is None
    w.write(COUNT, 4, 0)
    core.run_to(10**12)
    assert resets == [1_000]                               # once


def test_pinging_postpones_and_disabling_cancels():
    core = Core()
    resets = []
    w = Watchdog(core, on_reset=lambda: resets.append(core.now))
    w.write(ALARM, 4, 1_000)
    w.write(COUNT, 4, 0)
    w.write(CTL, 4, RESET_ENABLE)
    first = core.deadline
    core.run_to(first - 1)
    w.write(COUNT, 4, 0)                                   # ping
    assert core.deadline > first and resets == []
    w.write(CTL, 4, 0)
    assert core.deadline is None
    core.run_to(10**12)
    assert resets == []


def test_unknown_offsets_and_widths_are_recorded():
    w = Watchdog(Core())
    assert w.read(0x00, 4) == 0                            # WD0, not modelled
    w.write(0x2C, 4, 4)                                    # WD2's CTL, not modelled
    assert w.read(COUNT, 8) == 0
    assert [(b.kind, b.offset, b.size) for b in w.bad_accesses] == [
        ("read", 0x00, 4), ("write", 0x2C, 4), ("read", COUNT, 8)]
