"""boot_args against the table in docs/hardware.md (boot_args).

The offsets below are copied from the spec table, not imported from
harness.bootargs, so a wrong layout there cannot agree with itself here.
"""

import struct

import pytest
from hypothesis import given, strategies as st

from harness.bootargs import (BootArgsError, Video, build_boot_args, layout_after_image,
                              parse_boot_args)

K16 = 0x4000
PHYS = 0x8_0000_0000
VIRT = 0xFFFF_FE00_1000_0000

# revision -> (cmdline length, boot_flags offset, mem_size_actual offset)
SPEC_TAIL = {1: (256, 0x170, 0x178), 2: (608, 0x2D0, 0x2D8), 3: (1024, 0x470, 0x478)}

VIDEO = Video(base=0x9_F000_0000, display=1, stride=0x3C00, width=3024, height=1964,
              depth=30 | 0 << 8 | 2 << 16)


def sample(revision, cmdline="console=serial debug"):
    return dict(revision=revision, virt_base=VIRT, phys_base=PHYS, mem_size=0x1_E000_0000,
                top_of_kernel_data=PHYS + 0x0123_4000, video=VIDEO, machine_type=0x1234_5678,
                devtree=VIRT + 0x0100_0000, devtree_size=0x8_1234, cmdline=cmdline,
                boot_flags=0x0123_4567_89AB_CDEF, mem_size_actual=0x2_0000_0000, version=2)


@pytest.mark.parametrize("revision", [1, 2, 3])
def test_fields_at_spec_offsets(revision):
    f = sample(revision)
    b = build_boot_args(**f)
    n, flags_off, msa_off = SPEC_TAIL[revision]
    u16 = lambda off: struct.unpack_from("<H", b, off)[0]
    u32 = lambda off: struct.unpack_from("<I", b, off)[0]
    u64 = lambda off: struct.unpack_from("<Q", b, off)[0]
    assert u16(0x00) == revision
    assert u16(0x02) == 2
    assert u64(0x08) == VIRT
    assert u64(0x10) == PHYS
    assert u64(0x18) == 0x1_E000_0000
    assert u64(0x20) == PHYS + 0x0123_4000
    assert u64(0x28) == VIDEO.base
    assert u64(0x30) == VIDEO.display
    assert u64(0x38) == VIDEO.stride
    assert u64(0x40) == VIDEO.width
    assert u64(0x48) == VIDEO.height
    assert u64(0x50) == VIDEO.depth
    assert u64(0x50) & 0xFF == 30 and (u64(0x50) >> 16) & 0xFF == 2
    assert u32(0x58) == 0x1234_5678
    assert u64(0x60) == VIRT + 0x0100_0000
    assert u32(0x68) == 0x8_1234
    assert b[0x6C:0x6C + n].rstrip(b"\0") == b"console=serial debug"
    assert b[0x6C + len("console=serial debug")] == 0       # NUL terminated
    assert u64(flags_off) == 0x0123_4567_89AB_CDEF
    assert u64(msa_off) == 0x2_0000_0000
    assert len(b) == msa_off + 8


@pytest.mark.parametrize("revision", [1, 2, 3])
def test_cmdline_at_0x6c_not_0x70(revision):
    b = build_boot_args(**sample(revision, cmdline="ABCD"))
    assert b[0x6C:0x70] == b"ABCD"
    assert b[0x70] == 0
    # devtree_size (4 bytes at 0x68) ends exactly where cmdline begins
    assert struct.unpack_from("<I", b, 0x68)[0] == 0x8_1234


@pytest.mark.parametrize("revision", [1, 2, 3])
def test_longest_cmdline_fits_and_one_more_is_refused(revision):
    n = SPEC_TAIL[revision][0]
    b = build_boot_args(**sample(revision, cmdline="x" * (n - 1)))
    assert b[0x6C + n - 1] == 0
    assert parse_boot_args(b)["cmdline"] == "x" * (n - 1)
    with pytest.raises(BootArgsError, match=f"revision {revision} holds {n - 1}"):
        build_boot_args(**sample(revision, cmdline="x" * n))


@pytest.mark.parametrize("revision", [1, 2, 3])
def test_parse_reads_what_build_wrote(revision):
    f = sample(revision)
    assert parse_boot_args(build_boot_args(**f)) == f


def test_parse_a_hand_made_revision_2():
    raw = bytearray(0x2E0)
    struct.pack_into("<HH", raw, 0, 2, 2)
    struct.pack_into("<QQQQ", raw, 0x08, VIRT, PHYS, 0x4000_0000, PHYS + K16)
    struct.pack_into("<6Q", raw, 0x28, *VIDEO)
    struct.pack_into("<I", raw, 0x58, 7)
    struct.pack_into("<QI", raw, 0x60, VIRT + 0x10_0000, 0x1000)
    raw[0x6C:0x6C + 5] = b"hello"
    struct.pack_into("<QQ", raw, 0x2D0, 0x55, 0x4000_0000)
    ba = parse_boot_args(bytes(raw))
    assert ba["revision"] == 2 and ba["cmdline"] == "hello"
    assert ba["video"] == VIDEO and ba["machine_type"] == 7
    assert ba["devtree"] == VIRT + 0x10_0000 and ba["devtree_size"] == 0x1000
    assert ba["boot_flags"] == 0x55 and ba["mem_size_actual"] == 0x4000_0000


