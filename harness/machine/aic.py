"""The Apple interrupt controller, AIC2 / AIC3, laid out by what the ADT says.

Why strict: the emulated M3 refuses what the silicon refuses.  A kernel
that never sets the AIC's global enable, or writes an AIC1-style CPU
bitmask into an AIC2/3 IRQ_CFG, gets no interrupt on a real M3; here it
gets none either, and describe() says why.

Sources: m1n1 src/aic.c (aic23_init: offsets from the ADT's
aic-iack-offset, cap0-offset, maxnumirq-offset, extint-baseaddress) and
src/aic_regs.h; Linux drivers/irqchip/irq-apple-aic.c (the AIC2 part:
register names, CONFIG enable, IRQ_CFG fields, event format); m1n1
proxyclient/experiments/aic2_vms.py ("AIC_IRQ_ROUTE: bits 3:0 ? only 0
works", RESET at +0x10, CONFIG enable | prefer P-cores) and
dockchannel_irq.py (sets bit 0 of base + 0x14, "Enable AIC"); the facts
collected in docs/hardware.md (The t8122 platform).

Register map, offsets from the AIC base:

  cap0_offset       CAP0 (RO): nr_irq 15:0, last_die 27:24   (AIC2: 0x4)
  maxnumirq_offset  MAXNUMIRQ (RO): max_irq 15:0, max_die 27:24 (AIC2: 0xc)
  0x10              RESET: write bit 0 to reset (UNVERIFIED what it clears:
                    here masks, SW bits, IRQ_CFG and CONFIG)
  enable_offset     CONFIG (ADT aicglbcfg-offset, 0x14): bit 0 global enable,
                    bit 28 prefer P-cores (kept, not modelled)
  config_offset     (ADT extint-baseaddress; AIC2 0x2000, AIC3 0x10000), per die,
                    die_stride apart:
                      IRQ_CFG   u32 x max_irq: route/target group 3:0, delay 7:5
                      SW_SET    u32 x max_irq/32  (write 1 to raise)
                      SW_CLR    u32 x max_irq/32  (write 1 to drop)
                      MASK_SET  u32 x max_irq/32  (write 1 to mask)
                      MASK_CLR  u32 x max_irq/32  (write 1 to unmask)
                      HW_STATE  u32 x max_irq/32  (RO: line or SW bit)
  event_offset      EVENT (ADT aic-iack-offset; AIC3 0x40000): read gives die
                    31:24, type 23:16 (1 = hardware IRQ), number 15:0 of the
                    first deliverable IRQ and masks it; 0 = nothing

Delivery (strict): an IRQ drives the core's IRQ line and appears at EVENT
only if CONFIG.enable is set, it is unmasked, its line or SW bit is high,
and its IRQ_CFG route (3:0) is 0.  An IRQ unmasked and pending but with a
non-zero route is never delivered and lands in `misrouted`; one pending
while the AIC is disabled lands in `starved`.  Level triggered: unmasking
an IRQ whose line is still high delivers it again at once.  Lower dies,
then lower numbers, first.

At hand-over CONFIG is 0 (m1n1's aic_init never sets the enable; nothing
guarantees iBoot left it set) and every IRQ is masked, IRQ_CFG 0.

strict=False is the compatibility mode today's board and kernel need
(delivery ignores CONFIG.enable and the route field); it still records
`misrouted` and `starved`, so describe() shows what the silicon would
refuse.

IRQ numbers in this API (connect, is_masked, misrouted, on_unmask) are
hwirq = die * max_irq + irq, as m1n1 counts them; die 0 is the plain
number.  Unknown offsets, writes to read-only registers, misaligned or
non-32-bit accesses read 0, do nothing and are recorded in bad_accesses.
"""

from __future__ import annotations

from typing import Callable
from harness.machine.mmio import BadAccess  # noqa: F401  (re-exported)

AIC_BASE = 0x2_D100_0000     # t8122 (docs/hardware.md, The t8122 platform)
UART0_IRQ = 757              # the debug UART (t8122 device tree)

