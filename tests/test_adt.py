"""The ADT writer/reader (harness.adt) and the chip ADTs (harness.chips).

The addresses, IRQs and MPIDRs expected below are typed in from the Linux
device trees (t8122.dtsi, t6030.dtsi, t6031-die0/dieX/base.dtsi), not read
from the chip JSON, so a wrong value there cannot agree with itself here.
`_walk` is a second reader written from the format description alone
(shared with harness.adt: nothing), to prove the byte layout.
"""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings, strategies as st

from harness import adt, chips
from harness.adt import AdtError, Node

CHIPS = ["t8122", "t6030", "t6031"]
GIB = 1 << 30

# chip -> device -> (absolute base, size, irq or None)
DEVICES = {
    "t8122": {"uart0": (0x2_A120_0000, 0x4000, 757), "aic": (0x2_D100_0000, 0x18_4000, None),
              "pmgr": (0x2_D070_0000, 0x1_4000, None), "wdt": (0x2_E42B_0000, 0x4000, 432)},
    "t6030": {"uart0": (0x2_8920_0000, 0x4000, 866), "aic": (0x3_5100_0000, 0x18_4000, None),
              "pmgr": (0x3_5070_0000, 0x1_4000, None), "wdt": (0x3_642B_0000, 0x4000, 480)},
    "t6031": {"uart0": (0x3_9120_0000, 0x4000, 1303), "aic": (0x2_9240_0000, 0x1C_C000, None),
              "pmgr": (0x2_9228_0000, 0xC000, None), "wdt": (0x2_A02D_4000, 0x4000, 718)},
}
CHIP_ID = {"t8122": 0x8122, "t6030": 0x6030, "t6031": 0x6031}
DRAM_BASE = {"t8122": 0x8_0000_0000, "t6030": 0x100_0000_0000, "t6031": 0x100_0000_0000}
MPIDRS = {
    "t8122": [0x0, 0x1, 0x2, 0x3] + [0x10100 + i for i in range(4)],
    "t6030": list(range(6)) + [0x10100 + i for i in range(6)],
    "t6031": list(range(4)) + [0x10100 + i for i in range(6)] + [0x10200 + i for i in range(6)],
}
CPU_START = {"t8122": 0x34000, "t6030": 0x34000, "t6031": 0x88000}


def memory_map(chip, devicetree_size=None):
    base = DRAM_BASE[chip]
    return {"DeviceTree": (base + 0x100_0000, devicetree_size), "SEPFW": (base + 0x200_0000, 0x1F_0200),
            "BootArgs": (base + 0x300_0000, 0x4000), "preoslog": (base + 0x300_4000, 0x1_2080)}


def build(chip, **kw):
    kw.setdefault("dram_size", 16 * GIB)
    kw.setdefault("memory_map", memory_map(chip))
    kw.setdefault("carveouts", [(DRAM_BASE[chip] + 15 * GIB, 0x100_0000)])
    return chips.build_adt(chips.load(chip), **kw)


@pytest.fixture(scope="module", params=CHIPS)
def chip_blob(request):
    return request.param, build(request.param)


# --- An independent reader, from the format description ----------------------

def _walk(data, off=0):
    """((props, children), end): props name -> (value, header offset).
    Node: u32 nprops, u32 nchildren, props, children.  Prop: 32-byte name,
    u32 size (bit 31 is a flag), value, pad to 4."""
    nprops, nchildren = struct.unpack_from("<II", data, off)
    off += 8
    props = {}
    for _ in range(nprops):
        name = data[off:off + 32].split(b"\0", 1)[0].decode("ascii")
        size = struct.unpack_from("<I", data, off + 32)[0] & 0x7FFF_FFFF
        props[name] = (data[off + 36:off + 36 + size], off)
        off += 36 + (size + 3) // 4 * 4
    children = []
    for _ in range(nchildren):
        child, off = _walk(data, off)
        children.append(child)
    return (props, children), off


def _child(node, name):
    return next(c for c in node[1] if c[0]["name"][0] == name.encode() + b"\0")


def _words(raw):
    return struct.unpack(f"<{len(raw) // 4}I", raw)


