"""The Block word set (forth/files/63-blocks.fth, docs/storage.md "Blocks")
over /blocks.fb in a FAT32 image made by mkfs.fat: the Forth 2012 suite's
blocktest.fth streamed through the console with zero failures (both
boards); a block
written in the kernel read back by mtools byte for byte, and one written
by the host read in the kernel; LOAD of a definition; an error in a
LOADed block leaves the console working with its input source restored;
no disk and bad block numbers are clear errors."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from test_fat import fsck, mkfs, mtools, tool
from test_files import FAILURE, SUITE, boot, sync  # noqa: F401 (boot: the fixture, both boards)

def blocks_file(img: Path) -> bytes:
    """/blocks.fb as mtype reads it out of the image, bytes as they are."""
    r = subprocess.run([tool("mtype"), "-i", str(img), "::/blocks.fb"], capture_output=True,
                       timeout=30, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("board", ["m3", "qemu"])
def test_forth2012_blocktest(boot, board, tmp_path):
    """tester.fr, utilities.fth and errorreport.fth as tests/test_forth2012.py
    streams them, then blocktest.fth (blocks 20-29): no failure line, the
    suite's Block count 0, and the volume clean afterwards."""
    img = mkfs(tmp_path / "b.img")
    c = boot(board, img)
    failures = []
    for name in ["tester.fr", "utilities.fth", "errorreport.fth", "blocktest.fth"]:
        out = c.send((SUITE / name).read_bytes(), limit=300_000_000)
        failures += [f"{name}: {line}" for line in FAILURE.findall(out)]
    assert not failures, "blocktest.fth failed:\n" + "\n".join(failures)
    assert "Calculated Characters per Line: 64" in out and "End of Block word tests" in out, out[-2000:]
    report = c.send("REPORT-ERRORS")
    assert re.search(r"^Block +0$", report, re.M), report
    assert re.search(r"^Total +0$", report, re.M), report
    sync(c, img)
    fsck(img)
    assert len(blocks_file(img)) == 29 * 1024


@pytest.mark.parametrize("board", ["m3", "qemu"])
def test_a_flushed_block_is_in_the_file_byte_for_byte(boot, board, tmp_path):
    """Block 3 written through BUFFER, UPDATEd and FLUSHed: /blocks.fb is
    blocks 1-3, the first two spaces (the file extended to reach 3), the
    third the bytes written; a block only UPDATEd after the FLUSH is not
    written, and one EMPTY-BUFFERS dropped is not either."""
    img = mkfs(tmp_path / "b.img")
    c = boot(board, img)
    out = c.send(
        ': fill3 ( -- ) 3 buffer 1024 0 do i 7 * 33 mod 65 + over i + c! loop drop ; '
        'fill3 update flush 3 block c@ . '
        '3 block 1+ 64 blank update empty-buffers flush 3 block 1+ c@ . '
        '2 block drop update save-buffers blk @ . scr @ .')
    assert re.search(r"65 72 0 0 +ok", out), out
    sync(c, img)
    fsck(img)
    data = blocks_file(img)
    third = bytes((i * 7) % 33 + 65 for i in range(1024))
    assert data == b" " * 2048 + third


@pytest.mark.parametrize("board", ["m3", "qemu"])
def test_a_block_file_from_the_host_is_read_and_extended(boot, board, tmp_path):
    """/blocks.fb put there by mcopy, 1500 bytes: block 1 its first 1024,
    block 2 the rest and spaces; BLOCK 4 extends the file with spaces to
    4096 bytes and what was there is kept."""
    img = mkfs(tmp_path / "b.img")
    host = bytes((i % 95) + 32 for i in range(1500))
    (tmp_path / "blocks.fb").write_bytes(host)
    mtools("mcopy", img, str(tmp_path / "blocks.fb"), "::/blocks.fb")
    c = boot(board, img)
    out = c.send(': sum ( a u -- n ) 0 -rot bounds ?do i c@ + loop ; '
                 '1 block 1024 sum . 2 block 1024 sum . 4 block 1024 sum . flush')
    expect = [sum(host[:1024]), sum(host[1024:]) + 32 * (2048 - 1500), 32 * 1024]
    assert " ".join(map(str, expect)) + "  ok" in out, out
    sync(c, img)
    fsck(img)
    assert blocks_file(img) == host + b" " * (4096 - 1500)


def test_load_thru_and_list(boot, tmp_path):
    """LOAD interprets a block with a definition and a \\ comment that ends
    at its 64-character line; THRU loads a range; LIST shows 16 numbered
    lines and sets SCR; REFILL in a block goes on to the next.  A block
    past what the volume can hold is "disk full" before anything is written."""
    img = mkfs(tmp_path / "b.img")
    c = boot("m3", img)
    out = c.send(
        ': put ( a u blk line -- ) 64 * swap block + swap move update ; '
        's" : sq ( n -- n*n ) dup * ; \\ 1 2 3 to the end of line 0" 5 0 put '
        's" 7 sq . blk @ ." 5 1 put '
        's" 100 ." 6 0 put  s" 1 2 + . refill 200 ." 7 0 put  s" . 300 ." 8 0 put '
        'save-buffers  5 load  6 7 thru  blk @ . source-id .')
    assert re.search(r"49 5 100 3 -1 300 0 0 +ok", out), out
    out = c.send("5 list scr @ .")
    assert " 0 : sq ( n -- n*n ) dup * ; \\ 1 2 3 to the end of line 0" in out, out
    assert " 1 7 sq . blk @ ." in out and "15 " in out and out.rstrip().endswith("5  ok"), out
    assert "25 " in c.send("5 sq .")
    # a block the volume has not the room to extend the file to: disk full, nothing written
    out = c.send("4000000 block")
    assert "error -284" in out, out
    out = c.send(": size ( -- n ) s\" /blocks.fb\" r/o open-file throw dup file-size throw d>s "
                 "swap close-file throw ; size . 1 block c@ .")
    assert re.search(r" 8192 32 +ok", out), out


def test_an_error_in_a_loaded_block_restores_the_source(boot, tmp_path):
    """An undefined word in a block, directly and two LOADs deep: the
    console reports it and answers, BLK is 0 again; caught with CATCH, the
    rest of the line that called LOAD is still interpreted."""
    img = mkfs(tmp_path / "b.img")
    c = boot("m3", img)
    c.send(': put ( a u blk -- ) buffer dup 1024 blank swap move update ; '
           's" 1 2 no-such-word 3" 9 put  s" 9 load 4" 10 put  flush')
    out = c.send("10 load")
    assert "error -13: undefined word: no-such-word" in out, out
    out = c.send("blk @ . source-id . 3 4 + .")
    assert re.search(r"0 0 7 +ok", out), out
    out = c.send(": t ( -- ) 10 load ; ' t catch . blk @ . 42 .")
    assert re.search(r"-13 0 42 +ok", out), out
    out = c.send("depth . s\" blk @ 9 load\" ' evaluate catch . blk @ . 43 .")
    assert re.search(r"0 -13 0 43 +ok", out), out


@pytest.mark.parametrize("board", ["m3", "qemu"])
def test_no_disk_and_bad_block_numbers_are_clear_errors(boot, board):
    c = boot(board, None)
    out = c.send("1 block")
    assert "error -270: no disk" in out, out
    for line in ["0 block", "0 load", "4194304 buffer", "-1 list"]:
        out = c.send(line)
        assert "error -35: invalid block number" in out, (line, out)
    out = c.send("save-buffers flush empty-buffers update blk @ . 3 4 + .")
    assert re.search(r"0 7 +ok", out), out
