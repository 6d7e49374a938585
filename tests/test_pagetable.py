"""harness/pagetable.py: the independent walker, on tables built in a
Python dict (no emulator), for both shapes the kernel uses (a level-2
root for a 36-bit space, a level-1 root above 64 GiB) and stage 2."""

from __future__ import annotations

import struct

import pytest

from harness import pagetable as pt
from harness.pagetable import Geometry, TranslationFault

AF, SH = 1 << 10, 3 << 8
BLOCK_DESC = 1 | AF | SH | 1 << 2
PAGE_DESC = 3 | AF | SH | 1 << 2
MB32 = 1 << 25


class Memory:
    """Sparse physical memory of 8-byte descriptors (unset reads 0)."""

    def __init__(self, entries: dict[int, int]):
        self.words = dict(entries)

    def read(self, addr: int, size: int) -> bytes:
        assert addr % 8 == 0 and size % 8 == 0
        return b"".join(struct.pack("<Q", self.words.get(addr + i, 0)) for i in range(0, size, 8))


ROOT2 = 0x8_0010_0000          # a level-2 root (36 bits)
L3 = 0x8_0010_4000
ROOT1 = 0x8_0010_8000          # a level-1 root (41 bits: 32 entries)
L2_HIGH = 0x8_0010_C000


def two_level() -> Memory:
    return Memory({
        ROOT2 + 1024 * 8: 0x8_0000_0000 | BLOCK_DESC,          # VA 0x8_0000_0000: block
        ROOT2 + 1025 * 8: L3 | 3,                              # VA 0x8_0200_0000: table
        L3 + 0 * 8: 0x8_0200_0000 | PAGE_DESC,
        L3 + 1 * 8: 0x9_0000_0000 | PAGE_DESC,                 # page 1 maps elsewhere
        L3 + 2 * 8: 0x8_0200_8000 | 1,                         # reserved at level 3: invalid
        ROOT2 + 1026 * 8: (1 << 36) | 1,                       # output above the 36-bit input space
    })


@pytest.mark.parametrize("bits,level,entries", [
    (25, 3, 2048), (30, 2, 32), (36, 2, 2048), (37, 1, 2), (41, 1, 32), (47, 1, 2048), (48, 0, 2)])
def test_geometry_from_space_size(bits, level, entries):
    g = Geometry.for_va_bits(bits)
    assert (g.start_level, g.root_entries) == (level, entries)
    assert Geometry.from_t0sz(64 - bits) == g


def test_geometry_rejects_sizes_16k_cannot_have():
    for bits in (14, 49, 64):
        with pytest.raises(ValueError):
            Geometry.for_va_bits(bits)


def test_geometry_from_vtcr_kernel_value_and_concatenation():
    kernel = 28 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 14 | 1 << 31   # kernel/domain.S
    assert Geometry.from_vtcr(kernel) == pt.DEFAULT == Geometry(36, 2)
    wide = Geometry.from_vtcr(24 | 1 << 6 | 2 << 14)          # 40-bit IPA from level 2: 16 tables
    assert wide.root_entries == 16 * 2048
    assert len(pt.root_pages(ROOT2, wide)) == 16
    assert Geometry.from_vtcr(23 | 2 << 6 | 2 << 14) == Geometry(41, 1)
    with pytest.raises(ValueError):
        Geometry.from_vtcr(20 | 1 << 6 | 2 << 14)             # 44 bits from level 2: > 16 tables
    with pytest.raises(ValueError):
        Geometry.from_vtcr(28 | 1 << 6 | 0 << 14)             # 4 KiB granule


def test_root_address_alignment_and_vmid():
    assert pt.DEFAULT.root_address(ROOT2 | 5 << 48 | 1) == ROOT2           # VMID and CnP dropped
    assert Geometry(41, 1).root_address(ROOT1 + 0x100) == ROOT1 + 0x100    # 256-byte root
    assert Geometry(41, 1).root_address(ROOT1 + 0x104) == ROOT1 + 0x100


def test_walk_two_level_as_before():
    mem = two_level()
    t = pt.walk(mem.read, ROOT2, 0x8_0123_4567)
    assert (t.pa, t.level, t.size) == (0x8_0123_4567, 2, MB32)
    t = pt.walk(mem.read, ROOT2, 0x8_0200_5678)
    assert (t.pa, t.level, t.size) == (0x9_0000_1678, 3, 16384)
    assert t.attr_index == 1 and t.access_flag and t.executable_at_el2
    for va, level in ((0x8_0200_8000, 3), (0x8_0200_C000, 3), (0x1000, 2), (1 << 36, 2)):
        with pytest.raises(TranslationFault) as e:
            pt.walk(mem.read, ROOT2, va)
        assert e.value.level == level, hex(va)


