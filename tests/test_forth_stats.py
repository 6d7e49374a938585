"""The Forth speed figures (harness/forthstats.py) against the issue's goals."""

from harness.forthstats import measure


def test_forth_figures_meet_the_goals():
    f = measure()
    assert f["boot"] < 5_000_000          # to the first prompt, compiling forth/
    assert f["do-loop"] <= 4              # an empty DO LOOP iteration
    assert 0 < f["fib25"] < 20_000_000
    assert 0 < f["sieve"] < 5_000_000
    # the sum split over worker threads on 2, 4 and 7 other cores (SPAWN-ON):
    # compute-bound, so each core adds its share of the speed-up
    assert f["par-1"] > 0
    assert f["par-2"] > 1.8 and f["par-4"] > 3.5 and f["par-7"] > 6.0, f
