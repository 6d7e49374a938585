"""python -m harness probe (harness/probe.py), held against its stand-in.

The stand-in is the emulated M3 at the hand-over (EmulatedTarget): every
chip's table must name that chip's UART and AIC as harness/chips has them,
count with PMC0/PMC1, find no carveout in the kernel's replayed map, and
say DIFFERS (exit 1) for a machine made wrong on purpose.  M1n1Target is
driven through a small stand-in for m1n1's proxyclient (the calls
harness/probe.py makes of it, answered by the emulated M3), and the CLI's
usage errors are checked in a subprocess: a message and exit 2, never a
traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import adt, chips, probe
from harness.probe import DIFFERS, OK, EmulatedTarget

CHIPS = ["t8122", "t6030", "t6031"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reports(kernel):
    """chip -> the stand-in's report (each probed once)."""
    return {c: probe.probe(EmulatedTarget.standin(c, kernel.elf), kernel.elf) for c in CHIPS}


def _row(report, fact):
    return report.row(fact)


@pytest.mark.parametrize("chip", CHIPS)
def test_standin_table_has_the_chips_facts(reports, chip):
    rep, data = reports[chip], chips.load(chip)
    assert len(rep.rows) == len(probe.FACTS)                      # every fact, in order
    assert [r.fact for r in rep.rows] == [f for f, _, _ in probe.FACTS]
    uart = _row(rep, "ADT console UART")
    assert f"{data.uart.base:#x}" in uart.says and uart.verdict == OK
    assert _row(rep, "ADT UART interrupts").says == str(data.uart.irq)
    aic = _row(rep, "ADT /arm-io/aic")
    assert f"aic,{data.aic.version} at {data.aic.base:#x}" in aic.says and aic.verdict == OK
    offsets = _row(rep, "ADT aic offsets").says
    assert f"iack {data.aic.event_offset:#x}" in offsets and f"extint {data.aic.config_offset:#x}" in offsets
    route = _row(rep, "AIC IRQ_CFG[UART]")
    assert f"+{data.aic.config_offset + 4 * data.uart.irq:#x}: route 0" in route.says and route.verdict == OK
    assert _row(rep, "AIC global enable").says.endswith("clear at hand-over")
    assert _row(rep, "CNTFRQ_EL0").says == "24 MHz"
    bbm = _row(rep, "ID_AA64MMFR2 BBM")
    assert bbm.says.startswith("0 ") and bbm.verdict == OK
    for fact in ("CurrentEL", "HCR_EL2 E2H, TGE", "ID_AA64MMFR0 TGran16", "ID_AA64MMFR1 VH", "MIDR_EL1"):
        assert _row(rep, fact).verdict == OK, _row(rep, fact)


@pytest.mark.parametrize("chip", CHIPS)
def test_standin_counters_count_at_el2(reports, chip):
    pmc = _row(reports[chip], "PMC0/PMC1 at EL2")
    n = 2 * probe.PMC_ITERATIONS
    found = re.search(r"PMC1 \+([\d,]+), PMC0 \+([\d,]+)", pmc.says)
    ins, cyc = (int(x.replace(",", "")) for x in found.groups())
    assert n <= ins <= n + 10 and cyc >= n // 8 and pmc.verdict == OK, pmc


@pytest.mark.parametrize("chip", CHIPS)
def test_standin_kernel_map_touches_no_carveout(reports, chip):
    rep = reports[chip]
    km = _row(rep, "kernel map (replayed)")
    assert km.says.startswith("booted to the prompt") and "none touches" in km.says and km.verdict == OK, km
    assert ("36-bit" if chip == "t8122" else "41-bit") in km.says          # level-2 / level-1 roots
    assert _row(rep, "kernel map: devices").verdict == OK
    assert _row(rep, "ADT carveout-memory-map").verdict == OK
    assert _row(rep, "ADT vs chainloaded image").verdict == OK


