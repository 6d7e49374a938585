"""Power cuts under QEMU (docs/storage.md, "Crash safety"): the kernel runs a
write-heavy workload on a FAT32 image (files created, written in chunks of
varied sizes, grown and cut with RESIZE-FILE, closed and reopened, renamed,
deleted; every step ending in FLUSH-FILE, CLOSE-FILE or a call that writes
the directory, then a marker line on the console), and QEMU is SIGKILLed
(QemuVirt.kill) at the Nth sector write, N drawn from a seeded RNG over the
whole workload.  The kill point is guest progress, not the host's clock: a
breakpoint on blk-write (kernel/forth/blk.S, through which the file system
writes, one sector at a time, each finished before the call returns)
counts the writes, so the image holds exactly the first N-1 of them, and the console output at the stop holds exactly the
markers printed before it.

Then, on the host: fsck.fat -n may find only what the write ordering of
forth/files/60-fat.fth promises (lost clusters, a stale free count, a
chain longer than its file), and every file must read back with mtools as
it was at its last flush or at a later step of the workload no later than
the step in progress (a file that was flushed is never damaged; a later
unflushed write may or may not be there).

CRASH_POINTS kill points (8 by default; CRASH_POINTS=100 for the long run,
the project's convention for long runs, as THREAD_EXAMPLES and
FAT_PROPERTY_EXAMPLES), CRASH_SEED picks them."""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from harness.qemu import QemuVirt
from test_fat import mkfs, mtools, run

POINTS = int(os.environ.get("CRASH_POINTS", "8"))
SEED = int(os.environ.get("CRASH_SEED", "2026"))
# blk-write's code (kernel/forth/blk.S): the file system's every write, one sector each
# (60-fat.fth slot-put, clus-zero), synchronous (kernel/blk.S blk_io waits for the device)
WRITE_PC = "w_blkwrite"

# Forth helpers: a chunk generator Python repeats (an LCG, 64-bit cells), the
# open files' ids by slot and a hash of each one's content (kept up as it is
# written, read back through the id after a cut and a reopen), and `mark`:
# flush, then print the file's size (FILE-SIZE) and hash
HELPERS = r"""
create cbuf 9000 allot  variable rng  create rbuf 512 allot
: cfill ( seed u -- ) swap rng ! 0 ?do rng @ 1103515245 * 12345 + dup rng ! 16 rshift cbuf i + c! loop ;
create fids 16 cells allot  : fid ( k -- a ) cells fids + ;
create hs 16 cells allot  : h ( k -- a ) cells hs + ;
: toend ( k -- ) fid @ >r r@ file-size throw r> reposition-file throw ;
: hadd ( u k -- ) h >r r@ @ swap cbuf swap bounds ?do 31 * i c@ + $ffffffff and loop r> ! ;
: hzero ( u k -- ) h >r r@ @ swap 0 ?do 31 * $ffffffff and loop r> ! ;
: rehash ( k -- ) dup fid @ >r 0 0 r@ reposition-file throw 0 begin rbuf 512 r@ read-file throw ?dup while
  rbuf swap bounds ?do 31 * i c@ + $ffffffff and loop repeat r> drop over h ! toend ;
: mark ( a u k -- ) dup fid @ flush-file throw ." flushed " -rot type space
  dup fid @ file-size throw d. h @ . cr ;
: gone ( a u -- ) ." deleted " type space cr ;
"""
RUN = "cr workload"      # the line that runs it: the markers start on a line of their own
MARK = re.compile(r"^(flushed|deleted) (.+?) (?:(\d+) (\d+) )?$", re.M)


def chunk(seed: int, n: int) -> bytes:
    """What `seed n cfill` leaves in cbuf."""
    out, x = bytearray(n), seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & (2**64 - 1)
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def fhash(data: bytes) -> int:
    h = 0
    for b in data:
        h = (h * 31 + b) & 0xFFFFFFFF
    return h


@dataclass
class Step:
    code: str                       # Forth, one line
    marker: bool                    # ends with a marker line
    view: dict                      # path -> content as the kernel sees it after the step
    durable: set = field(default_factory=set)   # paths whose entry is on the disk after it
    kind: str = ""


