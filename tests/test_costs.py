"""The cycle model: every cost-table entry against a hand-counted snippet,
run for real in the emulated CPU with the model installed."""

import json

import pytest

from harness.costs import (ASSUMED, TABLE, CostModel, classify, load_memory_overrides, load_overrides,
                           model_from)
from harness.machine.cpu import StopReason

# (class, instruction); every entry of the table has at least one.
SAMPLES = [
    ("alu", "add x1, x1, #1"), ("alu", "mov x2, x3"), ("alu", "eor x4, x4, x5"),
    ("alu_shift", "add x1, x2, x3, lsl #3"), ("alu_shift", "sub x1, x2, w3, uxtw"),
    ("mul", "mul x1, x2, x3"), ("mul", "umulh x1, x2, x3"),
    ("div", "udiv x1, x2, x3"), ("div", "sdiv x1, x2, x3"),
    ("load", "ldr x1, [x9]"), ("load", "ldp x1, x2, [x9]"), ("load", "ldrb w1, [x9, #1]"),
    ("store", "str x1, [x9]"), ("store", "stp x1, x2, [x9]"),
    ("branch", "b 1f\n1:"), ("branch_cond", "cbz xzr, 1f\n1:"), ("branch_cond", "b.eq 1f\n1:"),
    ("cas", "cas x1, x2, [x9]"), ("casal", "casal x1, x2, [x9]"),
    ("atomic_rmw", "ldadd x1, x2, [x9]"), ("atomic_rmw", "swp x1, x2, [x9]"),
    ("store_exclusive", "stxr w1, x2, [x9]"),
    ("dmb", "dmb ish"), ("dsb", "dsb ish"), ("isb", "isb"),
    ("msr_tpidr_el0", "msr tpidr_el0, x1"), ("msr_fpcr", "msr fpcr, xzr"),
    ("mrs_counter", "mrs x1, cntvct_el0"), ("mrs_cntfrq", "mrs x1, cntfrq_el0"),
    ("mrs_el0", "mrs x1, tpidr_el0"),
    ("msr_sys", "msr tpidr_el2, x1"), ("mrs_sys", "mrs x1, tpidr_el2"),
    ("dc_ic", "dc cvau, x9"), ("dc_ic", "ic ivau, x9"), ("dc_zva", "dc zva, x9"),
    ("tlbi", "tlbi alle2"), ("at", "at s1e2r, x9"),
    ("fp_simd", "fadd d0, d1, d2"), ("fp_simd", "add v0.4s, v1.4s, v2.4s"),
    ("nop", "nop"),
]
# Classes that need a special machine state to execute: checked by
# classification only (their charging is exercised by the kernel tests).
NOT_RUN = {"exception_entry", "exception_insn", "eret", "wait"}


def test_every_table_entry_has_a_sample():
    assert {c for c, _ in SAMPLES} | NOT_RUN == set(TABLE)


def test_every_entry_names_its_source():
    for key, cost in TABLE.items():
        assert cost.source.startswith(("measured", "assumed", "model rule")), key
    # the unmeasured costs of cycle-model.md are labelled as assumptions
    for key in ("exception_entry", "eret", "msr_sys", "mrs_sys", "tlbi", "dc_ic"):
        assert TABLE[key].source == ASSUMED


def _run(make_cpu, body: str, repeat: int = 10):
    src = " adr x9, data\n" + "\n".join([body] * repeat) + "\n wfi\n b .\n.balign 64\ndata: .space 64\n"
    cpu, _ = make_cpu(src)
    CostModel().install(cpu)
    assert cpu.run(None, 10_000) == StopReason.WFI
    return cpu


@pytest.mark.parametrize("cls,insn", SAMPLES, ids=[f"{c}:{i.split(chr(10))[0]}" for c, i in SAMPLES])
def test_cost_entry_against_hand_count(make_cpu, cls, insn):
    cm = CostModel()
    cons, opt = cm.charge(cls)
    n = 10
    cpu = _run(make_cpu, insn, n)
    # adr (alu) + n * insn + wfi (not charged): the hand count
    adr_c, adr_o = cm.charge("alu")
    assert cpu.instructions == 1 + n + 1
    assert cpu.cycles_conservative == adr_c + n * cons, cls
    assert cpu.cycles_optimistic_x1000 == adr_o + n * opt, cls


def test_conservative_rules():
    cm = CostModel()
    assert cm.charge("load")[0] == 4                 # L1-hit latency
    assert cm.charge("alu")[0] == 1                  # one per cycle at best
    assert cm.charge("dmb")[0] == 3                  # 2.9 rounded up, never down
    assert cm.charge("isb") == (28, 28000)
    assert cm.charge("mrs_cntfrq")[0] == 9
    assert cm.charge("wait") == (0, 0)


