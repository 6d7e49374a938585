"""Every core: the kernel starts each core the board lists (kernel/smp.S)
and says how many run.  virt: PSCI CPU_ON for every cpu in the DTB, under
QEMU -smp with -icount (one thread, deterministic) and with MTTCG (the
cores really in parallel, host timing deciding).  The kernel synchronises
with LSE atomics and acquire/release only: unicorn's exclusive monitor is
per instance and value-based, so an LDXR/STXR pair would pass where the
silicon fails (docs/emulation.md); none may be in the image."""

from __future__ import annotations

import re
import pytest

from asm_snippets import snippet_elf
from harness.build import build
from harness.elf import code_words
from harness.machine.smp import is_exclusive
from harness.qemu import QemuVirt

MTTCG = "tcg,thread=multi"


def _boot(elf, **kw):
    q = QemuVirt(elf, **kw)
    r = q.run(200_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
    return q, r.output


@pytest.mark.parametrize("cores", [1, 4])
def test_virt_starts_every_core_the_dtb_lists(virt_kernel, cores):
    q, out = _boot(virt_kernel.elf, cores=cores)
    with q:
        assert f"cores: {cores}\n" in out, out
        assert "did not start" not in out, out
        r = q.run_script("cores .\n")
        assert f"cores . {cores} " in r.output, r.output


@pytest.mark.parametrize("run", range(2))
def test_virt_starts_every_core_under_mttcg(virt_kernel, run):
    """The cores in parallel threads: the start protocol holds whatever
    the host's timing (each run a different interleaving)."""
    q, out = _boot(virt_kernel.elf, cores=4, accel=MTTCG)
    with q:
        assert "cores: 4\n" in out, out
        r = q.run_script("cores . 1 2 + .\n")
        assert "cores . 1 2 + . 4 3 " in r.output, r.output


def _exclusives(elf) -> list[int]:
    """Every load/store exclusive in the image's code (harness/machine/
    smp.py is_exclusive, the emulated M3's own refusal)."""
    return [a for a, w in code_words(elf).items() if is_exclusive(w)]


def test_the_scan_finds_every_exclusive_and_nothing_else():
    """The check below can fail: it sees each exclusive form and none of
    the acquire/release or LSE forms the kernel does use."""
    excl = snippet_elf("ldxr x0, [x1]\nstxr w2, x0, [x1]\nldaxr w0, [x1]\nstlxr w2, w0, [x1]\n"
                       "ldxp x0, x3, [x1]\nstxp w2, x0, x3, [x1]\nldxrb w0, [x1]\nstlxrh w2, w0, [x1]\n")
    assert len(_exclusives(excl)) == 8
    lse = snippet_elf("ldar x0, [x1]\nstlr x0, [x1]\ncas x0, x2, [x1]\ncasal w0, w2, [x1]\ncasp x0, x1, x2, x3, [x4]\n"
                      "ldadd x0, x2, [x1]\nswpal x0, x2, [x1]\nstadd x0, [x1]\nldaprb w0, [x1]\n")
    assert _exclusives(lse) == []


@pytest.mark.parametrize("board", ["m3", "virt"])
def test_the_kernel_uses_no_exclusives(board):
    found = _exclusives(build(board).elf)
    assert found == [], [hex(a) for a in found]


# ---- threads on every core ---------------------------------------------------

# One thread per core, each adding 0..999 into its own cell; the console
# sleeps, then prints the cells and the listing.
WORK = ("create sums 8 cells allot  sums 8 cells erase  : cell ( n -- a ) cells sums + ;\n"
        ": add ( -- ) core cell  1000 0 do i over +! loop drop ;\n")


def _spread(n: int) -> str:
    return "".join(f"' add 20 {c} spawn-on drop\n" for c in range(n))


def _check_spread(out: str, n: int) -> None:
    assert "error" not in out, out
    assert " ".join(["499500"] * n) in out, out


@pytest.mark.parametrize("accel", [None, MTTCG], ids=["icount", "mttcg"])
def test_virt_runs_a_thread_on_every_core(virt_kernel, accel):
    q, out = _boot(virt_kernel.elf, cores=4, accel=accel)
    with q:
        r = q.run_script(WORK + _spread(4) + "20 ms " + " ".join(f"{c} cell ?" for c in range(4)) + "\n")
        _check_spread(r.output, 4)


def test_virt_with_icount_is_deterministic(virt_kernel):
    outs = []
    for _ in range(2):
        q, out = _boot(virt_kernel.elf, cores=4)
        with q:
            r = q.run_script(WORK + _spread(4) + "20 ms " + " ".join(f"{c} cell ?" for c in range(4))
                             + " 0 cell @ 3 cell @ - . cycles drop\n")
            outs.append(r.output)
    assert outs[0] == outs[1]


def test_m3_runs_a_thread_on_every_core(boot):
    c = boot()
    assert "cores: 8\n" in c.boot_output, c.boot_output
    out = c.send(WORK + _spread(8) + "5 ms " + " ".join(f"{c} cell ?" for c in range(8)))
    _check_spread(out, 8)
    listing = c.send("' add 20 6 spawn-on drop threads")
    assert "prio        ticks      us core" in listing, listing


def test_spawn_on_a_core_that_is_not_running_is_an_error(boot):
    c = boot(cores=2)
    assert "cores: 2\n" in c.boot_output
    for line in ("' dup 20 2 spawn-on", "' dup 20 99 spawn-on", "' dup 0 1 spawn-on", "' dup 64 1 spawn-on"):
        out = c.send(line)
        assert "error -24" in out, (line, out)
    assert "7 " in c.send("3 4 + .")                        # and it keeps answering


def test_m3_reports_a_locked_rvbar_by_core(boot):
    c = boot(rvbar_locked=True)
    assert "cores: 1\n" in c.boot_output, c.boot_output
    assert c.boot_output.count("did not start: its RVBAR is locked at another entry") == 7, c.boot_output
    assert "core 0x103 did not start" in c.boot_output


ALLOC_WORDS = (
    "variable r1  variable r2  variable r3  variable a0  variable a1 "
    ": far-alloc ( -- ) 4096 allocate r1 ! a1 !  200000 allocate r2 ! a0 !  a0 @ free r3 ! ; ")


@pytest.mark.parametrize("machine", ["m3", "qemu"])
def test_allocate_and_free_on_another_core(machine, request):
    """Every core allocates from its own lists (kernel/kmem.S, Many cores):
    a class chunk and a heap chunk on core 3 (under the heap's lock), each
    freed where it was made and on the other core."""
    c = request.getfixturevalue("boot" if machine == "m3" else "qemu_boot")()
    c.send(ALLOC_WORDS)
    out = c.send("' far-alloc 20 3 spawn-on drop 2 ms r1 ? r2 ? r3 ? a1 @ 4096 1- and . a1 @ free .")
    assert "0 0 0 0 0 " in out, out
    assert "7 " in c.send("3 4 + .")


def test_a_chunk_freed_on_another_core_goes_back_to_its_owner(boot):
    """FREE on another core sets the chunk's pending bit (LDSET) and hands
    the record to its owner; the owner folds it in before it takes fresh
    memory, so the same chunk comes back; a second FREE of it elsewhere is
    refused with -60 while it is pending."""
    c = boot()
    out = c.send("variable a  variable r1  variable r2  1024 allocate drop a ! "
                 ": far-free ( -- ) a @ free r1 !  a @ free r2 ! ; ' far-free 20 2 spawn-on drop 2 ms "
                 "r1 ? r2 ? 6 kmem-class drop . ")
    assert "0 -60 " in out, out
    # the fresh slab holds 16 chunks of 1 KiB: 15 free here until the owner drains
    assert out.split()[-2] == "15", out
    # the 15 listed ones first; the 16th ALLOCATE finds the list empty, folds
    # the pending chunk in and gets a back, with no new slab
    out = c.send(": take ( n -- ) 0 do 1024 allocate drop drop loop ; 15 take "
                 "1024 allocate . a @ = . 6 kmem-class . .")
    assert out.split()[-5:-1] == ["0", "-1", "16", "0"], out


CROSS_FREE = (
    "create arr 256 cells allot  create arr2 256 cells allot  variable bad  variable ndone "
    ": size ( i -- u ) 3 and 2* 16 swap lshift ; "
    ": fill ( a stamp -- ) 256 0 do i size allocate if 1 bad +! then "
    "over i + over ! 2 pick i cells + ! loop 2drop ; "
    ": drain ( a stamp -- ) 256 0 do over i cells + @ dup @ 2 pick i + <> if 1 bad +! then "
    "free if 1 bad +! then loop 2drop ; "
    ": filler ( -- ) arr 0 fill 1 ndone +! ;  : freer ( -- ) arr 0 drain 1 ndone +! ; "
    ": filler2 ( -- ) arr2 5000 fill 1 ndone +! ;  : freer2 ( -- ) arr2 5000 drain 1 ndone +! ; "
    ": wait ( n -- ) 2000 0 do ndone @ over = if leave then 1 ms loop drop ; "
    "variable held : count ( -- ) 0 0 kmem-class nip + 2 kmem-class nip + 4 kmem-class nip + "
    "6 kmem-class nip + held ! 1 ndone +! ; ")


@pytest.mark.parametrize("machine,accel", [("m3", None), ("qemu", None), ("qemu", MTTCG)],
                         ids=["m3", "qemu-icount", "qemu-mttcg"])
def test_chunks_freed_on_one_core_while_their_owner_allocates(machine, accel, request):
    """256 chunks of four classes made on core 1 are freed on core 2 while
    core 1 makes 256 more (the owner's fast path and the remote pushes at
    once; under MTTCG really in parallel); then those are freed on core 3.
    Every FREE answers 0, no chunk is handed out twice (each keeps its
    stamp), and the owner reuses what was freed elsewhere."""
    if machine == "m3":
        c = request.getfixturevalue("boot")()
    else:
        c = request.getfixturevalue("qemu_boot")(**({"accel": accel} if accel else {}))
    c.send(CROSS_FREE)
    c.send("' filler 20 1 spawn-on drop 1 wait")
    c.send("' freer 20 2 spawn-on drop ' filler2 20 1 spawn-on drop 3 wait")
    c.send("' freer2 20 3 spawn-on drop 4 wait")
    out = c.send("ndone ? bad ?")
    assert out.split()[-3:-1] == ["4", "0"], out
    # core 1 again: the chunks freed elsewhere come back before fresh memory
    # (round one never held more than 64 chunks a class at once, so its
    # slabs hold the 256 again: the same chunk count before and after)
    out = c.send("0 ndone ! ' count 20 1 spawn-on drop 1 wait held @ "
                 "' filler 20 1 spawn-on drop 2 wait ' count 20 1 spawn-on drop 3 wait held @ "
                 "= . bad ?")
    assert out.split()[-3:-1] == ["-1", "0"], out


def _said(c, line: str) -> list[int]:
    out = c.send(line)
    assert "error" not in out, out
    return [int(n) for n in re.findall(r"-?\d+", out[out.index(line) + len(line):])]


@pytest.mark.parametrize("machine", ["m3", "qemu"])
def test_an_ipi_gives_an_idle_core_one_tick(machine, request):
    """A core with nothing to run has no tick (tickless idle); an IPI
    makes it take exactly one (tick_request), after which it sleeps again."""
    c = request.getfixturevalue("boot" if machine == "m3" else "qemu_boot")()
    core = 5 if machine == "m3" else 3
    a, b = _said(c, f"{core} core-ticks . 2 ms {core} core-ticks .")
    assert a == b                                   # asleep: no tick in 2 ms
    x, y = _said(c, f"{core} ipi 1 ms {core} core-ticks . 2 ms {core} core-ticks .")
    assert x == b + 1 and y == x, (b, x, y)         # one tick for the IPI, then none
    assert "error -24" in c.send("99 ipi")
    assert "error -24" in c.send("99 core-ticks")
