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
            m = M3(kernel.elf, M3Config(disk=img.read_bytes() if img else None, memory_model=False))
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


# ---- programs from the disk: INCLUDE and its kin, the suite's filetest.fth --------------

SUITE = Path(__file__).resolve().parent / "forth2012"
FAILURE = re.compile(r"^(INCORRECT RESULT: .*|WRONG NUMBER OF RESULTS: .*|error -\d+: .*)$", re.M)


@pytest.mark.parametrize("board", BOARDS)
def test_forth2012_file_access_suite_included_from_the_disk(boot, board, tmp_path):
    """The suite's files are put on a mkfs.fat image with mcopy and every one
    is INCLUDEd from it, in runtests.fth's order up to filetest.fth (which
    also tests REQUIRED REQUIRE INCLUDED with its two helpers, and
    SAVE-INPUT / RESTORE-INPUT / REFILL from a file): zero failures; then
    the volume is clean (filetest deletes what it made)."""
    files = ["tester.fr", "core.fr", "coreplustest.fth", "utilities.fth", "errorreport.fth",
             "coreexttest.fth", "filetest.fth"]
    img = mkfs(tmp_path / "suite.img")
    mtools("mcopy", img, *(str(SUITE / f) for f in files + ["required-helper1.fth", "required-helper2.fth"]), "::/")
    c = boot(board, img)
    failures = []
    for f in files:
        out = c.send(f"include {f}", limit=200_000_000)
        failures += [f"{f}: {line}" for line in FAILURE.findall(out)]
    assert "End of File-Access word set tests" in out, out[-3000:]
    report = c.send("REPORT-ERRORS")
    assert not failures, "the suite failed:\n" + "\n".join(failures)
    for word_set in ["Core", "Core extension", "File-access"]:
        assert re.search(rf"^{re.escape(word_set)} +0$", report, re.M), report
    sync(c, img)
    fsck(img)
    assert names(mtools("mdir", img, "::/")) == set(files + ["required-helper1.fth", "required-helper2.fth"])


def put(tmp_path: Path, img: Path, **texts: str) -> None:
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        mtools("mcopy", img, str(tmp_path / name), f"::/{name}")


@pytest.mark.parametrize("board", BOARDS)
def test_include_nests_comments_cross_lines_and_an_error_names_the_file(boot, board, tmp_path):
    img = mkfs(tmp_path / "inc.img")
    mtools("mmd", img, "::/lib")
    put(tmp_path, img,
        **{"main.fth": ": sq ( n -- n*n ) dup * ;\n( a comment\n  on two lines )\ninclude /lib/cube.fth\n"
                       "7 cube .\n",
           "cube.fth": ": cube ( n -- n^3 ) dup sq * ;  1 cube-count +!\n",
           "bad.fth": "1 2 +\nno-such-word\n3\n",
           "nested.fth": "include bad.fth\n",
           "once.fth": "1+\n"})
    mtools("mmove", img, "::/cube.fth", "::/lib/cube.fth")
    c = boot(board, img)
    assert "343  ok" in c.send("variable cube-count include main.fth"), c.send(".s")
    assert "9 27 1  ok" in c.send("3 sq . 3 cube . cube-count @ .")
    out = c.send("include nested.fth")
    assert "in bad.fth line 2\nin nested.fth line 1\nerror -13: undefined word: no-such-word" in out, out
    assert "<0>" in c.send(".s")                     # the error cleared the stack, as at the console
    assert "3  ok" in c.send("1 2 + .")              # and the console is the source again
    out = c.send('0 s" once.fth" required  require once.fth  s" ONCE.FTH" required  include once.fth .')
    assert "2  ok" in out, out
    assert "error -38: non-existent file" in c.send("include nothing.fth")
    assert "error -289" in c.send("include lib")
    assert "5  ok" in c.send("2 3 + .")


