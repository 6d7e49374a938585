"""The language model's NEON kernels (kernel/llm.S, their Forth words in
kernel/forth/llm.S) against numpy on random data, in the emulated M3.

The matrices are packed here, from the layout docs/llm.md gives, not by
harness/model.py: the test holds the kernels and the documented layout to
each other.  Where the kernel's rounding is part of its contract (the
8-bit activation blocks) numpy does the same and the result must be
equal; elsewhere they agree to a few ulps of float32."""

from __future__ import annotations

import numpy as np
import pytest

from harness.machine.m3 import M3, M3Config
from llm_ref import f32bits, sample_ref, splitmix64_high

SCRATCH = 8 << 20


class Kernels:
    def __init__(self, kernel):
        self.m = M3(kernel.elf, M3Config(memory_model=False))
        r = self.m.run(50_000_000)
        assert r.status == "idle", r.report
        self.base = int(self.send(f"{SCRATCH} carve .").split()[-2])
        assert self.base, "carve gave no memory"
        self.top = self.base

    def send(self, line: str) -> str:
        before = len(self.m.output)
        r = self.m.run_script(line + "\n", 400_000_000)
        assert r.status == "idle", f"{r.status}: {r.report}"
        out = self.m.output[before:]
        assert "error" not in out, out
        return out

    def put(self, data) -> int:
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        addr = self.top
        self.top = (self.top + len(raw) + 63) & ~63
        assert self.top <= self.base + SCRATCH
        self.m.cpu.uc.mem_write(addr, raw)
        return addr

    def space(self, nbytes: int) -> int:
        return self.put(bytes(nbytes))

    def get(self, addr: int, dtype, count: int):
        n = np.dtype(dtype).itemsize * count
        return np.frombuffer(bytes(self.m.cpu.uc.mem_read(addr, n)), dtype).copy()

    def reset(self):
        self.top = self.base


@pytest.fixture(scope="module")
def k(kernel):
    return Kernels(kernel)


# ---- numpy: what the kernels compute -------------------------------------

def quantize(x: np.ndarray):
    """llama.cpp's Q8_1 block, rounding to nearest even: (q, d, s)."""
    b = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(b).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    q = np.rint(b * inv[:, None]).astype(np.int8)
    s = (d * q.astype(np.int32).sum(axis=1).astype(np.float32)).astype(np.float32)
    return q.reshape(-1), d, s


