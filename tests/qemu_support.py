"""Fixtures for the virt board under QEMU, and a console fixture that runs a
test on both machines (the emulated M3 and QEMU).  Without QEMU the QEMU
half is skipped with a reason that says how to install it; in CI a skip is
a failure (conftest.py)."""

from __future__ import annotations

import pytest

from harness.build import build
from harness.qemu import INSTALL_HINT, QemuVirt, qemu_binary
from kernel_support import Console

MACHINES = ["m3", "qemu"]


def need_qemu() -> None:
    if qemu_binary() is None:
        pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="session")
def virt_kernel():
    """The real kernel built for board virt, once per session."""
    need_qemu()
    return build("virt")


@pytest.fixture
def qemu_boot(virt_kernel):
    """qemu_boot(mem_size=..., cmdline=...) -> Console at the first prompt
    of the virt board under QEMU (closed at the end of the test)."""
    started = []

    def start(**kw) -> Console:
        q = QemuVirt(virt_kernel.elf, **kw)
        started.append(q)
        result = q.run(50_000_000)
        assert result.status == "idle", f"{result.status}: {result.report}\n{result.output}"
        assert "ready" in result.output, result.output
        return Console(q, result.output)

    yield start
    for q in started:
        q.close()


@pytest.fixture
def qemu_console(qemu_boot):
    return qemu_boot()


@pytest.fixture(params=MACHINES)
def any_console(request):
    """A console at its prompt on each machine in turn: a module opts in
    with `def console(any_console): return any_console` as its fixture."""
    if request.param == "m3":
        return request.getfixturevalue("boot")()
    return request.getfixturevalue("qemu_boot")()
