"""The Apple core PMU: PMC0 (cycles), PMC1 (retired instructions), and
its overflow interrupt, which is a FIQ.

Why: the kernel measures itself with PMC0/PMC1 (kernel/boards/m3.S), and
a PMU interrupt is one of the FIQ sources a FIQ handler must check and
clear (Linux irq-apple-aic.c aic_handle_fiq; m1n1 src/exception.c
exc_fiq), or it storms.

Registers (Linux arch/arm64/include/asm/apple_m1_pmu.h; m1n1
src/cpu_regs.h):

  PMCR0 S3_1_C15_C0_0  bits 7:0 counter enable (0 = PMC0, 1 = PMC1),
                       10:8 IMODE (0 off, 1 PMI, 2 AIC, 3 halt, 4 FIQ),
                       11 IACT (interrupt active), 19:12 PMI enable per
                       counter, 20 stop counting on PMI (not modelled)
  PMCR1 S3_1_C15_C1_0  which exception levels count (kept, not modelled:
                       the model counts at every level)
  PMC0  S3_2_C15_C0_0  cycles (the cost model's, see cycle_source)
  PMC1  S3_2_C15_C1_0  retired instructions, exact
  PMSR  S3_1_C15_C13_0 overflow status, bit per counter

Counting is exactly as before the PMU moved here: a counter counts while
its PMCR0 enable bit is set and keeps its value otherwise; a write sets
it.  Overflow: a counter that counts past 2^64 wraps, sets its PMSR bit
and, if its PMI enable bit is set, IACT.  (M1's counters are 48 bits with
the interrupt on bit 47; Linux treats M2's as 64 bits.  This model uses
64 and models overflow for PMC0/PMC1 only, which is what a kernel that
preloads 2^64 - N sees.)  FIQ source "pmu" is asserted while IACT is set
and IMODE is FIQ; writing PMCR0 with IACT clear acknowledges it.

UNVERIFIED details: whether IACT is set when IMODE is off (here: yes, the
FIQ waits for IMODE = FIQ); PMSR: a write stores it, writing a counter
clears that counter's bit (what Linux's handler relies on to tell a
spurious interrupt).

When the overflow is seen: at the first block boundary where the counter
has passed 2^64 (where any FIQ is taken).  PMC1 is exact.  PMC0 counts
modelled cycles, which have no fixed ratio to instructions: the model
looks again after at most remaining / CYCLES_PER_INSN_BOUND instructions,
exact as long as no block charges more than that many cycles per
instruction (the cost table's largest is 40, plus 30 for an exception
entry).  No host time.
"""

from __future__ import annotations

from harness.machine.events import Events
from harness.machine.fiq import FiqLines
from harness.machine.sysregs import (APPLE_PMC0 as PMC0, APPLE_PMC1 as PMC1,
                                     APPLE_PMCR0 as PMCR0, APPLE_PMCR1 as PMCR1, APPLE_PMSR as PMSR)

PMCR0_IMODE_SHIFT = 8
PMCR0_IMODE_MASK = 7 << PMCR0_IMODE_SHIFT
IMODE_OFF, IMODE_PMI, IMODE_AIC, IMODE_HALT, IMODE_FIQ = 0, 1, 2, 3, 4
PMCR0_IACT = 1 << 11
PMCR0_PMI_SHIFT = 12                       # PMI enable for counter i: bit 12 + i
PMSR_MASK = (1 << 10) - 1

WRAP = 1 << 64
MASK64 = WRAP - 1
CYCLES_PER_INSN_BOUND = 128                # see the module doc

FIQ_SOURCE = "pmu"


