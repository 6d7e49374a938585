"""The EL2 generic timers of an Apple core, on modelled time.

Why a model: unicorn drops timer writes and its counter is host time
(tests/test_emulator_workarounds.py pins that), so these models are the
only timers the kernel sees.  On Apple cores every timer is a FIQ of its
own, not an AIC interrupt (docs/hardware.md, The t8122 platform; Linux
irq-apple-aic.c, aic_handle_fiq), and nothing but the timer's own CTL says
it fired.

Two timers, same rules (Arm ARM D11, the generic timer):
- the EL2 physical timer, CNTHP_{CTL,CVAL,TVAL}_EL2, which CNTP_*_EL0
  reach at EL2 under VHE (HCR_EL2.E2H = 1): FIQ source "cntp";
- the EL2 virtual timer, CNTHV_{CTL,CVAL,TVAL}_EL2, which CNTV_*_EL0 reach
  at EL2 under VHE: FIQ source "cntv".  It compares against the machine's
  counter (CNTVOFF is not modelled: the board serves CNTVCT = CNTPCT).

CTL: bit 0 ENABLE, bit 1 IMASK, bit 2 ISTATUS (read only).  The timer
condition holds while ENABLE is set and the counter has reached CVAL;
FIQ is asserted while it holds and IMASK is clear (a level: it drops when
CVAL moves ahead, or ENABLE or IMASK change).  TVAL reads CVAL - counter
(32 bits) and writes CVAL = counter + sign-extended TVAL.

m1n1 leaves CNTP and CNTV with CTL = ENABLE | IMASK (src/exception.c
exception_initialize writes 7; ISTATUS is read only): M1N1_CTL.

Time: the counter is the machine's (CNTPCT: modelled core clock divided
down to CNTFRQ); a Clock knows both directions, counter value at an
instant and the first instant the counter reaches a value, which is where
a timer schedules its wake-up on the Events multiplexer.
"""

from __future__ import annotations

from typing import Callable

from harness.machine.events import Events
from harness.machine.fiq import FiqLines
from harness.machine.sysregs import (CNTHP_CTL_EL2, CNTHP_CVAL_EL2, CNTHP_TVAL_EL2,
                                     CNTHV_CTL_EL2, CNTHV_CVAL_EL2, CNTHV_TVAL_EL2,
                                     CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTP_TVAL_EL0,
                                     CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTV_TVAL_EL0)

CNTFRQ_HZ = 24_000_000                   # what CNTFRQ_EL0 reads; the kernel must not assume it
CPU_HZ = 3_500_000_000                   # the modelled core clock (docs/emulation.md, the cycle model)

PHYS_REGS = ((CNTHP_CTL_EL2, CNTHP_CVAL_EL2, CNTHP_TVAL_EL2),
             (CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTP_TVAL_EL0))
VIRT_REGS = ((CNTHV_CTL_EL2, CNTHV_CVAL_EL2, CNTHV_TVAL_EL2),
             (CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTV_TVAL_EL0))

CTL_ENABLE, CTL_IMASK, CTL_ISTATUS = 1, 2, 4
M1N1_CTL = CTL_ENABLE | CTL_IMASK        # what m1n1 leaves at hand-over


