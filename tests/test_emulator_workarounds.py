"""Regression pins for docs/emulation.md (unicorn 2.1.4 at EL2).

Each test pins one fact the harness relies on, either on raw unicorn (the
quirk itself) or through El2Cpu (the workaround).  If a unicorn upgrade
changes one of these behaviours, the matching test fails and names it.
"""

from __future__ import annotations

import sys
import time

import pytest
from unicorn import UC_ARCH_ARM64, UC_HOOK_BLOCK, UC_HOOK_INSN, UC_HOOK_INTR, UC_MODE_ARM, Uc
from unicorn import arm64_const as A

from asm_snippets import assemble_snippet
from conftest import CODE, VECTOR_ENTRY_INSNS
from harness.machine import exceptions as exc
from harness.machine.cpu import El2Cpu, EmulatorError, StopReason, measure_speed
from harness.machine.exceptions import decode_esr
from harness.machine.sysregs import APPLE_PMC0, APPLE_PMC1, CNTVCT_EL0

SCR = (3, 6, 1, 1, 0)
END = (1 << 64) - 1
MMIO = 0x2_0000_0000


def raw_uc(src: str, scr: int = 0x30501, refresh: bool = True, model: int = A.UC_CPU_ARM64_MAX):
    """A bare unicorn CPU at EL2 (optionally without the flag refresh) with
    `src` loaded at CODE."""
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM, model)
    uc.cpr_write(*SCR, scr)
    uc.reg_write(A.UC_ARM64_REG_PSTATE, 0x3C9)
    if refresh:
        uc.cpr_write(*SCR, scr)
    uc.mem_map(CODE, 0x10000)
    code, syms = assemble_snippet(src, CODE)
    uc.mem_write(CODE, code)
    return uc, syms


def intr_log(uc: Uc, stop: bool = True) -> list:
    """Record (QEMU exception number, PC offset, syndrome) of each UC_HOOK_INTR."""
    reader = exc.ContextReader(uc)
    offset = exc.calibrate_record_offset()
    log = []

    def hook(uc, intno, _):
        rec = exc.read_record(reader, offset)
        log.append((intno, uc.reg_read(A.UC_ARM64_REG_PC) - CODE, rec.syndrome))
        if stop:
            uc.emu_stop()

    uc.hook_add(UC_HOOK_INTR, hook)
    return log


# ---------------------------------------------------------------- EL2 entry


def test_pstate_write_alone_leaves_currentel_1():
    uc, _ = raw_uc("mrs x0, currentel\n b .", refresh=False)
    uc.emu_start(CODE, END, count=2)
    assert uc.reg_read(A.UC_ARM64_REG_PSTATE) == 0x3C9  # stored...
    assert uc.reg_read(A.UC_ARM64_REG_X0) >> 2 == 1     # ...but QEMU's flags still say EL1


def test_el2cpu_enters_el2h(make_cpu):
    cpu, _ = make_cpu("mrs x0, currentel\n mrs x1, spsel\n mrs x2, daif\n wfi")
    assert cpu.run(None, 100) is StopReason.WFI
    assert cpu.reg_read("x0") >> 2 == 2
    assert cpu.reg_read("x1") == 1
    assert cpu.reg_read("x2") == 0x3C0
    assert cpu.reg_read("scr_el3") == 0x30501 | 0x30  # QEMU reads back RES1 bits 5:4


def test_scr_el3_hce_needed_for_hvc():
    for scr, expect in ((0x30501, (11, 4, 0x5A000007)), (0x30501 & ~(1 << 8), (1, 0, 0x02000000))):
        uc, _ = raw_uc("hvc #7", scr=scr)
        log = intr_log(uc)
        uc.emu_start(CODE, END, count=4)
        assert log[0] == expect, hex(scr)


def test_scr_el3_rw_needed_for_eret_to_el2():
    src = """
 adr x0, 1f
 msr elr_el2, x0
 mov x0, #0x3c9
 msr spsr_el2, x0
 eret
1: b .
"""
    for scr, illegal in ((0x30501, False), (0x30501 & ~(1 << 10), True)):
        uc, syms = raw_uc(src, scr=scr)
        uc.emu_start(CODE, END, count=8)
        assert uc.reg_read(A.UC_ARM64_REG_PC) == CODE + 20
        assert bool(uc.reg_read(A.UC_ARM64_REG_PSTATE) & (1 << 20)) == illegal  # PSTATE.IL


def test_scr_el3_api_needed_for_pac_and_pac_trap_syndrome_is_zero():
    src = """
 mrs x2, sctlr_el2
 orr x2, x2, #(1 << 31)   // EnIA: otherwise PAC instructions are NOPs
 msr sctlr_el2, x2
 isb
 pacia x0, x1
 b .
"""
    uc, _ = raw_uc(src)
    log = intr_log(uc)
    uc.emu_start(CODE, END, count=10)
    assert log == []
    uc, _ = raw_uc(src, scr=0x30501 & ~(3 << 16))
    log = intr_log(uc)
    uc.emu_start(CODE, END, count=10)
    assert log == [(1, 0x10, 0)]  # trapped, and the syndrome reads 0 (QEMU quirk)


def test_max_model_has_lse_atomics_a72_does_not():
    src = f"""
 ldr x9, ={CODE + 0x8000:#x}
 mov x1, #5
 ldadd x1, x2, [x9]
 casal x2, x3, [x9]
 b .
"""
    uc, _ = raw_uc(src)
    log = intr_log(uc)
    uc.emu_start(CODE, END, count=6)
    assert log == []
    uc, _ = raw_uc(src, model=A.UC_CPU_ARM64_A72)
    log = intr_log(uc)
    uc.emu_start(CODE, END, count=6)
    assert log[0][:2] == (1, 8)  # ldadd is UNDEF on A72


