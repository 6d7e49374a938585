"""The language model in the kernel (forth/llm/, kernel/llm.S; docs/llm.md)
booted with the model image as its disk (the emulated M3's RAM disk,
QEMU's read-only virtio drive), against the numpy reference
(tests/llm_ref.py, with the kernel's fused multiply-adds): the tokenizer's
ids equal the reference tokenizer's on known and random ASCII text; the
greedy continuations of three prompts (one on the M3, two under QEMU)
equal the reference's token for token; sampling repeats with its seed and
picks what the reference's sampler picks from the same logits; Ctrl-C
stops a generation; a disk that is no model, or a damaged one, is a clear
error and the console answers after it.

The reference runs in a process of its own, started with the module: its
~0.4 s a token overlaps the kernel's generations instead of adding to
them."""

from __future__ import annotations

import multiprocessing
import random
import re
import string
from concurrent.futures import ProcessPoolExecutor

import pytest

import llm_ref as L
from harness import model
from harness.cli import MODEL_MEM_SIZE
from harness.machine.m3 import M3, M3Config
from harness.qemu import QemuVirt
from kernel_support import Console
from qemu_support import need_qemu

# (prompt, tokens): each prompt's greedy continuation is held to the
# reference's.  Their reference margins (top-1 minus top-2 logit) stay
# above 0.1 at every step (0.27, 0.15, 0.10): the last-bit differences
# between the kernel and numpy move a logit by less (llm_ref.Reference.score)
ON_M3 = ("Once upon a time,", 25)
UNDER_QEMU = [("def fibonacci(n):", 25), ("The cat sat on the", 20)]


@pytest.fixture(scope="module")
def refs():
    """The reference's greedy continuation of every prompt, computed in a
    second process while the kernel runs: refs[prompt].result()."""
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    futures = {p: pool.submit(L.greedy_reference, p, n) for p, n in [ON_M3, *UNDER_QEMU]}
    yield futures
    pool.shutdown(cancel_futures=True)


def printed_tokens(out: str) -> list[int]:
    """The ids `.tokens` printed on the last line of out."""
    assert out.strip().endswith("ok"), out
    return [int(x) for x in out.rsplit("\n", 2)[-2].split()[:-1]]


@pytest.fixture(scope="module")
def llm(kernel, refs):
    m = M3(kernel.elf, M3Config(memory_model=False, disk=model.fetch().read_bytes()))
    r = m.run(50_000_000)
    assert r.status == "idle", r.report
    c = Console(m, r.output)
    out = c.send("model-load .model", 400_000_000)
    assert "30 layers, dim 576 ffn 1536 heads 9 kv heads 3 vocabulary 49152" in out, out
    addr = int(c.send("4096 allocate throw .").split()[-2])
    return c, addr


def ids_of(c: Console, addr: int, text: str) -> list[int]:
    raw = text.encode()
    c.machine.cpu.uc.mem_write(addr, raw)
    out = c.send(f"{addr} {len(raw)} tokens .tokens")
    assert "error" not in out, out
    return [int(x) for x in re.findall(r"-?\d+", out.split("tokens .tokens", 1)[1])]


def test_known_ids(llm):
    c, addr = llm
    for text in ("Hello world", "The year 2024!", "Once upon a time,", "it's  they'll\n\nx",
                 "a  b   c!!  ?"):
        assert ids_of(c, addr, text) == L.encode(text), text


def test_random_ascii_matches_the_reference_tokenizer(llm):
    c, addr = llm
    rnd = random.Random(16)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "    \n\t"
    for _ in range(25):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 60)))
        assert ids_of(c, addr, text) == L.encode(text), repr(text)


def test_greedy_continuation_equals_the_reference(llm, refs):
    c, _ = llm
    prompt, n = ON_M3
    out = c.send(f's" {prompt}" {n} generate cr .tokens', 4_000_000_000)
    ids, ref, _ = refs[prompt].result()
    assert printed_tokens(out) == ids + ref, out
    assert L.decode_text(ref) in out


