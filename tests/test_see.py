"""SEE disassembles the compiler's native code, checked against capstone;
and the compiler's output is pinned so that naming its instruction forms
(kernel/forth/compiler.S, forth/00-core.fth) cannot change a byte.

The bytes of a word are read from the emulated memory: from its xt to the
next header above it (or HERE), as SEE finds the end (forth/55-disasm.fth).
"""

from __future__ import annotations

import re
import struct

from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs

DEFS = """\
: t-lits 0 1 -1 4095 65536 -65536 1234567890123 -1234567890123 $7fffffffffffffff ;
: t-call ( a b -- ) dup * swap over 2drop cr ;
: t-fold 5 + 7 - 3 lshift 2 rshift 1 arshift 10 < 9 and 100000 + -5000 + 3 = ;
: t-if ( n -- m ) 0< if 1 else 2 then ;
: t-begin ( n -- ) begin 1- dup 0= until drop ;
: t-while ( n -- ) begin dup while 1- repeat drop ;
: t-do ( -- n ) 0 10 0 do i + loop ;
: t-qdo ( n -- ) 0 ?do i 5 = if leave then 2 +loop ;
42 constant t-const
variable t-var
: t-use t-const t-var @ + t-var ! ;
: t-exit dup if exit then drop ;
: t-rec dup 0> if 1- recurse then ;
: t-mk create , does> @ 1+ ;
7 t-mk t-made
: t-case ( n -- ) case 1 of 10 endof 2 of 20 endof 0 swap endcase ;
: t-far ( -- ) [ $860000000 compile, ] ;
"""
NAMES = re.findall(r"(?:^: |constant |variable |^7 t-mk )(t-[\w-]+)", DEFS, re.M)

