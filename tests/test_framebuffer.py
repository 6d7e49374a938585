"""The framebuffer console (kernel/fbcon.S), the UART's receive interrupt
through the AIC model (kernel/boards/m3/aic.S, kernel/console.S, harness/machine/aic.py), the drawing
words, and screenshots: pixels on the emulated screen checked against the
font (harness/font.py)."""

from __future__ import annotations

import struct

import pytest

from harness import cli, font
from harness.machine import aic as aicmod
from harness.machine.framebuffer import from_rgb8, png_bytes, read_png, to_rgb8

from kernel_support import read_row, screen_rows, white  # noqa: F401  (the screen reader)

W, H = font.CELL_W, font.CELL_H


# ---- helpers ---------------------------------------------------------------

def screenshot(console, tmp_path, name="screen.png"):
    """The test helper: save the console's screen as a PNG (for a person to
    look at when a test fails) and return its path."""
    return console.machine.screenshot(tmp_path / name)


def answer(console, line: str) -> str:
    """What the console printed for a line, without the echo of the line."""
    out = console.send(line)
    assert out.startswith(line), out
    return out[len(line):]


# ---- the models ---------------------------------------------------------------

def test_aic3_event_masks_and_mask_clr_reraises():
    level = []
    a = aicmod.Aic3(level.append)
    line = [False]
    a.connect(757, lambda: line[0])
    unmasked = []
    a.on_unmask = unmasked.append
    word, bit = 4 * (757 // 32), 1 << (757 % 32)
    assert a.is_masked(757)                                  # masked at reset
    line[0] = True
    a.update()
    assert level[-1] is False                                # masked: no IRQ
    a.write(aicmod.MASK_CLR + word, 4, bit)
    assert unmasked == [757] and level[-1] is True
    assert a.read(aicmod.EVENT, 4) == (1 << 16) | 757        # type HW, number 757
    assert a.is_masked(757) and level[-1] is False           # the read masked it
    assert a.read(aicmod.EVENT, 4) == 0                      # nothing else
    a.write(aicmod.MASK_CLR + word, 4, bit)                  # line still high: again
    assert level[-1] is True
    line[0] = False
    a.update()
    assert level[-1] is False
    a.write(aicmod.SW_SET + word, 4, bit)                    # software-raised
    assert level[-1] is True and a.read(aicmod.HW_STATE + word, 4) == bit
    assert not a.bad_accesses


def test_pixel_formats_and_png_round_trip():
    assert from_rgb8(255, 255, 255, 30) == 0x3FFF_FFFF
    assert from_rgb8(255, 0, 0, 30) == 0x3FF0_0000
    assert from_rgb8(1, 2, 3, 32) == 0x010203
    for depth in (30, 32):
        assert to_rgb8(from_rgb8(12, 200, 255, depth), depth) == (12, 200, 255)
    rows = [bytes([x, y, 7] * 1)[:3] * 1 for x in range(2) for y in range(1)]
    w, h, back = read_png(png_bytes(1, 2, rows))
    assert (w, h, back) == (1, 2, rows)


def test_the_kernel_font_table_is_generated_from_the_python_font():
    assert font.INC.read_text() == font.assembly(), "run `python -m harness.font`"
    # 'I' row 0 is .###. on the 5x8 grid: pixels 3-8 of the 12-wide cell, twice
    assert font.glyph_mask(ord("I"))[0] == [False] * 3 + [True] * 6 + [False] * 3
    assert font.glyph_mask(ord("I"))[1] == font.glyph_mask(ord("I"))[0]
    assert sum(map(sum, font.glyph_mask(ord(" ")))) == 0


# ---- the console on the screen -------------------------------------------------

def test_boot_text_is_on_the_screen(console, tmp_path):
    rows = screen_rows(console)
    out = console.boot_output.replace("\r", "").split("\n")
    assert rows[0] == out[0] or rows[0] == out[1], (rows[:4], out[:4])
    assert "Sovereign Forth kernel on m3, EL2" in rows[:2]
    assert any(r.startswith("memory: 2048 MiB") for r in rows[:4])
    assert any(r.startswith("cores: ") for r in rows[:5])
    assert "ready" in rows[:6]
    screenshot(console, tmp_path)


def test_known_text_renders_pixel_for_pixel(console, tmp_path):
    console.send("page")
    out = console.send(".( Hello, M3! 0123 {[<|>]} ~@#) 2 3 + .")
    m = console.machine
    fg, bg = white(m.video.depth), 0
    line = out.replace("\r", "").split("\n")[0]
    # the screen row is the echoed line and its output, as on the UART
    assert read_row(m.framebuffer, 1, fg, bg) == line.rstrip()
    assert line.startswith(".( Hello, M3! 0123 {[<|>]} ~@#) 2 3 + . Hello, M3! 0123 {[<|>]} ~@#5")
    # and exactly the font's pixels: 'H' of the output, cell by cell
    col = line.index("Hello", 4)
    words = m.framebuffer.words(col * W, 1 * H, W, H)
    assert [[p == fg for p in r] for r in words] == font.glyph_mask(ord("H"))
    assert {p for r in words for p in r} == {fg, bg}
    # the cursor sits at the start of the row after " ok"
    assert screen_rows(console)[2] == "_"
    path = screenshot(console, tmp_path)
    w, h, rgb = read_png(path.read_bytes())
    assert (w, h) == (1920, 1080)
    px = (col * W + 2) * 3                                    # 'H': left stem, row 2
    assert rgb[H + 2][px:px + 3] == b"\xff\xff\xff"


def test_backspace_and_long_lines_wrap(console):
    console.send("page")
    console.send(b"1 2 +xy\x08\x08 .")
    rows = screen_rows(console)
    assert rows[1] == "1 2 + . 3  ok"
    console.send("page")
    console.send(": z 170 0 do [char] x emit loop ; z")
    rows = screen_rows(console)
    echo = ": z 170 0 do [char] x emit loop ; z"
    text = echo + " " + "x" * 170
    assert rows[1] == text[:160] and rows[2].startswith(text[160:])


def test_scrolling_keeps_the_newest_lines(console):
    console.send(": lines 0 do i . cr loop ; 200 lines")
    rows = screen_rows(console)
    nums = [r.strip() for r in rows if r.strip().isdigit()]
    assert nums, rows
    assert nums[-1] == "199" and nums == [str(n) for n in range(int(nums[0]), 200)]
    assert len(nums) >= 30                                    # half a screen kept at least


def test_the_uart_interrupt_wakes_the_console(console):
    m = console.machine
    events = m.aic.events
    console.send("1 2 + .")
    console.send("threads")
    # each line arrived while the console slept in KEY: one interrupt a wait
    assert m.aic.events >= events + 2
    assert m.aic.is_masked(aicmod.UART0_IRQ) is False         # waiting again now
    out = console.send(": busy begin again ; ' busy 32 spawn drop 5 .")
    assert "5" in out                                         # a busy thread does not hide input
    assert "ok" in console.send("7 .")


def test_fb_words_rect_fill_blit_and_clipping(console):
    m = console.machine
    d = m.video.depth
    red = from_rgb8(255, 0, 0, d)
    assert answer(console, "255 0 0 fb-rgb .").split()[0] == str(red)
    console.send("255 0 0 fb-rgb constant red  0 0 255 fb-rgb constant blue")
    console.send("100 200 30 20 red fb-rect  -5 -5 10 10 blue fb-rect  1915 1075 100 100 blue fb-rect")
    fb = m.framebuffer
    assert fb.pixel(100, 200) == red and fb.pixel(129, 219) == red
    assert fb.pixel(99, 200) != red and fb.pixel(130, 200) != red and fb.pixel(100, 220) != red
    blue = from_rgb8(0, 0, 255, d)
    assert fb.pixel(0, 0) == blue and fb.pixel(4, 4) == blue and fb.pixel(5, 5) != blue
    assert fb.pixel(1919, 1079) == blue and fb.pixel(1915, 1075) == blue
    # a 40x3 image of distinct words (wider than one 128-byte step, with a tail)
    console.send("create img 40 3 * 4 * allot "
                 ": fill-img 120 0 do i 1000 + img i 4 * + l! loop ; fill-img")
    console.send("img 160 300 400 40 3 fb-blit  img 160 1900 500 40 3 fb-blit  img 160 -10 600 40 3 fb-blit")
    assert fb.words(300, 400, 40, 3) == [[1000 + 40 * r + c for c in range(40)] for r in range(3)]
    assert fb.words(1900, 500, 20, 3) == [[1000 + 40 * r + c for c in range(20)] for r in range(3)]
    assert fb.words(0, 600, 30, 3) == [[1000 + 40 * r + c for c in range(10, 40)] for r in range(3)]
    console.send("0 fb-fill")
    assert fb.words(0, 0, 4, 1) == [[0, 0, 0, 0]] and fb.pixel(1919, 1079) == 0


@pytest.mark.parametrize("depth,stride", [(32, 1920 * 4), (32, 8192), (30, 7936)])
def test_other_depths_and_strides(boot, depth, stride):
    c = boot(fb_depth=depth, fb_stride=stride)
    assert answer(c, "fb-depth .").split()[0] == str(depth)
    rows = screen_rows(c)
    assert "Sovereign Forth kernel on m3, EL2" in rows[:2]
    c.send("page")
    c.send("10 20 5 5 0 255 0 fb-rgb fb-rect")
    fb = c.machine.framebuffer
    assert to_rgb8(fb.pixel(10, 20), depth) == (0, 255, 0)
    # past the visible width the padding is never written
    if stride > 7680:
        assert fb.uc.mem_read(fb.video.base + 7680, 4) == b"\0\0\0\0"


def test_screenshot_option_of_run(kernel, tmp_path, capsys):
    out = tmp_path / "shot.png"
    rc = cli.main(["run", "--elf", str(kernel.elf), "--input", ".( on screen)", "--screenshot", str(out)])
    assert rc == 0
    w, h, rgb = read_png(out.read_bytes())
    assert (w, h) == (1920, 1080)
    assert any(b"\xff\xff\xff" in row for row in rgb[:48])
    assert "screenshot:" in capsys.readouterr().err


def test_framebuffer_words_exist_on_virt_without_a_screen(qemu_console):
    out = answer(qemu_console, "fb-width . fb-height . 1 2 3 4 5 fb-rect page 0 fb-console 7 .")
    assert out.split()[:2] == ["0", "0"] and "7" in out and "error" not in out


def test_png_is_valid_structure():
    data = png_bytes(2, 1, [b"\x00\x00\x00\xff\xff\xff"])
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">I", data[8:12])[0] == 13 and data[12:16] == b"IHDR"
