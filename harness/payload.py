"""The payloads m1n1 can start: a flat image and a Mach-O, made from the ELF.

m1n1 takes a kernel in one of two shapes (docs/hardware.md, The payload
shapes):

* raw (`chainload.py -r kernel.bin`, or the stage-1 `chainload=` variable):
  the bytes are copied to m1n1's own base and entered at base + 0x800;
* Mach-O (`chainload.py kernel.macho`): proxyclient/m1n1/macho.py lays the
  LC_SEGMENT_64 segments flat over [vmin, vmax) and enters at pc - vmin.

Both must produce the same bytes at the same offsets, so both are made from
one flat image of the ELF's PT_LOAD segments.  The image is position
independent; the link address only matters as the origin of the offsets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# m1n1's raw chainload enters at base + 0x800 (chainload.py -E default 2048,
# src/chainload.c next_stage.args[4] = new_base + 0x800).  The Mach-O path
# would accept any entry, but one image must serve both paths.
ENTRY_OFFSET = 0x800

# A flat image is copied whole into RAM; anything this large is a broken
# link (a stray segment at a far address), not a kernel.
MAX_IMAGE_SIZE = 256 << 20

PAGE_16K = 0x4000


class PayloadError(ValueError):
    """The ELF cannot be turned into an m1n1 payload; the message says why."""


# --- ELF (only what is needed to lay out PT_LOAD segments) -------------------

ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
EM_AARCH64 = 183
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4

# e_ident (16 bytes) is checked by hand first, so that a 32-bit or big-endian
# file is rejected before any field is read with the wrong layout.
ELF64_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")   # e_ident .. e_shstrndx
ELF64_PHDR = struct.Struct("<IIQQQQQQ")           # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align


@dataclass(frozen=True)
class Segment:
    """One PT_LOAD: where it links, its bytes from the file, its memory size."""
    vaddr: int
    data: bytes
    memsz: int
    flags: int


def _load_segments(elf: bytes, name: str) -> tuple[list[Segment], int]:
    """Read the PT_LOAD segments and e_entry, refusing anything that is not
    a little-endian AArch64 ELF64 with at least one loadable segment."""
    if len(elf) < ELF64_EHDR.size or elf[:4] != ELF_MAGIC:
        raise PayloadError(f"{name}: not an ELF file")
    ei_class, ei_data = elf[4], elf[5]
    if ei_class != ELFCLASS64:
        raise PayloadError(f"{name}: ELF class {ei_class} is not ELF64 (2): m1n1 needs a 64-bit AArch64 image")
    if ei_data != ELFDATA2LSB:
        raise PayloadError(f"{name}: ELF data encoding {ei_data} is not little endian (1)")
    (_, _e_type, e_machine, _e_version, e_entry, e_phoff, _e_shoff, _e_flags,
     _e_ehsize, e_phentsize, e_phnum, *_rest) = ELF64_EHDR.unpack_from(elf)
    if e_machine != EM_AARCH64:
        raise PayloadError(f"{name}: e_machine {e_machine} is not AArch64 ({EM_AARCH64})")
    if e_phnum and e_phentsize < ELF64_PHDR.size:
        raise PayloadError(f"{name}: program header entries of {e_phentsize} bytes are too small")
    if e_phoff + e_phnum * e_phentsize > len(elf):
        raise PayloadError(f"{name}: program headers run past the end of the file")

    segments = []
    for i in range(e_phnum):
        (p_type, p_flags, p_offset, p_vaddr, _p_paddr, p_filesz, p_memsz,
         _p_align) = ELF64_PHDR.unpack_from(elf, e_phoff + i * e_phentsize)
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        if p_filesz > p_memsz:
            raise PayloadError(f"{name}: PT_LOAD {i} has filesz {p_filesz:#x} > memsz {p_memsz:#x}")
        if p_offset + p_filesz > len(elf):
            raise PayloadError(f"{name}: PT_LOAD {i} runs past the end of the file")
        segments.append(Segment(p_vaddr, elf[p_offset:p_offset + p_filesz], p_memsz, p_flags))
    if not segments:
        raise PayloadError(f"{name}: no loadable (PT_LOAD) segments")
    segments.sort(key=lambda s: s.vaddr)
    for a, b in zip(segments, segments[1:]):
        if a.vaddr + a.memsz > b.vaddr:
            raise PayloadError(f"{name}: PT_LOAD segments at {a.vaddr:#x} and {b.vaddr:#x} overlap")
    return segments, e_entry


def _read_elf(elf_path) -> tuple[list[Segment], int, int, int]:
    """Segments, lowest vaddr, image size and entry offset, all checked."""
    path = Path(elf_path)
    segments, entry = _load_segments(path.read_bytes(), str(path))
    base = segments[0].vaddr
    size = max(s.vaddr + s.memsz for s in segments) - base
    if size > MAX_IMAGE_SIZE:
        raise PayloadError(f"{path}: loadable segments span {size:#x} bytes (more than {MAX_IMAGE_SIZE:#x}); "
                           "a segment is linked far from the image")
    offset = entry - base
    if offset != ENTRY_OFFSET:
        raise PayloadError(f"{path}: entry {entry:#x} is at offset {offset:#x} from the image start {base:#x}; "
                           f"m1n1's raw chainload enters at offset {ENTRY_OFFSET:#x}")
    if not any(s.vaddr <= entry < s.vaddr + len(s.data) for s in segments):
        raise PayloadError(f"{path}: entry {entry:#x} is not inside the file bytes of a loadable segment")
    return segments, base, size, offset


def flat_image(elf_path) -> tuple[bytes, int, int]:
    """The ELF's PT_LOAD segments laid flat from the lowest vaddr.

    Gaps between segments and memsz beyond filesz are zero.  Returns
    (image bytes, link base, entry offset); the entry offset is always 0x800.
    """
    segments, base, size, offset = _read_elf(elf_path)
    image = bytearray(size)
    for s in segments:
        start = s.vaddr - base
        image[start:start + len(s.data)] = s.data
    return bytes(image), base, offset


def write_bin(elf_path, out) -> Path:
    """build/kernel.bin: the flat image, for `chainload.py -r` and stage-1 chainload=."""
    image, _, _ = flat_image(elf_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(image)
    return out


# --- Mach-O -----------------------------------------------------------------
#
# What proxyclient/m1n1/macho.py reads, and so what this writer relies on:
# - the header's ncmds, then each command's cmd/cmdsize;
# - LC_SEGMENT_64: vmaddr, vmsize, fileoff, filesize (sections are parsed
#   greedily from the rest of cmdsize and otherwise ignored, so cmdsize must
#   be exactly 72 + 80 * nsects: we write no sections);
# - LC_UNIXTHREAD: the pc of the first flavor-6 (ARM_THREAD_STATE64) state.
# vmin is taken over every LC_SEGMENT_64, so there is no __PAGEZERO (it would
# make vmin 0 and the image gigabytes long), and no segment is named "PYLD"
# (macho.py truncates the image at that segment's fill, for m1n1 itself).
#
# One LC_SEGMENT_64 per PT_LOAD rather than one over everything: macho.py
# lays every segment out the same way and zero-fills the gaps itself, so
# both work; per-segment keeps the ELF's R/W/X in maxprot/initprot for
# otool/LIEF, and leaves the inter-segment padding out of the file.

MH_MAGIC_64 = 0xFEEDFACF
CPU_TYPE_ARM64 = 0x0100000C
CPU_SUBTYPE_ARM64_ALL = 0
MH_EXECUTE = 2
MH_NOUNDEFS = 0x1
LC_UNIXTHREAD = 0x5
LC_SEGMENT_64 = 0x19
ARM_THREAD_STATE64 = 6
VM_PROT_READ, VM_PROT_WRITE, VM_PROT_EXECUTE = 1, 2, 4

MACH_HEADER_64 = struct.Struct("<IiiIIIII")          # magic cputype cpusubtype filetype ncmds sizeofcmds flags reserved
SEGMENT_COMMAND_64 = struct.Struct("<II16sQQQQiiII")  # cmd cmdsize segname vmaddr vmsize fileoff filesize maxprot initprot nsects flags
THREAD_COMMAND = struct.Struct("<IIII")               # cmd cmdsize flavor count
ARM_THREAD_STATE64_T = struct.Struct("<29QQQQQII")    # x0..x28 fp lr sp pc cpsr pad
ARM_THREAD_STATE64_COUNT = ARM_THREAD_STATE64_T.size // 4   # in 32-bit words: 68


def _segname(flags: int, used: set[str]) -> bytes:
    base = "__TEXT" if flags & PF_X else "__DATA" if flags & PF_W else "__CONST"
    name, n = base, 1
    while name in used:
        name, n = f"{base}{n}", n + 1
    used.add(name)
    return name.encode()


def _prot(flags: int) -> int:
    return ((VM_PROT_READ if flags & PF_R else 0) | (VM_PROT_WRITE if flags & PF_W else 0)
            | (VM_PROT_EXECUTE if flags & PF_X else 0))


def macho_bytes(elf_path) -> bytes:
    """A Mach-O 64 executable with the ELF's segments at their link addresses
    and an LC_UNIXTHREAD whose pc is the entry (no LC_MAIN: m1n1 ignores it)."""
    segments, base, _, offset = _read_elf(elf_path)
    ncmds = len(segments) + 1
    sizeofcmds = len(segments) * SEGMENT_COMMAND_64.size + THREAD_COMMAND.size + ARM_THREAD_STATE64_T.size
    # Each segment's data starts on a 16 KiB file boundary (after the load
    # commands for the first), as in Apple's arm64 binaries.  macho.py does
    # not care; otool and LIEF read it without complaint.
    fileoff = -(-(MACH_HEADER_64.size + sizeofcmds) // PAGE_16K) * PAGE_16K

    cmds, blobs, used = [], [], set()
    for s in segments:
        prot = _prot(s.flags)
        cmds.append(SEGMENT_COMMAND_64.pack(
            LC_SEGMENT_64, SEGMENT_COMMAND_64.size, _segname(s.flags, used),
            s.vaddr, s.memsz, fileoff if s.data else 0, len(s.data), prot, prot, 0, 0))
        if s.data:
            blobs.append((fileoff, s.data))
            fileoff = -(-(fileoff + len(s.data)) // PAGE_16K) * PAGE_16K
    state = ARM_THREAD_STATE64_T.pack(*([0] * 29), 0, 0, 0, base + offset, 0, 0)
    cmds.append(THREAD_COMMAND.pack(LC_UNIXTHREAD, THREAD_COMMAND.size + len(state),
                                    ARM_THREAD_STATE64, ARM_THREAD_STATE64_COUNT) + state)

    header = MACH_HEADER_64.pack(MH_MAGIC_64, CPU_TYPE_ARM64, CPU_SUBTYPE_ARM64_ALL, MH_EXECUTE,
                                 ncmds, sizeofcmds, MH_NOUNDEFS, 0)
    out = bytearray(header + b"".join(cmds))
    assert len(out) == MACH_HEADER_64.size + sizeofcmds
    for off, data in blobs:
        out += bytes(off - len(out))
        out += data
    return bytes(out)


def write_macho(elf_path, out) -> Path:
    """build/kernel.macho: for `chainload.py build/kernel.macho`."""
    data = macho_bytes(elf_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
