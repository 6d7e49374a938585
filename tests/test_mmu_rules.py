"""The translation-rule checker (harness/machine/mmu_rules.py) and the
observation hooks it stands on (El2Cpu.observe_msr / observe_sys /
exception_listeners), on tiny 16 KiB-granule maps built by snippets.

Each rule test has a twin that does the same thing properly, so a checker
that refuses everything fails as surely as one that refuses nothing.
Layout: code and tables in the 2 MiB of RAM at CODE (the 32 MiB block
L2[1024], identity-mapped Normal); DATA is a second 32 MiB block (RAM
mapped for its first 64 KiB) whose translation the tests change, so the
code never pulls the ground from under its own feet.
"""

from __future__ import annotations

import bisect

import pytest

from asm_snippets import snippet_elf
from conftest import CODE
from harness import pagetable as pt
from harness.barriers import check_barriers
from harness.machine.cpu import StopReason
from harness.machine.mmu_rules import MmuRules, bbm_reason

BLOCK = 1 << 25
DATA = CODE + BLOCK                     # the block the tests remap (L2 index 1025)
L2 = CODE + 0x100000
L3 = CODE + 0x104000
L1 = CODE + 0x108000                    # the root of the 41-bit shape
S2L2 = CODE + 0x10C000
OUTSIDE = 0x9_0000_0000                 # no RAM, not allowed as Normal
ALLOWED = [(CODE, 2 * BLOCK)]

HCR_VHE = 1 << 34 | 1 << 31 | 1 << 27   # E2H | RW | TGE, as m1n1 leaves it
MAIR = 0xFF                             # attr 0 Normal write-back, attr 1 Device-nGnRnE
AF, SH_INNER = 1 << 10, 3 << 8
NORMAL_BLOCK = 1 | AF | SH_INNER
NORMAL_PAGE = 3 | AF | SH_INNER
DEVICE_BLOCK = 1 | AF | 1 << 2
AP_RO, PXN, UXN = 1 << 7, 1 << 53, 1 << 54
S2_BLOCK = 1 | 0xF << 2 | 3 << 6 | SH_INNER | AF          # Normal WB, S2AP RW
VTCR = 28 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 14 | 2 << 16 | 1 << 31
VMID = 5


def tcr(t0sz: int = 28) -> int:
    """TCR_EL2 in the TCR_EL1 layout (VHE): T0SZ, WB walks, inner
    shareable, TG0 = 16 KiB, EPD1 (no TTBR1 walks), IPS 40 bits."""
    return t0sz | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 14 | 1 << 23 | 2 << 32


def l2_index(va: int) -> int:
    return (va >> 25) & 2047


def enable(tlbi: bool = True, root: int = L2, t0sz: int = 28) -> str:
    return f"""
 ldr x0, ={root:#x}
 msr ttbr0_el2, x0
 ldr x0, ={MAIR:#x}
 msr mair_el2, x0
 ldr x0, ={tcr(t0sz):#x}
 msr tcr_el2, x0
 isb
 dsb ish
{" tlbi alle2" if tlbi else " nop"}
 dsb ish
 isb
enable_mmu:
 mrs x0, sctlr_el2
 orr x0, x0, #1
 msr sctlr_el2, x0
 isb
"""


def identity_tables(data: int | None = NORMAL_BLOCK) -> dict[int, int]:
    """L2: the code's block; DATA's block when `data` is not None."""
    tables = {L2 + l2_index(CODE) * 8: CODE | NORMAL_BLOCK}
    if data is not None:
        tables[L2 + l2_index(DATA) * 8] = DATA | data
    return tables


def l3_copy_of_data() -> dict[int, int]:
    """A level-3 table with the same 2048 pages as DATA's block."""
    return {L3 + i * 8: (DATA + i * 0x4000) | NORMAL_PAGE for i in range(2048)}


def labeller(syms: dict[str, int]):
    items = sorted((a, n) for n, a in syms.items() if not n.startswith("$"))
    addrs = [a for a, _ in items]

    def describe(pc: int) -> str:
        i = bisect.bisect_right(addrs, pc) - 1
        if i < 0:
            return "?"
        a, n = items[i]
        return n if a == pc else f"{n}+{pc - a:#x}"
    return describe


