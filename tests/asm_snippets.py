"""Assemble small AArch64 snippets for emulator tests.

assemble_snippet(source, base) assembles `source` with the project's
toolchain (zig clang + lld), links it at `base` and returns the raw bytes of
the loaded image plus its symbol table. Results are cached under
build/test-snippets by a hash of the source, so a test run assembles each
snippet once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from harness import toolchain

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "test-snippets"

_LD = """\
ENTRY(_start)
SECTIONS {
    . = BASE;
    .text : { *(.text .text.*) *(.rodata .rodata.*) *(.data .data.*) *(.bss .bss.*) }
}
"""


def _cache_stem(source: str, base: int) -> tuple[str, Path]:
    text = ".text\n.globl _start\n_start:\n" + source + "\n"
    key = hashlib.sha256(f"{base:#x}\n{text}".encode()).hexdigest()[:20]
    return text, CACHE / key


def snippet_elf(source: str, base: int = 0x8_0000_0000) -> Path:
    """The linked ELF of a snippet (assembled if not cached), e.g. for
    tools that read ELF files such as harness/barriers.py."""
    _text, out = _cache_stem(source, base)
    if not out.with_suffix(".elf").exists():
        out.with_suffix(".bin").unlink(missing_ok=True)
        assemble_snippet(source, base)
    return out.with_suffix(".elf")


def assemble_snippet(source: str, base: int = 0x8_0000_0000) -> tuple[bytes, dict[str, int]]:
    text, out = _cache_stem(source, base)
    binf, symf = out.with_suffix(".bin"), out.with_suffix(".json")
    if binf.exists() and symf.exists():
        return binf.read_bytes(), json.loads(symf.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    src, obj, elf, lds = (out.with_suffix(s) for s in (".S", ".o", ".elf", ".ld"))
    src.write_text(text)
    lds.write_text(_LD)
    toolchain.assemble(src, obj, {}, [])
    toolchain.link([obj], lds, elf, {"BASE": base})
    with elf.open("rb") as f:
        ef = ELFFile(f)
        sec = ef.get_section_by_name(".text")
        assert sec["sh_addr"] == base, "snippet must start at its base"
        code = sec.data()
        syms = {}
        st = ef.get_section_by_name(".symtab")
        if isinstance(st, SymbolTableSection):
            for s in st.iter_symbols():
                if s.name and not s.name.startswith("$") and s["st_shndx"] != "SHN_ABS":
                    syms[s.name] = s["st_value"]
    binf.write_bytes(code)
    symf.write_text(json.dumps(syms))
    return code, syms
