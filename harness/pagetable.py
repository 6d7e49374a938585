"""An independent reader of the kernel's translation tables.

The kernel's EL2 map (kernel/mmu.S): 16 KiB granule, 36-bit space, walk
starting at level 2 (2048 entries of 32 MiB), level-3 tables (2048 pages of
16 KiB) only where a block was split.  This walker follows the Arm ARM
descriptor formats, not the kernel's code, so tests can hold one against
the other.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

GRANULE = 16384
BLOCK = 1 << 25
ADDR_MASK = 0x0000_FFFF_FFFF_C000


@dataclass(frozen=True)
class Translation:
    va: int
    pa: int
    level: int          # 2 = 32 MiB block, 3 = 16 KiB page
    descriptor: int

    @property
    def attr_index(self) -> int:
        return (self.descriptor >> 2) & 7

    @property
    def executable_at_el2(self) -> bool:
        return not self.descriptor & (1 << 53)       # PXN (EL2&0 regime: EL2 is "privileged")

    @property
    def access_flag(self) -> bool:
        return bool(self.descriptor & (1 << 10))


class TranslationFault(Exception):
    def __init__(self, va: int, level: int):
        super().__init__(f"translation fault at level {level} for {va:#x}")
        self.va, self.level = va, level


def walk(read: Callable[[int, int], bytes], ttbr: int, va: int, va_bits: int = 36) -> Translation:
    """Translate va through the tables at ttbr; read(addr, size) reads
    physical memory.  Raises TranslationFault for an invalid entry."""
    if va >> va_bits:
        raise TranslationFault(va, 2)
    table = ttbr & ADDR_MASK
    desc = struct.unpack("<Q", read(table + ((va >> 25) & 2047) * 8, 8))[0]
    if desc & 1 == 0:
        raise TranslationFault(va, 2)
    if desc & 3 == 1:                                   # block
        base = desc & 0x0000_FFFF_FE00_0000
        return Translation(va, base | (va & (BLOCK - 1)), 2, desc)
    table = desc & ADDR_MASK                            # table -> level 3
    desc = struct.unpack("<Q", read(table + ((va >> 14) & 2047) * 8, 8))[0]
    if desc & 3 != 3:
        raise TranslationFault(va, 3)
    return Translation(va, (desc & ADDR_MASK) | (va & (GRANULE - 1)), 3, desc)


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


def walk_stage2(read: Callable[[int, int], bytes], vttbr: int, ipa: int) -> Stage2Translation:
    """A domain's stage-2 walk (VTCR_EL2 as kernel/domain.S sets it: 16 KiB
    granule, 36-bit IPA, starting at level 2).  VTTBR's VMID (bits 55:48)
    is not part of the table address."""
    t = walk(read, vttbr & ADDR_MASK, ipa)
    return Stage2Translation(t.va, t.pa, t.level, t.descriptor)
