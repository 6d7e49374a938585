"""Static check of the barriers around TLB maintenance and SCTLR_EL2 writes.

Why static: unicorn offers no hook on DSB or ISB (UC_HOOK_INSN covers only
MRS, MSR, SYS and SYSL on AArch64; qemu/target/arm/translate-a64.c
handle_sys), and QEMU executes barriers as no-ops, so a missing barrier
changes nothing in emulation while on the silicon it lets the walker see
the old table or the core use the old translation.  The run-time checker
(harness/machine/mmu_rules.py) sees the order of stores and TLBIs; this
one reads the kernel's code for the barriers between them.

The rules (Arm ARM DDI 0487 K.a D8.16.1 and B2.3.12, "TLB maintenance
instructions" D8.17; the sequence Linux uses in __flush_tlb_kernel_pgtable
and flush_tlb_all):

- every TLBI is preceded, within the 4 instructions before it, by a DSB
  of any kind with no store between that DSB and the TLBI: the table
  update must be visible to the walker before the invalidation;
- every TLBI is followed, within 4 instructions, by a DSB that is not a
  store-only variant (ISH, SY, NSH, OSH; not ISHST/NSHST/OSHST/ST),
  which waits for the invalidation to complete; and that DSB is followed,
  within 4, by an ISB or an ERET (context synchronisation, so later
  instructions use the new translations);
- every MSR SCTLR_EL2 is followed by an ISB within 2 instructions.

The windows are straight-line: a branch in between is not followed, so a
finding may need a look at the code before it is believed.
"""

from __future__ import annotations

from pathlib import Path

import capstone
from elftools.elf.elffile import ELFFile

from harness.elf import Symbols

WINDOW = 4
SCTLR_WINDOW = 2
STORE_ONLY_DSB = ("ishst", "nshst", "oshst", "st")
_ATOMIC_PREFIXES = ("ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin",
                    "swp", "cas")


def is_store(mnemonic: str, op_str: str) -> bool:
    """Any instruction that writes memory: STR/STP/STUR/STXR/STLR/ST1..4
    and the other st* forms, the LSE atomics, DC ZVA/GVA/GZVA."""
    if mnemonic.startswith("st") or mnemonic.startswith(_ATOMIC_PREFIXES):
        return True
    return mnemonic == "dc" and op_str.split(",")[0].strip() in ("zva", "gva", "gzva")


def _text_sections(elf: ELFFile):
    for sec in elf.iter_sections():
        if sec["sh_flags"] & 0x4 and sec["sh_size"]:          # SHF_EXECINSTR
            yield sec["sh_addr"], sec.data()


def find_barrier_problems(code: bytes, base: int, describe=lambda addr: "?") -> list[str]:
    """The findings for one piece of code loaded at `base`."""
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    md.skipdata = True
    insns = [(i.address, i.mnemonic, i.op_str) for i in md.disasm(code, base)]
    findings = []
    for k, (addr, mnem, ops) in enumerate(insns):
        where = f"{addr:#x} {describe(addr)}: {mnem} {ops}".rstrip()
        if mnem == "tlbi":
            findings += [f"{where}: {p}" for p in _tlbi_problems(insns, k)]
        elif mnem == "msr" and ops.split(",")[0].strip() == "sctlr_el2":
            after = insns[k + 1:k + 1 + SCTLR_WINDOW]
            if not any(m == "isb" for _a, m, _o in after):
                findings.append(f"{where}: no ISB within {SCTLR_WINDOW} instructions after it "
                                "(the new SCTLR_EL2 is not in effect for what follows)")
    return findings


def _tlbi_problems(insns: list, k: int) -> list[str]:
    problems = []
    before = insns[max(0, k - WINDOW):k]
    last = max((j for j, (_a, m, _o) in enumerate(before) if m == "dsb"), default=None)
    if last is None:
        problems.append(f"no DSB in the {WINDOW} instructions before it: the table update "
                        "may not be visible to the walker before the invalidation")
    else:
        stores = [f"{m} {o}" for _a, m, o in before[last + 1:] if is_store(m, o)]
        if stores:
            problems.append(f"a store ({stores[0]}) between the last DSB and the TLBI: "
                            "the walker may not see it before the invalidation")
    after = insns[k + 1:k + 1 + WINDOW]
    dsb = next((j for j, (_a, m, _o) in enumerate(after) if m == "dsb"), None)
    if dsb is None:
        problems.append(f"no DSB in the {WINDOW} instructions after it: nothing waits for the "
                        "invalidation to complete")
        return problems
    variant = after[dsb][2].strip()
    if variant in STORE_ONLY_DSB:
        problems.append(f"the DSB after it is dsb {variant}, which waits for stores only, not "
                        "for the TLB maintenance (use ish, nsh, osh or sy)")
        return problems
    rest = insns[k + 2 + dsb:k + 2 + dsb + WINDOW]
    if not any(m in ("isb", "eret") for _a, m, _o in rest):
        problems.append(f"no ISB or ERET in the {WINDOW} instructions after its DSB: later "
                        "instructions may still use the old translation")
    return problems


def check_barriers(elf_path: str | Path) -> list[str]:
    """Readable findings (address, symbol, instruction, what is missing)
    for every executable section of an ELF; [] when all is well."""
    path = Path(elf_path)
    symbols = Symbols(path)
    with path.open("rb") as f:
        sections = list(_text_sections(ELFFile(f)))
    findings = []
    for base, code in sections:
        findings += find_barrier_problems(code, base, lambda a: symbols.describe(a, symbols.link_base))
    return findings