# ---- damaged volumes --------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_a_damaged_volume_gives_iors_and_the_kernel_goes_on(boot, tmp_path, seed):
    """A filled image with random bytes overwritten in the places the file
    system trusts least (the BPB and FSInfo, the head of both FATs, the root
    and /Sub directories), booted on the emulated M3: every word answers an
    ior or its text (never a fault, a hang or a panic), and the console
    answers after."""
    img, _ = filled(tmp_path)
    raw = bytearray(img.read_bytes())
    rsvd = int.from_bytes(raw[14:16], "little")
    fatsz = int.from_bytes(raw[36:40], "little")
    data = rsvd + 2 * fatsz
    rnd = random.Random(seed)
    regions = [(0, 1024), (rsvd * 512, rsvd * 512 + 2048), ((rsvd + fatsz) * 512, (rsvd + fatsz) * 512 + 2048),
               (data * 512, data * 512 + 8192)]
    for _ in range(48):
        lo, hi = rnd.choice(regions)
        raw[rnd.randrange(lo, hi)] = rnd.randrange(256)
    img.write_bytes(bytes(raw))
    c = boot("m3", img)
    out = c.send(
        'ls /\nls /sub\ncat /hello.txt\ndf\n'
        'create sb 512 allot '
        ': sum ( a u -- n ior ) r/o open-file ?dup if exit then >r 0 begin sb 512 r@ read-file ?dup if '
        'nip r> close-file drop exit then ?dup while sb swap bounds ?do i c@ + loop repeat r> close-file ; '
        's" /sub/a big file with a long name.bin" sum . .\n'
        's" /new.txt" w/o create-file . value f  s" some text" f write-line . f close-file .\n'
        's" /gone.txt" delete-file .  s" /hello.txt" s" /sub/moved.txt" rename-file .\n'
        'unmount .', limit=400_000_000)
    assert "abort" not in out and "panic" not in out and "fault" not in out, out
    assert "7  ok" in c.send("3 4 + ."), out


@pytest.mark.parametrize("board", BOARDS)
def test_directories_made_and_removed_in_the_kernel(boot, board, tmp_path):
    """mkdir / rmdir (MAKE-DIR, DELETE-DIR): nested directories with files,
    a directory that is not empty refused (-294), a name taken (-287);
    fsck.fat -n finds nothing and mtools lists what the kernel left."""
    img = mkfs(tmp_path / "d.img")
    c = boot(board, img)
    out = c.send('mkdir /docs\ns" /docs/Deep Notes" make-dir .\n'
                 's" /docs/Deep Notes/a.txt" w/o create-file throw value f s" hi" f write-line . f close-file .\n'
                 'rmdir /docs\nmkdir /docs\nmkdir /docs/deep notes\n'
                 's" /Keep" make-dir . s" /Keep/sub" make-dir . s" /Keep/sub/gone" make-dir . '
                 's" /Keep/sub/gone" delete-dir . s" /Keep/sub/gone" delete-dir . '
                 's" /Keep/x/y" make-dir .  s" /docs/Deep Notes/a.txt" delete-dir . unmount .')
    assert "error -294 directory not empty" in out and "error -287 file exists" in out, out
    assert "error -13: undefined word: notes" in out, out    # the shell's words take one word of a path
    assert numbers(out)[-8:] == ["0", "0", "0", "0", "-38", "-38", "-288", "0"], out
    sync(c, img)
    fsck(img)
    assert names(mtools("mdir", img, "::/")) == {"docs", "Keep"}
    assert names(mtools("mdir", img, "::/docs")) == {"Deep Notes", "deep"}
    assert names(mtools("mdir", img, "::/Keep/sub")) == set()
    assert mtools("mtype", img, "::/docs/Deep Notes/a.txt") == "hi\n"


def test_the_file_system_compiled_on_first_use_keeps_to_itself(boot, tmp_path):
    """forth/files/ is compiled the first time a file word runs, after the
    user's own words: it must not compile them into itself (a `fill` of
    one's own used to be called by CREATE-FILE, a data abort), and its
    helpers (`dent`, `fail`, `cache-drop` ...) must not shadow the user's
    words or be in reach after it; its public words are."""
    img = mkfs(tmp_path / "u.img")
    c = boot("m3", img)
    c.send(': fill ( -- ) ." mine" ;  : fail ( -- ) ." my fail" ;  : dent ( -- n ) 99 ;')
    out = c.send('s" /A long name.txt" w/o create-file . value f  s" text" f write-line .  f close-file .')
    assert numbers(out)[-3:] == ["0", "0", "0"], out
    assert "my fail99 mine ok" in c.send("fail dent . fill")
    assert "error -13: undefined word: cache-drop" in c.send("' cache-drop")
    assert "error -13" not in c.send("' open-file drop ' include drop ' block drop ' mkdir drop")
    sync(c, img)
    fsck(img)
    assert mtools("mtype", img, "::/A long name.txt") == "text\n"
