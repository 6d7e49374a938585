"""The L2 is the cluster's (harness/native/blockhook.c sov_mm_share_l2,
harness/machine/m3.py _install_costs): on an M3 the four P-cores share
one 16 MiB L2 and the four E-cores another of 4 MiB, each core with its
own L1D (Linux t8122.dtsi: next-level-cache = <&l2_cache_1> on
cpu@10100-cpu@10103, <&l2_cache_0> on cpu@0-cpu@3).  So a line one core
brought in is an L2 hit for a core of its cluster and a miss for a core
of the other one, and one core's traffic evicts its cluster mates' lines.

The payload (the stand-in kernel of tests/test_m3_smp.py, MMU off): the
boot core (the first P-core) reads a 256 KiB buffer (beyond its L1D,
inside either L2), starts one other core, which reads the same buffer
(mode 0) or sweeps 20 MiB elsewhere (mode 1), waits for its IPI, and
reads the buffer again.
"""

from __future__ import annotations

import pytest

from harness import chips
from harness.costs import GEOMETRY, cache_sets
from harness.machine.m3 import M3, M3Config
from test_m3_smp import IPI_TO_BOOT, START, payload_elf

CHIP = chips.load("t8122")
BOOT = CHIP.boot_cpu
P_MATE = next(c for c in CHIP.cpus if c.kind == "P" and c.cpu_id != BOOT.cpu_id)
E_CORE = next(c for c in CHIP.cpus if c.kind == "E")

BUF = 256 << 10               # the buffer: 2,048 L2 lines, 4,096 L1 lines
SWEEP = 20 << 20              # more than the P-cluster's L2
L2_LINES = BUF // GEOMETRY["l2_line"].value


def _payload(core, mode: int) -> str:
    start = f"""    ldr x1, ={core.impl_reg:#x}
    adr x2, secondary_entry
    str x2, [x1]                 // RVBAR
    ldr x3, ={START:#x}
    ldr w2, ={1 << (4 * core.cluster + core.core):#x}
    str w2, [x3, #4]             // the startup bit
    ldr w2, ={1 << core.core:#x}
    str w2, [x3, #{8 + 4 * core.cluster:#x}]   // start it
"""
    return f"""
    b .
    .balign 0x800
entry:
    adr x1, vectors
    msr vbar_el2, x1
    adr x1, boot_stack_top
    mov sp, x1
    bl read_buffer
{start}    msr daifclr, #1              // FIQs in: the fast IPI
5:  adr x9, ipis
    ldr x9, [x9]
    cbnz x9, 6f
    wfi
    b 5b
6:  bl read_buffer
    b powered_off

read_buffer:                     // x0 = the buffer (load base + 64 MiB), a load every 64 bytes
    adr x0, entry
    ldr x2, =0x4000000
    add x0, x0, x2
    ldr x4, ={BUF // 64}
1:  ldr x3, [x0], #64
    subs x4, x4, #1
    b.ne 1b
    ret

fiq_handler:
    mov x10, #1
    msr s3_5_c15_c1_1, x10       // IPI_SR_EL1: acknowledge (W1C)
    adr x11, ipis
    ldadd x10, x12, [x11]
    eret

    .balign 0x1000
secondary_entry:
    msr s3_5_c15_c5_0, xzr       // CYC_OVRD: interrupts in
    mov x5, #{mode}
    cbnz x5, 2f
    bl read_buffer
    b 3f
2:  adr x0, entry                // mode 1: 20 MiB at load base + 256 MiB, a load every 128 bytes
    ldr x2, =0x10000000
    add x0, x0, x2
    ldr x4, ={SWEEP // 128}
1:  ldr x3, [x0], #128
    subs x4, x4, #1
    b.ne 1b
3:  ldr x10, ={IPI_TO_BOOT:#x}
    msr s3_5_c15_c0_1, x10       // IPI_RR_GLOBAL_EL1: done
7:  wfi
    b 7b

sync_icache:
    ret
powered_off:
    msr daifset, #0xf
    wfi
    b powered_off
kernel_halted:
    msr daifset, #0xf
    wfi
    b kernel_halted
    .ltorg

    .balign 0x800
vectors:
    .rept 6
    .balign 0x80
    b .
    .endr
    .balign 0x80                 // +0x300: FIQ, current EL with SPx
    b fiq_handler
    .rept 9
    .balign 0x80
    b .
    .endr

    .balign 8
ipis: .quad 0
rx_waiter: .quad 0
console_tx: .quad 0, 0
console_errors: .quad 0
latest: .quad 0
    .balign 64
percpu: .space 4096
    .balign 0x1000
boot_stack: .space 0x1000
boot_stack_top:
"""


