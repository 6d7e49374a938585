"""The M3's interrupt controller, AIC3, as much of it as the kernel uses.

Register roles from m1n1 (src/aic.c, src/aic_regs.h) and the Asahi notes
(docs HW:AIC): on AIC2/AIC3 the per-IRQ registers follow one another from
a config base the ADT gives (`extint-baseaddress`): IRQ_CFG (one word per
IRQ: target in bits 3:0), then SW_SET, SW_CLR, MASK_SET, MASK_CLR and
HW_STATE, each one bit per IRQ (max_irq / 32 words).  The event register
(ADT `aic-iack-offset`) returns die 31:24, type 23:16 (1 = hardware IRQ),
number 15:0 of a pending unmasked IRQ, and masks that IRQ as it is read;
the driver unmasks it through MASK_CLR when it wants the next one.  A line
still high at that moment raises the IRQ again at once (level triggered).

The offsets below are what the ADT of a t8122 is expected to give
(UNVERIFIED: the kernel's copies are in kernel/boards/m3.inc, one place to
correct them after a look at a real ADT).  Anything else reads 0, does
nothing, and is recorded in bad_accesses.
"""

from __future__ import annotations

from typing import Callable

AIC_BASE = 0x2_D100_0000
MMIO_SIZE = 0x50000          # up to and including the event page
MAX_IRQ = 0x1000             # ADT maxnumirq (UNVERIFIED for t8122)
CONFIG = 0x10000             # ADT extint-baseaddress (UNVERIFIED)
WORDS = MAX_IRQ // 32
SW_SET = CONFIG + 4 * MAX_IRQ
SW_CLR = SW_SET + 4 * WORDS
MASK_SET = SW_CLR + 4 * WORDS
MASK_CLR = MASK_SET + 4 * WORDS
HW_STATE = MASK_CLR + 4 * WORDS
EVENT = 0x40000              # ADT aic-iack-offset: the event page (shared/spec/m1n1-boot.md)
EVENT_TYPE_HW = 1

UART0_IRQ = 757              # the debug UART (t8122 device tree)


class Aic3:
    """Lines are sampled from `sources` (irq number -> callable returning
    the line level) whenever the CPU's view could change: on every AIC
    access and whenever a device calls update().  `set_cpu_irq(level)`
    drives the core's IRQ input."""

    def __init__(self, set_cpu_irq: Callable[[bool], None]):
        self.set_cpu_irq = set_cpu_irq
        self.sources: dict[int, Callable[[], bool]] = {}
        self.masked = [0xFFFF_FFFF] * WORDS     # everything masked at reset
        self.sw: set[int] = set()                # software-raised IRQs
        self.cfg: dict[int, int] = {}
        self.bad_accesses: list[tuple[str, int, int, int | None]] = []
        self.events = 0                          # event reads that returned an IRQ
        self.on_unmask: Callable[[int], None] | None = None   # a driver now waits for this IRQ

    def connect(self, irq: int, line: Callable[[], bool]) -> None:
        self.sources[irq] = line

    def is_masked(self, irq: int) -> bool:
        return bool(self.masked[irq // 32] >> (irq % 32) & 1)

    def _pending(self, irq: int) -> bool:
        src = self.sources.get(irq)
        return irq in self.sw or (src is not None and bool(src()))

    def _first_deliverable(self) -> int | None:
        for irq in sorted(set(self.sources) | self.sw):
            if not self.is_masked(irq) and self._pending(irq):
                return irq
        return None

    def update(self) -> None:
        self.set_cpu_irq(self._first_deliverable() is not None)

    def read(self, offset: int, size: int) -> int:
        if size != 4:
            self.bad_accesses.append(("read", offset, size, None))
            return 0
        if offset == EVENT:
            irq = self._first_deliverable()
            if irq is None:
                value = 0
            else:
                self.masked[irq // 32] |= 1 << (irq % 32)     # the read masks it
                self.events += 1
                value = (EVENT_TYPE_HW << 16) | irq
            self.update()
            return value
        if CONFIG <= offset < SW_SET:
            return self.cfg.get((offset - CONFIG) // 4, 0)
        for base in (MASK_SET, MASK_CLR):
            if base <= offset < base + 4 * WORDS:
                return self.masked[(offset - base) // 4]
        for base in (SW_SET, SW_CLR):
            if base <= offset < base + 4 * WORDS:
                w = (offset - base) // 4
                return sum(1 << (i - 32 * w) for i in self.sw if i // 32 == w)
        if HW_STATE <= offset < HW_STATE + 4 * WORDS:
            w = (offset - HW_STATE) // 4
            return sum(1 << b for b in range(32) if self._pending(w * 32 + b))
        self.bad_accesses.append(("read", offset, size, None))
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4:
            self.bad_accesses.append(("write", offset, size, value))
            return
        value &= 0xFFFF_FFFF
        if CONFIG <= offset < SW_SET:
            self.cfg[(offset - CONFIG) // 4] = value
        elif MASK_SET <= offset < MASK_SET + 4 * WORDS:
            self.masked[(offset - MASK_SET) // 4] |= value
        elif MASK_CLR <= offset < MASK_CLR + 4 * WORDS:
            w = (offset - MASK_CLR) // 4
            opened = self.masked[w] & value
            self.masked[w] &= ~value
            if self.on_unmask is not None:
                for b in range(32):
                    if opened >> b & 1:
                        self.on_unmask(32 * w + b)
        elif SW_SET <= offset < SW_SET + 4 * WORDS:
            w = (offset - SW_SET) // 4
            self.sw.update(32 * w + b for b in range(32) if value >> b & 1)
        elif SW_CLR <= offset < SW_CLR + 4 * WORDS:
            w = (offset - SW_CLR) // 4
            self.sw.difference_update(32 * w + b for b in range(32) if value >> b & 1)
        else:
            self.bad_accesses.append(("write", offset, size, value))
            return
        self.update()