def test_fixed_snippet_instruction_count_is_exact(make_cpu):
    # 1 + 3 * (4-instruction loop body) + final: hand count 1 + 12 + 1
    cpu, _ = make_cpu(" mov x0, #3\n1: add x1, x1, #1\n sub x0, x0, #1\n nop\n"
                      " cbnz x0, 1b\n wfi\n b .\n")
    CostModel().install(cpu)
    cpu.run(None, 1000)
    assert cpu.instructions == 14
    assert cpu.cycles_conservative == 13         # every one 1 cycle, WFI free


def test_exception_entry_is_charged(make_cpu):
    cpu, _ = make_cpu(" svc #1\n")
    cm = CostModel()
    cm.install(cpu)
    cpu.run(None, 1000)
    # svc + entry + the vector's mov + 4 mrs + wfi (free)
    svc, entry, mov, mrs = (cm.charge(c)[0] for c in ("exception_insn", "exception_entry", "alu", "mrs_sys"))
    assert cpu.cycles_conservative == svc + entry + mov + 4 * mrs
    # all of the entry and the four MRS above their one-cycle floor are assumptions
    assert cpu.cycles_assumed_x1000 == 1000 * (entry + 4 * (mrs - 1))


def test_assumptions_are_ranges_the_models_bracket():
    """Conservative takes the high end of an assumption, optimistic the low
    end; the ones the audit named are real ranges, not points."""
    for key, cost in TABLE.items():
        assert cost.optimistic <= cost.conservative, key
    for key in ("exception_entry", "eret", "msr_sys", "tlbi", "dc_ic", "at"):
        assert TABLE[key].optimistic < TABLE[key].conservative, key


def test_assumed_share_of_a_block(make_cpu):
    """Measured instructions add nothing to the assumed share; an assumed
    one adds what it costs above one cycle."""
    cm = CostModel()
    cpu = _run(make_cpu, "add x1, x1, #1\n ldr x2, [x9]", 10)
    assert cpu.cycles_assumed_x1000 == 0
    cpu = _run(make_cpu, "msr tpidr_el2, x1", 10)
    assert cpu.cycles_assumed_x1000 == 10 * 1000 * (cm.charge("msr_sys")[0] - 1)


def test_classify_examples():
    assert classify("ldr", "x0, [x1]") == "load"
    assert classify("ldaxr", "x0, [x1]") == "load"
    assert classify("ldaddal", "x0, x1, [x2]") == "atomic_rmw"
    assert classify("casal", "x0, x1, [x2]") == "casal"
    assert classify("stlxr", "w0, x1, [x2]") == "store_exclusive"
    assert classify("msr", "daifset, #2") == "msr_sys"
    assert classify("mrs", "x0, s3_2_c15_c0_0") == "mrs_sys"
    assert classify("ret", "") == "branch_cond"
    assert classify("sub", "sp, sp, #16") == "alu"


def test_overrides_replace_assumptions_only(tmp_path):
    f = tmp_path / "costs.json"
    f.write_text(json.dumps({"exception_entry": {"conservative": 55, "optimistic": 40}}))
    table = load_overrides(f)
    assert CostModel(table).charge("exception_entry") == (55, 40000)
    assert "override" in table["exception_entry"].source
    f.write_text(json.dumps({"load": {"conservative": 1}}))
    with pytest.raises(ValueError, match="not an assumption"):
        load_overrides(f)
    f.write_text(json.dumps({"nonsense": {"conservative": 1}}))
    with pytest.raises(ValueError, match="no entry 'nonsense'"):
        load_overrides(f)
    f.write_text("{not json")
    with pytest.raises(ValueError, match="cost overrides"):
        load_overrides(f)
    f.write_text(json.dumps({"eret": {"conservative": -3}}))
    with pytest.raises(ValueError, match="non-negative"):
        load_overrides(f)
    f.write_text(json.dumps({"eret": {"low": 60, "high": 40}}))
    with pytest.raises(ValueError, match="low end is above"):
        load_overrides(f)
    f.write_text(json.dumps({"eret": {"low": 20, "high": 40}}))
    assert CostModel(load_overrides(f)).charge("eret") == (40, 20000)


def test_memory_overrides_replace_assumed_parameters_only(tmp_path):
    f = tmp_path / "costs.json"
    f.write_text(json.dumps({"l2_hit": {"low": 15, "high": 25}}))
    memory = load_memory_overrides(f)
    assert (memory["l2_hit"].optimistic, memory["l2_hit"].conservative) == (15, 25)
    assert model_from(f).memory["l2_hit"].high == 25
    f.write_text(json.dumps({"store_buffer": {"low": 1}}))
    with pytest.raises(ValueError, match="measured, not an assumption"):
        load_memory_overrides(f)
    f.write_text(json.dumps({"l2_hit": {"conservative": 30}}))
    with pytest.raises(ValueError, match="takes low and/or high"):
        load_memory_overrides(f)
