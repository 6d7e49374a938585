"""Shared helpers for the emulator tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asm_snippets import assemble_snippet  # noqa: E402

CODE = 0x8_0000_0000      # where test snippets are linked and loaded
RAM_SIZE = 0x20_0000      # 2 MiB of RAM at CODE


def vector_table(label: str, el: int) -> str:
    """A 2 KiB vector table whose 16 entries record where they were
    entered (x28 = entry offset) and the exception registers of EL`el`
    (x27 ESR, x26 ELR, x25 SPSR, x24 FAR), then execute WFI so a run ends
    with StopReason.WFI and an exact instruction count (6 per entry)."""
    out = [".balign 0x800", f"{label}:"]
    for off in range(0, 0x800, 0x80):
        out += [".balign 0x80", f" mov x28, #{off:#x}", f" mrs x27, esr_el{el}",
                f" mrs x26, elr_el{el}", f" mrs x25, spsr_el{el}", f" mrs x24, far_el{el}",
                " wfi", " b ."]
    return "\n".join(out) + "\n"


VECTOR_ENTRY_INSNS = 6  # mov + 4 mrs + wfi


@pytest.fixture
def make_cpu():
    """make_cpu(source) -> (El2Cpu, symbols): the snippet (with EL2 and EL1
    vector tables appended as `vectors` and `vectors_el1`) loaded at CODE,
    VBAR_EL2 set, PC at _start."""
    from harness.machine.cpu import El2Cpu

    def make(source: str, vbar: bool = True):
        code, syms = assemble_snippet(source + "\n" + vector_table("vectors", 2)
                                      + vector_table("vectors_el1", 1), CODE)
        cpu = El2Cpu()
        cpu.map_ram(CODE, RAM_SIZE)
        cpu.uc.mem_write(CODE, code)
        if vbar:
            cpu.reg_write("vbar_el2", syms["vectors"])
        cpu.reg_write("vbar_el1", syms["vectors_el1"])
        cpu.reg_write("sp", CODE + RAM_SIZE - 0x1000)
        cpu.reg_write("pc", CODE)
        return cpu, syms

    return make


# The real kernel, built once, booted in the emulated M3 (tests/kernel_support.py).
from kernel_support import boot, console, kernel  # noqa: E402,F401
# The virt board under QEMU, and consoles on both machines (tests/qemu_support.py).
from qemu_support import any_console, qemu_boot, qemu_console, virt_kernel  # noqa: E402,F401


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true, as .ci/run runs) a skipped test is a failure: CI
    installs everything, so a skip there means something is missing."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, which must run everything: {reason}"


# tests/test_budgets.py leaves the pessimistic pass's table here
PESSIMISTIC_KEY = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The pessimistic pass's verdicts (tests/test_budgets.py), printed so
    that every run shows which budgets hold if every assumption is wrong
    in the costly direction."""
    text = config.stash.get(PESSIMISTIC_KEY, None)
    if text:
        terminalreporter.section("the pessimistic pass (harness/bench.py pessimistic)")
        terminalreporter.write_line(text)


# What this session collected: tests/test_docs.py holds README's test count
# to it when the whole suite runs (`make test`).
COLLECTED_KEY = pytest.StashKey[tuple]()


def pytest_collection_modifyitems(session, config, items):
    config.stash[COLLECTED_KEY] = (len(items), frozenset(item.path.name for item in items))