def test_walk_three_level_from_level1_root():
    mem = two_level()
    mem.words[ROOT1 + 0 * 8] = ROOT2 | 3                         # VA 0 .. 64 GiB
    mem.words[ROOT1 + 16 * 8] = L2_HIGH | 3                      # VA 0x100_0000_0000 (M3 Pro DRAM)
    mem.words[L2_HIGH + 0] = 0x100_0000_0000 | BLOCK_DESC
    mem.words[ROOT1 + 17 * 8] = (0x110_0000_0000) | BLOCK_DESC    # a level-1 block: faults
    assert pt.walk(mem.read, ROOT1, 0x8_0200_5678, va_bits=41).pa == 0x9_0000_1678
    t = pt.walk(mem.read, ROOT1, 0x100_0100_0000, va_bits=41)
    assert (t.pa, t.level) == (0x100_0100_0000, 2)
    with pytest.raises(TranslationFault) as e:
        pt.walk(mem.read, ROOT1, 0x110_0000_0000, va_bits=41)
    assert e.value.level == 1
    assert pt.block_not_allowed(mem.words[ROOT1 + 17 * 8], 1)
    with pytest.raises(TranslationFault) as e:
        pt.walk(mem.read, ROOT1, 1 << 41, va_bits=41)
    assert e.value.level == 1


def test_walk_stage2_ignores_vmid_and_takes_vtcr():
    mem = two_level()
    s = pt.walk_stage2(mem.read, ROOT2 | 7 << 48, 0x8_0200_4000)
    assert (s.pa, s.level) == (0x9_0000_0000, 3)
    mem.words[ROOT1 + 0] = ROOT2 | 3
    s = pt.walk_stage2(mem.read, ROOT1 | 7 << 48, 0x8_0000_0010, vtcr=23 | 2 << 6 | 2 << 14)
    assert s.pa == 0x8_0000_0010


def test_descriptor_kinds():
    assert pt.descriptor_kind(0, 2) == "invalid"
    assert pt.descriptor_kind(BLOCK_DESC, 2) == "block"
    assert pt.descriptor_kind(BLOCK_DESC, 1) == "invalid"     # no level-1 blocks without LPA2
    assert pt.descriptor_kind(BLOCK_DESC, 3) == "invalid"     # reserved at level 3
    assert pt.descriptor_kind(PAGE_DESC, 3) == "page"
    assert pt.descriptor_kind(L3 | 3, 2) == "table"


def test_iter_tables_and_leaves():
    mem = two_level()
    mem.words[ROOT1 + 0] = ROOT2 | 3
    tables = list(pt.iter_tables(mem.read, ROOT1, Geometry(41, 1)))
    assert [(t.address, t.level, t.va, t.entries) for t in tables] == [
        (ROOT1, 1, 0, 32), (ROOT2, 2, 0, 2048), (L3, 3, 0x8_0200_0000, 2048)]
    leaves = sorted(pt.iter_leaves(mem.read, ROOT1, Geometry(41, 1)), key=lambda x: x.va)
    assert [(x.va, x.pa, x.size, x.level, x.table, x.index) for x in leaves] == [
        (0x8_0000_0000, 0x8_0000_0000, MB32, 2, ROOT2, 1024),
        (0x8_0200_0000, 0x8_0200_0000, 16384, 3, L3, 0),
        (0x8_0200_4000, 0x9_0000_0000, 16384, 3, L3, 1),
        (0x8_0400_0000, 1 << 36, MB32, 2, ROOT2, 1026),
    ]
    # every leaf agrees with the single-address walk
    for x in leaves:
        assert pt.walk(mem.read, ROOT1, x.va + 8, va_bits=41).pa == x.pa + 8


def test_ttbr1_space_va_base():
    mem = Memory({ROOT2 + 3 * 8: 0x8_0000_0000 | BLOCK_DESC})
    base = (1 << 64) - (1 << 36)
    t = pt.translate(mem.read, ROOT2, base + 3 * MB32 + 0x10, pt.DEFAULT, va_base=base)
    assert t.pa == 0x8_0000_0010
    [leaf] = pt.iter_leaves(mem.read, ROOT2, pt.DEFAULT, va_base=base)
    assert leaf.va == base + 3 * MB32
