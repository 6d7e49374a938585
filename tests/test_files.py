"""Files in the kernel (forth/files/, docs/storage.md): images made on the
host by mkfs.fat and filled by mcopy, booted as the disk on both boards
(virtio-blk under QEMU, the RAM disk the payload carries on the emulated
M3), read and written through the Forth 2012 File-Access words and the
shell's words; what the kernel wrote is checked with fsck.fat -n and read
back with mtools byte for byte."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from harness.machine.m3 import M3, M3Config
from harness.qemu import QemuVirt
from kernel_support import Console
from test_fat import fsck, mkfs, mtools, names

BOARDS = ["qemu", "m3"]


@pytest.fixture
def boot(kernel, virt_kernel):
    """boot(board, image path or None) -> Console with that disk.  On the
    M3 the disk is in the payload and what the kernel wrote is copied back
    to the image file by sync(console, path); QEMU writes the file itself."""
    started = []

    def start(board: str, img: Path | None) -> Console:
        if board == "qemu":
            m = QemuVirt(virt_kernel.elf, disk=img, cores=2)
            started.append(m)
        else:
            m = M3(kernel.elf, M3Config(disk=img.read_bytes() if img else None))
        r = m.run(50_000_000)
        assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
        return Console(m, r.output)

    yield start
    for q in started:
        q.close()


def sync(c: Console, img: Path) -> None:
    """The disk as the kernel left it, in the image file."""
    if isinstance(c.machine, M3):
        img.write_bytes(c.machine.disk_image())
    else:
        c.machine.close()               # QEMU's writes are in the file once it is gone


def filled(tmp_path: Path) -> tuple[Path, bytes]:
    """A FAT32 image from mkfs.fat with a directory, a 100,000-byte file with
    a long name, and two small text files, all put there by mcopy."""
    img = mkfs(tmp_path / "k.img")
    big = random.Random(7).randbytes(100_000)
    (tmp_path / "big").write_bytes(big)
    (tmp_path / "hello").write_bytes(b"hello from the host\nsecond line\n")
    mtools("mmd", img, "::/Sub")
    mtools("mcopy", img, str(tmp_path / "big"), "::/Sub/A big file with a long name.bin")
    mtools("mcopy", img, str(tmp_path / "hello"), "::/hello.txt")
    mtools("mcopy", img, str(tmp_path / "hello"), "::/gone.txt")
    return img, big


def numbers(out: str) -> list[str]:
    return re.findall(r"-?\d+", out.replace("ok", ""))


@pytest.mark.parametrize("board", BOARDS)
def test_no_disk_every_word_is_an_ior(boot, board):
    c = boot(board, None)
    out = c.send('ls /\ndf\ns" /x" r/o open-file . .')
    assert out.count("error -270 no disk") == 2 and "-270 0  ok" in out, out
    assert "7 " in c.send("3 4 + .")


@pytest.mark.parametrize("board", BOARDS)
def test_the_kernel_reads_and_writes_a_host_image(boot, board, tmp_path):
    """Read what mcopy wrote (ls, cat, a checksum over READ-FILE), then
    create, write, rename and delete; fsck.fat -n finds nothing and mtools
    reads the kernel's files back."""
    img, big = filled(tmp_path)
    c = boot(board, img)
    out = c.send("ls /\nls /sub\ncat /HELLO.TXT")
    assert "<dir>  Sub/" in out and "100000  A big file with a long name.bin" in out, out
    assert "hello from the host\nsecond line\n" in out, out
    out = c.send(
        ': sum ( a u -- n ) r/o open-file throw >r 0 begin pad 100 r@ read-file throw ?dup while '
        '  pad swap bounds ?do i c@ + loop repeat r> close-file throw ; '
        's" /sub/a big file with a long name.bin" sum .')
    assert f" {sum(big)}  ok" in out, out
    out = c.send(
        's" /Sub/Written in the kernel.txt" w/o create-file . value f '
        ': lines ( n -- ) 0 do s" a line written by the kernel" f write-line drop loop ; 500 lines '
        'f close-file . '
        's" /gone.txt" delete-file . '
        's" /hello.txt" s" /Sub/Hello again.txt" rename-file . '
        'unmount .')
    assert numbers(out)[-5:] == ["0", "0", "0", "0", "0"], out
    sync(c, img)
    fsck(img)
    assert names(mtools("mdir", img, "::/Sub")) == {
        "A big file with a long name.bin", "Written in the kernel.txt", "Hello again.txt"}
    assert names(mtools("mdir", img, "::/")) == {"Sub"}
    assert mtools("mtype", img, "::/Sub/Written in the kernel.txt") == "a line written by the kernel\n" * 500
    assert mtools("mtype", img, "::/Sub/Hello again.txt") == "hello from the host\nsecond line\n"


@pytest.mark.parametrize("board", BOARDS)
def test_a_disk_that_is_not_fat32_is_an_error_and_the_kernel_goes_on(boot, board, tmp_path):
    img = tmp_path / "zero.img"
    img.write_bytes(bytes(1 << 20))
    c = boot(board, img)
    out = c.send('ls /\ns" /a" r/o open-file nip .')
    assert "error -280" in out and "-280  ok" in out, out
    assert "7 " in c.send("3 4 + .")
