"""The Apple Device Tree (ADT): the binary tree iBoot builds and m1n1 hands on
(boot_args.devtree), written and read here so the emulated machine can give
the kernel a real one.

Why this shape: it is the format as m1n1 reads it, from its two readers
(AsahiLinux/m1n1 proxyclient/m1n1/adt.py, rust/src/adt.rs); nothing here is
their code.

- Little endian.  A node is u32 property_count, u32 child_count, the
  properties, then the child nodes.  m1n1 refuses a node with no property or
  with more than 2048 properties or children (adt.rs ADTNode::check).
- A property is char name[32] (NUL padded), u32 size, size bytes of value,
  zero padding to a 4-byte boundary.  Bit 31 of size is a flag readers mask
  (proxyclient: size & 0x7fffffff, "template"); we write 0.  adt.rs refuses
  sizes of 1 MiB and more (size & 0x7ff00000).
- Every node has a "name" property; strings are NUL terminated; string
  lists are concatenated strings; `reg`/`ranges` are u32 cells, a
  multi-cell number low word first (adt.rs get_cells), counted by the
  parent's #address-cells/#size-cells.
- Path lookup (find) and reg translation (get_reg) follow adt.rs
  get_reg_container and m1n1's node-name rule (see _name_matches).

Bad input is refused with AdtError saying what and where, never with an
IndexError or struct.error.
"""

from __future__ import annotations

import struct
from typing import Iterator, Sequence

MAX_COUNT = 2048            # properties or children per node (adt.rs ADTNode::check)
NAME_FIELD = 32             # property name field; at most 31 characters and a NUL
SIZE_FLAG = 0x8000_0000     # bit 31 of a property's size: masked on read, 0 on write
MAX_VALUE = 0x10_0000       # adt.rs ADTProperty::check: size & 0x7ff00000 must be 0
MAX_DEPTH = 64              # ours: deeper input is refused rather than recursed into
_NODE_HEAD = struct.Struct("<II")
_PROP_HEAD = struct.Struct(f"<{NAME_FIELD}sI")


class AdtError(ValueError):
    """An ADT that m1n1 would refuse or misread, or a lookup that fails."""


# --- Property values --------------------------------------------------------

def u32s(*values: int) -> bytes:
    return _pack("I", values)


def u64s(*values: int) -> bytes:
    return _pack("Q", values)


def _pack(code: str, values: Sequence[int]) -> bytes:
    try:
        return struct.pack(f"<{len(values)}{code}", *values)
    except struct.error:
        raise AdtError(f"{list(values)} do not fit {struct.calcsize(code) * 8}-bit fields") from None


def string(s: str) -> bytes:
    if "\0" in s:
        raise AdtError(f"string {s!r} contains a NUL")
    try:
        return s.encode("ascii") + b"\0"
    except UnicodeEncodeError:
        raise AdtError(f"string {s!r} is not ASCII") from None


def strlist(items: Sequence[str]) -> bytes:
    if isinstance(items, str):
        raise AdtError(f"a string list needs a sequence of strings, not the string {items!r}")
    return b"".join(string(s) for s in items)


def cells(rows: Sequence[Sequence[int]], widths: Sequence[int]) -> bytes:
    """Rows of numbers as u32 cells, numbers split low word first.
    reg: widths (#address-cells, #size-cells) of the parent; ranges:
    (child #address-cells, parent #address-cells, child #size-cells)."""
    out = []
    for row in rows:
        if len(row) != len(widths):
            raise AdtError(f"row {row} does not have {len(widths)} numbers")
        for value, width in zip(row, widths):
            if not 0 <= value < 1 << (32 * width):
                raise AdtError(f"{value:#x} does not fit {width} cell(s)")
            out += [(value >> (32 * i)) & 0xFFFF_FFFF for i in range(width)]
    return u32s(*out)