class Clock:
    """A counter at `hz` derived from the modelled core clock (cpu.now,
    instruction units at `cpu_hz`): value = now * hz // cpu_hz."""

    def __init__(self, cpu, hz: int = CNTFRQ_HZ, cpu_hz: int = CPU_HZ):
        self.cpu, self.hz, self.cpu_hz = cpu, hz, cpu_hz

    def __call__(self) -> int:
        return self.cpu.now * self.hz // self.cpu_hz

    def instant_of(self, ticks: int) -> int:
        """The first instant (cpu.now) at which the counter reads >= ticks."""
        return max(0, -(-ticks * self.cpu_hz // self.hz))


def _default_instant_of(ticks: int) -> int:
    # The board's counter: cpu.now * CNTFRQ_HZ // CPU_HZ (M3.counter).
    return max(0, -(-ticks * CPU_HZ // CNTFRQ_HZ))


class GenericTimer:
    """One EL2 generic timer.  `counter()` is the machine's counter; if it
    has `instant_of(ticks)` (a Clock) that inverts it, otherwise the
    board's CPU_HZ / CNTFRQ_HZ ratio does.  `regs` are (ctl, cval, tval)
    encodings, each triple served with the same state."""

    def __init__(self, cpu, counter: Callable[[], int], *, name: str, regs,
                 ctl: int = 0, cval: int = 0, events: Events | None = None, fiq: FiqLines | None = None):
        self.cpu = cpu
        self.counter = counter
        self.name = name
        self.instant_of = getattr(counter, "instant_of", _default_instant_of)
        self.events = events or Events.of(cpu)
        self.fiq = fiq or FiqLines.of(cpu)
        self.ctl = ctl & (CTL_ENABLE | CTL_IMASK)
        self.cval = cval
        self.fired = 0                           # times the FIQ went up
        for c, v, t in regs:
            cpu.on_sysreg(*c, read=self._read_ctl, write=self._write_ctl)
            cpu.on_sysreg(*v, read=lambda: self.cval, write=self._write_cval)
            cpu.on_sysreg(*t, read=self._read_tval, write=self._write_tval)
        self.update()

    def _fired(self) -> bool:
        return bool(self.ctl & CTL_ENABLE) and self.counter() >= self.cval

    @property
    def asserted(self) -> bool:
        """The timer's FIQ: condition met and not masked."""
        return self._fired() and not self.ctl & CTL_IMASK

    def _read_ctl(self) -> int:
        return self.ctl | (CTL_ISTATUS if self._fired() else 0)

    def _write_ctl(self, value: int) -> None:
        self.ctl = value & (CTL_ENABLE | CTL_IMASK)
        self.update()

    def _write_cval(self, value: int) -> None:
        self.cval = value
        self.update()

    def _read_tval(self) -> int:
        return (self.cval - self.counter()) & 0xFFFF_FFFF

    def _write_tval(self, value: int) -> None:
        value &= 0xFFFF_FFFF
        self.cval = self.counter() + (value - (1 << 32) if value >> 31 else value)
        self.update()

    def update(self) -> None:
        """Drive this timer's FIQ bit, and wake up when the counter reaches
        CVAL (only while enabled and unmasked: a masked timer wakes nobody)."""
        if self.asserted:
            if self.name not in self.fiq.sources:
                self.fired += 1
            self.fiq.set(self.name, True)
            self.events.cancel(self.name)
            return
        self.fiq.set(self.name, False)
        if self.ctl & CTL_ENABLE and not self.ctl & CTL_IMASK:
            self.events.schedule(self.name, self.instant_of(self.cval), self.update)
        else:
            self.events.cancel(self.name)


class HypTimer(GenericTimer):
    """The EL2 physical timer (CNTHP_*, and CNTP_*_EL0 at EL2 under VHE):
    FIQ source "cntp".  Starts with CTL = 0 as the board always modelled it
    (m1n1 leaves M1N1_CTL: pass ctl=M1N1_CTL for the hand-over state)."""

    def __init__(self, cpu, counter: Callable[[], int], ctl: int = 0, **kw):
        super().__init__(cpu, counter, name="cntp", regs=PHYS_REGS, ctl=ctl, **kw)


class VirtTimer(GenericTimer):
    """The EL2 virtual timer (CNTHV_*, and CNTV_*_EL0 at EL2 under VHE):
    FIQ source "cntv".  Starts as m1n1 leaves it: enabled and masked."""

    def __init__(self, cpu, counter: Callable[[], int], ctl: int = M1N1_CTL, **kw):
        super().__init__(cpu, counter, name="cntv", regs=VIRT_REGS, ctl=ctl, **kw)
