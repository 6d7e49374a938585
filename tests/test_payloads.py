"""kernel.bin and kernel.macho, read back by tools that did not write them.

- LIEF reads the ELF (what should be loaded) and the Mach-O (what we wrote);
- tests/m1n1_rules.py reads the Mach-O the way m1n1's proxyclient does, and
  its flat result must be kernel.bin byte for byte, entered at the same
  offset, 0x800, which is where chainload.py -r enters kernel.bin.
"""

import struct
from contextlib import contextmanager
from typing import NamedTuple

import lief
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from harness import ROOT
from harness.payload import PayloadError, flat_image, macho_bytes, write_bin, write_macho
from m1n1_rules import NotLikeM1n1, read_macho_like_m1n1

LINK_BASE = 0x1000_0000

FIXTURE_S = r"""
    .section .head, "ax"
    b       _start
    .ascii  "SOVFIXTR"
    .section .text.entry, "ax"
    .globl  _start
_start:
    adr     x1, value
    ldr     x2, [x1]
    adr     x3, scratch
    str     x2, [x3]
    b       helper
    .text
helper:
    wfe
    b       helper
    .section .rodata
    .ascii  "rodata!"
    .data
value:
    .quad   0x1122334455667788
    .bss
scratch:
    .space  64
"""


@pytest.fixture(scope="module")
def fixture_elf(tmp_path_factory):
    """A tiny kernel-shaped ELF linked with the project's own linker script."""
    from harness.toolchain import ToolchainError, assemble, link
    d = tmp_path_factory.mktemp("fixture")
    (d / "fx.S").write_text(FIXTURE_S)
    try:
        assemble(d / "fx.S", d / "fx.o", {}, [])
        link([d / "fx.o"], ROOT / "linker" / "kernel.ld", d / "fx.elf", {"LINK_BASE": LINK_BASE})
    except ToolchainError as e:
        pytest.fail(f"the fixture does not build with linker/kernel.ld:\n{e}")
    return d / "fx.elf"


class Load(NamedTuple):
    """A PT_LOAD as LIEF read it, copied out (LIEF objects die with their parent)."""
    vaddr: int
    memsz: int
    data: bytes
    executable: bool


def lief_elf_image(path):
    """What should be loaded, according to LIEF: (base, entry, flat bytes, loads)."""
    elf = lief.ELF.parse(str(path))
    loads = [Load(s.virtual_address, s.virtual_size, bytes(s.content)[:s.physical_size],
                  bool(s.flags & lief.ELF.Segment.FLAGS.X))
             for s in elf.segments if s.type == lief.ELF.Segment.TYPE.LOAD]
    base = min(s.vaddr for s in loads)
    image = bytearray(max(s.vaddr + s.memsz for s in loads) - base)
    for s in loads:
        image[s.vaddr - base:s.vaddr - base + len(s.data)] = s.data
    return base, elf.entrypoint, bytes(image), loads


@contextmanager
def lief_macho(data):
    """The one binary in a Mach-O, while its FatBinary (its owner) is alive."""
    fat = lief.MachO.parse(list(data))
    assert fat is not None and fat.size == 1, "LIEF could not read the Mach-O"
    yield fat.at(0)
    del fat


# --- the flat image ------------------------------------------------------------

def test_flat_image_matches_lief_view_of_elf(fixture_elf):
    image, base, entry_offset = flat_image(fixture_elf)
    lbase, lentry, limage, _ = lief_elf_image(fixture_elf)
    assert base == lbase == LINK_BASE
    assert entry_offset == 0x800 and lentry == base + 0x800
    assert image == limage


def test_flat_image_shape(fixture_elf):
    image, _, _ = flat_image(fixture_elf)
    assert len(image) % 0x4000 == 0                    # kernel.ld pads to 16 KiB
    assert image[4:12] == b"SOVFIXTR"
    assert struct.unpack_from("<I", image, 0)[0] >> 26 == 0b000101   # b _start
    assert b"rodata!" in image
    # .data on its own 16 KiB page, then .bss as zeros inside the file
    assert struct.unpack_from("<Q", image, 0x4000)[0] == 0x1122334455667788
    assert len(image) >= 0x4008 + 64 and image[0x4008:0x4008 + 64] == bytes(64)


def test_write_bin(fixture_elf, tmp_path):
    out = write_bin(fixture_elf, tmp_path / "sub" / "kernel.bin")
    assert out.read_bytes() == flat_image(fixture_elf)[0]


# --- the Mach-O, read by LIEF ----------------------------------------------------