def machine(make_cpu, body: str, tables: dict[int, int], tlbi: bool = True, allowed=ALLOWED,
            root: int = L2, t0sz: int = 28, prologue: str | None = None, install: bool = True):
    src = (enable(tlbi, root, t0sz) if prologue is None else prologue) + body + "\n wfi\n b ."
    cpu, syms = make_cpu(src)
    cpu.map_ram(DATA, 0x10000)
    cpu.reg_write("hcr_el2", HCR_VHE)
    for addr, val in tables.items():
        cpu.uc.mem_write(addr, val.to_bytes(8, "little"))
    rules = MmuRules(cpu, allowed, describe=labeller(syms))
    if install:
        rules.install()
    return cpu, syms, rules


def ldr_desc(reg: str, value: int) -> str:
    return f" ldr {reg}, ={value:#x}\n"


# ------------------------------------------------------------ break-before-make

SPLIT_IN_ONE_STORE = f"""
{ldr_desc("x1", L2 + l2_index(DATA) * 8)}{ldr_desc("x2", L3 | 3)}
 str x2, [x1]
 dsb ishst
bad_tlbi:
 tlbi alle2
 dsb ish
 isb
"""

SPLIT_PROPERLY = f"""
{ldr_desc("x1", L2 + l2_index(DATA) * 8)}{ldr_desc("x2", L3 | 3)}
 str xzr, [x1]
 dsb ishst
 tlbi alle2
 dsb ish
 str x2, [x1]
 dsb ishst
 isb
{ldr_desc("x9", DATA + 0x8000)}
 ldr x3, [x9]
"""


def test_live_block_split_in_one_store_is_refused(make_cpu):
    tables = identity_tables() | l3_copy_of_data()
    cpu, syms, rules = machine(make_cpu, SPLIT_IN_ONE_STORE, tables)
    assert cpu.run(None, 1000) is StopReason.STOPPED
    report = rules.violation
    assert report is not None
    assert "break-before-make" in report and "D8.16.1" in report
    assert f"seen at pc {syms['bad_tlbi']:#x} bad_tlbi (TLBI ALLE2)" in report
    assert "enable_mmu" in report                     # the checkpoint before: the SCTLR write
    assert "block -> table" in report
    assert f"level 2, index {l2_index(DATA)}, at PA {L2 + l2_index(DATA) * 8:#x}" in report
    assert f"VA {DATA:#x}-{DATA + BLOCK - 1:#x}" in report
    assert f"block -> PA {DATA:#x}, Normal write-back (AttrIndx 0)" in report
    assert f"table -> next level at PA {L3:#x}" in report
    assert "EL2&0 stage 1 TTBR0_EL2" in report
    assert cpu.reg_read("pc") <= syms["bad_tlbi"] + 12   # stopped right after it


def test_live_block_split_with_break_before_make_passes(make_cpu):
    tables = identity_tables() | l3_copy_of_data()
    cpu, _syms, rules = machine(make_cpu, SPLIT_PROPERLY, tables)
    cpu.uc.mem_write(DATA + 0x8000, (0x1234).to_bytes(8, "little"))
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert rules.check() is None
    assert cpu.reg_read("x3") == 0x1234
    assert rules.live_tables == 2                     # L2 and the new L3


PAGE_ENTRY = L3 + 2 * 8                               # DATA + 0x8000


def _page_change(new: int, tlbi: str = "tlbi vale2, x4") -> str:
    return f"""
{ldr_desc("x1", PAGE_ENTRY)}{ldr_desc("x2", new)}{ldr_desc("x4", (DATA + 0x8000) >> 12)}
 str x2, [x1]
 dsb ishst
page_tlbi:
 {tlbi}
 dsb ish
 isb
"""


def _split_tables() -> dict[int, int]:
    t = identity_tables(data=None) | l3_copy_of_data()
    t[L2 + l2_index(DATA) * 8] = L3 | 3
    return t


def test_permission_only_change_of_live_page_passes(make_cpu):
    new = (DATA + 0x8000) | NORMAL_PAGE | AP_RO | PXN | UXN
    cpu, _syms, rules = machine(make_cpu, _page_change(new), _split_tables())
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert rules.check() is None


def test_output_address_change_of_live_page_without_bbm_is_refused(make_cpu):
    new = (DATA + 0xC000) | NORMAL_PAGE
    cpu, syms, rules = machine(make_cpu, _page_change(new), _split_tables())
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "another output address" in rules.violation
    assert "page_tlbi" in rules.violation
    assert f"level 3, index 2, at PA {PAGE_ENTRY:#x}" in rules.violation


