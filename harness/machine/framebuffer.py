"""The framebuffer m1n1 hands over, seen from the harness: pixels out of
emulated memory, PNG screenshots, and a write watch for latency figures.

Pixel formats (boot_args.video.depth, docs/hardware.md boot_args):
depth 30 = x2r10g10b10 (R 29:20, G 19:10, B 9:0), depth 32 = x8r8g8b8.
Either way a pixel is one little-endian 32-bit word; rows are `stride`
bytes apart (stride >= 4 * width).

PNG is written with zlib and struct only (8-bit RGB, no new dependency).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from unicorn import UC_HOOK_MEM_WRITE

from harness.bootargs import Video


def to_rgb8(word: int, depth: int) -> tuple[int, int, int]:
    """One pixel word as 8-bit (r, g, b)."""
    if depth == 30:
        return (word >> 22) & 0xFF, (word >> 12) & 0xFF, (word >> 2) & 0xFF
    return (word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF


def from_rgb8(r: int, g: int, b: int, depth: int) -> int:
    """8-bit (r, g, b) as the kernel's fb-rgb makes a pixel word: each
    channel widened to 10 bits by repeating its top bits (0xff -> 0x3ff)."""
    if depth == 30:
        w = lambda c: (c << 2) | (c >> 6)  # noqa: E731
        return (w(r) << 20) | (w(g) << 10) | w(b)
    return (r << 16) | (g << 8) | b


def png_bytes(width: int, height: int, rgb_rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from rows of width*3 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + row for row in rgb_rows)   # filter type 0 on every row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) \
        + chunk(b"IEND", b"")


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, RGB rows) of a PNG png_bytes wrote (filter 0 only):
    for tests that check a screenshot file."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    return width, height, [raw[i * stride + 1:(i + 1) * stride] for i in range(height)]


class Framebuffer:
    """The framebuffer of an emulated machine: `video` as boot_args says."""

    def __init__(self, uc, video: Video):
        self.uc = uc
        self.video = video

    @property
    def width(self) -> int:
        return self.video.width

    @property
    def height(self) -> int:
        return self.video.height

    def words(self, x: int, y: int, w: int, h: int) -> list[list[int]]:
        """Pixel words of a rectangle, row by row."""
        v = self.video
        out = []
        for row in range(y, y + h):
            raw = bytes(self.uc.mem_read(v.base + row * v.stride + 4 * x, 4 * w))
            out.append(list(struct.unpack(f"<{w}I", raw)))
        return out

    def pixel(self, x: int, y: int) -> int:
        return self.words(x, y, 1, 1)[0][0]

    def rgb_rows(self) -> list[bytes]:
        v = self.video
        rows = []
        for row in range(v.height):
            raw = bytes(self.uc.mem_read(v.base + row * v.stride, 4 * v.width))
            if v.depth == 32:       # x8r8g8b8 little endian: b g r x
                rgb = bytearray(3 * v.width)
                rgb[0::3], rgb[1::3], rgb[2::3] = raw[2::4], raw[1::4], raw[0::4]
            else:
                rgb = bytearray()
                for (word,) in struct.iter_unpack("<I", raw):
                    rgb += bytes(to_rgb8(word, v.depth))
            rows.append(bytes(rgb))
        return rows

    def png(self) -> bytes:
        return png_bytes(self.width, self.height, self.rgb_rows())

    def screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.png())
        return path

    def watch_writes(self, clock):
        """Record (address, clock()) for every store into the framebuffer
        until the returned handle's stop() is called.  Measurement runs
        only: a memory hook slows the emulator down."""
        v = self.video
        log: list[tuple[int, int]] = []

        def hook(uc, access, address, size, value, _user):
            log.append((address, clock()))

        h = self.uc.hook_add(UC_HOOK_MEM_WRITE, hook, begin=v.base, end=v.base + v.stride * v.height - 1)

        class Watch:
            writes = log

            def stop(_self):
                self.uc.hook_del(h)
        return Watch()