def decode_cells(raw: bytes, widths: Sequence[int]) -> list[tuple[int, ...]]:
    """The rows of a cells property (the inverse of cells(); a partial last
    row is ignored, as adt.rs chunks_exact does)."""
    step = 4 * sum(widths)
    if step == 0:
        raise AdtError("cell widths add up to 0")
    rows = []
    for base in range(0, len(raw) - step + 1, step):
        row, off = [], base
        for width in widths:
            row.append(_cells_value(raw[off:off + 4 * width]))
            off += 4 * width
        rows.append(tuple(row))
    return rows


def _cells_value(raw: bytes) -> int:
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    return sum(w << (32 * i) for i, w in enumerate(words))


def _strings(raw: bytes) -> list[str] | None:
    """raw as NUL-terminated printable ASCII strings, or None if it is not."""
    if not raw or raw[-1] != 0:
        return None
    parts = raw[:-1].split(b"\0")
    if not all(p and all(0x20 <= c < 0x7F for c in p) for p in parts):
        return None
    return [p.decode("ascii") for p in parts]


# --- Nodes ------------------------------------------------------------------

def _name_matches(node_name: str, component: str) -> bool:
    """m1n1's rule: a path component matches a node of exactly that name,
    or, if the component has no '@', a node named component + '@' + anything
    (src/adt.c _adt_nodename_eq, libfdt's rule, until its Rust port in
    456a429b).  rust/src/adt.rs node_names_equal as ported tests
    `component contains '@'` and does no prefix comparison, which matches
    neither; we keep the rule it was written to port."""
    if node_name == component:
        return True
    return "@" not in component and node_name.startswith(component + "@")


