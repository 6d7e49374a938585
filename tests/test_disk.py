"""The disk tool: harness/fat.py against the host's own FAT32 tools, which
are the other side of every check here (docs/storage.md).

- Images that mkfs.fat made and mtools filled (long names, case bits,
  subdirectories, a directory of several clusters) read back through
  fat.py byte for byte, on several geometries.
- Images fat.py formatted and wrote pass `fsck.fat -n` and read back
  through mtools (`mcopy -s`, `mtype`) byte for byte, names included.
- `python -m harness disk` refuses bad input with one line and an exit
  status, never a traceback.
- Random sequences of writes, overwrites, mkdirs and deletes keep fat.py's
  view equal to a dict model, and fsck.fat clean.
- Random bytes changed in the boot sector, FSInfo, the FAT and the
  directories give a FatError or a clean read, nothing else.

The tools are dosfstools (mkfs.fat, fsck.fat) and mtools; .ci/run installs
them.  A test that needs one that is missing fails and says so.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from harness import ROOT, cli, fat

MIN_IMAGE = 33 << 20            # the smallest image with 65525 clusters of 512 bytes
WHEN = datetime(2024, 5, 17, 13, 45, 30)
TOOLS_HINT = "apt-get install -y dosfstools mtools (.ci/run installs them)"


def tool(name: str) -> str:
    """The host tool, or a test failure naming the package (never a skip:
    CI installs them, so a missing tool is a broken set-up)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"{name} is not installed: {TOOLS_HINT}", pytrace=False)
    return found


