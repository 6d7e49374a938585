"""The core's FIQ input: the OR of its named sources.

Why: on Apple cores the timers, fast IPIs and PMU overflow are all FIQs
and there is no register that says which one fired (Linux
drivers/irqchip/irq-apple-aic.c, aic_handle_fiq: "not dealing with any of
these results in a FIQ storm", so it checks every source).  Each model
drives its own bit here; the core sees the OR.  A source that is never
cleared keeps FIQ asserted, exactly the storm a real core would see.
One combiner per core: FiqLines.of(cpu).
"""

from __future__ import annotations

_ATTR = "_machine_fiq_lines"   # where a core keeps its combiner


class FiqLines:
    """set(name, level) per source; raise_fiq/lower_fiq on the core from the OR."""

    @classmethod
    def of(cls, cpu) -> "FiqLines":
        """The one combiner of `cpu` (created on first use)."""
        mine = vars(cpu).get(_ATTR)
        return cls(cpu) if mine is None else mine

    def __init__(self, cpu):
        # Kept on the core itself, so it lives and dies with the core.
        if vars(cpu).get(_ATTR) is not None:
            raise ValueError("this core already has its FIQ combiner; use FiqLines.of(cpu)")
        setattr(cpu, _ATTR, self)
        self.cpu = cpu
        self._high: set[str] = set()
        self.raised: dict[str, int] = {}     # name -> times it went high (for reports)

    def set(self, name: str, level: bool) -> None:
        if level and name not in self._high:
            self._high.add(name)
            self.raised[name] = self.raised.get(name, 0) + 1
        elif not level:
            self._high.discard(name)
        if self._high:
            self.cpu.raise_fiq()
        else:
            self.cpu.lower_fiq()

    @property
    def level(self) -> bool:
        return bool(self._high)

    @property
    def sources(self) -> list[str]:
        """The sources asserting FIQ now, sorted."""
        return sorted(self._high)

    def describe(self) -> str:
        if not self._high:
            return "FIQ: no source asserted"
        return "FIQ asserted by: " + ", ".join(self.sources)
