"""Symbols of the linked kernel, for crash reports and measurement.

The image runs at a load base chosen by m1n1, not at its link address, so
every lookup takes the runtime address and the base it was loaded at.
"""

from __future__ import annotations

import bisect
import struct
from pathlib import Path

from elftools.elf.elffile import ELFFile


# Parsed symbol tables by (path, size, mtime): every emulated machine reads
# the same kernel's symbols, and parsing them is most of a machine's setup.
_PARSED: dict[tuple, tuple] = {}


class Symbols:
    def __init__(self, elf_path: Path):
        st = Path(elf_path).stat()
        key = (str(Path(elf_path).resolve()), st.st_size, st.st_mtime_ns)
        if key not in _PARSED:
            _PARSED.clear()
            _PARSED[key] = self._parse(elf_path)
        self.link_base, self._addrs, self._names, self._by_name = _PARSED[key]

    @staticmethod
    def _parse(elf_path: Path) -> tuple:
        with open(elf_path, "rb") as f:
            elf = ELFFile(f)
            table = elf.get_section_by_name(".symtab")
            syms = {}
            for s in table.iter_symbols() if table else ():
                name = s.name
                if not name or s["st_shndx"] in ("SHN_UNDEF", "SHN_ABS"):
                    continue
                if name.startswith(("$", ".L")) or s["st_info"]["type"] in ("STT_SECTION", "STT_FILE"):
                    continue
                syms.setdefault(s["st_value"], name)
            link_base = min(seg["p_vaddr"] for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD")
        addrs = sorted(syms)
        return link_base, addrs, [syms[a] for a in addrs], {n: a for a, n in syms.items()}

    def address(self, name: str, load_base: int) -> int:
        """Runtime address of a symbol in an image loaded at load_base."""
        try:
            return self._by_name[name] - self.link_base + load_base
        except KeyError:
            raise KeyError(f"no symbol '{name}' in the kernel ELF") from None

    def describe(self, addr: int, load_base: int) -> str:
        """'name+0xoff' for a runtime address, or '?' outside the image."""
        link = addr - load_base + self.link_base
        i = bisect.bisect_right(self._addrs, link) - 1
        if i < 0 or link - self._addrs[i] > 0x10000:
            return "?"
        off = link - self._addrs[i]
        return self._names[i] + (f"+{off:#x}" if off else "")


def code_words(elf_path: Path) -> dict[int, int]:
    """Every aligned 32-bit word of the ELF's executable sections, by
    address (data there cannot be executed, so a stray match costs
    nothing): for scans of the image (the QEMU runner's WFIs, the
    instructions the kernel must not use)."""
    out: dict[int, int] = {}
    with open(elf_path, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_flags"] & 0x4:     # SHF_EXECINSTR
                data, base = sec.data(), sec["sh_addr"]
                out.update((base + i, w) for i, (w,) in zip(range(0, len(data) - 3, 4),
                                                          struct.iter_unpack("<I", data[:len(data) // 4 * 4])))
    return out