def test_cp_reg_only_registers_reachable(make_cpu):
    cpu, _ = make_cpu("wfi")
    cpu.reg_write("spsr_el2", 0x3C5)
    hcr = 1 << 34 | 1 << 31 | 1 << 27  # E2H | RW | TGE (VHE, as m1n1 leaves it)
    cpu.reg_write("hcr_el2", hcr)
    assert cpu.reg_read("spsr_el2") == 0x3C5
    assert cpu.sysreg_read(3, 4, 4, 0, 0) == 0x3C5
    assert cpu.reg_read("hcr_el2") == hcr


# --------------------------------------------------- synchronous exceptions


def test_calibration_finds_exactly_one_offset():
    # 3064 on the 2.1.4 wheel; calibrate_record_offset raises unless the
    # search finds exactly one candidate.
    assert exc.calibrate_record_offset() == 3064
    assert El2Cpu().record_offset == 3064


def test_unhooked_exception_is_retried_not_delivered():
    uc, _ = raw_uc("udf #0")
    log = intr_log(uc, stop=False)

    def stop_after_3(uc, intno, _):
        if len(log) >= 3:
            uc.emu_stop()

    uc.hook_add(UC_HOOK_INTR, stop_after_3)
    uc.emu_start(CODE, END)
    assert [e[:2] for e in log] == [(1, 0)] * 3  # same instruction again and again
    assert uc.reg_read(A.UC_ARM64_REG_ELR_EL2) == 0


def test_svc_entry(make_cpu):
    cpu, syms = make_cpu("mov x0, #1\n svc #0x1234\n b .")
    assert cpu.run(None, 100) is StopReason.WFI
    assert cpu.reg_read("x28") == 0x200            # same EL, SP_ELx, synchronous
    assert cpu.reg_read("x27") == 0x56001234
    assert cpu.reg_read("x26") == CODE + 8          # ELR: past the SVC
    assert cpu.reg_read("x25") == 0x3C9             # SPSR: the old PSTATE
    assert cpu.reg_read("pstate") & 0x3FF == 0x3C9  # EL2h, DAIF masked
    assert cpu.last_exception.kind == "svc"
    assert cpu.instructions == 2 + VECTOR_ENTRY_INSNS


def test_hvc_ec(make_cpu):
    cpu, _ = make_cpu("hvc #0x42\n b .")
    cpu.run(None, 100)
    assert cpu.reg_read("x27") == 0x5A000042
    assert decode_esr(cpu.reg_read("x27")).startswith("EC 0x16 HVC (AArch64)")


def test_udf_esr(make_cpu):
    cpu, _ = make_cpu("nop\n udf #0\n b .")
    cpu.run(None, 100)
    assert cpu.reg_read("x27") == 0x02000000
    assert cpu.reg_read("x26") == CODE + 4          # ELR: the UDF itself
    assert cpu.instructions == 1 + VECTOR_ENTRY_INSNS


def test_misaligned_ldxr_data_abort_with_far(make_cpu):
    cpu, _ = make_cpu(f"ldr x9, ={CODE + 0x10001:#x}\n ldxr x0, [x9]\n b .")
    cpu.run(None, 100)
    assert cpu.reg_read("x27") == 0x96000021
    assert cpu.reg_read("x24") == CODE + 0x10001
    assert "alignment fault" in decode_esr(0x96000021)


def test_ordinary_misaligned_load_ignores_sctlr_a(make_cpu):
    cpu, _ = make_cpu(f"""
 mrs x0, sctlr_el2
 orr x0, x0, #2       // SCTLR_EL2.A
 msr sctlr_el2, x0
 ldr x9, ={CODE + 0x10001:#x}
 ldr x1, [x9]
 wfi""")
    assert cpu.run(None, 100) is StopReason.WFI
    assert cpu.last_exception is None


def test_eret_el2_to_el2_and_el1_native_then_hvc_to_lower_el_vector(make_cpu):
    cpu, syms = make_cpu("""
 adr x0, el2_again
 msr elr_el2, x0
 mov x0, #0x3c9
 msr spsr_el2, x0
 eret
el2_again:
 mrs x10, currentel
 mov x0, #(1 << 31)   // HCR_EL2.RW: EL1 is AArch64
 msr hcr_el2, x0
 adr x0, at_el1
 msr elr_el2, x0
 mov x0, #0x3c5        // EL1h, DAIF masked
 msr spsr_el2, x0
 eret
at_el1:
 mrs x11, currentel
 hvc #5
 b .""")
    assert cpu.run(None, 200) is StopReason.WFI
    assert cpu.reg_read("x10") >> 2 == 2
    assert cpu.reg_read("x11") >> 2 == 1
    assert cpu.reg_read("x28") == 0x400                    # from a lower EL, AArch64
    assert cpu.reg_read("x27") == 0x5A000005
    assert cpu.reg_read("x25") == 0x3C5                    # SPSR: came from EL1h
    assert cpu.reg_read("x26") == syms["at_el1"] + 8


def test_svc_at_el1_goes_to_el1_when_not_routed(make_cpu):
    cpu, syms = make_cpu("""
 mov x0, #(1 << 31)   // HCR_EL2.RW only: SVC from EL1 targets EL1
 msr hcr_el2, x0
 adr x0, at_el1
 msr elr_el2, x0
 mov x0, #0x3c5
 msr spsr_el2, x0
 eret
at_el1:
 svc #9
 b .""")
    assert cpu.run(None, 200) is StopReason.WFI
    assert cpu.reg_read("x28") == 0x200 and cpu.reg_read("x27") == 0x56000009
    assert cpu.reg_read("pc") >= syms["vectors_el1"] and cpu.last_exception.target_el == 1


