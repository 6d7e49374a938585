"""The seed's budgets, held against the conservative cycle model on the
variant and cache state each row names (harness/bench.py PLANS), on the
p99 of its samples, not the median.

Modelled cycles are deterministic, so these are exact checks, not timings:
the same kernel gives the same figures on every machine.  The whole
bench runs once here (every variant, every state), and the figures
README.md and docs/bench.md quote are compared with it: a stale figure
fails."""

import json

import pytest

from conftest import PESSIMISTIC_KEY
from harness import ROOT, bench, forthstats


def test_table_lists_every_seed_budget():
    keys = [b.key for b in bench.BUDGETS]
    assert len(keys) == len(set(keys)) == 20
    assert {b.primitive for b in bench.BUDGETS} >= {
        "context switch", "IPC message", "page fault (soft)", "thread spawn", "malloc (4 KB)",
        "scheduling decision", "timer interrupt", "keystroke to screen", "screen blit (1080p)"}
    assert dict((b.key, b.budget_cycles) for b in bench.BUDGETS)["malloc_4k"] == 87
    assert set(bench.PLANS) <= set(keys) | {b.key for b in bench.EXTRA}


@pytest.mark.parametrize("key", sorted(bench.PLANS))
def test_every_plan_names_its_budget_variant_and_why(key):
    plan = bench.PLANS[key]
    names = [v.name for v in plan.variants]
    assert len(names) == len(set(names)), names
    assert plan.budget_variant in names
    assert plan.budget_state in plan.states and set(plan.states) <= set(bench.STATES)
    assert len(plan.why) > 20


@pytest.fixture(scope="module")
def rows(kernel):
    return bench.run(kernel.elf)


@pytest.fixture(scope="module")
def forth_text(kernel):
    return bench.forth_block(forthstats.measure(elf=kernel.elf))


def test_not_implemented_rows_are_listed_not_dropped(rows):
    text = bench.summary_table(rows)
    for b in bench.BUDGETS:
        assert b.primitive in text
        if b.key not in bench.PLANS:
            assert "not implemented" in text


@pytest.mark.parametrize("key", sorted(bench.PLANS))
def test_primitive_within_budget(rows, key):
    """The stated variant's p99 under the conservative model is within the
    budget; every measured variant is consistent (min <= median <= p99 <=
    max, optimistic below conservative)."""
    row = next(r for r in rows if r.key == key)
    for x in row.results:
        for s in (x.instructions, x.conservative, x.optimistic):
            assert s.min <= s.median <= s.p99 <= s.max, (x.variant, x.state, s)
        assert x.optimistic.median <= x.conservative.median, (x.variant, x.state)
        assert x.instructions.median > 0, (x.variant, x.state)
    b = row.budget_result
    assert b is not None, f"{row.primitive}: the budget variant {row.budget_variant!r}, {row.budget_state} not measured"
    figures = (f"{row.primitive} ({row.budget_variant}, {row.budget_state}): "
               f"conservative median {b.conservative.median:,.0f} p99 {b.conservative.p99:,.0f} "
               f"max {b.conservative.max:,.0f}, budget {row.budget_cycles:,} cycles")
    known = bench.KNOWN_OVER.get(key)
    if known is None:
        assert b.conservative.p99 <= row.budget_cycles, "over budget: " + figures
        return
    # a budget not met today (docs/bench.md says why): it must not get worse,
    # and once it is met it leaves KNOWN_OVER
    assert b.conservative.p99 > row.budget_cycles, \
        f"within budget now: remove {key!r} from harness/bench.py KNOWN_OVER ({figures})"
    assert b.conservative.p99 <= known.ceiling, f"worse than its known ceiling {known.ceiling:,}: {figures}"


def test_known_over_rows_are_planned_rows_with_reasons():
    budgets = {b.key: b.budget_cycles for b in bench.BUDGETS + bench.EXTRA}
    for key, k in bench.KNOWN_OVER.items():
        assert key in bench.PLANS, key
        assert k.ceiling > budgets[key] and len(k.why) > 40, key


