"""The language model in the kernel (forth/llm/, kernel/llm.S; docs/llm.md)
booted with the model image as the emulated M3's RAM disk, against the
numpy reference (tests/llm_ref.py, with the kernel's fused multiply-adds):
the tokenizer's ids equal the reference tokenizer's on known and random
ASCII text, and the greedy continuation of a prompt equals the
reference's token for token."""

from __future__ import annotations

import random
import re
import string

import pytest

import llm_ref as L
from harness import model
from harness.machine.m3 import M3, M3Config
from kernel_support import Console


@pytest.fixture(scope="module")
def llm(kernel):
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


def test_greedy_continuation_equals_the_reference(llm):
    c, _ = llm
    prompt = "Once upon a time,"
    out = c.send(f's" {prompt}" 25 generate cr .tokens', 4_000_000_000)
    got = [int(x) for x in out.rsplit("\n", 2)[-2].split()[:-1]] if out.strip().endswith("ok") else []
    ids = L.encode(prompt)
    ref = L.Reference(fma=True).generate(ids, 25)
    assert got == ids + ref, out
    assert L.decode_text(ref) in out


def test_no_disk_is_an_error_and_the_console_answers(console):
    out = console.send("model-load", 100_000_000)
    assert "error -270: no disk" in out
    assert "42  ok" in console.send("6 7 * .")
