"""The virt board under QEMU: the same console script interface as the
emulated M3 (harness.machine.m3.M3), with QEMU's own exceptions, GIC and
timer as a second opinion on what the harness models in unicorn.

    qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max
        -icount shift=0,sleep=off -kernel build/virt/kernel.elf

QEMU starts stopped (-S) behind its gdb stub (a private Unix socket).  The
console is QEMU's stdio chardev on pipes: input goes to its stdin, output
comes from its stdout.  How the runner knows the console is idle (waiting
for input it has not been given) without looking at a clock:

  - kernel/boards/virt/board.S counts every byte uart_getc takes
    (uart_rx_count) and spins on one instruction, uart_rx_wait, while the
    PL011 FIFO is empty;
  - the runner keeps a breakpoint on uart_rx_wait.  When it hits and
    uart_rx_count equals the bytes written to QEMU's stdin, every byte has
    been consumed and the console waits for more: `idle`.  Fewer means
    QEMU's I/O thread has not yet moved the rest into the FIFO: continue.

That is the emulated M3's `idle` exactly.  Other endings: `off` when QEMU
exits (PSCI SYSTEM_OFF from BYE), `crash` at the breakpoint on
kernel_halted (a panic, decoded from its exception frame, or a stop at
boot, with the kernel's own message) or on the low vectors (an exception
before the kernel installed its own), `deadlock` at a WFI of the idle
thread when nothing can ever run again (below), and `limit` when nothing
of these happens within the time the instruction limit is worth (a hang;
generous, see seconds_for()).

Deadlock, as on the emulated M3 (harness/machine/kthreads.py deadlock): the
idle thread runs only when every other thread waits, and each WFI in the
kernel's text (found in the ELF: no marker in the kernel, nothing a
re-layered kernel/thread.S must keep but the instruction) other than the
halt's and the power-off's is a breakpoint.  There the runner reads the
per-core block and the thread list through the stub (a few 1 KiB reads) and
ends the run if no thread has a deadline, none waits for console input and
every one is blocked in IPC.  Otherwise it steps over the WFI (the step
returns at the next interrupt, the slice timer's at the latest) and goes
on.  Only guest state decides, never the host clock: the same script ends
the same way every time, and a console that sleeps in MS costs one stop a
tick.

Forth errors: the kernel counts every line or thread that ended in an
uncaught THROW in console_errors (kernel/forth/except.S).  The runner
reads it through the stub when the run ends, and at board_poweroff
(before BYE's SYSTEM_OFF takes the guest's memory away).  Reading the
counter, rather than parsing the console, cannot be fooled by a script
that prints the same words, and costs the kernel nothing.

Under -icount the guest's instruction counts are exact and do not depend on
the host: the PMU's INST_RETIRED, read by the kernel's `instructions` word,
is the figure the cross-check holds against unicorn's
(tests/test_qemu_crosscheck.py).
"""

from __future__ import annotations

import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from harness import run as runs
from harness.elf import Symbols, code_words
from harness.machine import kthreads
from harness.run import DEFAULT_LIMIT, FRAME_BYTES, RunResult, halt_report

LINK_BASE = 0x4020_0000            # harness/build.py BOARDS["virt"]: QEMU loads the ELF here
DEFAULT_MEM_SIZE = 256 << 20
WFI = 0xD503207F                   # Arm ARM C6.2: WFI's one encoding
QEMU = "qemu-system-aarch64"
INSTALL_HINT = ("QEMU is not installed: `apt-get install -y --no-install-recommends "
                "qemu-system-arm` (Debian/Ubuntu; provides qemu-system-aarch64) or "
                "`brew install qemu` (macOS); or set SOVEREIGN_QEMU to the binary")
MACHINE = "virt,virtualization=on,gic-version=3"
DEFAULT_CORES = 4                  # -smp: cores the DTB lists (`cores` in the kernel)
NOP = 0xD503201F
MAX_CORES = 32                     # the kernel's NCORES_MAX (kernel/percpu.inc)
ICOUNT = "shift=0,sleep=off"       # 1 ns per instruction, time never waits for the host

# Wall-clock stand-in for an instruction limit: QEMU TCG with -icount runs
# well above this many guest instructions per second on any machine we use,
# so a run that has not come back by then is a hang, not a slow host.
MIN_RATE = 10_000_000
BASE_SECONDS = 30.0


def seconds_for(limit: int) -> float:
    return BASE_SECONDS + limit / MIN_RATE


