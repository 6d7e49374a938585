"""Bad input at the console gets a clear error, and the next line works."""

import re

import pytest


@pytest.fixture
def console(any_console):
    """Every test here runs on the emulated M3 and on the virt board under QEMU."""
    return any_console


def test_unknown_word_then_next_line_works(console):
    out = console.send("1 2 frobnicate 3")
    assert "error -13: undefined word: frobnicate" in out
    assert "3  ok" in console.send("1 2 + .")


def test_stack_underflow_is_reported_and_stack_reset(console):
    out = console.send("drop drop")
    assert "error -4: stack underflow" in out
    assert "<0>" in console.send(".s")
    assert "42  ok" in console.send("42 .")


def test_overlong_line_is_discarded_whole(console):
    long_line = "1 " * 700 + "."        # over the 1024-byte input buffer
    out = console.send(long_line)
    assert "error -18: parsed string overflow (input line too long, discarded)" in out
    assert "<0>" in console.send(".s")   # nothing of the line ran
    assert "7  ok" in console.send("3 4 + .")


def test_control_bytes_are_refused_not_interpreted(console):
    # BEL and Ctrl-Z are no editing keys (forth/30-editline.fth): the line
    # is read to its end, then refused, naming the last such byte
    out = console.send(b"1 2 \x07\x1a + .\n")
    assert "error -257: input line is not text (control character), discarded, byte 0x1a" in out
    assert "<0>" in console.send(".s")
    assert "5  ok" in console.send("2 3 + .")


def test_escape_sequences_and_high_bytes(console):
    # an escape sequence is an editing key, never text: Up with no history
    # leaves the line empty; one the editor does not know is skipped whole
    out = console.send(b"\x1b[A\n")
    assert "error" not in out and "ok" in out
    assert "7  ok" in console.send(b"3 \x1b[1;5Q4 + .\n")
    # UTF-8 is text: a word with a non-ASCII name works
    assert "9  ok" in console.send(": dr\xc3\xa9i 9 ; dr\xc3\xa9i .".encode("latin-1"))


def test_backspace_edits_the_line(console):
    assert "3  ok" in console.send(b"1 3\x08 2 + 9\x7f.\n").replace("\b \b", "")


def test_crlf_line_ends_count_once(console):
    out = console.send(b"1 .\r\n2 .\r\n")
    assert out.count(" ok") == 2


def test_invalid_address_is_a_throw_with_the_fault_decoded(console):
    out = console.send(": peek 0 @ ; peek")
    assert "error -9: invalid memory address" in out
    assert re.search(r"data abort \(ESR 0x9[0-9a-f]{7}\) at pc 0x[0-9a-f]+ in peek\+0x[0-9a-f]+, address 0x0", out), out
    assert "6  ok" in console.send("2 3 * .")


def test_division_by_zero(console):
    assert "error -10: division by zero" in console.send("1 0 /")
    assert "error -10: division by zero" in console.send("1 0 mod")
    assert "1  ok" in console.send("7 4 / .")


def test_compile_only_word_interpreted(console):
    assert "error -14: interpreting a compile-only word: i" in console.send("i")


def test_failed_definition_leaves_nothing_behind(console):
    here_before = console.send("here .").split()[-2]
    out = console.send(": half-made 1 2 no-such-word ;")
    assert "error -13: undefined word: no-such-word" in out
    assert console.send("here .").split()[-2] == here_before
    assert "undefined word: half-made" in console.send("half-made")
    # and not in compile state any more
    assert "4  ok" in console.send("2 2 + .")


def test_unbalanced_control_structure(console):
    out = console.send(": bad if ;")
    assert "error -22: control structure mismatch" in out
    assert "undefined word: bad" in console.send("bad")


def test_runaway_recursion_is_caught(console):
    out = console.send(": down 1 + recurse ; 0 down")
    assert "error -5: return stack overflow" in out or "error -3: stack overflow" in out
    assert "8  ok" in console.send("4 4 + .")


def test_first_word_set(console):
    script = """
    : sq ( n -- n*n ) dup * ;
    7 sq . 17 5 mod . 17 5 / . 3 4 swap - . 1 2 over . . . 65 emit cr
    : count-to ( n -- ) 0 ?do i . loop ; 5 count-to
    """
    out = console.send(script)
    assert "49 2 3 1 1 2 1 A" in out
    assert "0 1 2 3 4  ok" in out
    assert "error" not in out