def test_memory_type_change_of_live_page_without_bbm_is_refused(make_cpu):
    cpu, _syms, rules = machine(make_cpu, _page_change((DATA + 0x8000) | 3 | AF | 1 << 2), _split_tables())
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "another memory type" in rules.violation and "Device-nGnRnE" in rules.violation


def test_tlbi_by_another_va_does_not_cover_the_entry(make_cpu):
    """Break, TLBI VAE2 for the wrong page, make: the old entry may still
    be cached."""
    body = f"""
{ldr_desc("x1", PAGE_ENTRY)}{ldr_desc("x2", (DATA + 0xC000) | NORMAL_PAGE)}{ldr_desc("x4", (DATA + 0x4000) >> 12)}
 str xzr, [x1]
 dsb ishst
 tlbi vae2, x4
 dsb ish
 str x2, [x1]
 dsb ishst
 tlbi alle2
 dsb ish
 isb
"""
    cpu, _syms, rules = machine(make_cpu, body, _split_tables())
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "another output address" in rules.violation
    proper = body.replace(f"={(DATA + 0x4000) >> 12:#x}", f"={(DATA + 0x8000) >> 12:#x}")
    cpu, _syms, rules = machine(make_cpu, proper, _split_tables())
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation


# --------------------------------------------------------------- MMU enable


def test_mmu_enable_without_tlbi_after_ttbr_write_is_refused(make_cpu):
    cpu, syms, rules = machine(make_cpu, "", identity_tables(), tlbi=False)
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "TLBI ALLE2 after the last TTBR0_EL2/TCR_EL2/MAIR_EL2 write" in rules.violation
    assert "MSR SCTLR_EL2" in rules.violation and "enable_mmu" in rules.violation


def test_mmu_enable_with_tlbi_passes_and_audit_lists_the_map(make_cpu):
    cpu, _syms, rules = machine(make_cpu, "", identity_tables())
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert rules.check() is None
    maps = rules.audit()
    assert [(m.va, m.pa, m.size, m.level, m.normal, m.perms) for m in maps] == [
        (CODE, CODE, 2 * BLOCK, 2, True, "rwx")]
    assert "Normal write-back" in maps[0].memory
    assert "EL2&0 stage 1" in rules.format_map()


# ---------------------------------------------------- Normal memory outside RAM


def test_normal_mapping_outside_allowed_ranges_refused_at_enable(make_cpu):
    tables = identity_tables() | {L2 + l2_index(OUTSIDE) * 8: OUTSIDE | NORMAL_BLOCK}
    cpu, _syms, rules = machine(make_cpu, "", tables)
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "no Normal memory outside usable RAM and the framebuffer" in rules.violation
    assert f"PA {OUTSIDE:#x}-{OUTSIDE + BLOCK - 1:#x}" in rules.violation
    assert "MSR SCTLR_EL2" in rules.violation
    assert [m.pa for m in rules.mappings_outside(ALLOWED)] == [OUTSIDE]


def test_device_mapping_outside_allowed_ranges_passes(make_cpu):
    tables = identity_tables() | {L2 + l2_index(OUTSIDE) * 8: OUTSIDE | DEVICE_BLOCK}
    cpu, _syms, rules = machine(make_cpu, "", tables)
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert rules.mappings_outside(ALLOWED) == []
    assert [m.pa for m in rules.mappings_outside(ALLOWED, normal_only=False)] == [OUTSIDE]
    assert "Device-nGnRnE (AttrIndx 1)" in rules.format_map()


@pytest.mark.parametrize("desc,refused", [(NORMAL_BLOCK, True), (DEVICE_BLOCK, False)],
                         ids=["normal", "device"])
def test_mapping_added_later_outside_allowed_ranges(make_cpu, desc, refused):
    body = f"""
{ldr_desc("x1", L2 + l2_index(OUTSIDE) * 8)}{ldr_desc("x2", OUTSIDE | desc)}
 str x2, [x1]
 dsb ishst
 isb
 svc #0
"""
    cpu, _syms, rules = machine(make_cpu, body, identity_tables())
    reason = cpu.run(None, 1000)
    if refused:
        assert reason is StopReason.STOPPED
        assert "svc exception entry" in rules.violation and f"PA {OUTSIDE:#x}" in rules.violation
    else:
        assert reason is StopReason.WFI and rules.check() is None