BRANCHES = {"b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "ldr"}


def header_starts(machine) -> list[int]:
    """Where each header in the dictionary starts (its hash link)."""
    mem = machine.cpu.uc.mem_read
    hdr = struct.unpack("<Q", mem(machine.symbols.address("latest", machine.load_base), 8))[0]
    starts = []
    while hdr:
        starts.append(hdr - 8)                   # the hash link below the header
        link = struct.unpack("<q", mem(hdr, 8))[0]
        hdr = hdr + link if link else 0
    return starts


def code_end(machine, xt: int, here: int) -> int:
    """Where a word's code ends: the next header above it, or HERE."""
    return min([a for a in header_starts(machine) if a > xt] + [here])


def word_code(machine, name: str, here: int) -> tuple[int, bytes]:
    """(xt, code) of a word: up to the next header above it, or HERE."""
    xt = dict(machine.forth_words())[name]
    return xt, bytes(machine.cpu.uc.mem_read(xt, code_end(machine, xt, here) - xt))


def symbolic(machine, xt: int, code: bytes) -> list[str]:
    """capstone's text for the code, PC-relative targets made position-free:
    <+off> inside the word, the symbol or Forth word outside it."""
    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    lines = []
    for off in range(0, len(code) - len(code) % 4, 4):
        insn = next(md.disasm(code[off:off + 4], xt + off), None)
        if insn is None:
            lines.append(f"{off:#x} .word {struct.unpack_from('<I', code, off)[0]:#x}")
            continue
        ops = insn.op_str
        m = re.search(r"#(0x[0-9a-f]+)$", ops)
        base = insn.mnemonic.split(".")[0]
        if m and (base in BRANCHES and (base != "ldr" or "[" not in ops)):
            target = int(m.group(1), 16)
            if xt <= target < xt + len(code):
                where = f"<+{target - xt:#x}>"
            else:
                where = machine.describe(target).removeprefix("in Forth word ").removesuffix("+0x0")
                if where == "?":
                    word = machine.forth_word_at(target)
                    where = f"{word[0]}+{target - word[1]:#x}" if word else "?"
            ops = ops[:m.start()] + where
        lines.append(f"{off:#x} {insn.mnemonic} {ops}".rstrip())
    return lines


def define(console) -> int:
    """Compile DEFS; HERE after them."""
    out = console.send(DEFS + "here .")
    assert "error" not in out, out
    return int(out.split()[-2])


# What the compiler emitted for DEFS before its instruction forms were
# named (capstone's text, targets position-free): the forms must encode
# the same bytes.
PINNED = {
    "t-lits": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x26, #0",
        "0xc str x26, [x27, #-8]!",
        "0x10 mov x26, #1",
        "0x14 str x26, [x27, #-8]!",
        "0x18 mov x26, #-1",
        "0x1c str x26, [x27, #-8]!",
        "0x20 mov x26, #0xfff",
        "0x24 str x26, [x27, #-8]!",
        "0x28 mov x26, #0x10000",
        "0x2c str x26, [x27, #-8]!",
        "0x30 mov x26, #-0x10000",
        "0x34 str x26, [x27, #-8]!",
        "0x38 mov x26, #0x4cb",
        "0x3c movk x26, #0x71fb, lsl #16",
        "0x40 movk x26, #0x11f, lsl #32",
        "0x44 str x26, [x27, #-8]!",
        "0x48 mov x26, #0xfb35",
        "0x4c movk x26, #0x8e04, lsl #16",
        "0x50 movk x26, #0xfee0, lsl #32",
        "0x54 movk x26, #0xffff, lsl #48",
        "0x58 str x26, [x27, #-8]!",
        "0x5c mov x26, #0x7fffffffffffffff",
        "0x60 ldr x30, [sp], #8",
        "0x64 ret",
        "0x68 udf #0",
    ],
    "t-call": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 ldr x0, [x27], #8",
        "0xc mul x26, x0, x26",
        "0x10 ldr x0, [x27]",
        "0x14 str x26, [x27]",
        "0x18 mov x26, x0",
        "0x1c ldr x0, [x27]",
        "0x20 str x26, [x27, #-8]!",
        "0x24 mov x26, x0",
        "0x28 ldr x26, [x27, #8]",
        "0x2c add x27, x27, #0x10",
        "0x30 bl w_cr",
        "0x34 ldr x30, [sp], #8",
        "0x38 ret",
    ],
    "t-fold": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 add x26, x26, #5",
        "0x8 sub x26, x26, #7",
        "0xc lsl x26, x26, #3",
        "0x10 lsr x26, x26, #2",
        "0x14 asr x26, x26, #1",
        "0x18 cmp x26, #0xa",
        "0x1c csetm x26, lt",
        "0x20 mov x0, x26",
        "0x24 mov x26, #9",
        "0x28 and x26, x0, x26",
        "0x2c mov x0, x26",
        "0x30 mov x26, #0x86a0",
        "0x34 movk x26, #1, lsl #16",
        "0x38 add x26, x0, x26",
        "0x3c mov x0, x26",
        "0x40 mov x26, #-0x1388",
        "0x44 add x26, x0, x26",
        "0x48 cmp x26, #3",
        "0x4c csetm x26, eq",
        "0x50 ldr x30, [sp], #8",
        "0x54 ret",
        "0x58 udf #0",
    ],
    "t-if": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 cmp x26, #0",
        "0x8 csetm x26, lt",
        "0xc mov x0, x26",
        "0x10 ldr x26, [x27], #8",
        "0x14 cbz x0, <+0x24>",
        "0x18 str x26, [x27, #-8]!",
        "0x1c mov x26, #1",
        "0x20 b <+0x2c>",
        "0x24 str x26, [x27, #-8]!",
        "0x28 mov x26, #2",
        "0x2c ldr x30, [sp], #8",
        "0x30 ret",
    ],
    "t-begin": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 sub x26, x26, #1",
        "0x8 str x26, [x27, #-8]!",
        "0xc cmp x26, #0",
        "0x10 csetm x26, eq",
        "0x14 mov x0, x26",
        "0x18 ldr x26, [x27], #8",
        "0x1c cbz x0, <+0x4>",
        "0x20 ldr x26, [x27], #8",
        "0x24 ldr x30, [sp], #8",
        "0x28 ret",
    ],
    "t-while": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x0, x26",
        "0xc ldr x26, [x27], #8",
        "0x10 cbz x0, <+0x1c>",
        "0x14 sub x26, x26, #1",
        "0x18 b <+0x4>",
        "0x1c ldr x26, [x27], #8",
        "0x20 ldr x30, [sp], #8",
        "0x24 ret",
        "0x28 udf #0",
    ],
    "t-do": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x26, #0",
        "0xc str x26, [x27, #-8]!",
        "0x10 mov x26, #0xa",
        "0x14 str x26, [x27, #-8]!",
        "0x18 mov x26, #0",
        "0x1c stp x24, x25, [sp, #-0x10]!",
        "0x20 ldr x0, [x27], #8",
        "0x24 eor x25, x0, #0x8000000000000000",
        "0x28 sub x24, x26, x25",
        "0x2c ldr x26, [x27], #8",
        "0x30 str x26, [x27, #-8]!",
        "0x34 add x26, x24, x25",
        "0x38 ldr x0, [x27], #8",
        "0x3c add x26, x0, x26",
        "0x40 adds x24, x24, #1",
        "0x44 b.vc <+0x30>",
        "0x48 ldp x24, x25, [sp], #0x10",
        "0x4c ldr x30, [sp], #8",
        "0x50 ret",
    ],
    "t-qdo": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x26, #0",
        "0xc stp x24, x25, [sp, #-0x10]!",
        "0x10 ldr x0, [x27], #8",
        "0x14 eor x25, x0, #0x8000000000000000",
        "0x18 sub x24, x26, x25",
        "0x1c ldr x26, [x27], #8",
        "0x20 cmp x24, #1",
        "0x24 b.vc <+0x2c>",
        "0x28 b <+0x60>",
        "0x2c str x26, [x27, #-8]!",
        "0x30 add x26, x24, x25",
        "0x34 cmp x26, #5",
        "0x38 csetm x26, eq",
        "0x3c mov x0, x26",
        "0x40 ldr x26, [x27], #8",
        "0x44 cbz x0, <+0x4c>",
        "0x48 b <+0x60>",
        "0x4c str x26, [x27, #-8]!",
        "0x50 mov x26, #2",
        "0x54 adds x24, x24, x26",
        "0x58 ldr x26, [x27], #8",
        "0x5c b.vc <+0x2c>",
        "0x60 ldp x24, x25, [sp], #0x10",
        "0x64 ldr x30, [sp], #8",
        "0x68 ret",
    ],
    "t-const": [
        "0x0 str x26, [x27, #-8]!",
        "0x4 ldr x26, <+0xc>",
        "0x8 ret",
        "0xc udf #0x2a",
        "0x10 udf #0",
    ],
    "t-var": [
        "0x0 str x26, [x27, #-8]!",
        "0x4 adr x26, <+0xc>",
        "0x8 ret",
        "0xc udf #0",
        "0x10 udf #0",
    ],
    "t-use": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x26, #0x2a",
        "0xc bl t-var",
        "0x10 ldr x26, [x26]",
        "0x14 ldr x0, [x27], #8",
        "0x18 add x26, x0, x26",
        "0x1c bl t-var",
        "0x20 ldp x0, x1, [x27], #0x10",
        "0x24 str x0, [x26]",
        "0x28 mov x26, x1",
        "0x2c ldr x30, [sp], #8",
        "0x30 ret",
    ],
    "t-exit": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x0, x26",
        "0xc ldr x26, [x27], #8",
        "0x10 cbz x0, <+0x1c>",
        "0x14 ldr x30, [sp], #8",
        "0x18 ret",
        "0x1c ldr x26, [x27], #8",
        "0x20 ldr x30, [sp], #8",
        "0x24 ret",
        "0x28 udf #0",
    ],
    "t-rec": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 cmp x26, #0",
        "0xc csetm x26, gt",
        "0x10 mov x0, x26",
        "0x14 ldr x26, [x27], #8",
        "0x18 cbz x0, <+0x24>",
        "0x1c sub x26, x26, #1",
        "0x20 bl <+0x0>",
        "0x24 ldr x30, [sp], #8",
        "0x28 ret",
    ],
    "t-mk": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 bl w_create",
        "0x8 bl w_comma",
        "0xc adr x0, <+0x1c>",
        "0x10 bl do_does",
        "0x14 ldr x30, [sp], #8",
        "0x18 ret",
        "0x1c str x30, [sp, #-8]!",
        "0x20 ldr x26, [x26]",
        "0x24 add x26, x26, #1",
        "0x28 ldr x30, [sp], #8",
        "0x2c ret",
        "0x30 udf #0",
    ],
    "t-made": [
        "0x0 str x26, [x27, #-8]!",
        "0x4 adr x26, <+0xc>",
        "0x8 b t-mk+0x1c",
        "0xc udf #7",
        "0x10 udf #0",
    ],
    "t-case": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 str x26, [x27, #-8]!",
        "0x8 mov x26, #1",
        "0xc ldr x0, [x27]",
        "0x10 str x26, [x27, #-8]!",
        "0x14 mov x26, x0",
        "0x18 ldr x0, [x27], #8",
        "0x1c cmp x0, x26",
        "0x20 csetm x26, eq",
        "0x24 mov x0, x26",
        "0x28 ldr x26, [x27], #8",
        "0x2c cbz x0, <+0x40>",
        "0x30 ldr x26, [x27], #8",
        "0x34 str x26, [x27, #-8]!",
        "0x38 mov x26, #0xa",
        "0x3c b <+0x94>",
        "0x40 str x26, [x27, #-8]!",
        "0x44 mov x26, #2",
        "0x48 ldr x0, [x27]",
        "0x4c str x26, [x27, #-8]!",
        "0x50 mov x26, x0",
        "0x54 ldr x0, [x27], #8",
        "0x58 cmp x0, x26",
        "0x5c csetm x26, eq",
        "0x60 mov x0, x26",
        "0x64 ldr x26, [x27], #8",
        "0x68 cbz x0, <+0x7c>",
        "0x6c ldr x26, [x27], #8",
        "0x70 str x26, [x27, #-8]!",
        "0x74 mov x26, #0x14",
        "0x78 b <+0x94>",
        "0x7c str x26, [x27, #-8]!",
        "0x80 mov x26, #0",
        "0x84 ldr x0, [x27]",
        "0x88 str x26, [x27]",
        "0x8c mov x26, x0",
        "0x90 ldr x26, [x27], #8",
        "0x94 ldr x30, [sp], #8",
        "0x98 ret",
    ],
    "t-far": [
        "0x0 str x30, [sp, #-8]!",
        "0x4 mov x16, #0x60000000",
        "0x8 movk x16, #8, lsl #32",
        "0xc blr x16",
        "0x10 ldr x30, [sp], #8",
        "0x14 ret",
    ],
}