def qemu_binary() -> str | None:
    """The qemu-system-aarch64 to use (SOVEREIGN_QEMU, else PATH), or None."""
    exe = os.environ.get("SOVEREIGN_QEMU") or shutil.which(QEMU)
    return exe if exe and os.access(exe, os.X_OK) else None


def disk_args(disk: Path | str, readonly: bool = False) -> list[str]:
    """QEMU's arguments for a disk image on the virt board: a raw drive on
    a virtio-blk device, which QEMU plugs into a free virtio-mmio transport
    (the kernel finds it in the DTB: kernel/boards/virt/virtio.S).
    readonly: QEMU refuses writes and offers VIRTIO_BLK_F_RO (the model
    image: the cached file itself, which a write would change)."""
    path = Path(disk)
    if not path.is_file():
        raise QemuError(f"disk image {path}: no such file")
    # QEMU's -drive splits its options at commas: a comma in the path is doubled
    name = str(path.resolve()).replace(",", ",,")
    ro = ",readonly=on" if readonly else ""
    return ["-drive", f"if=none,file={name},format=raw,id=d{ro}", "-device", "virtio-blk-device,drive=d"]


def qemu_command(elf: Path, mem_size: int = DEFAULT_MEM_SIZE, cmdline: str = "",
                 icount: bool = True, accel: str | None = None, cores: int = DEFAULT_CORES,
                 disk: Path | str | None = None, disk_readonly: bool = False) -> list[str]:
    """The command line shared by the runner and `make qemu` (which adds
    -nographic for a terminal console).  cores: -smp (the DTB lists them;
    the kernel starts each with PSCI CPU_ON).  accel "tcg,thread=multi"
    without icount is MTTCG: the cores really in parallel, the race finder.
    The virtio-mmio transports are always the modern ones (Version 2,
    VIRTIO 1.1 4.2.2): QEMU 7.2's default is legacy (hw/virtio/
    virtio-mmio.c "force-legacy", true), which the kernel's virtio-blk
    driver does not drive.  disk: a disk image (disk_args)."""
    exe = qemu_binary() or QEMU
    cpu = "host" if accel in ("hvf", "kvm") else "max"   # a hardware accelerator runs the host's core
    cmd = [exe, "-M", MACHINE, "-cpu", cpu, "-m", f"{mem_size >> 20}M", "-smp", str(cores),
           "-nodefaults", "-display", "none", "-kernel", str(elf),
           "-global", "virtio-mmio.force-legacy=false"]
    if disk is not None:
        cmd += disk_args(disk, disk_readonly)
    if accel:
        cmd += ["-accel", accel]
    if icount:
        cmd += ["-icount", ICOUNT]
    if cmdline:
        cmd += ["-append", cmdline]
    return cmd


def _symbol_table(elf: Path) -> dict[str, int]:
    """Every named symbol (harness.elf.Symbols keeps one name per address)."""
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in table.iter_symbols() if s.name} if table else {}


def _wfi_addresses(words: dict[int, int]) -> list[int]:
    """Every WFI in the image's code (harness.elf.code_words)."""
    return [a for a, w in words.items() if w == WFI]


class QemuError(RuntimeError):
    """QEMU could not be started or talked to."""


