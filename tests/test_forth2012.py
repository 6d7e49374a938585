"""The Forth 2012 test suite (tests/forth2012: Gerry Jackson's
forth2012-test-suite, tests/forth2012/README.md) runs inside the emulated
M3, streamed through the console like a person typing it: zero failures."""

import re
from pathlib import Path

SUITE = Path(__file__).resolve().parent / "forth2012"
REQUIRED = ["prelimtest.fth", "tester.fr", "core.fr", "coreplustest.fth", "utilities.fth", "errorreport.fth"]
WORD_SETS = ["coreexttest.fth", "doubletest.fth", "exceptiontest.fth", "facilitytest.fth",
             "memorytest.fth", "toolstest.fth", "stringtest.fth"]

# What the suite prints when something fails: tester.fr's two messages (on a
# line of their own), prelimtest's "Error #n" lines, and the console's own
# error report when a test line cannot even be interpreted.
FAILURE = re.compile(r"^(INCORRECT RESULT: .*|WRONG NUMBER OF RESULTS: .*|error -\d+: .*)$", re.M)


def test_forth2012_suite(console):
    failures = []
    for name in REQUIRED + WORD_SETS:
        out = console.send((SUITE / name).read_bytes(), limit=100_000_000)
        failures += [f"{name}: {line}" for line in FAILURE.findall(out)]
    # prelimtest counts its own failures in #ERRS (its messages are free text)
    prelim = console.send("#ERRS @ .")
    # errorreport.fth's table: every word set run reports 0
    report = console.send("REPORT-ERRORS")
    assert not failures, "the Forth 2012 suite failed:\n" + "\n".join(failures)
    assert re.search(r"#ERRS @ \. 0 ", prelim), prelim
    for word_set in ["Core", "Core extension", "Double number", "Exception", "Facility",
                     "Memory-allocation", "Programming-tools", "String"]:
        assert re.search(rf"^{re.escape(word_set)} +0$", report, re.M), report
    assert re.search(r"^Total +0$", report, re.M), report