def test_macho_read_by_lief(fixture_elf):
    data = macho_bytes(fixture_elf)
    assert struct.unpack_from("<IIII", data, 0) == (0xFEEDFACF, 0x0100000C, 0, 2)
    with lief_macho(data) as m:
        h = m.header
        assert h.magic == lief.MachO.MACHO_TYPES.MAGIC_64
        assert h.cpu_type == lief.MachO.Header.CPU_TYPE.ARM64
        assert h.file_type == lief.MachO.Header.FILE_TYPE.EXECUTE
        assert not m.has_main_command
        assert m.has_thread_command
        t = m.thread_command
        assert t.flavor == 6 and t.count == 68 and len(t.state) == 272
        assert t.pc == LINK_BASE + 0x800 == m.entrypoint
        cmds = {c.command for c in m.commands}
        assert cmds == {lief.MachO.LoadCommand.TYPE.SEGMENT_64, lief.MachO.LoadCommand.TYPE.UNIXTHREAD}


def test_macho_segments_are_the_elf_loads(fixture_elf):
    _, _, _, loads = lief_elf_image(fixture_elf)
    with lief_macho(macho_bytes(fixture_elf)) as m:
        segs = sorted(m.segments, key=lambda s: s.virtual_address)
        assert len(segs) == len(loads)
        for seg, load in zip(segs, sorted(loads)):
            assert seg.virtual_address == load.vaddr
            assert seg.virtual_size == load.memsz
            assert bytes(seg.content)[:seg.file_size] == load.data
            assert seg.file_offset % 0x4000 == 0
            assert seg.name not in ("PYLD", "__PAGEZERO")
            assert bool(seg.init_protection & 4) == load.executable
        assert segs[0].virtual_address == LINK_BASE   # no __PAGEZERO at 0


def test_write_macho(fixture_elf, tmp_path):
    out = write_macho(fixture_elf, tmp_path / "kernel.macho")
    assert out.read_bytes() == macho_bytes(fixture_elf)


# --- the Mach-O, read by m1n1's rules ------------------------------------------------

def test_m1n1_reads_macho_as_kernel_bin(fixture_elf, tmp_path):
    kernel_bin = write_bin(fixture_elf, tmp_path / "kernel.bin").read_bytes()
    flat, entry = read_macho_like_m1n1(macho_bytes(fixture_elf))
    assert flat == kernel_bin
    assert entry == 0x800                     # == chainload.py -r's default entry


def test_m1n1_rules_reader_refuses_what_m1n1_cannot_load():
    with pytest.raises(NotLikeM1n1, match="not a 64-bit"):
        read_macho_like_m1n1(b"\x7fELF" + bytes(60))
    # header with one LC_MAIN (0x80000028) and no LC_UNIXTHREAD
    lc_main = struct.pack("<IIQQ", 0x80000028, 24, 0x800, 0)
    seg = struct.pack("<II16sQQQQiiII", 0x19, 72, b"__TEXT", 0x1000, 0x1000, 0, 0, 5, 5, 0, 0)
    hdr = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 2, 2, len(seg) + len(lc_main), 0, 0)
    with pytest.raises(NotLikeM1n1, match="LC_MAIN is not read"):
        read_macho_like_m1n1(hdr + seg + lc_main)


# --- synthetic ELFs: gaps, memsz > filesz, odd orders, and rejections --------------------

EHDR = "<4sBBBBB7sHHIQQQIHHHHHH"
PHDR = "<IIQQQQQQ"


def make_elf(segments, entry, *, machine=183, elfclass=2, data=1, phdr_order=None):
    """segments: [(vaddr, file bytes, memsz, flags)]; returns ELF64 bytes."""
    n = len(segments)
    phoff = 64
    off = phoff + 56 * n
    body, phdrs = b"", []
    for vaddr, fbytes, memsz, flags in segments:
        phdrs.append(struct.pack(PHDR, 1, flags, off + len(body), vaddr, vaddr, len(fbytes), memsz, 0x4000))
        body += fbytes
    order = phdr_order or range(n)
    ehdr = struct.pack(EHDR, b"\x7fELF", elfclass, data, 1, 0, 0, bytes(7), 2, machine, 1,
                       entry, phoff, 0, 0, 64, 56, n, 64, 0, 0)
    return ehdr + b"".join(phdrs[i] for i in order) + body


def write(tmp_path, data, name="t.elf"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_gap_and_bss_are_zero_filled(tmp_path):
    text = b"\x11" * 0x900
    data = b"\x22" * 0x10
    elf = make_elf([(0x4000_0000, text, 0x900, 5), (0x4000_4000, data, 0x100, 6)], 0x4000_0800,
                   phdr_order=[1, 0])
    p = write(tmp_path, elf)
    image, base, entry = flat_image(p)
    assert base == 0x4000_0000 and entry == 0x800
    assert len(image) == 0x4100
    assert image[:0x900] == text
    assert image[0x900:0x4000] == bytes(0x4000 - 0x900)
    assert image[0x4000:0x4010] == data and image[0x4010:] == bytes(0xF0)
    flat, e = read_macho_like_m1n1(macho_bytes(p))
    assert flat == image and e == 0x800
    with lief_macho(macho_bytes(p)) as m:
        seg = [s for s in m.segments if s.virtual_address == 0x4000_4000][0]
        assert seg.file_size == 0x10 and seg.virtual_size == 0x100


def test_pure_bss_segment_has_no_file_bytes(tmp_path):
    p = write(tmp_path, make_elf([(0x4000_0000, b"\x33" * 0x1000, 0x1000, 5),
                                  (0x4000_8000, b"", 0x2000, 6)], 0x4000_0800))
    image, _, _ = flat_image(p)
    assert len(image) == 0xA000 and image[0x1000:] == bytes(0x9000)
    assert read_macho_like_m1n1(macho_bytes(p)) == (image, 0x800)


segment_lists = st.lists(
    st.tuples(st.integers(0, 8), st.integers(0, 0x3000), st.integers(0, 0x1000), st.sampled_from([4, 5, 6])),
    min_size=0, max_size=4)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(0x804, 0x3000), rest=segment_lists, page=st.integers(1, 0x1000))