@pytest.mark.parametrize("chip", CHIPS)
def test_standin_aic_registers_as_the_chip_has_them(reports, chip):
    """CAP0 and MAXNUMIRQ at the ADT's offsets, and through MAXNUMIRQ the
    MASK and HW_STATE words: the UART's IRQ is masked at hand-over and a
    key raises it.  (Needs an AIC model that answers CAP0/MAXNUMIRQ.)"""
    rep, a = reports[chip], chips.load(chip).aic
    assert f"nr_irq {a.nr_irq}" in _row(rep, "AIC CAP0").says, _row(rep, "AIC CAP0")
    assert f"max_irq {a.max_irq}" in _row(rep, "AIC MAXNUMIRQ").says, _row(rep, "AIC MAXNUMIRQ")
    assert _row(rep, "AIC MASK[UART]").says == "masked at hand-over"
    assert _row(rep, "UART IRQ at the AIC").verdict == OK, _row(rep, "UART IRQ at the AIC")


@pytest.mark.parametrize("chip", CHIPS)
def test_standin_differs_nowhere(reports, chip):
    rep = reports[chip]
    differs = [r for r in rep.rows if r.verdict == DIFFERS]
    assert rep.exit_code == 0 and not differs, "\n".join(f"{r.fact}: {r.says}" for r in differs)


def test_standin_machine_still_boots_after_the_probe(kernel):
    """EmulatedTarget leaves the machine at the hand-over: registers
    restored around every routine, UCON put back, the typed key read out."""
    t = EmulatedTarget.standin("t8122", kernel.elf)
    probe.probe(t, kernel.elf)
    m = t.machine
    result = m.run(50_000_000)
    assert result.status == "idle" and "ready" in result.output, result.report
    assert "1 2 + . 3  ok" in m.run_script("1 2 + .\n").output


def _probe(kernel, **config):
    return probe.probe(EmulatedTarget.standin("t8122", kernel.elf, **config), kernel.elf)


def test_machine_without_uart0_differs(kernel):
    rep = _probe(kernel, adt_overrides={"/arm-io/uart0": None})
    row = _row(rep, "ADT console UART")
    assert row.verdict == DIFFERS and "no /arm-io/uart0" in row.says
    assert rep.exit_code == 1 and "DIFFERS" in rep.summary()
    assert _row(rep, "kernel map (replayed)").verdict == OK           # the kernel still boots, screen only


def test_aic_route_set_in_the_model_differs(kernel):
    t = EmulatedTarget.standin("t8122", kernel.elf)
    c = t.machine.chip
    t.write32(c.aic.base + c.aic.config_offset + 4 * c.uart.irq, 0x1)   # through the AIC model's MMIO
    rep = probe.probe(t, kernel.elf)
    row = _row(rep, "AIC IRQ_CFG[UART]")
    assert row.verdict == DIFFERS and "route 1" in row.says and rep.exit_code == 1


def test_carveout_inside_usable_ram_differs_and_the_map_touches_it(kernel):
    """A carveout the ADT places inside usable RAM: the kernel maps all of
    usable RAM as Normal, so its replayed map touches the carveout."""
    t = EmulatedTarget.standin("t8122", kernel.elf)
    inside = t.machine.layout.phys_base + (512 << 20)
    t = EmulatedTarget.standin("t8122", kernel.elf, adt_overrides={
        "/chosen/carveout-memory-map/region-id-99": adt.u64s(inside, 0x10_0000)})
    rep = probe.probe(t, kernel.elf, key=False)
    assert _row(rep, "ADT carveout-memory-map").verdict == DIFFERS
    km = _row(rep, "kernel map (replayed)")
    assert km.verdict == DIFFERS and f"{inside:#x}-{inside + 0x10_0000:#x}" in km.says, km
    assert _row(rep, "UART IRQ at the AIC").says == "not checked (--no-key)"