class _Gdb:
    """Just enough of the GDB remote serial protocol (no-ack mode)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    @staticmethod
    def frame(data: str) -> bytes:
        body = data.encode()
        return b"$" + body + b"#" + f"{sum(body) & 0xFF:02x}".encode()

    def feed(self, data: bytes) -> None:
        if not data:
            self.closed = True
        self.buf += data

    def packet(self) -> str | None:
        """The next complete packet in the buffer, or None."""
        while self.buf[:1] in (b"+", b"-"):
            self.buf = self.buf[1:]
        if not self.buf.startswith(b"$"):
            i = self.buf.find(b"$")
            self.buf = self.buf[i:] if i >= 0 else b""
            return None
        end = self.buf.find(b"#")
        if end < 0 or len(self.buf) < end + 3:
            return None
        body, self.buf = self.buf[1:end], self.buf[end + 3:]
        out, i = bytearray(), 0
        while i < len(body):                 # '}' escapes the next byte (xor 0x20)
            if body[i] == 0x7D and i + 1 < len(body):
                out.append(body[i + 1] ^ 0x20)
                i += 2
            else:
                out.append(body[i])
                i += 1
        return out.decode("latin-1")


class QemuVirt:
    """The virt board booted under QEMU, driven like harness.machine.m3.M3:
    feed()/run(limit)/run_script(text, limit) -> RunResult, .output."""

    def __init__(self, elf: Path, mem_size: int = DEFAULT_MEM_SIZE, cmdline: str = "",
                 tx_sink=None, extra_args: list[str] | None = None, cores: int = DEFAULT_CORES,
                 accel: str | None = None, disk: Path | str | None = None,
                 disk_readonly: bool = False):
        """accel None: TCG with -icount (one thread, deterministic);
        "tcg,thread=multi": MTTCG, no icount (host timing decides).
        disk: a raw disk image on a virtio-blk device (disk_args); what the
        kernel writes to it is in the file (QEMU writes through to it)."""
        exe = qemu_binary()
        if exe is None:
            raise QemuError(INSTALL_HINT)
        self.elf = Path(elf)
        self.symbols = Symbols(self.elf)
        self.load_base = self.symbols.link_base       # ELF loaded at its link address
        self.mem_size = mem_size
        self.tx_sink = tx_sink
        self._raw = bytearray()
        self._to_send = bytearray()     # written to QEMU's stdin as it takes it
        self._held = bytearray()        # fed before boot reached the prompt
        self._sent = 0                  # bytes handed to QEMU in total (held ones excluded)
        self._booted = False
        self._ended: RunResult | None = None
        # RunResult.instructions stays 0 under QEMU: its gdb stub shows the
        # PMU counters' stored values, not live ones.  The exact figures come
        # from the kernel itself (the `instructions` word) under -icount.
        self.instructions = 0

        table = _symbol_table(self.elf)

        def sym(name: str) -> int:
            if name not in table:
                raise QemuError(f"no symbol '{name}' in {self.elf}: not a virt-board kernel?")
            return table[name]

        self.wait_pc = sym("uart_rx_wait")
        self.halt_pc = sym("kernel_halted")
        self.rx_count_addr = sym("uart_rx_count")
        self.poweroff_pc = sym("board_poweroff")      # BYE, before SYSTEM_OFF
        self.off_pc = sym("powered_off")              # parked: PSCI did not switch off
        self.console_errors = sym("console_errors")
        self.rx_waiter = sym("rx_waiter")
        self.percpu = sym("percpu")
        self.latest = sym("latest")
        # the idle thread's WFIs (kernel/thread.S idle_loop): the halt's and
        # the power-off's have breakpoints of their own
        # (the other cores' idle threads, kernel/thread.S idle_core, and a
        # core that found no slot, kernel/smp.S core_parked, are not the
        # console's: no breakpoint there.  A core without a tick stepped
        # over its WFI would never finish the step.)
        quiet = [(self.halt_pc, self.halt_pc + 8), (self.off_pc, self.off_pc + 8)] + [
            (table[n], table[n] + 8) for n in ("idle_core", "core_parked") if n in table]
        # The breakpoint goes on the NOP before an idle WFI where there is one
        # (kernel/thread.S idle_loop): the runner steps over a breakpoint it
        # resumes at, and a step over a WFI lasts until an interrupt, which
        # under -icount never comes while gdb holds the other cores (their
        # work is what would end the wait).
        words = code_words(self.elf)
        self.idle_pcs = [pc - 4 if words.get(pc - 4) == NOP else pc
                         for pc in _wfi_addresses(words) if not any(lo <= pc <= hi for lo, hi in quiet)]
        self._errors_before = 0
        self._errors_at_off: int | None = None      # read at board_poweroff

        self._tmp = tempfile.TemporaryDirectory(prefix="sovereign-qemu-")
        sock_path = os.path.join(self._tmp.name, "gdb")
        if not 1 <= cores <= MAX_CORES:
            raise QemuError(f"{cores} cores: QEMU's virt board with GICv3 takes 1 to {MAX_CORES}")
        self.cores = cores
        cmd = qemu_command(self.elf, mem_size, cmdline, icount=accel is None, accel=accel, cores=cores,
                           disk=disk, disk_readonly=disk_readonly) + [
            "-serial", "stdio", "-S",
            "-chardev", f"socket,id=gdb0,path={sock_path},server=on,wait=off",
            "-gdb", "chardev:gdb0", *(extra_args or [])]
        self.command = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(f.fileno(), False)
        self._stderr = bytearray()
        self.gdb = _Gdb(self._connect(sock_path))
        self._request("QStartNoAckMode")
        self._request("?")
        # QEMU answers `p` (one register) only once the client has read a
        # target description.
        self._read_target_description()
        # The low vectors (current EL, SPx: synchronous, IRQ): VBAR_EL2 is 0
        # until head.S installs the kernel's, and flash at 0 holds no code.
        self.early_vectors = [0x200, 0x280]
        self._breakpoints = [self.wait_pc, self.halt_pc, self.poweroff_pc, self.off_pc,
                             *self.idle_pcs, *self.early_vectors]
        self._at_breakpoint: int | None = None
        self._stop_pc: int | None = None    # break_at(): where, which hit, and the hits counted
        self._stop_when = None
        self._stop_nth = 0
        self.stop_hits = 0
        for pc in self._breakpoints:
            if self._request(f"Z0,{pc:x},4") != "OK":
                raise QemuError(f"QEMU's gdb stub refused a breakpoint at {pc:#x}")

    # ---- plumbing -----------------------------------------------------------

    def _connect(self, path: str):
        import socket
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read() or b""
                raise QemuError(f"QEMU exited at start ({self.proc.returncode}): "
                                f"{err.decode(errors='replace').strip()}\n  {' '.join(self.command)}")
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                return s
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise QemuError("QEMU's gdb stub did not come up within 20 s") from None
                time.sleep(0.01)

    def _pump(self, deadline: float | None) -> str | None:
        """Move console bytes both ways until a gdb packet arrives (returned),
        QEMU exits (None) or the deadline passes (None)."""
        out_fd, in_fd, err_fd = (self.proc.stdout.fileno(), self.proc.stdin.fileno(),
                                 self.proc.stderr.fileno())
        sock = self.gdb.sock
        while True:
            pkt = self.gdb.packet()
            if pkt is not None:
                self._drain()
                return pkt
            if self.gdb.closed:
                self._drain()
                return None
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            readers = [sock, out_fd, err_fd]
            writers = [in_fd] if self._to_send else []
            r, w, _ = select.select(readers, writers, [], timeout)
            if not r and not w:
                self._drain()
                return None
            if sock in r:
                self.gdb.feed(sock.recv(65536))
            if out_fd in r:
                self._read_output()
            if err_fd in r:
                self._stderr += os.read(err_fd, 65536)
            if w:
                try:
                    n = os.write(in_fd, self._to_send[:65536])
                    del self._to_send[:n]
                except BlockingIOError:
                    pass

    def _read_output(self) -> int:
        try:
            data = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return 0
        self._raw += data
        if self.tx_sink:
            for b in data:
                self.tx_sink(b)
        return len(data)

    def _drain(self) -> None:
        """Everything QEMU has written so far: a PL011 write completes into
        the pipe before the guest's next instruction, so when the guest is
        stopped the pipe already holds all of its output."""
        while self._read_output():
            pass

    def _request(self, data: str, timeout: float = 20) -> str:
        self.gdb.sock.sendall(self.gdb.frame(data))
        reply = self._pump(time.monotonic() + timeout)
        if reply is None:
            raise QemuError(f"no answer from QEMU's gdb stub to {data!r}")
        return reply

    def _reg(self, n: int) -> int:
        return int.from_bytes(bytes.fromhex(self._request(f"p{n:x}")), "little")

    def _mem(self, addr: int, size: int) -> bytes:
        reply = self._request(f"m{addr:x},{size:x}")
        if reply.startswith("E"):
            raise QemuError(f"cannot read {size} bytes at {addr:#x}: {reply}")
        return bytes.fromhex(reply)

    def _reader(self):
        """read(addr, size) over the stopped guest's memory, 1 KiB at a time
        and each KiB once (QEMU's stub answers at most 2 KiB a packet): a
        walk of the thread list or the dictionary costs a few requests, not
        one per field.  Valid while the guest stays stopped."""
        chunks: dict[int, bytes] = {}

        def read(addr: int, size: int) -> bytes:
            out = bytearray()
            while size > 0:
                base, off = addr & ~0x3FF, addr & 0x3FF
                if base not in chunks:
                    try:
                        chunks[base] = self._mem(base, 0x400)
                    except QemuError:           # the KiB crosses into nothing: the bytes asked only
                        return bytes(out) + self._mem(addr, size)
                n = min(size, 0x400 - off)
                out += chunks[base][off:off + n]
                addr, size = addr + n, size - n
            return bytes(out)
        return read

    def _errors(self) -> int:
        """console_errors now, or as BYE left it once QEMU has exited."""
        if self.proc.poll() is not None or self.gdb.closed:
            return self._errors_at_off if self._errors_at_off is not None else self._errors_before
        return struct.unpack("<Q", self._mem(self.console_errors, 8))[0]

    # ---- the M3-like interface -------------------------------------------------

    @property
    def output(self) -> str:
        return bytes(self._raw).decode("utf-8", "replace").replace("\r\n", "\n")

    def feed(self, data: bytes) -> None:
        if self._booted:
            self._to_send += data
            self._sent += len(data)
        else:
            self._held += data

    def run_script(self, text: str | bytes, limit: int = DEFAULT_LIMIT) -> RunResult:
        self.feed(text.encode() if isinstance(text, str) else text)
        return self.run(limit)

    def run(self, limit: int = DEFAULT_LIMIT) -> RunResult:
        """Run until the console waits for input nobody has fed, QEMU
        switches off, the kernel panics, or a hang is evident."""
        if self._ended:
            return self._ended
        self._errors_before = self._errors()
        deadline = time.monotonic() + seconds_for(limit)
        if not self._booted:
            # The PL011's FIFO is switched on at boot (which empties it), so
            # input is held back until the first prompt.
            result = self._continue(deadline)
            if result.status != "idle":
                return result
            self._booted = True
            held, self._held = bytes(self._held), bytearray()
            if not held:
                return result
            self.feed(held)
        return self._continue(deadline)

    def _continue(self, deadline: float) -> RunResult:
        while True:
            if self._at_breakpoint is not None:
                # QEMU's stub stops again at once on a breakpoint it is
                # resumed at: step over it as gdb does.
                bp, self._at_breakpoint = self._at_breakpoint, None
                self._request(f"z0,{bp:x},4")
                self.gdb.sock.sendall(self.gdb.frame("s"))
                stop = self._pump(deadline)
                if stop is not None and not stop.startswith(("W", "X")):
                    self._request(f"Z0,{bp:x},4")
                if stop is None or stop.startswith(("W", "X")) or self._reg(32) in self._breakpoints:
                    pass                            # judged below, as after a continue
                else:
                    self.gdb.sock.sendall(self.gdb.frame("c"))
                    stop = self._pump(deadline)
            else:
                self.gdb.sock.sendall(self.gdb.frame("c"))
                stop = self._pump(deadline)
            if stop is None:
                if self.gdb.closed or self.proc.poll() is not None:
                    return self._end(self._exited())
                return self._hang(deadline)
            if stop.startswith(("W", "X")):
                return self._end(self._exited(stop))
            pc = self._reg(32)
            if pc in self._breakpoints:
                self._at_breakpoint = pc
            if pc == self._stop_pc:
                if self._stop_when is None or self._stop_when(self):
                    self.stop_hits += 1
                    if self.stop_hits == self._stop_nth:
                        return self._result("break")
                if pc not in (self.wait_pc, self.halt_pc, self.poweroff_pc, self.off_pc,
                              *self.idle_pcs, *self.early_vectors):
                    continue
            if pc == self.wait_pc:
                count = struct.unpack("<Q", self._mem(self.rx_count_addr, 8))[0]
                if count >= self._sent and not self._to_send:
                    return self._result("idle")
                continue
            if pc in self.idle_pcs:
                read = self._reader()
                report = kthreads.deadlock(read, self.percpu, self.rx_waiter,
                                           lambda xt: self._describe(xt, read).removeprefix("in Forth word "))
                if report:
                    return self._result("deadlock", report)
                continue
            if pc == self.poweroff_pc:
                self._errors_at_off = self._errors()
                continue
            if pc == self.off_pc:
                return self._end(self._result("off"))
            if pc == self.halt_pc:
                # kernel/vectors.S panic (or kernel/mmu.S boot_fail) keeps its frame in x20
                read = self._reader()
                return self._end(self._result("crash", halt_report(
                    read(self._reg(20), FRAME_BYTES), self.output, lambda a: self._describe(a, read))))
            if pc in self.early_vectors:
                return self._end(self._result(
                    "crash", f"CRASH: exception at vector {pc:#x} before the kernel installed its own "
                             f"(ELR_EL2 unknown to the runner)"))
            return self._end(self._result("crash", f"CRASH: QEMU stopped unexpectedly ({stop}) at pc "
                                                   f"{pc:#x} {self.describe(pc)}"))

    def _result(self, status: str, report: str = "") -> RunResult:
        return RunResult(status, self.output, self.instructions, report,
                         self._errors() - self._errors_before)

    def _read_target_description(self) -> None:
        """Read (and drop) the stub's description of the system registers:
        only the reading matters (the runner reads registers by number)."""
        off = 0
        while True:
            reply = self._request(f"qXfer:features:read:system-registers.xml:{off:x},ffb")
            if not reply or reply[0] not in "ml" or reply[0] == "l":
                return
            off += len(reply) - 1

    def _exited(self, stop: str = "") -> RunResult:
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            code = None
        self._drain_after_exit()
        if code == 0:
            return self._result("off")
        err = bytes(self._stderr).decode(errors="replace").strip()
        return self._result("crash", f"CRASH: QEMU exited with status {code} {stop}\n{err}")

    def _drain_after_exit(self) -> None:
        try:
            os.set_blocking(self.proc.stdout.fileno(), True)
            rest = self.proc.stdout.read()
        except (OSError, ValueError):
            rest = b""
        if rest:
            self._raw += rest
            if self.tx_sink:
                for b in rest:
                    self.tx_sink(b)

    def _hang(self, deadline: float) -> RunResult:
        self.gdb.sock.sendall(b"\x03")                  # interrupt: where is it?
        stop = self._pump(time.monotonic() + 10)
        where = ""
        if stop is not None and not stop.startswith(("W", "X")):
            pc = self._reg(32)
            where = f"; pc {pc:#x} {self.describe(pc)}"
        return self._end(self._result("limit", f"no prompt within {BASE_SECONDS:.0f} s plus the instruction "
                                               f"limit's worth at {MIN_RATE:,} instructions/s{where}"))

    def _end(self, result: RunResult) -> RunResult:
        self._ended = result
        return result

    def break_at(self, pc: int, nth: int = 0, when=None) -> None:
        """Count the guest's arrivals at pc (those where when(self), with
        the guest stopped there, is true: e.g. a register says which kind
        of call it is) in stop_hits; with nth > 0, run() returns status
        "break" at the nth, the guest stopped before the instruction at pc
        runs.  A stop measured in the guest's own progress rather than the
        host's clock: tests/test_crash.py kills QEMU at the nth sector
        write.  One such point at a time (set before run(), or between
        runs); nth 0 only counts.  The guest may go on with run() after a
        break."""
        if self._stop_pc is not None and self._stop_pc not in (self.wait_pc, self.halt_pc,
                                                               self.poweroff_pc, self.off_pc):
            self._request(f"z0,{self._stop_pc:x},4")
            self._breakpoints.remove(self._stop_pc)
        self._stop_pc, self._stop_nth, self._stop_when, self.stop_hits = pc, nth, when, 0
        if pc not in self._breakpoints:
            if self._request(f"Z0,{pc:x},4") != "OK":
                raise QemuError(f"QEMU's gdb stub refused a breakpoint at {pc:#x}")
            self._breakpoints.append(pc)

    def register(self, n: int) -> int:
        """General register xn (0-30; 31 sp, 32 pc) of the core that
        stopped (the guest must be stopped, as it is after run())."""
        return self._reg(n)

    def kill(self) -> None:
        """Power cut: SIGKILL QEMU now, wherever the guest is (running, or
        stopped by a break_at()), with no chance to finish anything.  What
        the guest's completed disk writes put in a disk image file stays
        there (QEMU wrote them to the file, and the host's page cache
        keeps them); nothing else of the guest survives.  run() returns
        status "off" afterwards; close() still cleans up."""
        if self.proc.poll() is None:
            self.proc.kill()                # SIGKILL on POSIX: no handler, no flush in QEMU
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._end(RunResult("off", self.output, self.instructions, "killed (kill())"))

    def read_symbol(self, name: str, size: int = 8) -> bytes:
        """Guest memory at a kernel symbol (the guest must be stopped, as it
        is after run())."""
        addr = _symbol_table(self.elf).get(name)
        if addr is None:
            raise QemuError(f"no symbol '{name}' in {self.elf}")
        return self._mem(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        """Guest memory written through the stub while the guest is stopped
        (before run(), or after it): how a test injects a fault."""
        if self._request(f"M{addr:x},{len(data):x}:{data.hex()}") != "OK":
            raise QemuError(f"cannot write {len(data)} bytes at {addr:#x}")

    def describe(self, addr: int) -> str:
        """The ELF symbol for an address, else the Forth word whose code
        holds it (the guest must be stopped and QEMU running)."""
        return self._describe(addr, self._reader())

    def _describe(self, addr: int, read) -> str:
        return runs.describe(self.symbols.describe(addr, self.load_base), read, self.latest, addr)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.gdb.sock.close()
        finally:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
