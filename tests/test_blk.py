"""The block-device layer (kernel/blk.S; docs/storage.md, Block devices):
the same Forth words on both boards, over virtio-blk under QEMU and over
the RAM disk the payload carries on the (emulated) M3.

Every disk here is a small image with a known pattern, made on the host;
what the kernel wrote is compared with the host's bytes: under QEMU in the
image file itself (QEMU writes through to it, and it survives a restart),
on the M3 in its memory (M3.disk_image, what `run --disk-out` saves).
"""

from __future__ import annotations

import re
import struct

import pytest

from harness import payload
from harness.machine.m3 import M3, M3Config, MachineError
from harness.qemu import QemuVirt
from kernel_support import Console
from m1n1_rules import read_macho_like_m1n1

SECTORS = 256                               # a 128 KiB disk
SECTOR = 512


def pattern(sectors: int = SECTORS) -> bytes:
    """Byte i of sector s: (i * 7 + s) mod 256: every sector differs."""
    return bytes(((i % SECTOR) * 7 + i // SECTOR) & 0xFF for i in range(sectors * SECTOR))


# Forth for the tests: two 4-sector buffers, a pattern that is not the
# disk's, and a check of a buffer against the disk's pattern.
WORDS = """\
create buf 2048 allot  create buf2 2048 allot
: fill-pat ( seed -- ) 2048 0 do dup i 3 * + buf i + c! loop drop ;
: disk-pat? ( a sector n -- flag ) 512 * 0 do over i + c@ i 511 and 7 * 2 pick i 9 rshift + + 255 and <> if 2drop false unloop exit then loop 2drop true ;
"""


def ask(console: Console, line: str) -> list[int]:
    """Type one line; the numbers it printed (after its echo)."""
    out = console.send(line)
    assert "error" not in out, out
    tail = out[out.index(line) + len(line):] if line in out else out
    return [int(x) for x in re.findall(r"-?\d+", tail.replace("ok", ""))]


# ---- the machines ------------------------------------------------------------

@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(pattern())
    return path


@pytest.fixture
def qemu_disk(virt_kernel):
    """qemu_disk(path or None) -> Console under QEMU with that disk (closed
    at the end of the test)."""
    started = []

    def start(disk) -> Console:
        q = QemuVirt(virt_kernel.elf, disk=disk, cores=2)
        started.append(q)
        r = q.run(50_000_000)
        assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
        c = Console(q, r.output)
        c.send(WORDS)
        return c

    yield start
    for q in started:
        q.close()


@pytest.fixture
def m3_disk(kernel):
    """m3_disk(bytes or None, **M3Config) -> Console on the emulated M3
    whose payload carries that RAM disk."""
    def start(disk, **cfg) -> Console:
        m = M3(kernel.elf, M3Config(**{"memory_model": False, "disk": disk, **cfg}))
        r = m.run(50_000_000)
        assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
        c = Console(m, r.output)
        c.send(WORDS)
        return c
    return start


@pytest.fixture(params=["qemu", "m3"])
def disk_console(request, image, qemu_disk, m3_disk):
    """A console with the pattern disk on each board in turn."""
    if request.param == "qemu":
        return qemu_disk(image)
    return m3_disk(image.read_bytes())


def written(console: Console, image) -> bytes:
    """The disk as the host sees it now: the image file (QEMU) or the
    RAM disk in the emulated M3's memory."""
    m = console.machine
    return m.disk_image() if isinstance(m, M3) else image.read_bytes()


# ---- round trips, on both boards ----------------------------------------------------

def test_the_disk_is_there_with_its_size(disk_console):
    assert ask(disk_console, "disk? . blk-size . blk-sector-size . blk-read-only? .") == [-1, SECTORS, 512, 0]
    board = "virt: disk virtio-blk" if isinstance(disk_console.machine, QemuVirt) else "RAM disk 256 sectors"
    assert board in disk_console.boot_output


def test_read_write_flush_round_trip_and_the_host_sees_the_bytes(disk_console, image):
    c = disk_console
    # what the host wrote, read by the kernel (sector 5, and 4 from 100)
    assert ask(c, "buf 5 1 blk-read . buf 5 1 disk-pat? . buf 100 4 blk-read . buf 100 4 disk-pat? .") == \
        [0, -1, 0, -1]
    # a write, a flush, a read back into the other buffer
    assert ask(c, "9 fill-pat buf 10 4 blk-write . blk-flush . buf2 10 4 blk-read . "
                  "buf 2048 buf2 2048 compare .") == [0, 0, 0, 0]
    # one sector at the disk's very end
    assert ask(c, "77 fill-pat buf 255 1 blk-write . buf2 255 1 blk-read . buf 512 buf2 512 compare .") == [0, 0, 0]
    ours = bytes((9 + 3 * i) & 0xFF for i in range(2048))
    end = bytes((77 + 3 * i) & 0xFF for i in range(512))
    expect = bytearray(pattern())
    expect[10 * SECTOR:14 * SECTOR] = ours
    expect[255 * SECTOR:] = end
    assert written(c, image) == bytes(expect)
    requests, waits, interrupts = ask(c, "blk-stats . . .")[::-1]
    if isinstance(c.machine, QemuVirt):        # every request slept until the device's interrupt
        assert requests == waits == interrupts >= 7
    else:                                       # the RAM disk is a copy: nobody waits
        assert requests >= 6 and waits == interrupts == 0


def test_bad_requests_are_iors_and_the_console_goes_on(disk_console):
    c = disk_console
    assert ask(c, "buf 256 1 blk-read . buf 255 2 blk-read . buf -1 1 blk-read . "
                  "buf 1 -1 blk-read . buf -1 2 blk-write .") == [-271] * 5
    # memory the device may not use: address 0 (unmapped), the kernel's
    # read-only code as a destination, a buffer running off the end of RAM
    assert ask(c, "0 0 1 blk-read . ' dup 0 1 blk-read . -512 0 1 blk-read . "
                  "boot-info 40 + @ 256 - 0 1 blk-read .") == [-9] * 4
    # reading the kernel's code out to the disk is fine (it is readable);
    # nothing at all is fine; at the end too
    assert ask(c, "' dup 3 1 blk-write . buf 0 0 blk-read . buf 256 0 blk-read .") == [0, 0, 0]
    assert ask(c, "1 2 + .") == [3]
    out = c.send("buf 256 1 blk-read throw")
    assert "error -271: sector out of range" in out
    assert ask(c, "3 4 * .") == [12]


def test_a_thread_on_another_core_gets_an_ior(disk_console):
    c = disk_console
    c.send("variable r  : other ( -- ) buf 0 1 blk-read r ! ;  ' other 20 1 spawn-on drop 10 ms")
    assert ask(c, "r @ .") == [-21]
    assert ask(c, "buf 0 1 blk-read .") == [0]


def test_threads_share_the_disk(disk_console):
    """Four threads of the boot core reading at once: under QEMU they take
    turns with the one request in flight (a thread finding the device busy
    waits in its queue, handed the turn by the interrupt), every read comes
    back right, and every request slept until the device's interrupt."""
    c = disk_console
    before = ask(c, "blk-stats . . .")[::-1]
    c.send("variable bad  variable done  create b3 2048 allot  create b4 2048 allot  create b6 2048 allot "
           ": rd ( buf sector -- ) 50 0 do 2dup 4 blk-read bad +! 2dup 4 disk-pat? 0= bad +! loop 2drop 1 done +! ; "
           ": t1 b3 40 rd ; : t2 b4 80 rd ; : t3 b6 120 rd ; "
           ": four ( -- ) 0 bad ! 0 done !  ['] t1 32 spawn drop  ['] t2 32 spawn drop  ['] t3 40 spawn drop "
           "buf 7 rd  begin done @ 4 < while 1 ms repeat ;")
    assert ask(c, "four bad @ . done @ .") == [0, 4]
    requests, waits, interrupts = (a - b for a, b in zip(ask(c, "blk-stats . . .")[::-1], before))
    assert requests == 200
    if isinstance(c.machine, QemuVirt):
        assert waits == interrupts == 200


def test_threads_lists_a_thread_waiting_for_the_disk(qemu_disk, image):
    """The TS_IO state: a reader that never stops, seen by THREADS."""
    c = qemu_disk(image)
    c.send("create b4 65536 allot : spin ( -- ) begin b4 0 128 blk-read drop again ; ' spin 40 spawn drop")
    # the spinner outranks the console: it runs whenever the disk lets it
    out = c.send("threads")
    assert re.search(r"\n +\d+ disk +40 ", out), out
    assert ask(c, "1 2 + .") == [3]


# ---- no disk -------------------------------------------------------------------------

@pytest.mark.parametrize("machine", ["qemu", "m3"])
def test_no_disk_is_an_ior(machine, qemu_disk, m3_disk):
    c = qemu_disk(None) if machine == "qemu" else m3_disk(None)
    assert ask(c, "disk? . blk-size .") == [0, 0]
    assert ask(c, "buf 0 1 blk-read . buf 0 1 blk-write . blk-flush . buf 0 0 blk-read .") == [-270] * 4
    assert "error -270: no disk" in c.send("blk-flush throw")
    assert ask(c, "1 2 + .") == [3]
    assert "disk" not in c.boot_output


# ---- QEMU: the file, a restart -----------------------------------------------------

def test_what_was_written_survives_a_restart(qemu_disk, image):
    first = qemu_disk(image)
    assert ask(first, "200 fill-pat buf 40 4 blk-write . blk-flush .") == [0, 0]
    first.machine.close()
    ours = bytes((200 + 3 * i) & 0xFF for i in range(2048))
    assert image.read_bytes()[40 * SECTOR:44 * SECTOR] == ours
    second = qemu_disk(image)
    assert ask(second, "buf2 40 4 blk-read . 200 fill-pat buf 2048 buf2 2048 compare . buf 39 1 disk-pat? .") == \
        [0, 0, 0]
    assert ask(second, "buf 39 1 blk-read . buf 39 1 disk-pat? .") == [0, -1]


def test_a_read_only_disk_refuses_writes(virt_kernel, image):
    q = QemuVirt(virt_kernel.elf, cores=1, extra_args=[
        "-drive", f"if=none,file={image},format=raw,id=r,readonly=on", "-device", "virtio-blk-device,drive=r"])
    try:
        r = q.run(50_000_000)
        assert r.status == "idle", r.report
        c = Console(q, r.output)
        c.send(WORDS)
        assert "read-only" in r.output
        assert ask(c, "blk-read-only? . buf 0 1 blk-write . buf 0 1 blk-read . buf 0 1 disk-pat? .") == \
            [-1, -273, 0, -1]
    finally:
        q.close()
    assert image.read_bytes() == pattern()


def test_qemu_command_has_the_disk_and_the_modern_transport(virt_kernel, tmp_path):
    from harness import cli
    from harness.qemu import QemuError, qemu_command
    img = tmp_path / "a,b.img"
    img.write_bytes(bytes(1024))
    cmd = qemu_command("k.elf", disk=img)
    assert cmd[cmd.index("-global") + 1] == "virtio-mmio.force-legacy=false"
    drive = cmd[cmd.index("-drive") + 1]
    assert drive.startswith("if=none,file=") and "a,,b.img" in drive and drive.endswith(",format=raw,id=d")
    assert cmd[cmd.index("-device") + 1] == "virtio-blk-device,drive=d"
    with pytest.raises(QemuError, match="no such file"):
        qemu_command("k.elf", disk=tmp_path / "none.img")
    with pytest.raises(SystemExit, match="no such file"):
        cli.main(["qemu", "--elf", str(virt_kernel.elf), "--disk", str(tmp_path / "none.img"), "--dry-run"])


# ---- m3: the payload carries it --------------------------------------------------------

def test_payloads_with_a_disk_load_as_m1n1_would(kernel, tmp_path, image):
    """kernel.bin with the disk appended and its header fields set; the
    Mach-O, read by m1n1's rules, gives the same bytes; the emulated M3
    loads exactly these."""
    disk = image.read_bytes()
    bin_ = payload.write_bin(kernel.elf, tmp_path / "kernel.bin", disk).read_bytes()
    macho = payload.write_macho(kernel.elf, tmp_path / "kernel.macho", disk).read_bytes()
    flat, _, _ = payload.flat_image(kernel.elf)
    off, length = struct.unpack_from("<2Q", bin_, 0x30)
    assert off == len(flat) and off % 0x4000 == 0 and length == len(disk)
    assert bin_[:0x30] == flat[:0x30] and bin_[0x40:len(flat)] == flat[0x40:]
    assert bin_[off:off + length] == disk and len(bin_) % 0x4000 == 0
    assert read_macho_like_m1n1(macho) == (bin_, 0x800)
    assert payload.with_disk(flat, disk) == bin_
    assert payload.disk_of(flat) == (0, 0)          # the ELF's own header: no disk


def test_bad_disk_images_are_refused_before_anything_is_written(kernel, tmp_path, capsys):
    from harness import cli
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    for bad, why in [(odd, "not a whole number of 512-byte sectors"), (empty, "is empty"),
                     (tmp_path / "none.img", "No such file")]:
        with pytest.raises(payload.PayloadError, match=why):
            payload.read_disk(bad)
        assert cli.main(["build", "--disk", str(bad)]) == 1
        assert why in capsys.readouterr().err
    assert cli.main(["build", "--board", "virt", "--disk", str(odd)]) == 1
    assert "virtio-blk" in capsys.readouterr().err
    with pytest.raises(MachineError, match="whole number"):
        M3(kernel.elf, M3Config(disk=bytes(1000)))


def test_the_ram_disk_is_kept_out_of_free_memory(kernel, image):
    """Free memory starts above the disk's end, even when the loader's
    top_of_kernel_data (boot_args) ends before it: the disk survives the
    boot's allocations (dictionary, stacks, the heap) intact."""
    disk = image.read_bytes()
    m = M3(kernel.elf, M3Config(disk=disk))
    end = m.load_base + m.disk_offset + m.disk_size
    kernel_end = m.load_base + m.disk_offset
    m.cpu.uc.mem_write(m.boot_args + 0x20, struct.pack("<Q", kernel_end))   # BA_TOP_KDATA: the image only
    r = m.run(50_000_000)
    assert r.status == "idle", r.report
    assert "the RAM disk lay in free memory" in r.output
    c = Console(m, r.output)
    c.send(WORDS)
    free0, free = ask(c, "boot-info 104 + @ . boot-info 48 + @ .")
    assert free0 >= end and free >= free0
    assert m.disk_image() == disk
    assert ask(c, "buf 0 4 blk-read . buf 0 4 disk-pat? .") == [0, -1]


def test_a_header_naming_a_disk_outside_ram_means_no_disk(kernel, image):
    m = M3(kernel.elf, M3Config(disk=image.read_bytes()))
    m.cpu.uc.mem_write(m.load_base + 0x38, struct.pack("<Q", 1 << 40))       # its length: 1 TiB
    r = m.run(50_000_000)
    assert r.status == "idle", r.report
    assert "names a RAM disk that is not a whole number of sectors" in r.output
    c = Console(m, r.output)
    c.send(WORDS)
    assert ask(c, "disk? . buf 0 1 blk-read .") == [0, -270]


def test_run_disk_out_saves_what_the_kernel_wrote(kernel, image, tmp_path, capsys):
    from harness import cli
    out = tmp_path / "out.img"
    script = tmp_path / "w.fth"
    script.write_text(WORDS + "5 fill-pat buf 1 1 blk-write .\n")
    assert cli.main(["run", "--elf", str(kernel.elf), "--disk", str(image), "--disk-out", str(out),
                     "--script", str(script)]) == 0
    data = out.read_bytes()
    expect = bytearray(pattern())
    expect[SECTOR:2 * SECTOR] = bytes((5 + 3 * i) & 0xFF for i in range(512))
    assert data == bytes(expect)
    assert image.read_bytes() == pattern()          # the image itself is the payload's, untouched
    with pytest.raises(SystemExit, match="--disk-out saves the RAM disk --disk IMAGE gave"):
        cli.main(["run", "--elf", str(kernel.elf), "--disk-out", str(out), "--input", "1"])


def test_ctrl_c_reaches_a_word_looping_on_the_disk(virt_kernel, image):
    """The console thread waits for the disk most of the time (TS_IO); a
    Ctrl-C then waits for the request to be over and ends the word with
    THROW -28; the disk is free again for the next line."""
    import os
    import select
    import subprocess
    import time
    from harness.qemu import qemu_command
    p = subprocess.Popen(qemu_command(virt_kernel.elf, disk=image, cores=1) + ["-serial", "stdio"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(p.stdout.fileno(), False)
    out = bytearray()

    def wait_for(text: bytes, seconds: float = 60) -> bool:
        end = time.monotonic() + seconds        # a bound on a hang, not a measurement
        while time.monotonic() < end:
            if select.select([p.stdout], [], [], 0.1)[0]:
                out.extend(p.stdout.read() or b"")
            if text in out:
                return True
        return False

    def say(line: bytes) -> None:
        p.stdin.write(line)
        p.stdin.flush()
    try:
        assert wait_for(b"ready"), out.decode(errors="replace")
        say(b"create b5 65536 allot : dspin .\" spin\" .\" ning\" begin b5 0 128 blk-read drop again ; dspin\n")
        assert wait_for(b"spinning"), out.decode(errors="replace")
        say(b"\x03")
        assert wait_for(b"error -28: user interrupt"), out.decode(errors="replace")[-400:]
        say(b"b5 7 1 blk-read . b5 c@ . blk-stats drop - .\n")
        assert wait_for(b"0 7 0  ok"), out.decode(errors="replace")[-400:]
    finally:
        p.kill()
        p.wait()


def test_a_device_error_is_an_ior(virt_kernel, image, tmp_path):
    """QEMU's blkdebug driver fails every read of sector 100 with EIO:
    virtio-blk answers VIRTIO_BLK_S_IOERR (rerror=report, the default),
    the kernel -272; the sectors around it read, the disk goes on."""
    rules = tmp_path / "rules.cfg"
    rules.write_text('[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "100"\n')
    q = QemuVirt(virt_kernel.elf, cores=1, extra_args=[
        "-drive", f"if=none,file=blkdebug:{rules}:{image},format=raw,id=e", "-device", "virtio-blk-device,drive=e"])
    try:
        r = q.run(50_000_000)
        assert r.status == "idle", r.report
        c = Console(q, r.output)
        c.send(WORDS)
        assert ask(c, "buf 99 1 blk-read . buf 100 1 blk-read . buf 98 4 blk-read . buf 101 1 blk-read . "
                      "buf 101 1 disk-pat? .") == [0, -272, -272, 0, -1]
        assert "error -272: disk error" in c.send("buf 100 1 blk-read throw")
        assert ask(c, "1 2 + .") == [3]
    finally:
        q.close()


def test_the_ram_disk_keeps_the_emulated_m3_deterministic(kernel, image):
    script = WORDS + "7 fill-pat buf 3 4 blk-write . buf2 0 4 blk-read . buf2 0 4 disk-pat? .\n"
    runs = []
    for _ in range(2):
        m = M3(kernel.elf, M3Config(disk=image.read_bytes()))
        r = m.run_script(script)
        assert r.status == "idle" and r.errors == 0, r.report
        runs.append((r.output, r.instructions, m.disk_image()))
    assert runs[0] == runs[1]


def test_lief_reads_the_macho_with_its_disk_segment(kernel, image):
    import lief
    disk = image.read_bytes()
    macho = payload.macho_bytes(kernel.elf, disk)
    flat, base, _ = payload.flat_image(kernel.elf)
    fat = lief.MachO.parse(list(macho))
    try:
        m = fat.at(0)
        segs = {s.name: s for s in m.segments}
        d = segs["__DISK"]
        assert d.virtual_address == base + len(flat) and d.virtual_size % 0x4000 == 0
        assert bytes(d.content)[:d.file_size] == disk and d.file_offset % 0x4000 == 0
        assert m.thread_command.pc == base + 0x800
    finally:
        del fat


def test_a_ram_disk_past_a_bls_reach_leaves_the_dictionary_working(m3_disk):
    """A 160 MiB RAM disk puts the dictionary more than 128 MiB (a BL's
    reach) past the kernel's code, so a call from a new word into the kernel
    is a far call of several instructions: DOES> used to assume one BL
    before its code (adr x0, . + 16), and 2CONSTANT, VALUE and every word
    after them at boot faulted at pc 0."""
    c = m3_disk(bytes(160 << 20))
    assert "error" not in c.boot_output, c.boot_output[-2000:]
    assert ask(c, "1 2 2constant k k . . 5 value v v . 7 to v v .") == [2, 1, 5, 7]
    assert ask(c, ": mk ( n -- ) create , does> @ 1+ ; 41 mk m m .") == [42]
