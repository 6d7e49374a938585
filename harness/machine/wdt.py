"""The SoC watchdog: how an Apple machine reboots.

Why: m1n1 reboots by arming the ADT's /arm-io/wdt to bite at once
(src/wdt.c wdt_reboot: ALARM = 0x100000, COUNT = 0, CTL = 4), and so
should the kernel's `bye`.  The model resets the machine at the modelled
instant the hardware would: the board's on_reset() ends the run.

Registers (m1n1 src/wdt.c; Linux drivers/watchdog/apple_wdt.c, the
"WD1" watchdog, the one that resets the machine normally):

  0x10 COUNT (Linux CUR_TIME)   counts the 24 MHz reference clock; a
                                write sets it (m1n1 and Linux write 0)
  0x14 ALARM (Linux BITE_TIME)  the machine resets when CTL.reset-enable
                                is set and COUNT >= ALARM
  0x1c CTL   (Linux CTRL)       bit 0 IRQ enable, bit 1 IRQ status,
                                bit 2 reset enable

m1n1 disables the watchdog before hand-over (src/wdt.c wdt_disable writes
CTL = 0): the model starts with CTL = 0, COUNT counting from 0.  COUNT is
32 bits and wraps.  WD1 has no bark time, so bits 0/1 raise nothing here
(kept as written; UNVERIFIED).  WD0 (0x00-0x0c, which resets to recovery)
and WD2 (0x20-0x2c) are not modelled: those offsets, like any unknown
offset or a non-32-bit access, read 0, do nothing and are recorded in
bad_accesses.

Time: COUNT is derived from modelled time (a Clock at 24 MHz over
cpu.now), never host time.  While reset is enabled and COUNT < ALARM, the
instant COUNT reaches ALARM is scheduled on the Events multiplexer, so a
core waiting in WFI is fast-forwarded to it.  on_reset() is called once,
at that instant (from the block boundary or WFI wait that reaches it), or
at once from the MMIO write that makes the condition true.
"""

from __future__ import annotations

from typing import Callable

from harness.machine.events import Events
from harness.machine.timers import Clock
from harness.machine.mmio import BadAccess  # noqa: F401  (re-exported)

COUNT, ALARM, CTL = 0x10, 0x14, 0x1C
REGISTER_NAMES = {COUNT: "COUNT", ALARM: "ALARM", CTL: "CTL"}
CTL_IRQ_ENABLE, CTL_IRQ_STATUS, CTL_RESET_ENABLE = 1 << 0, 1 << 1, 1 << 2
WDT_HZ = 24_000_000          # the reference clock (Linux reads it from the clock; 24 MHz on M1-M3)
MMIO_SIZE = 0x4000           # one 16 KiB page (the t8103 DT's reg size; t8122 UNVERIFIED: use the ADT)
EVENT_NAME = "wdt"


class Watchdog:
    """read(offset, size) / write(offset, size, value) take offsets from
    the watchdog's base.  on_reset() is the machine's reset line."""

    def __init__(self, cpu, on_reset: Callable[[], None] | None = None, *,
                 clock: Clock | None = None, events: Events | None = None):
        self.cpu = cpu
        self.on_reset = on_reset
        self.clock = clock or Clock(cpu, WDT_HZ)
        self.events = events or Events.of(cpu)
        self.size = MMIO_SIZE
        self.alarm = 0
        self.ctl = 0
        self._origin = 0                 # clock ticks at which COUNT read 0 (mod 2^32)
        self.bad_accesses: list[BadAccess] = []
        self.reset_at: int | None = None     # the modelled instant COUNT reached ALARM
        self._due: int | None = None         # the instant scheduled for it

    # ---- state ------------------------------------------------------------------

    def _elapsed(self) -> int:
        """Ticks since COUNT was 0 (not wrapped)."""
        return self.clock() - self._origin

    @property
    def count(self) -> int:
        return self._elapsed() & 0xFFFF_FFFF

    def _check(self) -> None:
        """Reset now if the condition holds, else schedule the instant it will."""
        if self.reset_at is not None:
            return
        due, self._due = self._due, None
        if not self.ctl & CTL_RESET_ENABLE:
            self.events.cancel(EVENT_NAME)
            return
        if self.count >= self.alarm:
            self._reset(due)
            return
        # COUNT climbs to ALARM before it can wrap
        due_ticks = self._origin + (self._elapsed() - self.count) + self.alarm
        self._due = self.clock.instant_of(due_ticks)
        self.events.schedule(EVENT_NAME, self._due, self._check)

    def _reset(self, due: int | None) -> None:
        self.events.cancel(EVENT_NAME)
        now = self.cpu.now
        # a running core notices at the first block boundary after the instant
        self.reset_at = now if due is None or due > now else due
        if self.on_reset is not None:
            self.on_reset()

    def describe(self) -> str:
        if self.reset_at is not None:
            return f"watchdog: reset the machine at instant {self.reset_at:,}"
        state = "armed" if self.ctl & CTL_RESET_ENABLE else "disabled"
        return f"watchdog: {state} (COUNT {self.count:#x}, ALARM {self.alarm:#x}, CTL {self.ctl:#x})"

    # ---- MMIO -------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        if size != 4 or offset not in REGISTER_NAMES:
            self.bad_accesses.append(BadAccess("read", offset, size, None))
            return 0
        if offset == COUNT:
            return self.count
        if offset == ALARM:
            return self.alarm
        return self.ctl

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4 or offset not in REGISTER_NAMES:
            self.bad_accesses.append(BadAccess("write", offset, size, value))
            return
        value &= 0xFFFF_FFFF
        if offset == COUNT:
            self._origin = self.clock() - value
        elif offset == ALARM:
            self.alarm = value
        else:
            self.ctl = value & (CTL_IRQ_ENABLE | CTL_RESET_ENABLE)
        self._check()
