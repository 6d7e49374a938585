"""An independent reader of the kernel's translation tables.

The kernel's EL2 map (kernel/mmu.S): 16 KiB granule, 36-bit space, walk
starting at level 2 (2048 entries of 32 MiB), level-3 tables (2048 pages of
16 KiB) only where a block was split.  When RAM lies above 64 GiB (M3
Pro/Max DRAM at 0x100_0000_0000) the walk starts at level 1 instead, so
the walker is driven by the space's size, not by the kernel's shape.

This walker follows the Arm ARM descriptor formats (DDI 0487 K.a, D8.3
"Translation table descriptor formats" and D8.2 "Translation table walk",
16 KiB granule), not the kernel's code, so tests can hold one against the
other.  With the 16 KiB granule each level resolves 11 bits above the 14
offset bits: level 3 bits 24:14, level 2 bits 35:25, level 1 bits 46:36,
level 0 bit 47.  Blocks exist only at level 2 (32 MiB): a level-1 block
needs FEAT_LPA2 with TCR.DS = 1, which Apple cores do not have, so here
it is invalid like any reserved encoding (the walk faults).

- walk(read, ttbr, va, va_bits=36) and walk_stage2(read, vttbr, ipa):
  one translation, as before (tests/test_boot.py, tests/test_domains.py).
- Geometry: where a walk starts and how big its root table is, from
  T0SZ (stage 1) or VTCR_EL2 (stage 2, with concatenated root tables).
- translate(read, root, va, geometry): the general walk.
- iter_tables / iter_leaves: every table reachable from a root, and every
  valid leaf (block or page) with the table entry holding it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Iterator

GRANULE = 16384
GRANULE_SHIFT = 14
BITS_PER_LEVEL = 11
ENTRIES = 1 << BITS_PER_LEVEL          # descriptors in one 16 KiB table
BLOCK = 1 << 25
ADDR_MASK = 0x0000_FFFF_FFFF_C000      # next-level table / page address, bits 47:14
PA_BITS_MASK = (1 << 48) - 1

Read = Callable[[int, int], bytes]


def level_shift(level: int) -> int:
    """log2 of the span of one entry at `level` (16 KiB granule)."""
    return GRANULE_SHIFT + BITS_PER_LEVEL * (3 - level)


def output_mask(level: int) -> int:
    """The output-address bits of a leaf at `level` (bits 47:shift)."""
    return PA_BITS_MASK & ~((1 << level_shift(level)) - 1)


def descriptor_kind(desc: int, level: int) -> str:
    """'invalid', 'table', 'block' or 'page' (Arm ARM D8.3.1, 16 KiB
    granule without LPA2).  Bits 1:0 = 01 is a block only at level 2; at
    levels 0 and 1 (no LPA2) and at level 3 it is reserved and the walk
    faults, so it reads as 'invalid' here; block_not_allowed() tells the
    two apart for reports."""
    if not desc & 1:
        return "invalid"
    if level == 3:
        return "page" if desc & 2 else "invalid"
    if desc & 2:
        return "table"
    return "block" if level == 2 else "invalid"


def block_not_allowed(desc: int, level: int) -> bool:
    """A block descriptor at level 0 or 1, which the 16 KiB granule
    without FEAT_LPA2 does not have (it faults)."""
    return level < 2 and desc & 3 == 1


@dataclass(frozen=True)
class Geometry:
    """A translation space: its input size and the level its walk starts
    at.  The root table has root_entries descriptors; for stage 2 that
    may be up to 16 concatenated 16 KiB tables (Arm ARM D8.2.8)."""

    va_bits: int
    start_level: int

    @property
    def root_entries(self) -> int:
        return 1 << max(0, self.va_bits - level_shift(self.start_level))

    @property
    def root_bytes(self) -> int:
        return max(64, 8 * self.root_entries)

    def root_address(self, ttbr: int) -> int:
        """The root table's address from a TTBR/VTTBR value: BADDR bits
        47:1, aligned to the root table's size (the lower bits are RES0;
        bit 0 is CnP; VTTBR's VMID sits in bits 55:48)."""
        return ttbr & PA_BITS_MASK & ~(self.root_bytes - 1)

    @classmethod
    def for_va_bits(cls, va_bits: int) -> "Geometry":
        """Stage 1: the walk starts at the highest level still needed
        (Arm ARM D8.2.6: 36 bits start at level 2, 37-47 at level 1,
        48 at level 0)."""
        if not 15 <= va_bits <= 48:
            raise ValueError(f"{va_bits}-bit space: not valid with the 16 KiB granule")
        levels = -(-(va_bits - GRANULE_SHIFT) // BITS_PER_LEVEL)
        return cls(va_bits, 4 - levels)

    @classmethod
    def from_t0sz(cls, t0sz: int) -> "Geometry":
        return cls.for_va_bits(64 - t0sz)

    @classmethod
    def from_vtcr(cls, vtcr: int) -> "Geometry":
        """Stage 2 (VTCR_EL2): T0SZ bits 5:0, SL0 bits 7:6, TG0 bits 15:14.
        With the 16 KiB granule SL0 0b00..0b11 start at level 3..0
        (D8.2.8); the root may be up to 16 concatenated tables."""
        tg0 = (vtcr >> 14) & 3
        if tg0 != 0b10:
            raise ValueError(f"VTCR_EL2.TG0 = {tg0:#b}: only the 16 KiB granule (0b10) is modelled")
        geometry = cls(64 - (vtcr & 0x3F), 3 - ((vtcr >> 6) & 3))
        shift = level_shift(geometry.start_level)
        if not shift < geometry.va_bits <= shift + BITS_PER_LEVEL + 4:
            raise ValueError(f"VTCR_EL2 {vtcr:#x}: T0SZ and SL0 do not fit together (D8.2.8)")
        return geometry


DEFAULT = Geometry(36, 2)        # the kernel's map and its domains' stage 2


@dataclass(frozen=True)
class Translation:
    va: int
    pa: int
    level: int          # 2 = 32 MiB block, 3 = 16 KiB page
    descriptor: int

    @property
    def size(self) -> int:
        return 1 << level_shift(self.level)

    @property
    def attr_index(self) -> int:
        return (self.descriptor >> 2) & 7

    @property
    def executable_at_el2(self) -> bool:
        return not self.descriptor & (1 << 53)       # PXN (EL2&0 regime: EL2 is "privileged")

    @property
    def writable_at_el2(self) -> bool:
        return not self.descriptor & (1 << 7)        # AP[2] (Arm ARM D8.4: 1 is read-only)

    @property
    def access_flag(self) -> bool:
        return bool(self.descriptor & (1 << 10))


class TranslationFault(Exception):
    def __init__(self, va: int, level: int):
        super().__init__(f"translation fault at level {level} for {va:#x}")
        self.va, self.level = va, level


def _entry(read: Read, table: int, index: int) -> int:
    return struct.unpack("<Q", read(table + index * 8, 8))[0]


def translate(read: Read, root: int, va: int, geometry: Geometry,
              va_base: int = 0) -> Translation:
    """Translate va through the tables at `root` (a physical address);
    read(addr, size) reads physical memory.  va_base is the lowest address
    of the space (0, or the top range for TTBR1).  Raises TranslationFault
    for an invalid or reserved entry or an address outside the space."""
    offset = va - va_base
    if offset < 0 or offset >> geometry.va_bits:
        raise TranslationFault(va, geometry.start_level)
    table, level = root, geometry.start_level
    index = offset >> level_shift(level)
    while True:
        desc = _entry(read, table, index)
        kind = descriptor_kind(desc, level)
        if kind == "invalid":
            raise TranslationFault(va, level)
        if kind != "table":
            base = desc & output_mask(level)
            return Translation(va, base | (offset & ((1 << level_shift(level)) - 1)), level, desc)
        table, level = desc & ADDR_MASK, level + 1
        index = (offset >> level_shift(level)) & (ENTRIES - 1)


def walk(read: Read, ttbr: int, va: int, va_bits: int = 36) -> Translation:
    """Translate va through the tables at ttbr (a 16 KiB-granule space of
    va_bits bits, starting at level 2 for 36 bits and at level 1 for 37 to
    47); read(addr, size) reads physical memory.  Raises TranslationFault
    for an invalid entry."""
    geometry = Geometry.for_va_bits(va_bits)
    return translate(read, geometry.root_address(ttbr), va, geometry)


@dataclass(frozen=True)
class Stage2Translation(Translation):
    """A stage-2 (IPA -> PA) translation: S2AP and XN instead of AP/PXN."""

    @property
    def s2_read(self) -> bool:
        return bool(self.descriptor & (1 << 6))

    @property
    def s2_write(self) -> bool:
        return bool(self.descriptor & (1 << 7))

    @property
    def s2_exec(self) -> bool:
        return not self.descriptor & (1 << 54)


def walk_stage2(read: Read, vttbr: int, ipa: int, vtcr: int | None = None) -> Stage2Translation:
    """A domain's stage-2 walk.  Without vtcr: VTCR_EL2 as kernel/domain.S
    sets it (16 KiB granule, 36-bit IPA, starting at level 2).  VTTBR's
    VMID (bits 55:48) is not part of the table address."""
    geometry = DEFAULT if vtcr is None else Geometry.from_vtcr(vtcr)
    t = translate(read, geometry.root_address(vttbr), ipa, geometry)
    return Stage2Translation(t.va, t.pa, t.level, t.descriptor)


# ---------------------------------------------------------------- enumeration


@dataclass(frozen=True)
class TablePage:
    """One table reachable from a root: `entries` descriptors at `address`
    translating [va, va + entries << level_shift(level))."""

    address: int
    level: int
    va: int
    entries: int

    @property
    def span(self) -> int:
        return 1 << level_shift(self.level)


@dataclass(frozen=True)
class Leaf:
    """A valid block or page: the entry at table + 8 * index."""

    va: int
    pa: int
    size: int
    level: int
    descriptor: int
    table: int
    index: int


def root_pages(root: int, geometry: Geometry, va_base: int = 0) -> list[TablePage]:
    """The root as table pages of at most 2048 entries (a concatenated
    stage-2 root is several 16 KiB pages)."""
    n = geometry.root_entries
    span = 1 << level_shift(geometry.start_level)
    return [TablePage(root + i * 8, geometry.start_level, va_base + i * span, min(ENTRIES, n - i))
            for i in range(0, n, ENTRIES)]


def table_entries(read: Read, page: TablePage) -> tuple[int, ...]:
    return struct.unpack(f"<{page.entries}Q", read(page.address, 8 * page.entries))


def child_page(desc: int, page: TablePage, index: int) -> TablePage:
    """The next-level table a table descriptor at page[index] points to."""
    return TablePage(desc & ADDR_MASK, page.level + 1, page.va + index * page.span, ENTRIES)


def iter_tables(read: Read, root: int, geometry: Geometry, va_base: int = 0) -> Iterator[TablePage]:
    """Every table reachable from root, parents before children (a table
    reachable twice is given once, at its first position)."""
    seen: set[int] = set()
    stack = list(reversed(root_pages(root, geometry, va_base)))
    while stack:
        page = stack.pop()
        if page.address in seen:
            continue
        seen.add(page.address)
        yield page
        if page.level == 3:
            continue
        children = [child_page(d, page, i) for i, d in enumerate(table_entries(read, page))
                    if descriptor_kind(d, page.level) == "table"]
        stack.extend(reversed(children))


def iter_leaves(read: Read, root: int, geometry: Geometry, va_base: int = 0) -> Iterator[Leaf]:
    """Every valid block and page reachable from root, table by table
    (parents first: sort by va for address order)."""
    for page in iter_tables(read, root, geometry, va_base):
        for i, d in enumerate(table_entries(read, page)):
            kind = descriptor_kind(d, page.level)
            if kind in ("block", "page"):
                yield Leaf(page.va + i * page.span, d & output_mask(page.level), page.span,
                           page.level, d, page.address, i)