def test_routines_decode_as_written():
    """The hand-encoded routines, read back by capstone."""
    from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs
    cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)

    def text(code, base=0x1000):
        return [f"{i.mnemonic} {i.op_str}".strip() for i in cs.disasm(code, base)]

    assert text(probe.wrap(b"", 0x8_1234_5678))[:9] == [
        "stp x29, x30, [sp, #-0x20]!", "str x19, [sp, #0x10]", "ldr x19, #0x1028", "bl #0x1030",
        "stp x0, x1, [x19]", "stp x2, x3, [x19, #0x10]", "ldr x19, [sp, #0x10]",
        "ldp x29, x30, [sp], #0x20", "ret"]
    pmc = text(probe.pmc_routine())
    assert pmc[:3] == ["mrs x9, s3_1_c15_c1_0", "mov x10, #0x303", "movk x10, #3, lsl #16"]
    assert "orr x12, x11, x13" in pmc and "msr s3_1_c15_c0_0, x12" in pmc
    assert pmc[13:15] == ["subs x4, x4, #1", "b.ne #0x1034"]
    assert pmc[-5:] == ["sub x0, x5, x2", "sub x1, x6, x3", "mov x2, x9", "mov x3, x11", "ret"]
    assert text(probe.mrs_routine(probe.CURRENT_EL)) == ["mrs x0, currentel", "ret"]


# --- M1n1Target, through a stand-in for m1n1's proxyclient ------------------

FAKE_PROXY = '''
"""Stand-in for m1n1's proxy.py: the calls harness/probe.py makes, answered
by an emulated M3 (TARGET, set by the test)."""
import os
TARGET = None
REGION_RX_EL1 = 0xc0000000000
class GUARD:
    OFF, SKIP, SILENT = 0, 1, 0x100
class IODEV:
    UART, USB_VUART = 0, 3
class USAGE:
    CONSOLE, UARTPROXY = 1, 2
class UartInterface:
    DEFAULT_UART_DEV = "/dev/m1n1"
    def __init__(self, device=None):
        self.devpath = os.environ.get("M1N1DEVICE", self.DEFAULT_UART_DEV)
        if TARGET is None:
            raise OSError(f"could not open port {self.devpath}")
        self.t = TARGET
    def readmem(self, addr, size):
        return self.t.readmem(addr, size)
    def writemem(self, addr, data, progress=False):
        self.t.machine.cpu.uc.mem_write(addr, data)
class M1N1Proxy:
    def __init__(self, iface, debug=False):
        self.iface, self.t, self.exc, self.maintained = iface, iface.t, 0, []
    def set_exc_guard(self, mode):
        self.exc = 0
    def get_exc_count(self):
        return self.exc
    def _try(self, fn):
        try:
            return fn()
        except Exception:
            self.exc += 1
            return 0
    def read32(self, a): return self._try(lambda: self.t.read32(a))
    def read64(self, a): return self._try(lambda: self.t.read64(a))
    def write32(self, a, v): self._try(lambda: self.t.write32(a, v))
    def dc_cvau(self, a, n): self.maintained.append(("dc", a, n))
    def ic_ivau(self, a, n): self.maintained.append(("ic", a, n))
    def iodev_whoami(self): return IODEV.USB_VUART
    usage = []
    def iodev_set_usage(self, iodev, usage):
        self.usage.append((iodev, usage))
        if usage == USAGE.CONSOLE:          # the proxy has let go of the UART: a person types
            self.t.wait_for_key(10)
    def call(self, addr, *args):
        code = addr & ~REGION_RX_EL1
        assert ("dc", code) in [m[:2] for m in self.maintained]    # cleaned and
        assert ("ic", code) in [m[:2] for m in self.maintained]    # invalidated before the call
        return self._try(lambda: self.t.run_code(self.t.readmem(code, 0x1000), args)[0])
'''

