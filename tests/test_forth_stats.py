"""The Forth speed figures (harness/forthstats.py) against the issue's goals."""

from harness.forthstats import measure


def test_forth_figures_meet_the_goals():
    f = measure()
    assert f["boot"] < 5_000_000          # to the first prompt, compiling forth/
    assert f["do-loop"] <= 4              # an empty DO LOOP iteration
    assert 0 < f["fib25"] < 20_000_000
    assert 0 < f["sieve"] < 5_000_000