# ------------------------------------------------- checkpoints without a TLBI

BAD_CHANGE_NO_TLBI = f"""
{ldr_desc("x1", PAGE_ENTRY)}{ldr_desc("x2", (DATA + 0xC000) | NORMAL_PAGE)}
 str x2, [x1]
 dsb ishst
 isb
"""


def test_violation_without_tlbi_caught_at_end_of_run_check(make_cpu):
    cpu, _syms, rules = machine(make_cpu, BAD_CHANGE_NO_TLBI, _split_tables())
    assert cpu.run(None, 1000) is StopReason.WFI
    assert rules.violation is None
    report = rules.check("end of run")
    assert report is not None and "another output address" in report
    assert "(end of run)" in report


def test_violation_without_tlbi_caught_at_next_exception_entry(make_cpu):
    cpu, syms, rules = machine(make_cpu, BAD_CHANGE_NO_TLBI + "\nthe_svc:\n svc #1\n", _split_tables())
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "another output address" in rules.violation
    assert f"seen at pc {syms['the_svc'] + 4:#x}" in rules.violation   # ELR: past the SVC
    assert "svc exception entry" in rules.violation


def test_tlbi_alle2_from_el1_is_undefined_and_covers_nothing(make_cpu):
    """The SYS hook fires before unicorn's access check: a TLBI ALLE2 at
    EL1 (UNDEFINED there) must not count as an invalidation."""
    body = f"""
{ldr_desc("x1", PAGE_ENTRY)}
 str xzr, [x1]
 dsb ishst
 adr x0, el1_code
 msr elr_el2, x0
 mov x0, #0x3c5
 msr spsr_el2, x0
 eret
el1_code:
 tlbi alle2
 b .
"""
    cpu, _syms, rules = machine(make_cpu, body, _split_tables())
    cpu.reg_write("hcr_el2", HCR_VHE & ~(1 << 27))                # TGE clear: EL1 may run
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    e = cpu.last_exception                                    # UNDEF, taken to EL1 itself
    assert (e.kind, e.from_el, e.target_el, e.elr) == ("udef", 1, 1, _syms["el1_code"])
    cpu.uc.mem_write(PAGE_ENTRY, ((DATA + 0xC000) | NORMAL_PAGE).to_bytes(8, "little"))
    assert "another output address" in rules.check()


# ------------------------------------------------------------ 41-bit, level-1 root


def test_three_level_shape_walks_audits_and_checks(make_cpu):
    # L1[0] -> L2; the bad store points L1[0] at a copy of L2 (at L3) in
    # one store: same translations, another table, no break.
    tables = {L1 + 0: L2 | 3, L3 + l2_index(CODE) * 8: CODE | NORMAL_BLOCK} | identity_tables()
    body = f"""
{ldr_desc("x9", DATA + 0x10)}
 ldr x3, [x9]
{ldr_desc("x1", L1)}{ldr_desc("x2", L3 | 3)}
 str x2, [x1]
 dsb ishst
l1_tlbi:
 tlbi alle2
 dsb ish
 isb
"""
    cpu, _syms, rules = machine(make_cpu, body, tables, root=L1, t0sz=23)
    cpu.uc.mem_write(DATA + 0x10, (77).to_bytes(8, "little"))
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert cpu.reg_read("x3") == 77                      # the walk from level 1 worked
    assert "another next-level table" in rules.violation and "l1_tlbi" in rules.violation
    assert f"level 1, index 0, at PA {L1:#x}; translates VA 0x0-0xfffffffff" in rules.violation
    # audit before the bad store, on a fresh machine
    cpu, _syms, rules = machine(make_cpu, "", tables, root=L1, t0sz=23)
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert [(m.va, m.size, m.level) for m in rules.audit()] == [(CODE, 2 * BLOCK, 2)]
    read = lambda a, n: bytes(cpu.uc.mem_read(a, n))  # noqa: E731
    assert pt.walk(read, L1, DATA + 0x10, va_bits=41).pa == DATA + 0x10


def test_level1_block_refused(make_cpu):
    tables = {L1 + 8: (1 << 36) | NORMAL_BLOCK, L1: L2 | 3} | identity_tables()
    cpu, _syms, rules = machine(make_cpu, "", tables, root=L1, t0sz=23, allowed=[(0, 1 << 40)])
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "level-1 blocks only with FEAT_LPA2" in rules.violation


# ------------------------------------------------------------------- stage 2

