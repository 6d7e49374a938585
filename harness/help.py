"""The console's help text, gathered from the sources at build time.

`help WORD` at the console (forth/95-help.fth) prints a word's stack
effect and one line about it.  Both are written once, next to the word's
code: the comment above an assembly word (`/* dup ( x -- x x ) */` before
`word "dup", ...` in kernel/forth/*.S and the board's words.inc), the
stack comment and `\\ text` of a Forth definition (`: sq ( n -- n*n ) \\
the square`), or a `\\ name ( ... ) text` line just above it.  This module
reads them into one table that the build embeds in the image
(kernel/forth/cold.S help_blob): a line per word,

    name TAB stack effect TAB one line TAB source file LF

newest definition last, so the console finds the one a name means now.
A word whose source says nothing gets no line; tests/test_help.py keeps
that list from growing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE_MAX = 160          # characters of the one line

# `word "name", w_label ...`, or a macro making one (`binop "+", w_plus, add`)
_ASM_WORD = re.compile(r'^\s*\w+\s+"((?:[^"\\]|\\.)*)"\s*,\s*(w_\w+)')
_SAME_LINE = re.compile(r"/\*\s*(\([^)]*--[^)]*\))\s*(.*?)\*/")
_ANY_STACK = re.compile(r"(\([^)]*--[^)]*\))([^\n]*)")
_FORTH_DEF = re.compile(
    r"(?:^|\s)(:|variable|2variable|constant|2constant|value|2value|create|defer|"
    r"endpoint|endpoint-on|fvariable|buffer:)\s+(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    name: str
    stack: str          # "( a b -- c )", or "" when the source gives none
    text: str           # the one line, or ""
    source: str         # file relative to the project


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    text = text.strip(" :;-")
    if len(text) > LINE_MAX:
        cut = text.rfind(" ", 0, LINE_MAX - 3)
        text = text[: cut if cut > 0 else LINE_MAX - 3] + "..."
    return text


def _stack_after(name: str, text: str) -> tuple[str, str] | None:
    """The `( ... )` right after `name` in a comment, and what follows it up
    to the next word's own stack effect or the end of the paragraph."""
    pat = re.compile(r"(?:^|(?<=\s))" + re.escape(name) + r"\s+(\([^)]*\))", re.IGNORECASE)
    m = pat.search(text)
    if not m:
        return None
    rest = text[m.end():]
    para = re.split(r"\n\s*\n", rest, maxsplit=1)[0]
    nxt = re.search(r"(?:^|\s)\S+\s+\([^)]*--[^)]*\)", para)
    if nxt:
        para = para[: nxt.start()]
    return m.group(1), _one_line(para)


def _comment_text(lines: list[str]) -> str:
    out = []
    for ln in lines:
        s = ln.strip()
        s = re.sub(r"^/\*+", "", s)
        s = re.sub(r"\*+/$", "", s)
        s = re.sub(r"^\*(?!/)", "", s)
        out.append(s.strip())
    return "\n".join(out)


def asm_entries(path: Path) -> list[Entry]:
    lines = path.read_text().splitlines()
    out = []
    start = 0
    for i, ln in enumerate(lines):
        if re.match(r"^\s*endword\b", ln) or re.match(r"^\s*(\.text|\.data|\.section)", ln):
            start = i + 1
            continue
        m = _ASM_WORD.match(ln)
        if not m:
            continue
        name = m.group(1).encode().decode("unicode_escape")
        found = None
        same = _SAME_LINE.search(ln)
        if same:                        # `unop "1+", ... /* ( n -- n+1 ) */`
            found = same.group(1), _one_line(same.group(2))
        for first in (start, 0):        # the comment since the last word, else one shared
            if found:
                break
            block = lines[max(first, i - 40):i]
            comments = [b for b in block if b.strip().startswith(("/*", "*")) or b.strip().endswith("*/")]
            found = _stack_after(name, _comment_text(comments))
        if not found and not ln.lstrip().startswith("word"):
            # a family made by one macro: the stack effect its comment gives them all
            for j in range(i - 1, max(-1, i - 21), -1):     # the nearest such comment above
                fam = _ANY_STACK.search(_comment_text([lines[j]])) if "/*" in lines[j] else None
                if fam:
                    found = fam.group(1), _one_line(fam.group(2).split("*/")[0])
                    break
        stack, text = found if found else ("", "")
        out.append(Entry(name, stack, text, str(path.relative_to(ROOT))))
        start = i + 1
    return out