def near(x: int, n: int) -> bool:
    """n, give or take the few lines the payload's own words add (its IPI count, the start table)."""
    return n <= x <= n + 8


def _run(core, mode: int, **cfg):
    m = M3(payload_elf(_payload(core, mode)), M3Config(**cfg))
    r = m.run(50_000_000)
    assert r.status == "off", r.report
    boot = m.cores[BOOT.cpu_id].cpu.memory_stats()
    other = m.cores[core.cpu_id].cpu.memory_stats()
    return m, r, boot, other


def test_a_cluster_mate_hits_the_lines_in_l2_the_other_cluster_misses():
    """The P-core after the boot core read the buffer finds it in their
    L2 (its L1 misses every line: L1s are per core); the E-core, behind
    the other L2, takes every line from DRAM."""
    _, _, boot, mate = _run(P_MATE, 0)
    assert near(boot["l2_misses"], L2_LINES)                  # the first pass; the second hits L2
    assert near(mate["l1_load_misses"], BUF // 64)            # its own L1 had none of it
    assert mate["l2_misses"] <= 8                         # the cluster's L2 had all of it
    _, _, boot_e, e = _run(E_CORE, 0)
    assert near(e["l1_load_misses"], BUF // 64)
    assert near(e["l2_misses"], L2_LINES)                     # the E-cluster's L2 had none of it
    assert near(boot_e["l2_misses"], L2_LINES)


def test_a_cluster_mates_traffic_evicts_the_other_cores_lines():
    """20 MiB swept by a P-core push the boot core's buffer out of the
    P-cluster's L2: its second pass misses again.  The same sweep on an
    E-core leaves the P-cluster's L2 alone (it overflows its own 4 MiB)."""
    _, _, boot, mate = _run(P_MATE, 1)
    assert near(mate["l2_misses"], SWEEP // 128)
    assert near(boot["l2_misses"], 2 * L2_LINES)
    _, _, boot_e, e = _run(E_CORE, 1)
    assert near(e["l2_misses"], SWEEP // 128)
    assert near(boot_e["l2_misses"], L2_LINES)


def test_sharing_costs_cycles_and_is_deterministic():
    """The cycles follow the misses: without the prefetcher (which hides
    a sequential pass's latency either way) the E-core's pass over the
    buffer pays a DRAM latency a line where the P-core's pays an L2 hit;
    the same run twice gives the same counts on every core."""
    m1, r1, _, mate = _run(P_MATE, 0, prefetch_streams=0)
    m2, r2, _, _ = _run(P_MATE, 0, prefetch_streams=0)
    assert (r1.core_instructions, r1.core_cycles) == (r2.core_instructions, r2.core_cycles)
    me, re, _, _ = _run(E_CORE, 0, prefetch_streams=0)
    p_cycles = r1.core_cycles[P_MATE.cpu_id]
    e_cycles = re.core_cycles[E_CORE.cpu_id]
    assert re.core_instructions[E_CORE.cpu_id] == r1.core_instructions[P_MATE.cpu_id]
    assert e_cycles > p_cycles + L2_LINES * 300            # ~420 cycles a line from DRAM, ~18 from L2


def test_one_l2_per_cluster_and_the_core_types_sizes():
    m, _, _, _ = _run(E_CORE, 0)
    ids = {c.cpu_id: m.cores[c.cpu_id].cpu.l2_id for c in (BOOT, E_CORE)}
    assert ids[BOOT.cpu_id] != ids[E_CORE.cpu_id] and all(ids.values())
    m, _, _, _ = _run(P_MATE, 0)
    assert m.cores[P_MATE.cpu_id].cpu.l2_id == m.cores[BOOT.cpu_id].cpu.l2_id
    assert cache_sets("P") == (256, 8192)                 # 128 KiB / 64 B / 8; 16 MiB / 128 B / 16
    assert cache_sets("E") == (128, 2048)                 # 64 KiB; 4 MiB

