"""ALLOCATE FREE RESIZE on the kernel's size classes (kernel/kmem.S,
kernel/forth/kmem.S, forth/40-memory.fth), and EL2 demand-zero paging from
the zeroed-page stack (kernel/alloc.S, kernel/domain.S, the demand window
of kernel/mmu.S), driven from the console of the emulated M3."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.machine import kthreads
from harness.machine.m3 import M3
from kernel_support import numbers as _numbers, say
from harness.pagetable import TranslationFault, walk

PAGE = 16384
NCLASS = 13
PC_ZTOP, PC_ZBASE = (kthreads.layout()[k] for k in ("PC_ZTOP", "PC_ZBASE"))   # kernel/percpu.inc
# the pages the idle thread keeps zeroed ahead (kernel/thread.S idle_loop)
IDLE_ZPAGES = int(re.search(r"^IDLE_ZPAGES = (\d+)",
                            (Path(__file__).resolve().parent.parent / "kernel" / "thread.S").read_text(),
                            re.M).group(1))



def err(m, line):
    before = len(m.output)
    r = m.run_script(line + "\n")
    assert r.ok, r.report
    return m.output[before:]


@pytest.fixture(scope="module")
def km(kernel):
    m = M3(kernel.elf)
    assert m.run(50_000_000).ok
    say(m, ": heap-used ( -- n ) 0 heap-base begin dup heap-end u< while "
           "dup chunk-used? if swap 1+ swap then chunk-next repeat drop ;")
    return m


def class_of(u):
    """The chunk size ALLOCATE gives u bytes (0: the first-fit heap)."""
    if u > 65536:
        return 0
    s = 16
    while s < u:
        s *= 2
    return s


def classes(m):
    """[(free, total)] for the 13 classes."""
    return [tuple(say(m, f"{c} kmem-class . .")[::-1]) for c in range(NCLASS)]


# ---------------------------------------------------------------- examples


def test_4096_allocate_is_one_aligned_4k_chunk(km):
    a, ior = say(km, "4096 allocate . .")[::-1]
    assert ior == 0 and a % 4096 == 0
    assert say(km, f"{a} alloc-size . .")[::-1] == [4096, 0]
    b, _ = say(km, "4096 allocate . .")[::-1]
    assert b % 4096 == 0 and abs(b - a) >= 4096
    assert say(km, f"{a} free . {b} free .") == [0, 0]


def test_classes_sizes_and_alignment(km):
    for u in (0, 1, 15, 16, 17, 100, 255, 256, 1000, 4080, 4096, 16384, 16385, 65536):
        a, ior = say(km, f"{u} allocate . .")[::-1]
        s = class_of(max(u, 1))
        assert ior == 0 and a % min(s, PAGE) == 0, (u, hex(a))
        assert say(km, f"{a} alloc-size . .")[::-1] == [s, 0], u
        assert say(km, f"{a} free .") == [0]


def test_beyond_64k_is_the_heap_and_too_big_fails(km):
    a, ior = say(km, "65537 allocate . .")[::-1]
    base, size = say(km, "heap-region . .")[::-1]
    assert ior == 0 and base < a < base + size and a % 8 == 0
    assert say(km, f"{a} alloc-size . .")[::-1][1] == 0
    assert say(km, f"{a} free .") == [0]
    assert say(km, "-1 allocate . .")[::-1] == [0, -59]


def test_bad_free_is_refused_and_changes_nothing(km):
    before = classes(km)
    a, _ = say(km, "64 allocate . .")[::-1]
    h, _ = say(km, "100000 allocate . .")[::-1]
    say(km, f"12345 {a} ! 54321 {h} !")
    assert say(km, f"{a} 16 + free .") == [-60]          # another chunk's start, not allocated
    assert say(km, f"{a} 8 + free .") == [-60]           # inside the chunk
    assert say(km, f"{h} 8 + free .") == [-60]           # inside a heap chunk
    assert say(km, f"{h} 16384 + free .") == [-60]       # the heap, no chunk starts there
    assert say(km, "' dup free .") == [-60]              # the kernel's code
    assert say(km, "here free .") == [-60]               # the dictionary
    assert say(km, "12345 free .") == [-60]              # outside RAM
    assert say(km, f"{a} @ . {h} @ .") == [12345, 54321]  # untouched
    assert say(km, f"{a} free . {a} free .") == [0, -60]  # double free
    assert say(km, f"{h} free . {h} free .") == [0, -60]
    assert say(km, "0 free .") == [0]
    after = classes(km)
    assert all(f == t for f, t in after), after           # all back, nothing lost
    assert all(t >= t0 for (_, t), (_, t0) in zip(after, before))


def test_resize_across_classes_keeps_contents(km):
    a, _ = say(km, "40 allocate . .")[::-1]
    say(km, f": fill ( a n -- ) 0 ?do i over i + c! loop drop ; "
            f": same? ( a n -- f ) true swap 0 ?do over i + c@ i 255 and = and loop nip ; {a} 40 fill")
    b, ior = say(km, f"{a} 5000 resize . .")[::-1]
    assert ior == 0 and b % 8192 == 0 and say(km, f"{b} 40 same? .") == [-1]
    say(km, f"{b} 5000 fill")
    c, ior = say(km, f"{b} 200000 resize . .")[::-1]          # into the heap
    assert ior == 0 and say(km, f"{c} 5000 same? .") == [-1]
    d, ior = say(km, f"{c} 3000 resize . .")[::-1]            # back into a class
    assert ior == 0 and d % 4096 == 0 and say(km, f"{d} 3000 same? .") == [-1]
    assert say(km, f"{d} 2100 resize . .")[::-1] == [d, 0]    # same class: stays
    assert say(km, f"{d} -1 resize . .")[::-1] == [d, -61]    # fails, unchanged
    assert say(km, f"{d} 3000 same? . {d} free .") == [-1, 0]


def test_trim_gives_empty_slabs_back(km):
    """Slabs of a page (1 KiB chunks), pages shared by four slabs (64 B),
    spans of four pages (64 KiB): once all their chunks are free, KMEM-TRIM
    gives every page back to the page lists; a slab still in use stays."""
    say(km, "create many 300 cells allot "
            ": grab ( u -- ) 300 0 do dup allocate throw many i cells + ! loop drop ; "
            ": drop-all 300 0 do many i cells + @ free throw loop ;")
    for u, c in ((1024, 6), (64, 2), (65536, 12)):
        say(km, f"{u} grab drop-all")
        held = classes(km)
        assert held[c][1] >= 300 and all(f == t for f, t in held), u
        slab_pages = sum(t * (16 << k) // PAGE for k, (_, t) in enumerate(held))
        pages0 = say(km, "mem-stats . . . .")[2]
        say(km, "kmem-trim")                                # every class's, all empty
        assert classes(km) == [(0, 0)] * NCLASS, u
        assert say(km, "mem-stats . . . .")[2] == pages0 + slab_pages, u
    a, _ = say(km, "64 allocate . .")[::-1]
    say(km, "kmem-trim")
    assert classes(km)[2][1] == 64 * 4                      # its page's four slabs stay
    assert say(km, f"{a} free .") == [0]


def test_threads_allocating_at_once(km):
    """Threads preempted by the timer in the middle of ALLOCATE and FREE
    (their fast paths are a critical section): no chunk handed out twice,
    none freed twice.  (With the two words outside .text.critical this
    fails: a thread ends in FREE's -60.)"""
    say(km, "create slots 4 256 * cells allot variable bad variable fin "
            ": sl ( t i -- a ) swap 256 * + cells slots + ; "
            ": churn ( t -- ) 1000 0 do 256 0 do i 7 * 13 mod 1+ 24 * allocate throw "
            "over i sl ! loop 256 0 do dup i sl @ over 1000 * i + swap ! loop "
            "256 0 do dup i sl @ @ over 1000 * i + <> if 1 bad +! then loop "
            "256 0 do dup i sl @ free throw loop loop drop 1 fin +! ; "
            ": t0 0 churn ; : t1 1 churn ; : t2 2 churn ; : t3 3 churn ; "
            "' t0 20 spawn drop ' t1 20 spawn drop ' t2 20 spawn drop ' t3 20 spawn drop "
            ": wait ( -- ) 3000 0 do fin @ 4 = if unloop exit then 1 ms loop ; wait")
    assert say(km, "fin @ . bad @ . timer-interrupts 100 > .") == [4, 0, -1]
    assert all(f == t for f, t in classes(km))


# ---------------------------------------------------------------- property

size = st.one_of(st.integers(0, 300), st.sampled_from([16, 64, 1000, 4096, 4097, 16384, 20000, 65536]),
                 st.integers(65537, 300_000))
op = st.one_of(
    st.tuples(st.just("alloc"), size),
    st.tuples(st.just("free"), st.integers(0, 1 << 20)),
    st.tuples(st.just("resize"), st.integers(0, 1 << 20), size),
    st.tuples(st.just("bad"), st.sampled_from(["double", "inside", "wild"]), st.integers(0, 1 << 20)),
)


@settings(max_examples=int(os.environ.get("KMEM_EXAMPLES", "30")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.lists(op, min_size=1, max_size=30))
def test_allocator_against_a_model(km, seq):
    """Random ALLOCATE / FREE / RESIZE / bad FREE sequences: every chunk
    aligned to its class (16 KiB at most), inside RAM, never overlapping a
    live one, holding what was asked; RESIZE keeps the contents; a bad FREE
    is refused and changes nothing; once everything is freed every class's
    chunks are all free and the heap is empty."""
    m = km
    lay = m.layout
    classes0 = classes(m)
    live = {}                   # address -> (u, extent, stamp)
    freed = []
    stamp = [1000]

    def extent(u, a):
        s = class_of(u)
        return s if s else max(u, 8)

    def write(a, u):
        stamp[0] += 1
        v = stamp[0]
        if u >= 8:
            say(m, f"{v} {a} !")
        if u >= 16:
            say(m, f"{v + 1} {a + (u - 8) // 8 * 8} !")
        return v

    def check(a, u, v):
        if u >= 8:
            assert say(m, f"{a} @ .") == [v], f"{a:#x} overwritten"
        if u >= 16:
            assert say(m, f"{a + (u - 8) // 8 * 8} @ .") == [v + 1], f"{a:#x} end overwritten"

    def admit(a, u):
        s = class_of(max(u, 1))
        assert a % (min(s, PAGE) if s else 8) == 0, (u, hex(a))
        assert lay.phys_base <= a < lay.mem_end
        e = extent(u, a)
        for b, (ub, eb, _) in live.items():
            assert a + e <= b or b + eb <= a, f"{a:#x}+{e} overlaps {b:#x}+{eb}"
        got, ior = say(m, f"{a} alloc-size . .")[::-1]
        assert ior == 0 and got >= u

    for o in seq:
        if o[0] == "alloc":
            u = o[1]
            a, ior = say(m, f"{u} allocate . .")[::-1]
            assert ior == 0
            admit(a, u)
            live[a] = (u, extent(u, a), write(a, u))
        elif o[0] == "free" and live:
            a = sorted(live)[o[1] % len(live)]
            u, _, v = live.pop(a)
            check(a, u, v)
            assert say(m, f"{a} free .") == [0]
            freed.append(a)
        elif o[0] == "resize" and live:
            a = sorted(live)[o[1] % len(live)]
            u, _, v = live.pop(a)
            n = o[2]
            b, ior = say(m, f"{a} {n} resize . .")[::-1]
            assert ior == 0
            admit(b, n)
            if min(u, n) >= 8:                  # what both sizes hold came along
                assert say(m, f"{b} @ .") == [v], f"{a:#x} -> {b:#x}: contents lost"
            if 16 <= u <= n:
                assert say(m, f"{b + (u - 8) // 8 * 8} @ .") == [v + 1], f"{a:#x} -> {b:#x}: end lost"
            live[b] = (n, extent(n, b), write(b, n))
        elif o[0] == "bad":
            kind, pick = o[1], o[2]
            if kind == "double":
                gone = [a for a in freed if a not in live]
                if not gone:
                    continue
                a = gone[pick % len(gone)]
                if any(b <= a < b + e for b, (_, e, _) in live.items()):
                    continue                    # reused as part of a live chunk's extent
            elif kind == "inside":
                if not live:
                    continue
                b = sorted(live)[pick % len(live)]
                a = b + 8
            else:
                a = lay.phys_base + (pick * 4099) % (lay.mem_end - lay.phys_base) // 8 * 8
                if a in live or any(b <= a < b + e for b, (_, e, _) in live.items()):
                    continue
                # a chunk nobody holds could be free in a class page: refused too
            assert say(m, f"{a} free .") == [-60], (kind, hex(a))
    for a, (u, _, v) in list(live.items()):
        check(a, u, v)
        assert say(m, f"{a} free .") == [0]
    for c, (free, total) in enumerate(classes(m)):
        assert free == total, f"class {c}: {free} of {total} free"
        assert total >= classes0[c][1]
    assert say(m, "heap-used .") == [0]


# ------------------------------------------------------ demand-zero paging


def _percpu(m, off):
    base = m.symbols.address("percpu", m.load_base)
    return struct.unpack("<Q", bytes(m.cpu.uc.mem_read(base + off, 8)))[0]


def _stack_top_page(m):
    top = _percpu(m, PC_ZTOP)
    assert top > _percpu(m, PC_ZBASE), "the zeroed-page stack is empty"
    return struct.unpack("<Q", bytes(m.cpu.uc.mem_read(top - 8, 8)))[0]


def test_demand_region_pages_come_from_the_zeroed_stack(console):
    m = console.machine
    ttbr = m.cpu.sysreg_read(3, 4, 2, 0, 0)

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))
    # dirty pages on the page lists: the stack must zero what it takes
    out = console.send("create pg 8 cells allot : dirty 8 0 do page-alloc dup 16384 255 fill pg i cells + ! loop "
                       "8 0 do pg i cells + @ page-free loop ; dirty")
    assert "error" not in out
    (n0, missed0) = _numbers(console.send("zeroed-pages . ."))[-2:][::-1]
    base = _numbers(console.send(f"{4 * PAGE} demand-region dup constant dr ."))[-1]
    lo, hi = _numbers(console.send("demand-window . ."))[-2:][::-1]
    assert lo <= base < hi                                      # in the window: not a frame's address
    n1 = _numbers(console.send("zeroed-pages . ."))[-1]
    assert n1 == n0 + 4
    for i in range(4):
        with pytest.raises(TranslationFault):
            walk(read, ttbr, base + i * PAGE)
    frame = _stack_top_page(m)
    assert "0  ok" in console.send(f"dr {PAGE} + 8 + @ .")       # reads zero
    t = walk(read, ttbr, base + PAGE)
    assert t.level == 3 and t.pa == frame and t.pa != base + PAGE   # the top of the stack
    assert m.layout.phys_base <= t.pa < m.layout.mem_end
    assert bytes(m.cpu.uc.mem_read(frame, PAGE)) == bytes(PAGE)     # all of it zero
    console.send(f"77 dr {3 * PAGE} + !")
    assert "77  ok" in console.send(f"dr {3 * PAGE} + @ .")       # writes stick
    n2, missed2 = _numbers(console.send("zeroed-pages . ."))[-2:][::-1]
    assert n2 == n1 - 2 and missed2 == missed0                  # two pages taken, none zeroed on the fault
    with pytest.raises(TranslationFault):
        walk(read, ttbr, base)                                  # untouched: still not mapped