def workload(seed: int, steps: int = 160) -> list[Step]:
    """A seeded sequence of steps over up to 6 files (long names, in the root
    and in /Sub): chunks of 1 to 6000 bytes, flushes, RESIZE-FILE both ways,
    close and reopen, rename, delete, re-create."""
    rnd = random.Random(seed)
    paths = [f"/Crash file {i}.dat" if i % 2 else f"/Sub/Crash file number {i}.bin" for i in range(6)]
    alt = [p.replace("Crash", "Renamed") for p in paths]
    where: dict[int, str] = {}              # slot -> its path now (open files)
    view: dict[str, bytes] = {}
    out: list[Step] = []
    pending: set[int] = set()               # slots written since their flush

    def add(code, marker, kind, durable=()):
        out.append(Step(code, marker, dict(view), set(durable), kind))

    def mark(k):
        p = where[k]
        pending.discard(k)
        add(f's" {p}" {k} mark', True, "flush", [p])

    while len(out) < steps:
        free = [k for k in range(6) if k not in where]
        r = rnd.random()
        if free and (len(where) < 2 or r < 0.15):
            k = rnd.choice(free)
            p = paths[k] if paths[k] not in view else alt[k]
            if p in view:
                continue
            where[k] = p
            view[p] = b""
            add(f's" {p}" r/w create-file throw {k} fid ! 0 {k} h !', False, "create", [p])
            mark(k)
        elif r < 0.5:
            k = rnd.choice(list(where))
            for _ in range(rnd.randint(1, 4)):
                n = rnd.choice([1, 17, 100, 511, 512, 513, 1000, 1500, 3000, 6000])
                s = rnd.randrange(1, 2**31)
                view[where[k]] += chunk(s, n)
                add(f"{s} {n} cfill cbuf {n} {k} fid @ write-file throw {n} {k} hadd", False, "write")
            pending.add(k)
            if rnd.random() < 0.6:          # else flushed later: other files' steps and markers between
                mark(k)
        elif pending and r < 0.56:
            mark(rnd.choice(sorted(pending)))
        elif r < 0.7:
            k = rnd.choice(list(where))
            p = where[k]
            n = rnd.randrange(0, len(view[p]) + 1) if rnd.random() < 0.7 else len(view[p]) + rnd.randrange(1, 3000)
            old = len(view[p])
            view[p] = view[p][:n] + bytes(max(0, n - old))
            # a cut writes the entry at once (fcb-cut), a growth at the flush
            add(f"{n} 0 {k} fid @ resize-file throw {k} toend " + (f"{k} rehash" if n < old else f"{n - old} {k} hzero"),
                False, "resize", [p] if n < old else [])
            mark(k)
        elif r < 0.8:
            k = rnd.choice(list(where))
            p = where[k]
            add(f'{k} fid @ close-file throw s" {p}" r/w open-file throw {k} fid ! {k} rehash', False, "reopen",
                [p])
            mark(k)
        elif r < 0.9:
            k = rnd.choice(list(where))
            p = where[k]
            q = alt[k] if p == paths[k] else paths[k]
            if q in view:
                continue
            del where[k]
            pending.discard(k)
            add(f"{k} fid @ close-file throw", False, "close", [p])
            view[q] = view.pop(p)
            where[k] = q
            add(f's" {p}" s" {q}" rename-file throw s" {q}" r/w open-file throw {k} fid ! {k} toend',
                False, "rename", [p, q])
            mark(k)
        else:
            k = rnd.choice(list(where))
            p = where.pop(k)
            pending.discard(k)
            add(f"{k} fid @ close-file throw", False, "close", [p])
            del view[p]
            add(f's" {p}" delete-file throw s" {p}" gone', True, "delete", [p])
    for k in sorted(where):                 # the end: every file flushed and closed, the volume unmounted
        mark(k)
        add(f"{k} fid @ close-file throw", False, "close", [where[k]])
    add("unmount throw", False, "unmount")
    return out


def forth_text(steps: list[Step]) -> str:
    """The workload as words of a few steps each and `workload` calling them."""
    lines, names = [], []
    for i in range(0, len(steps), 4):
        names.append(f"wl{i}")
        lines.append(f": wl{i} " + " ".join(s.code for s in steps[i:i + 4]) + " ;")
    return "\n".join(lines) + "\n: workload " + " ".join(names) + " ;\n"


