"""The seed's budgets, held against the conservative cycle model.

Modelled cycles are deterministic, so these are exact checks, not timings:
the same kernel gives the same figures on every machine."""

import json

import pytest

from harness import bench


def test_table_lists_every_seed_budget():
    keys = [b.key for b in bench.BUDGETS]
    assert len(keys) == len(set(keys)) == 20
    assert {b.primitive for b in bench.BUDGETS} >= {
        "context switch", "IPC message", "page fault (soft)", "thread spawn", "malloc (4 KB)",
        "scheduling decision", "timer interrupt", "keystroke to screen", "screen blit (1080p)"}
    assert dict((b.key, b.budget_cycles) for b in bench.BUDGETS)["malloc_4k"] == 87
    assert set(bench.BENCHMARKS) <= set(keys)


@pytest.fixture(scope="module")
def rows(kernel):
    return bench.run(kernel.elf)


def test_not_implemented_rows_are_listed_not_dropped(rows):
    text = bench.table(rows)
    for b in bench.BUDGETS:
        assert b.primitive in text
        if b.key not in bench.BENCHMARKS:
            assert f"{b.primitive}" in text and "not implemented" in text


@pytest.mark.parametrize("key", sorted(bench.BENCHMARKS) + sorted(bench.EXTRA_BENCHMARKS))
def test_primitive_within_budget(rows, key):
    row = next(r for r in rows if r.key == key)
    figures = (f"{row.primitive}: {row.instructions.median} instructions, "
               f"{row.conservative.median} conservative cycles (min {row.conservative.min}, "
               f"max {row.conservative.max}), {row.optimistic.median} optimistic, "
               f"budget {row.budget_cycles} cycles")
    assert row.conservative.median <= row.budget_cycles, "over budget: " + figures
    assert row.optimistic.median <= row.conservative.median, figures
    assert row.instructions.median > 0, figures


def test_bench_json_matches_the_table(rows, tmp_path):
    out = tmp_path / "bench.json"
    bench.write_json(rows, out)
    data = json.loads(out.read_text())
    assert [r["primitive"] for r in data["rows"]] == [b.primitive for b in bench.BUDGETS + bench.EXTRA]
    for r, row in zip(data["rows"], rows):
        assert r["implemented"] == row.implemented
        if row.implemented:
            assert r["conservative"]["median"] == row.conservative.median
            assert f"{row.conservative.median:,.0f}" in bench.table(rows)


def test_figures_are_deterministic(kernel, rows):
    again = bench.run(kernel.elf, benchmarks={"malloc_4k": bench.BENCHMARKS["malloc_4k"]})
    first = next(r for r in rows if r.key == "malloc_4k")
    second = next(r for r in again if r.key == "malloc_4k")
    assert (first.instructions, first.conservative, first.optimistic) == \
        (second.instructions, second.conservative, second.optimistic)
