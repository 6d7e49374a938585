"""The numpy reference of SmolLM2-135M-Instruct, and the reference tokenizer.

The kernel's generated tokens are held equal, token for token, to what this
module computes. It is written from the GGUF file alone (read with
`gguf.GGUFReader`), never from the kernel's model image, so a mistake in the
image converter or in the kernel shows up as a disagreement.

Token-for-token equality needs the same rounding where rounding decides a
greedy choice, so this reference does the arithmetic the kernel does:

* Matrix-vector products quantize their input vector like llama.cpp's
  Q8_1 path (Q4_1 weights) and Q8_0 path (the Q8_0 output matrix): blocks
  of 32, d = float32(amax / 127), id = 1 / d (0 when d is 0),
  q = int8(rint(x * id)) (round half to even), s = float32(d * sum(q)).
  d and s stay float32 (the kernel does not round them to f16 as ggml's
  block_q8_1 does).
* A Q4_1 row accumulates its blocks in order in float32:
  acc = acc + (dw * d) * isum, then acc = acc + mw * s, each step rounded
  to float32; with fma=True each step is one fused multiply-add, rounded
  once (emulated exactly, fma32), as the kernel's fmla does. isum, the integer dot product of the weight quants (0..15)
  with the activation quants, is exact. A Q8_0 row: acc = acc + (dw*d)*isum.
* The RoPE table: cos and sin of pos * theta^(-2i/64) in float64, rounded
  to float32; pair i rotates elements 2i and 2i+1 of each head (GGUF's llama
  Q/K rows are already permuted for adjacent pairs).
* Everything else in float32: RMSNorm x * (1/sqrt(mean(x^2) + eps)) * w,
  attention q.k / 8 over positions 0..pos, softmax, SwiGLU, residuals.
  Summation order and exp differ from the kernel's in the last bits.

Last-bit differences do not stay small: one flips an activation quant's
rounding somewhere, and over 30 layers the logits move by about 0.1-0.5
(FMA against separate rounding alone: median 0.05-0.11 on the top-1/top-2
gap, up to 0.5, and one greedy flip in 75 steps where the margin was
0.075). So hold the kernel's tokens to `Reference.score` (teacher-forced:
the kernel's token must be within a small deficit of the reference's top
logit, and equal to it where the margin is wide) rather than demand the
whole greedy sequence.

Weights are decoded once at load into float32 quant arrays (exact small
integers) and float32 scales, so every integer block dot is a BLAS float32
product that is exact (|isum| < 2^24).

The tokenizer is HF `tokenizers` BPE built from the GGUF's vocabulary and
merges with SmolLM2's pre-tokenizer (llama.cpp's "smollm": each digit
alone, then GPT-2's byte-level split), the three chat control tokens as
special tokens.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

QK = 32                      # block size of Q4_1, Q8_0 and the activation quants
ROPE_POSITIONS = 2048        # positions in the kernel's RoPE table
F32 = np.float32

ENDOFTEXT, IM_START, IM_END = 0, 1, 2
SYSTEM_PROMPT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@functools.cache
def default_gguf_path() -> Path:
    """$SOVEREIGN_GGUF, else the GGUF in the model cache (harness.model,
    downloaded there the first time)."""
    if os.environ.get("SOVEREIGN_GGUF"):
        return Path(os.environ["SOVEREIGN_GGUF"])
    from harness import model
    return model.fetch_gguf()


# --------------------------------------------------------------------------
# GGUF block formats

def decode_q4_1(raw: np.ndarray, rows: int, cols: int):
    """Q4_1 bytes (rows x cols/32 blocks of 20 bytes: f16 d, f16 m, 16 qs)
    -> (q uint8 [rows, nb, 32] in 0..15, d f32 [rows, nb], m f32 [rows, nb]).
    Element j of a block is qs[j] & 15, element j + 16 is qs[j] >> 4."""
    nb = cols // QK
    b = np.ascontiguousarray(raw, dtype=np.uint8).reshape(rows, nb, 20)
    d = b[:, :, 0:2].copy().view(np.float16)[:, :, 0].astype(F32)
    m = b[:, :, 2:4].copy().view(np.float16)[:, :, 0].astype(F32)
    qs = b[:, :, 4:20]
    q = np.concatenate([qs & 15, qs >> 4], axis=2)
    return q, d, m


def decode_q8_0(raw: np.ndarray, rows: int, cols: int):
    """Q8_0 bytes (blocks of 34: f16 d, 32 int8) -> (q int8 [rows, nb, 32],
    d f32 [rows, nb])."""
    nb = cols // QK
    b = np.ascontiguousarray(raw, dtype=np.uint8).reshape(rows, nb, 34)
    d = b[:, :, 0:2].copy().view(np.float16)[:, :, 0].astype(F32)
    q = b[:, :, 2:34].copy().view(np.int8)
    return q, d


class Q41Matrix:
    """A Q4_1 matrix ready for matvecs: qt f32 [nb, rows, 32] (quants 0..15,
    block-major so one BLAS call per block column), d, m f32 [rows, nb]."""

    def __init__(self, q: np.ndarray, d: np.ndarray, m: np.ndarray):
        self.rows, self.nb = d.shape
        self.cols = self.nb * QK
        self.qt = np.ascontiguousarray(q.transpose(1, 0, 2), dtype=F32)
        self.d = np.ascontiguousarray(d, dtype=F32)
        self.m = np.ascontiguousarray(m, dtype=F32)

    @classmethod
    def stack(cls, mats: list["Q41Matrix"]) -> "Q41Matrix":
        """Rows of several matrices with the same columns, one after another
        (rows are independent: the result equals each matvec apart)."""
        out = cls.__new__(cls)
        out.nb = mats[0].nb
        out.cols = mats[0].cols
        out.qt = np.concatenate([x.qt for x in mats], axis=1)
        out.d = np.concatenate([x.d for x in mats], axis=0)
        out.m = np.concatenate([x.m for x in mats], axis=0)
        out.rows = out.d.shape[0]
        return out

    def dequantize(self) -> np.ndarray:
        """Float32 weights [rows, cols], d * q + m."""
        w = self.qt.transpose(1, 0, 2) * self.d[:, :, None] + self.m[:, :, None]
        return w.reshape(self.rows, self.cols).astype(F32)


class Q80Matrix:
    """A Q8_0 matrix: qt f32 [nb, rows, 32] (int8 values), d f32 [rows, nb]."""

    def __init__(self, q: np.ndarray, d: np.ndarray):
        self.rows, self.nb = d.shape
        self.cols = self.nb * QK
        self.qt = np.ascontiguousarray(q.transpose(1, 0, 2), dtype=F32)
        self.d = np.ascontiguousarray(d, dtype=F32)

    def row(self, r: int) -> np.ndarray:
        """Dequantized row r (the embedding lookup), d * q in float32."""
        return (self.qt[:, r, :] * self.d[r][:, None]).reshape(self.cols).astype(F32)

    def dequantize(self) -> np.ndarray:
        w = self.qt.transpose(1, 0, 2) * self.d[:, :, None]
        return w.reshape(self.rows, self.cols).astype(F32)


# --------------------------------------------------------------------------
# Kernel-level operations (each callable on random data by the unit tests)

def quantize_q8(x: np.ndarray):
    """Activation quantization, blocks of 32: -> (q int8 [nb, 32],
    d f32 [nb], s f32 [nb]) with d = f32(amax/127), id = 1/d (0 if d = 0),
    q = rint(f32(x * id)) half to even, s = f32(d * sum(q))."""
    xb = np.asarray(x, dtype=F32).reshape(-1, QK)
    amax = np.max(np.abs(xb), axis=1)
    d = (amax / F32(127)).astype(F32)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, F32(0), F32(1) / np.where(d == 0, F32(1), d)).astype(F32)
    q = np.rint((xb * inv[:, None]).astype(F32)).astype(np.int8)
    s = (d * q.sum(axis=1, dtype=np.int32).astype(F32)).astype(F32)
    return q, d, s


def _block_dots(qt: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """[nb, rows] per-block dot products of weight quants with activation
    blocks xq [nb, 32] (float32; exact for integer inputs below 2^24)."""
    return np.matmul(qt, np.asarray(xq, dtype=F32)[:, :, None])[:, :, 0]


def _accumulate(terms: np.ndarray) -> np.ndarray:
    """Sum terms [k, rows] over k in order, rounding to float32 each step."""
    return np.add.accumulate(terms.astype(F32), axis=0, dtype=F32)[-1]


def fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 a*b + c rounded once (an exact emulation of the fused
    multiply-add): the product of two float32 is exact in float64, the sum's
    rounding error is recovered by TwoSum and decides the ties that the
    float64 sum's own rounding would otherwise decide wrongly."""
    p = a.astype(np.float64) * b.astype(np.float64)
    c = np.asarray(c, dtype=np.float64)
    s = p + c
    bp = s - c
    e = (p - bp) + (c - (s - bp))                  # s + e == p + c exactly
    r = s.astype(F32)
    # s exactly halfway between r and a neighbour: the sign of e decides
    nb = np.nextafter(r, np.where(s > r, F32(np.inf), F32(-np.inf)).astype(F32))
    tie = (e != 0) & ((r.astype(np.float64) + nb.astype(np.float64)) * 0.5 == s)
    if tie.any():
        up = e > 0
        hi = np.maximum(r, nb)
        lo = np.minimum(r, nb)
        r = np.where(tie, np.where(up, hi, lo), r).astype(F32)
    return r