S2_PROLOGUE = f"""
 ldr x0, ={VTCR:#x}
 msr vtcr_el2, x0
 ldr x0, ={S2L2 | VMID << 48:#x}
 msr vttbr_el2, x0
 isb
"""


def _s2_change(*middle: str) -> str:
    return S2_PROLOGUE + f"""
{ldr_desc("x1", S2L2 + l2_index(CODE) * 8)}{ldr_desc("x2", DATA | S2_BLOCK)}{ldr_desc("x3", CODE >> 12)}
""" + "\n".join(middle) + """
s2_tlbi:
 tlbi alle1is
 dsb ish
 isb
"""


def _s2_machine(make_cpu, body):
    return machine(make_cpu, body, {S2L2 + l2_index(CODE) * 8: CODE | S2_BLOCK}, prologue="")


def test_stage2_change_without_bbm_is_refused(make_cpu):
    cpu, _syms, rules = _s2_machine(make_cpu, _s2_change(" str x2, [x1]", " dsb ishst"))
    assert cpu.run(None, 1000) is StopReason.STOPPED
    report = rules.violation
    assert "another output address" in report and "s2_tlbi" in report
    assert f"stage 2 VMID {VMID}" in report and f"IPA {CODE:#x}-" in report
    assert "Normal write-back (MemAttr 0xf)" in report


@pytest.mark.parametrize("tlbi", ["tlbi alle1is", "tlbi vmalls12e1is"], ids=["alle1is", "vmalls12e1is"])
def test_stage2_change_with_bbm_passes(make_cpu, tlbi):
    cpu, _syms, rules = _s2_machine(make_cpu, _s2_change(
        " str xzr, [x1]", " dsb ishst", f" {tlbi}", " dsb ish", " str x2, [x1]", " dsb ishst"))
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert rules.check() is None
    # With HCR_EL2.VM = 0 nothing can refill the TLB for the VMID after the
    # TLBI: the root is no longer live until VTTBR or HCR_EL2.VM say so.
    assert rules.audit() == []


def test_stage2_root_is_live_from_the_vttbr_write(make_cpu):
    cpu, _syms, rules = _s2_machine(make_cpu, S2_PROLOGUE)
    assert cpu.run(None, 1000) is StopReason.WFI, rules.violation
    assert [(m.regime, m.va, m.pa, m.size, m.perms, m.normal) for m in rules.audit()] == [
        (f"stage 2 VMID {VMID}", CODE, CODE, BLOCK, "rwx", True)]


def test_stage2_ipa_tlbi_alone_leaves_combined_entries(make_cpu):
    """IPAS2E1 removes stage-2-only entries; combined stage 1+2 entries
    need a VMALLE1 with the guest's context (TGE clear), as KVM's
    __kvm_tlb_flush_vmid_ipa does.  Under TGE = 1 (the host) VMALLE1 acts
    on EL2&0 instead."""
    body = _s2_change(" str xzr, [x1]", " dsb ishst", " tlbi ipas2e1is, x3", " dsb ish",
                      " str x2, [x1]", " dsb ishst")
    cpu, _syms, rules = _s2_machine(make_cpu, body)
    assert cpu.run(None, 1000) is StopReason.STOPPED
    assert "another output address" in rules.violation


@pytest.mark.parametrize("between,refused", [("", True), (" tlbi alle1is\n dsb ish", False)],
                         ids=["no-tlbi", "alle1is"])
def test_vmid_given_a_new_stage2_root(make_cpu, between, refused):
    """One VMID, two roots: the TLB may mix their translations unless a
    TLBI covering the VMID comes between (domain_free's job)."""
    body = S2_PROLOGUE + f"""
{between}
{ldr_desc("x0", L3 | VMID << 48)}
 msr vttbr_el2, x0
 isb
"""
    cpu, _syms, rules = _s2_machine(make_cpu, body)
    assert cpu.run(None, 1000) is (StopReason.STOPPED if refused else StopReason.WFI), rules.violation
    assert (rules.violation is not None) == refused
    if refused:
        assert f"gives VMID {VMID} a new stage-2 root {L3:#x}" in rules.violation


