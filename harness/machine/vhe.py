"""The VHE *_EL12 register aliases, which unicorn 2.1.4 lacks.

With HCR_EL2.E2H = 1, EL2 reaches the EL1 registers it would otherwise
name as *_EL1 through the *_EL12 encodings (op1 = 5).  The kernel needs
them to switch domains (VBAR_EL12, SCTLR_EL12, TTBR0/1_EL12, TCR_EL12,
MAIR_EL12, AMAIR_EL12, CONTEXTIDR_EL12, AFSR0/1_EL12, CPACR_EL12,
CNTKCTL_EL12, SPSR_EL12) and to report a domain's own exceptions
(ESR_EL12, ELR_EL12, FAR_EL12).  Unicorn's QEMU has no such
aliases (every one is UNDEFINED: tests/test_domains.py checks that this
is still so and that the served ones behave), so the MRS/MSR dispatcher
serves them from the EL1 registers unicorn does have.  Served only at EL2
with E2H set, as on hardware; anywhere else they stay UNDEFINED.
"""

from __future__ import annotations

# encoding (op0, op1, CRn, CRm, op2) of the _EL12 alias -> the EL1 register
EL12_ALIASES = {
    (3, 5, 12, 0, 0): "vbar_el1",
    (3, 5, 5, 2, 0): "esr_el1",
    (3, 5, 4, 0, 1): "elr_el1",
    (3, 5, 6, 0, 0): "far_el1",
}

# The rest the domain switch saves and loads (kernel/domain.S el1_switch),
# reached by their EL1 encodings (op1 = 0) through CP_REG: the alias's
# encoding -> the EL1 register's.
EL12_BY_ENCODING = {
    (3, 5, 1, 0, 0): (3, 0, 1, 0, 0),      # SCTLR_EL12
    (3, 5, 1, 0, 2): (3, 0, 1, 0, 2),      # CPACR_EL12
    (3, 5, 2, 0, 0): (3, 0, 2, 0, 0),      # TTBR0_EL12
    (3, 5, 2, 0, 1): (3, 0, 2, 0, 1),      # TTBR1_EL12
    (3, 5, 2, 0, 2): (3, 0, 2, 0, 2),      # TCR_EL12
    (3, 5, 4, 0, 0): (3, 0, 4, 0, 0),      # SPSR_EL12
    (3, 5, 5, 1, 0): (3, 0, 5, 1, 0),      # AFSR0_EL12
    (3, 5, 5, 1, 1): (3, 0, 5, 1, 1),      # AFSR1_EL12
    (3, 5, 10, 2, 0): (3, 0, 10, 2, 0),    # MAIR_EL12
    (3, 5, 10, 3, 0): (3, 0, 10, 3, 0),    # AMAIR_EL12
    (3, 5, 13, 0, 1): (3, 0, 13, 0, 1),    # CONTEXTIDR_EL12
    (3, 5, 14, 1, 0): (3, 0, 14, 1, 0),    # CNTKCTL_EL12
}

HCR_E2H = 1 << 34


def serve_el12_aliases(cpu) -> None:
    """Register the aliases on an El2Cpu."""
    from harness.machine.exceptions import EmulatorError

    def allowed() -> None:
        if (cpu.reg_read("pstate") >> 2) & 3 != 2 or not cpu.reg_read("hcr_el2") & HCR_E2H:
            raise EmulatorError("an *_EL12 register outside EL2 with E2H: UNDEFINED on hardware",
                                cpu.reg_read("pc"))

    for key, name in EL12_ALIASES.items():
        def read(name=name) -> int:
            allowed()
            return cpu.reg_read(name)

        def write(value: int, name=name) -> None:
            allowed()
            cpu.reg_write(name, value)

        cpu.on_sysreg(*key, read=read, write=write)

    for key, el1 in EL12_BY_ENCODING.items():
        def read_enc(el1=el1) -> int:
            allowed()
            return cpu.sysreg_read(*el1)

        def write_enc(value: int, el1=el1) -> None:
            allowed()
            cpu.sysreg_write(*el1, value)

        cpu.on_sysreg(*key, read=read_enc, write=write_enc)
