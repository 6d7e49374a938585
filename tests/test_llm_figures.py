"""docs/llm.md's per-token figures and projection are what
harness/llmstats.py measures for this kernel and model image (`make bench`
writes them), and the measurement itself holds together: a token streams
at least every weight from DRAM, the kernels account for the token, the
conservative model is never the cheaper one."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import llmstats, model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def figures(kernel):
    return llmstats.measure(elf=kernel.elf, image=model.fetch())


def test_docs_figures_are_current(figures):
    doc = (ROOT / "docs" / "llm.md").read_text()
    i, j = doc.index(llmstats.BEGIN), doc.index(llmstats.END)
    assert doc[i:j + len(llmstats.END)] == llmstats.block(figures), \
        "docs/llm.md's language model figures are stale: run `make bench`"


def test_a_token_reads_every_weight_and_the_kernels_account_for_it(figures):
    t = figures["token"]
    assert t.dram_read >= figures["weights"]                 # nothing is cached across a token
    assert t.optimistic < t.conservative
    summed = sum((c * n for c, n in figures["kernels"].values()), llmstats.Cost(0, 0, 0.0, 0))
    assert 0.97 < summed.instructions / t.instructions < 1.03
    mv = sum(c.instructions * n for name, (c, n) in figures["kernels"].items() if "matvec" in name)
    assert mv > 0.9 * t.instructions                          # the products are the token
    a6, a300 = figures["kernels"]["attend (6 positions)"][0], figures["attend_long"]
    assert a300.instructions > 10 * a6.instructions           # attention grows with the context


def test_projection_is_the_lower_bound_of_the_two(figures):
    for p in llmstats.projection(figures):
        assert p["projected"][0] == min(p["bw_bound"], p["compute"][0])
        assert p["projected"][0] <= p["projected"][1]
