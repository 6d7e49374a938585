"""The kernel's layer map (docs/kernel.md "The layer map") held against
the assembly.

Import-reading tools cannot draw assembly, so this reads it: every file
under kernel/ (each board in turn, as the build assembles one board),
which global symbols it defines (`.globl` labels and the `word` macro's
xt labels) and which it names in its instructions, macro arguments and
data (`bl`, `b`, `adr`, `ladr`, `ventry`, `.quad sym - .`).  A name
defined in another file is a reference from this file's layer to that
one's; a reference to a higher layer must be one of the named up-calls,
a reference into a board one of the board interface's routines, and a
board refers only to its own files and the board's up-calls.  The
reading is checked against the assembler's own: every undefined symbol
an object's relocations name (build/obj/) must be one the reading found.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from pathlib import Path

import pytest

from harness import ROOT

KERNEL = ROOT / "kernel"
DOC = ROOT / "docs" / "kernel.md"
BOARDS = sorted(p.name for p in (KERNEL / "boards").iterdir() if p.is_dir())


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    nxt = re.search(r"^#{2,3} ", text[start + len(heading):], re.M)
    return text[start:start + len(heading) + (nxt.start() if nxt else len(text))]


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"\|\s*-", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:]            # the header row


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def read_map(doc: str = None) -> dict:
    """The tables of docs/kernel.md: layers (file patterns, by rank), the
    named up-calls (symbol -> layers allowed to call it), the board's
    up-calls and the board interface's routines."""
    doc = DOC.read_text() if doc is None else doc
    layers = []
    for rank, name, files in _table_rows(_section(doc, "## The layer map")):
        layers.append((int(rank), name, _ticked(files)))
    upcalls = {}
    for row in _table_rows(_section(doc, "### Named up-calls")):
        upcalls[_ticked(row[0])[0]] = set(row[2].split())
    board_up = {_ticked(row[0])[0] for row in _table_rows(_section(doc, "### The board's up-calls"))}
    interface = set()
    for row in _table_rows(_section(doc, "## The board interface")):
        interface |= {s for s in _ticked(row[0]) if re.fullmatch(r"\w+", s)}
    return {"layers": layers, "upcalls": upcalls, "board_up": board_up, "interface": interface}


def layer_of(rel: str, layers) -> tuple[int, str]:
    for rank, name, patterns in layers:
        for pat in patterns:
            pat = pat.replace("<board>", "*")
            if fnmatch.fnmatch(rel, pat):
                return rank, name
    raise AssertionError(f"kernel/{rel} is in no layer of docs/kernel.md's layer map")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//.*", "", text)


_SKIP = re.compile(r"\.(globl|global|type|size|macro|endm|set|equ|section|if\w*|else|endif|error|"
                   r"balign|align|ascii|asciz|byte|space|text|data|bss)\b")
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_]\w*)")


def read_sources(files: dict[str, str]) -> tuple[dict[str, str], dict[str, set], dict[str, set]]:
    """(rel -> text) -> (symbol -> defining file, file -> names it refers
    to, file -> macros it defines)."""
    defs, refs, macros = {}, defaultdict(set), defaultdict(set)
    texts = {rel: _strip_comments(t) for rel, t in files.items()}
    for rel, t in texts.items():
        globl = set()
        for m in re.finditer(r"^\s*\.glob(?:a)?l\s+(.*)$", t, re.M):
            globl |= {s.strip() for s in m.group(1).split(",")}
        for m in re.finditer(r'^\s*word\s+"(?:[^"\\]|\\.)*"\s*,\s*(\w+)', t, re.M):
            defs[m.group(1)] = rel
        for m in re.finditer(r"^\s*(\w+):", t, re.M):
            if m.group(1) in globl:
                defs[m.group(1)] = rel
        macros[rel] = set(re.findall(r"^\s*\.macro\s+(\w+)", t, re.M))
    for rel, t in texts.items():
        for line in t.splitlines():
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            s = re.sub(r"^(\w+:\s*)+", "", s)
            if _SKIP.match(s):
                continue
            s = re.sub(r'"(?:[^"\\]|\\.)*"', "", s)
            refs[rel] |= set(_IDENT.findall(s))
    return defs, refs, macros


def board_files(board: str) -> dict[str, str]:
    paths = (sorted(KERNEL.glob("*.S")) + sorted(KERNEL.glob("*.inc")) + sorted(KERNEL.glob("forth/*.S"))
             + sorted((KERNEL / "boards" / board).iterdir()))
    return {str(p.relative_to(KERNEL)): p.read_text() for p in paths if p.is_file()}