def base_image(d: Path) -> Path:
    img = mkfs(d / "base.img")
    mtools("mmd", img, "::/Sub")
    (d / "keep").write_bytes(chunk(99, 20_000))
    mtools("mcopy", img, str(d / "keep"), "::/Sub/Kept from the host.bin")
    return img


def boot(virt_kernel, img: Path, steps: list[Step]) -> QemuVirt:
    """QEMU at its prompt with the helpers and the workload defined (not run)."""
    q = QemuVirt(virt_kernel.elf, disk=img, cores=2)
    r = q.run(50_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
    r = q.run_script(HELPERS + forth_text(steps), 200_000_000)
    assert r.status == "idle" and r.errors == 0, r.output[-3000:]
    return q


# ---- what fsck.fat -n may say ---------------------------------------------------------------

BENIGN = {   # what the ordering promises a crash can leave: free space lost, unwritten data lost
    "free count": [r"Free cluster summary wrong \(\d+ vs\. really \d+\)", r"Auto-correcting\."],
    "lost clusters": [r"Reclaimed \d+ unused clusters? \(\d+ bytes\)\.",
                      r"Reclaimed \d+ unused clusters? \(\d+ bytes\) in \d+ chains?\."],
    # the two FATs are written one after the other: between them the second is behind
    "FAT copies differ": [r"FATs differ but appear to be intact\.", r"Using first FAT\."],
    "chain longer than file": [r"File size is \d+ bytes, cluster chain length is >? ?\d+ bytes\.",
                               r"Truncating file to \d+ bytes\."],
}
NOISE = ("fsck.fat", "Leaving", "Not ", "Perform", "Checking", "Reclaiming", "Starting")


def fsck_findings(img: Path) -> tuple[set[str], list[str], str]:
    """fsck.fat -n's findings: the benign kinds it reported, the lines that
    are none of them, and its whole output."""
    r = run("fsck.fat", "-n", str(img))
    text = r.stdout + r.stderr
    kinds, bad = set(), []
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith(NOISE) or re.fullmatch(r"/.*", ln) and i + 1 < len(lines) and \
                re.match(r"File size is", lines[i + 1]) or re.fullmatch(r".*: \d+ files, \d+/\d+ clusters", ln):
            continue
        kind = next((k for k, pats in BENIGN.items() if any(re.fullmatch(p, ln) for p in pats)), None)
        if kind:
            kinds.add(kind)
        else:
            bad.append(ln)
    return kinds, bad, text


# ---- what mtools reads ----------------------------------------------------------------------

def on_disk(img: Path, tmp: Path) -> dict[str, bytes]:
    """Every file of the root and /Sub, by path, as mtools reads it."""
    out = {}
    for d in ("/", "/Sub/"):
        listing = mtools("mdir", img, "-b", f"::{d}")
        for line in listing.splitlines():
            p = line.strip().removeprefix("::")
            if not p or p.endswith(("/", "/.", "/..")):       # a directory (mdir -b: a '/' after it)
                continue
            dst = tmp / "f.out"
            dst.unlink(missing_ok=True)
            mtools("mcopy", img, "-n", f"::{p}", str(dst))
            out[p] = dst.read_bytes()
    return out


@dataclass
class Outcome:
    n: int
    done_steps: int                # steps whose marker was printed (and those before)
    window: list[str]              # kinds of the steps that may have been under way
    fsck: set
    states: dict                   # path -> which state it was found in ("flushed", "later", ...)


def check(img: Path, tmp: Path, steps: list[Step], output: str, n: int, keep: bytes) -> Outcome:
    """fsck's findings benign, and every file at a state the workload allows
    after the markers printed (or the full run's end when output has them all)."""
    markers = MARK.findall(output.split(RUN, 1)[-1])
    marked = [i for i, s in enumerate(steps) if s.marker]
    m = len(markers)
    assert m <= len(marked), markers
    for (verb, path, size, h), i in zip(markers, marked):      # the markers are the model's
        want = steps[i].view.get(path)
        if verb == "flushed":
            assert want is not None and int(size) == len(want) and int(h) == fhash(want), (n, i, path)
        else:
            assert want is None, (n, i, path)
    last = marked[m - 1] if m else -1                       # every step up to it is done
    end = marked[m] if m < len(marked) else len(steps) - 1  # none after it has begun
    kinds, bad, text = fsck_findings(img)
    assert not bad, f"seed {SEED}, kill at write {n} (after step {last}, " \
                    f"window {[s.kind for s in steps[last + 1:end + 1]]}): fsck.fat -n found damage:\n" \
                    f"{bad}\n{text}"
    disk = on_disk(img, tmp)
    assert disk.pop("/Sub/Kept from the host.bin", None) == keep, (n, "the host's file changed")
    # a path's allowed contents: its views from its last durable step at or before `last` up to `end`
    paths = {p for s in steps for p in s.view} | set(disk)
    states = {}
    for p in paths:
        t = max([i for i in range(last + 1) if p in steps[i].durable], default=-1)
        views = [steps[i].view.get(p) for i in range(t, end + 1)] if t >= 0 else \
            [None] + [steps[i].view.get(p) for i in range(0, end + 1)]
        got = disk.get(p)
        assert got in views, (
            f"seed {SEED}, kill at write {n}, {m} markers: {p} is {None if got is None else len(got)} bytes "
            f"(hash {None if got is None else fhash(got)}); allowed: "
            f"{[None if v is None else (len(v), fhash(v)) for v in views]}")
        states[p] = "flushed" if got == views[0] else "later"
    return Outcome(n, m, [s.kind for s in steps[last + 1:end + 1]], kinds, states)


def summary(outcomes: list[Outcome], total: int) -> str:
    """The figures: kill points, what was under way, what fsck found."""
    from collections import Counter
    under = Counter(k for o in outcomes for k in set(o.window))
    later = sum(1 for o in outcomes if "later" in o.states.values())
    found = Counter(k for o in outcomes for k in o.fsck)
    clean = sum(1 for o in outcomes if not o.fsck)
    return (f"{len(outcomes)} kill points over {total} sector writes (seed {SEED}); under way "
            f"(steps since the last marker): " + ", ".join(f"{k} {v}" for k, v in sorted(under.items())) +
            f"; {later} with a file already at a later, unflushed state; fsck.fat -n: {clean} clean, " +
            ", ".join(f"{k} {v}" for k, v in sorted(found.items())))


def test_sigkill_at_random_sector_writes_damages_no_flushed_file(virt_kernel, tmp_path):
    """The whole workload once (every marker, fsck clean, the sector writes
    counted), then QEMU killed at POINTS writes drawn over it; the summary
    (kill points, what was under way, what fsck found) is printed (-s)."""
    steps = workload(SEED)
    base = base_image(tmp_path)
    keep = chunk(99, 20_000)
    img = tmp_path / "crash.img"

    # the whole workload once: every marker, a clean volume, the sector writes counted
    shutil.copyfile(base, img)
    q = boot(virt_kernel, img, steps)
    try:
        q.break_at(_sym(virt_kernel.elf, WRITE_PC))
        r = q.run_script(RUN + "\n", 2_000_000_000)
        assert r.status == "idle" and r.errors == 0, r.output[-3000:]
        total = q.stop_hits
    finally:
        q.close()
    full = check(img, tmp_path, steps, r.output, total + 1, keep)
    assert full.done_steps == sum(s.marker for s in steps) and not full.fsck, full
    assert total > 300, total

    rnd = random.Random(SEED)
    points = sorted(rnd.sample(range(1, total + 1), min(POINTS, total)))
    outcomes = []
    for n in points:
        shutil.copyfile(base, img)
        q = boot(virt_kernel, img, steps)
        try:
            q.break_at(_sym(virt_kernel.elf, WRITE_PC), n)
            r = q.run_script(RUN + "\n", 2_000_000_000)
            assert r.status == "break", (n, r.status, r.report, r.output[-2000:])
            q.kill()
        finally:
            q.close()
        outcomes.append(check(img, tmp_path, steps, r.output, n, keep))
    report = summary(outcomes, total)
    print(report)
    assert len(outcomes) == len(points), report


_SYMS: dict = {}


def _sym(elf: Path, name: str) -> int:
    from harness.qemu import _symbol_table
    if elf not in _SYMS:
        _SYMS[elf] = _symbol_table(elf)
    return _SYMS[elf][name]
