"""Event deadlines: many models, one deadline on the core.

Why: El2Cpu.set_event_deadline holds exactly one deadline (the native
block hook compares one number), but the board has several things that
must happen at a modelled instant: the EL2 physical and virtual timers,
the watchdog, a PMU counter overflow.  Events keeps all of them and puts
only the earliest on the core; when it fires, every entry that is due runs,
earliest first, and the next earliest is armed.  One Events per core
(`Events.of(cpu)`), so two models can never overwrite each other's
deadline.

Two clocks:

- schedule(name, instant, cb): `instant` is on cpu.now, the modelled time
  in instruction units (retired instructions plus time skipped in WFI).
  Timers and the watchdog live here: idle time brings them closer, and a
  core waiting in WFI is fast-forwarded to them.
- schedule_progress(name, count, cb): `count` is on cpu.instructions.  Only
  running brings it closer (a PMU counter does not count while the core
  waits).  Such an entry is armed on the core at now + (count -
  instructions), a lower bound of when it can become due.  If the core
  reaches that deadline without having retired an instruction since, it is
  waiting in WFI: the entry is parked (left off the core's deadline, which
  would otherwise fast-forward the wait forever) until any callback runs or
  anything is scheduled or cancelled, or resume() is called.

Deterministic: entries that are due together run in order of their
instant, then in the order they were scheduled.  A callback may schedule
or cancel anything, itself included; entries it makes due at once run in
the same pass.  No host time anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

NEVER = (1 << 64) - 1        # the core's "no deadline" (cpu.NO_LIMIT)
_PASS_LIMIT = 100_000        # callbacks in one pass before we call it a storm
_ATTR = "_machine_events"     # where a core keeps its multiplexer


@dataclass
class _Entry:
    name: str
    at: int                   # instant (cpu.now) or instruction count (progress)
    callback: Callable[[], None]
    seq: int
    progress: bool
    armed_insns: int = 0      # cpu.instructions when last armed (progress only)
    armed_deadline: int = 0   # the deadline it was armed at (progress only)
    parked: bool = False


class EventStorm(RuntimeError):
    """A callback keeps making itself due at once."""


class Events:
    """The deadline multiplexer of one core.  Use Events.of(cpu)."""

    @classmethod
    def of(cls, cpu) -> "Events":
        """The one multiplexer of `cpu` (created on first use)."""
        mine = vars(cpu).get(_ATTR)
        return cls(cpu) if mine is None else mine

    def __init__(self, cpu):
        # Kept on the core itself (not in a global table, which would keep
        # every core and its models alive for ever).
        if vars(cpu).get(_ATTR) is not None:
            raise ValueError("this core already has its Events; use Events.of(cpu)")
        setattr(cpu, _ATTR, self)
        self.cpu = cpu
        self._entries: dict[str, _Entry] = {}
        self._seq = 0
        self._dispatching = False
        self.fired = 0           # callbacks run, for reports and tests
        self.wakeups = 0         # times the core reached the armed deadline

    # ---- the API ------------------------------------------------------------

    def schedule(self, name: str, instant: int, callback: Callable[[], None]) -> None:
        """Run callback() at the first block boundary where cpu.now >=
        instant (replaces an entry of the same name)."""
        self._put(_Entry(name, int(instant), callback, self._next_seq(), False))

    def schedule_progress(self, name: str, instructions: int, callback: Callable[[], None]) -> None:
        """Run callback() at the first block boundary where
        cpu.instructions >= instructions (replaces an entry of that name)."""
        self._put(_Entry(name, int(instructions), callback, self._next_seq(), True))

    def cancel(self, name: str) -> None:
        if self._entries.pop(name, None) is not None or self._any_parked():
            self._unpark()
            self._arm()

    def resume(self) -> None:
        """Re-arm parked progress entries (after a run that ended in WFI,
        before running on)."""
        self._unpark()
        self._arm()

    def when(self, name: str) -> int | None:
        """The instant (or instruction count) an entry is due, or None."""
        e = self._entries.get(name)
        return None if e is None else e.at

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        """Pending entries, earliest first."""
        return [e.name for e in sorted(self._entries.values(), key=lambda e: (e.at, e.seq))]

    # ---- inside -------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _put(self, entry: _Entry) -> None:
        self._entries[entry.name] = entry
        self._unpark()
        self._arm()

    def _any_parked(self) -> bool:
        return any(e.parked for e in self._entries.values())

    def _unpark(self) -> None:
        for e in self._entries.values():
            e.parked = False

    def _deadline_of(self, e: _Entry, now: int, insns: int) -> int:
        if not e.progress:
            return e.at
        return now + max(0, e.at - insns)

    def _arm(self) -> None:
        """Put the earliest entry's deadline on the core."""
        if self._dispatching:
            return                      # the pass re-arms when it ends
        live = [e for e in self._entries.values() if not e.parked]
        if not live:
            self.cpu.set_event_deadline(None)
            return
        now = self.cpu.now
        insns = self.cpu.instructions if any(e.progress for e in live) else 0
        best = NEVER
        for e in live:
            d = self._deadline_of(e, now, insns)
            if e.progress:
                e.armed_insns, e.armed_deadline = insns, d
            best = min(best, d)
        if best >= NEVER:
            self.cpu.set_event_deadline(None)
        else:
            self.cpu.set_event_deadline(best, self._fire)

    def _due(self, now: int, insns: int) -> list[tuple[int, int, _Entry]]:
        due = []
        for e in self._entries.values():
            if e.progress:
                if insns >= e.at:
                    # when it became due, as far as instructions tell
                    due.append((now - (insns - e.at), e.seq, e))
            elif now >= e.at:
                due.append((e.at, e.seq, e))
        return due

    def _fire(self) -> None:
        """The core reached the armed deadline (it cleared it first)."""
        self._dispatching = True
        self.wakeups += 1
        ran = 0
        try:
            while True:
                now = self.cpu.now
                progress = any(e.progress for e in self._entries.values())
                insns = self.cpu.instructions if progress else 0
                due = self._due(now, insns)
                if not due:
                    break
                _, _, entry = min(due, key=lambda t: (t[0], t[1]))
                del self._entries[entry.name]
                ran += 1
                self.fired += 1
                if ran > _PASS_LIMIT:
                    raise EventStorm(f"event {entry.name!r} keeps coming due at once")
                entry.callback()
            if ran:
                self._unpark()
            else:
                # Nothing due: only a progress entry's lower bound passed.
                # If no instruction retired since it was armed, idle time
                # carried the clock there: the core waits, park it.
                now, insns = self.cpu.now, self.cpu.instructions
                for e in self._entries.values():
                    if e.progress and not e.parked and insns == e.armed_insns and now >= e.armed_deadline:
                        e.parked = True
        finally:
            self._dispatching = False
        self._arm()