def test_exception_refused_without_vbar(make_cpu):
    cpu, _ = make_cpu("nop\n nop\n udf #1\n b .", vbar=False)
    assert cpu.run(None, 100) is StopReason.EXCEPTION
    info = cpu.last_exception
    assert (info.kind, info.esr, info.elr, info.delivered) == ("udef", 0x02000000, CODE + 8, False)
    assert cpu.instructions == 2
    assert "UNDEFINED" in info.describe()


def test_on_exception_hook_can_refuse(make_cpu):
    cpu, _ = make_cpu("svc #1\n b .")
    seen = []
    cpu.on_exception(lambda kind, esr, far, elr: seen.append((kind, esr, elr)) or False)
    assert cpu.run(None, 100) is StopReason.EXCEPTION
    assert seen == [("svc", 0x56000001, CODE + 4)]


# ---------------------------------------------------------- time and timers


def test_generic_timer_writes_dropped_and_cntpct_is_host_time():
    src = """
 mov x0, #1234
 mov x1, #1
 msr cnthp_cval_el2, x0
 msr cnthp_ctl_el2, x1
 msr cntp_cval_el0, x0
 msr cntp_ctl_el0, x1
 mrs x2, cnthp_cval_el2
 mrs x3, cnthp_ctl_el2
 mrs x4, cntp_cval_el0
 mrs x5, cntp_ctl_el0
 mrs x6, cntpct_el0
 b ."""
    uc, _ = raw_uc(src)
    uc.emu_start(CODE, END, count=12)
    assert [uc.reg_read(getattr(A, f"UC_ARM64_REG_X{i}")) for i in range(2, 6)] == [0, 0, 0, 0]
    first = uc.reg_read(A.UC_ARM64_REG_X6)
    time.sleep(0.02)
    uc, _ = raw_uc(src)
    uc.emu_start(CODE, END, count=12)
    assert uc.reg_read(A.UC_ARM64_REG_X6) != first  # not deterministic: the harness models time


def test_wfi_returns_from_emu_start_with_pc_after():
    uc, _ = raw_uc("nop\n wfi\n mov x5, #5\n wfi")
    uc.emu_start(CODE, END)
    assert uc.reg_read(A.UC_ARM64_REG_PC) == CODE + 8
    uc.emu_start(CODE + 8, END)                    # and it resumes
    assert uc.reg_read(A.UC_ARM64_REG_X5) == 5


def test_wfi_fast_forwards_to_deadline_then_fiq(make_cpu):
    cpu, syms = make_cpu("""
 msr daifclr, #1      // unmask FIQ
 wfi
after:
 mov x5, #5
 b .""")
    fired = []
    cpu.set_event_deadline(1000, lambda: (fired.append(cpu.now), cpu.raise_fiq()))
    # The FIQ line stays raised, so the handler's own WFI wakes at once and
    # the run ends at the limit in its `b .`.
    assert cpu.run(None, 10_000) is StopReason.LIMIT
    assert fired == [1000]
    assert cpu.reg_read("x28") == 0x300 and cpu.reg_read("x26") == syms["after"]
    assert cpu.now - cpu.instructions == 1000 - 2    # idle time is not instructions


def test_deadline_fires_at_exact_instruction(make_cpu):
    cpu, _ = make_cpu("b .")
    fired = []
    cpu.set_event_deadline(500, lambda: fired.append(cpu.instructions))
    assert cpu.run(None, 1000) is StopReason.LIMIT
    assert fired == [500] and cpu.instructions == 1000


# ------------------------------------------------------------ MRS/MSR hooks


def test_raw_mrs_hook_skip_needs_pc_advance_for_undef_register():
    uc, _ = raw_uc("mrs x0, s3_2_c15_c0_0\n mov x1, #1\n b .")
    calls = []

    def hook(uc, reg, cp, _):
        calls.append(cp)
        uc.reg_write(reg, 0x77)
        if len(calls) >= 5:
            uc.emu_stop()
        return 1  # skipped, but PC not advanced

    uc.hook_add(UC_HOOK_INSN, hook, None, 1, 0, A.UC_ARM64_INS_MRS)
    uc.emu_start(CODE, END)
    assert len(calls) == 5 and uc.reg_read(A.UC_ARM64_REG_X1) == 0  # repeats forever

    uc, _ = raw_uc("mrs x0, s3_2_c15_c0_0\n mov x1, #1\n b .")

    def hook2(uc, reg, cp, _):
        uc.reg_write(reg, 0x77)
        uc.reg_write(A.UC_ARM64_REG_PC, uc.reg_read(A.UC_ARM64_REG_PC) + 4)
        return 1

    uc.hook_add(UC_HOOK_INSN, hook2, None, 1, 0, A.UC_ARM64_INS_MRS)
    uc.emu_start(CODE, END, count=3)
    assert uc.reg_read(A.UC_ARM64_REG_X0) == 0x77 and uc.reg_read(A.UC_ARM64_REG_X1) == 1


def test_raw_only_first_mrs_hook_fires():
    uc, _ = raw_uc("mrs x0, midr_el1\n b .")
    fired = []
    for name in ("first", "second"):
        uc.hook_add(UC_HOOK_INSN, lambda uc, r, cp, _, n=name: fired.append(n) or 0,
                    None, 1, 0, A.UC_ARM64_INS_MRS)
    uc.emu_start(CODE, END, count=2)
    assert fired == ["first"]