def test_compiler_output_is_pinned(console):
    here = define(console)
    m = console.machine
    for name in NAMES:
        xt, code = word_code(m, name, here)
        assert symbolic(m, xt, code) == PINNED[name], name


# ---- SEE against capstone ----------------------------------------------------

ROLES = {"tos": "x26", "dsp": "x27", "up": "x28", "lix": "x24", "llim": "x25"}
LINE = re.compile(r"^  ([0-9a-f]+)  ([0-9a-f]{8})  ([^\\]*?)\s*(?:\\ (.*))?$")


def see(console, name: str) -> list[tuple[int, int, str, str]]:
    """(address, instruction word, decoded text, comment) of each line SEE
    printed for name."""
    out = console.send(f"see {name}")
    assert "error" not in out, out
    lines = [LINE.match(line) for line in out.splitlines()]
    return [(int(m[1], 16), int(m[2], 16), m[3], m[4] or "") for m in lines if m]


def canonical_see(text: str) -> str:
    return re.sub(r"\b(tos|dsp|up|lix|llim)\b", lambda m: ROLES[m[1]], text).strip()


def word_name(machine, addr: int, here: int) -> str:
    """What SEE prints for a call to addr: the word whose code holds it
    (the highest xt at or below it, when addr is before that word's end),
    +offset; else the address."""
    best = None
    for name, xt in machine.forth_words():
        if xt <= addr and (best is None or xt > best[1]):
            best = (name, xt)
    if best is None or addr >= code_end(machine, best[1], here):
        return f"{addr:#x}"
    return best[0] + (f"+{addr - best[1]:#x}" if addr != best[1] else "")