def test_ctrl_c_stops_a_generation_and_more_goes_on(llm, refs):
    """Ctrl-C while the generator thread runs: "user interrupt", the
    console answers, the context keeps the tokens made so far (a prefix
    of the greedy continuation), and `more` goes on from there.  On the
    M3, whose run limit counts instructions: under QEMU it is a time."""
    c, _ = llm
    prompt, n = ON_M3
    ids, ref, _ = refs[prompt].result()
    q = c.machine
    r = q.run_script(f's" {prompt}" 200 generate\n'.encode(), 350_000_000)   # a few tokens in: ~34 M each
    assert r.status == "limit", f"{r.status}: {r.report}"
    before = len(q.output)
    r = q.run_script(b"\x03", 400_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}"
    assert "error -28: user interrupt" in q.output[before:]
    assert "42  ok" in c.send("6 7 * .")
    made = printed_tokens(c.send("cr .tokens"))[len(ids):]
    assert 0 < len(made) < 20 and made == ref[:len(made)], made
    more = printed_tokens(c.send("3 more cr .tokens", GEN_LIMIT))[len(ids):]
    assert more == ref[:len(made) + 3]


def test_an_id_outside_the_vocabulary_is_an_error(llm):
    c, _ = llm
    for line in ("49152 .tok", "-1 tok+", "99999 forward", "1 63 lshift tok+"):
        assert "error -24: invalid numeric argument" in c.send(line), line
    assert "42  ok" in c.send("6 7 * .")
    assert "Hello" in c.send("19556 .tok")                 # a real one still prints


def model_disk(sector0: bytes, size: int = 64 << 10) -> bytes:
    return sector0.ljust(size, b"\0")


@pytest.mark.parametrize("what,code", [
    ("zeros", "-300: the disk holds no model image"),
    ("head dim 32", "-301: damaged model image"),
    ("truncated", "-301: damaged model image"),
])
def test_a_disk_that_is_no_model_is_an_error_and_the_console_answers(boot, what, code):
    head = bytearray(model.fetch().read_bytes()[:512]) if what != "zeros" else bytearray(512)
    if what == "head dim 32":
        head[32:36] = (32).to_bytes(4, "little")
    c = boot(disk=model_disk(bytes(head)))          # "truncated": the header says ~95 MiB
    out = c.send("model-load", 400_000_000)
    assert f"error {code}" in out, out
    assert "42  ok" in c.send("6 7 * .")
    assert f"error {code}" in c.send("model-load", 400_000_000)     # and again: nothing half-loaded


def test_no_disk_is_an_error_and_the_console_answers(console):
    out = console.send("model-load", 100_000_000)
    assert "error -270: no disk" in out
    assert "error -270: no disk" in console.send("65 .tok", 100_000_000)   # the model is loaded on first use
    assert "42  ok" in console.send("6 7 * .")


# ---- under QEMU -------------------------------------------------------------

@pytest.fixture(scope="module")
def virt_llm(virt_kernel, refs):
    """The virt board under QEMU with the model image as its read-only
    drive, the model loaded."""
    need_qemu()
    q = QemuVirt(virt_kernel.elf, mem_size=MODEL_MEM_SIZE, disk=model.fetch(), disk_readonly=True)
    try:
        r = q.run(50_000_000)
        assert r.status == "idle", f"{r.status}: {r.report}"
        c = Console(q, r.output)
        assert "vocabulary 49152" in c.send("model-load .model", 2_000_000_000)
        yield c
    finally:
        q.close()


GEN_LIMIT = 4_000_000_000


def sampled(c: Console, settings: str, prompt: str, n: int) -> list[int]:
    return printed_tokens(c.send(f'{settings} sampling s" {prompt}" {n} generate cr .tokens', GEN_LIMIT))


def test_sampling_repeats_with_its_seed_and_follows_the_reference(virt_llm, refs):
    """`temp top-p seed sampling`: the same seed, the same text; another
    seed, another text; the first token is what the reference's sampler
    (llm_ref.sampler: the kernel's llm_sample and rng in numpy) picks
    from the reference's logits with the same random number; a
    temperature of 0 is greedy again."""
    c = virt_llm
    prompt, _ = ON_M3
    ids, greedy_ref, first_logits = refs[prompt].result()
    a = sampled(c, "800 950 42", prompt, 8)
    assert sampled(c, "800 950 42", prompt, 8) == a
    b = sampled(c, "800 950 7", prompt, 8)
    assert a[:len(ids)] == b[:len(ids)] == ids and a != b
    assert a[len(ids)] == L.sampler(800, 950, 42)(first_logits)
    assert sampled(c, "0 950 42", prompt, 8) == ids + greedy_ref[:8]
    c.send("greedy")


@pytest.mark.parametrize("prompt,n", UNDER_QEMU)
def test_greedy_continuation_under_qemu_equals_the_reference(virt_llm, refs, prompt, n):
    out = virt_llm.send(f's" {prompt}" {n} generate cr .tokens', GEN_LIMIT)
    ids, ref, _ = refs[prompt].result()
    assert printed_tokens(out) == ids + ref, out