_DEFINERS = {"variable": "( -- a-addr )", "2variable": "( -- a-addr )",
             "create": "( -- a-addr )", "buffer:": "( -- a-addr )",
             "constant": "( -- x )", "2constant": "( -- x1 x2 )", "value": "( -- x )",
             "2value": "( -- x1 x2 )", "defer": "", "endpoint": "( -- ep )", "endpoint-on": "( -- ep )", ":": ""}
_STRINGS = re.compile(r'(?:^|(?<=\s))(?<!:\s)(?:\.|s|c|abort|s\\|\.\()"\s[^"]*"', re.IGNORECASE)


def _definitions(code: str, in_colon: bool) -> tuple[list[tuple[str, str, str]], bool]:
    """(definer, name, what follows the name) for each definition a line of
    Forth makes outside colon definitions, and whether it ends inside one."""
    found = []
    code = _STRINGS.sub(" ", code)
    toks = list(re.finditer(r"\S+", code))
    k = 0
    while k < len(toks):
        t = toks[k].group(0).lower()
        if t == "(" and k + 1 < len(toks):          # a comment: skip to its end
            end = code.find(")", toks[k].end())
            k += 1
            while k < len(toks) and end >= 0 and toks[k].start() < end:
                k += 1
            continue
        if in_colon:
            if t == ";":
                in_colon = False
        elif t in _DEFINERS and k + 1 < len(toks):
            name = toks[k + 1]
            found.append((t, name.group(0), code[name.end():]))
            in_colon = t == ":"
            k += 2
            continue
        k += 1
    return found, in_colon


def _split_comment(raw: str) -> tuple[str, str]:
    """A Forth line's code and its `\\ ` comment (a `\\` that is a word's
    name, as in `: \\ ...` or `postpone \\`, is code)."""
    masked = _STRINGS.sub(lambda m: "_" * len(m.group(0)), raw)   # a \\ inside ." ..." is text
    for m in re.finditer(r"(?:^|(?<=\s))\\(?=\s|$)", masked):
        before = masked[:m.start()].split()
        if before and before[-1].lower() in (":", "postpone", "[']", "'", "[compile]"):
            continue
        return raw[:m.start()], raw[m.end():].strip()
    return raw, ""


def forth_entries(path: Path) -> list[Entry]:
    lines = path.read_text().splitlines()
    out = []
    in_colon = False
    for i, raw in enumerate(lines):
        if raw.lstrip().startswith("\\"):
            continue
        code, comment = _split_comment(raw)
        defs, in_colon = _definitions(code, in_colon)
        for definer, name, after in defs:
            sm = re.match(r"\s*(\([^)]*\))", after)
            stack = sm.group(1) if sm else ""
            text = _one_line(comment) if comment and len(defs) == 1 else ""
            if not stack and text:                  # `\ name ( ... ) text` on the line itself
                same = _stack_after(name, comment)
                if same:
                    stack, text = same
            if not stack or not text:
                # a `\ name ( ... ) text` comment just above
                j = i - 1
                above = []
                while j >= 0 and lines[j].lstrip().startswith("\\"):
                    above.insert(0, lines[j].lstrip()[1:])
                    j -= 1
                found = _stack_after(name, "\n".join(above)) if above else None
                if found:
                    stack = stack or found[0]
                    text = text or found[1]
            stack = stack or _DEFINERS[definer]
            out.append(Entry(name, stack, text, str(path.relative_to(ROOT))))
    return out


def entries(board: str, forth_files: list[Path]) -> list[Entry]:
    """Every word's entry in the order the kernel defines them: the
    assembly words (kernel/forth.S's include order, then the board's), then
    forth/ in boot order."""
    kernel = ROOT / "kernel"
    order = re.findall(r'#include\s+"(forth/[^"]+)"', (kernel / "forth.S").read_text())
    out: list[Entry] = []
    for rel in order:
        out += asm_entries(kernel / rel)
    words = kernel / "boards" / board / "words.inc"
    if words.exists():
        out += asm_entries(words)
    for f in forth_files:
        out += forth_entries(f)
    return out


def blob(board: str, forth_files: list[Path]) -> bytes:
    rows = []
    for e in entries(board, forth_files):
        if not e.stack and not e.text:
            continue
        fields = [e.name, e.stack, e.text, e.source]
        rows.append("\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields))
    data = ("\n".join(rows) + "\n").encode("utf-8", "replace")
    return bytes(b if b >= 0x20 or b in (0x09, 0x0A) else 0x20 for b in data)
