"""Build the kernel: assemble kernel/, embed forth/, link, write the payloads.

    python -m harness build [--board m3|virt] [--disk IMAGE]

Outputs (board m3 in build/, other boards in build/<board>/):
    kernel.elf    with symbols, linked at the board's LINK_BASE
    kernel.bin    flat image, entry at offset 0x800 (m1n1 raw chainload)
    kernel.macho  LC_SEGMENT_64 + LC_UNIXTHREAD (m1n1 proxy chainload.py)
With --disk (board m3) both payloads carry the image as a RAM disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from harness import BUILD, ROOT
from harness import help as helptext
from harness import payload, toolchain

KERNEL = ROOT / "kernel"
FORTH = ROOT / "forth"
LINKER_SCRIPT = ROOT / "linker" / "kernel.ld"

# Link addresses: any value works for the m3 image (it is position
# independent); QEMU's -kernel loads an ELF at its link address, above the
# DTB at 0x40000000.
BOARDS = {
    "m3": {"link_base": 0x8_0000_0000},
    "virt": {"link_base": 0x4020_0000},
}

# Relocations that would pin the image to its link address.
ABSOLUTE_RELOCS = {257: "R_AARCH64_ABS64", 258: "R_AARCH64_ABS32", 259: "R_AARCH64_ABS16"}


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Build:
    board: str
    out: Path
    link_base: int

    @property
    def elf(self) -> Path:
        return self.out / "kernel.elf"

    @property
    def bin(self) -> Path:
        return self.out / "kernel.bin"

    @property
    def macho(self) -> Path:
        return self.out / "kernel.macho"


def output_dir(board: str) -> Path:
    return BUILD if board == "m3" else BUILD / board


def forth_sources(board: str = "m3") -> list[Path]:
    """forth/*.fth in name order (the numeric prefixes set the boot order),
    then the board's own, forth/<board>/*.fth."""
    return sorted(FORTH.glob("*.fth")) + sorted((FORTH / board).glob("*.fth"))


def files_sources() -> list[Path]:
    """forth/files/*.fth: the file system, in the image as a second text
    compiled on first use (forth/59-files.fth), not at boot."""
    return sorted((FORTH / "files").glob("*.fth"))


def llm_sources() -> list[Path]:
    """forth/llm/*.fth: the language model (docs/llm.md), in the image as a
    third text compiled on first use (forth/59-files.fth lazy-word), not
    at boot."""
    return sorted((FORTH / "llm").glob("*.fth"))


def write_forth_blob(dest: Path, board: str = "m3", sources: list[Path] | None = None) -> None:
    parts = []
    for src in forth_sources(board) if sources is None else sources:
        text = src.read_bytes()
        bad = [i for i, b in enumerate(text) if b < 0x20 and b not in (0x0A, 0x09)]
        if bad:
            line = text[: bad[0]].count(b"\n") + 1
            raise BuildError(f"{src.relative_to(ROOT)}:{line}: control character "
                             f"{text[bad[0]]:#04x} in Forth source")
        if not text.endswith(b"\n"):
            text += b"\n"
        parts.append(text)
    dest.write_bytes(b"".join(parts))


def check_position_independent(obj: Path) -> None:
    with obj.open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        for section in elf.iter_sections():
            if not isinstance(section, RelocationSection):
                continue
            target = elf.get_section(section["sh_info"])
            if not target["sh_flags"] & 0x2:  # SHF_ALLOC: only what is loaded
                continue
            for rel in section.iter_relocations():
                kind = rel["r_info_type"]
                if kind in ABSOLUTE_RELOCS:
                    sym = symtab.get_symbol(rel["r_info_sym"]).name if symtab else "?"
                    raise BuildError(
                        f"{obj.name}: {ABSOLUTE_RELOCS[kind]} against '{sym}' in "
                        f"{section.name}: the image must be position independent "
                        f"(use adr/adrp or a relative .quad a - .)")


def build(board: str = "m3", disk: Path | str | None = None) -> Build:
    """Assemble and link for `board`, write the payloads.  disk: a disk
    image that kernel.bin and kernel.macho carry as the RAM disk (board
    m3 only; harness/payload.py with_disk); the ELF never has one."""
    if board not in BOARDS:
        raise BuildError(f"unknown board '{board}' (known: {', '.join(BOARDS)})")
    disk_bytes = None
    if disk is not None:
        if board != "m3":
            raise BuildError(f"board {board} carries no RAM disk: its disk is virtio-blk "
                             f"(python -m harness qemu --disk IMAGE)")
        try:
            disk_bytes = payload.read_disk(disk)
        except payload.PayloadError as e:
            raise BuildError(str(e)) from None
    cfg = BOARDS[board]
    out = output_dir(board)
    objdir = out / "obj"
    objdir.mkdir(parents=True, exist_ok=True)

    blob = out / "forth.fth"
    write_forth_blob(blob, board)
    files_blob = out / "files.fth"
    write_forth_blob(files_blob, board, files_sources())
    llm_blob = out / "llm.fth"
    write_forth_blob(llm_blob, board, llm_sources())
    help_blob = out / "help.txt"          # `help WORD`: harness/help.py
    help_blob.write_bytes(helptext.blob(board, forth_sources(board) + files_sources() + llm_sources()))

    board_dir = KERNEL / "boards" / board       # the platform is a directory
    board_inc = board_dir / "board.inc"
    defines = {
        "BOARD_INC": f'"{board_inc}"',
        "BOARD_WORDS": f'"{board_dir / "words.inc"}"',
        "FORTH_BLOB": f'"{blob}"',
        # zig cc's cache does not see .incbin files: name the blob's contents
        "FORTH_BLOB_SHA": hashlib.sha256(blob.read_bytes()).hexdigest()[:16],
        "FILES_BLOB": f'"{files_blob}"',
        "FILES_BLOB_SHA": hashlib.sha256(files_blob.read_bytes()).hexdigest()[:16],
        "LLM_BLOB": f'"{llm_blob}"',
        "LLM_BLOB_SHA": hashlib.sha256(llm_blob.read_bytes()).hexdigest()[:16],
        "HELP_BLOB": f'"{help_blob}"',
        "HELP_BLOB_SHA": hashlib.sha256(help_blob.read_bytes()).hexdigest()[:16],
        f"BOARD_{board.upper()}": "1",
    }
    sources = sorted(KERNEL.glob("*.S")) + sorted(board_dir.glob("*.S"))
    objects = []
    for src in sources:
        obj = objdir / (src.stem + ".o" if src.parent == KERNEL else f"board-{src.stem}.o")
        toolchain.assemble(src, obj, defines, [KERNEL])
        check_position_independent(obj)
        objects.append(obj)

    result = Build(board, out, cfg["link_base"])
    toolchain.link(objects, LINKER_SCRIPT, result.elf, {"LINK_BASE": cfg["link_base"]})
    payload.write_bin(result.elf, result.bin, disk_bytes)
    payload.write_macho(result.elf, result.macho, disk_bytes)
    return result