def q41_matvec(w: Q41Matrix, x: np.ndarray, fma: bool = False) -> np.ndarray:
    """y = W x with x quantized to Q8_1 blocks, the kernel's arithmetic:
    acc += (dw*d)*isum; acc += mw*s, block by block, in float32 (each
    step rounded twice, or once with fma=True)."""
    q, d, s = quantize_q8(x)
    isum = _block_dots(w.qt, q)                        # [nb, rows], exact
    dd = (w.d.T * d[:, None]).astype(F32)              # dw*d
    if fma:
        acc = np.zeros(w.rows, dtype=F32)
        mt = w.m.T
        for b in range(w.nb):
            acc = fma32(dd[b], isum[b], acc)
            acc = fma32(mt[b], np.broadcast_to(s[b], acc.shape), acc)
        return acc
    terms = np.empty((2 * w.nb, w.rows), dtype=F32)
    terms[0::2] = dd * isum                            # (dw*d)*isum
    terms[1::2] = w.m.T * s[:, None]                   # mw*s
    return _accumulate(terms)


def q80_matvec(w: Q80Matrix, x: np.ndarray, fma: bool = False) -> np.ndarray:
    """y = W x with x quantized to Q8_0 blocks: acc += (dw*d)*isum."""
    q, d, _ = quantize_q8(x)
    isum = _block_dots(w.qt, q)
    dd = (w.d.T * d[:, None]).astype(F32)
    if fma:
        acc = np.zeros(w.rows, dtype=F32)
        for b in range(w.nb):
            acc = fma32(dd[b], isum[b], acc)
        return acc
    return _accumulate(dd * isum)