def test_any_layout_m1n1_sees_the_flat_image(tmp_path, first, rest, page):
    base = page * 0x4000
    segs = [(base, bytes((i * 7) & 0xFF for i in range(first)), first, 5)]
    cursor = base + first
    for gap_pages, filesz, extra, flags in rest:
        if filesz + extra == 0:
            continue                       # an empty PT_LOAD occupies nothing
        vaddr = -(-cursor // 0x4000) * 0x4000 + gap_pages * 0x4000
        segs.append((vaddr, bytes([flags]) * filesz, filesz + extra, flags))
        cursor = vaddr + filesz + extra
    p = write(tmp_path, make_elf(segs, base + 0x800))
    image, b, e = flat_image(p)
    assert b == base and e == 0x800 and len(image) == cursor - base
    for vaddr, fbytes, memsz, _ in segs:
        o = vaddr - base
        assert image[o:o + len(fbytes)] == fbytes
        assert image[o + len(fbytes):o + memsz] == bytes(memsz - len(fbytes))
    assert read_macho_like_m1n1(macho_bytes(p)) == (image, 0x800)


GOOD = [(0x4000_0000, b"\x00" * 0x1000, 0x1000, 5)]


@pytest.mark.parametrize("elf, message", [
    (b"MZ\x90\x00" + bytes(200), "not an ELF file"),
    (make_elf(GOOD, 0x4000_0800, machine=62), "e_machine 62 is not AArch64"),
    (make_elf(GOOD, 0x4000_0800, elfclass=1), "not ELF64"),
    (make_elf(GOOD, 0x4000_0800, data=2), "not little endian"),
    (make_elf([], 0x4000_0800), r"no loadable \(PT_LOAD\) segments"),
    (make_elf(GOOD, 0x4000_0000), "offset 0x0 .* enters at offset 0x800"),
    (make_elf(GOOD, 0x4000_0804), "offset 0x804"),
    (make_elf([(0x4000_0000, b"", 0x1000, 5)], 0x4000_0800), "not inside the file bytes"),
    (make_elf(GOOD + [(0x4000_0800, b"x", 1, 6)], 0x4000_0800), "overlap"),
    (make_elf(GOOD + [(0x9000_0000, b"x", 1, 6)], 0x4000_0800), "a segment is linked far"),
])
def test_bad_elves_are_refused(tmp_path, elf, message):
    p = write(tmp_path, elf)
    for make in (flat_image, macho_bytes, lambda e: write_bin(e, tmp_path / "k.bin"),
                 lambda e: write_macho(e, tmp_path / "k.macho")):
        with pytest.raises(PayloadError, match=message):
            make(p)
    assert not (tmp_path / "k.bin").exists() and not (tmp_path / "k.macho").exists()


def test_no_pt_load_in_real_fixture(fixture_elf, tmp_path):
    """The linked fixture with every PT_LOAD turned into PT_NULL."""
    elf = bytearray(fixture_elf.read_bytes())
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        if struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 1:
            struct.pack_into("<I", elf, phoff + i * phentsize, 0)
    with pytest.raises(PayloadError, match="no loadable"):
        flat_image(write(tmp_path, bytes(elf)))


# --- the real kernel's payloads (built by the session's `kernel` fixture) -------------

def test_real_kernel_payloads(kernel):
    """build/kernel.bin is the ELF laid flat, and the Mach-O, read by LIEF and
    by m1n1's rules, gives the same bytes and entry."""
    image, base, entry = flat_image(kernel.elf)
    assert entry == 0x800 and len(image) % 0x4000 == 0
    _, lentry, limage, _ = lief_elf_image(kernel.elf)
    assert image == limage and lentry == base + 0x800
    assert kernel.bin.read_bytes() == image, "build/kernel.bin is not the ELF's flat image"
    macho = kernel.macho.read_bytes()
    with lief_macho(macho) as m:
        assert not m.has_main_command and m.thread_command.flavor == 6
        assert m.thread_command.pc == base + 0x800
    assert read_macho_like_m1n1(macho) == (image, 0x800)
    assert image[8:24] == b"SOVEREIGN-KERNEL"
    size, bss, entry_off = struct.unpack_from("<3Q", image, 0x18)
    assert (size, entry_off) == (len(image), 0x800) and 0 < bss < size
