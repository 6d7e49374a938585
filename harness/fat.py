"""FAT32 on an image file: read it, write it, format it and check it, in
pure Python, with no root and no mounting.

Why: storage is FAT32 (every host reads it), and the tests need a reader
of their own to check what the kernel writes, one that says exactly what
is wrong.  So this module is strict: an image that breaks a rule of the
format is refused with a FatError naming the rule, never read around, and
never answered with an IndexError, a struct.error or a loop that does not
end (every cluster chain is checked for loops and out-of-range entries as
it is followed).  `Volume.check()` goes further and walks the whole volume
the way fsck.fat does: FAT copies, lost and cross-linked clusters, file
sizes against chains, FSInfo, the backup boot sector.

The on-disk facts are Microsoft's "FAT: General Overview of On-Disk
Format" (fatgen103.doc, version 1.03, 2000); comments cite its section
titles in quotes.  Two things it does not describe are taken from what
Windows NT, Linux vfat and mtools do: the DIR_NTRes case bits (0x08: the
base name is lower case, 0x10: the extension is), and that drivers update
the primary FSInfo sector only, never the backup one.

Names: long names are VFAT long directory entries (UCS-2, a checksum of
the short name); a short 8.3 alias is made for every long name by the
"Basis-Name Generation Algorithm" and its ~N "Numeric-Tail Generation
Algorithm"; a name that fits 8.3 in one case per part gets no long name,
only the case bits (as Windows NT and mtools write "readme.txt").  Lookups
ignore case, matching the long name or the short one, as on every FAT
driver.

Only FAT32 is read or written: a volume with fewer than 65525 clusters is
FAT12/16 by "FAT Type Determination" (the only rule the spec gives) and is
refused, even if mkfs.fat -F 32 made it.
"""

from __future__ import annotations

import array
import os
import struct
import sys
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Iterator


class FatError(ValueError):
    """An image that is not a valid FAT32 volume, or an operation the
    volume cannot do (no such file, disk full, a bad name)."""


class FatNotFound(FatError):
    """A path that names nothing in the volume."""


# --- The on-disk structures, each declared once -----------------------------

def _struct(name: str, fields: tuple) -> tuple[struct.Struct, type]:
    """A little-endian struct and a namedtuple from a (field, offset, code)
    table, checking that the offsets are the ones the spec gives."""
    fmt, names = "<", []
    for field, offset, code in fields:
        if struct.calcsize(fmt) != offset:
            raise AssertionError(f"{name}.{field}: offset {offset}, table gives {struct.calcsize(fmt)}")
        fmt += code
        names.append(field)
    return struct.Struct(fmt), namedtuple(name, names)


# "Boot Sector and BPB" (offsets 0..35, all FAT types) and "FAT32 Structure
# Starting at Offset 36".
_BPB, Bpb = _struct("Bpb", (
    ("BS_jmpBoot", 0, "3s"),
    ("BS_OEMName", 3, "8s"),
    ("BPB_BytsPerSec", 11, "H"),
    ("BPB_SecPerClus", 13, "B"),
    ("BPB_RsvdSecCnt", 14, "H"),
    ("BPB_NumFATs", 16, "B"),
    ("BPB_RootEntCnt", 17, "H"),
    ("BPB_TotSec16", 19, "H"),
    ("BPB_Media", 21, "B"),
    ("BPB_FATSz16", 22, "H"),
    ("BPB_SecPerTrk", 24, "H"),
    ("BPB_NumHeads", 26, "H"),
    ("BPB_HiddSec", 28, "I"),
    ("BPB_TotSec32", 32, "I"),
    ("BPB_FATSz32", 36, "I"),
    ("BPB_ExtFlags", 40, "H"),
    ("BPB_FSVer", 42, "H"),
    ("BPB_RootClus", 44, "I"),
    ("BPB_FSInfo", 48, "H"),
    ("BPB_BkBootSec", 50, "H"),
    ("BPB_Reserved", 52, "12s"),
    ("BS_DrvNum", 64, "B"),
    ("BS_Reserved1", 65, "B"),
    ("BS_BootSig", 66, "B"),
    ("BS_VolID", 67, "I"),
    ("BS_VolLab", 71, "11s"),
    ("BS_FilSysType", 82, "8s"),
))
assert _BPB.size == 90

# "FAT32 FSInfo Sector Structure and Backup Boot Sector".
_FSINFO, FsInfo = _struct("FsInfo", (
    ("FSI_LeadSig", 0, "I"),
    ("FSI_Reserved1", 4, "480s"),
    ("FSI_StrucSig", 484, "I"),
    ("FSI_Free_Count", 488, "I"),
    ("FSI_Nxt_Free", 492, "I"),
    ("FSI_Reserved2", 496, "12s"),
    ("FSI_TrailSig", 508, "I"),
))
assert _FSINFO.size == 512
FSI_LEAD_SIG = 0x41615252
FSI_STRUC_SIG = 0x61417272
FSI_TRAIL_SIG = 0xAA550000
FSI_UNKNOWN = 0xFFFFFFFF            # FSI_Free_Count / FSI_Nxt_Free: "not known"

# "FAT Directory Structure": the 32-byte short entry.
_DIR, DirEntry = _struct("DirEntry", (
    ("DIR_Name", 0, "11s"),
    ("DIR_Attr", 11, "B"),
    ("DIR_NTRes", 12, "B"),
    ("DIR_CrtTimeTenth", 13, "B"),
    ("DIR_CrtTime", 14, "H"),
    ("DIR_CrtDate", 16, "H"),
    ("DIR_LstAccDate", 18, "H"),
    ("DIR_FstClusHI", 20, "H"),
    ("DIR_WrtTime", 22, "H"),
    ("DIR_WrtDate", 24, "H"),
    ("DIR_FstClusLO", 26, "H"),
    ("DIR_FileSize", 28, "I"),
))
# "FAT Long Directory Entries": 13 UCS-2 characters of a long name.
_LDIR, LdirEntry = _struct("LdirEntry", (
    ("LDIR_Ord", 0, "B"),
    ("LDIR_Name1", 1, "10s"),
    ("LDIR_Attr", 11, "B"),
    ("LDIR_Type", 12, "B"),
    ("LDIR_Chksum", 13, "B"),
    ("LDIR_Name2", 14, "12s"),
    ("LDIR_FstClusLO", 26, "H"),
    ("LDIR_Name3", 28, "4s"),
))
assert _DIR.size == _LDIR.size == 32
ENTRY = 32

ATTR_READ_ONLY = 0x01
ATTR_HIDDEN = 0x02
ATTR_SYSTEM = 0x04
ATTR_VOLUME_ID = 0x08
ATTR_DIRECTORY = 0x10
ATTR_ARCHIVE = 0x20
ATTR_LONG_NAME = ATTR_READ_ONLY | ATTR_HIDDEN | ATTR_SYSTEM | ATTR_VOLUME_ID
ATTR_LONG_NAME_MASK = ATTR_LONG_NAME | ATTR_DIRECTORY | ATTR_ARCHIVE
LAST_LONG_ENTRY = 0x40
LFN_CHARS = 13                      # UCS-2 characters per long entry
MAX_LONG_NAME = 255                 # "FAT Long Directory Entries": 255 characters, the NUL not counted
FREE_ENTRY = 0xE5                   # DIR_Name[0]: the entry is free
END_OF_DIR = 0x00                   # DIR_Name[0]: free, and so is every entry after it
KANJI_E5 = 0x05                     # DIR_Name[0]: the name really starts with 0xE5
NTRES_LOWER_BASE = 0x08             # Windows NT / mtools / Linux: base shown in lower case
NTRES_LOWER_EXT = 0x10              # and the extension
MAX_DIR_ENTRIES = 65536             # fatgen103's limit on the 32-byte entries of one directory
DOT = b".          "
DOTDOT = b"..         "

# "FAT Data Structure": FAT32 entries are 28 bits, the high 4 reserved (kept
# as found when an entry is written).
FAT32_MASK = 0x0FFFFFFF
FAT32_RESERVED = 0xF0000000
FAT_BAD = 0x0FFFFFF7
FAT_EOC_MIN = 0x0FFFFFF8            # anything from here up ends a chain
FAT_EOC = 0x0FFFFFFF                # what this module writes
CLN_SHUT_BIT = 0x08000000           # FAT[1]: 1 = the volume was dismounted cleanly
HRD_ERR_BIT = 0x04000000            # FAT[1]: 1 = no disk I/O error was met
MIN_CLUSTERS = 65525                # "FAT Type Determination": fewer is FAT12 or FAT16
MAX_CLUSTERS = 0x0FFFFFF5           # clusters 2..0x0FFFFFF6; 0x0FFFFFF7 means bad
MAX_FILE_SIZE = 0xFFFFFFFF          # DIR_FileSize is 32 bits

