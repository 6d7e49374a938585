"""The implementation registers a kernel writes when it brings up an Apple
core, and the one that decides whether the core takes interrupts at all.

Why: m1n1 sets every core up before it runs anything (src/chickens.c
init_cpu, for the M3 feature set features_m3): the OS lock off, data-cache
maintenance by VA disabled (HID4 or EHID4: DISABLE_DC_MVA,
DISABLE_DC_SW_L2_OPS), NEX power gating on P-cores (HID13 reset cycles,
HID14), SIQ_CFG_EL1 = 2, the AMX context, CYC_OVRD (interrupt modes, WFI
mode), ACC_CFG (branch predictor kept across sleep) and the counter
redirect (AGTCNTRDIR_EL1, _EL12).  A chainloaded kernel gets the boot core
as m1n1 left it; a core it starts itself comes out of reset with none of
that, so the kernel does it (kernel/boards/m3/cpus.S board_core_init).
unicorn's core has none of these registers (an access is UNDEFINED), so
they are served here, per core, as plain storage that reads back what
was written (encodings: m1n1 src/cpu_regs.h).

The refusal: CYC_OVRD bits 21:20 (FIQ mode) and 23:22 (IRQ mode).  Mode 0
lets the interrupt in ("Unmask external IRQs": init_cpu writes
CYC_OVRD_FIQ_MODE(0) | CYC_OVRD_IRQ_MODE(0)); m1n1's cpu_sleep
(src/utils.c) writes mode 2 to both so that a parked core is not woken.
A core whose mode is not 0 neither takes nor wakes on that interrupt here
(El2Cpu.hold_lines).  Reset value of a secondary's CYC_OVRD: both modes 2,
ASSUMED (no source gives the reset value; held off is the strict choice:
a kernel that skips the set-up gets no timer and no IPI on that core).
The boot core's: modes 0, as init_cpu left them.
"""

from __future__ import annotations

# (op0, op1, CRn, CRm, op2): m1n1 src/cpu_regs.h
HID4 = (3, 0, 15, 4, 0)
EHID4 = (3, 0, 15, 4, 1)
HID13 = (3, 0, 15, 14, 0)
HID14 = (3, 0, 15, 15, 0)
SIQ_CFG_EL1 = (3, 4, 15, 10, 4)
AMX_CTX_EL1 = (3, 4, 15, 5, 0)
AMX_CTL_EL1 = (3, 4, 15, 1, 4)
CYC_OVRD = (3, 5, 15, 5, 0)
ACC_CFG = (3, 5, 15, 4, 0)
AGTCNTRDIR_EL1 = (3, 1, 15, 1, 5)
AGTCNTRDIR_EL12 = (3, 4, 15, 14, 6)

STORAGE = {"HID4": HID4, "EHID4": EHID4, "HID13": HID13, "HID14": HID14, "SIQ_CFG_EL1": SIQ_CFG_EL1,
           "AMX_CTX_EL1": AMX_CTX_EL1, "AMX_CTL_EL1": AMX_CTL_EL1, "ACC_CFG": ACC_CFG,
           "AGTCNTRDIR_EL1": AGTCNTRDIR_EL1, "AGTCNTRDIR_EL12": AGTCNTRDIR_EL12}

FIQ_MODE_SHIFT, IRQ_MODE_SHIFT, MODE_MASK = 20, 22, 3
CYC_OVRD_HELD = 2 << FIQ_MODE_SHIFT | 2 << IRQ_MODE_SHIFT     # a secondary out of reset (ASSUMED)
CYC_OVRD_BOOT = 0                                               # the boot core, after m1n1's init_cpu


class CoreRegs:
    """One core's implementation registers (see the module doc)."""

    def __init__(self, cpu, *, boot: bool):
        self.cpu = cpu
        self.values = {name: 0 for name in STORAGE}
        self.written: set[str] = set()
        for name, enc in STORAGE.items():
            cpu.on_sysreg(*enc, read=lambda n=name: self.values[n],
                          write=lambda v, n=name: self._store(n, v))
        self.cyc_ovrd = CYC_OVRD_BOOT if boot else CYC_OVRD_HELD
        cpu.on_sysreg(*CYC_OVRD, read=lambda: self.cyc_ovrd, write=self._write_cyc_ovrd)
        self._apply()

    def _store(self, name: str, value: int) -> None:
        self.values[name] = value & (1 << 64) - 1
        self.written.add(name)

    def _write_cyc_ovrd(self, value: int) -> None:
        self.cyc_ovrd = value & (1 << 64) - 1
        self.written.add("CYC_OVRD")
        self._apply()

    @property
    def fiq_mode(self) -> int:
        return self.cyc_ovrd >> FIQ_MODE_SHIFT & MODE_MASK

    @property
    def irq_mode(self) -> int:
        return self.cyc_ovrd >> IRQ_MODE_SHIFT & MODE_MASK

    def _apply(self) -> None:
        self.cpu.hold_lines(irq=self.irq_mode != 0, fiq=self.fiq_mode != 0)
