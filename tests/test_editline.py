"""The console's line editor (forth/30-editline.fth) and help (forth/95-help.fth)
in the real kernel: keys as a terminal sends them, what runs, what the
UART and the screen show."""
import re

import pytest

from kernel_support import screen_rows

LEFT, RIGHT, UP, DOWN = b"\x1b[D", b"\x1b[C", b"\x1b[A", b"\x1b[B"
HOME, END, DELETE = b"\x1b[H", b"\x1b[F", b"\x1b[3~"


def terminal(raw: str) -> str:
    """What a dumb terminal shows for the editor's output: printable
    characters overwrite, backspace moves left, CR goes to the start."""
    line, col, rows = [], 0, []
    for ch in raw:
        if ch == "\n":
            rows.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(0, col - 1)
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    rows.append("".join(line).rstrip())
    return "\n".join(rows)


@pytest.mark.parametrize("keys, shown, result", [
    (b"1 3" + LEFT * 3 + b"9 + " + END + b" .", "9 + 1 3 .", "3 "),       # insert at the start
    (b"2 5 * ." + HOME + RIGHT * 2 + DELETE + b"4", "2 4 * .", "8 "),
    (b"2 5 * ." + b"\x01\x06\x06\x04" + b"7", "2 7 * .", "14 "),           # Ctrl-A, Ctrl-F, Ctrl-D
    (b"6 . garbage words" + b"\x17\x17", "6 .", "6 "),                     # Ctrl-W twice
    (b"junk" + b"\x01\x0b" + b"5 .", "5 .", "5 "),                          # Ctrl-K from the start
    (b"junk 9" + LEFT + b"\x15" + b"4 .", "4 .9", None),                    # Ctrl-U: only before the cursor
    (b"1 2" + b"\x02\x02" + b"+" + b"\x05" + b" + .", "1+ 2 + .", None),   # Ctrl-B, Ctrl-E
    (b"3 4 +x\x08 .", "3 4 + .", "7 "),                                      # Backspace
    (b"3 4 +x\x7f .", "3 4 + .", "7 "),                                      # DEL as Backspace
    (b"8 \x1b[1~. \x1b[4~", ". 8", None),                                   # Home and End, VT form
    (b"8 \x1bOH. \x1bOF", ". 8", None),                                      # SS3 Home and End
])
def test_editing_keys(console, keys, shown, result):
    out = console.send(keys + b"\n")
    assert terminal(out).splitlines()[0].rstrip().startswith(shown), repr(out)
    if result is not None:
        assert out.endswith(result + " ok\n"), repr(out)


def test_history_walks_back_and_forth(console):
    console.send("1 .")
    console.send("2 .")
    console.send("3 .")
    assert terminal(console.send(UP + b"\n")).rstrip().endswith("3 . 3  ok")
    out = console.send(UP + UP + UP + b"\n")     # 3 . is the newest again (repeats are kept once)
    assert terminal(out).rstrip().endswith("1 . 1  ok"), repr(out)
    out = console.send(b"7 ." + UP + DOWN + b"\n")   # down again: the line being typed comes back
    assert terminal(out).rstrip().endswith("7 . 7  ok"), repr(out)
    out = console.send(b"\x10\x10\x0e\n")             # Ctrl-P Ctrl-P Ctrl-N
    assert terminal(out).rstrip().endswith("7 . 7  ok"), repr(out)
    # Up past the oldest stays at the oldest
    out = console.send(UP * 50 + b"\n")
    assert terminal(out).rstrip().endswith("1 . 1  ok"), repr(out)


def test_history_keeps_the_last_32_lines(console):
    for i in range(40):
        console.send(f"{i} drop")
    out = console.send(UP * 32 + b"\n")
    assert terminal(out).rstrip().endswith("8 drop  ok"), repr(out)
    out = console.send(UP * 33 + b"\n")        # "8 drop" is the newest now; no 33rd:
    assert terminal(out).rstrip().endswith("9 drop  ok"), repr(out)   # the oldest kept


def test_tab_completes_from_the_dictionary(console):
    assert terminal(console.send(b"varia\tvx 3 vx ! vx @ .")).startswith("variable vx 3 vx ! vx @ . 3")
    console.send(": zebra-one 1 ;")
    console.send(": zebra-two 2 ;")
    out = console.send(b"zeb\t")                  # common part only: zebra-
    assert terminal(out).startswith("zebra-")
    out = console.send(b"zebra-\t\t")             # second Tab lists both, line drawn again
    assert "zebra-one" in out and "zebra-two" in out
    assert terminal(out).splitlines()[-2].startswith("zebra-") if len(terminal(out).splitlines()) > 1 else True
    out = console.send(b"zebra-t\t.")             # unique: completed and a space
    assert "zebra-two . 2  ok" in terminal(out)
    out = console.send(b"qqqqzz\t")               # nothing matches: nothing added
    assert terminal(out).startswith("qqqqzz")
    assert "undefined word: qqqqzz" in out


def test_refused_lines_keep_the_old_errors(console):
    out = console.send("1 " * 700 + ".")          # over the buffer: read to its end, refused
    assert "error -18" in out
    out = console.send(b"1 \x07 .")
    assert "error -257" in out and "byte 0x7" in out
    assert "<0>" in console.send(".s")
    assert "5  ok" in console.send("2 3 + .")


def test_accept_edits_too(console):
    out = console.send(b"create buf 20 allot  buf 20 accept  buf swap type\nabX\x08c" + LEFT * 3 + b">\n")
    assert ">abc ok" in out.replace(" ", "").replace("\b", "") or ">abc" in terminal(out), repr(out)


def test_the_screen_shows_the_edited_line(console):
    console.send(b"1 3" + LEFT * 3 + b"9 + " + END + b" .\n")
    rows = [r for r in screen_rows(console) if r.strip()]
    line = [r for r in rows if "9 + 1 3" in r]
    assert line, rows[-6:]
    assert line[-1].startswith("9 + 1 3 . 3  ok"), line[-1]


def test_help_prints_the_words_own_comment(console):
    out = console.send("help dup")
    assert "dup ( x -- x x )" in out and "kernel/forth/stack.S" in out
    out = console.send("help threads")
    assert "threads ( -- )" in out and "every thread" in out and "forth/85-threads.fth" in out
    out = console.send("help HELP")                         # case does not matter
    assert "help ( \"name\" -- )" in out
    assert "no word named frobnicate" in console.send("help frobnicate")
    console.send(": sq dup * ;")
    assert "no help text for sq" in console.send("help sq")
    intro = console.send("help")
    assert "help WORD" in intro and "Ctrl-C" in intro and "Tab" in intro


def test_question_mark_lists_the_main_words_and_stays_standard(console):
    out = console.send("?")
    names = set(re.findall(r"\S+", " ".join(l.split(None, 1)[1] for l in out.splitlines()
                                             if len(l.split()) > 1 and l[:1].isalpha()
                                             and not l.startswith(("help WORD", "?")))))
    assert {"dup", "spawn", "allocate", "see", "help"} <= names
    for name in sorted(names):                              # every word named exists
        assert "no word named" not in console.send(f"help {name}"), name
    assert "5  ok" in console.send("variable v 5 v ! v ?")  # the standard ? with an address