def violations(files: dict[str, str], kmap: dict) -> list[str]:
    """Every reference the layer map does not allow, one line each."""
    defs, refs, macros = read_sources(files)
    layers = kmap["layers"]
    board_macros = {m for rel, ms in macros.items() if rel.startswith("boards/") for m in ms}
    bad = []
    for rel in sorted(files):
        if rel.endswith(".inc") and not rel.startswith("boards/") and layer_of_or_none(rel, layers) is None:
            # shared headers (macros.inc, percpu.inc): layouts and macros only
            for sym in sorted(refs[rel] & defs.keys()):
                bad.append(f"kernel/{rel}: a shared header names {sym} (kernel/{defs[sym]})")
            continue
        rank, name = layer_of(rel, layers)
        for sym in sorted(refs[rel]):
            used_macro = sym in board_macros and not rel.startswith("boards/")
            if used_macro and sym not in kmap["interface"]:
                bad.append(f"kernel/{rel}: uses the board's macro {sym}, not in the board interface")
            target = defs.get(sym)
            if target is None or target == rel:
                continue
            trank, tname = layer_of(target, layers)
            where = f"kernel/{rel} ({name}) -> {sym} (kernel/{target}, {tname})"
            if name == "boards":
                if tname != "boards" and sym not in kmap["board_up"]:
                    bad.append(f"{where}: not one of the board's up-calls")
                continue
            if tname == "boards":
                if sym not in kmap["interface"]:
                    bad.append(f"{where}: not in the board interface")
                continue
            if trank > rank and target != "head.S" and name not in kmap["upcalls"].get(sym, ()):
                bad.append(f"{where}: an upward reference that is not a named up-call")
            if target == "head.S" and trank > rank and sym not in ("boot_info", "boot_stack_top"):
                bad.append(f"{where}: only the boot's data may be named from below")
    return bad


def layer_of_or_none(rel, layers):
    try:
        return layer_of(rel, layers)
    except AssertionError:
        return None


@pytest.fixture(scope="module")
def kmap():
    return read_map()


def test_map_has_every_layer_and_names_up_calls(kmap):
    names = [name for _, name, _ in kmap["layers"]]
    assert names == ["boards", "memory", "threads", "console", "forth", "boot"]
    assert kmap["upcalls"] and kmap["board_up"] and kmap["interface"]
    for sym, callers in kmap["upcalls"].items():
        assert callers <= set(names), (sym, callers)


@pytest.mark.parametrize("board", BOARDS)
def test_every_file_is_in_a_layer(board, kmap):
    for rel in board_files(board):
        if rel in ("macros.inc", "percpu.inc"):
            continue
        layer_of(rel, kmap["layers"])


@pytest.mark.parametrize("board", BOARDS)
def test_kernel_keeps_its_layer_map(board, kmap):
    bad = violations(board_files(board), kmap)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("board", BOARDS)
def test_every_named_up_call_is_defined_where_the_map_says(board, kmap):
    defs, _, _ = read_sources(board_files(board))
    doc = DOC.read_text()
    for row in _table_rows(_section(doc, "### Named up-calls")) + [
            [r[0], r[1]] for r in _table_rows(_section(doc, "### The board's up-calls"))]:
        sym = _ticked(row[0])[0]
        assert defs.get(sym) == row[1], f"{sym}: docs/kernel.md says {row[1]}, defined in {defs.get(sym)}"


def test_an_upward_call_fails_the_check(kmap):
    """The check can fail: a memory-layer call into the console that is not
    a named up-call, a board calling the scheduler, generic code calling a
    board's internal routine and a call into Forth from below."""
    files = board_files("m3")
    files["mmu.S"] += "\n    bl      console_getc\n"
    files["boards/m3/aic.S"] += "\n    bl      thread_yield\n"
    files["thread.S"] += "\n    bl      aic_irq\n    bl      quit\n"
    bad = violations(files, kmap)
    assert any("mmu.S (memory) -> console_getc" in b for b in bad), bad
    assert any("aic.S (boards) -> thread_yield" in b for b in bad), bad
    assert any("thread.S (threads) -> aic_irq" in b and "board interface" in b for b in bad), bad
    assert any("thread.S (threads) -> quit" in b for b in bad), bad