def small(n: int) -> str:
    """A number as capstone prints it: decimal up to 9, else hex."""
    return str(n) if n < 10 else f"{n:#x}"


def check_against_capstone(console, name: str) -> tuple[int, int]:
    """SEE's lines for name against capstone on the same bytes, read from
    the emulated memory: every decoded line the same mnemonic and operands.
    Returns (decoded, undecoded) counts."""
    m = console.machine
    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    here = int(console.send("here .").split()[-2])
    decoded = undecoded = 0
    rows = see(console, name)
    assert rows, name
    for addr, word, text, _comment in rows:
        raw = bytes(m.cpu.uc.mem_read(addr, 4))
        assert struct.unpack("<I", raw)[0] == word, (name, hex(addr))
        if text.startswith(".word"):
            assert text == f".word {word:#x}", (name, text)
            undecoded += 1
            continue
        insn = next(md.disasm(raw, addr), None)
        assert insn is not None, (name, hex(addr), text)
        want = f"{insn.mnemonic} {insn.op_str}".strip()
        # capstone prints a negative post-index offset as 64-bit unsigned
        want = re.sub(r"\], #(0x[89a-f][0-9a-f]{15})$",
                      lambda g: "], #-" + small((1 << 64) - int(g[1], 16)), want)
        if insn.mnemonic == "bl":
            want = "bl " + word_name(m, int(insn.op_str.lstrip("#"), 16), here)
        assert canonical_see(text) == want, (name, hex(addr), f"{word:08x}", text, want)
        decoded += 1
    return decoded, undecoded


def comments(rows) -> list[str]:
    return [c for _a, _w, _t, c in rows if c]