def q41_matvec_float(w: Q41Matrix, x: np.ndarray) -> np.ndarray:
    """W x with the dequantized weights and x unquantized:
    sum over blocks of d*(q.x_b) + m*sum(x_b) (= (d q + m).x)."""
    xb = np.asarray(x, dtype=F32).reshape(-1, QK)
    dots = _block_dots(w.qt, xb)
    return (np.sum(w.d.T * dots + w.m.T * xb.sum(axis=1)[:, None], axis=0)).astype(F32)


def q80_matvec_float(w: Q80Matrix, x: np.ndarray) -> np.ndarray:
    xb = np.asarray(x, dtype=F32).reshape(-1, QK)
    return np.sum(w.d.T * _block_dots(w.qt, xb), axis=0).astype(F32)


def rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """x * (1/sqrt(mean(x^2) + eps)) * w in float32."""
    x = np.asarray(x, dtype=F32)
    ms = F32(np.sum(x * x, dtype=F32) / F32(x.shape[-1]))
    scale = F32(1) / np.sqrt(F32(ms + F32(eps)))
    return ((x * scale) * np.asarray(w, dtype=F32)).astype(F32)


def rope_table(positions: int = ROPE_POSITIONS, head_dim: int = 64,
               theta: float = 100000.0) -> np.ndarray:
    """[positions, head_dim/2, 2] float32 (cos, sin) of
    pos * theta^(-2i/head_dim), computed in float64."""
    i = np.arange(head_dim // 2, dtype=np.float64)
    freq = theta ** (-2.0 * i / head_dim)
    ang = np.arange(positions, dtype=np.float64)[:, None] * freq[None, :]
    return np.stack([np.cos(ang), np.sin(ang)], axis=-1).astype(F32)


def rope(x: np.ndarray, cos_sin: np.ndarray) -> np.ndarray:
    """Rotate adjacent pairs of each head: x [..., heads, head_dim] at one
    position, cos_sin [head_dim/2, 2] (one row of rope_table)."""
    x = np.asarray(x, dtype=F32)
    c, s = cos_sin[:, 0], cos_sin[:, 1]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    """exp(x - max) / sum, float32, over the last axis."""
    x = np.asarray(x, dtype=F32)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return (e / np.sum(e, axis=-1, keepdims=True, dtype=F32)).astype(F32)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One head over a cache: q [hd], k, v [n, hd] (positions 0..pos) ->
    softmax(k q / sqrt(hd)) v."""
    q = np.asarray(q, dtype=F32)
    scores = (np.asarray(k, dtype=F32) @ q) * F32(1.0 / np.sqrt(q.shape[-1]))
    return (softmax(scores) @ np.asarray(v, dtype=F32)).astype(F32)


def attention_gqa(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """All heads at once: q [H, hd], k, v [KV, n, hd]; head h uses KV head
    h // (H / KV). Same arithmetic as `attention` per head."""
    H, hd = q.shape
    kv = k.shape[0]
    qg = q.reshape(kv, H // kv, hd)
    scores = np.matmul(qg, k.transpose(0, 2, 1)) * F32(1.0 / np.sqrt(hd))
    return np.matmul(softmax(scores), v).reshape(H, hd).astype(F32)


def silu_mul(g: np.ndarray, u: np.ndarray) -> np.ndarray:
    """silu(g) * u = g / (1 + exp(-g)) * u, float32."""
    g = np.asarray(g, dtype=F32)
    with np.errstate(over="ignore"):
        return ((g / (F32(1) + np.exp(-g))) * np.asarray(u, dtype=F32)).astype(F32)


def argmax(x: np.ndarray) -> int:
    """The greedy choice; the lowest index wins a tie."""
    return int(np.argmax(x))


# --------------------------------------------------------------------------
# The model

# The sampler (kernel/llm.S llm_sample) and its random numbers (rng)

EXP_LO, EXP_HI = np.float32(-87.3365447505531), np.float32(88.3762626647949)


def f32bits(v: float) -> int:
    return int(np.array(v, np.float32).view(np.uint32))


def sample_ref(x: np.ndarray, temp: float, top_p: float, u: int) -> int:
    """llm_sample's contract (kernel/llm.S), step by step in float32."""
    x = np.asarray(x, np.float32)
    idx = np.nonzero(~np.isnan(x) & (x > -np.inf))[0]
    if len(idx) == 0:
        return 0
    order = idx[np.lexsort((idx, -x[idx]))][:40]        # largest first, ties by index
    l = x[order]
    a = np.clip((l - l[0]) / np.float32(temp), EXP_LO, EXP_HI)
    c = np.cumsum(np.exp(a), dtype=np.float32)
    m = len(c) - 1
    hit = np.nonzero(c >= np.float32(top_p) * c[-1])[0]
    if len(hit):
        m = min(m, int(hit[0]))
    r = np.float32(u) * np.float32(2.0 ** -32) * c[m]
    above = np.nonzero(c[:m + 1] > r)[0]
    return int(order[above[0] if len(above) else m])


def splitmix64_high(seed: int, count: int) -> list[int]:
    out, s, m = [], seed, (1 << 64) - 1
    for _ in range(count):
        s = (s + 0x9E3779B97F4A7C15) & m
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        out.append((z ^ (z >> 31)) >> 32)
    return out


def milli_f32(n: int) -> float:
    """forth/llm/73-sampling.fth milli>f32: n/1000 as the f32 it makes
    (the quotient truncated to 24 bits)."""
    q, s = (n << 40) // 1000, 40
    while q >= 1 << 24:
        q, s = q >> 1, s - 1
    return float(q) * 2.0 ** -s


def sampler(temp_milli: int, top_p_milli: int, seed: int):
    """The kernel's `temp top-p seed sampling` choice as a function of the
    logits, for Reference.generate(choose=...)."""
    temp, top_p = milli_f32(temp_milli), milli_f32(min(max(top_p_milli, 1), 1000))
    state = {"seed": seed, "n": 0}

    def choose(logits):
        state["n"] += 1
        u = splitmix64_high(state["seed"], state["n"])[-1]
        return sample_ref(logits, temp, top_p, u)
    return choose


def greedy_reference(prompt: str, n: int):
    """(prompt ids, the greedy continuation's n tokens, the logits the
    first was chosen from), with the kernel's fused multiply-adds: for
    a process of its own (tests/test_llm.py)."""
    r = Reference(fma=True)
    ids = encode(prompt)
    out = r.generate(ids, n)
    return ids, out, r.step_logits[0]


class Reference:
    """SmolLM2-135M-Instruct from its GGUF, with a KV cache.

    quantize_activations=False gives the plain float model (dequantized
    weights, unquantized activations), for comparison only. fma=True fuses
    each matvec step's multiply and add (one rounding), as NEON's fmla."""

    def __init__(self, gguf_path=None, quantize_activations: bool = True,
                 max_positions: int = ROPE_POSITIONS, fma: bool = False):
        from gguf import GGUFReader
        r = GGUFReader(str(gguf_path or default_gguf_path()))

        def meta(key):
            return r.fields[key].contents()

        assert meta("general.architecture") == "llama"
        self.layers = int(meta("llama.block_count"))
        self.dim = int(meta("llama.embedding_length"))
        self.ffn = int(meta("llama.feed_forward_length"))
        self.heads = int(meta("llama.attention.head_count"))
        self.kv_heads = int(meta("llama.attention.head_count_kv"))
        self.head_dim = self.dim // self.heads
        self.eps = F32(meta("llama.attention.layer_norm_rms_epsilon"))
        self.theta = float(meta("llama.rope.freq_base"))
        self.max_positions = max_positions
        self.quantize_activations = quantize_activations
        self.fma = fma

        t = {x.name: x for x in r.tensors}

        def q41(name):
            x = t[name]
            assert x.tensor_type.name == "Q4_1", name
            cols, rows = (int(n) for n in x.shape)
            return Q41Matrix(*decode_q4_1(x.data, rows, cols))

        def f32(name):
            x = t[name]
            assert x.tensor_type.name == "F32", name
            return np.array(x.data, dtype=F32).reshape(-1)

        e = t["token_embd.weight"]
        assert e.tensor_type.name == "Q8_0"
        cols, rows = (int(n) for n in e.shape)
        self.vocab = rows
        self.embd = Q80Matrix(*decode_q8_0(e.data, rows, cols))
        assert "output.weight" not in t          # tied output
        self.output_norm = f32("output_norm.weight")

        self.blk = []
        for i in range(self.layers):
            p = f"blk.{i}."
            self.blk.append(dict(
                attn_norm=f32(p + "attn_norm.weight"),
                qkv=Q41Matrix.stack([q41(p + "attn_q.weight"), q41(p + "attn_k.weight"),
                                     q41(p + "attn_v.weight")]),
                wo=q41(p + "attn_output.weight"),
                ffn_norm=f32(p + "ffn_norm.weight"),
                gate_up=Q41Matrix.stack([q41(p + "ffn_gate.weight"), q41(p + "ffn_up.weight")]),
                down=q41(p + "ffn_down.weight"),
            ))
        self.rope = rope_table(max_positions, self.head_dim, self.theta)
        self.reset()

    def reset(self):
        """Empty the KV cache."""
        shape = (self.layers, self.kv_heads, self.max_positions, self.head_dim)
        self.k_cache = np.zeros(shape, dtype=F32)
        self.v_cache = np.zeros(shape, dtype=F32)
        self.pos = 0

    def _mv41(self, w, x):
        return q41_matvec(w, x, self.fma) if self.quantize_activations else q41_matvec_float(w, x)

    def _mv80(self, w, x):
        return q80_matvec(w, x, self.fma) if self.quantize_activations else q80_matvec_float(w, x)

    def forward(self, token: int, pos: int) -> np.ndarray:
        """Logits [vocab] float32 after `token` at position `pos`; the cache
        must hold positions 0..pos-1."""
        assert 0 <= pos < self.max_positions
        H, KV, hd, D = self.heads, self.kv_heads, self.head_dim, self.dim
        cs = self.rope[pos]
        x = self.embd.row(int(token))
        for li, b in enumerate(self.blk):
            h = rmsnorm(x, b["attn_norm"], self.eps)
            qkv = self._mv41(b["qkv"], h)
            q = rope(qkv[:D].reshape(H, hd), cs)
            k = rope(qkv[D:D + KV * hd].reshape(KV, hd), cs)
            v = qkv[D + KV * hd:].reshape(KV, hd)
            self.k_cache[li, :, pos] = k
            self.v_cache[li, :, pos] = v
            att = attention_gqa(q, self.k_cache[li, :, :pos + 1], self.v_cache[li, :, :pos + 1])
            x = (x + self._mv41(b["wo"], att.reshape(D))).astype(F32)
            h = rmsnorm(x, b["ffn_norm"], self.eps)
            gu = self._mv41(b["gate_up"], h)
            a = silu_mul(gu[:self.ffn], gu[self.ffn:])
            x = (x + self._mv41(b["down"], a)).astype(F32)
        self.pos = pos + 1
        return self._mv80(self.embd, rmsnorm(x, self.output_norm, self.eps))

    def generate(self, prompt_ids, n: int, greedy: bool = True, stop=(),
                 temperature: float = 1.0, seed: int = 0, choose=None) -> list[int]:
        """Reset, feed the prompt, then produce up to n tokens (ending early
        after a token in `stop`). Greedy takes the argmax; otherwise samples
        from softmax(logits / temperature). self.margins holds each greedy
        step's top-1 minus top-2 logit.  choose(logits) -> token, if given,
        chooses instead (sampler(): the kernel's sampling)."""
        prompt_ids = list(prompt_ids)
        assert prompt_ids
        self.reset()
        rng = np.random.default_rng(seed)
        for p, tok in enumerate(prompt_ids):
            logits = self.forward(tok, p)
        out, self.margins, self.step_logits = [], [], []
        pos = len(prompt_ids)
        for _ in range(n):
            self.step_logits.append(logits)
            top2 = np.partition(logits, -2)[-2:]
            self.margins.append(float(top2[1] - top2[0]))
            if choose is not None:
                tok = choose(logits)
            elif greedy:
                tok = argmax(logits)
            else:
                p = softmax(logits / F32(temperature)).astype(np.float64)
                tok = int(rng.choice(len(p), p=p / p.sum()))
            out.append(tok)
            if tok in stop or len(out) == n:
                break
            logits = self.forward(tok, pos)
            pos += 1
        return out


    def score(self, prompt_ids, tokens) -> list[dict]:
        """Teacher-forced check of tokens another implementation generated
        after prompt_ids: for each step, the reference's own choice, its
        top-1 minus top-2 margin and `deficit`, how far below the
        reference's top logit the given token's logit is (0 when they
        agree). Last-bit differences anywhere (an FMA, a summation order, an
        exp) move the logits by about 0.1-0.5 here, because they flip some
        activation quant's rounding, so equality can only be demanded where
        the margin is larger than that."""
        prompt_ids, tokens = list(prompt_ids), list(tokens)
        self.reset()
        seq = prompt_ids + tokens
        out = []
        for p, tok in enumerate(seq[:-1]):
            logits = self.forward(tok, p)
            if p >= len(prompt_ids) - 1:
                top2 = np.partition(logits, -2)[-2:]
                given = seq[p + 1]
                out.append(dict(token=given, ref=argmax(logits),
                                margin=float(top2[1] - top2[0]),
                                deficit=float(top2[1] - logits[given])))
        return out


# --------------------------------------------------------------------------
# The reference tokenizer

@functools.lru_cache(maxsize=None)
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


@functools.lru_cache(maxsize=None)
def _gguf_vocab(gguf_path: str):
    from gguf import GGUFReader
    r = GGUFReader(gguf_path)
    tokens = list(r.fields["tokenizer.ggml.tokens"].contents())
    types = list(r.fields["tokenizer.ggml.token_type"].contents())
    merges = list(r.fields["tokenizer.ggml.merges"].contents())
    return tokens, types, merges


def reference_tokenizer(gguf_path=None):
    """A `tokenizers.Tokenizer`: BPE over the GGUF's vocabulary and merges,
    pre-tokenizer Digits(individual) then ByteLevel (GPT-2 regex, no prefix
    space), ByteLevel decoder, no normalizer, the three chat control tokens
    special."""
    return _reference_tokenizer(str(gguf_path or default_gguf_path()))


@functools.lru_cache(maxsize=None)
def _reference_tokenizer(gguf_path: str):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    tokens, _, merges = _gguf_vocab(gguf_path)
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = []
    for m in merges:
        a, b = m.split(" ")
        pairs.append((a, b))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False)
                            for i in (ENDOFTEXT, IM_START, IM_END)])
    return tok