def test_apple_registers_undef_natively_served_by_dispatcher(make_cpu):
    uc, _ = raw_uc("mrs x0, s3_2_c15_c0_0\n b .")
    log = intr_log(uc)
    uc.emu_start(CODE, END, count=2)
    assert log == [(1, 0, 0x02000000)]

    cpu, _ = make_cpu("""
 nop
 nop
 nop
 mrs x0, s3_2_c15_c1_0    // PMC1: instructions before this one
 nop
 mrs x1, s3_2_c15_c1_0
 mov x2, #0x1234
 msr s3_2_c15_c0_0, x2    // PMC0 write
 mrs x3, s3_2_c15_c0_0
 wfi""")
    pmc0 = []
    cpu.on_sysreg(*APPLE_PMC1, read=lambda: cpu.instructions)
    cpu.on_sysreg(*APPLE_PMC0, read=lambda: pmc0[-1] + 1, write=pmc0.append)
    assert cpu.run(None, 100) is StopReason.WFI
    assert cpu.last_exception is None
    assert (cpu.reg_read("x0"), cpu.reg_read("x1")) == (3, 5)
    assert pmc0 == [0x1234] and cpu.reg_read("x3") == 0x1235
    assert cpu.instructions == 10


def test_served_native_register_mid_block_keeps_count_exact(make_cpu):
    # CNTVCT is a real register: the MRS sits in the middle of a block,
    # the hook skips it without touching PC and the block carries on.
    cpu, _ = make_cpu("""
 mov x9, #3
1: nop
 mrs x2, cntvct_el0
 add x10, x10, #1
 mrs x3, cntvct_el0
 add x10, x10, #1
 subs x9, x9, #1
 b.ne 1b
 wfi""")
    seen = []
    cpu.on_sysreg(*CNTVCT_EL0, read=lambda: seen.append(cpu.instructions) or cpu.instructions)
    assert cpu.run(None, 100) is StopReason.WFI
    assert seen == [2, 4, 9, 11, 16, 18]
    assert cpu.reg_read("x10") == 6 and cpu.instructions == 1 + 3 * 7 + 1


def test_sysreg_write_served(make_cpu):
    cpu, _ = make_cpu("mov x0, #7\n msr cntv_ctl_el0, x0\n mrs x1, cntv_ctl_el0\n wfi")
    box = [0]
    cpu.on_sysreg(3, 3, 14, 3, 1, read=lambda: box[0], write=lambda v: box.__setitem__(0, v))
    cpu.run(None, 100)
    assert box == [7] and cpu.reg_read("x1") == 7


# ------------------------------------------------------ block hook counting


def test_block_hook_pc_write_cancels_block_and_emu_stop_stops_before_it():
    uc, syms = raw_uc("""
 mov x0, #1
 b 1f
1: mov x0, #2
 b 2f
2: mov x1, #3
 b .""")
    target = syms["_start"] + 8

    def hook(uc, addr, size, _):
        if addr == target:
            uc.reg_write(A.UC_ARM64_REG_PC, target + 8)  # skip the block at 1:

    uc.hook_add(UC_HOOK_BLOCK, hook)
    uc.emu_start(CODE, END, count=5)
    assert uc.reg_read(A.UC_ARM64_REG_X0) == 1 and uc.reg_read(A.UC_ARM64_REG_X1) == 3

    uc, _ = raw_uc("mov x0, #1\n b 1f\n1: mov x0, #2\n b .")
    uc.hook_add(UC_HOOK_BLOCK, lambda uc, a, s, _: a == CODE + 8 and uc.emu_stop())
    uc.emu_start(CODE, END)
    assert uc.reg_read(A.UC_ARM64_REG_X0) == 1 and uc.reg_read(A.UC_ARM64_REG_PC) == CODE + 8


def test_emu_stop_in_mmio_callback_repeats_the_access():
    # Why request_stop() waits for the next block boundary.
    uc, _ = raw_uc(f"""
 add x10, x10, #1
 ldr x9, ={MMIO:#x}
 ldr w3, [x9]
 mov x0, #5
 b .""")
    reads = []

    def rd(uc, off, size, _):
        reads.append(off)
        if len(reads) == 1:
            uc.emu_stop()
        return 0x42

    uc.mmio_map(MMIO, 0x4000, rd, None, lambda *a: None, None)
    uc.emu_start(CODE, END)
    assert uc.reg_read(A.UC_ARM64_REG_PC) == CODE + 8 and uc.reg_read(A.UC_ARM64_REG_X0) == 0
    uc.emu_start(CODE + 8, END, count=2)
    assert len(reads) == 2 and uc.reg_read(A.UC_ARM64_REG_X10) == 1


def test_count_matches_hand_count(make_cpu):
    cpu, _ = make_cpu("""
 mov x0, #10          // 1
1: add x1, x1, #1     // 3 per iteration
 subs x0, x0, #1
 b.ne 1b
 wfi                  // 1""")
    assert cpu.run(None, 1000) is StopReason.WFI
    assert cpu.instructions == 1 + 3 * 10 + 1
    assert cpu.cycles_conservative == 32 and cpu.cycles_optimistic == 32.0


