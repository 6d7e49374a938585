"""A test oracle: read a Mach-O the way m1n1's proxyclient does.

Written from proxyclient/m1n1/macho.py (MachO.load_info, prepare_image) and
proxyclient/tools/chainload.py, not from harness/payload.py, and sharing no
code with it, so a misunderstanding in the writer cannot hide in the reader.

The rules, as m1n1 applies them:
- walk `ncmds` load commands, each `cmdsize` long;
- LC_SEGMENT_64 (0x19): vmin/vmax over all of them; sections ignored;
- LC_UNIXTHREAD (0x5): the entry is the pc of its first state (of the last
  such command), which must be flavor 6 (ARM_THREAD_STATE64: x0..x28, fp, lr, sp, pc, cpsr, pad);
- every other command (LC_MAIN included) is ignored;
- image = zeros(vmax - vmin); each segment's bytes from fileoff (at most
  filesize, cut at the end of the file) go to vmaddr - vmin; the rest of
  vmsize stays zero; a segment named PYLD truncates the image (m1n1's own
  payload marker; our writer must never produce one);
- entry offset = pc - vmin (chainload.py adds its own base).
"""

from __future__ import annotations


class NotLikeM1n1(ValueError):
    """m1n1's loader would fail on (or misread) this file."""


def _u32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off:off + 4], "little")


def _u64(b: bytes, off: int) -> int:
    return int.from_bytes(b[off:off + 8], "little")


def read_macho_like_m1n1(data: bytes) -> tuple[bytes, int]:
    if _u32(data, 0) != 0xFEEDFACF:
        raise NotLikeM1n1("not a 64-bit little-endian Mach-O")
    ncmds = _u32(data, 16)
    pos = 32                      # mach_header_64 is 8 words
    segments, entry = [], None
    for _ in range(ncmds):
        cmd, cmdsize = _u32(data, pos), _u32(data, pos + 4)
        if cmdsize < 8 or pos + cmdsize > len(data):
            raise NotLikeM1n1(f"load command at {pos:#x} has a bad cmdsize {cmdsize:#x}")
        if cmd == 0x19:
            # cmd, cmdsize, segname[16], then vmaddr vmsize fileoff filesize
            name = data[pos + 8:pos + 24].rstrip(b"\0").decode("ascii")
            vmaddr, vmsize, fileoff, filesize = (_u64(data, pos + 24 + 8 * i) for i in range(4))
            if (cmdsize - 72) % 80:
                raise NotLikeM1n1(f"segment {name}: cmdsize {cmdsize} leaves a partial section")
            segments.append((name, vmaddr, vmsize, fileoff, filesize))
        elif cmd == 0x5:          # like load_info, the last one wins
            flavor, count = _u32(data, pos + 8), _u32(data, pos + 12)
            if flavor != 6:
                raise NotLikeM1n1(f"LC_UNIXTHREAD flavor {flavor}: m1n1 knows only 6")
            state = pos + 16
            # 29 x registers, fp, lr, sp: pc is the 33rd doubleword
            entry = _u64(data, state + 32 * 8)
            if count * 4 < 33 * 8 + 8:
                raise NotLikeM1n1(f"thread state count {count} is too short to hold pc")
        pos += cmdsize
    if not segments:
        raise NotLikeM1n1("no LC_SEGMENT_64")
    if entry is None:
        raise NotLikeM1n1("no LC_UNIXTHREAD: m1n1 finds no entry (LC_MAIN is not read)")

    vmin = min(s[1] for s in segments)
    vmax = max(s[1] + s[2] for s in segments)
    image = bytearray(vmax - vmin)
    for name, vmaddr, vmsize, fileoff, filesize in segments:
        if name == "PYLD":
            raise NotLikeM1n1("segment PYLD: m1n1 would truncate the image there")
        dest = vmaddr - vmin
        size = min(len(data), fileoff + filesize) - fileoff
        image[dest:dest + size] = data[fileoff:fileoff + size]
        if vmsize > size:
            image[dest + size:dest + vmsize] = bytes(vmsize - size)
    return bytes(image), entry - vmin