@given(revision=st.sampled_from([1, 2, 3]),
       cmdline=st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=255),
       machine_type=st.integers(0, 2**32 - 1), flags=st.integers(0, 2**64 - 1),
       pages=st.integers(1, 0x1_E000_0000 // K16))
def test_round_trip(revision, cmdline, machine_type, flags, pages):
    f = sample(revision, cmdline=cmdline)
    f.update(machine_type=machine_type, boot_flags=flags, top_of_kernel_data=PHYS + pages * K16)
    assert parse_boot_args(build_boot_args(**f)) == f


@pytest.mark.parametrize("change, message", [
    (dict(revision=4), "revision 4 is unknown"),
    (dict(phys_base=PHYS + 0x1000), "phys_base 0x800001000 is not 16 KiB aligned"),
    (dict(virt_base=VIRT + 0x800), "virt_base .* is not 16 KiB aligned"),
    (dict(top_of_kernel_data=PHYS + 0x4010), "top_of_kernel_data .* is not 16 KiB aligned"),
    (dict(top_of_kernel_data=PHYS + 0x2_0000_0000), "top_of_kernel_data .* is outside RAM"),
    (dict(cmdline="a\0b"), "NUL"),
    (dict(cmdline="caf\u00e9"), "not ASCII"),
    (dict(machine_type=2**32), "does not fit"),
    (dict(devtree=VIRT + 0x2_0000_0000), "devtree .* is outside RAM"),
])
def test_bad_inputs_are_refused(change, message):
    f = sample(3)
    f.update(change)
    with pytest.raises(BootArgsError, match=message):
        build_boot_args(**f)


def test_parse_refuses_unknown_revision_and_short_data():
    with pytest.raises(BootArgsError, match="revision 9 is unknown"):
        parse_boot_args(struct.pack("<H", 9) + bytes(0x500))
    with pytest.raises(BootArgsError, match="needs 0x480 bytes"):
        parse_boot_args(build_boot_args(**sample(3))[:0x470])


# --- placement after the image (proxyclient/tools/chainload.py, src/chainload.c) ---

def test_proxy_layout_order_and_alignment():
    base = 0x8_0340_4000
    a = layout_after_image(base, 0x1_2345, sepfw_size=0x1_0001, preoslog_size=0x10)
    assert a.pad == base + 0x1_2345                      # 4 zero bytes right after the file
    assert a.sepfw == base + 0x1_4000                    # align16k(0x12345 + 4)
    assert a.preoslog == a.sepfw + 0x1_4000              # + align16k(0x10001)
    assert a.boot_args == a.preoslog + 0x4000            # + align16k(0x10)
    assert a.top_of_kernel_data == a.boot_args + 0x4000  # 16 KiB of boot_args
    assert a.entry == base + 0x800


def test_image_of_whole_pages_gets_an_extra_page_for_the_pad():
    a = layout_after_image(0x8_0000_4000, 0x8000, sepfw_size=0x4000, preoslog_size=0)
    assert a.pad == 0x8_0000_c000
    assert a.sepfw == 0x8_0001_0000                      # the 4 bytes push SEPFW one page on
    assert a.preoslog == a.boot_args == 0x8_0001_4000
    assert a.top_of_kernel_data == 0x8_0001_8000


def test_no_sepfw_puts_boot_args_after_the_pad():
    a = layout_after_image(0x8_0000_0000, 0x4000, sepfw_size=0, preoslog_size=0)
    assert a.boot_args == 0x8_0000_8000 and a.top_of_kernel_data == 0x8_0000_c000


def test_defaults_are_not_page_multiples():
    a = layout_after_image(0x8_0000_0000, 0x4000)
    assert a.sepfw_size % K16 and a.preoslog_size % K16
    for addr in (a.sepfw, a.preoslog, a.boot_args, a.top_of_kernel_data):
        assert addr % K16 == 0
    assert a.sepfw < a.preoslog < a.boot_args < a.top_of_kernel_data


def test_stage1_layout_has_vars_and_no_preoslog():
    a = layout_after_image(0x8_0000_0000, 0x3FF0, sepfw_size=0x100, path="stage1", vars_size=0x20)
    assert a.pad == 0x8_0000_4010                        # file, then the vars, then 4 zero bytes
    assert a.sepfw == 0x8_0000_8000
    assert a.preoslog_size == 0 and a.boot_args == 0x8_0000_c000
    with pytest.raises(BootArgsError, match="does not carry preoslog"):
        layout_after_image(0x8_0000_0000, 0x4000, preoslog_size=0x100, path="stage1")


@pytest.mark.parametrize("args, message", [
    ((0x8_0000_0800, 0x4000), "load_base .* is not 16 KiB aligned"),
    ((0x8_0000_0000, 0), "image_size 0x0 must be positive"),
])
def test_layout_refuses_bad_inputs(args, message):
    with pytest.raises(BootArgsError, match=message):
        layout_after_image(*args)


def test_layout_and_boot_args_agree():
    a = layout_after_image(PHYS + 0x0340_4000, 0x2_0000)
    f = sample(2)
    f["top_of_kernel_data"] = a.top_of_kernel_data
    assert parse_boot_args(build_boot_args(**f))["top_of_kernel_data"] == a.top_of_kernel_data