def test_uncount_after_mid_block_fault(make_cpu):
    src = f"""
 ldr x9, ={CODE + 0x10001:#x}   // 1
 mov x1, #2                     // 2
 add x2, x1, x1                 // 3
 ldxr x3, [x9]                  // faults: not retired
 add x4, x4, #1                 // never runs
 add x4, x4, #1
 b ."""
    cpu, _ = make_cpu(src)
    cpu.on_exception(lambda *a: False)
    assert cpu.run(None, 100) is StopReason.EXCEPTION
    assert cpu.instructions == 3 and cpu.cycles_conservative == 3
    cpu, _ = make_cpu(src)
    cpu.set_block_cost_fn(lambda addr, size: (10 * size // 4, 500 * size // 4))
    assert cpu.run(None, 100) is StopReason.WFI
    assert cpu.instructions == 3 + VECTOR_ENTRY_INSNS
    assert cpu.cycles_conservative == 10 * cpu.instructions
    assert cpu.cycles_optimistic_x1000 == 500 * cpu.instructions
    assert cpu.reg_read("x4") == 0


def test_block_cost_fn_called_once_per_block_and_invalidate(make_cpu):
    cpu, _ = make_cpu("mov x0, #5\n1: subs x0, x0, #1\n b.ne 1b\n wfi")
    calls = []
    cpu.set_block_cost_fn(lambda a, s: calls.append((a - CODE, s)) or (7, 1500))
    cpu.run(None, 100)
    assert sorted(set(calls)) == sorted(calls)   # cached by (address, size)
    n = len(calls)
    cpu.invalidate_costs(CODE, CODE + 0x1000)
    cpu.reg_write("x0", 0)
    cpu.run(CODE + 4, 100)
    assert len(calls) > n


def test_instruction_limit_stops_endless_loop(make_cpu):
    cpu, _ = make_cpu("b .")
    assert cpu.run(None, 1000) is StopReason.LIMIT
    assert cpu.instructions == 1000
    assert cpu.run(None, 2500) is StopReason.LIMIT and cpu.instructions == 2500


def test_request_stop_from_mmio(make_cpu):
    cpu, _ = make_cpu(f"""
 ldr x9, ={MMIO:#x}
1: ldr w0, [x9]
 add x1, x1, #1
 b 1b""")
    reads = []

    def rd(off, size):
        reads.append(off)
        if len(reads) == 3:
            cpu.request_stop()
        return 0

    cpu.map_mmio(MMIO, 0x4000, rd, lambda *a: None)
    assert cpu.run(None, 10_000) is StopReason.STOPPED
    assert len(reads) == 3 and cpu.reg_read("x1") == 3
    assert cpu.instructions == 1 + 3 * 3


def test_unmapped_access_raises_emulator_error(make_cpu):
    cpu, _ = make_cpu("ldr x9, =0x123450000\n ldr x0, [x9]\n b .")
    with pytest.raises(EmulatorError) as e:
        cpu.run(None, 100)
    assert e.value.pc == CODE + 4 and "UNMAPPED" in str(e.value)


# ---------------------------------------------------------------- interrupts

IRQ_SRC = """
 mov x0, #0
1: add x0, x0, #1          // masked: pending interrupt must wait
 cmp x0, #50
 b.ne 1b
 msr daifclr, #{bits}
unmasked:
 add x1, x1, #1
 b unmasked"""


@pytest.mark.parametrize("line,bits,vector", [("irq", 2, 0x280), ("fiq", 1, 0x300)])
def test_interrupt_delivered_only_when_unmasked(make_cpu, line, bits, vector):
    cpu, syms = make_cpu(IRQ_SRC.format(bits=bits))
    getattr(cpu, f"raise_{line}")()
    assert cpu.run(None, 10_000) is StopReason.LIMIT  # the line stays raised: WFI wakes
    assert cpu.reg_read("x0") == 50 and cpu.reg_read("x1") == 0
    assert cpu.reg_read("x28") == vector
    assert cpu.reg_read("x26") == syms["unmasked"]
    assert cpu.reg_read("x25") & 0x3FF == 0x3C9 & ~(bits << 6)
    assert cpu.last_exception.kind == line


def test_interrupt_masked_other_line_or_lowered_not_delivered(make_cpu):
    cpu, _ = make_cpu(IRQ_SRC.format(bits=2))          # unmasks I only
    cpu.raise_fiq()
    assert cpu.run(None, 2000) is StopReason.LIMIT
    assert cpu.reg_read("x28") == 0 and cpu.reg_read("x1") > 0
    cpu, _ = make_cpu(IRQ_SRC.format(bits=2))
    cpu.raise_irq()
    cpu.lower_irq()
    assert cpu.run(None, 2000) is StopReason.LIMIT and cpu.reg_read("x28") == 0


def test_virtual_irq_delivered_natively_to_el1(make_cpu):
    cpu, _ = make_cpu("""
 ldr x0, =((1 << 31) | (1 << 7) | (1 << 4))   // HCR_EL2: RW, VI, IMO
 msr hcr_el2, x0
 adr x0, at_el1
 msr elr_el2, x0
 mov x0, #0x345                               // EL1h, IRQ unmasked
 msr spsr_el2, x0
 eret
at_el1:
 b at_el1""")
    cpu.run(None, 1000)
    assert cpu.reg_read("x28") == 0x280 and cpu.reg_read("pstate") >> 2 & 3 == 1
    assert cpu.last_exception is None  # not the harness's doing


# ------------------------------------------------------------------- MMU


def _tables(cpu, l1, entries):
    """Write 16 KiB-granule descriptors: {address: value}."""
    for addr, val in entries.items():
        cpu.uc.mem_write(addr, val.to_bytes(8, "little"))


def test_stage1_16k_granule_at_el2(make_cpu):
    # T0SZ=25 (39-bit VA), 16 KiB granule: level-1 table -> level-2 32 MiB blocks.
    l1, l2a, l2b = CODE + 0x100000, CODE + 0x104000, CODE + 0x108000
    alias = 0x40_0000_0000                          # VA -> PA CODE
    cpu, _ = make_cpu(f"""
 ldr x0, ={l1:#x}
 msr ttbr0_el2, x0
 ldr x0, =0xff
 msr mair_el2, x0
 ldr x0, =((2 << 16) | (2 << 14) | (3 << 12) | (1 << 10) | (1 << 8) | 25)
 msr tcr_el2, x0
 isb
 mrs x0, sctlr_el2
 orr x0, x0, #1
 msr sctlr_el2, x0
 isb
 ldr x9, ={alias + 0x10000:#x}
 ldr x1, [x9]                  // through the alias
 ldr x9, ={0x20_0000_0000:#x}
 ldr x2, [x9]                  // no mapping: level-2 translation fault
 b .""")
    block = 0x401                                     # valid block, AF, AttrIndx 0
    _tables(cpu, l1, {
        l1 + 0 * 8: l2a | 3,
        l1 + (alias >> 36) * 8: l2b | 3,
        l1 + 2 * 8: l2a | 3,                          # VA 0x20_0000_0000 uses l2a
        l2a + ((CODE >> 25) & 0x7FF) * 8: CODE | block,
        l2b + ((alias >> 25) & 0x7FF) * 8: CODE | block,
    })
    cpu.uc.mem_write(CODE + 0x10000, (0x1122334455667788).to_bytes(8, "little"))
    cpu.run(None, 100)
    assert cpu.reg_read("x1") == 0x1122334455667788
    esr = cpu.reg_read("x27")
    assert esr >> 26 == 0x25 and esr & 0x3F == 0b000110, hex(esr)
    assert "translation fault, level 2, read" in decode_esr(esr)
    assert cpu.reg_read("x24") == 0x20_0000_0000


def _tlbi_is_run(make_cpu, workaround: bool):
    """E2H = 1 (the EL2&0 regime the kernel runs in), MMU on, a 32 MiB
    block read through an alias, the block made invalid, TLBI VAE2IS by
    its address, DSB, ISB, the alias read again: (x2 = the second read,
    x27 = the ESR the vectors recorded)."""
    l1, l2 = CODE + 0x100000, CODE + 0x104000
    alias = 0x40_0000_0000
    entry = l2 + ((alias >> 25) & 0x7FF) * 8
    cpu, _ = make_cpu(f"""
 ldr x0, =((1 << 34) | (1 << 31))          // HCR_EL2: E2H, RW
 msr hcr_el2, x0
 isb
 ldr x0, ={l1:#x}
 msr ttbr0_el2, x0
 ldr x0, =0xff
 msr mair_el2, x0
 ldr x0, =((2 << 32) | (1 << 23) | (2 << 14) | (3 << 12) | (1 << 10) | (1 << 8) | 25)
 msr tcr_el2, x0                           // E2H layout: IPS 40 bits, EPD1, TG0 16 KiB, T0SZ 25
 isb
 mrs x0, sctlr_el2
 orr x0, x0, #1
 msr sctlr_el2, x0
 isb
 ldr x9, ={alias + 0x10000:#x}
 ldr x1, [x9]                              // the translation cached
 ldr x10, ={entry:#x}
 str xzr, [x10]                            // the block invalid
 dsb ishst
 lsr x0, x9, #12
 tlbi vae2is, x0
 dsb ish
 isb
 mov x2, #0
 ldr x2, [x9]                              // must fault now
 b .""")
    _tables(cpu, l1, {l1: l2 | 3, l1 + (alias >> 36) * 8: l2 | 3,
                      l2 + ((CODE >> 25) & 0x7FF) * 8: CODE | 0x401, entry: CODE | 0x401})
    cpu.uc.mem_write(CODE + 0x10000, (0x5EED).to_bytes(8, "little"))
    if not workaround:                       # the observers gone: unicorn alone
        for key in cpu._observers:
            cpu._lib.sov_observe(cpu._stp, key, 0)
        cpu._observers.clear()
    cpu.run(None, 200)
    return cpu.reg_read("x1"), cpu.reg_read("x2"), cpu.reg_read("x27")


def test_tlbi_vae2is_flushes_the_el2_and_0_regime_only_with_the_workaround(make_cpu):
    """unicorn 2.1.4's TLBI VAE2IS/VALE2IS/ALLE2IS flush QEMU's non-VHE EL2
    TLB only (qemu/target/arm/helper.c tlbi_aa64_vae2is_write uses
    ARMMMUIdxBit_E2), not the EL2&0 regime E2H = 1 selects: a block made
    invalid keeps its stale translation.  El2Cpu flushes everything before
    those three (harness/machine/cpu.py _observe_tlbi_is).  If a unicorn
    release fixes the flush, the second half fails: then the workaround
    can go."""
    first, second, esr = _tlbi_is_run(make_cpu, workaround=True)
    assert first == 0x5EED
    assert second == 0 and esr >> 26 == 0x25, hex(esr)       # data abort from EL2
    assert "translation fault, level 2, read" in decode_esr(esr)
    first, second, esr = _tlbi_is_run(make_cpu, workaround=False)
    assert first == second == 0x5EED and esr == 0           # stale: the bug is still there


def _ap_run(make_cpu, ap: int, seal: bool = False, workaround: bool = True):
    """The kernel's shape (kernel/mmu.S): HCR_EL2.{E2H,TGE} = {1,1}, a
    36-bit space walked from level 2, a level-3 table of 16 KiB pages over
    the snippet's 2 MiB, Normal write-back.  The data page has AP[2:1] =
    `ap` (descriptor bits 7:6).  The snippet loads from it, then stores
    0x77.  With `seal` the page starts read/write, a first store warms the
    TLB, then AP[2] is set in the live entry followed by DSB, TLBI ALLE2IS,
    DSB, ISB (kernel/mmu.S mmu_seal_image) before the store.  Returns (x1 =
    the load, x3 = 1 if the store retired, x27 = the ESR the vectors
    recorded, x24 = FAR, the data word afterwards)."""
    l2, l3, data = CODE + 0x100000, CODE + 0x104000, CODE + 0x10000
    entry = l3 + ((data >> 14) & 0x7FF) * 8
    cpu, _ = make_cpu(f"""
 ldr x0, =((1 << 34) | (1 << 31) | (1 << 27))   // HCR_EL2: E2H, RW, TGE
 msr hcr_el2, x0
 isb
 ldr x0, ={l2:#x}
 msr ttbr0_el2, x0
 ldr x0, =0xff
 msr mair_el2, x0
 ldr x0, =((2 << 32) | (1 << 23) | (2 << 14) | (3 << 12) | (1 << 10) | (1 << 8) | 28)
 msr tcr_el2, x0                                // E2H layout, TG0 16 KiB, T0SZ 28: level-2 root
 isb
 tlbi alle2
 dsb sy
 isb
 mrs x0, sctlr_el2
 orr x0, x0, #1
 msr sctlr_el2, x0
 isb
 ldr x9, ={data:#x}
 ldr x1, [x9]
 cbz x5, 1f
 str x1, [x9]                                   // the TLB holds the writable entry
 ldr x10, ={entry:#x}
 ldr x0, [x10]
 orr x0, x0, #(1 << 7)                          // AP[2]: read-only
 str x0, [x10]
 dsb ishst
 tlbi alle2is
 dsb ish
 isb
1: mov x2, #0x77
 str x2, [x9]
 mov x3, #1
 b .""")
    _tables(cpu, l2, {l2 + ((CODE >> 25) & 0x7FF) * 8: l3 | 3})
    for i in range(128):                       # 2 MiB of pages: AF, inner shareable, AttrIndx 0, UXN
        pa = CODE + i * 0x4000
        desc = pa | 0x403 | (3 << 8) | (1 << 54)
        if pa == data and not seal:
            desc |= ap << 6
        _tables(cpu, l2, {l3 + i * 8: desc})
    cpu.uc.mem_write(data, (0x5EED).to_bytes(8, "little"))
    cpu.reg_write("x5", int(seal))
    if not workaround:                       # the observers gone: unicorn alone
        for key in cpu._observers:
            cpu._lib.sov_observe(cpu._stp, key, 0)
        cpu._observers.clear()
    cpu.run(None, 300)
    word = int.from_bytes(cpu.uc.mem_read(data, 8), "little")
    return cpu.reg_read("x1"), cpu.reg_read("x3"), cpu.reg_read("x27"), cpu.reg_read("x24"), word


def test_stage1_ap_read_only_is_enforced_at_el2_with_e2h(make_cpu):
    """unicorn honours AP[2:1] in the EL2&0 regime (E2H = 1, two privilege
    levels: Arm ARM DDI 0487 K.a D8.4, stage 1 direct permissions, Table
    D8-49): 0b10 and 0b11 are read-only at EL2, so a store is a permission
    fault at level 3 (DFSC 0b001111) with WnR set, FAR the address, memory
    unchanged; 0b00 and 0b01 are writable.  The kernel's read-only image
    (kernel/mmu.S mmu_seal_image) relies on it: the emulated M3 needs no
    model of the refusal.  If a unicorn release stops enforcing it, this
    fails: then the machine must refuse such stores itself."""
    data = CODE + 0x10000
    for ap in (0b00, 0b01):
        load, stored, esr, _far, word = _ap_run(make_cpu, ap)
        assert (load, stored, esr, word) == (0x5EED, 1, 0, 0x77), ap
    for ap in (0b10, 0b11):
        load, stored, esr, far, word = _ap_run(make_cpu, ap)
        assert load == 0x5EED and stored == 0 and word == 0x5EED, ap
        assert esr >> 26 == 0x25 and esr & 0x3F == 0b001111 and esr & (1 << 6), hex(esr)
        assert "permission fault, level 3, write" in decode_esr(esr)
        assert far == data


def test_a_live_page_made_read_only_faults_after_tlbi_alle2is_even_without_the_workaround(make_cpu):
    """The seal's sequence on a page whose writable entry the TLB holds:
    AP[2] set in the live entry, DSB, TLBI ALLE2IS, DSB, ISB, store.  The
    store faults as on the silicon, and it does so with unicorn alone too
    (the El2Cpu flush before the IS forms removed): unlike VAE2IS (the test
    above), unicorn 2.1.4's ALLE2IS flushes the EL2&0 regime.  QEMU 7.2's
    VAE2IS has the same fault (kernel/mmu.S mmu_seal_image), which is why
    the seal uses ALLE2IS.  If this fails, a stale writable translation
    survives the seal: the read-only image is then not enforced."""
    for workaround in (True, False):
        load, stored, esr, far, word = _ap_run(make_cpu, 0b10, seal=True, workaround=workaround)
        assert load == 0x5EED and stored == 0 and word == 0x5EED, workaround
        assert "permission fault, level 3, write" in decode_esr(esr) and far == CODE + 0x10000


def test_el1_register_names_at_el2_with_e2h_are_not_redirected(make_cpu):
    """With HCR_EL2.E2H = 1 the Arm ARM redirects EL2's accesses to the
    *_EL1 encodings of SCTLR, TTBR0/1, TCR, MAIR, ... to the *_EL2
    registers (D5.1.3, "Virtualization Host Extensions").  unicorn 2.1.4
    does not: `msr mair_el1` at EL2 writes MAIR_EL1, which the EL2&0
    regime never uses.  The kernel names the *_EL2 registers everywhere,
    and harness/machine/mmu_rules.py observes only those; if a unicorn
    release starts redirecting, this fails: then observe the *_EL1
    encodings at EL2 as well."""
    cpu, _ = make_cpu(" mov x0, #0x44\n msr mair_el1, x0\n mrs x1, mair_el2\n wfi")
    cpu.reg_write("hcr_el2", 1 << 34 | 1 << 31 | 1 << 27)
    assert cpu.run(None, 100) is StopReason.WFI
    assert cpu.reg_read("x1") == 0 and cpu.reg_read("mair_el1") == 0x44


def test_mapping_to_unmapped_pa_is_unicorn_error_not_abort(make_cpu):
    l1, l2 = CODE + 0x100000, CODE + 0x104000
    cpu, _ = make_cpu(f"""
 ldr x0, ={l1:#x}
 msr ttbr0_el2, x0
 ldr x0, =((2 << 16) | (2 << 14) | 25)
 msr tcr_el2, x0
 isb
 mrs x0, sctlr_el2
 orr x0, x0, #1
 msr sctlr_el2, x0
 isb
 ldr x9, =0x4000000000
 ldr x1, [x9]
 b .""")
    _tables(cpu, l1, {l1: l2 | 3, l1 + 4 * 8: l2 | 3,
                      l2 + ((CODE >> 25) & 0x7FF) * 8: CODE | 0x401,
                      l2: 0x9_0000_0000 | 0x401})  # VA 0x40_0000_0000 -> unmapped PA
    with pytest.raises(EmulatorError, match="UNMAPPED"):
        cpu.run(None, 100)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_mem_map_is_lazy():
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    before = rss()
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM, A.UC_CPU_ARM64_MAX)
    uc.mem_map(0x10_0000_0000, 2 << 30)
    uc.mem_write(0x10_0000_0000 + (1 << 30), b"x")
    assert rss() - before < 200 << 20


# ---------------------------------------------------------- decode and speed


def test_decode_esr_names():
    assert decode_esr(0x56001234) == "EC 0x15 SVC (AArch64), imm 0x1234"
    assert decode_esr(0x02000000).startswith("EC 0x00 unknown reason")
    assert "SP alignment" in decode_esr(0x26 << 26)
    assert "access flag fault, level 3" in decode_esr(0x86000000 | 0b001011)
    assert "permission fault, level 2, write" in decode_esr(0x96000000 | 1 << 6 | 0b001110)
    assert "MRS S3_2_C15_C0_0" in decode_esr(0x18 << 26 | 3 << 20 | 2 << 14 | 15 << 10 | 1)
    assert decode_esr(0xF2000001).startswith("EC 0x3c BRK")


def test_native_counting_is_fast():
    speed = measure_speed(50_000_000)
    assert speed["16-insn blocks M/s"] > 30, speed


# ------------------------------------------ counting, property-based check

from hypothesis import given, settings, strategies as st  # noqa: E402

_NOP, _B_NEXT, _UDF, _MRS_PMC1 = 0xD503201F, 0x14000001, 0x00000000, 0xD53AF100  # mrs x0, s3_2_c15_c1_0


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.sampled_from([_NOP, _NOP, _NOP, _B_NEXT, _MRS_PMC1]), max_size=60),
       deliver=st.booleans())