def test_see_decodes_the_compilers_code_as_capstone_does(console):
    define(console)
    for name in NAMES:
        decoded, undecoded = check_against_capstone(console, name)
        assert decoded and not undecoded, name     # no .word: every form decoded
    rows = {name: see(console, name) for name in ("t-lits", "t-call", "t-if", "t-const",
                                                  "t-var", "t-use", "t-far", "t-made", "t-do")}
    # a literal's movz/movn/movk run is shown as its value
    assert comments(rows["t-lits"]) == ["0", "1", "-1", "4095", "65536", "-65536", "1234567890123",
                                        "-1234567890123", "9223372036854775807"]
    texts = {name: [canonical_see(t) for _a, _w, t, _c in r] for name, r in rows.items()}
    assert "bl cr" in texts["t-call"]
    assert "bl t-var" in texts["t-use"]
    # the branches of IF/ELSE/THEN land inside the word, at the ELSE part and after it
    xt = rows["t-if"][0][0]
    targets = [int(t.split("#")[-1], 16) - xt for t in texts["t-if"] if t.startswith(("cbz", "b "))]
    assert targets == [0x24, 0x2c]
    assert any(t.startswith("b.vc") for t in texts["t-do"])
    assert comments(rows["t-const"]) == ["42"]                     # ldr tos, value
    assert texts["t-var"][1].startswith("adr x26, #")
    assert "blr x16" in texts["t-far"] and "0x860000000" in comments(rows["t-far"])
    assert "t-mk+0x1c" in comments(rows["t-made"])                 # DOES>'s b into t-mk


def inline_words(machine) -> list[str]:
    """Every F_INLINE word of the dictionary, each name once (the newest)."""
    names = {}
    for name, xt in machine.forth_words():
        flags = machine.cpu.uc.mem_read(xt - 4, 1)[0]
        if flags & 0x04 and name not in names:
            names[name] = xt
    return list(names)


def test_see_decodes_the_inlined_primitives(console):
    names = inline_words(console.machine)
    assert len(names) > 50
    for name in names:
        decoded, undecoded = check_against_capstone(console, name)
        assert decoded and not undecoded, name


def test_see_decodes_assembly_words(console):
    # words written in assembly: calls, divides, loops, multiply-high, carry, ..
    for name in ("um*", "fm/mod", "sm/rem", "move", "fill", "compile,", "constant", ":", "execute",
                 "catch", "roll", "allocate", "m*/", "d2/", "type", "kmem-class"):
        decoded, undecoded = check_against_capstone(console, name)
        assert decoded > 3 * undecoded, (name, decoded, undecoded)


def test_see_of_an_unknown_word(console):
    assert "error -13: undefined word: no-such" in console.send("see no-such")
    assert "7  ok" in console.send("3 4 + .")


def test_every_form_is_in_the_docs_table():
    from harness import ROOT
    source = (ROOT / "kernel/forth/compiler.S").read_text()
    forms = set(re.findall(r"^(asm_\w+|tmpl_\w+):", source, re.M))
    forms -= {"asm_movewide", "asm_addsub_imm", "asm_bitfield"}      # shared tails
    table = (ROOT / "docs/kernel.md").read_text().split("## The code generator's instruction forms")[1]
    named = set(re.findall(r"`(asm_\w+|tmpl_\w+)`", table))
    assert forms and forms == named


def test_no_inlined_body_is_position_dependent(console):
    """An F_INLINE body is copied into the word that uses it, so a
    PC-relative instruction in it (adr/adrp, a branch, a literal load)
    would point somewhere else there: 'refill-file and boot-here did, and
    files-load read a wrong boot-here.  A branch within the body moves with
    it; control-structure templates (compile-only) are patched by the
    compiler and are left out."""
    m = console.machine
    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    relative = {"b", "bl", "cbz", "cbnz", "tbz", "tbnz"}
    bad = []
    for name in inline_words(m):
        xt = dict((n, x) for n, x in m.forth_words())[name]
        flags, length = m.cpu.uc.mem_read(xt - 4, 2)
        if flags & 0x02:
            continue
        code = bytes(m.cpu.uc.mem_read(xt, 4 * max(length, 1)))
        for insn in md.disasm(code, xt):
            if insn.mnemonic in ("adr", "adrp") or \
                    (insn.mnemonic.startswith("ldr") and "#0x" in insn.op_str and "[" not in insn.op_str):
                bad.append(f"{name}: {insn.mnemonic} {insn.op_str}")
            elif insn.mnemonic in relative or insn.mnemonic.startswith("b."):
                target = int(insn.op_str.split("#")[-1], 16)
                if not xt <= target <= xt + len(code):          # a branch inside the body moves with it
                    bad.append(f"{name}: {insn.mnemonic} {insn.op_str}")
    assert not bad, bad