RESET = 0x10
RESET_RESET = 1 << 0
CONFIG_ENABLE = 1 << 0
CONFIG_PREFER_PCPU = 1 << 28
IRQ_CFG_ROUTE = 0xF          # bits 3:0: only 0 works
IRQ_CFG_DELAY_SHIFT, IRQ_CFG_DELAY_MASK = 5, 0x7
EVENT_TYPE_HW = 1
EVENT_DIE_SHIFT, EVENT_TYPE_SHIFT = 24, 16

# What the t8122 ADT is expected to give (UNVERIFIED: kernel/boards/m3.inc
# holds the kernel's copy; the reg size is the ADT reg of /arm-io/aic).
T8122 = dict(version=3, event_offset=0x40000, config_offset=0x10000, cap0_offset=0x4,
             maxnumirq_offset=0xC, nr_irq=0x1000, last_die=0, max_irq=0x1000, max_die=1,
             enable_offset=0x14, size=0x184000)

# The t8122 layout as module constants (today's users and the kernel's m3.inc).
MMIO_SIZE = T8122["size"]
MAX_IRQ = T8122["max_irq"]
IRQ_CFG = T8122["config_offset"]
WORDS = MAX_IRQ // 32
SW_SET = IRQ_CFG + 4 * MAX_IRQ
SW_CLR = SW_SET + 4 * WORDS
MASK_SET = SW_CLR + 4 * WORDS        # 0x14400
MASK_CLR = MASK_SET + 4 * WORDS      # 0x14600
HW_STATE = MASK_CLR + 4 * WORDS      # 0x14800
EVENT = T8122["event_offset"]
GLOBAL_CONFIG = T8122["enable_offset"]

_REGIONS = ("SW_SET", "SW_CLR", "MASK_SET", "MASK_CLR", "HW_STATE")