def test_count_exact_for_random_straight_line_code(ops, deliver):
    """Blocks split by branches and served MRS at random places, ending in a
    fault: the count is the number of instructions before the fault, and
    every PMC1 read sees exactly the instructions before it."""
    cpu = El2Cpu()
    cpu.map_ram(CODE, 0x10000)
    words = ops + [_UDF]
    cpu.uc.mem_write(CODE, b"".join(w.to_bytes(4, "little") for w in words))
    vec = CODE + 0x8000
    cpu.uc.mem_write(vec + 0x200, _NOP.to_bytes(4, "little") + 0xD503207F.to_bytes(4, "little"))
    cpu.reg_write("vbar_el2", vec)
    seen = []
    cpu.on_sysreg(*APPLE_PMC1, read=lambda: seen.append(cpu.instructions) or 0)
    if not deliver:
        cpu.on_exception(lambda *a: False)
    reason = cpu.run(CODE, 10_000)
    assert reason is (StopReason.WFI if deliver else StopReason.EXCEPTION)
    assert cpu.instructions == len(ops) + (2 if deliver else 0)
    assert seen == [i for i, w in enumerate(ops) if w == _MRS_PMC1]


def test_unicorn_does_not_trap_fp_at_el2(make_cpu):
    """unicorn 2.1.4 runs FP/SIMD instructions at EL2 whatever CPTR_EL2
    says (VHE FPEN = 0 or the non-VHE TFP bit), where hardware and QEMU 7.2
    trap with EC 0x07.  The kernel switches FP/SIMD state lazily on that
    trap (kernel/thread.S fp_trap), so in the emulated M3 threads share the
    FP registers; the switch is checked under QEMU
    (tests/test_threads.py::test_fp_simd_state_is_switched_lazily).  When a
    unicorn release starts trapping, this fails: then test the lazy switch
    on the emulated M3 too."""
    for cptr in (0, 1 << 10):
        cpu, _ = make_cpu(f" movz x1, #{cptr}\n msr cptr_el2, x1\n isb\n fmov d0, x1\n mov x5, #5\n wfi\n b .")
        assert cpu.run(None, 1000) is StopReason.WFI
        assert cpu.reg_read("x5") == 5 and cpu.reg_read("x28") == 0, "FP trapped: see the docstring"