class Node:
    """A node: ordered properties (name -> value bytes), "name" first, and
    children in order."""

    def __init__(self, name: str):
        self.props: dict[str, bytes] = {"name": string(name)}
        self.children: list[Node] = []

    @property
    def name(self) -> str:
        raw = self.props.get("name", b"")
        return raw.split(b"\0", 1)[0].decode("ascii", "replace")

    def __repr__(self) -> str:
        return f"<Node {self.name}: {len(self.props)} properties, {len(self.children)} children>"

    def __iter__(self) -> Iterator[Node]:
        return iter(self.children)

    def add(self, child: Node | str) -> Node:
        """Append a child (a Node, or a new one of that name) and return it."""
        if isinstance(child, str):
            child = Node(child)
        self.children.append(child)
        return child

    def child(self, component: str) -> Node | None:
        return next((c for c in self.children if _name_matches(c.name, component)), None)

    # setters return self so a node can be built in one expression
    def set(self, prop: str, value: bytes) -> Node:
        _check_prop_name(prop)
        self.props[prop] = bytes(value)
        return self

    def set_u32(self, prop: str, *values: int) -> Node:
        return self.set(prop, u32s(*values))

    def set_u64(self, prop: str, *values: int) -> Node:
        return self.set(prop, u64s(*values))

    def set_str(self, prop: str, s: str) -> Node:
        return self.set(prop, string(s))

    def set_strlist(self, prop: str, items: Sequence[str]) -> Node:
        return self.set(prop, strlist(items))

    def set_cells(self, prop: str, rows: Sequence[Sequence[int]], widths: Sequence[int]) -> Node:
        return self.set(prop, cells(rows, widths))

    def remove(self, prop: str) -> None:
        if self.props.pop(prop, None) is None:
            raise AdtError(f"node {self.name} has no property {prop!r}")

    # getters
    def get(self, prop: str) -> bytes | None:
        return self.props.get(prop)

    def _need(self, prop: str) -> bytes:
        raw = self.props.get(prop)
        if raw is None:
            raise AdtError(f"node {self.name} has no property {prop!r}")
        return raw

    def get_u32(self, prop: str) -> int:
        return self._fixed(prop, 4)

    def get_u64(self, prop: str) -> int:
        return self._fixed(prop, 8)

    def _fixed(self, prop: str, width: int) -> int:
        raw = self._need(prop)
        if len(raw) != width:
            raise AdtError(f"{self.name}.{prop} is {len(raw)} bytes, not a {width * 8}-bit number")
        return int.from_bytes(raw, "little")

    def get_u32s(self, prop: str) -> list[int]:
        raw = self._need(prop)
        if len(raw) % 4:
            raise AdtError(f"{self.name}.{prop} is {len(raw)} bytes, not a list of u32")
        return list(struct.unpack(f"<{len(raw) // 4}I", raw))

    def get_u64s(self, prop: str) -> list[int]:
        raw = self._need(prop)
        if len(raw) % 8:
            raise AdtError(f"{self.name}.{prop} is {len(raw)} bytes, not a list of u64")
        return list(struct.unpack(f"<{len(raw) // 8}Q", raw))

    def get_str(self, prop: str) -> str:
        raw = self._need(prop)
        if b"\0" not in raw:
            raise AdtError(f"{self.name}.{prop} is not NUL-terminated")
        return raw.split(b"\0", 1)[0].decode("ascii", "replace")

    def get_strlist(self, prop: str) -> list[str]:
        raw = self._need(prop)
        if raw and raw[-1] != 0:
            raise AdtError(f"{self.name}.{prop} does not end with a NUL")
        return [p.decode("ascii", "replace") for p in raw[:-1].split(b"\0")] if raw else []

    def get_cells(self, prop: str, widths: Sequence[int]) -> list[tuple[int, ...]]:
        return decode_cells(self._need(prop), widths)

    # paths
    def trace(self, path: str) -> list[Node]:
        """The nodes from self down to `path` ("/arm-io/uart0"), self first."""
        nodes = [self]
        for component in (c for c in path.split("/") if c):
            nxt = nodes[-1].child(component)
            if nxt is None:
                where = "/" + "/".join(n.name for n in nodes[1:])
                have = ", ".join(c.name for c in nodes[-1].children) or "none"
                raise AdtError(f"no node {path!r}: {where} has no child {component!r} (children: {have})")
            nodes.append(nxt)
        return nodes

    def find(self, path: str) -> Node | None:
        try:
            return self.trace(path)[-1]
        except AdtError:
            return None

    def walk(self, path: str = "") -> Iterator[tuple[str, Node]]:
        """(path, node) for self and every descendant, depth first; self is "/"."""
        yield path or "/", self
        for c in self.children:
            yield from c.walk(f"{path}/{c.name}")

    def get_reg(self, path: str, index: int = 0, prop: str = "reg", strict: bool = False) -> tuple[int, int]:
        """(address, size) of entry `index` of `prop` of the node at `path`
        below self (the root), translated through every ancestor's `ranges`
        as adt.rs get_reg_container does: a range matches when the whole
        [addr, addr + size) lies inside it; no match leaves addr as it is;
        translation stops at the first ancestor without `ranges`.
        strict: a non-empty `ranges` that holds it nowhere is an AdtError,
        as the kernel reads it (kernel/boards/m3/adt.S adt_reg)."""
        nodes = self.trace(path)
        if len(nodes) < 2:
            raise AdtError("the root has no parent to give its #address-cells")
        ac, sc = _cells_of(nodes[-2])
        raw = nodes[-1]._need(prop)
        if not raw:
            raise AdtError(f"{path}.{prop} is empty")
        step = 4 * (ac + sc)
        if index < 0 or len(raw) < (index + 1) * step:
            raise AdtError(f"{path}.{prop} has {len(raw) // step} entries of {ac}+{sc} cells; no entry {index}")
        addr, size = decode_cells(raw[index * step:(index + 1) * step], (ac, sc))[0]
        for i in range(len(nodes) - 2, 0, -1):
            node, up = nodes[i], nodes[i - 1]
            ranges = node.get("ranges")
            if ranges is None:
                break
            pac, psc = _cells_of(up)
            for child, parent, length in decode_cells(ranges, (ac, pac, sc)):
                if child <= addr and addr + size <= child + length:
                    addr = addr - child + parent
                    break
            else:
                if strict and ranges:
                    raise AdtError(f"{path}.{prop}: no range of {node.name} holds {addr:#x}+{size:#x}")
            ac, sc = pac, psc
        return addr, size

    def dump(self) -> str:
        """The node as m1n1's shell prints one: name {, decoded properties,
        the children, }."""
        return "\n".join(_dump(self, None, ""))