@functools.lru_cache(maxsize=None)
def _token_bytes(gguf_path: str) -> list[bytes]:
    """Each token's raw bytes (the byte-to-unicode map undone); a control
    token's are its text."""
    tokens, types, _ = _gguf_vocab(gguf_path)
    inv = {c: b for b, c in _bytes_to_unicode().items()}
    out = []
    for t, ty in zip(tokens, types):
        if ty == 3 or any(c not in inv for c in t):
            out.append(t.encode("utf-8"))
        else:
            out.append(bytes(inv[c] for c in t))
    return out


def token_bytes(gguf_path=None) -> list[bytes]:
    return _token_bytes(str(gguf_path or default_gguf_path()))


def encode(text: str, gguf_path=None) -> list[int]:
    """Token ids of text; `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`
    written in the text are their control tokens."""
    return reference_tokenizer(gguf_path).encode(text, add_special_tokens=False).ids


def decode(ids, gguf_path=None) -> bytes:
    """The bytes of the tokens, concatenated (control tokens as text)."""
    tb = token_bytes(gguf_path)
    return b"".join(tb[int(i)] for i in ids)


def decode_text(ids, gguf_path=None) -> str:
    """decode() as UTF-8, invalid sequences replaced."""
    return decode(ids, gguf_path).decode("utf-8", errors="replace")


def chat_prompt(question: str) -> str:
    """The GGUF's chat template for one user message, generation prompt on."""
    return (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
            f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")


def chat_prompt_ids(question: str, gguf_path=None) -> list[int]:
    return encode(chat_prompt(question), gguf_path)