FAKE_UTILS = '''
"""Stand-in for m1n1's proxyutils.py."""
import struct
from .proxy import REGION_RX_EL1
class ProxyError(RuntimeError):
    pass
def bootstrap_port(iface, p):
    pass
class ProxyUtils:
    def __init__(self, p):
        self.proxy, self.iface, m = p, p.iface, p.t.machine
        self.base, self.ba_addr, self.mmu_off = m.load_base, m.boot_args, False
        self.ba_rev = struct.unpack("<H", p.t.readmem(m.boot_args, 2))[0]
        self._next = m.layout.phys_base + (256 << 20)
    def memalign(self, align, size):
        self._next = -(-self._next // align) * align
        a, self._next = self._next, self._next + size
        return a
    def free(self, ptr):
        pass
    def mrs(self, reg, *, silent=False, call=None):
        try:
            return self.proxy.t.mrs(*reg)
        except Exception as e:
            raise ProxyError("Exception occurred") from e
    def msr(self, reg, val, *, silent=False, call=None):
        try:
            self.proxy.t.msr(*reg, val)
        except Exception as e:
            raise ProxyError("Exception occurred") from e
'''


def test_m1n1_target_through_the_proxyclient_interface(kernel, tmp_path, monkeypatch):
    pkg = tmp_path / "proxyclient" / "m1n1"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "proxy.py").write_text(textwrap.dedent(FAKE_PROXY))
    (pkg / "proxyutils.py").write_text(textwrap.dedent(FAKE_UTILS))
    monkeypatch.setenv("M1N1DIR", str(tmp_path))
    monkeypatch.setenv("M1N1DEVICE", "/dev/ttyFAKE0")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m == "m1n1" or m.startswith("m1n1.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        with pytest.raises(probe.ProbeError, match="no m1n1 proxy on /dev/ttyFAKE0"):
            probe.M1n1Target()                              # nothing answers: a message
        import m1n1.proxy as fake
        fake.TARGET = EmulatedTarget.standin("t8122", kernel.elf)
        t = probe.M1n1Target()
        assert t.description.startswith("m1n1 proxy on /dev/ttyFAKE0") and not t.proxy_on_uart
        rep = probe.probe(t, kernel.elf)
        usage = fake.M1N1Proxy.usage
    finally:
        for name in [m for m in sys.modules if m == "m1n1" or m.startswith("m1n1.")]:
            del sys.modules[name]
    standin = probe.probe(EmulatedTarget.standin("t8122", kernel.elf), kernel.elf)
    assert [(r.fact, r.verdict) for r in rep.rows] == [(r.fact, r.verdict) for r in standin.rows]
    if usage:                           # the key was awaited: the UART went back to the proxy after
        assert usage == [(0, 1), (0, 3)]
    assert _row(rep, "PMC0/PMC1 at EL2").verdict == OK                  # run_code through p.call
    assert _row(rep, "kernel map (replayed)").verdict == OK


# --- the command line ---------------------------------------------------------

def _cli(*args, env_extra=None, drop=("M1N1DIR", "M1N1DEVICE")):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "harness", "probe", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_without_m1n1dir_says_so_and_exits_2():
    r = _cli()
    assert r.returncode == 2, r
    assert "M1N1DIR" in r.stderr and "make probe" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_cli_with_a_wrong_m1n1dir_says_so_and_exits_2(tmp_path):
    r = _cli(env_extra={"M1N1DIR": str(tmp_path)})
    assert r.returncode == 2 and "is M1N1DIR" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_cli_standin_prints_one_table_and_a_summary(kernel):
    r = _cli("--standin", "t6030", "--no-key")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("probe: stand-in: the emulated M3 (t6030")
    assert lines[1].startswith("fact ") and "kernel assumes" in lines[1] and lines[1].endswith("verdict")
    assert re.fullmatch(rf"{len(probe.FACTS)} facts: \d+ ok, (\d+) DIFFERS, \d+ unknown.*", lines[-1])
    differs = int(re.search(r"(\d+) DIFFERS", lines[-1]).group(1))
    assert r.returncode == (1 if differs else 0) and "Traceback" not in r.stderr