def _cells_of(node: Node) -> tuple[int, int]:
    """#address-cells and #size-cells of node, checked as adt.rs does."""
    try:
        ac, sc = node.get_u32("#address-cells"), node.get_u32("#size-cells")
    except AdtError as e:
        raise AdtError(f"cannot read a reg below {node.name}: {e}") from None
    if not 1 <= ac <= 2 or sc > 2:
        raise AdtError(f"{node.name}: #address-cells {ac} / #size-cells {sc}: m1n1 takes 1-2 / 0-2")
    return ac, sc


# --- dump -------------------------------------------------------------------

_STRING_PROPS = {"name", "compatible", "model", "target-type", "state", "device_type"}
_U64_PROPS = {"aic-iack-offset", "dram-base", "dram-size", "cpu-impl-reg"}
_U32_LIST_PROPS = {"interrupts"}


def _dump(node: Node, parent: Node | None, indent: str) -> Iterator[str]:
    yield f"{indent}{node.name} {{"
    for prop, raw in node.props.items():
        if prop != "name":
            yield f"{indent}    {prop} = {_format(node, parent, prop, raw)}"
    if node.children:
        yield ""
    for c in node.children:
        yield from _dump(c, node, indent + "    ")
    yield f"{indent}}}"


def _hexes(values: Sequence[int], single: bool) -> str:
    if single and len(values) == 1:
        return f"{values[0]:#x}"
    return "(" + ", ".join(f"{v:#x}" for v in values) + ")"


def _format(node: Node, parent: Node | None, prop: str, raw: bytes) -> str:
    """A value decoded by what its name says it is, else by its shape, like
    the m1n1 shell: strings, reg/ranges rows, u32/u64 numbers, else hex."""
    if not raw:
        return "<empty>"
    widths = _cell_widths(node, parent, prop)
    if widths and len(raw) % (4 * sum(widths)) == 0:
        return "[" + ", ".join(_hexes(r, False) for r in decode_cells(raw, widths)) + "]"
    if prop in _U64_PROPS and len(raw) % 8 == 0:
        return _hexes(struct.unpack(f"<{len(raw) // 8}Q", raw), True)
    strs = _strings(raw)
    if strs and (prop in _STRING_PROPS or len(raw) not in (4, 8)):
        return repr(strs) if prop == "compatible" or len(strs) > 1 else repr(strs[0])
    if prop in _U32_LIST_PROPS and len(raw) % 4 == 0:
        return str(list(struct.unpack(f"<{len(raw) // 4}I", raw)))
    # 16 bytes whose high halfwords are 0: an (address, size) pair, as the
    # m1n1 shell guesses for memory-map entries
    if len(raw) == 16 and raw[6:8] == raw[14:16] == b"\0\0":
        return _hexes(struct.unpack("<2Q", raw), False)
    if len(raw) == 8:
        return _hexes(struct.unpack("<Q", raw), True)
    if len(raw) % 4 == 0:
        return _hexes(struct.unpack(f"<{len(raw) // 4}I", raw), True)
    return raw.hex()


def _cell_widths(node: Node, parent: Node | None, prop: str) -> tuple[int, ...] | None:
    try:
        if prop == "reg" and parent is not None:
            return _cells_of(parent)
        if prop == "ranges" and parent is not None:
            ac, sc = _cells_of(node)
            return ac, _cells_of(parent)[0], sc
    except AdtError:
        return None
    return None


# --- encode -----------------------------------------------------------------

def _check_prop_name(prop: str) -> None:
    if not prop or len(prop) >= NAME_FIELD or "\0" in prop or not prop.isascii():
        raise AdtError(f"property name {prop!r}: 1 to {NAME_FIELD - 1} ASCII characters, no NUL")


def encode(root: Node) -> bytes:
    """The ADT bytes of the tree below root (root included)."""
    out = bytearray()
    _encode_node(root, "/", out)
    return bytes(out)


