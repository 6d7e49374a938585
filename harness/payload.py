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


# --- a RAM disk the payload carries (board m3; docs/storage.md) ---------------
#
# The disk goes after the image, from a 16 KiB boundary (the image's size
# is one already: linker/kernel.ld), padded to a whole 16 KiB page, and
# the image's header says where (kernel/macros.inc HDR_DISK_OFF,
# HDR_DISK_LEN: offset from the image's start, length in bytes).  m1n1
# loads the whole file (raw: every byte at its base; Mach-O: every
# LC_SEGMENT_64, the disk being one more) and appends its own data after
# it, so the disk lies in RAM between the image and what m1n1 adds; the
# kernel keeps free memory above it (kernel/boards/m3/ramdisk.S).

SECTOR = 512
HDR_DISK_OFF = 0x30
HDR_DISK_LEN = 0x38
MAX_DISK_SIZE = 1 << 30     # 1 GiB: m1n1 sends it over its proxy; the RAM must hold it too


def read_disk(path) -> bytes:
    """A disk image's bytes, refused with a clear reason if no RAM disk
    can be made of it: missing, empty, not whole 512-byte sectors, too big."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PayloadError(f"disk image {path}: {e.strerror or e}") from None
    if not data:
        raise PayloadError(f"disk image {path} is empty")
    if len(data) % SECTOR:
        raise PayloadError(f"disk image {path} is {len(data)} bytes, not a whole number of "
                           f"{SECTOR}-byte sectors ({len(data) // SECTOR} and {len(data) % SECTOR} bytes)")
    if len(data) > MAX_DISK_SIZE:
        raise PayloadError(f"disk image {path} is {len(data)} bytes: a RAM disk is at most "
                           f"{MAX_DISK_SIZE} bytes (1 GiB)")
    return data


def _check_disk(disk: bytes) -> None:
    if len(disk) % SECTOR:
        raise PayloadError(f"a disk of {len(disk)} bytes is not a whole number of {SECTOR}-byte sectors")
    if len(disk) > MAX_DISK_SIZE:
        raise PayloadError(f"a disk of {len(disk)} bytes: a RAM disk is at most {MAX_DISK_SIZE} bytes (1 GiB)")


def disk_offset(image_size: int) -> int:
    """Where the disk starts in a payload whose image is image_size bytes."""
    return -(-image_size // PAGE_16K) * PAGE_16K


def with_disk(image: bytes, disk: bytes | None) -> bytes:
    """The flat image with the RAM disk appended and its header fields set
    (disk None or empty: the image unchanged)."""
    if not disk:
        return image
    _check_disk(disk)
    if disk_of(image) != (0, 0):
        raise PayloadError("the image already carries a disk")
    off = disk_offset(len(image))
    out = bytearray(image) + bytes(off - len(image)) + disk
    out += bytes(-len(out) % PAGE_16K)
    struct.pack_into("<2Q", out, HDR_DISK_OFF, off, len(disk))
    return bytes(out)


def disk_of(payload: bytes) -> tuple[int, int]:
    """(offset, length) of the RAM disk a payload's header names; (0, 0): none."""
    return struct.unpack_from("<2Q", payload, HDR_DISK_OFF)


def write_bin(elf_path, out, disk: bytes | None = None) -> Path:
    """build/kernel.bin: the flat image, for `chainload.py -r` and stage-1
    chainload=; with a disk, the disk after it (with_disk)."""
    image, _, _ = flat_image(elf_path)
    image = with_disk(image, disk)
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


def macho_bytes(elf_path, disk: bytes | None = None) -> bytes:
    """A Mach-O 64 executable with the ELF's segments at their link addresses
    and an LC_UNIXTHREAD whose pc is the entry (no LC_MAIN: m1n1 ignores it).
    With a disk: the header's disk fields set in the first segment, and the
    disk as one more segment (__DISK) where with_disk puts it, so m1n1's
    flat image of it is kernel.bin's."""
    segments, base, size, offset = _read_elf(elf_path)
    if disk:
        _check_disk(disk)
        first = segments[0]
        if first.vaddr != base or len(first.data) < HDR_DISK_LEN + 8:
            raise PayloadError(f"{elf_path}: the image's header is not in its first segment's file bytes")
        head = bytearray(first.data)
        if disk_of(head) != (0, 0):
            raise PayloadError("the image already carries a disk")
        off = disk_offset(size)
        struct.pack_into("<2Q", head, HDR_DISK_OFF, off, len(disk))
        padded = len(disk) + (-len(disk) % PAGE_16K)
        segments = [Segment(first.vaddr, bytes(head), first.memsz, first.flags), *segments[1:],
                    Segment(base + off, disk, padded, PF_R | PF_W)]
    ncmds = len(segments) + 1
    sizeofcmds = len(segments) * SEGMENT_COMMAND_64.size + THREAD_COMMAND.size + ARM_THREAD_STATE64_T.size
    # Each segment's data starts on a 16 KiB file boundary (after the load
    # commands for the first), as in Apple's arm64 binaries.  macho.py does
    # not care; otool and LIEF read it without complaint.
    fileoff = -(-(MACH_HEADER_64.size + sizeofcmds) // PAGE_16K) * PAGE_16K

    cmds, blobs, used = [], [], set()
    for i, s in enumerate(segments):
        prot = _prot(s.flags)
        name = b"__DISK" if disk and i == len(segments) - 1 else _segname(s.flags, used)
        cmds.append(SEGMENT_COMMAND_64.pack(
            LC_SEGMENT_64, SEGMENT_COMMAND_64.size, name,
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


def write_macho(elf_path, out, disk: bytes | None = None) -> Path:
    """build/kernel.macho: for `chainload.py build/kernel.macho`."""
    data = macho_bytes(elf_path, disk)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