def test_outside_any_region_still_faults(console):
    base = _numbers(console.send(f"{2 * PAGE} demand-region dup constant dq ."))[-1]
    assert "error -9" in console.send(f"dq {2 * PAGE} + @ .")        # the guard page above it
    assert "error -9" in console.send(f"dq {64 * PAGE} + @ .")       # the window, no region there
    assert "error -9" in console.send("demand-window drop 1 - @ .")   # just below it
    assert "error -9" in console.send("0 @ .")
    assert "0  ok" in console.send("dq @ .")                        # the region itself is fine
    assert base


def test_empty_stack_zeroes_on_the_fault(console):
    """More first touches than pages zeroed ahead: the rest are zeroed on
    the fault (the old cost), counted, and still read zero."""
    n, missed = _numbers(console.send("zeroed-pages . ."))[-2:][::-1]
    out = console.send(f"{(n + 600) * PAGE} demand-region constant big "
                       f": touch ( -- sum ) 0 {n + 600} 0 do big i 16384 * + @ + loop ; touch .")
    assert re.search(r"\b0  ok", out), out
    n2, missed2 = _numbers(console.send("zeroed-pages . ."))[-2:][::-1]
    assert missed2 > missed
    assert n2 == IDLE_ZPAGES                  # refilled by the idle thread meanwhile
    assert "5  ok" in console.send(": t2 5 big 8 + ! big 8 + @ ; t2 .")


def test_the_idle_thread_zeroes_pages_ahead(console):
    """Idle time refills the zeroed-page stack to IDLE_ZPAGES (kernel/thread.S
    idle_loop), and no further: a region's first touches then take pages
    from it, none zeroed on the fault."""
    n, missed = _numbers(console.send("zeroed-pages . ."))[-2:][::-1]
    assert n == IDLE_ZPAGES                   # after boot, the console waiting
    out = console.send(f"{40 * PAGE} demand-region constant r40 "
                       ": touch40 ( -- ) 40 0 do r40 i 16384 * + c@ drop loop ; touch40 zeroed-pages . .")
    after, missed2 = _numbers(out)[-2:][::-1]
    assert missed2 == missed                  # every fault found a page ready
    assert after == IDLE_ZPAGES               # and idle time put them back
