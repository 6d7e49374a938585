"""boot_args as m1n1 hands them to a chainloaded kernel, and where it puts them.

The layout is XNU's (docs/hardware.md boot_args, and m1n1's own Python view of
it, proxyclient/m1n1/tgtypes.py BootArgs_r1/r2/r3): cmdline starts at 0x6c.
m1n1's C header (src/xnuboot.h) would place it at 0x70 because of the
union's alignment, but m1n1 only copies the bytes iBoot gave it
(src/startup.c memcpy, src/chainload.c struct copy) or rebuilds them with
tgtypes.py, so what the kernel receives follows the table.  The revision
field selects the cmdline length and with it where boot_flags and
mem_size_actual sit.

The emulated M3 builds its boot_args with build_boot_args(); the tests read
them back with parse_boot_args() and, independently, at the table offsets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

PAGE_16K = 0x4000
BOOT_ARGS_REGION = 0x4000      # m1n1 reserves 16 KiB for them (bootargs_size)
VERSION_2 = 2                  # XNU kBootArgsVersion2, what iBoot reports on arm64

# cmdline length per revision (src/xnuboot.h CMDLINE_LENGTH_RV1/2/3).
CMDLINE_LENGTH = {1: 256, 2: 608, 3: 1024}

# The fixed part, 0x00..0x6c: revision version pad4 virt_base phys_base
# mem_size top_of_kernel_data video{base display stride width height depth}
# machine_type pad4 devtree devtree_size.
_HEAD = "<HH4xQQQQ6QI4xQI"
# Then cmdline[n], 4 bytes of padding (to 8-align boot_flags), boot_flags,
# mem_size_actual.
LAYOUTS = {rev: struct.Struct(f"{_HEAD}{n}s4xQQ") for rev, n in CMDLINE_LENGTH.items()}
FIELDS = ("revision", "version", "virt_base", "phys_base", "mem_size", "top_of_kernel_data",
          "video", "machine_type", "devtree", "devtree_size", "cmdline", "boot_flags",
          "mem_size_actual")
CMDLINE_OFFSET = struct.calcsize(_HEAD)
assert CMDLINE_OFFSET == 0x6C and LAYOUTS[3].size == 0x480


class BootArgsError(ValueError):
    """boot_args that m1n1 would not produce or a kernel could not trust."""


class Video(NamedTuple):
    """boot_args.video: the framebuffer iBoot set up.  depth: bits 7:0 bits
    per pixel (30 = x2r10g10b10, 32 = x8r8g8b8), 15:8 rotate, 23:16 scale."""
    base: int
    display: int
    stride: int
    width: int
    height: int
    depth: int


def _layout(revision: int) -> struct.Struct:
    # proxyclient/tools/chainload.py writes BootArgs_r1 for any revision <= 1.
    layout = LAYOUTS.get(1 if revision == 0 else revision)
    if layout is None:
        raise BootArgsError(f"boot_args revision {revision} is unknown: m1n1 knows 1, 2 and 3")
    return layout


def _check_aligned(name: str, value: int) -> None:
    if value % PAGE_16K:
        raise BootArgsError(f"{name} {value:#x} is not 16 KiB aligned")


def build_boot_args(revision: int, virt_base: int, phys_base: int, mem_size: int,
                    top_of_kernel_data: int, video: Video | tuple, machine_type: int,
                    devtree: int, devtree_size: int, cmdline: str | bytes = "",
                    boot_flags: int = 0, mem_size_actual: int = 0,
                    version: int = VERSION_2) -> bytes:
    """The boot_args bytes for `revision` (0x180, 0x2e0 or 0x480 long, as
    tgtypes.py builds them; m1n1 leaves the rest of the 16 KiB unwritten).

    devtree is a virtual address: the kernel finds the ADT at
    devtree - virt_base + phys_base.
    """
    if revision not in CMDLINE_LENGTH:
        raise BootArgsError(f"boot_args revision {revision} is unknown: m1n1 knows 1, 2 and 3")
    layout = LAYOUTS[revision]
    limit = CMDLINE_LENGTH[revision]
    if isinstance(cmdline, str):
        try:
            cmdline = cmdline.encode("ascii")
        except UnicodeEncodeError:
            raise BootArgsError(f"cmdline {cmdline!r} is not ASCII") from None
    if b"\0" in cmdline:
        raise BootArgsError("cmdline contains a NUL byte; it would be cut there")
    if len(cmdline) >= limit:
        raise BootArgsError(f"cmdline is {len(cmdline)} bytes; revision {revision} holds "
                            f"{limit - 1} plus the terminating NUL")
    for name, value in (("virt_base", virt_base), ("phys_base", phys_base),
                        ("top_of_kernel_data", top_of_kernel_data)):
        _check_aligned(name, value)
    if mem_size <= 0:
        raise BootArgsError(f"mem_size {mem_size:#x} must be positive")
    ram_end = phys_base + mem_size
    if not phys_base < top_of_kernel_data <= ram_end:
        raise BootArgsError(f"top_of_kernel_data {top_of_kernel_data:#x} is outside RAM "
                            f"({phys_base:#x}..{ram_end:#x})")
    if devtree:
        dt_phys = devtree - virt_base + phys_base
        if not (phys_base <= dt_phys and dt_phys + devtree_size <= ram_end):
            raise BootArgsError(f"devtree {devtree:#x} (physical {dt_phys:#x}, {devtree_size:#x} bytes) "
                                f"is outside RAM ({phys_base:#x}..{ram_end:#x})")
    video = Video(*video)
    try:
        return layout.pack(revision, version, virt_base, phys_base, mem_size, top_of_kernel_data,
                           *video, machine_type, devtree, devtree_size, cmdline,
                           boot_flags, mem_size_actual)
    except struct.error as e:
        raise BootArgsError(f"a boot_args field does not fit its width: {e}") from None


def parse_boot_args(data: bytes) -> dict:
    """The fields of boot_args bytes, by the revision they declare.

    The keys are build_boot_args' parameters, so
    build_boot_args(**parse_boot_args(b)) gives b back (for revisions 1-3).
    """
    if len(data) < 2:
        raise BootArgsError("boot_args too short to hold a revision")
    revision = int.from_bytes(data[:2], "little")
    layout = _layout(revision)
    if len(data) < layout.size:
        raise BootArgsError(f"boot_args revision {revision} needs {layout.size:#x} bytes, got {len(data):#x}")
    v = layout.unpack_from(data)
    out = dict(zip(FIELDS[:6], v[:6]))
    out["video"] = Video(*v[6:12])
    out.update(zip(FIELDS[7:], v[12:]))
    out["cmdline"] = out["cmdline"].split(b"\0", 1)[0].decode("latin-1")
    return out


# --- Placement after a chainloaded image ---------------------------------------
#
# From m1n1:
#   proxyclient/tools/chainload.py (proxy, raw or Mach-O):
#     image += 4 zero bytes                  (Mach-O: image = prepare_image(), vmax - vmin)
#     sepfw_off    = align(len(image))       align() = align_up(v, 16384), m1n1/utils.py
#     preoslog_off = sepfw_off + align(sepfw_length)
#     bootargs_off = preoslog_off + align(preoslog_size)   (0 if the ADT has no preoslog)
#     image_size   = bootargs_off + 0x4000
#     top_of_kernel_data = new_base + image_size; entry x0 = new_base + bootargs_off
#   src/chainload.c (stage-1 `chainload=` variable):
#     the chosen.* variables as "name=value\n" lines, then 4 zero bytes, after the
#     file; SEPFW; boot_args; the same 16 KiB alignment; no preoslog.
# Only the image, the 4 zero bytes, SEPFW, preoslog and the boot_args struct are
# written; the alignment padding between them (and the 16 KiB region past the
# struct) is whatever m1n1's heap held.  Since the 4 bytes are appended first,
# an image that is already a 16 KiB multiple gets one more 16 KiB page before
# SEPFW.

# Sizes the emulated M3 uses when it is not told the real ones.  Not from a
# device: chosen to be nonzero and not 16 KiB multiples, so a kernel that
# assumes boot_args right after its image, or SEPFW aligned by luck, fails.
DEFAULT_SEPFW_SIZE = 0x1F_0200
DEFAULT_PREOSLOG_SIZE = 0x1_2000 + 0x80


def _align(v: int) -> int:
    return -(-v // PAGE_16K) * PAGE_16K


@dataclass(frozen=True)
class AfterImage:
    """Physical addresses of what m1n1 places after the image at load_base."""
    load_base: int
    image_size: int
    pad: int                 # the 4 zero bytes, right after the image (and the vars)
    sepfw: int
    sepfw_size: int
    preoslog: int
    preoslog_size: int
    boot_args: int           # x0 at entry; BOOT_ARGS_REGION bytes reserved
    top_of_kernel_data: int  # free RAM starts here

    @property
    def entry(self) -> int:
        return self.load_base + 0x800


def layout_after_image(load_base: int, image_size: int, sepfw_size: int = DEFAULT_SEPFW_SIZE,
                       preoslog_size: int | None = None, *, path: str = "proxy",
                       vars_size: int = 0) -> AfterImage:
    """Where m1n1 puts the 4 zero bytes, SEPFW, preoslog and boot_args after
    an image of image_size bytes loaded at load_base (m1n1's own _base).

    path "proxy" is chainload.py; "stage1" is src/chainload.c, which appends
    vars_size bytes of variables before the pad and carries no preoslog.
    chainload.py -n (no SEPFW) is sepfw_size=0, preoslog_size=0.
    """
    _check_aligned("load_base", load_base)
    if image_size <= 0:
        raise BootArgsError(f"image_size {image_size:#x} must be positive")
    if path == "proxy":
        if vars_size:
            raise BootArgsError("only stage-1 chainload (src/chainload.c) appends variables")
        if preoslog_size is None:
            preoslog_size = DEFAULT_PREOSLOG_SIZE
    elif path == "stage1":
        if preoslog_size:
            raise BootArgsError("stage-1 chainload (src/chainload.c) does not carry preoslog")
        preoslog_size = 0
    else:
        raise BootArgsError(f"path {path!r} is unknown: 'proxy' (chainload.py) or 'stage1' (src/chainload.c)")
    if min(sepfw_size, preoslog_size, vars_size) < 0:
        raise BootArgsError("sizes must not be negative")

    pad = load_base + image_size + vars_size
    sepfw = load_base + _align(image_size + vars_size + 4)
    preoslog = sepfw + _align(sepfw_size)
    boot_args = preoslog + _align(preoslog_size)
    return AfterImage(load_base, image_size, pad, sepfw, sepfw_size, preoslog, preoslog_size,
                      boot_args, boot_args + BOOT_ARGS_REGION)