SECTOR_SIZES = (512, 1024, 2048, 4096)  # BPB_BytsPerSec: the only values it may take
MAX_CLUSTER_BYTES = 32 * 1024       # BPB_SecPerClus: never a value making clusters larger than 32K
MEDIA = (0xF0, *range(0xF8, 0x100))  # BPB_Media: its legal values

# "FAT Directory Structure": bytes never valid in DIR_Name (besides < 0x20
# and lower case letters; 0x05 at DIR_Name[0] is KANJI_E5).
_SHORT_ILLEGAL = frozenset(b'"*+,./:;<=>?[\\]|')
# "FAT Long Directory Entries": characters never valid in a long name
# (besides < 0x20); + , ; = [ ] are valid there but not in a short name.
_LONG_ILLEGAL = frozenset('"*/:<>?\\|')
OEM_CODEPAGE = "cp850"              # short names on read (mkfs.fat's and mtools' default); we write ASCII


# --- Dates and times ("Date and Time Formats") -----------------------------

def _pack_date(t: datetime) -> tuple[int, int, int]:
    """(date, time, tenths) of t, clamped to what FAT holds: 1980-01-01 to
    2107-12-31, two-second resolution in the time, the odd second in
    DIR_CrtTimeTenth (count of 10 ms units, 0..199)."""
    if t.year < 1980:
        t = datetime(1980, 1, 1)
    elif t.year > 2107:
        t = datetime(2107, 12, 31, 23, 59, 59)
    date = ((t.year - 1980) << 9) | (t.month << 5) | t.day
    tod = (t.hour << 11) | (t.minute << 5) | (t.second // 2)
    return date, tod, (t.second % 2) * 100 + t.microsecond // 10000


def _unpack_date(date: int, tod: int = 0) -> datetime | None:
    """The datetime a FAT date and time stand for, None for a zero date
    (never set) or one that is not a date."""
    try:
        return datetime(1980 + (date >> 9), (date >> 5) & 15, date & 31,
                        tod >> 11, (tod >> 5) & 63, (tod & 31) * 2)
    except ValueError:
        return None


def _date_valid(date: int, tod: int | None) -> bool:
    if tod is not None and (tod >> 11 > 23 or (tod >> 5) & 63 > 59 or (tod & 31) > 29):
        return False
    return date == 0 or _unpack_date(date) is not None


# --- Names -----------------------------------------------------------------

def lfn_checksum(short11: bytes) -> int:
    """ChkSum() of "FAT Long Directory Entries": every long entry of a name
    carries this checksum of its short entry's DIR_Name."""
    s = 0
    for b in short11:
        s = (((s & 1) << 7) + (s >> 1) + b) & 0xFF
    return s


def fold(name: str) -> str:
    """A name as FAT compares names: case does not count (upper case, one
    character for one, as the upcase table of a FAT driver maps them)."""
    out = []
    for ch in name:
        up = ch.upper()
        out.append(up if len(up) == 1 else ch)
    return "".join(out)


def _short_display(name11: bytes, ntres: int = 0) -> str:
    """DIR_Name as a person writes it: "README.TXT", with the NT case bits
    applied when asked."""
    raw = bytes([FREE_ENTRY]) + name11[1:] if name11[0] == KANJI_E5 else name11
    base = raw[:8].rstrip(b" ").decode(OEM_CODEPAGE)
    ext = raw[8:].rstrip(b" ").decode(OEM_CODEPAGE)
    if ntres & NTRES_LOWER_BASE:
        base = base.lower()
    if ntres & NTRES_LOWER_EXT:
        ext = ext.lower()
    return f"{base}.{ext}" if ext else base


def _short_problem(name11: bytes) -> str | None:
    """What makes DIR_Name invalid ("FAT Directory Structure"), or None."""
    if name11[0] == 0x20:
        return "DIR_Name[0] is a space"
    for i, b in enumerate(name11):
        if b < 0x20 and not (i == 0 and b == KANJI_E5):
            return f"byte {b:#04x} at DIR_Name[{i}]"
        if b in _SHORT_ILLEGAL:
            return f"{chr(b)!r} at DIR_Name[{i}]"
        if 0x61 <= b <= 0x7A:
            return f"lower case {chr(b)!r} at DIR_Name[{i}]"
    return None


def check_long_name(name: str) -> None:
    """Refuse a name this module will not create (FatError saying why):
    the rules of "FAT Long Directory Entries" (1..255 UCS-2 characters,
    none below 0x20 nor any of \" * / : < > ? \\ |), with the spaces and
    periods Windows would silently strip refused instead."""
    if not name:
        raise FatError("an empty name")
    if name in (".", ".."):
        raise FatError(f"{name!r} is reserved (every directory's own entries)")
    if len(name) > MAX_LONG_NAME:
        raise FatError(f"name {name[:20]!r}... is {len(name)} characters: a long name holds {MAX_LONG_NAME}")
    for ch in name:
        if ord(ch) < 0x20 or ch in _LONG_ILLEGAL:
            raise FatError(f"name {name!r}: {ch!r} is not allowed in a FAT name")
        if ord(ch) > 0xFFFF or 0xD800 <= ord(ch) <= 0xDFFF:
            raise FatError(f"name {name!r}: {ch!r} is outside UCS-2 (the 16-bit characters a long name holds)")
    if name[0] == " " or name[-1] in " .":
        raise FatError(f"name {name!r}: a FAT name cannot start with a space or end with a space or period")


def _short_char_ok(ch: str) -> bool:
    return 0x20 < ord(ch) < 0x7F and ord(ch) not in _SHORT_ILLEGAL and not ("a" <= ch <= "z")


def _split83(text: str) -> tuple[str, str] | None:
    """(base, ext) if text is exactly an 8.3 name (one optional period,
    1-8 and 0-3 characters that are legal in a short name once upper
    cased), else None."""
    base, dot, ext = text.partition(".")
    if not 1 <= len(base) <= 8 or len(ext) > 3 or (dot and not ext) or "." in ext:
        return None
    if not all(_short_char_ok(c) for c in fold(base + ext)):
        return None
    return base, ext


def _name11(base: str, ext: str) -> bytes:
    return base.encode("ascii").ljust(8, b" ") + ext.encode("ascii").ljust(3, b" ")


def _one_case(part: str) -> int | None:
    """0 if part has no lower case letter, 1 if it has no upper case one
    (and some lower case), None if it mixes them."""
    lower = any(c.islower() for c in part)
    upper = any(c.isupper() for c in part)
    if lower and upper:
        return None
    return 1 if lower else 0


def _basis(name: str) -> tuple[str, str, bool]:
    """(primary, extension, exact) by the "Basis-Name Generation Algorithm":
    upper case; a character that is not ASCII or not valid in a short
    name becomes '_' (a lossy conversion); spaces are stripped, then
    leading periods; the primary is what comes before the first period (at
    most 8), the extension the first 3 after the last one.  exact: no loss
    and nothing cut, so no numeric tail is needed."""
    up = fold(name)
    conv, lossy = [], False
    for ch in up:
        if ch in " ." or _short_char_ok(ch):
            conv.append(ch)
        else:
            conv.append("_")
            lossy = True
    s = "".join(conv).replace(" ", "").lstrip(".")
    primary = s.split(".", 1)[0][:8]
    ext = s.rsplit(".", 1)[1][:3] if "." in s else ""
    if not primary:                 # e.g. a name of periods and spaces only (refused before here)
        primary, lossy = "_", True
    exact = not lossy and up == (f"{primary}.{ext}" if ext else primary)
    return primary, ext, exact


def short_name_for(name: str, taken: set[bytes]) -> tuple[bytes, int, bool]:
    """(DIR_Name, DIR_NTRes, needs_long_name) for a new entry called
    `name` in a directory whose short names are `taken`.  A name that is
    8.3 in one case per part is stored short only (upper case, with the NT
    case bits for lower case parts); any other gets a long name and a
    short alias, with a ~N tail ("Numeric-Tail Generation Algorithm") when
    the basis lost or cut something or is taken."""
    check_long_name(name)
    parts = _split83(name)
    if parts is not None:
        base, ext = parts
        cb, ce = _one_case(base), _one_case(ext)
        n11 = _name11(fold(base), fold(ext))
        if cb is not None and ce is not None and n11 not in taken:
            return n11, (NTRES_LOWER_BASE if cb else 0) | (NTRES_LOWER_EXT if ce else 0), False
    primary, ext, exact = _basis(name)
    n11 = _name11(primary, ext)
    if exact and n11 not in taken:
        return n11, 0, True
    for n in range(1, 1_000_000):
        tail = f"~{n}"
        n11 = _name11(primary[:8 - len(tail)] + tail, ext)
        if n11 not in taken:
            return n11, 0, True
    raise FatError(f"no free short name for {name!r}: ~1 to ~999999 are all taken")


def _long_entries(name: str, checksum: int) -> list[bytes]:
    """The long entries of `name`, in the order they lie on disk (the one
    with LAST_LONG_ENTRY first, ordinal 1 next to the short entry); the
    name is NUL terminated unless it fills the last entry, then padded
    with 0xFFFF ("FAT Long Directory Entries")."""
    units = name.encode("utf-16-le")
    n = -(-len(name) // LFN_CHARS)
    if len(name) % LFN_CHARS:
        units += b"\0\0"
    units = units.ljust(n * LFN_CHARS * 2, b"\xff")
    out = []
    for ordinal in range(n, 0, -1):
        chunk = units[(ordinal - 1) * 26:ordinal * 26]
        out.append(_LDIR.pack(ordinal | (LAST_LONG_ENTRY if ordinal == n else 0), chunk[:10],
                              ATTR_LONG_NAME, 0, checksum, chunk[10:22], 0, chunk[22:26]))
    return out


def split_path(path: str) -> list[str]:
    """The components of an image path: "/a/b", "a/b" and "a//b/" are the
    same; "." is skipped; ".." is refused (paths are resolved from the root)."""
    if not isinstance(path, str):
        raise FatError(f"an image path is a string, not {type(path).__name__}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FatError(f"{path!r}: '..' is not taken in an image path")
    return parts


# --- What a directory holds -------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """A file or directory as a listing shows it.  name: the long name, or
    the short one with its case bits; short_name: the 8.3 alias as stored
    (upper case); first_cluster 0 for an empty file."""
    name: str
    short_name: str
    size: int
    is_dir: bool
    first_cluster: int
    attr: int
    mtime: datetime | None


@dataclass
class _Record:
    entry: Entry
    first_slot: int                 # its first long entry, or the short entry
    slot: int                       # the short entry
    raw: bytes                      # the short entry's 32 bytes


@dataclass
class _Dir:
    path: str
    cluster: int                    # first cluster
    chain: list[int]
    raw: bytearray                  # every slot of every cluster
    records: list[_Record]
    end: int                        # the first END_OF_DIR slot (or the number of slots)
    label: str | None = None

    def find(self, name: str) -> _Record | None:
        key = fold(name)
        for r in self.records:
            if fold(r.entry.name) == key or fold(r.entry.short_name) == key:
                return r
        return None


ROOT_ENTRY_NAME = "/"


# --- The image --------------------------------------------------------------

class _Image:
    """The bytes of an image: a file opened for reading (or for writing) or
    a buffer (bytes: read-only; bytearray: written in place)."""

    def __init__(self, source, writable: bool):
        self._file: BinaryIO | None = None
        self._buf = None
        self._own = False
        if isinstance(source, (bytes, memoryview)):
            if writable:
                raise FatError("an image given as bytes cannot be written: pass a bytearray")
            self._buf = bytes(source)
            self.name, self.size = "<bytes>", len(self._buf)
        elif isinstance(source, bytearray):
            self._buf = source
            self.name, self.size = "<bytearray>", len(source)
        elif isinstance(source, (str, os.PathLike)):
            try:
                self._file = open(source, "r+b" if writable else "rb")
            except OSError as e:
                raise FatError(f"cannot open image {os.fspath(source)}: {e.strerror or e}") from None
            self._own = True
            self.name = os.fspath(source)
            self.size = os.fstat(self._file.fileno()).st_size
        elif hasattr(source, "read") and hasattr(source, "seek"):
            self._file = source
            self.name = getattr(source, "name", "<file>")
            self.size = source.seek(0, os.SEEK_END)
        else:
            raise FatError(f"an image is a path, bytes, a bytearray or a file, not {type(source).__name__}")
        self.writable = writable

    def read(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise FatError(f"{self.name}: the image ends at {self.size:#x}; cannot read {n:#x} bytes at {offset:#x}")
        if self._buf is not None:
            return bytes(self._buf[offset:offset + n])
        self._file.seek(offset)
        data = self._file.read(n)
        if len(data) != n:
            raise FatError(f"{self.name}: short read at {offset:#x} ({len(data)} of {n} bytes)")
        return data

    def write(self, offset: int, data: bytes) -> None:
        if not self.writable:
            raise FatError(f"{self.name} is open for reading only")
        if offset < 0 or offset + len(data) > self.size:
            raise FatError(f"{self.name}: the image ends at {self.size:#x}; cannot write {len(data):#x} "
                           f"bytes at {offset:#x}")
        if self._buf is not None:
            self._buf[offset:offset + len(data)] = data
        else:
            self._file.seek(offset)
            self._file.write(data)

    def close(self) -> None:
        if self._file is not None:
            if self.writable:
                self._file.flush()
            if self._own:
                self._file.close()
            self._file = None


assert array.array("I").itemsize == 4, "the FAT is read as an array of 32-bit entries"


def _le32(values: array.array) -> bytes:
    if sys.byteorder == "little":
        return values.tobytes()
    swapped = array.array("I", values)
    swapped.byteswap()
    return swapped.tobytes()


# --- The volume -------------------------------------------------------------

class Volume:
    """A FAT32 volume in an image.  Volume(path) reads; Volume(path,
    writable=True) also writes, and every write method leaves the image
    consistent when it returns (data, then the FATs, every copy the same,
    then the directory, then FSInfo).  Use it as a context manager, or
    close() it.  `clock` gives the time stamped on entries written without
    one (default: the host's local time, as FAT keeps local time)."""

    def __init__(self, image, writable: bool = False, clock=None):
        self._img = _Image(image, writable)
        self.writable = writable
        self._clock = clock or datetime.now
        self._closed = False
        try:
            self._open()
        except FatError as e:
            self._img.close()
            raise FatError(f"{self._img.name} is not a FAT32 volume we can use: {e}") from None
        except BaseException:
            self._img.close()
            raise

    # -- opening: the BPB, FSInfo, the FAT -----------------------------------

    def _open(self) -> None:
        img = self._img
        if img.size < 512:
            raise FatError(f"{img.size} bytes, too small to hold a boot sector")
        sec0 = img.read(0, 512)
        # "Boot Sector and BPB": sector[510] == 0x55 and sector[511] == 0xAA
        if sec0[510:512] != b"\x55\xaa":
            raise FatError(f"no boot sector signature 55 AA at offset 510 (found {sec0[510:512].hex(' ')})")
        b = Bpb._make(_BPB.unpack_from(sec0))
        self.bpb = b
        jmp = b.BS_jmpBoot
        if not ((jmp[0] == 0xEB and jmp[2] == 0x90) or jmp[0] == 0xE9):
            raise FatError(f"BS_jmpBoot is {jmp.hex(' ')}: the spec allows EB xx 90 or E9 xx xx")
        bps = b.BPB_BytsPerSec
        if bps not in SECTOR_SIZES:
            raise FatError(f"BPB_BytsPerSec is {bps}: one of 512, 1024, 2048, 4096")
        spc = b.BPB_SecPerClus
        if spc == 0 or spc & (spc - 1) or spc > 128:
            raise FatError(f"BPB_SecPerClus is {spc}: a power of 2 from 1 to 128")
        if bps * spc > MAX_CLUSTER_BYTES:
            raise FatError(f"clusters of {bps * spc} bytes (BPB_BytsPerSec {bps} x BPB_SecPerClus {spc}): "
                           f"the spec supports at most 32 KiB")
        if b.BPB_RsvdSecCnt == 0:
            raise FatError("BPB_RsvdSecCnt is 0: the reserved region holds at least the boot sector")
        if b.BPB_NumFATs not in (1, 2):
            raise FatError(f"BPB_NumFATs is {b.BPB_NumFATs}: 2 (or 1)")
        if b.BPB_FATSz16 != 0:
            raise FatError(f"not FAT32: BPB_FATSz16 is {b.BPB_FATSz16} (a FAT12/16 volume; FAT32 has 0 there)")
        if b.BPB_RootEntCnt != 0:
            raise FatError(f"not FAT32: BPB_RootEntCnt is {b.BPB_RootEntCnt} "
                           f"(FAT32 has 0: its root is a cluster chain)")
        if b.BPB_TotSec16 != 0:
            raise FatError(f"not FAT32: BPB_TotSec16 is {b.BPB_TotSec16} (FAT32 has 0, the count is BPB_TotSec32)")
        if b.BPB_Media not in MEDIA:
            raise FatError(f"BPB_Media is {b.BPB_Media:#04x}: 0xF0 or 0xF8..0xFF")
        if b.BPB_FATSz32 == 0:
            raise FatError("BPB_FATSz32 is 0")
        if b.BPB_FSVer != 0:
            raise FatError(f"BPB_FSVer is {b.BPB_FSVer:#06x}: only version 0:0 exists")
        if b.BPB_TotSec32 == 0:
            raise FatError("BPB_TotSec32 is 0")
        volume_bytes = b.BPB_TotSec32 * bps
        if volume_bytes > img.size:
            raise FatError(f"the volume is {volume_bytes} bytes (BPB_TotSec32 {b.BPB_TotSec32} x {bps}) "
                           f"but the image holds {img.size}")
        self.bytes_per_sector = bps
        self.cluster_size = bps * spc
        self.num_fats = b.BPB_NumFATs
        # BPB_ExtFlags: bit 7 set = only the FAT numbered in bits 0-3 is active
        self.mirrored = not b.BPB_ExtFlags & 0x80
        self.active_fat = 0 if self.mirrored else b.BPB_ExtFlags & 0x0F
        if self.active_fat >= self.num_fats:
            raise FatError(f"BPB_ExtFlags makes FAT {self.active_fat} active; there are {self.num_fats}")
        # "FAT Type Determination" (RootDirSectors is 0 on FAT32)
        fat_sectors = b.BPB_NumFATs * b.BPB_FATSz32
        data_sector = b.BPB_RsvdSecCnt + fat_sectors
        if data_sector >= b.BPB_TotSec32:
            raise FatError(f"the reserved sectors ({b.BPB_RsvdSecCnt}) and FATs ({fat_sectors} sectors) fill "
                           f"the volume ({b.BPB_TotSec32} sectors): no room for data")
        clusters = (b.BPB_TotSec32 - data_sector) // spc
        if clusters < MIN_CLUSTERS:
            raise FatError(f"not FAT32: {clusters} clusters, and a volume with fewer than {MIN_CLUSTERS} is "
                           f"FAT12/16 by the spec's FAT type rule (mkfs.fat -F 32 makes such volumes; no "
                           f"spec reader takes them as FAT32)")
        if clusters > MAX_CLUSTERS:
            raise FatError(f"{clusters} clusters: FAT32 numbers at most {MAX_CLUSTERS}")
        if b.BPB_FATSz32 * bps // 4 < clusters + 2:
            raise FatError(f"the FAT holds {b.BPB_FATSz32 * bps // 4} entries (BPB_FATSz32 {b.BPB_FATSz32}), "
                           f"fewer than the {clusters + 2} that {clusters} clusters need")
        self.clusters = clusters
        self.max_cluster = clusters + 1             # clusters are numbered 2..clusters+1
        self._fat_offset = b.BPB_RsvdSecCnt * bps
        self._fat_bytes = b.BPB_FATSz32 * bps
        self._data_offset = data_sector * bps
        if not 2 <= b.BPB_RootClus <= self.max_cluster:
            raise FatError(f"BPB_RootClus is {b.BPB_RootClus}: outside the clusters 2..{self.max_cluster}")
        self.root_cluster = b.BPB_RootClus
        # "FAT32 FSInfo Sector Structure and Backup Boot Sector"
        if not 1 <= b.BPB_FSInfo < b.BPB_RsvdSecCnt:
            raise FatError(f"BPB_FSInfo is {b.BPB_FSInfo}: a sector of the reserved region 1..{b.BPB_RsvdSecCnt - 1}")
        if b.BPB_BkBootSec and (b.BPB_BkBootSec >= b.BPB_RsvdSecCnt or b.BPB_BkBootSec == b.BPB_FSInfo):
            raise FatError(f"BPB_BkBootSec is {b.BPB_BkBootSec}: 0 or a free sector of the reserved region "
                           f"(1..{b.BPB_RsvdSecCnt - 1}, not FSInfo's {b.BPB_FSInfo})")
        self._fsinfo_offset = b.BPB_FSInfo * bps
        fsi = FsInfo._make(_FSINFO.unpack(img.read(self._fsinfo_offset, 512)))
        for field, want in (("FSI_LeadSig", FSI_LEAD_SIG), ("FSI_StrucSig", FSI_STRUC_SIG),
                            ("FSI_TrailSig", FSI_TRAIL_SIG)):
            if getattr(fsi, field) != want:
                raise FatError(f"FSInfo sector {b.BPB_FSInfo}: {field} is {getattr(fsi, field):#010x}, "
                               f"not {want:#010x}")
        self.fsinfo = fsi
        # The active FAT, whole sectors up to the last cluster's entry.
        n = -(-(clusters + 2) * 4 // bps) * bps
        raw = array.array("I")
        raw.frombytes(self._img.read(self._fat_offset + self.active_fat * self._fat_bytes, n))
        if sys.byteorder != "little":
            raw.byteswap()
        self._raw = raw                              # as on disk, reserved high bits included
        if max(raw) > FAT32_MASK:
            self._fat = array.array("I", (e & FAT32_MASK for e in raw))
        else:
            self._fat = array.array("I", raw)
        self._free = self._fat[2:self.max_cluster + 1].count(0)
        hint = fsi.FSI_Nxt_Free
        # FSI_Nxt_Free 0xFFFFFFFF is no hint: the search starts at cluster 2
        # (and so it does for any value out of range)
        self._hint = hint if 2 <= hint <= self.max_cluster else 1
        self._dirty: set[int] = set()               # FAT sectors to write
        self._allocated = False
        self._check_root()

    def _check_root(self) -> None:
        """The root's chain is followed once on opening, so a volume whose
        root is broken is refused at once."""
        self._chain(self.root_cluster, "the root directory", self._dir_limit())

    def _dir_limit(self) -> int:
        return max(1, MAX_DIR_ENTRIES * ENTRY // self.cluster_size)

    # -- context ----------------------------------------------------------------

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self.writable:
                self._flush()
        finally:
            self._closed = True
            self._img.close()

    @property
    def free_clusters(self) -> int:
        return self._free

    @property
    def free_bytes(self) -> int:
        return self._free * self.cluster_size

    def __repr__(self) -> str:
        return (f"<FAT32 {self._img.name}: {self.clusters} clusters of {self.cluster_size} bytes, "
                f"{self._free} free>")

    # -- clusters and chains ------------------------------------------------------

    def _cluster_offset(self, c: int) -> int:
        """"FAT Data Structure": FirstSectorofCluster = ((N - 2) *
        BPB_SecPerClus) + FirstDataSector."""
        return self._data_offset + (c - 2) * self.cluster_size

    def _chain(self, first: int, what: str, limit: int | None = None) -> list[int]:
        """The clusters of the chain that starts at `first`, checked as it is
        followed: every link a cluster of the volume, no free or bad cluster
        in it, no loop, at most `limit` clusters ("FAT Data Structure")."""
        top = self.max_cluster
        if not 2 <= first <= top:
            raise FatError(f"{what}: first cluster {first} is outside the clusters 2..{top}")
        fat = self._fat
        chain, seen, c = [first], {first}, first
        while True:
            nxt = fat[c]
            if nxt >= FAT_EOC_MIN:
                return chain
            if nxt == 0:
                raise FatError(f"{what}: cluster {c} links to a free cluster (its FAT entry is 0)")
            if nxt == FAT_BAD:
                raise FatError(f"{what}: cluster {c} links to a cluster marked bad")
            if not 2 <= nxt <= top:
                raise FatError(f"{what}: cluster {c} links to {nxt:#x}, outside the clusters 2..{top}")
            if nxt in seen:
                raise FatError(f"{what}: the chain loops (cluster {c} links back to {nxt})")
            if limit is not None and len(chain) >= limit:
                raise FatError(f"{what}: the chain is longer than {limit} clusters")
            chain.append(nxt)
            seen.add(nxt)
            c = nxt

    def _runs(self, chain: list[int]) -> Iterator[tuple[int, int, int]]:
        """(index in chain, first cluster, count) of each run of adjacent clusters."""
        i = 0
        while i < len(chain):
            j = i
            while j + 1 < len(chain) and chain[j + 1] == chain[j] + 1:
                j += 1
            yield i, chain[i], j - i + 1
            i = j + 1

    def _read_clusters(self, chain: list[int]) -> bytes:
        return b"".join(self._img.read(self._cluster_offset(c), n * self.cluster_size)
                        for _, c, n in self._runs(chain))

    def _file_chain(self, e: Entry, path: str) -> list[int]:
        """A file's chain, which must be exactly as long as its size needs
        (fsck.fat truncates or drops a file whose chain does not fit)."""
        if e.first_cluster == 0:
            return []
        need = -(-e.size // self.cluster_size)
        chain = self._chain(e.first_cluster, f"file {path}", need)
        if len(chain) != need:
            raise FatError(f"file {path}: {e.size} bytes need {need} clusters; its chain has {len(chain)}")
        return chain

    # -- directories --------------------------------------------------------------

    def _read_dir(self, cluster: int, path: str, dotdot: int | None) -> _Dir:
        """The directory at `cluster`; dotdot is what its ".." entry must
        point at (0 when the parent is the root), None for the root itself."""
        chain = self._chain(cluster, f"directory {path}", self._dir_limit())
        raw = bytearray(self._read_clusters(chain))
        d = _Dir(path, cluster, chain, raw, [], len(raw) // ENTRY)
        self._parse_dir(d, dotdot)
        return d

    def _parse_dir(self, d: _Dir, dotdot: int | None) -> None:
        """Every entry of d, by "FAT Directory Structure" and "FAT Long
        Directory Entries": a long name is the run of long entries just
        before its short entry, ordinals n|0x40 down to 1, each with the
        short name's checksum; anything else is an error here, where a
        lenient driver would drop the orphaned long entries."""
        raw, where = d.raw, f"directory {d.path}"
        pending: list[LdirEntry] = []
        first_slot = 0
        for i in range(len(raw) // ENTRY):
            chunk = raw[i * ENTRY:(i + 1) * ENTRY]
            head, attr = chunk[0], chunk[11]
            at = f"{where}, entry {i}"
            if head == END_OF_DIR:
                if pending:
                    raise FatError(f"{at}: the directory ends inside a long name (no short entry after it)")
                d.end = i
                break
            if head == FREE_ENTRY:
                if pending:
                    raise FatError(f"{at}: a free entry inside a long name")
                continue
            if attr & ATTR_LONG_NAME_MASK == ATTR_LONG_NAME:
                ld = LdirEntry._make(_LDIR.unpack(chunk))
                ordinal = ld.LDIR_Ord & ~LAST_LONG_ENTRY
                if ld.LDIR_Ord & LAST_LONG_ENTRY:
                    if pending:
                        raise FatError(f"{at}: a new long name starts before the last one reached its short entry")
                    if not 1 <= ordinal <= -(-MAX_LONG_NAME // LFN_CHARS) or ld.LDIR_Ord & 0x80:
                        raise FatError(f"{at}: long entry ordinal {ld.LDIR_Ord:#04x}: the last one is 0x41..0x54")
                    first_slot = i
                elif not pending:
                    raise FatError(f"{at}: long entry {ld.LDIR_Ord:#04x} without the first one (LAST_LONG_ENTRY)")
                elif ld.LDIR_Ord != (pending[-1].LDIR_Ord & ~LAST_LONG_ENTRY) - 1:
                    raise FatError(f"{at}: long entry ordinal {ld.LDIR_Ord}, expected "
                                   f"{(pending[-1].LDIR_Ord & ~LAST_LONG_ENTRY) - 1}")
                elif ld.LDIR_Chksum != pending[0].LDIR_Chksum:
                    raise FatError(f"{at}: long entry checksum {ld.LDIR_Chksum:#04x}, the name's first "
                                   f"has {pending[0].LDIR_Chksum:#04x}")
                if ld.LDIR_Type != 0 or ld.LDIR_FstClusLO != 0:
                    raise FatError(f"{at}: long entry with LDIR_Type {ld.LDIR_Type} and LDIR_FstClusLO "
                                   f"{ld.LDIR_FstClusLO} (both must be 0)")
                pending.append(ld)
                continue
            de = DirEntry._make(_DIR.unpack(chunk))
            long_name = None
            if pending:
                long_name = self._long_name(pending, de, at)
                pending = []
            else:
                first_slot = i
            if attr & ATTR_VOLUME_ID and not attr & ATTR_DIRECTORY:
                if long_name is not None:
                    raise FatError(f"{at}: a long name on a volume label")
                if dotdot is None:
                    d.label = de.DIR_Name.decode(OEM_CODEPAGE).rstrip()
                continue
            if attr & ATTR_VOLUME_ID:
                raise FatError(f"{at}: attributes {attr:#04x}: a directory cannot also be a volume label")
            self._short_entry(d, i, de, long_name, first_slot, dotdot, chunk, at)
        if dotdot is not None and (len(d.records) < 2 or d.records[0].entry.name != "."
                                   or d.records[1].entry.name != ".."):
            raise FatError(f"{where}: a subdirectory starts with its '.' and '..' entries")
        if dotdot is not None:
            d.records = d.records[2:]

    def _long_name(self, pending: list, de, at: str) -> str:
        if pending[-1].LDIR_Ord & ~LAST_LONG_ENTRY != 1:
            raise FatError(f"{at}: the long name stops at ordinal {pending[-1].LDIR_Ord & ~LAST_LONG_ENTRY}, not 1")
        if pending[0].LDIR_Chksum != lfn_checksum(de.DIR_Name):
            raise FatError(f"{at}: the long name's checksum {pending[0].LDIR_Chksum:#04x} is not that of "
                           f"{de.DIR_Name!r} ({lfn_checksum(de.DIR_Name):#04x}): an orphaned long name")
        units = b"".join(ld.LDIR_Name1 + ld.LDIR_Name2 + ld.LDIR_Name3 for ld in reversed(pending))
        chars = [units[k:k + 2] for k in range(0, len(units), 2)]
        if b"\0\0" in chars:
            end = chars.index(b"\0\0")
            if any(c != b"\xff\xff" for c in chars[end + 1:]):
                raise FatError(f"{at}: the long name's padding after its NUL is not 0xFFFF")
            chars = chars[:end]
        if len(chars) <= (len(pending) - 1) * LFN_CHARS:
            raise FatError(f"{at}: a long name of {len(chars)} characters in {len(pending)} entries")
        if len(chars) > MAX_LONG_NAME:
            raise FatError(f"{at}: a long name of {len(chars)} characters (at most {MAX_LONG_NAME})")
        try:
            name = b"".join(chars).decode("utf-16-le")
        except UnicodeDecodeError:
            raise FatError(f"{at}: the long name is not valid UTF-16 (a lone surrogate)") from None
        bad = next((c for c in name if ord(c) < 0x20 or c in _LONG_ILLEGAL), None)
        if bad is not None:
            raise FatError(f"{at}: the long name {name!r} holds {bad!r}, not allowed in a long name")
        return name

    def _short_entry(self, d: _Dir, i: int, de, long_name: str | None, first_slot: int,
                     dotdot: int | None, chunk: bytes, at: str) -> None:
        cluster = (de.DIR_FstClusHI << 16) | de.DIR_FstClusLO
        is_dir = bool(de.DIR_Attr & ATTR_DIRECTORY)
        dots = de.DIR_Name in (DOT, DOTDOT)
        if dots:
            want = (0, DOT, d.cluster) if de.DIR_Name == DOT else (1, DOTDOT, dotdot)
            if dotdot is None or i != want[0] or long_name is not None:
                raise FatError(f"{at}: a {de.DIR_Name.decode().strip()!r} entry where there can be none")
            if not is_dir or cluster != want[2]:
                raise FatError(f"{at}: {de.DIR_Name.decode().strip()!r} points at cluster {cluster}, "
                               f"not {want[2]}" + ("" if is_dir else " and is not a directory"))
            name = short = de.DIR_Name.decode().strip()
        else:
            problem = _short_problem(de.DIR_Name)
            if problem:
                raise FatError(f"{at}: short name {de.DIR_Name!r}: {problem}")
            short = _short_display(de.DIR_Name)
            name = long_name if long_name is not None else _short_display(de.DIR_Name, de.DIR_NTRes)
            if is_dir:
                if de.DIR_FileSize:
                    raise FatError(f"{at}: directory {name!r} has DIR_FileSize {de.DIR_FileSize} (must be 0)")
                if not 2 <= cluster <= self.max_cluster:
                    raise FatError(f"{at}: directory {name!r} starts at cluster {cluster}, "
                                   f"outside 2..{self.max_cluster}")
            elif (cluster == 0) != (de.DIR_FileSize == 0):
                raise FatError(f"{at}: file {name!r} has {de.DIR_FileSize} bytes and first cluster {cluster}"
                               f" (0 bytes and only 0 bytes have cluster 0)")
            elif cluster and not 2 <= cluster <= self.max_cluster:
                raise FatError(f"{at}: file {name!r} starts at cluster {cluster}, outside 2..{self.max_cluster}")
        entry = Entry(name, short, de.DIR_FileSize, is_dir, cluster, de.DIR_Attr,
                      _unpack_date(de.DIR_WrtDate, de.DIR_WrtTime))
        d.records.append(_Record(entry, first_slot, i, bytes(chunk)))

    def _root(self) -> _Dir:
        return self._read_dir(self.root_cluster, "/", None)

    def _subdir(self, parent: _Dir, rec: _Record) -> _Dir:
        path = f"{parent.path.rstrip('/')}/{rec.entry.name}"
        return self._read_dir(rec.entry.first_cluster, path,
                              0 if parent.cluster == self.root_cluster else parent.cluster)

    def _lookup(self, path: str) -> tuple[_Dir | None, _Record | None]:
        """(the parent directory, the record) of path; (None, None) for the root."""
        parts = split_path(path)
        d, rec = self._root(), None
        for k, part in enumerate(parts):
            if k:
                if not rec.entry.is_dir:
                    raise FatError(f"/{'/'.join(parts[:k])} is a file, not a directory")
                d = self._subdir(d, rec)
            rec = d.find(part)
            if rec is None:
                raise FatNotFound(f"/{'/'.join(parts[:k + 1])}: no such file or directory")
        return (d, rec) if parts else (None, None)

    def _dir_at(self, path: str) -> _Dir:
        parent, rec = self._lookup(path)
        if rec is None:
            return self._root()
        if not rec.entry.is_dir:
            raise FatError(f"{_shown(path)} is a file, not a directory")
        return self._subdir(parent, rec)

    # -- reading ------------------------------------------------------------------

    @property
    def label(self) -> str | None:
        """The volume label entry of the root directory, if there is one."""
        return self._root().label

    def stat(self, path: str) -> Entry:
        _, rec = self._lookup(path)
        if rec is None:
            return Entry(ROOT_ENTRY_NAME, ROOT_ENTRY_NAME, 0, True, self.root_cluster, ATTR_DIRECTORY, None)
        return rec.entry

    def exists(self, path: str) -> bool:
        try:
            self._lookup(path)
        except FatNotFound:
            return False
        return True

    def is_dir(self, path: str) -> bool:
        return self.exists(path) and self.stat(path).is_dir

    def listdir(self, path: str = "/") -> list[Entry]:
        """The entries of a directory, in the order they lie in it, without
        '.', '..' and the volume label."""
        return [r.entry for r in self._dir_at(path).records]

    def read(self, path: str) -> bytes:
        """The bytes of a file."""
        _, rec = self._lookup(path)
        if rec is None or rec.entry.is_dir:
            raise FatError(f"{_shown(path)} is a directory")
        chain = self._file_chain(rec.entry, _shown(path))
        return self._read_clusters(chain)[:rec.entry.size]

    def walk(self, path: str = "/") -> Iterator[tuple[str, Entry]]:
        """(path, entry) for everything below path, depth first; a
        directory is refused if it is reached twice (a loop in the tree).
        A stack, not recursion: a crafted image can nest deeper than Python
        recurses."""
        top = self._dir_at(path)
        seen = {top.cluster}
        stack = [(top, iter(top.records))]
        while stack:
            d, records = stack[-1]
            r = next(records, None)
            if r is None:
                stack.pop()
                continue
            yield f"{d.path.rstrip('/')}/{r.entry.name}", r.entry
            if r.entry.is_dir:
                if r.entry.first_cluster in seen:
                    raise FatError(f"directory {d.path.rstrip('/')}/{r.entry.name}: reached twice "
                                   f"(its cluster {r.entry.first_cluster} is another directory's)")
                seen.add(r.entry.first_cluster)
                sub = self._subdir(d, r)
                stack.append((sub, iter(sub.records)))

    # -- writing ------------------------------------------------------------------

    def _need_writable(self) -> None:
        if not self.writable:
            raise FatError(f"{self._img.name} is open for reading only")

    def _set_fat(self, c: int, value: int) -> None:
        old = self._fat[c]
        if old == 0 and value != 0:
            self._free -= 1
        elif old != 0 and value == 0:
            self._free += 1
        self._fat[c] = value
        self._raw[c] = (self._raw[c] & FAT32_RESERVED) | value
        self._dirty.add(c * 4 // self.bytes_per_sector)

    def _allocate(self, n: int) -> list[int]:
        """n free clusters, linked into a chain that ends in EOC, searched
        from the FSInfo hint (FSI_Nxt_Free: the last cluster allocated)."""
        if n > self._free:
            raise FatError(f"disk full: {n} clusters needed, {self._free} free")
        out: list[int] = []
        start = self._hint + 1 if self._hint < self.max_cluster else 2
        for lo, hi in ((start, self.max_cluster + 1), (2, start)):
            c = lo
            while len(out) < n:
                try:
                    c = self._fat.index(0, c, hi)
                except ValueError:
                    break
                out.append(c)
                c += 1
            if len(out) == n:
                break
        if len(out) != n:               # _free said there were enough
            raise FatError(f"the FAT has fewer free clusters than counted ({len(out)} of {n})")
        for a, b in zip(out, out[1:]):
            self._set_fat(a, b)
        if out:
            self._set_fat(out[-1], FAT_EOC)
            self._hint = out[-1]
            self._allocated = True
        return out

    def _release(self, chain: list[int]) -> None:
        for c in chain:
            self._set_fat(c, 0)

    def _write_clusters(self, chain: list[int], data: bytes) -> None:
        """data into the clusters of chain, the last one padded with zeros."""
        cs = self.cluster_size
        for i, c, n in self._runs(chain):
            chunk = data[i * cs:(i + n) * cs]
            self._img.write(self._cluster_offset(c), chunk + bytes(n * cs - len(chunk)))

    def _flush(self) -> None:
        """The FAT sectors changed, into every FAT (only the active one when
        mirroring is off, BPB_ExtFlags bit 7), then FSInfo's free count and
        next-free hint (the primary FSInfo only, as Linux and mtools do)."""
        bps = self.bytes_per_sector
        per = bps // 4
        copies = range(self.num_fats) if self.mirrored else (self.active_fat,)
        for s in sorted(self._dirty):
            data = _le32(self._raw[s * per:(s + 1) * per])
            for k in copies:
                self._img.write(self._fat_offset + k * self._fat_bytes + s * bps, data)
        if self._dirty:
            nxt = self._hint if self._allocated else self.fsinfo.FSI_Nxt_Free
            self._img.write(self._fsinfo_offset + 488, struct.pack("<II", self._free, nxt))
            self.fsinfo = self.fsinfo._replace(FSI_Free_Count=self._free, FSI_Nxt_Free=nxt)
        self._dirty.clear()

    def _write_slots(self, d: _Dir, first: int, entries: list[bytes]) -> None:
        """Entries into slots first.. of d, on disk and in d.raw."""
        data = b"".join(entries)
        d.raw[first * ENTRY:first * ENTRY + len(data)] = data
        per = self.cluster_size // ENTRY
        i, last = first, first + len(entries)
        while i < last:
            k, j = divmod(i, per)
            n = min(per - j, last - i)
            self._img.write(self._cluster_offset(d.chain[k]) + j * ENTRY, bytes(d.raw[i * ENTRY:(i + n) * ENTRY]))
            i += n

    def _free_run(self, d: _Dir, n: int) -> tuple[int, int]:
        """(first slot, clusters to add) for n consecutive free slots: a run
        of free entries, or the free tail extended by new clusters."""
        slots = len(d.raw) // ENTRY
        run = 0
        for i in range(slots):
            free = i >= d.end or d.raw[i * ENTRY] == FREE_ENTRY
            run = run + 1 if free else 0
            if run == n:
                return i - n + 1, 0
        per = self.cluster_size // ENTRY
        grow = -(-(n - run) // per)
        if slots + grow * per > MAX_DIR_ENTRIES:
            raise FatError(f"directory {d.path} is full ({MAX_DIR_ENTRIES} entries at most)")
        return slots - run, grow

    def _grow(self, d: _Dir, clusters: int) -> None:
        new = self._allocate(clusters)
        self._write_clusters(new, b"")
        self._set_fat(d.chain[-1], new[0])
        d.chain += new
        d.raw += bytes(clusters * self.cluster_size)

    def _add_entry(self, d: _Dir, name: str, make, clusters_needed: int) -> None:
        """A new entry in d: its names, slots (d grown if need be), the
        clusters its content needs (allocated after the room was checked, so
        a full disk changes nothing), then its entries.  make(name11, ntres,
        clusters) writes the content and gives the short entry's bytes."""
        if d.find(name) is not None:
            raise FatError(f"{d.path.rstrip('/')}/{name} exists")
        taken = {r.raw[:11] for r in d.records} | {DOT, DOTDOT}
        taken |= {n11 for r in d.records for n11 in _folded_as_short(r.entry.name)}
        name11, ntres, long_name = short_name_for(name, taken)
        entries = _long_entries(name, lfn_checksum(name11)) if long_name else []
        first, grow = self._free_run(d, len(entries) + 1)
        if grow + clusters_needed > self._free:
            raise FatError(f"disk full: {grow + clusters_needed} clusters needed, {self._free} free")
        if grow:
            self._grow(d, grow)
        clusters = self._allocate(clusters_needed)
        short = make(name11, ntres, clusters)
        entries.append(short)
        last = first + len(entries)
        slots = len(d.raw) // ENTRY
        if last > d.end and last < slots:         # the end marker moves: what follows must be free
            tail = [bytes(ENTRY)] * (slots - last)
            if any(d.raw[last * ENTRY:]):
                self._write_slots(d, last, tail)
        self._write_slots(d, first, entries)
        d.end = max(d.end, last)

    def _stamp(self, mtime) -> datetime:
        if mtime is None:
            return self._clock()
        if isinstance(mtime, (int, float)):
            return datetime.fromtimestamp(mtime)
        return mtime

    def _parent(self, path: str) -> tuple[_Dir, str]:
        parts = split_path(path)
        if not parts:
            raise FatError("the root directory has no name to write to")
        return self._dir_at("/".join(parts[:-1])), parts[-1]

    def write_file(self, path: str, data: bytes, mtime=None) -> Entry:
        """Create or overwrite a file (its parent must exist).  An existing
        file keeps its entry and names; its old clusters are freed only once
        the new content is known to fit."""
        self._need_writable()
        data = bytes(data)
        if len(data) > MAX_FILE_SIZE:
            raise FatError(f"{len(data)} bytes: a FAT32 file holds at most {MAX_FILE_SIZE} (DIR_FileSize is 32 bits)")
        parent, name = self._parent(path)
        need = -(-len(data) // self.cluster_size)
        date, tod, tenth = _pack_date(self._stamp(mtime))
        rec = parent.find(name)
        if rec is not None:
            if rec.entry.is_dir:
                raise FatError(f"{_shown(path)} is a directory")
            old = self._file_chain(rec.entry, _shown(path))
            if need > self._free + len(old):
                raise FatError(f"disk full: {need} clusters needed, {self._free + len(old)} free")
            self._release(old)
            clusters = self._allocate(need)
            self._write_clusters(clusters, data)
            de = DirEntry._make(_DIR.unpack(rec.raw))
            first = clusters[0] if clusters else 0
            de = de._replace(DIR_Attr=de.DIR_Attr | ATTR_ARCHIVE, DIR_FstClusHI=first >> 16,
                             DIR_FstClusLO=first & 0xFFFF, DIR_FileSize=len(data),
                             DIR_WrtTime=tod, DIR_WrtDate=date, DIR_LstAccDate=date)
            self._flush()
            self._write_slots(parent, rec.slot, [_DIR.pack(*de)])
            return self.stat(path)

        def make(name11, ntres, clusters):
            self._write_clusters(clusters, data)
            self._flush()
            first = clusters[0] if clusters else 0
            return _DIR.pack(name11, ATTR_ARCHIVE, ntres, tenth, tod, date, date, first >> 16,
                             tod, date, first & 0xFFFF, len(data))

        self._add_entry(parent, name, make, need)
        self._flush()
        return self.stat(path)

    def mkdir(self, path: str, parents: bool = False, mtime=None) -> Entry:
        """A new, empty directory: one zeroed cluster with its '.' and '..'
        entries ("FAT Directory Structure": '..' is 0 when the parent is
        the root).  parents: make missing parents too, and take an
        existing directory."""
        self._need_writable()
        parts = split_path(path)
        if not parts:
            if parents:
                return self.stat("/")
            raise FatError("/ exists")
        if parents:
            for k in range(1, len(parts)):
                sub = "/".join(parts[:k])
                if not self.exists(sub):
                    self.mkdir(sub, mtime=mtime)
            if self.exists(path):
                if not self.stat(path).is_dir:
                    raise FatError(f"{_shown(path)} exists and is a file")
                return self.stat(path)
        parent, name = self._parent(path)
        date, tod, tenth = _pack_date(self._stamp(mtime))
        up = 0 if parent.cluster == self.root_cluster else parent.cluster

        def dir_entry(name11, ntres, cluster):
            return _DIR.pack(name11, ATTR_DIRECTORY, ntres, tenth, tod, date, date, cluster >> 16,
                             tod, date, cluster & 0xFFFF, 0)

        def make(name11, ntres, clusters):
            c = clusters[0]
            body = dir_entry(DOT, 0, c) + dir_entry(DOTDOT, 0, up)
            self._write_clusters(clusters, body)
            self._flush()
            return dir_entry(name11, ntres, c)

        self._add_entry(parent, name, make, 1)
        self._flush()
        return self.stat(path)

    def delete(self, path: str) -> None:
        """Remove a file or an empty directory: its entries marked free
        (0xE5, long entries too), its clusters freed."""
        self._need_writable()
        parent, rec = self._lookup(path)
        if rec is None:
            raise FatError("cannot delete the root directory")
        if rec.entry.is_dir:
            sub = self._subdir(parent, rec)
            if sub.records:
                raise FatError(f"{_shown(path)}: directory not empty ({len(sub.records)} entries)")
            chain = sub.chain
        else:
            chain = self._file_chain(rec.entry, _shown(path))
        freed = []
        for i in range(rec.first_slot, rec.slot + 1):
            freed.append(bytes([FREE_ENTRY]) + bytes(parent.raw[i * ENTRY + 1:(i + 1) * ENTRY]))
        self._write_slots(parent, rec.first_slot, freed)
        self._release(chain)
        self._flush()

    # -- checking -----------------------------------------------------------------

    def problems(self) -> list[str]:
        """Everything wrong with the volume, as fsck.fat would find it and
        more: the FAT copies differ; FAT[0] is not the media byte and FAT[1]
        not EOC, or the volume is marked dirty; the backup boot sector is
        not the boot sector; a chain is broken, too long or too short for
        its file; a cluster belongs to two chains (cross-linked) or to none
        (lost); a name appears twice in a directory; a date is not a date;
        FSInfo's free count or hint is wrong.  [] for a clean volume."""
        out: list[str] = []
        bps = self.bytes_per_sector
        fat0 = self._img.read(self._fat_offset, self._fat_bytes)
        for k in range(1, self.num_fats):
            if not self.mirrored:
                break
            other = self._img.read(self._fat_offset + k * self._fat_bytes, self._fat_bytes)
            if other != fat0:
                at = next(i for i in range(0, len(fat0), 4) if fat0[i:i + 4] != other[i:i + 4])
                out.append(f"FAT {k} differs from FAT 0 (first at entry {at // 4})")
        media = self.bpb.BPB_Media
        if self._fat[0] != 0x0FFFFF00 | media:
            out.append(f"FAT[0] is {self._fat[0]:#010x}, not {0x0FFFFF00 | media:#010x} (the media byte {media:#04x})")
        if (self._fat[1] | CLN_SHUT_BIT | HRD_ERR_BIT) < FAT_EOC_MIN:
            out.append(f"FAT[1] is {self._fat[1]:#010x}, not an EOC mark")
        elif not self._fat[1] & CLN_SHUT_BIT:
            out.append("FAT[1]: the volume is dirty (ClnShutBitMask clear)")
        elif not self._fat[1] & HRD_ERR_BIT:
            out.append("FAT[1]: a disk I/O error was recorded (HrdErrBitMask clear)")
        if self.bpb.BS_Reserved1 & 1:
            out.append("the boot sector's dirty flag (BS_Reserved1 bit 0) is set")
        if self.bpb.BPB_BkBootSec:
            boot = self._img.read(0, bps)
            backup = self._img.read(self.bpb.BPB_BkBootSec * bps, bps)
            if backup != boot:
                out.append(f"the backup boot sector (sector {self.bpb.BPB_BkBootSec}) differs from the boot sector")

        owner: dict[int, str] = {}

        def claim(chain: list[int], path: str) -> None:
            for c in chain:
                if c in owner:
                    out.append(f"{path}: cluster {c} is also in {owner[c]} (cross-linked)")
                else:
                    owner[c] = path

        todo: list[tuple[int, str, int | None]] = [(self.root_cluster, "/", None)]
        seen_dirs: set[int] = set()
        while todo:
            cluster, path, dotdot = todo.pop()
            if cluster in seen_dirs:
                out.append(f"directory {path}: its cluster {cluster} is another directory's")
                continue
            seen_dirs.add(cluster)
            try:
                d = self._read_dir(cluster, path, dotdot)
            except FatError as e:
                out.append(str(e))
                continue
            claim(d.chain, path)
            names: dict[str, str] = {}
            for r in d.records:
                e = r.entry
                p = f"{path.rstrip('/')}/{e.name}"
                for key in {fold(e.name), fold(e.short_name)}:
                    if key in names and names[key] != p:
                        out.append(f"{path}: {e.name!r} and {names[key]!r} have the same name {key!r}")
                    names[key] = p
                de = DirEntry._make(_DIR.unpack(r.raw))
                for field, tfield in (("DIR_WrtDate", "DIR_WrtTime"), ("DIR_CrtDate", "DIR_CrtTime"),
                                      ("DIR_LstAccDate", None)):
                    if not _date_valid(getattr(de, field), getattr(de, tfield) if tfield else None):
                        out.append(f"{p}: {field}/{tfield or '-'} is not a date and time")
                if de.DIR_CrtTimeTenth > 199:
                    out.append(f"{p}: DIR_CrtTimeTenth is {de.DIR_CrtTimeTenth} (0..199)")
                if e.is_dir:
                    todo.append((e.first_cluster, p, 0 if cluster == self.root_cluster else cluster))
                else:
                    try:
                        claim(self._file_chain(e, p), p)
                    except FatError as err:
                        out.append(str(err))
        lost = [c for c in range(2, self.max_cluster + 1)
                if self._fat[c] not in (0, FAT_BAD) and c not in owner]
        if lost:
            out.append(f"{len(lost)} lost clusters (allocated, in no chain): {lost[:8]}"
                       + ("..." if len(lost) > 8 else ""))
        fsi = self.fsinfo
        if fsi.FSI_Free_Count not in (FSI_UNKNOWN, self._free):
            out.append(f"FSInfo: FSI_Free_Count is {fsi.FSI_Free_Count}, the FAT has {self._free} free clusters")
        if fsi.FSI_Nxt_Free != FSI_UNKNOWN and not 2 <= fsi.FSI_Nxt_Free <= self.max_cluster:
            out.append(f"FSInfo: FSI_Nxt_Free is {fsi.FSI_Nxt_Free}, outside the clusters 2..{self.max_cluster}")
        return out

    def check(self) -> None:
        """FatError listing every problem() unless there is none."""
        found = self.problems()
        if found:
            raise FatError(f"{len(found)} problem(s): " + "; ".join(found))


def _folded_as_short(name: str) -> set[bytes]:
    """An existing long name that reads as an 8.3 name is taken as that
    short name too, so no new alias can be looked up as the old file."""
    parts = _split83(name)
    return {_name11(fold(parts[0]), fold(parts[1]))} if parts else set()


def _shown(path: str) -> str:
    return "/" + "/".join(split_path(path))


# --- Formatting -------------------------------------------------------------

@dataclass(frozen=True)
class Geometry:
    """The layout format_image() gives a volume of `size` bytes."""
    size: int
    bytes_per_sector: int
    sectors_per_cluster: int
    reserved_sectors: int
    fat_sectors: int
    clusters: int

    @property
    def total_sectors(self) -> int:
        return self.size // self.bytes_per_sector


# fatgen103 "FAT Volume Initialization", DskTableFAT32: volume size (in
# 512-byte sectors, up to) -> sectors per cluster; 0 means too small.  The
# FAT's size is then found exactly (geometry()), not by that section's
# approximation, which may leave a few sectors more than needed.
_DSK_TABLE_FAT32 = ((66600, 0), (532480, 1), (16777216, 8), (33554432, 16), (67108864, 32), (0xFFFFFFFF, 64))
RESERVED_SECTORS = 32               # BPB_RsvdSecCnt: "typically 32" on FAT32
NUM_FATS = 2
FSINFO_SECTOR = 1
BACKUP_BOOT_SECTOR = 6              # "No value other than 6 is recommended"
MEDIA_FIXED = 0xF8


def geometry(size: int, bytes_per_sector: int = 512, sectors_per_cluster: int | None = None) -> Geometry:
    """The layout of a FAT32 volume of `size` bytes, or a FatError saying
    why there is none: cluster size from DskTableFAT32, the FAT just big
    enough for the clusters that remain, the data region aligned to a
    cluster (as mkfs.fat does), at least 65525 clusters."""
    bps = bytes_per_sector
    if bps not in SECTOR_SIZES:
        raise FatError(f"sector size {bps}: one of 512, 1024, 2048, 4096")
    if size <= 0 or size % bps:
        raise FatError(f"size {size}: a positive multiple of the {bps}-byte sector")
    total = size // bps
    if total > 0xFFFFFFFF:
        raise FatError(f"size {size}: more than 2^32 sectors of {bps} bytes (BPB_TotSec32)")
    if sectors_per_cluster is None:
        sectors512 = size // 512
        per512 = next(spc for limit, spc in _DSK_TABLE_FAT32 if sectors512 <= limit)
        if per512 == 0:
            raise FatError(f"{size} bytes is too small for FAT32: it needs {MIN_CLUSTERS} clusters, "
                           f"about {_min_size_text()} at least")
        sectors_per_cluster = max(1, per512 * 512 // bps)
    spc = sectors_per_cluster
    if spc == 0 or spc & (spc - 1) or spc > 128 or spc * bps > MAX_CLUSTER_BYTES:
        raise FatError(f"{spc} sectors per cluster of {bps} bytes: a power of 2 and at most 32 KiB a cluster")
    rsvd = RESERVED_SECTORS
    for _ in range(16):
        fat = -(-((total - rsvd) // spc + 2) * 4 // bps)        # an upper bound, then shrink
        while fat > 1 and ((total - rsvd - NUM_FATS * (fat - 1)) // spc + 2) * 4 <= (fat - 1) * bps:
            fat -= 1
        data = rsvd + NUM_FATS * fat
        if data % spc == 0:
            break
        rsvd += spc - data % spc
    clusters = (total - data) // spc
    if clusters < MIN_CLUSTERS:
        raise FatError(f"{size} bytes makes {clusters} clusters of {spc * bps} bytes: FAT32 needs "
                       f"{MIN_CLUSTERS} (fewer is FAT12/16); about {_min_size_text()} at least")
    if clusters > MAX_CLUSTERS:
        raise FatError(f"{size} bytes makes {clusters} clusters: FAT32 numbers at most {MAX_CLUSTERS}")
    return Geometry(size, bps, spc, rsvd, fat, clusters)


def _min_size_text() -> str:
    return "33 MiB (more than 66600 sectors of 512 bytes)"


def _format_writes(g: Geometry, volume_id: int, oem: bytes) -> list[tuple[int, bytes]]:
    bps = g.bytes_per_sector
    bpb = Bpb(
        BS_jmpBoot=b"\xeb\x58\x90", BS_OEMName=oem.ljust(8)[:8], BPB_BytsPerSec=bps,
        BPB_SecPerClus=g.sectors_per_cluster, BPB_RsvdSecCnt=g.reserved_sectors, BPB_NumFATs=NUM_FATS,
        BPB_RootEntCnt=0, BPB_TotSec16=0, BPB_Media=MEDIA_FIXED, BPB_FATSz16=0, BPB_SecPerTrk=32,
        BPB_NumHeads=64, BPB_HiddSec=0, BPB_TotSec32=g.total_sectors, BPB_FATSz32=g.fat_sectors,
        BPB_ExtFlags=0, BPB_FSVer=0, BPB_RootClus=2, BPB_FSInfo=FSINFO_SECTOR,
        BPB_BkBootSec=BACKUP_BOOT_SECTOR, BPB_Reserved=bytes(12), BS_DrvNum=0x80, BS_Reserved1=0,
        BS_BootSig=0x29, BS_VolID=volume_id & 0xFFFFFFFF, BS_VolLab=b"NO NAME    ", BS_FilSysType=b"FAT32   ")
    boot = bytearray(bps)
    boot[:90] = _BPB.pack(*bpb)
    boot[90:92] = b"\xeb\xfe"                       # the boot code: jmp $ (this volume boots nothing)
    boot[510:512] = b"\x55\xaa"
    fsinfo = bytearray(bps)
    fsinfo[:512] = _FSINFO.pack(FSI_LEAD_SIG, bytes(480), FSI_STRUC_SIG, g.clusters - 1, 2, bytes(12),
                                FSI_TRAIL_SIG)
    fat_head = struct.pack("<3I", 0x0FFFFF00 | MEDIA_FIXED, FAT_EOC, FAT_EOC)   # FAT[0], FAT[1], the root
    writes = [(0, bytes(boot)), (FSINFO_SECTOR * bps, bytes(fsinfo)),
              (BACKUP_BOOT_SECTOR * bps, bytes(boot)), ((BACKUP_BOOT_SECTOR + 1) * bps, bytes(fsinfo))]
    for k in range(NUM_FATS):
        writes.append(((g.reserved_sectors + k * g.fat_sectors) * bps, fat_head))
    return writes


def format_image(target, size: int, *, bytes_per_sector: int = 512, sectors_per_cluster: int | None = None,
                 volume_id: int = 0x534F5652, oem: bytes = b"MSWIN4.1") -> Geometry:
    """A new, empty FAT32 volume of `size` bytes: written to the file
    `target` (created or replaced; sparse, only the reserved sectors and the
    FATs' first entries are written) or into a bytearray (resized to size).
    The layout is geometry()'s; the volume ID is fixed, so the same call
    makes the same bytes; OEM name "MSWIN4.1" as the spec recommends."""
    g = geometry(size, bytes_per_sector, sectors_per_cluster)
    writes = _format_writes(g, volume_id, oem)
    if isinstance(target, bytearray):
        target[:] = bytes(size)
        for off, data in writes:
            target[off:off + len(data)] = data
        return g
    try:
        with open(target, "wb") as f:
            f.truncate(size)
            for off, data in writes:
                f.seek(off)
                f.write(data)
    except OSError as e:
        raise FatError(f"cannot write {os.fspath(target)}: {e.strerror or e}") from None
    return g