def test_independent_reader_finds_uart0_and_the_layout_holds(chip_blob):
    chip, blob = chip_blob
    root, end = _walk(blob)
    assert end == len(blob)
    assert root[0]["name"][0] == b"device-tree\0"
    arm_io = _child(root, "arm-io")
    uart = _child(arm_io, "uart0")
    # reg: 2 address + 2 size cells (arm-io's), low word first
    lo, hi, slo, shi = _words(uart[0]["reg"][0])
    offset, size = lo | hi << 32, slo | shi << 32
    # ranges: child(2) parent(2, root's) size(2) cells
    c_lo, c_hi, p_lo, p_hi, s_lo, s_hi = _words(arm_io[0]["ranges"][0])
    child, parent, length = c_lo | c_hi << 32, p_lo | p_hi << 32, s_lo | s_hi << 32
    assert child <= offset and offset + size <= child + length
    assert (offset - child + parent, size) == DEVICES[chip]["uart0"][:2]
    assert _words(uart[0]["interrupts"][0]) == (DEVICES[chip]["uart0"][2],)


def _all_props(node):
    yield from node[0].values()
    for c in node[1]:
        yield from _all_props(c)


def test_names_are_nul_padded_values_padded_with_zeros(chip_blob):
    _, blob = chip_blob
    root, _ = _walk(blob)
    for value, off in _all_props(root):
        assert off % 4 == 0
        name = blob[off:off + 32]
        n = name.index(b"\0")
        assert 0 < n <= 31 and name[n:] == bytes(32 - n)
        raw_size = struct.unpack_from("<I", blob, off + 32)[0]
        assert raw_size == len(value)                       # bit 31 written as 0
        pad = blob[off + 36 + len(value):off + 36 + (len(value) + 3) // 4 * 4]
        assert pad == bytes(len(pad))


def test_size_bit_31_is_masked_by_both_readers(chip_blob):
    chip, blob = chip_blob
    root, _ = _walk(blob)
    flagged = bytearray(blob)
    for _, off in _all_props(root):
        size = struct.unpack_from("<I", flagged, off + 32)[0]
        struct.pack_into("<I", flagged, off + 32, size | 0x8000_0000)
    assert _walk(bytes(flagged))[0] == _walk(blob)[0]
    assert adt.encode(adt.parse(bytes(flagged))) == blob
    assert adt.parse(bytes(flagged)).get_reg("/arm-io/uart0") == DEVICES[chip]["uart0"][:2]


# --- Round trips and the chip trees ------------------------------------------------

def test_round_trip(chip_blob):
    _, blob = chip_blob
    tree = adt.parse(blob)
    assert adt.encode(tree) == blob
    assert adt.encode(adt.parse(adt.encode(tree))) == blob


def test_build_is_deterministic(chip_blob):
    chip, blob = chip_blob
    assert build(chip) == blob


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("device", ["uart0", "aic", "pmgr", "wdt"])
def test_get_reg_through_ranges(chip, device):
    tree = adt.parse(build(chip))
    base, size, irq = DEVICES[chip][device]
    assert tree.get_reg(f"/arm-io/{device}") == (base, size)
    c = chips.load(chip)
    dev = {"uart0": c.uart, "aic": c.aic, "pmgr": c.pmgr, "wdt": c.wdt}[device]
    assert (dev.base, dev.size) == (base, size)
    if irq is not None:
        assert tree.find(f"/arm-io/{device}").get_u32s("interrupts") == [irq]
        assert dev.irq == irq


def test_children_of_arm_io_are_offsets():
    tree = adt.parse(build("t8122"))
    assert tree.find("/arm-io").get_cells("ranges", (2, 2, 2)) == [(0, 0x2_0000_0000, 0x1_0000_0000)]
    assert tree.find("/arm-io/uart0").get_cells("reg", (2, 2)) == [(0xA120_0000, 0x4000)]
    assert chips.load("t8122").mmio_base == 0x2_0000_0000


@pytest.mark.parametrize("chip", CHIPS)
def test_root_chosen_and_memory_map(chip):
    tree = adt.parse(build(chip, board_id=0x2C))
    assert tree.name == "device-tree"
    assert tree.get_u32("#address-cells") == 2 and tree.get_u32("#size-cells") == 2
    assert tree.get_strlist("compatible")[1] == "AppleARM"
    assert tree.get_strlist("compatible")[0] == tree.get_str("target-type") + "AP"
    assert "Mac" in tree.get_str("model")                   # m1n1 src/main.c is_mac
    ch = tree.find("/chosen")
    assert ch.get_u32("chip-id") == CHIP_ID[chip] and ch.get_u32("board-id") == 0x2C
    assert ch.get_u64("dram-base") == DRAM_BASE[chip] and ch.get_u64("dram-size") == 16 * GIB
    mm = tree.find("/chosen/memory-map")
    blob_len = len(build(chip))
    assert mm.get_u64s("DeviceTree") == [DRAM_BASE[chip] + 0x100_0000, blob_len]
    assert mm.get_u64s("SEPFW") == [DRAM_BASE[chip] + 0x200_0000, 0x1F_0200]
    assert tree.find("/chosen/carveout-memory-map").get_u64s("region-id-0") == \
        [DRAM_BASE[chip] + 15 * GIB, 0x100_0000]
    io = tree.find("/arm-io")
    assert io.get_strlist("compatible") == [f"arm-io,{chip}", "arm-io"]


def test_devicetree_size_given_or_too_small():
    blob = build("t8122", memory_map=memory_map("t8122", 0x8000))
    assert adt.parse(blob).find("/chosen/memory-map").get_u64s("DeviceTree")[1] == 0x8000
    with pytest.raises(chips.ChipError, match="smaller than the ADT"):
        build("t8122", memory_map=memory_map("t8122", 0x100))


@pytest.mark.parametrize("chip", CHIPS)
def test_aic3_properties(chip):
    tree = adt.parse(build(chip))
    aic = tree.find("/arm-io/aic")
    assert aic.get_strlist("compatible") == ["aic,3"]
    assert len(aic.get("aic-iack-offset")) == 8                 # a u64: m1n1 wants the exact length
    assert aic.get_u64("aic-iack-offset") == 0x40000
    assert aic.get_u32("extint-baseaddress") == 0x10000
    assert aic.get_u32("cap0-offset") == 0x4 and aic.get_u32("maxnumirq-offset") == 0xC
    assert aic.get("interrupt-controller") == b""
    phandle = aic.get_u32("AAPL,phandle")
    for dev in ("uart0", "wdt"):
        assert tree.find(f"/arm-io/{dev}").get_u32("interrupt-parent") == phandle
    c = chips.load(chip).aic
    assert (c.version, c.event_offset, c.config_offset, c.enable_offset, c.enable_bit) == (3, 0x40000, 0x10000, 0x14, 1)
    assert c.max_irq == 4096 and max(d[2] or 0 for d in DEVICES[chip].values()) < c.nr_irq <= c.max_irq
    # MASK_SET lands where m1n1's experiment puts it for aic,3
    assert c.config_offset + 4 * c.max_irq + 2 * 4 * (c.max_irq // 32) == 0x14400


def test_phandles_are_unique():
    tree = adt.parse(build("t6031"))
    handles = [n.get_u32("AAPL,phandle") for _, n in tree.walk()]
    assert len(handles) == len(set(handles)) and 0 not in handles


@pytest.mark.parametrize("chip", CHIPS)
def test_cpus(chip):
    c = chips.load(chip)
    tree = adt.parse(build(chip))
    nodes = tree.find("/cpus").children
    assert [cpu.mpidr for cpu in c.cpus] == MPIDRS[chip]
    assert len(nodes) == len(MPIDRS[chip])
    running = [n for n in nodes if n.get_str("state") == "running"]
    assert len(running) == 1
    first_p = next(i for i, m in enumerate(MPIDRS[chip]) if m >= 0x10000)
    assert running[0].get_u32("cpu-id") == first_p == c.boot_cpu.cpu_id
    assert c.boot_cpu.mpidr == 0x10100 and c.boot_cpu.kind == "P"
    for i, (n, cpu) in enumerate(zip(nodes, c.cpus)):
        assert n.name == f"cpu{i}" and n.get_u32("cpu-id") == i
        mpidr = MPIDRS[chip][i]
        # ADT reg: die << 11 | cluster << 8 | core (m1n1 src/smp.c); cluster, core from MPIDR
        assert n.get_u32("reg") == ((mpidr >> 8) & 0xFF) << 8 | (mpidr & 0xFF)
        assert n.get_u64s("cpu-impl-reg") == [cpu.impl_reg, cpu.impl_size]
        kind = "P" if mpidr >= 0x10000 else "E"
        assert cpu.kind == kind
        assert n.get_strlist("compatible") == [
            "apple,everest" if kind == "P" else "apple,sawtooth", "ARM,v8"]
    assert len({cpu.impl_reg for cpu in c.cpus}) == len(c.cpus)
    assert c.pmgr.cpu_start_offset == CPU_START[chip]


def test_wdt_register_facts():
    w = chips.load("t8122").wdt
    assert (w.count_offset, w.alarm_offset, w.ctl_offset, w.ctl_reset_enable, w.clock_hz) == \
        (0x10, 0x14, 0x1C, 0x4, 24_000_000)


# --- Path lookup -----------------------------------------------------------------

def _named_tree():
    root = Node("device-tree")
    a = root.add("arm-io")
    a.add("dart@1000").set_u32("n", 1)
    a.add("dart").set_u32("n", 2)
    a.add("uart0@2000").set_u32("n", 3)
    a.add("uart0").set_u32("n", 4)
    a.add("i2c0").add("audio").set_u32("n", 5)
    return root


def test_path_components_match_exactly_or_before_an_at():
    t = _named_tree()
    assert t.find("/arm-io/dart").get_u32("n") == 1            # "dart" matches "dart@1000", first
    assert t.find("/arm-io/dart@1000").get_u32("n") == 1
    assert t.find("/arm-io/uart0@2000").get_u32("n") == 3
    assert t.find("/arm-io/uart0").get_u32("n") == 3
    assert t.find("arm-io//i2c0/audio/").get_u32("n") == 5     # empty components are skipped
    assert t.find("/") is t and t.find("") is t
    for missing in ("/arm-io/dart@100", "/arm-io/dart@10000", "/arm-io/uart", "/arm-io/uart0@",
                    "/arm-io/uart0@2000x", "/arm-io/dar", "/nope", "/arm-io/i2c0/audio/x"):
        assert t.find(missing) is None, missing
    with pytest.raises(AdtError, match="has no child 'uart9'"):
        t.trace("/arm-io/uart9")


def test_get_reg_rules():
    root = Node("device-tree").set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    bus = root.add("bus").set_u32("#address-cells", 1).set_u32("#size-cells", 1)
    bus.set_cells("ranges", [(0x1000, 0x5_0000_0000, 0x1000), (0, 0x4_0000_0000, 0x1000)], (1, 2, 1))
    bus.add("a").set_cells("reg", [(0x10, 0x20), (0x1010, 0x8)], (1, 1))
    bus.add("edge").set_cells("reg", [(0xFF0, 0x20)], (1, 1))       # crosses the end of range 2
    flat = root.add("flat").set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    flat.add("b").set_cells("reg", [(0x1234_5678_9ABC, 0x10)], (2, 2))
    assert root.get_reg("/bus/a", 0) == (0x4_0000_0010, 0x20)
    assert root.get_reg("/bus/a", 1) == (0x5_0000_0010, 0x8)
    assert root.get_reg("/bus/edge") == (0xFF0, 0x20)                 # no range holds it: untouched
    assert root.get_reg("/flat/b") == (0x1234_5678_9ABC, 0x10)        # no ranges: no translation
    with pytest.raises(AdtError, match="no entry 2"):
        root.get_reg("/bus/a", 2)
    with pytest.raises(AdtError, match="no property 'reg'"):
        root.get_reg("/bus")
    with pytest.raises(AdtError, match="#address-cells"):
        root.add("nocells").add("c").set_u32("reg", 1)
        root.get_reg("/nocells/c")


# --- Malformed input ----------------------------------------------------------------

def _prop(name: bytes, value: bytes, size=None) -> bytes:
    size = len(value) if size is None else size
    return name.ljust(32, b"\0") + struct.pack("<I", size) + value + bytes(-len(value) % 4)


def _node(props, nchildren=0, nprops=None) -> bytes:
    return struct.pack("<II", len(props) if nprops is None else nprops, nchildren) + b"".join(props)


NAME = _prop(b"name", b"device-tree\0")
GOOD = _node([NAME])


@pytest.mark.parametrize("data, message", [
    (b"", "truncated node header"),
    (GOOD[:6], "truncated node header"),
    (GOOD[:20], "truncated property header"),
    (GOOD[:-4], "runs past the end"),
    (_node([NAME], nprops=0), "0 properties"),
    (_node([NAME], nprops=2049), "2049 properties"),
    (_node([NAME], nchildren=2049), "2049 children"),
    (_node([NAME], nchildren=1), "truncated node header"),
    (_node([NAME, _prop(b"reg", b"\0" * 8, size=0x40)]), "runs past the end"),
    (_node([NAME, _prop(b"big", b"", size=0x10_0000)]), "1 MiB"),
    (_node([_prop(b"x" * 32, b"")]), "not NUL-terminated"),
    (_node([_prop(b"", b"\0\0\0\0")]), "empty name"),
    (_node([_prop(b"n\xffme", b"\0")]), "not ASCII"),
    (_node([_prop(b"model", b"x\0")]), "no NUL-terminated 'name'"),
    (_node([_prop(b"name", b"abc")]), "no NUL-terminated 'name'"),
    (_node([NAME, NAME]), "appears twice"),
    (GOOD + b"\0\0\0\0", "trailing data"),
])
def test_malformed_input_is_refused(data, message):
    with pytest.raises(AdtError, match=message):
        adt.parse(data)


def test_good_minimal_tree():
    assert adt.parse(GOOD).name == "device-tree"
    assert adt.encode(adt.parse(GOOD)) == GOOD


def test_nesting_is_bounded():
    child = _node([_prop(b"name", b"n\0")], nchildren=1)
    with pytest.raises(AdtError, match="nested deeper"):
        adt.parse(child * (adt.MAX_DEPTH + 2))


@pytest.mark.parametrize("build_bad, message", [
    (lambda: Node("x").set("y" * 32, b""), "1 to 31"),
    (lambda: Node("x").set("", b""), "1 to 31"),
    (lambda: Node("x").set_str("s", "a\0b"), "contains a NUL"),
    (lambda: Node("x").set_str("s", "é"), "not ASCII"),
    (lambda: Node("x").set_u32("v", 1 << 32), "do not fit"),
    (lambda: Node("x").set_cells("reg", [(1 << 64, 1)], (2, 2)), "does not fit"),
    (lambda: Node("x").set_strlist("compatible", "aic,3"), "sequence of strings"),
])
def test_bad_values_are_refused(build_bad, message):
    with pytest.raises(AdtError, match=message):
        build_bad()


def test_encode_refuses_what_m1n1_would_refuse():
    n = Node("x")
    n.remove("name")
    n.set_u32("a", 1)
    with pytest.raises(AdtError, match="no NUL-terminated 'name'"):
        adt.encode(n)
    with pytest.raises(AdtError, match="1 MiB"):
        adt.encode(Node("x").set("blob", bytes(adt.MAX_VALUE)))
    wide = Node("x")
    wide.children = [Node("c")] * 2049
    with pytest.raises(AdtError, match="2049 children"):
        adt.encode(wide)


def test_typed_getters_check_lengths():
    n = Node("x").set_u64("v", 5).set("odd", b"abc")
    with pytest.raises(AdtError, match="not a 32-bit"):
        n.get_u32("v")
    with pytest.raises(AdtError, match="not NUL-terminated"):
        n.get_str("odd")
    with pytest.raises(AdtError, match="no property 'w'"):
        n.get_u64("w")


T8122_BLOB = build("t8122")


@settings(max_examples=50, deadline=None)
@given(cut=st.integers(0, len(T8122_BLOB) - 1))
def test_every_truncation_is_refused(cut):
    with pytest.raises(AdtError):
        adt.parse(T8122_BLOB[:cut])


@settings(max_examples=50, deadline=None)
@given(flips=st.lists(st.integers(0, len(T8122_BLOB) * 8 - 1), min_size=1, max_size=4))
def test_bit_flips_parse_or_raise_adt_error(flips):
    data = bytearray(T8122_BLOB)
    for bit in flips:
        data[bit // 8] ^= 1 << (bit % 8)
    try:
        tree = adt.parse(bytes(data))
    except AdtError as e:
        assert str(e)
    else:
        adt.encode(tree)          # whatever parsed can be written back


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_adt_error(data):
    try:
        adt.parse(data)
    except AdtError:
        pass


_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789,-#@", min_size=1, max_size=31)
_trees = st.recursive(
    st.builds(lambda name, props: (name, props, []), _names,
              st.dictionaries(_names.filter(lambda s: s != "name"), st.binary(max_size=20), max_size=4)),
    lambda kids: st.builds(lambda name, children: (name, {}, children), _names,
                           st.lists(kids, max_size=3)),
    max_leaves=8)


def _make(spec):
    name, props, children = spec
    n = Node(name)
    for k, v in props.items():
        n.set(k, v)
    n.children = [_make(c) for c in children]
    return n


@settings(max_examples=50, deadline=None)
@given(_trees)
def test_random_trees_round_trip(spec):
    blob = adt.encode(_make(spec))
    assert adt.encode(adt.parse(blob)) == blob
    assert _walk(blob)[1] == len(blob)


# --- Overrides ------------------------------------------------------------------------

def test_override_deletes_a_node():
    tree = adt.parse(build("t8122", overrides={"/arm-io/uart0": None}))
    assert tree.find("/arm-io/uart0") is None and tree.find("/arm-io/aic") is not None


def test_override_keeps_the_width_of_a_number():
    tree = adt.parse(build("t8122", overrides={"/chosen/chip-id": 0x9999, "/chosen/dram-base": 0x1234}))
    assert tree.find("/chosen").get("chip-id") == struct.pack("<I", 0x9999)
    assert tree.find("/chosen").get("dram-base") == struct.pack("<Q", 0x1234)


def test_override_properties_of_every_kind():
    extra = Node("uart6")
    extra.add("debug-console")
    tree = adt.parse(build("t6030", overrides={
        "/arm-io/aic/compatible": ["aic,2"], "/model": "Not a Mac", "/arm-io/wdt/interrupts": None,
        "/arm-io/aic/aic-iack-offset": struct.pack("<I", 0x40000), "/arm-io/uart6": extra,
        "/chosen/new-flag": 7}))
    assert tree.find("/arm-io/aic").get_strlist("compatible") == ["aic,2"]
    assert tree.get_str("model") == "Not a Mac"
    assert tree.find("/arm-io/wdt").get("interrupts") is None
    assert len(tree.find("/arm-io/aic").get("aic-iack-offset")) == 4
    assert tree.find("/arm-io/uart6/debug-console") is not None
    assert tree.find("/chosen").get_u32("new-flag") == 7
    # the DeviceTree size follows the altered tree
    blob = build("t6030", overrides={"/arm-io/uart0": None})
    assert adt.parse(blob).find("/chosen/memory-map").get_u64s("DeviceTree")[1] == len(blob)


@pytest.mark.parametrize("overrides, message", [
    ({"/nope/x": 1}, "no node /nope"),
    ({"/chosen/missing": None}, "no such node or property"),
    ({"/arm-io/uart0": 5}, "names a node"),
    ({"/chosen/chip-id": 1.5}, "is not None"),
    ({"/": None}, "cannot replace the root"),
    ({"/arm-io/uart0/reg": 3}, "16 bytes"),
])
def test_bad_overrides(overrides, message):
    with pytest.raises(chips.ChipError, match=message):
        build("t8122", overrides=overrides)


# --- Chip data --------------------------------------------------------------------------

def test_unknown_chip_lists_the_known_ones():
    with pytest.raises(chips.ChipError, match="known chips are t6030, t6031, t8122"):
        chips.load("nope")
    assert chips.names() == ["t6030", "t6031", "t8122"]


@pytest.mark.parametrize("chip", CHIPS)
def test_every_fact_has_a_source(chip):
    data = json.loads((chips._DIR / f"{chip}.json").read_text())
    for group, fields in data.items():
        if not isinstance(fields, dict):
            continue
        facts = set(fields) - {"source", "unverified"}
        assert facts <= set(fields["source"]), (group, facts - set(fields["source"]))
        assert set(fields.get("unverified", {})) <= facts, group
        assert all(isinstance(s, str) and s for s in fields["source"].values())
    c = chips.load(chip)
    assert c.chip_id == CHIP_ID[chip] and c.dram_base == DRAM_BASE[chip] and c.name == chip
    assert "aic.cap0_offset" in c.unverified and "cpus.impl_base" in c.unverified


def test_a_fact_without_a_source_is_refused():
    data = json.loads((chips._DIR / "t8122.json").read_text())
    del data["wdt"]["source"]["irq"]
    with pytest.raises(chips.ChipError, match="wdt: no source for irq"):
        chips._chip(data)


def test_dram_size_must_be_positive():
    with pytest.raises(chips.ChipError, match="dram_size"):
        build("t8122", dram_size=0)


def test_dump_reads_like_the_m1n1_shell():
    text = adt.parse(T8122_BLOB).dump()
    assert text.startswith("device-tree {\n    compatible = ['J613AP', 'AppleARM']\n")
    for line in ("    arm-io {", "        uart0 {", "            reg = [(0xa1200000, 0x4000)]",
                 "            interrupts = [757]", "            aic-iack-offset = 0x40000",
                 "            state = 'running'", "            cpu-impl-reg = (0x211050000, 0x10000)",
                 "        ranges = [(0x0, 0x200000000, 0x100000000)]", "        chip-id = 0x8122"):
        assert line in text.splitlines(), line
    assert text.endswith("\n}")