def _encode_node(node: Node, path: str, out: bytearray) -> None:
    if b"\0" not in node.props.get("name", b""):
        raise AdtError(f"node {path}: no NUL-terminated 'name' property")
    if not 1 <= len(node.props) <= MAX_COUNT or len(node.children) > MAX_COUNT:
        raise AdtError(f"node {path}: {len(node.props)} properties, {len(node.children)} children "
                       f"(m1n1 takes 1-{MAX_COUNT} and 0-{MAX_COUNT})")
    out += _NODE_HEAD.pack(len(node.props), len(node.children))
    for prop, value in node.props.items():
        _check_prop_name(prop)
        if len(value) >= MAX_VALUE:
            raise AdtError(f"{path}.{prop}: {len(value):#x} bytes; m1n1 refuses 1 MiB and more")
        out += _PROP_HEAD.pack(prop.encode("ascii"), len(value)) + value + bytes(-len(value) % 4)
    for c in node.children:
        _encode_node(c, f"{path.rstrip('/')}/{c.name}", out)


# --- parse ------------------------------------------------------------------

def parse(data: bytes) -> Node:
    """The tree in `data`, which must hold exactly one root node."""
    data = bytes(data)
    root, end = _parse_node(data, 0, "", 0)
    if end != len(data):
        raise AdtError(f"{len(data) - end:#x} bytes of trailing data after the root node (which ends at {end:#x})")
    return root


def _parse_node(data: bytes, off: int, parent: str, depth: int) -> tuple[Node, int]:
    where = f"node at {off:#x} (below {parent or 'the top'})"
    if depth > MAX_DEPTH:
        raise AdtError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if off + _NODE_HEAD.size > len(data):
        raise AdtError(f"{where}: truncated node header ({len(data) - off} of 8 bytes)")
    nprops, nchildren = _NODE_HEAD.unpack_from(data, off)
    if nprops == 0 or nprops > MAX_COUNT or nchildren > MAX_COUNT:
        raise AdtError(f"{where}: {nprops} properties, {nchildren} children "
                       f"(m1n1 takes 1-{MAX_COUNT} and 0-{MAX_COUNT})")
    off += _NODE_HEAD.size
    node = Node("")
    node.props = {}                    # filled from the data, "name" included
    for _ in range(nprops):
        prop, value, off = _parse_prop(data, off, where)
        if prop in node.props:
            raise AdtError(f"{where}: property {prop!r} appears twice")
        node.props[prop] = value
    if b"\0" not in node.props.get("name", b""):
        raise AdtError(f"{where}: no NUL-terminated 'name' property")
    path = f"{parent}/{node.name}" if depth else "/"
    for _ in range(nchildren):
        child, off = _parse_node(data, off, path, depth + 1)
        node.children.append(child)
    return node, off


def _parse_prop(data: bytes, off: int, where: str) -> tuple[str, bytes, int]:
    if off + _PROP_HEAD.size > len(data):
        raise AdtError(f"{where}: truncated property header at {off:#x} ({len(data) - off} of 36 bytes)")
    raw_name, raw_size = _PROP_HEAD.unpack_from(data, off)
    nul = raw_name.find(b"\0")
    if nul < 0:
        raise AdtError(f"{where}: property name at {off:#x} is not NUL-terminated within {NAME_FIELD} bytes")
    if nul == 0:
        raise AdtError(f"{where}: property at {off:#x} has an empty name")
    try:
        prop = raw_name[:nul].decode("ascii")
    except UnicodeDecodeError:
        raise AdtError(f"{where}: property name at {off:#x} is not ASCII: {raw_name[:nul]!r}") from None
    size = raw_size & ~SIZE_FLAG
    if size >= MAX_VALUE:
        raise AdtError(f"{where}: property {prop!r} claims {size:#x} bytes; m1n1 refuses 1 MiB and more")
    start = off + _PROP_HEAD.size
    end = start + size + (-size % 4)
    if end > len(data):
        raise AdtError(f"{where}: property {prop!r} ({size:#x} bytes and padding from {start:#x}) "
                       f"runs past the end ({len(data):#x})")
    return prop, data[start:start + size], end
