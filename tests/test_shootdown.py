"""A TLB shootdown's cost (harness/costs.py shootdown_cost, tlbi_sync_core
and tlbi_sync_cluster; harness/machine/m3.py M3._shootdown; blockhook.c
shoot_check): the DSB that completes a broadcast TLBI waits for every
other running core, so it grows with the cores started (a core held in
reset is in no shareability domain; one asleep in WFI answers all the
same) and with the other clusters they sit in.  The emulator's own
broadcast (every other instance's TLB flushed) is tests/test_m3_smp.py's.
"""

from __future__ import annotations

import struct

import pytest

from harness.costs import BLOCK_DSB, BLOCK_DSB_SYNC, MEMORY, CostModel, shootdown_cost
from harness.machine.m3 import M3, M3Config
from kernel_support import say

CORE, CLUSTER = MEMORY["tlbi_sync_core"], MEMORY["tlbi_sync_cluster"]
DSB = {"sy": 0xD5033F9F, "ish": 0xD5033B9F, "osh": 0xD503339F, "ishst": 0xD5033A9F,
       "nsh": 0xD503379F, "ishld": 0xD503399F}


def test_the_parameters_are_assumed_ranges():
    for p in (CORE, CLUSTER):
        assert p.source.startswith("assumed") and p.low < p.high and p.costlier == "high"
    assert CLUSTER.high == 175          # the cross-cluster trip harness/machine/smp.py IPI_LATENCY assumes


def test_cost_grows_with_the_other_cores_and_clusters():
    assert shootdown_cost(0, 0) == (0, 0)                  # alone: nothing to wait for
    assert shootdown_cost(3, 0) == (3 * CORE.high, round(3 * CORE.low * 1000))
    assert shootdown_cost(7, 1) == (7 * CORE.high + CLUSTER.high, round((7 * CORE.low + CLUSTER.low) * 1000))
    costs = [shootdown_cost(n, int(n > 3))[0] for n in range(8)]
    assert costs == sorted(costs) and len(set(costs)) == 8


@pytest.mark.parametrize("op, sync", [("sy", True), ("ish", True), ("osh", True), ("ishst", False),
                                      ("nsh", False), ("ishld", False)])
def test_which_dsb_completes_a_broadcast_tlbi(op, sync):
    """A DSB of loads and stores in the inner-shareable domain or wider
    (SY, ISH, OSH) completes it; ST, LD and non-shareable ones do not."""
    code = struct.pack("<II", 0xD50C8320, DSB[op])           # tlbi vae2is, x0; dsb <op>
    kind = CostModel().block_info(code, 0x1000)[2]
    assert kind & BLOCK_DSB
    assert bool(kind & BLOCK_DSB_SYNC) == sync


# ---- the real kernel: bench-remap (kernel/forth/bench.S) ---------------------

def _remap(kernel, cores: int) -> tuple[int, int]:
    """(instructions, conservative cycles) of one page's break, TLBI VAE2IS
    and DSB ISH with `cores` emulated (the others idle in WFI)."""
    m = M3(kernel.elf, M3Config(cores=cores))
    r = m.run(100_000_000)
    assert r.ok, r.report
    ins, cyc, ins2, cyc2 = say(m, "16384 reserve-pages dup bench-remap swap . . bench-remap swap . .")
    assert (ins, cyc) == (ins2, cyc2)                        # the same page twice: the same figures
    return ins, cyc


def test_the_dsb_waits_for_every_other_running_core(kernel):
    """One core: the four instructions' own costs.  The boot core is the
    first P-core and the cores emulated follow it in ADT order: 4 cores
    are its cluster (3 others), 5 and more reach into the E-cluster."""
    alone = _remap(kernel, 1)
    assert alone[0] == 4                                     # str, dsb ishst, tlbi vae2is, dsb ish
    for cores, others, clusters in ((2, 1, 0), (4, 3, 0), (5, 4, 1), (8, 7, 1)):
        ins, cyc = _remap(kernel, cores)
        assert ins == alone[0]
        assert cyc - alone[1] == shootdown_cost(others, clusters)[0], cores


def test_bench_remap_refuses_an_address_without_a_live_page(kernel):
    m = M3(kernel.elf, M3Config(cores=1))
    assert m.run(100_000_000).ok
    r = m.run_script("0 bench-remap\n")
    assert "error -9" in r.output, r.output[-300:]
