"""The memory and branch model (harness/native/blockhook.c, parameters in
harness/costs.py MEMORY): each behaviour on a small program in a bare
emulated core, MMU off (so virtual = physical), against the figures the
parameters predict; then the real kernel with the model on and off."""

from __future__ import annotations

import hashlib
import random
import re
import struct
from array import array
from pathlib import Path

import pytest

from asm_snippets import assemble_snippet
from harness.costs import GEOMETRY, MEMORY, CostModel, native_memory_params
from harness.machine.cpu import El2Cpu, StopReason

BASE = 0x8_0000_0000          # cacheable RAM; code at its start
NC = 0x9_0000_0000            # a Normal-NC window (a framebuffer)
DEV = 0x2_0000_0000           # a Device window
HZ = 3_500_000_000
_NATIVE = native_memory_params(hz=HZ)
P = dict(zip(("l2", "dram", "nc_read", "device", "mispredict", "rd_mpb", "wr_mpb", "nc_mpb",
              "sb_window", "pf_window", "pf_train"),
             zip(_NATIVE[:len(_NATIVE) // 2], _NATIVE[len(_NATIVE) // 2:])))
assert len(P) == len(_NATIVE) // 2, "blockhook.c's P_* and this list differ"
CM = CostModel()
LOAD_CONS = CM.charge("load")[0]


class Core:
    """A bare core with the cycle model and (memory=True) the memory model."""

    def __init__(self, source: str, ram: int = 16 << 20, nc: int = 1 << 20, memory: bool = True):
        code, self.syms = assemble_snippet(source, BASE)
        self.cpu = cpu = El2Cpu()
        cpu.map_ram(BASE, ram)
        cpu.map_ram(NC, nc)
        cpu.map_mmio(DEV, 0x4000, lambda off, size: 0, lambda off, size, value: None)
        cpu.uc.mem_write(BASE, code)
        cpu.reg_write("sp", BASE + ram - 0x1000)
        CM.install(cpu)
        if memory:
            CM.install_memory(cpu, ram=[(BASE, BASE + ram)], nc=[(NC, NC + nc)], device=[(DEV, DEV + 0x4000)],
                              hz=HZ)

    def run(self, label: str = "_start", **regs) -> dict:
        """Run from `label` (with these registers) to the next WFI: what it
        cost (instructions, conservative cycles, optimistic milli-cycles,
        and the model's statistics), as differences."""
        cpu = self.cpu
        for name, value in regs.items():
            cpu.reg_write(name, value)
        before = self._counts()
        assert cpu.run(self.syms[label], cpu.instructions + 50_000_000) == StopReason.WFI
        after = self._counts()
        return {k: after[k] - before[k] for k in after}

    def _counts(self) -> dict:
        cpu = self.cpu
        out = {"insns": cpu.instructions, "cons": cpu.cycles_conservative, "opt": cpu.cycles_optimistic_x1000}
        if cpu.memory_model:
            out.update(cpu.memory_stats())
        return out


def _both(source: str, label: str = "_start", **kw) -> tuple[dict, dict]:
    """The same run with the memory model on and off."""
    return Core(source, **kw).run(label), Core(source, memory=False, **kw).run(label)


def _check_bounds(d: dict) -> None:
    assert d["opt"] <= d["cons"] * 1000, d


# ---- parameters -------------------------------------------------------------

def test_every_parameter_is_a_range_with_its_source():
    for key, p in MEMORY.items():
        assert p.low <= p.high, key
        assert p.source.startswith(("measured", "assumed", "the high end measured")), key
        assert p.costlier in ("high", "low"), key
        # the conservative model takes the costlier end
        assert p.conservative == (p.high if p.costlier == "high" else p.low), key
    for key in ("l2_hit", "dram_latency", "device_latency", "nc_write_bw", "return_stack"):
        assert MEMORY[key].source.startswith("assumed"), key
    assert MEMORY["l1d_hit"].source.startswith("measured") and "Dougall Johnson" in MEMORY["l1d_hit"].source
    assert MEMORY["l1d_hit"].conservative == LOAD_CONS    # the static load cost is the L1 hit


def test_native_parameters_conservative_never_below_optimistic():
    params = native_memory_params(hz=HZ)
    n = len(params) // 2
    for i, (c, o) in enumerate(zip(params[:n], params[n:])):
        name = list(P)[i]
        if name == "pf_window":    # a lead, not a cost: the conservative prefetcher is no closer
            continue
        assert c >= o, name


def test_geometry_matches_the_native_constants():
    src = (Path(__file__).resolve().parents[1] / "harness" / "native" / "blockhook.c").read_text()
    const = {k: int(v) for k, v in re.findall(r"#define (\w+) (\d+)", src)}
    g = {k: v.value for k, v in GEOMETRY.items()}
    assert 1 << const["L1_LINE_SHIFT"] == g["l1d_line"]
    assert const["L1_WAYS"] == g["l1d_ways"]
    assert const["L1_SETS"] * const["L1_WAYS"] * g["l1d_line"] == g["l1d_size"]
    assert 1 << const["L2_LINE_SHIFT"] == g["l2_line"]
    assert const["L2_WAYS"] == g["l2_ways"]
    assert const["L2_SETS"] * const["L2_WAYS"] * g["l2_line"] == g["l2_size"]
    assert const["N_STREAMS"] == g["streams"] and const["BTB_SIZE"] == g["btb"]


# ---- data side ------------------------------------------------------------

HOT = """
    adr x9, data
    ldr x0, [x9]
    wfi
hot:
    .rept 100
    ldr x0, [x9]
    ldr x1, [x9, #8]
    str x0, [x9, #16]
    .endr
    wfi
    b .
    .balign 64
data: .space 64
"""


def test_l1_hit_costs_nothing_extra():
    on, off = Core(HOT), Core(HOT, memory=False)
    first = on.run(), off.run()
    assert first[0]["cons"] > first[1]["cons"]          # the first touch missed
    hot_on, hot_off = on.run("hot"), off.run("hot")
    assert hot_on["insns"] == hot_off["insns"] == 301
    assert (hot_on["cons"], hot_on["opt"]) == (hot_off["cons"], hot_off["opt"])
    assert hot_on["l1_load_misses"] == hot_on["l1_store_misses"] == 0


CHASE = """
chase:
1:  ldr x0, [x0]
    subs x2, x2, #1
    b.ne 1b
    wfi
    b .
"""


def _chain(core: Core, lines: list[int], base: int) -> int:
    """Write a cyclic pointer chain through these 64-byte lines (offsets
    from base, in visiting order); returns its head."""
    mem = core.cpu.uc
    addrs = [base + line * 64 for line in lines]
    # One write per node would take a minute for a million nodes: build the
    # whole region's image and write it at once.
    span = max(lines) + 1
    image = array("Q", bytes(span * 64))
    for a, nxt in zip(addrs, addrs[1:] + addrs[:1]):
        image[(a - base) // 8] = nxt
    mem.mem_write(base, image.tobytes())
    return addrs[0]


def _per_load_cons(d: dict, n: int) -> float:
    """Conservative cycles of one chase load: its static L1-hit cost plus what the model added."""
    return LOAD_CONS + d["stall_conservative_x1000"] / 1000 / n


def test_pointer_chase_in_l2_costs_l2_latency():
    n = (8 << 20) // 64                                  # 8 MiB of 64-byte nodes, random order
    order = list(range(n))
    random.Random(8).shuffle(order)
    core = Core(CHASE, ram=32 << 20)
    head = _chain(core, order, BASE + (1 << 20))
    core.run("chase", x0=head, x2=n)                     # the first pass fills L2 from DRAM
    d = core.run("chase", x0=head, x2=n)
    per = _per_load_cons(d, n)
    l2 = MEMORY["l2_hit"].conservative
    assert 0.9 * l2 <= per <= 1.05 * l2, per
    assert d["l2_misses"] < n // 20, d                   # (a few sets overflow their 16 ways)
    _check_bounds(d)


def test_pointer_chase_beyond_l2_costs_dram_latency():
    dram = MEMORY["dram_latency"].conservative * HZ / 1e9
    # 64 nodes 1 MiB apart (64 MiB): all in one L1 set and one L2 set, more
    # than their ways, so every load goes to DRAM.
    core = Core(CHASE, ram=80 << 20)
    head = _chain(core, [i * ((1 << 20) // 64) for i in range(64)], BASE + (1 << 20))
    core.run("chase", x0=head, x2=64)
    d = core.run("chase", x0=head, x2=64 * 4)
    assert d["l2_misses"] == 64 * 4
    assert _per_load_cons(d, 64 * 4) == pytest.approx(dram, rel=0.01)
    _check_bounds(d)
    # A random chase through every line of 64 MiB: L2 holds a quarter of it.
    n = (64 << 20) // 64
    order = list(range(n))
    random.Random(64).shuffle(order)
    core = Core(CHASE, ram=80 << 20)
    head = _chain(core, order, BASE + (1 << 20))
    core.run("chase", x0=head, x2=n)
    d = core.run("chase", x0=head, x2=n)
    per = _per_load_cons(d, n)
    assert 0.7 * dram <= per <= dram, per
    _check_bounds(d)


MEMSET = """
memset:
1:  .rept 4
    stp q0, q1, [x1], #32
    .endr
    subs x2, x2, #1
    b.ne 1b
    dsb sy                  // everything outstanding completes
    b 2f
2:  wfi
    b .
"""


def test_memset_of_fresh_lines_costs_bytes_over_bandwidth():
    for size in (4096, 64 << 10):
        on, off = Core(MEMSET), Core(MEMSET, memory=False)
        regs = dict(x1=BASE + (1 << 20), x2=size // 128)
        d, static = on.run("memset", **regs), off.run("memset", **regs)
        assert d["l1_store_misses"] == size // 64
        assert d["dram_read_bytes"] == size              # write-allocate: each line fetched once
        bw = size * P["rd_mpb"][0] / 1000                # the channel's time for the bytes
        assert static["cons"] < bw                       # bandwidth-bound, not core-bound
        assert d["cons"] == pytest.approx(bw, rel=0.05), (size, d["cons"], bw)
        opt_bw = size * P["rd_mpb"][1]
        assert max(static["opt"], opt_bw) <= d["opt"] <= 1.05 * max(static["opt"], opt_bw) + 1000
        _check_bounds(d)


def test_streaming_is_the_larger_of_core_and_bandwidth():
    # The same memset with 20 ALU instructions per 128 bytes is core-bound:
    # the model adds (almost) nothing.
    slow = MEMSET.replace("    subs x2", "    .rept 20\n    add x3, x3, #1\n    .endr\n    subs x2")
    on, off = Core(slow), Core(slow, memory=False)
    regs = dict(x1=BASE + (1 << 20), x2=(64 << 10) // 128)
    d, static = on.run("memset", **regs), off.run("memset", **regs)
    assert static["cons"] > (64 << 10) * P["rd_mpb"][0] / 1000
    assert static["cons"] <= d["cons"] <= static["cons"] * 1.02 + P["dram"][0] / 1000


DEVICE = """
    movz x9, #0x2, lsl #32
    .rept 10
    ldr w0, [x9]
    .endr
    .rept 10
    str w0, [x9, #4]
    .endr
    wfi
    b .
"""


LOADS = """
loads:
    ldr x3, [x1]
    ldr x4, [x1, #64]
    ldr x5, [x1, #128]
    ldr x6, [x1, #192]
    b 2f
2:  wfi
    b .
"""


def test_the_prefetcher_covers_a_stream_only_once_it_is_confirmed():
    """Four cold 64-byte lines in a row: the first two are demand misses (a
    stream is confirmed by prefetch_train = 2 lines in a row), the next two
    come at bandwidth cost (harness/costs.py MEMORY prefetch_train)."""
    assert MEMORY["prefetch_train"].conservative == 2
    d = Core(LOADS).run("loads", x1=BASE + (2 << 20))
    static = Core(LOADS, memory=False).run("loads", x1=BASE + (2 << 20))
    assert d["l1_load_misses"] == 4 and d["l2_misses"] == 2      # two 128-byte L2 lines
    assert d["prefetched"] == 2
    # the first line from DRAM, the second (the rest of its L2 line) from L2,
    # both at their latency; the covered two add only their bytes
    extra = d["cons"] - static["cons"]
    assert (P["dram"][0] + P["l2"][0]) / 1000 <= extra < (P["dram"][0] + P["l2"][0]) / 1000 + 20


STORE_THEN_LOAD = """
stl:
    str x3, [x1]            // a store miss: the line allocated, its fill in flight
    ldr x4, [x1, #8]        // the same line at once: waits for the fill
    b 2f
2:  wfi
    b .
"""


def test_a_load_waits_for_the_line_a_store_miss_is_filling():
    """Write-allocate hides a store miss behind the store buffer, not a load
    of the same line right after it: that load waits for the fill (DRAM
    latency here), as it would on the core."""
    d = Core(STORE_THEN_LOAD).run("stl", x1=BASE + (2 << 20))
    assert d["l1_store_misses"] == 1 and d["l1_load_misses"] == 0 and d["fill_waits"] == 1
    assert d["cons"] >= P["dram"][0] / 1000
    # the store alone waits for nothing
    alone = Core(STORE_THEN_LOAD.replace("    ldr x4, [x1, #8]", "    nop")).run("stl", x1=BASE + (2 << 20))
    assert alone["fill_waits"] == 0 and alone["cons"] < 20


def test_device_access_costs_device_latency():
    on, off = _both(DEVICE)
    assert on["device"] == 20
    latency = MEMORY["device_latency"]
    extra = on["cons"] - off["cons"]
    assert extra == pytest.approx(20 * (latency.conservative - LOAD_CONS), abs=1)
    assert on["opt"] - off["opt"] == pytest.approx(20 * (latency.optimistic - MEMORY["l1d_hit"].optimistic) * 1000,
                                                    abs=20)
    _check_bounds(on)


NC_WRITE = """
ncw:
    movz x1, #0x9, lsl #32
    mov x2, #512                // 64 KiB
1:  .rept 4
    stp q0, q1, [x1], #32
    .endr
    subs x2, x2, #1
    b.ne 1b
    dsb sy
    b 2f
2:  wfi
ncr:
    movz x1, #0x9, lsl #32
    .rept 16
    ldr x0, [x1], #64
    .endr
    ldr q0, [x1]                // one 16-byte access (two 8-byte ones in the emulator): one round trip
    ldp x3, x4, [x1, #64]       // one access
    wfi
    b .
"""


def test_nc_writes_at_write_combining_bandwidth_reads_at_dram_latency():
    on, off = Core(NC_WRITE), Core(NC_WRITE, memory=False)
    w, w_static = on.run("ncw"), off.run("ncw")
    assert w["nc_write_bytes"] == 64 << 10
    assert w["l1_store_misses"] == 0                     # NC never enters the caches
    wc = (64 << 10) * P["nc_mpb"][0] / 1000
    assert w_static["cons"] < wc
    assert w["cons"] == pytest.approx(wc, rel=0.03)
    _check_bounds(w)
    r, r_static = on.run("ncr"), off.run("ncr")
    assert r["nc_reads"] == 18
    dram = MEMORY["dram_latency"].conservative * HZ / 1e9
    per = (r["cons"] - r_static["cons"]) / 18 + LOAD_CONS
    assert per == pytest.approx(dram, rel=0.02)
    _check_bounds(r)


def test_flush_makes_the_next_pass_cold():
    core = Core(CHASE, ram=32 << 20)
    n = 4096                                            # 256 KiB: beyond L1, inside L2
    order = list(range(n))
    random.Random(1).shuffle(order)
    head = _chain(core, order, BASE + (1 << 20))
    cold = core.run("chase", x0=head, x2=n)
    warm = core.run("chase", x0=head, x2=n)
    assert cold["l2_misses"] > 0 and warm["l2_misses"] == 0
    core.cpu.flush_caches()
    again = core.run("chase", x0=head, x2=n)
    assert again["l2_misses"] == cold["l2_misses"]
    assert again["cons"] == pytest.approx(cold["cons"], rel=0.01)
    # with write-backs: the dirty lines go out on the channel (none here: the chase only reads)
    core.cpu.flush_caches(writeback=True)
    assert core.run("chase", x0=head, x2=n)["l2_misses"] == cold["l2_misses"]


# ---- branches -------------------------------------------------------------

CALLS = """
    bl f                 // matched: f returns to the call site
    nop
    wfi
switch:
    bl g                 // g returns somewhere else, as a context switch does
    nop
    wfi
ind:
    adr x5, f2
    mov x6, #3
1:  blr x5               // one branch, the same target each time: only the first mispredicts
    subs x6, x6, #1
    b.ne 1b
    wfi
    b .
f:  ret
f2: ret
g:  adr x30, elsewhere
    ret
elsewhere:
    wfi
    b .
"""


def test_return_to_another_address_pays_the_mispredict_penalty():
    on, off = Core(CALLS), Core(CALLS, memory=False)
    matched, static = on.run(), off.run()
    assert matched["returns"] == 1 and matched["mispredicts"] == 0
    assert (matched["cons"], matched["opt"]) == (static["cons"], static["opt"])
    switched, static = on.run("switch"), off.run("switch")
    assert switched["mispredicts"] == 1
    pen = MEMORY["mispredict_penalty"]
    assert switched["cons"] - static["cons"] == pen.conservative
    assert switched["opt"] - static["opt"] == pen.optimistic * 1000
    ind, static = on.run("ind"), off.run("ind")
    assert ind["mispredicts"] == 1                       # the cold indirect target; returns matched
    assert ind["returns"] == 3


def test_eret_is_unpredicted():
    src = """
    adr x0, 1f
    msr elr_el2, x0
    mov x0, #0x3c9        // EL2h, DAIF masked
    msr spsr_el2, x0
    eret
1:  wfi
    b .
"""
    on, off = _both(src)
    assert on["mispredicts"] == 1
    assert on["cons"] - off["cons"] == MEMORY["mispredict_penalty"].conservative


# ---- off is the old model; determinism -----------------------------------------

def test_off_is_the_static_model_exactly():
    # Without the model the counters are the cost table's sum (as before
    # the model existed): every class of CALLS, HOT and MEMSET hand-counted.
    off = Core(CALLS, memory=False)
    d = off.run()
    c = CM.charge
    assert d["insns"] == 4 and d["cons"] == c("branch_cond")[0] * 2 + c("nop")[0]   # bl, ret, nop (wfi free)
    assert not off.cpu.memory_model
    assert "stall_conservative_x1000" not in d


def test_deterministic():
    runs = []
    for _ in range(2):
        core = Core(CHASE, ram=32 << 20)
        order = list(range(20000))
        random.Random(5).shuffle(order)
        head = _chain(core, order, BASE + (1 << 20))
        runs.append((core.run("chase", x0=head, x2=20000), core.run("chase", x0=head, x2=20000)))
    assert runs[0] == runs[1]


# ---- the real kernel --------------------------------------------------------

# The kernel image of the commit before the memory model, booted and
# running SCRIPT by the harness of that commit: (instructions, conservative
# cycles, optimistic milli-cycles) after the boot and after the script.
# With the model off the machine must give exactly these.  They hold for
# that image only: once the kernel changes, the pin is not checked (the
# rest of the test still is), and may be taken again from a harness with
# the model off.
KERNEL_PINNED = "efd4335b29031e02a8b2e331dbeff2af178307b1060ae5037ed0f00532645ec9"
PINNED = {"boot": (1_734_424, 2_362_817, 779_203_157), "script": (2_154_341, 3_065_763, 978_003_328)}
SCRIPT = ": fib ( n -- f ) dup 2 < if exit then dup 1- recurse swap 2 - recurse + ; 20 fib . ' yield 20 bench\n"


def _counts(m) -> tuple[int, int, int]:
    return m.cpu.instructions, m.cpu.cycles_conservative, m.cpu.cycles_optimistic_x1000


def test_kernel_model_off_is_the_old_count_and_on_costs_more(kernel):
    from harness.machine.m3 import M3, M3Config
    figures = {}
    for memory in (False, True):
        m = M3(kernel.elf, M3Config(memory_model=memory))
        assert m.run(100_000_000).status == "idle"
        boot = _counts(m)
        r = m.run_script(SCRIPT)
        assert r.status == "idle" and "6765" in m.output
        figures[memory] = boot, _counts(m)
        if memory:
            stats = m.cpu.memory_stats()
            assert stats["device"] > 0 and stats["nc_write_bytes"] > 0 and stats["returns"] > 0
    (boot_off, run_off), (boot_on, run_on) = figures[False], figures[True]
    # The same boot, more cycles.  (The script's instruction counts may
    # differ: BENCH sorts the cycle samples it reads from PMC0.)
    assert boot_on[0] == boot_off[0]
    assert boot_on[1] > boot_off[1] and run_on[1] - boot_on[1] > run_off[1] - boot_off[1]
    assert run_on[2] <= run_on[1] * 1000
    digest = hashlib.sha256(Path(kernel.elf).read_bytes()).hexdigest()
    if digest == KERNEL_PINNED:
        assert (boot_off, run_off) == (PINNED["boot"], PINNED["script"])
