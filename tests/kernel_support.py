"""Fixtures that build the real kernel once and boot it in the emulated M3."""

from __future__ import annotations

import pytest

from harness.build import build
from harness.machine.m3 import M3, M3Config


@pytest.fixture(scope="session")
def kernel():
    """The real kernel, built once per test session (board m3)."""
    return build("m3")


class Console:
    """A booted kernel at its prompt; `send` types lines and returns what the
    console printed for them."""

    def __init__(self, machine: M3, boot_output: str):
        self.machine = machine
        self.boot_output = boot_output

    def send(self, text: str | bytes, limit: int = 200_000_000) -> str:
        before = len(self.machine.output)
        data = text.encode() if isinstance(text, str) else text
        if not data.endswith((b"\n", b"\r")):
            data += b"\n"
        result = self.machine.run_script(data, limit)
        assert result.status == "idle", f"{result.status}: {result.report}\n{result.output[-2000:]}"
        return self.machine.output[before:]


@pytest.fixture
def boot(kernel):
    """boot(**M3Config fields) -> Console at the first prompt."""
    def start(**cfg) -> Console:
        m = M3(kernel.elf, M3Config(**cfg))
        result = m.run(50_000_000)
        assert result.status == "idle", f"{result.status}: {result.report}\n{result.output}"
        assert "ready" in result.output, result.output
        return Console(m, result.output)
    return start


@pytest.fixture
def console(boot):
    return boot()