def test_the_cold_state_is_no_cheaper_than_the_others(rows):
    """The L2 sweep does what it says: per variant, the typical figure cold
    is at least the warm and the hot one.  (Hot is not always below warm:
    1024 hot samples of a list pop walk further into never-touched memory
    than 200 warm ones.)"""
    for row in rows:
        by = {}
        for x in row.results:
            by.setdefault(x.variant, {})[x.state] = x.conservative.median
        for variant, st in by.items():
            if "cold" in st:
                assert all(st["cold"] >= v for v in st.values()), (row.primitive, variant, st)


def test_every_state_of_every_variant_measured(rows):
    for row in rows:
        if not row.implemented:
            continue
        plan = bench.PLANS[row.key]
        got = {(x.variant, x.state) for x in row.results}
        assert got == {(v.name, s) for v in plan.variants for s in plan.states}, row.primitive


def test_bench_json_matches_the_tables(rows, tmp_path):
    out = tmp_path / "bench.json"
    bench.write_json(rows, out)
    data = json.loads(out.read_text())
    assert [r["primitive"] for r in data["rows"]] == [b.primitive for b in bench.BUDGETS + bench.EXTRA]
    summary, full = bench.summary_table(rows), bench.full_table(rows)
    for r, row in zip(data["rows"], rows):
        assert r["implemented"] == row.implemented
        if row.implemented:
            assert r["worst"] == row.worst
            assert f"{row.worst:,.0f}" in summary
            for x, y in zip(r["results"], row.results):
                assert x["conservative"]["p99"] == y.conservative.p99
                assert f"{y.conservative.p99:,.0f}" in full


def test_readme_and_docs_figures_are_current(rows, forth_text, pessimistic_rows):
    """README.md's bench block and docs/bench.md are what `make bench`
    writes for this kernel: run `make bench` after a change that moves a
    figure."""
    readme = (ROOT / "README.md").read_text()
    block = bench.readme_block(rows, forth_text)
    assert bench.README_BEGIN in readme, "README.md lost its bench markers"
    i, j = readme.index(bench.README_BEGIN), readme.index(bench.README_END)
    assert readme[i:j + len(bench.README_END)] == block, "README.md's figures are stale: run `make bench`"
    docs = (ROOT / "docs" / "bench.md").read_text()
    assert docs == bench.figures_markdown(rows, forth_text, pessimistic_rows), \
        "docs/bench.md is stale: run `make bench`"


def test_figures_do_not_depend_on_parallelism_or_fork(kernel, rows, monkeypatch):
    """The same variant measured again, serially and on machines booted
    afresh for every task (no forked copies of a booted one), gives the
    same figures."""
    monkeypatch.setenv("SOVEREIGN_BENCH_FORK", "0")
    assert not bench._forking()
    key = "ipc"
    plan = bench.PLANS[key]
    again = bench.run(kernel.elf, budgets=[b for b in bench.BUDGETS if b.key == key],
                      states=(plan.budget_state,), jobs=1)[0]
    first = next(r for r in rows if r.key == key)
    for x in again.results:
        y = next(y for y in first.results if (y.variant, y.state) == (x.variant, x.state))
        assert (x.instructions, x.conservative, x.optimistic) == (y.instructions, y.conservative, y.optimistic)


@pytest.fixture(scope="module")
def pessimistic_rows(kernel):
    return bench.pessimistic(kernel.elf)


def test_the_pessimistic_pass(rows, pessimistic_rows, pytestconfig):
    """Every budget variant again at the pessimistic end of every
    assumption (cold, no prefetcher): never cheaper than the conservative
    figure; which budgets still hold is printed at the end of the run."""
    first = {r.key: r for r in rows}
    for r in pessimistic_rows:
        if not r.implemented:
            continue
        b, c = r.budget_result, first[r.key].budget_result
        assert b.conservative.median >= c.conservative.median, (r.primitive, b.conservative, c.conservative)
    text = bench.pessimistic_table(pessimistic_rows)
    assert "budgets still hold" in text
    pytestconfig.stash[PESSIMISTIC_KEY] = text