@pytest.mark.parametrize("mair,refused", [(0x44, True), (0xFF | 0x04 << 16, False)], ids=["attr0", "attr2"])
def test_mair_change_under_live_mappings(make_cpu, mair, refused):
    """Rewriting an attribute live mappings use changes their memory type
    under the TLB; an unused attribute may change."""
    body = f" ldr x0, ={mair:#x}\n msr mair_el2, x0\n isb\n"
    cpu, _syms, rules = machine(make_cpu, body, identity_tables())
    assert cpu.run(None, 1000) is (StopReason.STOPPED if refused else StopReason.WFI), rules.violation
    assert (rules.violation is not None) == refused
    if refused:
        assert "MAIR_EL2 0xff -> 0x44 changes attribute 0" in rules.violation


# ------------------------------------------------- the observation hooks


COUNTED = """
 nop
 nop
first_tlbi:
 tlbi alle2
 mov x0, #0xff
 msr mair_el2, x0
 dc civac, x1
 nop
 tlbi vmalle1
 mov x0, #0
 msr ttbr0_el2, x0
 add x1, x1, #1
 svc #2
"""


def _counted_run(make_cpu, observe: bool):
    cpu, syms = make_cpu(COUNTED)
    cpu.reg_write("x1", CODE + 0x1000)
    cpu.reg_write("hcr_el2", HCR_VHE)
    cpu.set_block_cost_fn(lambda addr, size: (3 * (size // 4) + 1, 2500 * (size // 4)))
    seen = []
    if observe:
        MmuRules(cpu, ALLOWED).install()
        cpu.observe_sys(lambda op1, crn, crm, op2: crn in (7, 8),
                        lambda enc, xt: seen.append((enc[2], cpu.instructions, cpu.cycles_conservative,
                                                     cpu.reg_read("pc") - CODE)))
        cpu.observe_msr(3, 4, 10, 2, 0, lambda v: seen.append(("mair", v, cpu.instructions,
                                                                cpu.reg_read("pc") - CODE)))
        cpu.exception_listeners.append(lambda kind, pc: seen.append((kind, cpu.instructions)))
    assert cpu.run(None, 1000) is StopReason.WFI
    return cpu.instructions, cpu.cycles_conservative, cpu.cycles_optimistic_x1000, seen


def test_observe_hooks_keep_counts_and_cycles_exact(make_cpu):
    plain = _counted_run(make_cpu, observe=False)
    watched = _counted_run(make_cpu, observe=True)
    assert watched[:3] == plain[:3]
    # Each observer saw the counts as of just before its instruction, and
    # the instruction's own PC.
    seen = watched[3]
    assert ("mair", 0xFF, 4, 16) in seen
    assert (8, 2, seen[0][2], 8) == seen[0]                   # tlbi alle2: 2 nops before it
    assert [s[0] for s in seen] == [8, "mair", 7, 8, "svc"]   # dc civac is CRn 7
    assert seen[-1] == ("svc", 12)


def test_exception_listeners_see_interrupts_and_synchronous_exceptions(make_cpu):
    cpu, syms = make_cpu(" msr daifclr, #1\nhere:\n nop\n b here")
    seen = []

    def listener(kind, pc):
        seen.append((kind, pc, cpu.instructions))
        cpu.lower_fiq()                          # as if the timer were acknowledged

    cpu.exception_listeners.append(listener)
    cpu.raise_fiq()
    assert cpu.run(None, 100) is StopReason.WFI
    assert seen == [("fiq", syms["here"], 1)]
    cpu, syms = make_cpu(" nop\nbad:\n udf #0")
    cpu.exception_listeners.append(lambda kind, pc: seen.append((kind, pc, cpu.instructions)))
    assert cpu.run(None, 100) is StopReason.WFI
    assert seen[-1] == ("udef", syms["bad"], 1)


def test_observed_msr_still_writes_and_tlbi_still_flushes(make_cpu):
    cpu, _syms = make_cpu(" mov x0, #0x44\n msr mair_el2, x0\n tlbi alle2\n wfi")
    got = []
    cpu.observe_msr(3, 4, 10, 2, 0, lambda v: got.append((v, cpu.reg_read("mair_el2"))))
    cpu.reg_write("mair_el2", 0x11)
    assert cpu.run(None, 100) is StopReason.WFI
    assert got == [(0x44, 0x11)]                              # before the write, with the new value
    assert cpu.reg_read("mair_el2") == 0x44


def test_observer_error_is_reported_after_the_run(make_cpu):
    cpu, _syms = make_cpu(" tlbi alle2\n nop\n wfi")

    def broken(enc, xt):
        raise ValueError("observer broke")

    cpu.observe_sys([(4, 8, 7, 0)], broken)
    with pytest.raises(ValueError, match="observer broke"):
        cpu.run(None, 100)


def test_bbm_reason_table():
    page = 0x8_0000_0000 | NORMAL_PAGE
    assert bbm_reason(page, page | AP_RO | PXN | UXN, 3, 1) is None
    assert bbm_reason(page, page & ~AF, 3, 1) is None
    assert bbm_reason(page, page | 0xF << 55, 3, 1) is None              # software bits
    assert bbm_reason(page, page | 1 << 11, 3, 1) is None                # setting nG
    assert bbm_reason(page | 1 << 11, page, 3, 1) == "nG cleared (non-global -> global)"
    assert bbm_reason(page, page ^ 0x4000, 3, 1) == "another output address"
    assert bbm_reason(page, page | 1 << 2, 3, 1) == "another memory type"
    assert bbm_reason(page, page & ~SH_INNER, 3, 1) == "another shareability"
    assert "contiguous" in bbm_reason(page, page | 1 << 52, 3, 1)
    assert bbm_reason(CODE | NORMAL_BLOCK, L3 | 3, 2, 1) == "block -> table"
    assert bbm_reason(L3 | 3, L2 | 3, 2, 1) == "another next-level table"
    assert bbm_reason(L3 | 3, L3 | 3 | 1 << 63, 2, 1) is None           # NSTable/APTable bits
    assert bbm_reason(CODE | S2_BLOCK, CODE | S2_BLOCK & ~(1 << 7), 2, 2) is None   # S2AP
    assert bbm_reason(CODE | S2_BLOCK, (CODE | S2_BLOCK) ^ 0x3 << 2, 2, 2) == "another memory type"


# ------------------------------------------------------------- static barriers

GOOD_SEQUENCE = """
good:
 str xzr, [x1]
 dsb ishst
 tlbi vae2is, x0
 dsb ish
 isb
 mrs x0, sctlr_el2
 msr sctlr_el2, x0
 isb
 ret
"""

BAD_SEQUENCES = """
no_dsb_before:
 str xzr, [x1]
 tlbi alle2
 dsb ish
 isb
 ret
store_after_dsb:
 dsb ishst
 str xzr, [x1]
 tlbi alle2
 dsb ish
 isb
 ret
store_dsb_after:
 dsb ish
 tlbi alle2
 dsb ishst
 isb
 ret
no_isb:
 dsb ish
 tlbi alle1is
 dsb ish
 mov x0, #0
 mov x0, #0
 mov x0, #0
 mov x0, #0
 ret
sctlr_no_isb:
 msr sctlr_el2, x0
 nop
 nop
 ret
"""


def test_check_barriers_accepts_the_proper_sequence():
    assert check_barriers(snippet_elf(GOOD_SEQUENCE + " b .")) == []


def test_check_barriers_finds_each_missing_barrier():
    findings = check_barriers(snippet_elf(BAD_SEQUENCES))
    text = "\n".join(findings)
    assert len(findings) == 5, text
    assert "no_dsb_before+0x4: tlbi alle2: no DSB in the 4 instructions before it" in text
    assert "store_after_dsb+0x8: tlbi alle2: a store (str xzr, [x1]) between the last DSB" in text
    assert "store_dsb_after+0x4: tlbi alle2: the DSB after it is dsb ishst" in text
    assert "no_isb+0x4: tlbi alle1is: no ISB or ERET" in text
    assert "sctlr_no_isb: msr sctlr_el2, x0: no ISB within 2" in text


def test_installing_adds_no_unicorn_hook_and_protects_nothing(make_cpu, monkeypatch):
    """The checker must cost nothing on ordinary instructions: it adds no
    unicorn hook at all (a UC_HOOK_MEM_* would put every load and store on
    the slow path: tcg_uc_has_hookmem) and never calls mem_protect; it
    rides on El2Cpu's native MSR/SYS hooks, registered once at start."""
    cpu, _syms = make_cpu(" wfi")
    calls = []
    monkeypatch.setattr(cpu.uc, "hook_add", lambda *a, **k: calls.append(("hook_add", a)))
    monkeypatch.setattr(cpu.uc, "mem_protect", lambda *a, **k: calls.append(("mem_protect", a)))
    MmuRules(cpu, ALLOWED).install()
    assert cpu.run(None, 100) is StopReason.WFI
    assert calls == []
