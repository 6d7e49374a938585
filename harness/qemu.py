"""The virt board under QEMU: the same console script interface as the
emulated M3 (harness.machine.m3.M3), with QEMU's own exceptions, GIC and
timer as a second opinion on what the harness models in unicorn.

    qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max
        -icount shift=0,sleep=off -kernel build/virt/kernel.elf

QEMU starts stopped (-S) behind its gdb stub (a private Unix socket).  The
console is QEMU's stdio chardev on pipes: input goes to its stdin, output
comes from its stdout.  How the runner knows the console is idle (waiting
for input it has not been given) without looking at a clock:

  - kernel/boards/virt.S counts every byte uart_getc takes (uart_rx_count)
    and spins on one instruction, uart_rx_wait, while the PL011 FIFO is
    empty;
  - the runner keeps a breakpoint on uart_rx_wait.  When it hits and
    uart_rx_count equals the bytes written to QEMU's stdin, every byte has
    been consumed and the console waits for more: `idle`.  Fewer means
    QEMU's I/O thread has not yet moved the rest into the FIFO: continue.

That is the emulated M3's `idle` exactly.  Other endings: `off` when QEMU
exits (PSCI SYSTEM_OFF from BYE), `crash` at the breakpoint on
kernel_halted (a panic; the report is decoded from its exception frame) or
on the low vectors (an exception before the kernel installed its own), and
`limit` when nothing of these happens within the time the instruction limit
is worth (a hang; generous, see seconds_for()).  Under -icount the guest's
instruction counts are exact and do not depend on the host: the PMU's
INST_RETIRED, read by the kernel's `instructions` word, is the figure the
cross-check holds against unicorn's (tests/test_qemu_crosscheck.py).
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

from harness.elf import Symbols
from harness.machine.exceptions import decode_esr
from harness.machine.m3 import RunResult

LINK_BASE = 0x4020_0000            # harness/build.py BOARDS["virt"]: QEMU loads the ELF here
DEFAULT_MEM_SIZE = 256 << 20
DEFAULT_LIMIT = 2_000_000_000
QEMU = "qemu-system-aarch64"
INSTALL_HINT = ("QEMU is not installed: `apt-get install -y --no-install-recommends "
                "qemu-system-arm` (Debian/Ubuntu; provides qemu-system-aarch64) or "
                "`brew install qemu` (macOS); or set SOVEREIGN_QEMU to the binary")
MACHINE = "virt,virtualization=on,gic-version=3"
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


def qemu_command(elf: Path, mem_size: int = DEFAULT_MEM_SIZE, cmdline: str = "",
                 icount: bool = True, accel: str | None = None) -> list[str]:
    """The command line shared by the runner and `make qemu` (which adds
    -nographic for a terminal console)."""
    exe = qemu_binary() or QEMU
    cpu = "host" if accel in ("hvf", "kvm") else "max"   # a hardware accelerator runs the host's core
    cmd = [exe, "-M", MACHINE, "-cpu", cpu, "-m", f"{mem_size >> 20}M",
           "-nodefaults", "-display", "none", "-kernel", str(elf)]
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
                 tx_sink=None, extra_args: list[str] | None = None):
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

        self._tmp = tempfile.TemporaryDirectory(prefix="sovereign-qemu-")
        sock_path = os.path.join(self._tmp.name, "gdb")
        cmd = qemu_command(self.elf, mem_size, cmdline) + [
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
        self._sysreg_numbers()
        # The low vectors (current EL, SPx: synchronous, IRQ): VBAR_EL2 is 0
        # until head.S installs the kernel's, and flash at 0 holds no code.
        self.early_vectors = [0x200, 0x280]
        self._breakpoints = [self.wait_pc, self.halt_pc, *self.early_vectors]
        self._at_breakpoint: int | None = None
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
            if pc == self.wait_pc:
                count = struct.unpack("<Q", self._mem(self.rx_count_addr, 8))[0]
                if count >= self._sent and not self._to_send:
                    return RunResult("idle", self.output, self.instructions)
                continue
            if pc == self.halt_pc:
                return self._end(RunResult("crash", self.output, self.instructions,
                                           self._panic_report()))
            if pc in self.early_vectors:
                return self._end(RunResult(
                    "crash", self.output, self.instructions,
                    f"CRASH: exception at vector {pc:#x} before the kernel installed its own "
                    f"(ELR_EL2 unknown to the runner)"))
            return self._end(RunResult("crash", self.output, self.instructions,
                                       f"CRASH: QEMU stopped unexpectedly ({stop}) at pc {pc:#x} "
                                       f"{self.describe(pc)}"))

    def _sysreg_numbers(self) -> dict[str, int]:
        if not hasattr(self, "_sysregs"):
            import re
            self._sysregs = {}
            xml, off = "", 0
            while True:
                reply = self._request(f"qXfer:features:read:system-registers.xml:{off:x},ffb")
                if not reply or reply[0] not in "ml":
                    break
                xml += reply[1:]
                off += len(reply) - 1
                if reply[0] == "l":
                    break
            for m in re.finditer(r'<reg name="([^"]+)"[^>]*regnum="(\d+)"', xml):
                self._sysregs[m.group(1)] = int(m.group(2))
        return self._sysregs

    def _exited(self, stop: str = "") -> RunResult:
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            code = None
        self._drain_after_exit()
        if code == 0:
            return RunResult("off", self.output, self.instructions)
        err = bytes(self._stderr).decode(errors="replace").strip()
        return RunResult("crash", self.output, self.instructions,
                         f"CRASH: QEMU exited with status {code} {stop}\n{err}")

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
        return self._end(RunResult("limit", self.output, self.instructions,
                                   f"no prompt within {BASE_SECONDS:.0f} s plus the instruction "
                                   f"limit's worth at {MIN_RATE:,} instructions/s{where}"))

    def _end(self, result: RunResult) -> RunResult:
        self._ended = result
        return result

    def _panic_report(self) -> str:
        """kernel/vectors.S's panic keeps the frame in x20: x0-x30, SP_EL0,
        ELR, SPSR, ESR, FAR."""
        frame = self._reg(20)
        words = struct.unpack("<36Q", self._mem(frame, 36 * 8))
        elr, esr, far = words[32], words[34], words[35]
        lines = ["CRASH: kernel panic",
                 f"  class: {decode_esr(esr)} (ESR {esr:#010x})",
                 f"  ELR {elr:#x} {self.describe(elr)}",
                 f"  FAR {far:#x} {self.describe(far)}"]
        names = [f"x{i}" for i in range(31)] + ["sp_el0"]
        for i in range(0, len(names), 4):
            lines.append("  " + "  ".join(f"{n:>6} {words[j]:#018x}"
                                          for j, n in enumerate(names[i:i + 4], i)))
        return "\n".join(lines)

    def read_symbol(self, name: str, size: int = 8) -> bytes:
        """Guest memory at a kernel symbol (the guest must be stopped, as it
        is after run())."""
        addr = _symbol_table(self.elf).get(name)
        if addr is None:
            raise QemuError(f"no symbol '{name}' in {self.elf}")
        return self._mem(addr, size)

    def describe(self, addr: int) -> str:
        return self.symbols.describe(addr, self.load_base)

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
