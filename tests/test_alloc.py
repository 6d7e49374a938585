"""The page and block allocators, driven from the console with random
sequences (hypothesis): no block handed out twice, alignment, no overlap
(each block is stamped and checked), and all memory back in the free lists
once everything is freed."""

import os

from hypothesis import given, settings, strategies as st

from harness.machine.m3 import M3
from kernel_support import numbers as _numbers, say

BLOCK, PAGE = 4096, 16384

ops = st.lists(st.tuples(st.sampled_from(["block", "page", "free"]), st.integers(0, 1 << 30)),
               min_size=1, max_size=60)


@settings(max_examples=int(os.environ.get("ALLOC_EXAMPLES", "40")), deadline=None)
@given(ops)
def test_allocators_random_sequences(kernel, seq):
    m = M3(kernel.elf)
    assert m.run(50_000_000).ok
    untouched0, split0, pages0, blocks0 = say(m, "mem-stats . . . .")
    live = {}                           # address -> (kind, stamp)
    stamp = 1
    for op, pick in seq:
        if op == "free":
            if not live:
                continue
            addr = sorted(live)[pick % len(live)]
            kind, value = live.pop(addr)
            size = BLOCK if kind == "block" else PAGE
            # the stamp at both ends survived everything since: no overlap
            got = say(m, f"{addr} @ . {addr + size - 8} @ . {addr} {kind}-free")
            assert got == [value, value], f"{kind} at {addr:#x} was overwritten"
            continue
        size = BLOCK if op == "block" else PAGE
        addr, = say(m, f"{op}-alloc dup . dup {stamp} swap ! dup {size} + 8 - {stamp} swap ! drop")
        assert addr % size == 0, f"{op} {addr:#x} misaligned"
        assert m.layout.phys_base < addr < m.layout.mem_end
        for other, (kind, _) in live.items():
            osize = BLOCK if kind == "block" else PAGE
            assert addr + size <= other or other + osize <= addr, f"{addr:#x} overlaps {other:#x}"
        live[addr] = (op, stamp)
        stamp += 1
    for addr, (kind, _) in list(live.items()):
        say(m, f"{addr} {kind}-free")
    untouched, split, pages, blocks = say(m, "mem-stats . . . .")
    # Everything handed out is back: every page taken from untouched memory
    # since the start is either free or split into blocks that are all
    # free (the kernel's own blocks, e.g. thread control blocks, were
    # already taken before: the counts are compared with the start).
    pages_taken = (untouched0 - untouched) // PAGE
    assert blocks - blocks0 == 4 * (split - split0)
    assert (pages - pages0) + (split - split0) == pages_taken
