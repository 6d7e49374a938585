"""The FAT32 file system (forth/files/60-fat.fth, forth/files/61-files.fth) under gforth
over an image file (tests/fat_host.fth), against the host's own tools:
mkfs.fat makes the volumes, mtools fills and reads them, fsck.fat -n
judges what the Forth side wrote.  Images read byte for byte (long names,
subdirectories, files over many clusters); files written pass fsck.fat and
read back byte for byte with mtools; deletes, renames and truncations are
what mdir sees; damaged volumes (a bounded fuzz of byte flips in the BPB,
the FAT and the directories) give iors, and gforth neither hangs (a
timeout) nor faults."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "tests" / "fat_host.fth", ROOT / "forth" / "files" / "60-fat.fth",
           ROOT / "forth" / "files" / "61-files.fth", ROOT / "tests" / "fat_util.fth"]
TOOLS = {"gforth": "gforth", "mkfs.fat": "dosfstools", "fsck.fat": "dosfstools",
         "mcopy": "mtools", "mdir": "mtools", "mtype": "mtools", "mmd": "mtools"}
SIZE_KIB = 34500          # about 68,000 clusters of 512 bytes: mtools wants 65,525 for FAT32


def tool(name: str) -> str:
    for d in ("/usr/sbin", "/sbin"):          # dosfstools lives in sbin, often off a user's PATH
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: install {TOOLS[name]} "
                    f"(Debian: apt-get install -y --no-install-recommends dosfstools mtools gforth)")
    return path


@pytest.fixture(scope="module", autouse=True)
def tools_present():
    for name in TOOLS:
        tool(name)


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 30), **kw)


def mkfs(path: Path, *opts: str, size: int = SIZE_KIB) -> Path:
    path.unlink(missing_ok=True)
    r = run("mkfs.fat", "-F", "32", *opts, "-C", str(path), str(size))
    assert r.returncode == 0, r.stderr
    return path


def mtools(cmd: str, img: Path, *args: str) -> str:
    r = run(cmd, "-i", str(img), *args, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    assert r.returncode == 0, (cmd, args, r.stdout, r.stderr)
    return r.stdout


def fsck(img: Path) -> None:
    r = run("fsck.fat", "-n", str(img))
    assert r.returncode == 0, r.stdout + r.stderr


def forth(img: Path | None, code: str, timeout: float = 20) -> str:
    """Run code under gforth with the file system loaded over img; it must
    end normally (bye), with no Forth error and no fault."""
    env = {**os.environ}
    env.pop("FAT_IMAGE", None)
    if img is not None:
        env["FAT_IMAGE"] = str(img)
    argv = [tool("gforth")]
    for s in SOURCES:
        argv.append(str(s))
    argv += ["-e", code, "-e", "bye"]
    r = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=env,
                       timeout=timeout, cwd=ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Backtrace" not in out and "FAIL" not in out, out
    return r.stdout


def fstr(s: str) -> str:
    """A Forth string literal for s."""
    assert '"' not in s
    return f's" {s}"'


def names(mdir_out: str) -> set[str]:
    """The long names (or the 8.3 names) mdir lists."""
    out = set()
    for line in mdir_out.splitlines():
        m = re.match(r"^(\S+)\s+(\S*)\s+(<DIR>|\d[\d ]*)\s+\d{4}-\d\d-\d\d\s+\d+:\d\d\s*(.*)$", line)
        if m:
            base, ext, _, long = m.groups()
            out.add(long.strip() if long.strip() else (base + ("." + ext if ext else "")))
    return out - {".", ".."}


# ---- reading what mtools wrote ---------------------------------------------------

LONG_NAMES = ["A rather long file name.text", "MixedCase.Txt", "lower.txt", "UPPER.TXT",
              "name with  two spaces", "many.dots.in.a.name", "x" * 120 + ".long",
              "exactly13char", "exactly26characters_abcdef", "+plus,comma;semi=eq[1].b"]


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """An image filled by mtools, and the host files it holds."""
    d = tmp_path_factory.mktemp("fat")
    img = mkfs(d / "read.img")
    rnd = random.Random(15)
    files = {}
    mtools("mmd", img, "::/Sub", "::/Sub/Deeper", "::/Sub/Deeper/Deepest")
    for i, name in enumerate(LONG_NAMES):
        files["/" + name] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 3000)))
    files["/Sub/Many clusters.bin"] = rnd.randbytes(700_000)        # 1,368 clusters of 512
    files["/Sub/Deeper/Deepest/leaf.txt"] = b"leaf\n" * 100
    files["/Sub/Deeper/empty"] = b""
    files["/Sub/exact512"] = rnd.randbytes(512)
    for path, data in files.items():
        host = d / "src"
        host.write_bytes(data)
        mtools("mcopy", img, str(host), "::" + path)
    return img, files, d


def test_reads_every_file_mtools_wrote_byte_for_byte(populated):
    img, files, d = populated
    code = []
    for i, path in enumerate(files):
        code.append(f"{fstr(path)} {fstr(str(d / f'out{i}'))} fat>host")
    forth(img, " ".join(code))
    for i, (path, data) in enumerate(files.items()):
        assert (d / f"out{i}").read_bytes() == data, path


def test_names_are_matched_without_case_and_by_their_8_3_alias(populated):
    img, files, d = populated
    out = forth(img, 's" /sub/DEEPER/deepest/LEAF.TXT" r/o open-file .ior file-size .ior d. '
                     's" /SUB/MANYCL~1.BIN" r/o open-file .ior file-size .ior d. '
                     's" //Sub//Deeper/../exact512" r/o open-file .ior file-size .ior d. ')
    assert out.split() == ["ior=0", "ior=0", "500", "ior=0", "ior=0", "700000",
                           "ior=0", "ior=0", "512"], out


def test_ls_lists_long_names_and_sizes(populated):
    img, files, d = populated
    out = forth(img, "ls /")
    for name in LONG_NAMES:
        size = len(files["/" + name])
        assert re.search(rf"^\s*{size}\s\s{re.escape(name)}$", out, re.M), (name, out)
    assert re.search(r"<dir>\s+Sub/$", out, re.M)
    out = forth(img, "ls /Sub")
    assert "<dir>  Deeper/" in out and "700000  Many clusters.bin" in out
    assert "  ./" not in out and "../" not in out


def test_missing_files_and_bad_paths_are_iors(populated):
    img, files, d = populated
    out = forth(img, 's" /nope" r/o open-file .ior drop '
                     's" /Sub/nope/x" r/o open-file .ior drop '
                     's" /UPPER.TXT/x" r/o open-file .ior drop '
                     's" /Sub" r/o open-file .ior drop '
                     's" /" r/o open-file .ior drop '
                     's" /Sub/Deeper" file-status .ior . '
                     's" /bad:name" w/o create-file .ior drop '
                     'pad 10 12345 read-file .ior . ')
    assert out.split() == ["ior=-38", "ior=-38", "ior=-288", "ior=-289", "ior=-289",
                           "ior=0", "16", "ior=-286", "ior=-37", "0"], out


def test_read_line_and_reposition(tmp_path):
    img = mkfs(tmp_path / "l.img")
    (tmp_path / "t").write_bytes(b"one\r\ntwo\n\nthree is longer than ten\nlast")
    mtools("mcopy", img, str(tmp_path / "t"), "::/t.txt")
    out = forth(img, 's" /t.txt" r/o open-file .ior value f '
                     ': rl begin pad 10 f read-line .ior while pad swap ." [" type ." ]" repeat drop ; rl '
                     '5 0 f reposition-file .ior pad 3 f read-file .ior pad swap type '
                     'f file-position .ior d. f close-file .ior')
    assert re.sub(r"ior=0\s*", "", out).strip() == "[one][two][][three is l][onger than][ ten][last]two8", out


# ---- writing what mtools and fsck.fat read ----------------------------------------

def test_files_written_pass_fsck_and_read_back_with_mtools(tmp_path):
    img = mkfs(tmp_path / "w.img")
    mtools("mmd", img, "::/Dir")
    rnd = random.Random(1)
    files = {"/HELLO.TXT": b"hello\n", "/empty.txt": b"", "/Dir/one byte": b"x",
             "/Dir/s511": rnd.randbytes(511), "/Dir/s512": rnd.randbytes(512),
             "/Dir/s513": rnd.randbytes(513), "/Random Data 300k.bin": rnd.randbytes(300_000),
             "/Dir/" + "L" * 200 + ".txt": b"a long name\n",
             "/Dir/MixedCase.Txt": b"mixed\n"}
    code = []
    for i, (path, data) in enumerate(files.items()):
        (tmp_path / f"in{i}").write_bytes(data)
        chunk = [1000, 512, 1, 4096, 70000][i % 5]
        code.append(f"{chunk} to chunk {fstr(str(tmp_path / f'in{i}'))} {fstr(path)} host>fat")
    forth(img, " ".join(code))
    fsck(img)
    for path, data in files.items():
        mtools("mcopy", img, "-o", "::" + path, str(tmp_path / "back"))
        assert (tmp_path / "back").read_bytes() == data, path
    assert mtools("mtype", img, "::/hello.txt") == "hello\n"
    listed = names(mtools("mdir", img, "::/Dir"))
    assert {p.split("/")[-1] for p in files if p.startswith("/Dir/")} <= listed, listed


def test_short_names_get_numeric_tails_and_lfn_checksums_agree(tmp_path):
    img = mkfs(tmp_path / "t.img")
    names_ = [f"Long File Name {i}.txt" for i in range(1, 13)] + ["readme.txt", "README.TXT"]
    code = " ".join(f"{fstr(n)} w/o create-file .ior dup {fstr(n)} rot write-file .ior close-file .ior"
                    for n in names_[:-1])
    # README.TXT is readme.txt: CREATE-FILE empties the same file
    code += ' s" README.TXT" w/o create-file .ior close-file .ior'
    out = forth(img, code + " unmount .ior")
    assert set(out.split()) == {"ior=0"}, out
    fsck(img)
    listing = mtools("mdir", img, "::/")
    shorts = re.findall(r"^(LONG\w*~\d+)\s+TXT", listing, re.M)
    assert len(shorts) == 12 and len(set(shorts)) == 12, listing
    assert "LONGFI~1" in shorts and "LONGFI~9" in shorts and "LONGF~12" in shorts
    for n in names_[:-2]:
        assert mtools("mtype", img, "::/" + n) == n
    assert mtools("mtype", img, "::/readme.txt") == ""
    assert len(re.findall(r"^README\s+TXT", listing, re.M)) == 1, listing


def test_write_line_resize_reposition_past_the_end(tmp_path):
    img = mkfs(tmp_path / "r.img")
    out = forth(img, 's" /grow" r/w create-file .ior value f '
                     's" first" f write-line .ior '
                     '10000 0 f reposition-file .ior s" end" f write-file .ior '
                     'f file-size .ior d. '
                     '20000 0 f resize-file .ior f file-size .ior d. '
                     '3 0 f resize-file .ior f file-size .ior d. '
                     '1100 0 f resize-file .ior f flush-file .ior f close-file .ior '
                     's" /grow" file-status .ior .')
    assert re.sub(r"ior=0\s*", "", out).split() == ["10003", "20000", "3", "32"], out
    fsck(img)
    mtools("mcopy", img, "::/grow", str(tmp_path / "g"))
    assert (tmp_path / "g").read_bytes() == b"fir" + bytes(1097)


def test_delete_rename_truncate_as_mdir_sees_them(tmp_path):
    img = mkfs(tmp_path / "d.img")
    mtools("mmd", img, "::/Dir")
    rnd = random.Random(2)
    big = rnd.randbytes(100_000)
    (tmp_path / "big").write_bytes(big)
    for n in ("keep.txt", "Delete me please.bin", "old name.txt", "to move.txt", "cut.bin"):
        mtools("mcopy", img, str(tmp_path / "big"), "::/" + n)
    free_before = forth(img, "free-count .ior .")
    out = forth(img, 's" /Delete me please.bin" delete-file .ior '
                     's" /old name.txt" s" /A brand new name.txt" rename-file .ior '
                     's" /to move.txt" s" /Dir/moved here.txt" rename-file .ior '
                     's" /cut.bin" r/w open-file .ior value f 1234 0 f resize-file .ior f close-file .ior '
                     's" /keep.txt" s" /Dir" rename-file .ior '
                     's" /keep.txt" s" /Dir/moved here.txt" rename-file .ior '
                     's" /nope" delete-file .ior '
                     's" /Dir" delete-file .ior '
                     's" /keep.txt" r/o open-file .ior value g s" /keep.txt" delete-file .ior g close-file .ior '
                     "free-count .ior .")
    iors = re.findall(r"ior=(-?\d+)", out)
    assert iors == ["0", "0", "0", "0", "0", "0", "-287", "-287", "-38", "-289",
                    "0", "-293", "0", "0"], out
    fsck(img)
    root = names(mtools("mdir", img, "::/"))
    assert root == {"keep.txt", "A brand new name.txt", "cut.bin", "Dir"}, root
    assert names(mtools("mdir", img, "::/Dir")) == {"moved here.txt"}
    mtools("mcopy", img, "::/A brand new name.txt", str(tmp_path / "b1"))
    mtools("mcopy", img, "::/Dir/moved here.txt", str(tmp_path / "b2"))
    mtools("mcopy", img, "::/cut.bin", str(tmp_path / "b3"))
    assert (tmp_path / "b1").read_bytes() == big and (tmp_path / "b2").read_bytes() == big
    assert (tmp_path / "b3").read_bytes() == big[:1234]
    # the delete and the truncation gave back their clusters: 196 + 193
    before, after = int(free_before.split()[-1]), int(out.split()[-1])
    assert after - before == 196 + (196 - 3)


def test_both_fats_kept_identical_and_fsinfo_counts(tmp_path):
    img = mkfs(tmp_path / "f.img")
    forth(img, ': times ( a u fid n -- ) 0 do >r 2dup r@ write-file drop r> loop drop 2drop ; '
               's" /a" w/o create-file .ior value f '
               's" 0123456789" f 70000 times f close-file .ior '
               's" /b" w/o create-file .ior close-file .ior '
               's" /a" delete-file .ior s" /c" w/o create-file .ior value g '
               's" x" g 5000 times g close-file .ior')
    raw = img.read_bytes()
    rsvd = int.from_bytes(raw[14:16], "little")
    fatsz = int.from_bytes(raw[36:40], "little")
    fat1 = raw[rsvd * 512:(rsvd + fatsz) * 512]
    fat2 = raw[(rsvd + fatsz) * 512:(rsvd + 2 * fatsz) * 512]
    assert fat1 == fat2
    nclus = int.from_bytes(raw[32:36], "little") - rsvd - 2 * fatsz
    free = sum(1 for c in range(2, nclus + 2) if int.from_bytes(fat1[4 * c:4 * c + 4], "little") & 0x0FFFFFFF == 0)
    info = raw[512:1024]
    assert int.from_bytes(info[488:492], "little") == free
    fsck(img)


# ---- damaged volumes ---------------------------------------------------------------

def test_mount_refuses_what_is_not_fat32_with_a_reason(tmp_path):
    cases = {}
    img = tmp_path / "zero.img"
    img.write_bytes(bytes(1 << 20))
    cases["zero"] = (img, "-280", "no boot signature")
    img = mkfs(tmp_path / "s4k.img", "-S", "4096", size=300000)
    cases["4k"] = (img, "-281", "bytes per sector is not 512 (the only size supported): 4096")
    img = tmp_path / "f16.img"
    img.unlink(missing_ok=True)
    assert run("mkfs.fat", "-F", "16", "-C", str(img), "20000").returncode == 0
    cases["fat16"] = (img, "-280", "a FAT12/16 BPB")
    img = mkfs(tmp_path / "spc.img")
    b = bytearray(img.read_bytes()); b[13] = 3; img.write_bytes(bytes(b))
    cases["spc"] = (img, "-282", "sectors per cluster is not a power of two: 3")
    img = mkfs(tmp_path / "root.img")
    b = bytearray(img.read_bytes()); b[44:48] = (10 ** 8).to_bytes(4, "little"); img.write_bytes(bytes(b))
    cases["root"] = (img, "-282", "root cluster out of range: 100000000")
    img = mkfs(tmp_path / "big.img")
    b = bytearray(img.read_bytes()); b[32:36] = (10 ** 9).to_bytes(4, "little"); img.write_bytes(bytes(b))
    cases["big"] = (img, "-282", "larger than the disk")
    for what, (img, ior, why) in cases.items():
        out = forth(img, "mount .ior ls /")
        assert out.split()[0] == "ior=" + ior.replace("ior=", "") or f"ior={ior}" in out, (what, out)
        assert f"error {ior}" in out and why in out, (what, out)
    out = forth(None, "mount .ior df")
    assert "ior=-270" in out and "error -270 no disk" in out


def test_chain_damage_is_an_ior_not_a_loop(tmp_path):
    img = mkfs(tmp_path / "c.img")
    (tmp_path / "f").write_bytes(bytes(5000))
    mtools("mcopy", img, str(tmp_path / "f"), "::/F.BIN")
    small = []
    for i in range(31):                     # the root's two clusters full: no 0x00 entry ends it early
        small.append(tmp_path / f"S{i}")
        small[-1].write_bytes(b"s")
    mtools("mcopy", img, *map(str, small), "::/")
    raw = bytearray(img.read_bytes())
    rsvd = int.from_bytes(raw[14:16], "little")
    fat = rsvd * 512
    entry = lambda c: int.from_bytes(raw[fat + 4 * c:fat + 4 * c + 4], "little")
    # the root is cluster 2, f.bin 3..12: make its chain loop back at 5
    raw[fat + 4 * 5:fat + 4 * 6] = (3).to_bytes(4, "little")
    # and the root's second cluster lead back to its first
    second = entry(2)
    assert 12 < second < 0x0FFFFFF8
    raw[fat + 4 * second:fat + 4 * second + 4] = (2).to_bytes(4, "little")
    data = (rsvd + 2 * int.from_bytes(raw[36:40], "little")) * 512
    second_at = data + (second - 2) * 512
    assert all(raw[second_at + i] not in (0, 0xE5) for i in range(0, 512, 32))
    img.write_bytes(bytes(raw))
    out = forth(img, 's" /f.bin" r/o open-file .ior value f xbuf 10000 f read-file .ior . '
                     's" /nope" r/o open-file .ior drop s" /S1" r/o open-file .ior drop', timeout=20)
    assert out.split() == ["ior=0", "ior=-283", "4608", "ior=-283", "ior=0"], out
    out = forth(img, "ls /")
    assert "error -283 damaged cluster chain" in out


FUZZ_SCRIPT = (': try ( xt -- ) catch ?dup if ." THROWN " . then ; '
               's" /Dir/Many clusters.bin" r/o open-file . value f '
               ': rd begin xbuf 4096 f read-file ?dup if ." R" . drop true else 0= then until ; '
               "' rd try f close-file . "
               "' df try ls / ls /Dir ls /Dir/Sub "
               's" /Dir/A long name indeed.txt" r/o open-file . value g g close-file . '
               's" /new file.txt" w/o create-file . value h s" data" h write-file . h close-file . '
               's" /Dir/short.txt" delete-file . '
               's" /UPPER.TXT" s" /Dir/renamed.txt" rename-file . '
               "unmount . ." + '" done"')


def test_damaged_volumes_give_iors_and_never_hang_or_fault(tmp_path):
    """A bounded fuzz: a few dozen images, each with random bytes changed in
    the BPB, FSInfo, the FAT or a directory, then mounted, listed, read,
    written; gforth must finish every script (no fault, no THROW, no hang)."""
    base = mkfs(tmp_path / "base.img")
    mtools("mmd", base, "::/Dir", "::/Dir/Sub")
    rnd = random.Random(1515)
    (tmp_path / "m").write_bytes(rnd.randbytes(40_000))
    mtools("mcopy", base, str(tmp_path / "m"), "::/Dir/Many clusters.bin")
    for n in ("A long name indeed.txt", "short.txt", "UPPER.TXT"):
        (tmp_path / "m").write_bytes(n.encode() * 40)
        mtools("mcopy", base, str(tmp_path / "m"), "::/Dir/" + n if n != "UPPER.TXT" else "::/" + n)
    raw = base.read_bytes()
    rsvd = int.from_bytes(raw[14:16], "little")
    fatsz = int.from_bytes(raw[36:40], "little")
    data = (rsvd + 2 * fatsz) * 512
    fat = rsvd * 512
    used = max(c for c in range(2, 128) if raw[fat + 4 * c:fat + 4 * c + 4] != bytes(4))
    entries = [data + i for i in range(0, 8 * 512, 32) if raw[data + i] not in (0, 0xE5)]
    regions = {"bpb": list(range(0, 90)), "fsinfo": list(range(512, 1024)),
               "fat": list(range(fat, fat + 4 * (used + 1))),
               "dirs": [e + i for e in entries for i in range(32)]}
    regions["fat+dirs"] = regions["fat"] + regions["dirs"]
    img = tmp_path / "fuzz.img"
    seen = set()
    for case in range(40):
        where = list(regions)[case % len(regions)]
        b = bytearray(raw)
        for _ in range(rnd.randrange(1, 9)):
            b[rnd.choice(regions[where])] = rnd.randrange(256)
        img.write_bytes(bytes(b))
        out = forth(img, FUZZ_SCRIPT, timeout=20)
        assert "THROWN" not in out and out.rstrip().endswith("done"), (case, where, out)
        seen |= set(re.findall(r"-2[89]\d", out))
    assert {"-280", "-281", "-282", "-283"} <= seen, seen      # the fuzz reached each kind of damage


# ---- crashes -----------------------------------------------------------------------

CRASH_SCENARIO = (
    ': zap ( n -- ) >r s" /Sub/victim.bin" r/w create-file drop '
    '  r@ 0 do xbuf 700 2 pick write-file drop loop close-file drop r> drop ; '
    ': many ( -- ) 40 0 do s" /Sub/a rather long name " pad place i 0 <# #s #> pad +place '
    '  s" .txt" pad +place pad count w/o create-file drop >r s" content" r@ write-file drop '
    '  r> close-file drop loop ; '
    ': scenario ( -- ) '
    '  s" /big" w/o create-file drop >r 300 0 do xbuf 1000 r@ write-file drop loop r> close-file drop '
    '  many s" /keep.txt" s" /Sub/renamed.txt" rename-file drop '
    '  s" /big" r/w open-file drop >r 12345 0 r@ resize-file drop r> close-file drop '
    '  s" /del.bin" delete-file drop 20 zap s" /Sub/victim.bin" delete-file drop 30 zap '
    '  unmount drop ; ')
# what fsck.fat may find after a crash: each a loss of free space or of unwritten data, mended
# without touching another file (a stale FSInfo count, the second FAT behind the first, lost
# clusters, a chain longer than its file), and RENAME-FILE's window (the new entry is written
# before the old one is deleted: for a moment both share the clusters)
CRASH_BENIGN = [r"Free cluster summary wrong \(\d+ vs\. really \d+\)", r"Auto-correcting\.",
                r"FATs differ but appear to be intact\.", r"Using first FAT\.",
                r"Reclaimed \d+ unused clusters? \(\d+ bytes\)\.",
                r"/\S+", r"File size is \d+ bytes, cluster chain length is \d+ bytes\.",
                r"Truncating (file|second) to \d+ bytes\.",
                r"/KEEP\.TXT\s+and", r"share clusters\."]


def test_a_crash_at_any_write_leaves_what_fsck_mends_without_loss(tmp_path):
    """The write ordering (forth/files/60-fat.fth's header): the disk stops taking
    writes after N sectors, for N sampled over the whole of a scenario that
    writes, grows a directory, renames, truncates and deletes; fsck.fat -n
    then finds nothing worse than CRASH_BENIGN."""
    base = mkfs(tmp_path / "base.img")
    mtools("mmd", base, "::/Sub")
    (tmp_path / "d").write_bytes(random.Random(3).randbytes(50_000))
    mtools("mcopy", base, str(tmp_path / "d"), "::/del.bin")
    (tmp_path / "k").write_bytes(b"keep\n")
    mtools("mcopy", base, str(tmp_path / "k"), "::/keep.txt")
    img = tmp_path / "crash.img"
    shutil.copyfile(base, img)
    total = int(forth(img, CRASH_SCENARIO + "scenario host-writes ?").split()[-1])
    fsck(img)
    assert total > 300
    rnd = random.Random(4)
    cuts = [rnd.randrange(i * total // 30, (i + 1) * total // 30) for i in range(30)]   # one in each 30th
    for n in cuts:
        shutil.copyfile(base, img)
        forth(img, CRASH_SCENARIO + f"{n} to host-write-limit scenario")
        r = run("fsck.fat", "-n", str(img))
        lines = [ln.strip() for ln in r.stdout.splitlines()[1:-1] if ln.strip()]
        lines = [ln for ln in lines if not ln.startswith(("Leaving", "Not ", "Perform"))]
        bad = [ln for ln in lines if not any(re.fullmatch(p, ln) for p in CRASH_BENIGN)]
        assert not bad, (n, r.stdout)