def pack_q41(q: np.ndarray, d: np.ndarray, m: np.ndarray) -> bytes:
    """q (rows, cols) in 0..15, d and m (rows, cols/32) f16: Q4_1x4."""
    rows, cols = q.shape
    nb = cols // 32
    out = bytearray()
    for g in range(rows // 4):
        for b in range(nb):
            out += d[4 * g:4 * g + 4, b].astype(np.float16).tobytes()
            out += m[4 * g:4 * g + 4, b].astype(np.float16).tobytes()
            for j in range(4):
                lo = q[4 * g:4 * g + 4, 32 * b + 4 * j:32 * b + 4 * j + 4]
                hi = q[4 * g:4 * g + 4, 32 * b + 16 + 4 * j:32 * b + 16 + 4 * j + 4]
                out += (lo | (hi << 4)).astype(np.uint8).reshape(-1).tobytes()
    return bytes(out)


def pack_q80(q: np.ndarray, d: np.ndarray) -> bytes:
    rows, cols = q.shape
    out = bytearray()
    for g in range(rows // 4):
        for b in range(cols // 32):
            out += d[4 * g:4 * g + 4, b].astype(np.float16).tobytes()
            for j in range(8):
                out += q[4 * g:4 * g + 4, 32 * b + 4 * j:32 * b + 4 * j + 4].astype(np.int8).reshape(-1).tobytes()
    return bytes(out)


def ref_q41(q, d, m, xq, xd, xs):
    rows, cols = q.shape
    nb = cols // 32
    acc = np.zeros(rows, np.float32)
    qi = q.astype(np.int32).reshape(rows, nb, 32)
    xi = xq.astype(np.int32).reshape(nb, 32)
    d32 = d.astype(np.float16).astype(np.float32)
    m32 = m.astype(np.float16).astype(np.float32)
    for b in range(nb):
        isum = (qi[:, b, :] * xi[b]).sum(axis=1).astype(np.float32)
        acc = (acc + (d32[:, b] * xd[b]) * isum).astype(np.float32)
        acc = (acc + m32[:, b] * xs[b]).astype(np.float32)
    return acc


def ref_q80(q, d, xq, xd):
    rows, cols = q.shape
    nb = cols // 32
    acc = np.zeros(rows, np.float32)
    qi = q.astype(np.int32).reshape(rows, nb, 32)
    xi = xq.astype(np.int32).reshape(nb, 32)
    d32 = d.astype(np.float16).astype(np.float32)
    for b in range(nb):
        isum = (qi[:, b, :] * xi[b]).sum(axis=1).astype(np.float32)
        acc = (acc + (d32[:, b] * xd[b]) * isum).astype(np.float32)
    return acc


def close(got, want, rel=2e-6, scale=None):
    scale = np.abs(want).max() if scale is None else scale
    err = np.abs(got - want).max()
    assert err <= rel * max(scale, 1e-30), (err, scale, got[:8], want[:8])


# ---- the tests -------------------------------------------------------------

def test_the_core_has_sdot(k):
    # FEAT_DotProd (ID_AA64ISAR0_EL1.DP): an M3 has it, unicorn's MAX core too
    assert "-1  ok" in k.send("dotprod? .")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantize_equals_numpy(k, seed):
    k.reset()
    rng = np.random.default_rng(seed)
    n = 1536
    x = (rng.standard_normal(n) * rng.uniform(0.01, 30)).astype(np.float32)
    x[32:64] = 0                                   # an all-zero block: d = 0, no NaN
    x[64:96] = np.float32(1e-30) * rng.standard_normal(32).astype(np.float32)   # tiny values
    x[100] = 5.5                                   # halves go to the even neighbour
    xa = k.put(x)
    qa, sa = k.space(n), k.space(n // 32 * 8)
    k.send(f"{qa} {sa} {xa} {n} q8-quant")
    q, d, s = quantize(x)
    assert np.array_equal(k.get(qa, np.int8, n), q)
    got = k.get(sa, np.float32, n // 16).reshape(-1, 2)
    assert np.array_equal(got[:, 0], d)
    assert np.array_equal(got[:, 1], s)


@pytest.mark.parametrize("rows,cols,seed", [(4, 32, 1), (192, 576, 2), (576, 1536, 3)])
def test_q41_matvec_equals_numpy(k, rows, cols, seed):
    k.reset()
    rng = np.random.default_rng(seed)
    nb = cols // 32
    q = rng.integers(0, 16, (rows, cols), dtype=np.uint8)
    d = (rng.uniform(0.001, 0.05, (rows, nb))).astype(np.float16)
    m = (-rng.uniform(0.0, 0.4, (rows, nb))).astype(np.float16)
    x = rng.standard_normal(cols).astype(np.float32)
    xq, xd, xs = quantize(x)
    wa = k.put(np.frombuffer(pack_q41(q, d, m), np.uint8))
    qa = k.put(xq)
    sa = k.put(np.stack([xd, xs], axis=1).astype(np.float32))
    out = k.space(rows * 4)
    k.send(f"{out} {wa} {qa} {sa} {rows} {cols} q41-matvec")
    got = k.get(out, np.float32, rows)
    want = ref_q41(q, d, m, xq, xd, xs)
    # the kernel fuses each multiply-add: a few ulps of the partial sums
    close(got, want, rel=1e-5, scale=np.abs(want).max())
    # and it is the same product as the dequantised weights' (the quantised x aside)
    w = q.astype(np.float32) * np.repeat(d.astype(np.float32), 32, axis=1) + np.repeat(m.astype(np.float32), 32, axis=1)
    xdq = xq.astype(np.float32) * np.repeat(xd, 32)
    close(got, w @ xdq, rel=1e-4)


@pytest.mark.parametrize("rows,cols,seed", [(4, 32, 4), (256, 576, 5)])
def test_q80_matvec_equals_numpy(k, rows, cols, seed):
    k.reset()
    rng = np.random.default_rng(seed)
    nb = cols // 32
    q = rng.integers(-127, 128, (rows, cols)).astype(np.int8)
    d = rng.uniform(0.001, 0.01, (rows, nb)).astype(np.float16)
    x = rng.standard_normal(cols).astype(np.float32)
    xq, xd, xs = quantize(x)
    wa = k.put(np.frombuffer(pack_q80(q, d), np.uint8))
    qa = k.put(xq)
    sa = k.put(np.stack([xd, xs], axis=1).astype(np.float32))
    out = k.space(rows * 4)
    k.send(f"{out} {wa} {qa} {sa} {rows} {cols} q80-matvec")
    close(k.get(out, np.float32, rows), ref_q80(q, d, xq, xd), rel=1e-5)
    # embed: every fourth-row position of a group, dequantised
    for row in (0, 1, 2, 3, rows - 1, rows // 2 + 1):
        ea = k.space(cols * 4)
        k.send(f"{ea} {wa} {row} {cols} embed")
        want = q[row].astype(np.float32) * np.repeat(d[row].astype(np.float32), 32)
        assert np.array_equal(k.get(ea, np.float32, cols), want), row


def test_rmsnorm(k):
    k.reset()
    rng = np.random.default_rng(6)
    n = 576
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    w = rng.uniform(0.5, 2, n).astype(np.float32)
    eps = np.float32(1e-5)
    xa, wa, out = k.put(x), k.put(w), k.space(n * 4)
    k.send(f"{out} {xa} {wa} {n} {int(eps.view(np.uint32))} rmsnorm")
    want = x * (np.float32(1) / np.sqrt(np.mean(x.astype(np.float64) ** 2) + eps)).astype(np.float32) * w
    close(k.get(out, np.float32, n), want.astype(np.float32), rel=4e-7 * 8)
    k.send(f"{xa} {xa} {wa} {n} {int(eps.view(np.uint32))} rmsnorm")     # in place
    close(k.get(xa, np.float32, n), want.astype(np.float32), rel=4e-7 * 8)


def test_rope(k):
    k.reset()
    rng = np.random.default_rng(7)
    heads, pos, theta = 9, 37, 1e5
    v = rng.standard_normal(heads * 64).astype(np.float32)
    i = np.arange(32)
    ang = pos * theta ** (-2.0 * i / 64)
    row = np.stack([np.cos(ang), np.sin(ang)], axis=1).astype(np.float32)
    va, ra = k.put(v), k.put(row)
    k.send(f"{va} {heads} {ra} rope")
    h = v.reshape(heads, 32, 2)
    a, b = h[..., 0], h[..., 1]
    c, s = row[:, 0], row[:, 1]
    want = np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(-1)
    close(k.get(va, np.float32, heads * 64), want, rel=4e-7)


@pytest.mark.parametrize("n", [1, 3, 4, 9, 130])
def test_attend(k, n):
    k.reset()
    rng = np.random.default_rng(8 + n)
    stride = 192                                    # floats between positions: the KV cache's
    keys = (rng.standard_normal((n, stride)) * 2).astype(np.float32)
    vals = rng.standard_normal((n, stride)).astype(np.float32)
    q = (rng.standard_normal(64) * 2).astype(np.float32)
    head = 1                                        # the KV head: its 64 floats in each position
    ka, va, qa = k.put(keys), k.put(vals), k.put(q)
    out, scratch = k.space(256), k.space(n * 4 + 16)
    k.send(f"{out} {qa} {ka + head * 256} {va + head * 256} {n} {stride * 4} {scratch} attend")
    s = keys[:, head * 64:(head + 1) * 64] @ q / np.float32(8)
    p = np.exp(s - s.max())
    p /= p.sum()
    want = p @ vals[:, head * 64:(head + 1) * 64]
    close(k.get(out, np.float32, 64), want.astype(np.float32), rel=2e-6)


def test_swiglu_and_add(k):
    k.reset()
    rng = np.random.default_rng(9)
    n = 1536
    g = (rng.standard_normal(n) * 6).astype(np.float32)
    g[:4] = [-100, -88, 88, 100]                    # e^x clamps at its ends
    u = rng.standard_normal(n).astype(np.float32)
    ga, ua = k.put(g), k.put(u)
    k.send(f"{ga} {ua} {n} swiglu")
    want = (g.astype(np.float64) / (1 + np.exp(-g.astype(np.float64))) * u).astype(np.float32)
    got = k.get(ga, np.float32, n)
    assert np.allclose(got, want, rtol=3e-6, atol=1e-30), np.abs(got - want).max()
    k.send(f"{ga} {ua} {n} v+!")
    close(k.get(ga, np.float32, n), (got + u).astype(np.float32), rel=0)


def test_argmax(k):
    k.reset()
    rng = np.random.default_rng(10)
    x = rng.standard_normal(49152).astype(np.float32)
    x[777] = x[40000] = 9.0                         # ties: the first
    xa = k.put(x)
    assert k.send(f"{xa} 49152 argmax .").split()[-2] == "777"
    assert k.send(f"{xa} 1 argmax .").split()[-2] == "0"


# ---- sampling -------------------------------------------------------------

def results(k, line: str) -> list[int]:
    """The numbers a line printed (after the console's echo of it)."""
    return [int(t) for t in k.send(line).split(line, 1)[-1].split()[:-1]]


def sample_all(k, xa, n, temp, top_p, us, scratch):
    got = []
    for j in range(0, len(us), 4):                       # a console line holds four
        got += results(k, " ".join(f"{xa} {n} {f32bits(temp)} {f32bits(top_p)} {u} {scratch} sample ."
                                   for u in us[j:j + 4]))
    return got


@pytest.mark.parametrize("n,temp,top_p,scale", [
    (49152, 0.8, 0.95, 3.0),      # the model's vocabulary, a typical setting
    (49152, 1.0, 1.0, 1.0),       # all 40 in play
    (37, 0.5, 0.9, 0.5),          # fewer logits than k, n not a multiple of 4
    (1000, 2.0, 0.5, 0.3),        # hot and flat
])
def test_sample_matches_numpy(k, n, temp, top_p, scale):
    k.reset()
    rng = np.random.default_rng(11 + n)
    x = (rng.standard_normal(n) * scale).astype(np.float32)
    xa, scratch = k.put(x), k.space(480)
    us = [int(u) for u in rng.integers(0, 1 << 32, 24)] + [0, (1 << 32) - 1]
    got = sample_all(k, xa, n, temp, top_p, us, scratch)
    assert got == [sample_ref(x, temp, top_p, u) for u in us]
    assert len(set(got)) > 1 or top_p < 0.6                 # it does sample


def test_sample_ties_nan_and_edges(k):
    k.reset()
    x = np.full(64, -np.inf, np.float32)
    xa, scratch = k.put(x), k.space(480)
    assert sample_all(k, xa, 64, 1.0, 1.0, [5], scratch) == [0]      # nothing to choose
    x = np.zeros(64, np.float32)
    x[::3] = np.nan
    x[[50, 7, 20]] = 4.0                                   # equal: the lower index first
    xa = k.put(x)
    us = [0, 1 << 31, (1 << 32) - 1]
    assert sample_all(k, xa, 64, 1.0, 1.0, us, scratch) == [sample_ref(x, 1.0, 1.0, u) for u in us]
    assert sample_all(k, xa, 64, 1e-3, 0.9, us, scratch) == [7, 20, 50]  # cold: the largest, evenly
    assert sample_all(k, xa, 64, 1.0, 1e-6, us, scratch) == [7, 7, 7]  # top-p tiny: greedy


def test_sample_frequencies(k):
    """Over evenly spread u the tokens come out in their probabilities' shares."""
    k.reset()
    x = np.log(np.array([0.5, 0.25, 0.125, 0.0625, 0.0625], np.float32))
    xa, scratch = k.put(x), k.space(480)
    us = [(j << 32) // 256 for j in range(256)]
    got = np.bincount(sample_all(k, xa, 5, 1.0, 1.0, us, scratch), minlength=5)
    assert list(got) == [128, 64, 32, 16, 16]


def test_rng(k):
    got = results(k, "12345 rng! rng u. rng u. rng u. rng u.")
    assert got == splitmix64_high(12345, 4)
    assert results(k, "12345 rng! rng u.") == got[:1]                  # the seed repeats it