class Aic:
    """An AIC2/AIC3.  `set_cpu_irq(level)` drives the core's IRQ input.
    Lines are sampled from connect()ed callables whenever the core's view
    could change: on every AIC access and whenever a device calls update()."""

    def __init__(self, set_cpu_irq: Callable[[bool], None], *, version: int = 3,
                 event_offset: int = T8122["event_offset"], config_offset: int = T8122["config_offset"],
                 cap0_offset: int = 0x4, maxnumirq_offset: int = 0xC, nr_irq: int = T8122["nr_irq"],
                 last_die: int = 0, max_irq: int = T8122["max_irq"], max_die: int = 1,
                 enable_offset: int = 0x14, size: int | None = None, strict: bool = True):
        if version not in (2, 3):
            raise ValueError(f"AIC version {version}: this model is AIC2/AIC3 only")
        if max_irq <= 0 or max_irq % 32 or not 0 < nr_irq <= max_irq or max_irq > 0xFFFF:
            raise ValueError(f"nr_irq {nr_irq} / max_irq {max_irq}: need 0 < nr_irq <= max_irq, "
                             f"max_irq a multiple of 32 below 65536")
        if not 0 <= last_die < max(max_die, 1) or max_die > 15:
            raise ValueError(f"last_die {last_die} / max_die {max_die}")
        self.set_cpu_irq = set_cpu_irq
        self.version = version
        self.strict = strict
        self.nr_irq, self.max_irq = nr_irq, max_irq
        self.last_die, self.max_die = last_die, max_die
        self.nr_die = last_die + 1
        self.cap0_offset, self.maxnumirq_offset = cap0_offset, maxnumirq_offset
        self.enable_offset, self.event_offset = enable_offset, event_offset
        # the per-die block (m1n1 aic23_init / Linux aic_of_ic_init)
        self.words = max_irq // 32
        self.irq_cfg = config_offset
        self.sw_set = config_offset + 4 * max_irq
        self.sw_clr = self.sw_set + 4 * self.words
        self.mask_set = self.sw_clr + 4 * self.words
        self.mask_clr = self.mask_set + 4 * self.words
        self.hw_state = self.mask_clr + 4 * self.words
        self.die_stride = self.hw_state + 4 * self.words - config_offset
        block_end = config_offset + self.nr_die * self.die_stride
        self.size = size if size is not None else (max(block_end, event_offset + 4) + 0x3FFF) & ~0x3FFF
        fixed = {cap0_offset: "CAP0", maxnumirq_offset: "MAXNUMIRQ", RESET: "RESET",
                 enable_offset: "CONFIG", event_offset: "EVENT"}
        if len(fixed) != 5 or any(config_offset <= off < block_end for off in fixed) or \
                any(off % 4 for off in fixed) or config_offset % 4:
            raise ValueError(f"AIC register offsets overlap or are misaligned: {fixed}, "
                             f"per-IRQ blocks {config_offset:#x}-{block_end:#x}")
        if event_offset + 4 > self.size or block_end > self.size:
            raise ValueError(f"AIC registers reach past the MMIO window of {self.size:#x}")
        self._fixed = fixed

        self.sources: dict[int, Callable[[], bool]] = {}
        self.bad_accesses: list[BadAccess] = []
        self.events = 0                          # event reads that returned an IRQ
        self.on_unmask: Callable[[int], None] | None = None   # a driver now waits for this IRQ
        self.misrouted: set[int] = set()         # pending, unmasked, route != 0: never delivered
        self.starved: set[int] = set()           # pending, unmasked, AIC not enabled
        self._reset_state()

    # ---- state --------------------------------------------------------------

    def _reset_state(self) -> None:
        self.config = 0
        self.masked = [0xFFFF_FFFF] * (self.words * self.nr_die)   # everything masked
        self.sw: set[int] = set()                                  # software-raised hwirqs
        self.cfg: dict[int, int] = {}                              # hwirq -> IRQ_CFG word

    @property
    def enabled(self) -> bool:
        return bool(self.config & CONFIG_ENABLE)

    def route(self, irq: int) -> int:
        return self.cfg.get(irq, 0) & IRQ_CFG_ROUTE

    def connect(self, irq: int, line: Callable[[], bool]) -> None:
        """Wire a device's line (a callable returning its level) to hwirq `irq`."""
        die, num = divmod(irq, self.max_irq)
        if die >= self.nr_die or num >= self.nr_irq:
            raise ValueError(f"IRQ {irq}: this AIC has {self.nr_irq} IRQs on {self.nr_die} die(s)")
        self.sources[irq] = line

    def is_masked(self, irq: int) -> bool:
        return bool(self.masked[irq // 32] >> (irq % 32) & 1)

    def _line(self, irq: int) -> bool:
        src = self.sources.get(irq)
        return src is not None and bool(src())

    def _pending(self, irq: int) -> bool:
        return irq in self.sw or self._line(irq)

    def _first_deliverable(self) -> int | None:
        """The IRQ EVENT would return now.  Notes what the silicon refuses."""
        first = None
        for irq in sorted(set(self.sources) | self.sw):
            if self.is_masked(irq) or not self._pending(irq):
                continue
            refused = False
            if not self.enabled:
                self.starved.add(irq)
                refused = True
            if self.route(irq):
                self.misrouted.add(irq)
                refused = True
            if first is None and (not refused or not self.strict):
                first = irq
        return first

    def update(self) -> None:
        self.set_cpu_irq(self._first_deliverable() is not None)

    # ---- reports --------------------------------------------------------------

    def describe(self) -> str:
        """What the AIC did and refused, for crash and run reports."""
        name = f"AIC{self.version}"
        lines = []
        if not self.enabled:
            lines.append(f"{name} not enabled (CONFIG at +{self.enable_offset:#x}, bit 0 clear)")
        for irq in sorted(self.starved):
            lines.append(f"IRQ {irq} was pending and unmasked while the AIC was not enabled")
        for irq in sorted(self.misrouted):
            lines.append(f"IRQ {irq} unmasked but routed to group {self.route(irq)} "
                         f"(IRQ_CFG bits 3:0 must be 0 on AIC2/3)")
        if lines and not self.strict and (self.starved or self.misrouted):
            lines.append("compatibility mode: the model delivered these anyway; a real M3 would not")
        if self.bad_accesses:
            shown = ", ".join(f"{a.kind} +{a.offset:#x} ({a.size} bytes): {a.reason}"
                              for a in self.bad_accesses[:4])
            more = f" and {len(self.bad_accesses) - 4} more" if len(self.bad_accesses) > 4 else ""
            lines.append(f"{len(self.bad_accesses)} bad AIC accesses: {shown}{more}")
        if not lines:
            lines.append(f"{name} enabled; {self.events} interrupts delivered, nothing refused")
        return "\n".join(lines)

    # ---- MMIO -------------------------------------------------------------------

    def _bad(self, kind: str, offset: int, size: int, value: int | None, reason: str) -> None:
        self.bad_accesses.append(BadAccess(kind, offset, size, value, reason))

    def _decode(self, offset: int) -> tuple[str, int] | None:
        """(register, hwirq or word index) of a per-IRQ block offset."""
        rel = offset - self.irq_cfg
        if rel < 0 or rel >= self.nr_die * self.die_stride:
            return None
        die, rel = divmod(rel, self.die_stride)
        if rel < 4 * self.max_irq:
            return "IRQ_CFG", die * self.max_irq + rel // 4
        region, word = divmod(rel - 4 * self.max_irq, 4 * self.words)
        return _REGIONS[region], die * self.words + word // 4

    def _word_bits(self, word: int, value: int) -> list[int]:
        return [32 * word + b for b in range(32) if value >> b & 1]

    def read(self, offset: int, size: int) -> int:
        if size != 4 or offset % 4:
            self._bad("read", offset, size, None, f"{size}-byte access at a 32-bit register")
            return 0
        if offset == self.event_offset:
            irq = self._first_deliverable()
            value = 0
            if irq is not None:
                self.masked[irq // 32] |= 1 << (irq % 32)     # the read masks it
                self.events += 1
                die, num = divmod(irq, self.max_irq)
                value = die << EVENT_DIE_SHIFT | EVENT_TYPE_HW << EVENT_TYPE_SHIFT | num
            self.update()
            return value
        if offset == self.cap0_offset:
            return self.nr_irq | self.last_die << 24
        if offset == self.maxnumirq_offset:
            return self.max_irq | self.max_die << 24
        if offset == RESET:
            return 0
        if offset == self.enable_offset:
            return self.config
        reg = self._decode(offset)
        if reg is None:
            self._bad("read", offset, size, None, "no register here")
            return 0
        kind, index = reg
        if kind == "IRQ_CFG":
            return self.cfg.get(index, 0)
        if kind in ("MASK_SET", "MASK_CLR"):
            return self.masked[index]
        bits = range(32 * index, 32 * index + 32)
        if kind in ("SW_SET", "SW_CLR"):
            return sum(1 << (i % 32) for i in bits if i in self.sw)
        return sum(1 << (i % 32) for i in bits if self._pending(i))      # HW_STATE

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4 or offset % 4:
            self._bad("write", offset, size, value, f"{size}-byte access at a 32-bit register")
            return
        value &= 0xFFFF_FFFF
        if offset in (self.event_offset, self.cap0_offset, self.maxnumirq_offset):
            self._bad("write", offset, size, value, f"{self._fixed[offset]} is read-only")
            return
        if offset == RESET:
            if value & RESET_RESET:
                self._reset_state()
        elif offset == self.enable_offset:
            self.config = value
        else:
            reg = self._decode(offset)
            if reg is None or reg[0] == "HW_STATE":
                self._bad("write", offset, size, value,
                          "no register here" if reg is None else "HW_STATE is read-only")
                return
            kind, index = reg
            if kind == "IRQ_CFG":
                self.cfg[index] = value
            elif kind == "MASK_SET":
                self.masked[index] |= value
            elif kind == "MASK_CLR":
                opened = self.masked[index] & value
                self.masked[index] &= ~value
                if self.on_unmask is not None:
                    for irq in self._word_bits(index, opened):
                        self.on_unmask(irq)
            elif kind == "SW_SET":
                self.sw.update(self._word_bits(index, value))
            else:
                self.sw.difference_update(self._word_bits(index, value))
        self.update()


class Aic3(Aic):
    """The t8122's AIC3 with the layout its ADT is expected to give
    (T8122).  strict defaults to False here: the compatibility mode
    today's kernel and tests run in (the kernel does not yet set
    CONFIG.enable and writes an AIC1-style target into IRQ_CFG).  The board
    switches strict on together with the kernel fix."""

    def __init__(self, set_cpu_irq: Callable[[bool], None], strict: bool = False, **overrides):
        super().__init__(set_cpu_irq, **{**T8122, **overrides}, strict=strict)
