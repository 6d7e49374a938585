"""Chip data for the emulated M3 family, and the ADT built from it.

Why: the kernel discovers every address, IRQ and core from the ADT m1n1
hands over (boot_args.devtree), so the emulated machine must hand over a
real one, for each chip it emulates.  The facts live in <chip>.json next to
this file, each with its source (Linux device trees, m1n1); what no source
states is listed under "unverified" there.  This module only reads them and
lays them out as an ADT (harness.adt) the way m1n1 reads one:

    /                       compatible, model, target-type, #address-cells 2, #size-cells 2
    /chosen                 chip-id, board-id (src/main.c), dram-base, dram-size (src/kboot.c)
    /chosen/memory-map      DeviceTree, SEPFW, BootArgs, preoslog: (u64 pa, u64 size)
                            (proxyclient/tools/chainload.py, src/chainload.c)
    /chosen/carveout-memory-map   region-id-N: (u64 pa, u64 size) (src/mcc.c, src/display.c)
    /cpus/cpuN              cpu-id, reg, cpu-impl-reg, state, compatible (src/smp.c, src/startup.c)
    /arm-io                 ranges: child 0 -> the MMIO window, so children's reg are offsets
    /arm-io/uart0, aic, pmgr, wdt   (src/uart.c, src/aic.c, src/smp.c, src/wdt.c)

Every node gets an "AAPL,phandle" (preorder, from 1); interrupt-parent of
uart0 and wdt is the AIC's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple, Sequence

from harness import adt

_DIR = Path(__file__).resolve().parent
# The state of a core iBoot has not started: m1n1 only looks for "running"
# (src/smp.c, src/startup.c); "waiting" is what we write for the rest (UNVERIFIED).
STATE_BOOT, STATE_OTHER = "running", "waiting"


class ChipError(ValueError):
    """An unknown chip, bad chip data, or build_adt arguments it cannot use."""


@dataclass(frozen=True)
class Uart:
    base: int
    size: int
    irq: int
    clock_hz: int
    node: str
    compatible: tuple[str, ...]


@dataclass(frozen=True)
class Aic:
    base: int
    size: int
    event_offset: int        # ADT aic-iack-offset
    config_offset: int       # ADT extint-baseaddress: IRQ_CFG, then SW_SET, SW_CLR, MASK_SET, ...
    cap0_offset: int         # ADT cap0-offset: nr_irq 15:0, last die 27:24
    maxnumirq_offset: int    # ADT maxnumirq-offset: max_irq 15:0, max die 27:24
    nr_irq: int
    last_die: int
    max_irq: int
    max_die: int
    version: int
    enable_offset: int       # AIC2-style CONFIG register; enable_bit enables the AIC
    enable_bit: int
    node: str
    compatible: tuple[str, ...]


@dataclass(frozen=True)
class Wdt:
    base: int
    size: int
    irq: int
    count_offset: int
    alarm_offset: int
    ctl_offset: int
    ctl_reset_enable: int
    clock_hz: int
    node: str


@dataclass(frozen=True)
class Pmgr:
    base: int
    size: int
    cpu_start_offset: int
    node: str


class Cpu(NamedTuple):
    name: str                # node name below /cpus
    cpu_id: int              # ADT cpu-id: the index m1n1 files the core under
    reg: int                 # ADT reg: die << 11 | cluster << 8 | core
    mpidr: int               # what MPIDR_EL1 reports (affinity fields)
    kind: str                # "E" or "P"
    cluster: int
    core: int
    die: int
    impl_reg: int            # ADT cpu-impl-reg[0]: the core's register block (RVBAR at +0)
    impl_size: int
    compatible: tuple[str, ...]


@dataclass(frozen=True)
class Chip:
    name: str
    soc: str
    chip_id: int
    dram_base: int
    target_type: str
    compatible: tuple[str, ...]
    model: str
    arm_io_compatible: tuple[str, ...]
    mmio_base: int           # /arm-io ranges: child address 0 is this physical address
    mmio_size: int
    uart: Uart
    aic: Aic
    wdt: Wdt
    pmgr: Pmgr
    cpus: tuple[Cpu, ...]
    unverified: Mapping[str, str]   # "group.field" -> why it is not a verified fact

    @property
    def boot_cpu(self) -> Cpu:
        """The first P-core: its state is "running" in the ADT."""
        return next(c for c in self.cpus if c.kind == "P")


# --- Loading ----------------------------------------------------------------

def names() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.json"))


def load(name: str) -> Chip:
    if name not in names():
        raise ChipError(f"unknown chip {name!r}: the known chips are {', '.join(names())}")
    return _load(name)


@lru_cache(maxsize=None)
def _load(name: str) -> Chip:
    path = _DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise ChipError(f"{path.name} is not JSON: {e}") from None
    try:
        chip = _chip(data)
    except ChipError as e:
        raise ChipError(f"{path.name}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ChipError(f"{path.name}: missing or malformed field {e}") from None
    _check(chip)
    return chip


def _int(v: Any) -> int:
    """JSON numbers, or hex in strings ("0x2a1200000")."""
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ChipError(f"{v!r} is not a number")
    return v if isinstance(v, int) else int(v, 0)


def _sourced(group: Mapping[str, Any], group_name: str) -> Mapping[str, Any]:
    """group, once every field in it has a source."""
    missing = [k for k in group if k not in ("source", "unverified") and k not in group["source"]]
    if missing:
        raise ChipError(f"{group_name}: no source for {', '.join(missing)}")
    return group


def _fields(group: Mapping[str, Any], cls: type, ints: Sequence[str], group_name: str) -> Any:
    """An instance of the dataclass cls from the group's fields: the `ints`
    as numbers, lists as tuples."""
    _sourced(group, group_name)
    kw = {}
    for f in cls.__dataclass_fields__:
        v = group[f]
        kw[f] = _int(v) if f in ints else tuple(v) if isinstance(v, list) else v
    return cls(**kw)


def _chip(d: Mapping[str, Any]) -> Chip:
    c, b, io, cp = (_sourced(d[g], g) for g in ("chip", "board", "arm_io", "cpus"))
    if cp["boot"] != "first P-core":
        raise ChipError(f"cpus.boot {cp['boot']!r}: the builder boots the first P-core")
    uart = _fields(d["uart"], Uart, ("base", "size", "irq", "clock_hz"), "uart")
    aic = _fields(d["aic"], Aic, ("base", "size", "event_offset", "config_offset", "cap0_offset",
                                  "maxnumirq_offset", "nr_irq", "last_die", "max_irq", "max_die",
                                  "version", "enable_offset", "enable_bit"), "aic")
    wdt = _fields(d["wdt"], Wdt, ("base", "size", "irq", "count_offset", "alarm_offset",
                                  "ctl_offset", "ctl_reset_enable", "clock_hz"), "wdt")
    pmgr = _fields(d["pmgr"], Pmgr, ("base", "size", "cpu_start_offset"), "pmgr")
    unverified = {f"{g}.{k}": why for g, group in d.items() if isinstance(group, dict)
                  for k, why in group.get("unverified", {}).items()}
    return Chip(name=c["name"], soc=c["soc"], chip_id=_int(c["chip_id"]), dram_base=_int(c["dram_base"]),
                target_type=b["target_type"], compatible=tuple(b["compatible"]), model=b["model"],
                arm_io_compatible=tuple(io["compatible"]), mmio_base=_int(io["base"]),
                mmio_size=_int(io["size"]), uart=uart, aic=aic, wdt=wdt, pmgr=pmgr,
                cpus=_cpus(cp), unverified=MappingProxyType(unverified))


def _cpus(cp: Mapping[str, Any]) -> tuple[Cpu, ...]:
    """Clusters in file order (E first, as Linux lists them), cores in order;
    cpu-id counts up across them."""
    die = _int(cp["die"])
    base, cstride, kstride = (_int(cp[k]) for k in ("impl_base", "impl_cluster_stride", "impl_core_stride"))
    out = []
    for cl in cp["clusters"]:
        cluster, mpidr0 = _int(cl["cluster"]), _int(cl["mpidr_base"])
        for core in range(_int(cl["cores"])):
            i = len(out)
            out.append(Cpu(name=f"cpu{i}", cpu_id=i, reg=die << 11 | cluster << 8 | core,
                           mpidr=mpidr0 + core, kind=cl["kind"], cluster=cluster, core=core, die=die,
                           impl_reg=base + (die << 27) + cluster * cstride + core * kstride,
                           impl_size=_int(cp["impl_size"]), compatible=tuple(cl["compatible"])))
    return tuple(out)


def _check(chip: Chip) -> None:
    """What the data must satisfy for the ADT to make sense."""
    end = chip.mmio_base + chip.mmio_size
    for dev in (chip.uart, chip.aic, chip.wdt, chip.pmgr):
        if not (chip.mmio_base <= dev.base and dev.base + dev.size <= end):
            raise ChipError(f"{chip.name}: {dev.node} {dev.base:#x} is outside arm-io "
                            f"({chip.mmio_base:#x}..{end:#x})")
    a = chip.aic
    for dev in (chip.uart, chip.wdt):
        if not dev.irq < a.nr_irq <= a.max_irq:
            raise ChipError(f"{chip.name}: {dev.node} IRQ {dev.irq} needs nr_irq {a.nr_irq} above it "
                            f"and max_irq {a.max_irq} at least nr_irq")
    if not a.event_offset < a.size or a.max_irq % 32 or a.max_irq >= 1 << 16:
        raise ChipError(f"{chip.name}: AIC event offset / max_irq do not fit its window")
    mpidrs = [c.mpidr for c in chip.cpus]
    if len(set(mpidrs)) != len(mpidrs) or not any(c.kind == "P" for c in chip.cpus):
        raise ChipError(f"{chip.name}: CPU MPIDRs repeat or there is no P-core to boot on")
    for c in chip.cpus:
        if (c.mpidr >> 8) & 0xFF != c.cluster or c.mpidr & 0xFF != c.core or c.kind not in ("E", "P"):
            raise ChipError(f"{chip.name}: {c.name} MPIDR {c.mpidr:#x} disagrees with "
                            f"cluster {c.cluster} core {c.core} ({c.kind})")


# --- Building the ADT ---------------------------------------------------------

def build_adt(chip: Chip, *, dram_size: int, memory_map: Mapping[str, tuple[int, int | None]],
              carveouts: Sequence[tuple[int, int]] | Mapping[int, tuple[int, int]] = (),
              board_id: int = 0, overrides: Mapping[str, Any] | None = None) -> bytes:
    """The ADT bytes for chip.  See build_tree."""
    return adt.encode(build_tree(chip, dram_size=dram_size, memory_map=memory_map,
                                 carveouts=carveouts, board_id=board_id, overrides=overrides))


def build_tree(chip: Chip, *, dram_size: int, memory_map: Mapping[str, tuple[int, int | None]],
               carveouts: Sequence[tuple[int, int]] | Mapping[int, tuple[int, int]] = (),
               board_id: int = 0, overrides: Mapping[str, Any] | None = None) -> adt.Node:
    """The ADT for chip as a tree.

    memory_map: name -> (pa, size) for /chosen/memory-map.  The size of
    "DeviceTree" may be None: it becomes the ADT's own size (fixed width,
    so filling it in does not change the size); a given size must be at
    least that.  carveouts: region-id-N entries, from a list (N = 0, 1, ...)
    or a dict {N: (pa, size)}.  board_id: iBoot's board id (not a chip fact;
    0 unless told).

    overrides: path -> value, applied last, to present a kernel with a
    missing or altered ADT.  A path naming a node: None deletes it, an
    adt.Node replaces (or adds) it.  Otherwise the last component is a
    property of the node before it: None deletes it, bytes are the raw
    value, str a string, a list of str a string list, an int keeps the
    width of the property it replaces (u32 for a new one).  E.g.
    {"/arm-io/uart0": None}, {"/chosen/chip-id": 0x9999}.
    """
    if dram_size <= 0:
        raise ChipError(f"dram_size {dram_size:#x} must be positive")
    root = adt.Node("device-tree")
    root.set_strlist("compatible", chip.compatible).set_str("model", chip.model)
    root.set_str("target-type", chip.target_type)
    root.set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    root.children += [_chosen(chip, dram_size, memory_map, carveouts, board_id), _cpus_node(chip),
                      _arm_io(chip)]
    _phandles(root)
    aic = root.find(f"/arm-io/{chip.aic.node}").get("AAPL,phandle")
    for dev in (chip.uart.node, chip.wdt.node):
        root.find(f"/arm-io/{dev}").set("interrupt-parent", aic)
    _apply(root, overrides or {})
    _fill_devicetree_size(root, memory_map, overrides or {})
    return root


def _pair(name: str, value: Any, size_may_be_none: bool = False) -> tuple[int, int | None]:
    try:
        pa, size = value
        if size is None and size_may_be_none:
            return int(pa), None
        return int(pa), int(size)
    except (TypeError, ValueError):
        raise ChipError(f"{name}: {value!r} is not an (address, size) pair") from None


def _chosen(chip: Chip, dram_size: int, memory_map: Mapping[str, Any], carveouts: Any,
            board_id: int) -> adt.Node:
    chosen = adt.Node("chosen")
    chosen.set_u32("chip-id", chip.chip_id).set_u32("board-id", board_id)
    chosen.set_u64("dram-base", chip.dram_base).set_u64("dram-size", dram_size)
    mm = chosen.add("memory-map")
    for name, value in memory_map.items():
        pa, size = _pair(f"memory-map {name}", value, size_may_be_none=name == "DeviceTree")
        mm.set_u64(name, pa, size or 0)          # a DeviceTree size of None is filled in last
    co = chosen.add("carveout-memory-map")
    items = carveouts.items() if isinstance(carveouts, Mapping) else enumerate(carveouts)
    for n, value in items:
        co.set_u64(f"region-id-{int(n)}", *_pair(f"carveout {n}", value))
    return chosen


def _cpus_node(chip: Chip) -> adt.Node:
    cpus = adt.Node("cpus")
    boot = chip.boot_cpu.cpu_id
    for c in chip.cpus:
        n = cpus.add(c.name)
        n.set_u32("cpu-id", c.cpu_id).set_u32("reg", c.reg)
        n.set_u64("cpu-impl-reg", c.impl_reg, c.impl_size)
        n.set_str("state", STATE_BOOT if c.cpu_id == boot else STATE_OTHER)
        n.set_strlist("compatible", c.compatible)
    return cpus


def _arm_io(chip: Chip) -> adt.Node:
    io = adt.Node("arm-io")
    io.set_strlist("compatible", chip.arm_io_compatible)
    io.set_u32("#address-cells", 2).set_u32("#size-cells", 2)
    io.set_cells("ranges", [(0, chip.mmio_base, chip.mmio_size)], (2, 2, 2))

    def dev(node: str, base: int, size: int, compatible: Sequence[str] = ()) -> adt.Node:
        n = io.add(node)
        if compatible:
            n.set_strlist("compatible", compatible)
        return n.set_cells("reg", [(base - chip.mmio_base, size)], (2, 2))

    u, a, p, w = chip.uart, chip.aic, chip.pmgr, chip.wdt
    dev(u.node, u.base, u.size, u.compatible).set_u32("interrupts", u.irq)
    n = dev(a.node, a.base, a.size, a.compatible)
    n.set_u64("aic-iack-offset", a.event_offset)          # u64: src/aic.c copies it into a uint64_t
    n.set_u32("extint-baseaddress", a.config_offset)
    n.set_u32("cap0-offset", a.cap0_offset).set_u32("maxnumirq-offset", a.maxnumirq_offset)
    n.set("interrupt-controller", b"")                     # a flag; its real value is UNVERIFIED
    dev(p.node, p.base, p.size)
    dev(w.node, w.base, w.size).set_u32("interrupts", w.irq)
    return io


def _phandles(root: adt.Node) -> None:
    for i, (_, node) in enumerate(root.walk(), start=1):
        node.set_u32("AAPL,phandle", i)


def _apply(root: adt.Node, overrides: Mapping[str, Any]) -> None:
    for path, value in overrides.items():
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise ChipError("overrides cannot replace the root")
        parent = root.find("/".join(parts[:-1]))
        if parent is None:
            raise ChipError(f"override {path!r}: no node {'/' + '/'.join(parts[:-1])}")
        node = parent.child(parts[-1])
        if node is not None or isinstance(value, adt.Node):
            _override_node(parent, node, value, path)
        else:
            _override_prop(parent, parts[-1], value, path)


def _override_node(parent: adt.Node, node: adt.Node | None, value: Any, path: str) -> None:
    if value is None:
        parent.children.remove(node)
    elif isinstance(value, adt.Node):
        if node is None:
            parent.children.append(value)
        else:
            parent.children[parent.children.index(node)] = value
    else:
        raise ChipError(f"override {path!r} names a node: give None (delete) or an adt.Node, not {value!r}")


def _override_prop(node: adt.Node, prop: str, value: Any, path: str) -> None:
    old = node.get(prop)
    if value is None:
        if old is None:
            raise ChipError(f"override {path!r}: there is no such node or property to delete")
        node.remove(prop)
    elif isinstance(value, (bytes, bytearray)):
        node.set(prop, value)
    elif isinstance(value, str):
        node.set_str(prop, value)
    elif isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
        node.set_strlist(prop, value)
    elif isinstance(value, int) and not isinstance(value, bool):
        width = len(old) if old is not None else 4
        if width not in (4, 8):
            raise ChipError(f"override {path!r}: the property is {width} bytes; give bytes")
        node.set(prop, adt.u32s(value) if width == 4 else adt.u64s(value))
    else:
        raise ChipError(f"override {path!r}: {value!r} is not None, bytes, str, a list of str or an int")


def _fill_devicetree_size(root: adt.Node, memory_map: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """memory-map.DeviceTree's size is the ADT's own, unless given or
    overridden.  The entry is two u64s whatever they hold, so writing the
    size leaves the size unchanged (checked)."""
    mm = root.find("/chosen/memory-map")
    if ("DeviceTree" not in memory_map or mm is None or mm.get("DeviceTree") is None
            or "/chosen/memory-map/DeviceTree" in overrides):
        return
    pa, given = _pair("memory-map DeviceTree", memory_map["DeviceTree"], size_may_be_none=True)
    size = len(adt.encode(root))
    if given is not None and given < size:
        raise ChipError(f"memory-map DeviceTree size {given:#x} is smaller than the ADT ({size:#x} bytes)")
    mm.set_u64("DeviceTree", pa, size if given is None else given)
    if len(adt.encode(root)) != size:
        raise AssertionError("filling in memory-map DeviceTree changed the ADT's size")
