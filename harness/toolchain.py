"""The cross toolchain: clang and lld from the ziglang wheel.

Everything runs as `python -m ziglang ...` with the venv's interpreter, so the
toolchain is whatever pip installed, on Linux and macOS alike.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TARGET = ["-target", "aarch64-freestanding", "-mcpu=apple_m3"]


class ToolchainError(RuntimeError):
    """A tool failed; the message carries its command line and output."""


def _run(args: list[str], what: str) -> None:
    cmd = [sys.executable, "-m", "ziglang", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()
        raise ToolchainError(f"{what} failed:\n{out}")


def assemble(source: Path, obj: Path, defines: dict[str, str], includes: list[Path]) -> None:
    args = ["cc", *TARGET, "-c", "-o", str(obj), str(source), "-Wa,--fatal-warnings",
            "-g0"]
    args += [f"-D{k}={v}" for k, v in defines.items()]
    args += [f"-I{p}" for p in includes]
    _run(args, f"assembling {source.name}")


def link(objects: list[Path], script: Path, out: Path, defsyms: dict[str, int]) -> None:
    args = ["ld.lld", "-static", "--no-pie", "-nostdlib", "-z", "noexecstack",
            "--fatal-warnings", "-T", str(script), "-o", str(out)]
    args += [f"--defsym={k}={v:#x}" for k, v in defsyms.items()]
    args += [str(o) for o in objects]
    _run(args, "linking")


def host_cc(source: Path, out: Path, extra: list[str] | None = None) -> None:
    """Compile a small host shared library (the emulator's native hooks)."""
    args = ["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(source), *(extra or [])]
    _run(args, f"compiling {source.name} for the host")