@pytest.mark.parametrize("board", BOARDS)
def test_reading_matches_the_relocations(board):
    """Every symbol an object leaves to the linker is one the reading of
    its sources (and the headers whose macros it expands) found: the
    reading misses no reference the assembler made."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection

    from harness.build import build

    objdir = Path(build(board).elf).parent / "obj"
    files = board_files(board)
    defs, refs, _ = read_sources(files)
    headers = set()
    for rel in files:
        if rel.endswith(".inc"):
            headers |= refs[rel]
    checked = 0
    for obj in sorted(objdir.glob("*.o")):
        stem = obj.stem
        if stem == "forth":
            srcs = ["forth.S"] + [r for r in files if r.startswith("forth/") or r.endswith("words.inc")]
        elif stem.startswith("board-"):
            srcs = [f"boards/{board}/{stem[len('board-'):]}.S"]
        else:
            srcs = [f"{stem}.S"]
        found = set().union(*(refs[s] for s in srcs)) | headers
        with open(obj, "rb") as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            undefined = set()
            for sec in elf.iter_sections():
                if isinstance(sec, RelocationSection):
                    for rel in sec.iter_relocations():
                        sym = symtab.get_symbol(rel["r_info_sym"])
                        if sym.name and sym["st_shndx"] == "SHN_UNDEF":
                            undefined.add(sym.name)
        missed = {s for s in undefined - found if not s.startswith("__")}   # linker-script symbols
        assert not missed, f"{obj.name}: the reading missed {sorted(missed)}"
        checked += 1
    assert checked >= 10


# ---- layouts the code relies on: every LDP/STP over named fields -------------

_PAIR = re.compile(r"^\s*(?:\w+:\s*)?(?:ldp|stp)\s+[^\[]*\[\s*\w+\s*,\s*#\(?\s*([A-Z][A-Z0-9_]*)(\()?", re.M)
_ASSERT = re.compile(r"^\s*assert_adjacent\s+([A-Z][A-Z0-9_]*)\s*,", re.M)
# Register frames indexed by number (contiguous by their definition), and
# arrays of pairs: no two named fields.
_INDEXED = {"D_X", "EF_X", "BI_DEVS"}


def paired_fields() -> dict[str, set]:
    """field -> the files with an LDP/STP whose offset starts at it."""
    out = defaultdict(set)
    for p in sorted(KERNEL.rglob("*.S")) + sorted(KERNEL.rglob("*.inc")):
        for m in _PAIR.finditer(_strip_comments(p.read_text())):
            out[m.group(1)].add(str(p.relative_to(KERNEL)))
    return out


def test_every_paired_load_and_store_has_its_adjacency_asserted():
    asserted = set()
    for p in sorted(KERNEL.rglob("*.S")) + sorted(KERNEL.rglob("*.inc")):
        asserted |= set(_ASSERT.findall(_strip_comments(p.read_text())))
    pairs = paired_fields()
    assert {"T_PRIO", "PC_READY", "EP_HEAD", "T_DELIVER", "PC_SLICE"} <= set(pairs)
    missing = {f: sorted(files) for f, files in pairs.items()
               if f not in asserted and f not in _INDEXED}
    assert not missing, f"LDP/STP over fields with no assert_adjacent (macros.inc): {missing}"


def test_assert_adjacent_refuses_a_gap(tmp_path):
    """The assertion is the assembler's: a layout with a gap between the
    two fields does not assemble, one without does."""
    from harness import toolchain

    def assemble(b: int) -> None:
        src = tmp_path / f"gap{b}.S"
        src.write_text(f'#include "macros.inc"\n#define F_A 16\n#define F_B {b}\n'
                       "assert_adjacent F_A, F_B\n    .text\n    ret\n")
        toolchain.assemble(src, tmp_path / f"gap{b}.o", {}, [KERNEL])

    assemble(24)
    with pytest.raises(Exception) as e:
        assemble(32)
    assert "adjacent" in str(e.value)


# ---- each hot path carries its bench row and budget ---------------------------

_TAG = re.compile(r"(?:/\*|\\)\s*bench:\s*(\w+)\s*\(budget\s+(\d+)\s+cycles\b")


def bench_tags() -> dict[str, list[tuple[str, int]]]:
    """row -> [(file, budget in the tag)] for every `bench: row (budget N
    cycles` comment under kernel/, and under forth/ for the rows whose
    routine is Forth (the file system's: a backslash comment `bench: file_open (budget ...`)."""
    out = defaultdict(list)
    for p in sorted(KERNEL.rglob("*.S")) + sorted(KERNEL.rglob("*.inc")):
        for key, n in _TAG.findall(p.read_text()):
            out[key].append((str(p.relative_to(KERNEL)), int(n)))
    for p in sorted((KERNEL.parent / "forth").rglob("*.fth")):
        for key, n in _TAG.findall(p.read_text()):
            out[key].append((str(p.relative_to(KERNEL.parent)), int(n)))
    return out


def test_every_bench_row_has_its_tag_with_its_budget():
    """Every row harness/bench.py measures names, in a comment on the
    routine it measures, its key and its budget in cycles as bench.py
    states it; and no tag names a row that is gone or a stale budget."""
    from harness import bench

    budgets = {b.key: b.budget_cycles for b in bench.BUDGETS + bench.EXTRA}
    tags = bench_tags()
    missing = sorted(set(bench.PLANS) - set(tags))
    assert not missing, f"bench rows with no `/* bench: row (budget N cycles) */` in kernel/: {missing}"
    for key, places in tags.items():
        assert key in bench.PLANS, f"{places}: tag for {key}, which harness/bench.py does not measure"
        for where, n in places:
            assert n == budgets[key], f"{where}: {key}'s tag says {n} cycles, bench.py {budgets[key]}"