class ApplePmu:
    """PMCR0/PMCR1/PMC0/PMC1/PMSR served from the model.

    cycle_source picks the model PMC0 reports: "conservative" (the budget
    model, whole cycles) or "optimistic_milli" (the lower bound, in
    thousandths of a cycle: the benchmark driver runs twice, once each).
    PMC1 counts retired instructions, as on the M3 (PMC1 is fixed to
    instructions there), unless instruction_source is "assumed_milli": the
    thousandths of conservative cycles that rest on assumed costs
    (cpu.cycles_assumed_x1000), which the benchmark driver reads in its
    second run so one run of the kernel's bench gives it.  Emulation only."""

    def __init__(self, cpu, cycle_source: str = "conservative", *,
                 events: Events | None = None, fiq: FiqLines | None = None,
                 instruction_source: str = "instructions"):
        if cycle_source not in ("conservative", "optimistic_milli"):
            raise ValueError(f"unknown cycle source {cycle_source!r}")
        if instruction_source not in ("instructions", "assumed_milli"):
            raise ValueError(f"unknown PMC1 source {instruction_source!r}")
        self.cpu = cpu
        self.cycle_source = cycle_source
        self.instruction_source = instruction_source
        self.events = events or Events.of(cpu)
        self.fiq = fiq or FiqLines.of(cpu)
        self.pmcr0 = 0
        self.pmcr1 = 0
        self.pmsr = 0
        self.overflows = [0, 0]   # times each counter wrapped (for reports and tests)
        self.last_read_at = None  # cpu.instructions at the last read of PMC0 or PMC1
        self._base = [0, 0]       # counter value when it was last (re)started
        self._mark = [0, 0]       # source reading at that moment
        self._cpi_bound = CYCLES_PER_INSN_BOUND * (1000 if cycle_source == "optimistic_milli" else 1)
        cpu.on_sysreg(*PMCR0, read=self._read_pmcr0, write=self._write_pmcr0)
        cpu.on_sysreg(*PMCR1, read=lambda: self.pmcr1, write=lambda v: setattr(self, "pmcr1", v))
        cpu.on_sysreg(*PMC0, read=lambda: self._read(0), write=lambda v: self._write(0, v))
        cpu.on_sysreg(*PMC1, read=lambda: self._read(1), write=lambda v: self._write(1, v))
        cpu.on_sysreg(*PMSR, read=self._read_pmsr, write=self._write_pmsr)

    def configure(self, cycle_source: str, instruction_source: str = "instructions") -> None:
        """Count other sources from now on (a machine booted once and then
        measured with another PMU configuration: harness/bench.py).  Each
        counter keeps the value it has and counts on from there."""
        if cycle_source not in ("conservative", "optimistic_milli"):
            raise ValueError(f"unknown cycle source {cycle_source!r}")
        if instruction_source not in ("instructions", "assumed_milli"):
            raise ValueError(f"unknown PMC1 source {instruction_source!r}")
        values = [self._read(i) for i in (0, 1)]
        self.cycle_source, self.instruction_source = cycle_source, instruction_source
        self._cpi_bound = CYCLES_PER_INSN_BOUND * (1000 if cycle_source == "optimistic_milli" else 1)
        for i in (0, 1):
            self._base[i], self._mark[i] = values[i], self._source(i)
        self.last_read_at = None
        self._update()

    # ---- counting ---------------------------------------------------------------

    def _source(self, i: int) -> int:
        if i == 1:
            if self.instruction_source == "assumed_milli":
                return self.cpu.cycles_assumed_x1000
            return self.cpu.instructions
        if self.cycle_source == "conservative":
            return self.cpu.cycles_conservative
        return self.cpu.cycles_optimistic_x1000

    def source(self, i: int) -> int:
        """What counter i counts, read now (whether or not it is enabled)."""
        return self._source(i)

    def _enabled(self, i: int) -> bool:
        return bool(self.pmcr0 >> i & 1)

    def _pmi_enabled(self, i: int) -> bool:
        return bool(self.pmcr0 >> (PMCR0_PMI_SHIFT + i) & 1)

    def _sync(self, i: int) -> None:
        """Notice an overflow that has happened by now."""
        if not self._enabled(i):
            return
        src = self._source(i)
        raw = self._base[i] + src - self._mark[i]
        if raw >= WRAP:
            self._base[i], self._mark[i] = raw & MASK64, src
            self.overflows[i] += 1
            self.pmsr |= 1 << i
            if self._pmi_enabled(i):
                self.pmcr0 |= PMCR0_IACT

    def _read(self, i: int) -> int:
        self.last_read_at = self.cpu.instructions
        self._sync(i)
        self._update()
        if self._enabled(i):
            return (self._base[i] + self._source(i) - self._mark[i]) & MASK64
        return self._base[i]

    def _write(self, i: int, value: int) -> None:
        self._sync(i)
        self._base[i], self._mark[i] = value & MASK64, self._source(i)
        self.pmsr &= ~(1 << i)
        self._update()

    # ---- control ------------------------------------------------------------

    def _read_pmcr0(self) -> int:
        for i in (0, 1):
            self._sync(i)
        self._update()
        return self.pmcr0

    def _write_pmcr0(self, value: int) -> None:
        for i in (0, 1):
            self._sync(i)
            cur = self._read(i)
            self._base[i], self._mark[i] = cur, self._source(i)   # freeze or restart here
        self.pmcr0 = value & MASK64
        self._update()

    def _read_pmsr(self) -> int:
        for i in (0, 1):
            self._sync(i)
        self._update()
        return self.pmsr

    def _write_pmsr(self, value: int) -> None:
        for i in (0, 1):
            self._sync(i)
        self.pmsr = value & PMSR_MASK
        self._update()

    @property
    def imode(self) -> int:
        return (self.pmcr0 & PMCR0_IMODE_MASK) >> PMCR0_IMODE_SHIFT

    @property
    def asserted(self) -> bool:
        return bool(self.pmcr0 & PMCR0_IACT) and self.imode == IMODE_FIQ

    def inject(self) -> None:
        """Set IACT as an overflow would (for tests)."""
        self.pmcr0 |= PMCR0_IACT
        self._update()

    def _update(self) -> None:
        """Drive the FIQ bit; keep a look-out for the next overflow of each
        counter that would raise IACT."""
        self.fiq.set(FIQ_SOURCE, self.asserted)
        for i in (0, 1):
            name = f"pmc{i}-overflow"
            if not (self._enabled(i) and self._pmi_enabled(i)):
                self.events.cancel(name)
                continue
            value = (self._base[i] + self._source(i) - self._mark[i]) & MASK64
            remaining = WRAP - value
            if i == 1 and self.instruction_source == "instructions":
                step = remaining
            else:
                bound = CYCLES_PER_INSN_BOUND * 1000 if i == 1 else self._cpi_bound
                step = max(1, remaining // bound)
            self.events.schedule_progress(name, self.cpu.instructions + step,
                                          lambda i=i: self._on_deadline(i))

    def _on_deadline(self, i: int) -> None:
        self._sync(i)
        self._update()