def run(*argv, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """A host tool; mtools told not to insist on a floppy geometry and to
    name files in UTF-8."""
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1", LC_ALL="C.UTF-8", MTOOLSRC=os.devnull)
    r = subprocess.run([tool(argv[0]), *argv[1:]], capture_output=True, env=env, **kw)
    if check and r.returncode:
        raise AssertionError(f"{' '.join(map(str, argv))}: exit {r.returncode}\n"
                             f"{r.stdout.decode(errors='replace')}{r.stderr.decode(errors='replace')}")
    return r


def fsck_clean(image: Path) -> None:
    r = run("fsck.fat", "-n", image, check=False)
    assert r.returncode == 0, f"fsck.fat -n found problems:\n{r.stdout.decode()}{r.stderr.decode()}"


def mkfs(image: Path, *options: str, size: int = 64 << 20) -> Path:
    with open(image, "wb") as f:
        f.truncate(size)
    run("mkfs.fat", "-F", "32", "--invariant", *options, image)
    return image


# A tree of names a FAT driver must get right: 8.3 in upper and in lower
# case (NT case bits), mixed case and spaces (long names), a name that
# needs several long entries, the long-name-only characters + , ; = [ ],
# non-ASCII, sizes around the cluster size, an empty file, nesting, and a
# directory of more entries than one 512-byte cluster holds.
def sample_tree() -> dict[str, bytes]:
    rng = random.Random(15)
    tree = {
        "UPPER.TXT": b"upper case 8.3\n",
        "readme.txt": b"lower case 8.3: DIR_NTRes case bits, no long name\n",
        "ReadMe.md": b"# mixed case: a long name\n",
        "A long file name with spaces.txt": b"spaces\n",
        "x" * 200 + ".bin": bytes(rng.randrange(256) for _ in range(1500)),
        "plus+comma,semi;eq=[brackets].dat": b"long-name-only characters\n",
        "Ünïcødé ñame.txt": "UCS-2 in the long name\n".encode(),
        "empty": b"",
        "one-cluster.bin": bytes(rng.randrange(256) for _ in range(512)),
        "cluster-and-one.bin": bytes(rng.randrange(256) for _ in range(513)),
        "big.bin": bytes(rng.randrange(256) for _ in range(100_000)),
        "sub/inner.txt": b"in a subdirectory\n",
        "sub/Deeper Dir/deepest/leaf.txt": b"three levels down\n",
        "sub/Deeper Dir/Same Name.txt": b"same long name in another directory\n",
        "Same Name.txt": b"same long name in the root\n",
    }
    for k in range(40):
        tree[f"many/File number {k:02d}.txt"] = f"file {k}\n".encode()
    return tree


def write_host_tree(root: Path, tree: dict[str, bytes]) -> None:
    for rel, data in tree.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def fat_tree(v: fat.Volume) -> dict[str, bytes]:
    """Every file of the volume, path -> bytes, paths relative to the root."""
    return {path[1:]: v.read(path) for path, e in v.walk() if not e.is_dir}


def fat_dirs(v: fat.Volume) -> set[str]:
    return {path[1:] for path, e in v.walk() if e.is_dir}


def dirs_of(tree: dict[str, bytes]) -> set[str]:
    return {"/".join(p.split("/")[:k]) for p in tree for k in range(1, p.count("/") + 1)}


def host_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def write_fat_tree(v: fat.Volume, tree: dict[str, bytes]) -> None:
    for rel, data in tree.items():
        if "/" in rel:
            v.mkdir(rel.rsplit("/", 1)[0], parents=True, mtime=WHEN)
        v.write_file(rel, data, mtime=WHEN)


# --- mkfs.fat + mtools -> fat.py ---------------------------------------------

# Sparse images, each just big enough for 65525 clusters of its size.
@pytest.mark.parametrize("options, size", [((), 64 << 20), (("-S", "4096", "-s", "1"), 320 << 20),
                                           (("-s", "64"), 2100 << 20), (("-f", "1"), 64 << 20)],
                         ids=["512B-sectors", "4K-sectors", "32K-clusters", "one-FAT"])
def test_fat_py_reads_what_mkfs_and_mtools_wrote(tmp_path, options, size):
    tree = sample_tree()
    host = tmp_path / "host"
    write_host_tree(host, tree)
    image = mkfs(tmp_path / "m.img", *options, size=size)
    for top in sorted(host.iterdir()):
        run("mcopy", "-s", "-i", image, top, "::")
    with fat.Volume(image) as v:
        assert fat_tree(v) == tree
        assert fat_dirs(v) == dirs_of(tree)
        assert v.problems() == []
        names = {e.name: e for e in v.listdir("/")}
        assert names["readme.txt"].short_name == "README.TXT"       # mtools: the case bits, no long name
        assert names["ReadMe.md"].short_name != "ReadMe.md"
        assert names["sub"].is_dir and names["big.bin"].size == 100_000
        assert v.read("/SUB/deeper dir/DEEPEST/LEAF.TXT") == tree["sub/Deeper Dir/deepest/leaf.txt"]
        assert v.read("/" + names["ReadMe.md"].short_name) == tree["ReadMe.md"]    # by the 8.3 alias too


def test_fat_py_reads_mmd_directories_and_mkfs_labels(tmp_path):
    image = mkfs(tmp_path / "l.img", "-n", "SOVEREIGN")
    run("mmd", "-i", image, "::/Top Level", "::/Top Level/Nested")
    (tmp_path / "f").write_bytes(b"via mmd\n")
    run("mcopy", "-i", image, tmp_path / "f", "::/Top Level/Nested/file.txt")
    with fat.Volume(image) as v:
        assert v.label == "SOVEREIGN"
        assert [e.name for e in v.listdir("/")] == ["Top Level"]        # the label entry is not listed
        assert v.read("top level/nested/FILE.TXT") == b"via mmd\n"
        assert v.problems() == []


# --- fat.py -> fsck.fat + mtools ---------------------------------------------

@pytest.mark.parametrize("made_by, options, size", [
    ("fat.py", (), 64 << 20), ("mkfs.fat", (), 64 << 20),
    ("mkfs.fat", ("-S", "4096", "-s", "1"), 320 << 20), ("mkfs.fat", ("-s", "64"), 2100 << 20)],
    ids=["fat.py", "mkfs.fat", "mkfs.fat-4K-sectors", "mkfs.fat-32K-clusters"])
def test_mtools_reads_what_fat_py_wrote(tmp_path, made_by, options, size):
    tree = sample_tree()
    image = tmp_path / "w.img"
    if made_by == "fat.py":
        fat.format_image(image, size)
    else:
        mkfs(image, *options, size=size)
    with fat.Volume(image, writable=True) as v:
        write_fat_tree(v, tree)
        assert v.problems() == []
    fsck_clean(image)
    out = tmp_path / "out"
    out.mkdir()
    run("mcopy", "-s", "-n", "-i", image, "::", f"{out}/")
    assert host_tree(out) == tree
    assert run("mtype", "-i", image, "::/sub/Deeper Dir/deepest/leaf.txt").stdout == tree[
        "sub/Deeper Dir/deepest/leaf.txt"]
    listing = run("mdir", "-i", image, "::/").stdout.decode()
    assert "A long file name with spaces.txt" in listing and "readme   txt" in listing


def test_fat_py_images_pass_fsck_after_overwrites_and_deletes(tmp_path):
    image = tmp_path / "d.img"
    fat.format_image(image, MIN_IMAGE)
    with fat.Volume(image, writable=True, clock=lambda: WHEN) as v:
        write_fat_tree(v, sample_tree())
        v.write_file("big.bin", b"shrunk")                 # overwrite: fewer clusters
        v.write_file("/BIG.BIN", b"grown" * 30_000)        # by another case: the same file
        for k in range(0, 40, 2):
            v.delete(f"many/File number {k:02d}.txt")
        v.write_file("many/a new file with a long name.txt", b"into a freed run of entries")
        v.delete("sub/Deeper Dir/deepest/leaf.txt")
        v.delete("sub/Deeper Dir/deepest")
        with pytest.raises(fat.FatError, match="not empty"):
            v.delete("sub")
        assert [e.name for e in v.listdir("/") if e.name.lower() == "big.bin"] == ["big.bin"]
        assert v.read("big.bin") == b"grown" * 30_000
        assert v.problems() == []
    fsck_clean(image)
    assert run("mtype", "-i", image, "::/many/a new file with a long name.txt").stdout == \
        b"into a freed run of entries"


def test_both_fats_stay_identical_and_fsinfo_counts_the_free_clusters(tmp_path):
    image = tmp_path / "f.img"
    g = fat.format_image(image, MIN_IMAGE)
    with fat.Volume(image, writable=True) as v:
        v.write_file("a.bin", bytes(10_000))
        v.mkdir("d")
        v.write_file("d/b.bin", bytes(3000))
        v.delete("a.bin")
        free = v.free_clusters
    raw = image.read_bytes()
    bps = g.bytes_per_sector
    fat0 = raw[g.reserved_sectors * bps:(g.reserved_sectors + g.fat_sectors) * bps]
    fat1 = raw[(g.reserved_sectors + g.fat_sectors) * bps:(g.reserved_sectors + 2 * g.fat_sectors) * bps]
    assert fat0 == fat1
    entries = struct.unpack(f"<{g.clusters + 2}I", fat0[:(g.clusters + 2) * 4])
    assert free == sum(1 for e in entries[2:] if e & fat.FAT32_MASK == 0) == g.clusters - 1 - 1 - 6
    free_count, next_free = struct.unpack_from("<II", raw, fat.FSINFO_SECTOR * bps + 488)
    assert free_count == free and 2 <= next_free <= g.clusters + 1
    fsck_clean(image)                               # fsck.fat checks FSInfo's free count too


def test_the_pure_formatter_matches_mkfs_geometry_and_both_are_clean(tmp_path):
    for size in (MIN_IMAGE, 64 << 20):
        ours, theirs = tmp_path / f"ours{size}.img", mkfs(tmp_path / f"theirs{size}.img", size=size)
        fat.format_image(ours, size)
        fsck_clean(ours)
        with fat.Volume(ours) as a, fat.Volume(theirs) as b:
            assert (a.clusters, a.cluster_size, a.bpb.BPB_FATSz32) == (b.clusters, b.cluster_size, b.bpb.BPB_FATSz32)
            assert a.problems() == [] and b.problems() == []
            assert a.free_clusters == b.free_clusters == a.clusters - 1
        assert os.stat(ours).st_blocks * 512 < 2 << 20          # sparse: the zeros are not written


def test_the_pure_formatter_makes_4k_sector_volumes(tmp_path):
    image = tmp_path / "4k.img"
    g = fat.format_image(image, 320 << 20, bytes_per_sector=4096)
    assert (g.bytes_per_sector, g.sectors_per_cluster) == (4096, 1)
    with fat.Volume(image, writable=True) as v:
        write_fat_tree(v, {"a/Long name in 4K sectors.txt": b"4K" * 5000})
        assert v.problems() == []
    fsck_clean(image)
    assert run("mtype", "-i", image, "::/a/Long name in 4K sectors.txt").stdout == b"4K" * 5000


# --- names -------------------------------------------------------------------

def test_lfn_checksum_is_the_one_mtools_wrote():
    # the long entries mtools wrote for "Mixed Case File.txt" carry 0xa8
    assert fat.lfn_checksum(b"MIXEDC~1TXT") == 0xA8


@pytest.mark.parametrize("name, short, ntres, long", [
    ("README.TXT", b"README  TXT", 0, False),
    ("readme.txt", b"README  TXT", 0x18, False),
    ("README.txt", b"README  TXT", 0x10, False),
    ("readme", b"README     ", 0x08, False),
    ("ReadMe.txt", b"README  TXT", 0, True),                    # fits 8.3: no tail
    ("Long File Name.txt", b"LONGFI~1TXT", 0, True),
    (".bashrc", b"BASHRC~1   ", 0, True),
    ("a.b.c", b"A~1     C  ", 0, True),
    ("données.txt", b"DONN_E~1TXT", 0, True),                   # not ASCII: '_', lossy
    ("a+b.txt", b"A_B~1   TXT", 0, True),
    ("archive.tar.gz", b"ARCHIV~1GZ ", 0, True),
])
def test_short_names_follow_the_basis_and_numeric_tail_rules(name, short, ntres, long):
    assert fat.short_name_for(name, set()) == (short, ntres, long)


def test_numeric_tails_count_up_past_taken_names():
    taken = {b"LONGFI~1TXT", b"LONGFI~2TXT"}
    assert fat.short_name_for("Long File Name.txt", taken)[0] == b"LONGFI~3TXT"
    taken = {b"LONGFI~%dTXT" % n for n in range(1, 10)}
    assert fat.short_name_for("Long File Name.txt", taken)[0] == b"LONGF~10TXT"
    assert fat.short_name_for("readme.txt", {b"README  TXT"}) == (b"README~1TXT", 0, True)


@pytest.mark.parametrize("name", ["", ".", "..", "a:b", "q?", 'say"', "star*", "pipe|", "lt<", "back\\slash",
                                  "ctl\x01", "x" * 256, "trailing.", "trailing ", " leading", "emoji\U0001F600"])
def test_names_fat_cannot_hold_are_refused(name):
    with pytest.raises(fat.FatError):
        fat.check_long_name(name)


def test_a_volume_in_memory_reads_and_writes_the_same():
    buf = bytearray()
    fat.format_image(buf, MIN_IMAGE)
    with fat.Volume(buf, writable=True) as v:
        v.write_file("/x.txt", b"in memory")
    with fat.Volume(bytes(buf)) as v:
        assert v.read("X.TXT") == b"in memory"
        with pytest.raises(fat.FatError, match="reading only"):
            v.write_file("y", b"")


# --- strict: bad volumes give FatError -------------------------------------

@pytest.fixture(scope="module")
def base_image() -> bytes:
    buf = bytearray()
    fat.format_image(buf, MIN_IMAGE)
    with fat.Volume(buf, writable=True, clock=lambda: WHEN) as v:
        write_fat_tree(v, {"file.txt": b"f" * 1200, "A long name.txt": b"long",
                           "dir/Sub file with a long name.bin": bytes(range(256)) * 3, "dir/x": b"x"})
    return bytes(buf)


def _patched(base: bytes, offset: int, fmt: str, value) -> bytearray:
    buf = bytearray(base)
    struct.pack_into(fmt, buf, offset, value)
    return buf


@pytest.mark.parametrize("offset, fmt, value, says", [
    (510, "<H", 0, "55 AA"),
    (0, "<B", 0x00, "BS_jmpBoot"),
    (11, "<H", 1000, "BPB_BytsPerSec"),
    (11, "<H", 8192, "BPB_BytsPerSec"),
    (13, "<B", 3, "BPB_SecPerClus"),
    (13, "<B", 128, "32 KiB"),
    (14, "<H", 0, "BPB_RsvdSecCnt"),
    (16, "<B", 0, "BPB_NumFATs"),
    (16, "<B", 7, "BPB_NumFATs"),
    (17, "<H", 512, "BPB_RootEntCnt"),
    (19, "<H", 1000, "BPB_TotSec16"),
    (21, "<B", 0x12, "BPB_Media"),
    (22, "<H", 9, "BPB_FATSz16"),
    (32, "<I", 0, "BPB_TotSec32"),
    (32, "<I", 0xFFFFFF, "image holds"),
    (36, "<I", 0, "BPB_FATSz32"),
    (36, "<I", 10, "fewer than"),
    (36, "<I", 40000, "no room for data"),
    (40, "<H", 0x0083, "BPB_ExtFlags"),
    (42, "<H", 0x0100, "BPB_FSVer"),
    (44, "<I", 1, "BPB_RootClus"),
    (44, "<I", 0x0FFFFFF0, "BPB_RootClus"),
    (48, "<H", 0, "BPB_FSInfo"),
    (48, "<H", 32, "BPB_FSInfo"),
    (50, "<H", 1, "BPB_BkBootSec"),
    (512, "<I", 0x12345678, "FSI_LeadSig"),
    (512 + 484, "<I", 0, "FSI_StrucSig"),
    (512 + 508, "<I", 0, "FSI_TrailSig"),
])
def test_a_broken_boot_sector_or_fsinfo_is_refused_by_name(base_image, offset, fmt, value, says):
    with pytest.raises(fat.FatError, match=says.replace("(", r"\(")):
        fat.Volume(_patched(base_image, offset, fmt, value))


def _fat_entry_offset(v: fat.Volume, cluster: int) -> int:
    return v._fat_offset + 4 * cluster


@pytest.mark.parametrize("link, says", [(None, "loops"), (0, "free cluster"), (fat.FAT_BAD, "bad"),
                                        (0x0FFFFFF0, "outside"), (1, "outside")])
def test_a_broken_chain_is_refused(base_image, link, says):
    with fat.Volume(base_image) as v:
        first = v.stat("file.txt").first_cluster
        offset = _fat_entry_offset(v, first)
    buf = _patched(base_image, offset, "<I", first if link is None else link)
    with fat.Volume(buf) as v:
        with pytest.raises(fat.FatError, match=says):
            v.read("file.txt")
        assert any(says in p for p in v.problems())


def test_check_finds_what_fsck_finds(base_image):
    with fat.Volume(base_image) as v:
        offset = _fat_entry_offset(v, v.max_cluster)        # a cluster no file owns
        fsinfo = v._fsinfo_offset
        fat1 = v._fat_offset + v._fat_bytes
        first = v.stat("file.txt").first_cluster
    with fat.Volume(_patched(base_image, offset, "<I", fat.FAT_EOC)) as v:
        assert any("lost clusters" in p for p in v.problems())
    with fat.Volume(_patched(base_image, fsinfo + 488, "<I", 5)) as v:
        assert any("FSI_Free_Count" in p for p in v.problems())
    with fat.Volume(_patched(base_image, fat1 + 4 * 40, "<I", 7)) as v:
        assert any("FAT 1 differs" in p for p in v.problems())
        with pytest.raises(fat.FatError, match="problem"):
            v.check()
    with fat.Volume(base_image) as v:              # dir/x made to start in file.txt's last cluster
        root = v._root()
        sub = v._subdir(root, root.find("dir"))
        x = sub.find("x")
        slot = v._cluster_offset(sub.chain[0]) + x.slot * fat.ENTRY
        last = v._chain(first, "file.txt")[-1]
    buf = _patched(base_image, slot + 20, "<H", last >> 16)
    struct.pack_into("<H", buf, slot + 26, last & 0xFFFF)
    with fat.Volume(buf) as v:
        found = v.problems()
        assert any("cross-linked" in p for p in found) and any("lost clusters" in p for p in found)


def test_an_orphaned_long_name_is_refused(base_image):
    with fat.Volume(base_image) as v:
        root = v._root()
        rec = next(r for r in root.records if r.entry.name == "A long name.txt")
        offset = v._cluster_offset(root.chain[0]) + rec.first_slot * fat.ENTRY + 13     # LDIR_Chksum
    with fat.Volume(_patched(base_image, offset, "<B", base_image[offset] ^ 1)) as v:
        with pytest.raises(fat.FatError, match="checksum"):
            v.listdir("/")


def test_a_directory_reached_twice_is_refused(base_image):
    with fat.Volume(base_image) as v:
        root = v._root()
        rec = root.find("dir")
        slot = v._cluster_offset(root.chain[0]) + root.end * fat.ENTRY      # the first free slot
    buf = bytearray(base_image)
    buf[slot:slot + fat.ENTRY] = b"DIR2       " + rec.raw[11:]             # a second name for the same cluster
    with fat.Volume(buf) as v:
        assert v.listdir("dir2") == v.listdir("dir")
        with pytest.raises(fat.FatError, match="reached twice"):
            list(v.walk())
        assert any("another directory's" in p or "cross-linked" in p for p in v.problems())


def test_disk_full_changes_nothing(tmp_path):
    image = tmp_path / "full.img"
    fat.format_image(image, MIN_IMAGE)
    with fat.Volume(image, writable=True) as v:
        v.write_file("keep.bin", b"k" * 1000)
        room = v.free_bytes
        v.write_file("fill.bin", bytes(room - 4096))
        before = image.read_bytes()
        with pytest.raises(fat.FatError, match="disk full"):
            v.write_file("too much.bin", bytes(8192))
        with pytest.raises(fat.FatError, match="disk full"):
            v.write_file("keep.bin", bytes(room))
    assert image.read_bytes() == before
    fsck_clean(image)


# --- the command line --------------------------------------------------------

def _cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = cli.main(["disk", *map(str, argv)])
    except SystemExit as e:          # argparse's usage errors, and the commands' own refusals
        code = e.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_disk_new_put_get_ls(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tool("mkfs.fat")
    code, out, _ = _cli(capsys, "new", "a.img")
    assert code == 0 and "(mkfs.fat)" in out and "67108864 bytes" in out
    code, out, _ = _cli(capsys, "new", "b.img", "--pure", "--size", "40M")
    assert code == 0 and "(harness/fat.py)" in out
    (tmp_path / "hello.txt").write_bytes(b"hello\n")
    assert _cli(capsys, "put", "a.img", "hello.txt")[0] == 0
    assert _cli(capsys, "put", "a.img", "hello.txt", "/docs/A Long Name.txt", "--parents")[0] == 0
    assert _cli(capsys, "put", "a.img", "hello.txt", "/docs/")[0] == 0
    code, out, _ = _cli(capsys, "ls", "a.img")
    assert code == 0 and out.split("\n")[0].split()[-1] == "hello.txt" and "<dir>" in out and "docs/" in out
    code, out, _ = _cli(capsys, "ls", "a.img", "docs")
    assert "A Long Name.txt  (ALONGN~1.TXT)" in out and "hello.txt" in out
    code, out, _ = _cli(capsys, "get", "a.img", "/DOCS/a long name.txt", "-")
    assert code == 0 and out == "hello\n"
    assert _cli(capsys, "get", "a.img", "docs/hello.txt", "copy.txt")[0] == 0
    assert (tmp_path / "copy.txt").read_bytes() == b"hello\n"
    fsck_clean(tmp_path / "a.img")
    assert run("mtype", "-i", tmp_path / "a.img", "::/docs/A Long Name.txt").stdout == b"hello\n"


@pytest.fixture
def disk_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fat.format_image(tmp_path / "d.img", MIN_IMAGE)
    (tmp_path / "h.txt").write_bytes(b"host file\n")
    (tmp_path / "junk.img").write_bytes(bytes(range(256)) * 1024)
    with open(tmp_path / "fat16.img", "wb") as f:
        f.truncate(64 << 20)
    return tmp_path


@pytest.mark.parametrize("argv, code, says", [
    (["ls", "missing.img"], 1, "cannot open image missing.img: No such file"),
    (["ls", "junk.img"], 1, "not a FAT32 volume"),
    (["ls", "h.txt"], 1, "too small to hold a boot sector"),
    (["ls", "d.img", "/nowhere"], 1, "/nowhere: no such file or directory"),
    (["get", "d.img", "/nowhere", "-"], 1, "no such file or directory"),
    (["put", "d.img", "missing.txt"], 1, "cannot read missing.txt"),
    (["put", "d.img", "h.txt", "/no/such/dir/h.txt"], 1, "/no: no such file or directory"),
    (["put", "d.img", "h.txt", "/bad:name"], 1, "':' is not allowed"),
    (["put", "d.img", "-"], 1, "stdin has no name"),
    (["new", "d.img"], 1, "d.img exists (--force replaces it)"),
    (["new", "small.img", "--size", "16M"], 1, "too small for FAT32"),
    (["new", "odd.img", "--size", "33554433"], 1, "multiple of the 512-byte sector"),
    (["new", "x.img", "--size", "lots"], 2, "not a size"),
    (["new", "/no/such/dir/x.img"], 1, "no directory"),
    (["get"], 2, "the following arguments are required"),
])
def test_disk_errors_are_one_line_and_an_exit_status(disk_dir, capsys, argv, code, says):
    got, out, err = _cli(capsys, *argv)
    assert got == code, (argv, got, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert says in err, err
    assert len(lines) == 1 or code == 2, err        # argparse prints its usage line before the error
    if code == 1:
        assert lines[0].startswith("error: ")


def test_disk_errors_on_fat16_and_a_full_disk(disk_dir, capsys):
    run("mkfs.fat", "-F", "16", disk_dir / "fat16.img")
    got, _, err = _cli(capsys, "ls", "fat16.img")
    assert got == 1 and "not FAT32: BPB_FATSz16" in err
    with open(disk_dir / "huge.bin", "wb") as f:
        f.truncate(40 << 20)
    got, _, err = _cli(capsys, "put", "d.img", "huge.bin")
    assert got == 1 and err.startswith("error: disk full") and err.count("\n") == 1
    got, _, err = _cli(capsys, "get", "d.img", "/", "-")
    assert got == 1 and "is a directory" in err


def test_disk_new_without_mkfs_formats_in_python(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_tool", lambda name: None)
    code, out, _ = _cli(capsys, "new", tmp_path / "p.img", "--size", "33M")
    assert code == 0 and "(harness/fat.py (no mkfs.fat on this host))" in out
    fsck_clean(tmp_path / "p.img")


def test_a_missing_tool_fails_the_test_and_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(pytest.fail.Exception, match="mkfs.fat is not installed: apt-get install -y dosfstools"):
        tool("mkfs.fat")


def test_the_real_entry_point_prints_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "harness", "disk", "get", str(tmp_path / "none.img"), "x"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and r.stderr.startswith("error: cannot open image") and "Traceback" not in r.stderr


# --- property: random operations against a model ------------------------------

DIRS = ["", "sub", "sub/Deeper Dir", "Other"]
NAMES = ["a.txt", "A.TXT", "readme", "ReadMe.md", "Long file name number one.dat", "x" * 40,
         "données.txt", "sub", "Other", "[odd]+;=,name", "Deeper Dir"]
CASES = [str, str, str.upper, str.lower, str.swapcase]          # lookups ignore case


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


@settings(max_examples=int(os.environ.get("FAT_PROPERTY_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_random_operations_keep_fat_py_equal_to_a_model_and_fsck_clean(tmp_path, data):
    """Writes (new and over), mkdirs and deletes, half of them on what
    exists, in any case; the model says which must succeed and which must
    be refused with a FatError (a missing parent, a file in the way, a
    directory not empty), and what the volume then holds."""
    image = tmp_path / "prop.img"
    fat.format_image(image, MIN_IMAGE)
    files: dict[str, tuple[str, bytes]] = {}          # folded path -> (path as first written, bytes)
    dirs: dict[str, str] = {"": ""}                   # folded path -> path as made
    with fat.Volume(image, writable=True, clock=lambda: WHEN) as v:
        for _ in range(data.draw(st.integers(0, 14), label="steps")):
            op = data.draw(st.sampled_from(["write", "write", "mkdir", "delete"]), label="op")
            case = data.draw(st.sampled_from(CASES), label="case")
            existing = sorted([f for f, _ in files.values()] + [d for d in dirs.values() if d])
            if op != "mkdir" and existing and data.draw(st.booleans(), label="on what exists"):
                path = case(data.draw(st.sampled_from(existing), label="path"))
                parent, _, name = path.rpartition("/")
            else:
                parent = case(data.draw(st.sampled_from(sorted(set(dirs.values()) | set(DIRS))), label="parent"))
                name = data.draw(st.sampled_from(NAMES), label="name")
                path = _join(parent, name)
            k, pk = fat.fold(path), fat.fold(parent)
            body = data.draw(st.binary(max_size=2000), label="data") if op == "write" else b""
            if op == "write":
                ok = pk in dirs and k not in dirs
            elif op == "mkdir":
                ok = pk in dirs and k not in dirs and k not in files
            else:
                inside = [fat.fold(p) for p in existing]
                ok = k in files or (k in dirs and not any(p.startswith(k + "/") for p in inside))
            event(f"{op} {'done' if ok else 'refused'}")
            if not ok:
                with pytest.raises(fat.FatError):
                    if op == "write":
                        v.write_file(path, body)
                    elif op == "mkdir":
                        v.mkdir(path)
                    else:
                        v.delete(path)
                continue
            if op == "write":
                v.write_file(path, body)
                files[k] = (files[k][0] if k in files else _join(dirs[pk], name), body)
            elif op == "mkdir":
                v.mkdir(path)
                dirs[k] = _join(dirs[pk], name)
            else:
                v.delete(path)
                files.pop(k, None) or dirs.pop(k)
        assert fat_tree(v) == dict(files.values())
        assert fat_dirs(v) == set(dirs.values()) - {""}
        assert v.problems() == []
    fsck_clean(image)


# --- fuzz: damaged volumes give FatError or a clean read ----------------------

class Overlay:
    """An image file that is `base` with what was written over it, kept in
    4 KiB pages: a fresh 33 MiB copy for every example would cost more
    than the example (and fat.py's file-object path is used)."""
    PAGE = 4096

    def __init__(self, base: bytes):
        self.base, self.pages, self.pos = base, {}, 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.pos = offset if whence == os.SEEK_SET else len(self.base) + offset
        return self.pos

    def read(self, n: int) -> bytes:
        out = bytearray(self.base[self.pos:self.pos + n])
        for page in range(self.pos // self.PAGE, (self.pos + len(out) - 1) // self.PAGE + 1):
            if page in self.pages:
                lo = max(self.pos, page * self.PAGE)
                hi = min(self.pos + len(out), (page + 1) * self.PAGE)
                out[lo - self.pos:hi - self.pos] = self.pages[page][lo - page * self.PAGE:hi - page * self.PAGE]
        self.pos += len(out)
        return bytes(out)

    def write(self, data: bytes) -> int:
        for k, b in enumerate(data):
            page, at = divmod(self.pos + k, self.PAGE)
            if page not in self.pages:
                self.pages[page] = bytearray(self.base[page * self.PAGE:(page + 1) * self.PAGE])
            self.pages[page][at] = b
        self.pos += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def test_the_overlay_reads_what_was_written_over_its_base():
    base = bytes(range(256)) * 64
    o = Overlay(base)
    o.seek(4090)
    o.write(b"\xaa" * 12)
    o.seek(4000)
    assert o.read(200) == base[4000:4090] + b"\xaa" * 12 + base[4102:4200]
    assert o.seek(0, os.SEEK_END) == len(base)


@pytest.fixture(scope="module")
def fuzz_regions(base_image):
    with fat.Volume(base_image) as v:
        root = v._root()
        sub = v._subdir(root, root.find("dir"))
        return base_image, [
            (0, 90), (510, 2),                                    # the BPB and the signature
            (v._fsinfo_offset, 512),
            (v._fat_offset, 64), (v._fat_offset + v._fat_bytes, 64),   # FAT entries in use, both copies
            (v._cluster_offset(root.chain[0]), 32 * 8),           # the root's entries
            (v._cluster_offset(sub.chain[0]), 32 * 6),            # a subdirectory's
        ]


@settings(max_examples=int(os.environ.get("FAT_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_volumes_give_fat_error_or_a_clean_read(fuzz_regions, data):
    base, regions = fuzz_regions
    buf = Overlay(base)
    for _ in range(data.draw(st.integers(1, 6), label="changes")):
        start, length = data.draw(st.sampled_from(regions), label="region")
        buf.seek(start + data.draw(st.integers(0, length - 1), label="offset"))
        buf.write(bytes([data.draw(st.integers(0, 255), label="byte")]))
    try:
        with fat.Volume(buf, writable=True) as v:
            for path, e in list(v.walk()):
                if not e.is_dir:
                    v.read(path)
            v.problems()
            v.write_file("dir/new file with a long name.txt", b"n" * 700)
            v.delete("file.txt")
        event("read and written")
    except fat.FatError:
        event("FatError")
