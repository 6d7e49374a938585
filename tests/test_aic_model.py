"""The AIC2/AIC3 model, strict as the silicon: no global enable or a
non-zero route field means no interrupt.  Offsets and bits are written out
here from m1n1 (src/aic.c, src/aic_regs.h, proxyclient/experiments) and
Linux (drivers/irqchip/irq-apple-aic.c), not imported from the model."""

import pytest

from harness.machine import aic as aicmod
from harness.machine.aic import Aic, Aic3
from harness.machine.cpu import StopReason

# t8122 AIC3 as its ADT is expected to describe it
T8122 = dict(version=3, event_offset=0x40000, config_offset=0x10000, cap0_offset=0x4,
             maxnumirq_offset=0xC, nr_irq=0x1000, last_die=0, max_irq=0x1000, max_die=1,
             enable_offset=0x14, size=0x184000)
CONFIG = 0x14
IRQ_CFG = 0x10000
MASK_SET, MASK_CLR, HW_STATE = 0x14400, 0x14600, 0x14800
SW_SET, SW_CLR = 0x14000, 0x14200
EVENT = 0x40000
UART = 757
WORD, BIT = 4 * (UART // 32), 1 << (UART % 32)
HW = 1 << 16                      # event type 1: hardware IRQ


class Line:
    def __init__(self):
        self.high = False

    def __call__(self):
        return self.high


@pytest.fixture
def strict():
    level = []
    a = Aic(level.append, **T8122)
    line = Line()
    a.connect(UART, line)
    return a, line, level


def test_the_t8122_offsets_are_the_ones_the_kernel_uses():
    assert (aicmod.MASK_SET, aicmod.MASK_CLR, aicmod.HW_STATE) == (MASK_SET, MASK_CLR, HW_STATE)
    assert (aicmod.SW_SET, aicmod.SW_CLR, aicmod.EVENT, aicmod.IRQ_CFG) == (SW_SET, SW_CLR, EVENT, IRQ_CFG)
    assert aicmod.MMIO_SIZE == 0x184000 and aicmod.MMIO_SIZE > EVENT
    a = Aic(lambda level: None, **T8122)
    assert (a.mask_set, a.mask_clr, a.hw_state, a.die_stride) == (MASK_SET, MASK_CLR, HW_STATE, 0x4A00)


def test_hand_over_state_everything_masked_and_not_enabled(strict):
    a, _, _ = strict
    assert not a.enabled and a.read(CONFIG, 4) == 0
    assert all(a.read(MASK_SET + 4 * w, 4) == 0xFFFF_FFFF for w in range(0x1000 // 32))
    assert a.read(IRQ_CFG + 4 * UART, 4) == 0


def test_not_enabled_delivers_nothing(strict):
    a, line, level = strict
    line.high = True
    a.write(MASK_CLR + WORD, 4, BIT)                     # unmasked, line high ...
    assert level[-1] is False                            # ... but no IRQ line
    assert a.read(EVENT, 4) == 0                         # and no event
    assert not a.is_masked(UART) and a.events == 0
    assert UART in a.starved
    assert "not enabled" in a.describe()
    a.write(CONFIG, 4, 1)                                # the global enable
    assert level[-1] is True
    assert a.read(EVENT, 4) == HW | UART
    assert a.is_masked(UART) and level[-1] is False      # the read masked it
    assert a.read(EVENT, 4) == 0


def test_a_non_zero_route_blocks_delivery_and_is_reported(strict):
    a, line, level = strict
    a.write(CONFIG, 4, 1)
    a.write(IRQ_CFG + 4 * UART, 4, 1)                    # an AIC1-style "CPU 0" target
    line.high = True
    a.write(MASK_CLR + WORD, 4, BIT)
    assert level[-1] is False and a.read(EVENT, 4) == 0
    assert a.misrouted == {UART}
    assert "IRQ 757 unmasked but routed to group 1" in a.describe()
    a.write(IRQ_CFG + 4 * UART, 4, 3 << 5)               # route 0 (a delay group is fine)
    assert level[-1] is True and a.read(EVENT, 4) == HW | UART


def test_level_triggered_mask_clr_redelivers_while_the_line_is_high(strict):
    a, line, level = strict
    a.write(CONFIG, 4, 1)
    line.high = True
    unmasked = []
    a.on_unmask = unmasked.append
    a.write(MASK_CLR + WORD, 4, BIT)
    assert unmasked == [UART] and level[-1] is True
    assert a.read(EVENT, 4) == HW | UART
    a.write(MASK_CLR + WORD, 4, BIT)                     # the driver's EOI: line still high
    assert unmasked == [UART, UART] and level[-1] is True
    line.high = False
    a.update()
    assert level[-1] is False
    a.write(MASK_CLR + WORD, 4, BIT)                     # already unmasked: no callback
    assert unmasked == [UART, UART]


def test_software_raise_priority_and_hw_state(strict):
    a, line, level = strict
    a.write(CONFIG, 4, 1)
    a.write(MASK_CLR + 4 * (3 // 32), 4, 1 << 3)
    a.write(MASK_CLR + WORD, 4, BIT)
    a.write(SW_SET + WORD, 4, BIT)
    a.write(SW_SET + 0, 4, 1 << 3)
    assert a.read(SW_SET, 4) == 1 << 3 and a.read(HW_STATE + WORD, 4) == BIT
    assert a.read(EVENT, 4) == HW | 3                    # lower numbers first
    assert a.read(EVENT, 4) == HW | UART
    a.write(SW_CLR + WORD, 4, BIT)
    a.write(MASK_CLR + WORD, 4, BIT)
    assert level[-1] is False and a.read(HW_STATE + WORD, 4) == 0


def test_capability_registers_and_reset(strict):
    a, _, level = strict
    assert a.read(0x4, 4) == 0x1000                      # CAP0: nr_irq, last_die 0
    assert a.read(0xC, 4) == 0x1000 | 1 << 24            # MAXNUMIRQ: max_irq, max_die 1
    a.write(CONFIG, 4, 1 | 1 << 28)                      # enable | prefer P-cores
    assert a.read(CONFIG, 4) == 1 | 1 << 28 and a.enabled
    a.write(MASK_CLR + WORD, 4, BIT)
    a.write(IRQ_CFG + 4 * UART, 4, 2)
    a.write(0x10, 4, 1)                                  # RESET
    assert not a.enabled and a.is_masked(UART) and a.read(IRQ_CFG + 4 * UART, 4) == 0


def test_bad_accesses_read_zero_and_are_recorded(strict):
    a, _, _ = strict
    assert a.read(0x8, 4) == 0                           # nothing modelled there
    assert a.read(MASK_SET, 8) == 0                      # 64-bit access
    a.write(0x4, 4, 0xFFFF)                              # CAP0 is read-only
    a.write(HW_STATE, 4, 1)                              # so is HW_STATE
    a.write(EVENT, 4, 1)
    a.write(IRQ_CFG + 2, 4, 0)                           # misaligned
    a.read(0x100000, 4)                                  # inside the window, past every block
    kinds = [(b.kind, b.offset) for b in a.bad_accesses]
    assert kinds == [("read", 0x8), ("read", MASK_SET), ("write", 0x4), ("write", HW_STATE),
                     ("write", EVENT), ("write", IRQ_CFG + 2), ("read", 0x100000)]
    assert a.read(0x4, 4) == 0x1000                      # unchanged
    assert "bad AIC accesses" in a.describe()


def test_aic2_layout_with_two_dies():
    # t6000-style AIC2 (m1n1 aic2_vms.py: IRQ_CFG 0x2000, SW_GEN_SET 0x6000,
    # MASK_SET 0x6400, MASK_CLR 0x6600, HW_STATE 0x6800, die 1's IRQ_CFG
    # 0x6a00 and MASK_CLR 0xb000, INTERRUPT_ACK 0xc000)
    level = []
    a = Aic(level.append, version=2, event_offset=0xC000, config_offset=0x2000, cap0_offset=0x4,
            maxnumirq_offset=0xC, nr_irq=0x300, last_die=1, max_irq=0x1000, max_die=2)
    assert (a.sw_set, a.mask_set, a.mask_clr, a.hw_state) == (0x6000, 0x6400, 0x6600, 0x6800)
    assert a.size == 0x10000
    assert a.read(0x4, 4) == 0x300 | 1 << 24 and a.read(0xC, 4) == 0x1000 | 2 << 24
    line0, line1 = Line(), Line()
    a.connect(24, line0)
    a.connect(0x1000 + 5, line1)                         # die 1, IRQ 5
    line0.high = line1.high = True
    a.write(0x2000 + 4 * 24, 4, 1)                       # route 1 for die 0's IRQ 24
    a.write(0x6600, 4, 1 << 24)
    a.write(0xB000, 4, 1 << 5)
    assert level[-1] is False                            # not enabled
    a.write(0x14, 4, 1)
    assert a.read(0xC000, 4) == 1 << 24 | HW | 5         # die 1; die 0's IRQ 24 is misrouted
    assert a.misrouted == {24}
    a.write(0x6A00 + 4 * 5, 4, 0)                        # die 1's IRQ_CFG exists
    a.write(0x2000 + 4 * 24, 4, 0)
    a.write(0x6600, 4, 0)                                # no-op write
    assert a.read(0xC000, 4) == HW | 24
    with pytest.raises(ValueError):
        a.connect(0x300, Line())                         # past nr_irq


def test_compatibility_mode_delivers_but_still_reports():
    level = []
    a = Aic3(level.append)                               # today's board: strict=False
    line = Line()
    a.connect(UART, line)
    a.write(IRQ_CFG + 4 * UART, 4, 1)
    line.high = True
    a.write(MASK_CLR + WORD, 4, BIT)
    assert level[-1] is True and a.read(EVENT, 4) == HW | UART
    text = a.describe()
    assert "not enabled" in text and "routed to group 1" in text and "compatibility mode" in text
    assert Aic3(level.append, strict=True).strict


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError):
        Aic(lambda v: None, version=1)
    with pytest.raises(ValueError):
        Aic(lambda v: None, **{**T8122, "event_offset": 0x10000})    # inside the IRQ_CFG block
    with pytest.raises(ValueError):
        Aic(lambda v: None, **{**T8122, "size": 0x40000})            # event outside the window


SNIPPET = """
 movz x0, #0x2, lsl #32
 movk x0, #0xD100, lsl #16          // AIC base 0x2_D100_0000
 add x1, x0, #0x14, lsl #12         // + 0x14000
 mov w2, #0x200000                  // bit 757 % 32 = 21
 str w2, [x1, #0x65c]               // MASK_CLR + 4 * (757 / 32)
{enable}
 msr daifclr, #2                    // IRQs on
wait:
 wfi
after:
 b .
"""


@pytest.mark.parametrize("enable", [False, True])
def test_a_kernel_that_never_enables_the_aic_is_deaf(make_cpu, enable):
    code = " mov w3, #1\n str w3, [x0, #0x14]         // CONFIG.enable" if enable else ""
    cpu, syms = make_cpu(SNIPPET.format(enable=code))
    a = Aic(lambda level: cpu.raise_irq() if level else cpu.lower_irq(), **T8122)
    a.connect(UART, lambda: True)                        # a byte is waiting
    cpu.map_mmio(aicmod.AIC_BASE, a.size, a.read, a.write)
    why = cpu.run(None, 10_000)
    if enable:
        assert cpu.reg_read("x28") == 0x280              # the IRQ vector (EL2h)
        assert cpu.reg_read("x26") in (syms["wait"], syms["after"])   # taken as soon as unmasked
        assert why is StopReason.LIMIT                   # the line stays high: no WFI sleeps
    else:
        assert why is StopReason.WFI                     # nothing will ever wake it
        assert cpu.reg_read("x28") == 0                  # never interrupted
        assert a.starved == {UART}
