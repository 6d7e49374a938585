"""python -m harness probe: every hardware fact the kernel relies on, checked
against the machine before the kernel is chainloaded onto it.

Why: the kernel on board m3 assumes things about the machine m1n1 hands
over (EL2 with VHE, the 16 KiB granule, no FEAT_BBM, the ADT's nodes, the
AIC's layout and state, counters that count at EL2, carveouts outside
usable RAM).  Each assumption is written down beside the code that makes
it; nobody has run the kernel on an M3 yet.  The probe asks the machine,
through m1n1's proxy, and prints one table: the fact, what the kernel
assumes (with the kernel file and the source it follows), what the machine
says, and a verdict: ok, DIFFERS (the kernel would misbehave) or unknown
(the machine could not be asked, or the answer is not one the kernel was
checked against).  Exit code: 0 when nothing DIFFERS, 1 otherwise, 2 for
usage and connection errors.

The probe only reads, except where a fact cannot be had without a write,
and then restores what it changed: the UART's UCON (to let a typed key
raise its interrupt, as board_irq_init does; the key is read out and the
interrupt status cleared after) and PMCR0/PMCR1 (around the counting
loop); its routines go into m1n1's heap.  It never touches memory outside usable RAM (a carveout
raises an SError on a real M3) and never reads the AIC's event register
(the read acknowledges an interrupt).

The machine is a Target: `M1n1Target` (a real M3 through m1n1's
proxyclient, imported at run time from $M1N1DIR, the serial device from
$M1N1DEVICE as m1n1's own tools take it) or `EmulatedTarget` (an emulated
M3 at the moment of hand-over: the stand-in the tests and `--standin` use).

The kernel's map is not guessed: the probe boots the kernel image in the
emulated M3 with this machine's values (the chip from its chip-id, its
phys_base, mem_size, DRAM, framebuffer, load base and its ADT bytes) and
walks the translation tables the kernel built (replay_kernel_map).
"""

from __future__ import annotations

import os
import struct
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from harness import adt as adtlib
from harness import bootargs
from harness.machine.sysregs import (APPLE_PMC0 as PMC0, APPLE_PMC1 as PMC1,
                                     APPLE_PMCR0 as PMCR0, APPLE_PMCR1 as PMCR1, CNTFRQ_EL0,
                                     CURRENT_EL, HCR_EL2, ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1,
                                     ID_AA64MMFR2_EL1, MAIR_EL2, MIDR_EL1, SCTLR_EL2, TCR_EL2,
                                     TTBR0_EL2)

PAGE = 0x4000
MASK64 = (1 << 64) - 1

EXIT_OK, EXIT_DIFFERS, EXIT_USAGE = 0, 1, 2
OK, DIFFERS, UNKNOWN = "ok", "DIFFERS", "unknown"

HCR_E2H, HCR_TGE = 1 << 34, 1 << 27
PMCR1_KERNEL = 0x30303            # board_counters_init: PMC0/1 at EL0 (8-9) and EL1/EL2 (16-17)
PMC_ITERATIONS = 100_000          # the loop: subs + b.ne, two instructions each

# m1n1 src/midr.h: the M3 family's parts (implementer 0x61, Apple).
M3_PARTS = {0x42: "t8122 Sawtooth (E)", 0x43: "t8122 Everest (P)",
            0x44: "t6030 Sawtooth (E)", 0x45: "t6030 Everest (P)",
            0x48: "t6031 Sawtooth (E)", 0x49: "t6031 Everest (P)"}
# kernel/boards/m3/board.S known_chips (m1n1 src/soc.h)
KNOWN_CHIPS = {0x8122: "t8122, M3", 0x6030: "t6030, M3 Pro", 0x6031: "t603x, M3 Max",
               0x6034: "t603x, M3 Max"}

# S5L UART (kernel/boards/m3/board.inc; m1n1 src/uart_regs.h)
UCON, UTRSTAT, URXH = 0x04, 0x10, 0x24
UCON_RXTO_ENA, UCON_RXTHR_ENA, UCON_TXTHR_ENA = 1 << 9, 1 << 12, 1 << 13
UTRSTAT_RXDR, UTRSTAT_IRQS = 1 << 0, 0x230
# AIC2/3 (kernel/boards/m3/board.inc; m1n1 src/aic_regs.h)
AIC2_CAP0, AIC2_MAXNUMIRQ, AIC2_IRQ_CFG = 0x4, 0xC, 0x2000
AIC_CONFIG, AIC_CONFIG_ENABLE = 0x14, 1
AIC_IRQ_CFG_ROUTE = 0xF

KEY_SECONDS = 10
REPLAY_LIMIT = 20_000_000         # instructions for the replayed boot (it takes about 1.7 M)


class ProbeError(Exception):
    """Usage or connection trouble: said as one message, exit code 2."""


class TargetError(Exception):
    """The machine could not answer one question (an exception on the
    target, an address it does not have): that fact is unknown."""


# ---------------------------------------------------------------------------
# The target interface
# ---------------------------------------------------------------------------

class Target:
    """What the probe needs from a machine.  Addresses are physical (m1n1's
    proxy maps RAM and MMIO 1:1); system registers by encoding."""

    description = "a machine"
    waits_in_real_time = True       # a person types the key: poll for it (the stand-in types at once)

    def read32(self, addr: int) -> int:
        raise NotImplementedError

    def write32(self, addr: int, value: int) -> None:
        raise NotImplementedError

    def read64(self, addr: int) -> int:
        raise NotImplementedError

    def readmem(self, addr: int, n: int) -> bytes:
        raise NotImplementedError

    def mrs(self, op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
        raise NotImplementedError

    def msr(self, op0: int, op1: int, crn: int, crm: int, op2: int, value: int) -> None:
        raise NotImplementedError

    @property
    def boot_args(self) -> bytes:
        """boot_args as the kernel will find them (all of the revision's layout)."""
        raise NotImplementedError

    @property
    def adt(self) -> bytes:
        """The Apple Device Tree bytes the kernel will read."""
        raise NotImplementedError

    @property
    def load_base(self) -> int:
        """Where chainload.py puts the kernel: m1n1's own base (u.base)."""
        raise NotImplementedError

    def run_code(self, code: bytes, args: Sequence[int] = ()) -> tuple[int, int, int, int]:
        """Run `code` (an AAPCS64 routine ending in ret, position
        independent) at EL2 with x0.. = args (at most 4); return its x0-x3."""
        raise NotImplementedError

    def wait_for_key(self, seconds: float) -> bool:
        """Have a key typed on the console UART within `seconds` (a real
        machine asks its user; the stand-in types it).  False when that
        cannot be done here (then the key row is unknown)."""
        raise NotImplementedError

    def key_wait_over(self) -> None:
        """The probe has stopped looking for the key (undo what
        wait_for_key set up)."""


# --- code for run_code: hand-encoded, so the probe needs no assembler ---------

def _sysreg_bits(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    return (op0 & 1) << 19 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5


def mrs(rt: int, reg: tuple) -> int:
    return 0xD5300000 | _sysreg_bits(*reg) | rt


def msr(reg: tuple, rt: int) -> int:
    return 0xD5100000 | _sysreg_bits(*reg) | rt


def movz(rd: int, imm: int, shift: int = 0) -> int:
    return 0xD2800000 | (shift // 16) << 21 | (imm & 0xFFFF) << 5 | rd


def movk(rd: int, imm: int, shift: int = 0) -> int:
    return 0xF2800000 | (shift // 16) << 21 | (imm & 0xFFFF) << 5 | rd


def orr(rd: int, rn: int, rm: int) -> int:
    return 0xAA000000 | rm << 16 | rn << 5 | rd


def mov(rd: int, rm: int) -> int:
    return orr(rd, 31, rm)          # orr rd, xzr, rm


def sub(rd: int, rn: int, rm: int) -> int:
    return 0xCB000000 | rm << 16 | rn << 5 | rd


def subs_imm(rd: int, rn: int, imm: int) -> int:
    return 0xF1000000 | imm << 10 | rn << 5 | rd


def b_ne(offset_insns: int) -> int:
    return 0x54000001 | (offset_insns & 0x7FFFF) << 5


ISB, WFI, RET, NOP = 0xD5033FDF, 0xD503207F, 0xD65F03C0, 0xD503201F
B_SELF_MINUS_4 = 0x17FFFFFF         # b .-4


def words(*insns: int) -> bytes:
    return struct.pack(f"<{len(insns)}I", *insns)


def mrs_routine(reg: tuple) -> bytes:
    return words(mrs(0, reg), RET)


def msr_routine(reg: tuple) -> bytes:
    return words(msr(reg, 0), ISB, RET)


def pmc_routine() -> bytes:
    """x0 = iterations of `subs; b.ne` (2 instructions each).  Sets PMCR1 |=
    0x30303 and PMCR0 |= 3 as board_counters_init does, reads PMC0/PMC1
    around the loop, restores both.  Returns x0 = PMC0 delta (cycles),
    x1 = PMC1 delta (instructions), x2 = PMCR1 and x3 = PMCR0 as found."""
    return words(
        mrs(9, PMCR1), movz(10, PMCR1_KERNEL & 0xFFFF), movk(10, PMCR1_KERNEL >> 16, 16),
        orr(10, 9, 10), msr(PMCR1, 10),
        mrs(11, PMCR0), movz(13, 3), orr(12, 11, 13), msr(PMCR0, 12), ISB,
        mrs(2, PMC0), mrs(3, PMC1), mov(4, 0),
        subs_imm(4, 4, 1), b_ne(-1),
        mrs(5, PMC0), mrs(6, PMC1),
        msr(PMCR0, 11), msr(PMCR1, 9), ISB,
        sub(0, 5, 2), sub(1, 6, 3), mov(2, 9), mov(3, 11), RET)


PMC_OVERHEAD = 3        # mrs PMC1, mov, ..., mrs PMC0: counted between the two PMC1 reads

WRAP_BODY = 48          # the body's offset in wrap(); the literal sits at 40


def wrap(body: bytes, results: int) -> bytes:
    """`body` called from a frame that stores its x0-x3 at `results`
    (m1n1's p.call returns x0 only).  8-byte aligned placement needed (the
    literal; with the MMU off every access must be aligned)."""
    head = words(
        0xA9BE7BFD,             # stp x29, x30, [sp, #-32]!
        0xF9000BF3,             # str x19, [sp, #16]
        0x58000113,             # ldr x19, results  (the literal at +40)
        0x94000009,             # bl body           (at +48)
        0xA9000660,             # stp x0, x1, [x19]
        0xA9010E62,             # stp x2, x3, [x19, #16]
        0xF9400BF3,             # ldr x19, [sp, #16]
        0xA8C27BFD,             # ldp x29, x30, [sp], #32
        RET, NOP) + struct.pack("<Q", results)
    assert len(head) == WRAP_BODY
    return head + body


# ---------------------------------------------------------------------------
# The stand-in: an emulated M3 at the hand-over
# ---------------------------------------------------------------------------

class EmulatedTarget(Target):
    """An emulated M3 (harness.machine.m3.M3) that has not run, or not run
    yet: memory through unicorn (MMIO through unicorn too, which calls the
    machine's device models: UART, AIC, ...), system registers by running
    the MRS/MSR in the emulated core (so the registers the harness serves,
    PMCR0/PMC0/PMC1, CNTFRQ, answer as they answer the kernel, and the
    rest is unicorn's), the ADT and boot_args the machine built.  Code runs
    in a scratch area at the top of usable RAM, the core's registers saved
    and restored around it, so the machine can still boot the kernel."""

    SCRATCH = 0x10000       # code, results, a return stub and a stack, below the top of usable RAM
    waits_in_real_time = False
    LIMIT = 20_000_000      # instructions a routine may take

    def __init__(self, machine):
        self.machine = machine
        self.description = f"stand-in: the emulated M3 ({machine.chip.name}, {machine.chip.soc})"
        self._scratch = machine.layout.mem_end - self.SCRATCH

    @classmethod
    def standin(cls, chip: str, elf: Path | str, **config) -> "EmulatedTarget":
        from harness.machine.m3 import M3, M3Config
        return cls(M3(elf, M3Config(chip=chip, **config)))

    def _uc(self):
        return self.machine.cpu.uc

    def readmem(self, addr: int, n: int) -> bytes:
        try:
            return bytes(self._uc().mem_read(addr, n))
        except Exception as e:  # noqa: BLE001 - unicorn's UcError: nothing there
            raise TargetError(f"reading {n:#x} bytes at {addr:#x}: {e}") from None

    def read32(self, addr: int) -> int:
        return struct.unpack("<I", self.readmem(addr, 4))[0]

    def read64(self, addr: int) -> int:
        return struct.unpack("<Q", self.readmem(addr, 8))[0]

    def write32(self, addr: int, value: int) -> None:
        try:
            self._uc().mem_write(addr, struct.pack("<I", value & 0xFFFF_FFFF))
        except Exception as e:  # noqa: BLE001
            raise TargetError(f"writing at {addr:#x}: {e}") from None

    def mrs(self, op0, op1, crn, crm, op2) -> int:
        return self.run_code(mrs_routine((op0, op1, crn, crm, op2)))[0]

    def msr(self, op0, op1, crn, crm, op2, value) -> None:
        self.run_code(msr_routine((op0, op1, crn, crm, op2)), (value,))

    @property
    def boot_args(self) -> bytes:
        m = self.machine
        rev = struct.unpack("<H", self.readmem(m.boot_args, 2))[0]
        size = bootargs.LAYOUTS.get(rev, bootargs.LAYOUTS[3]).size
        return self.readmem(m.boot_args, size)

    @property
    def adt(self) -> bytes:
        return bytes(self.machine.adt)

    @property
    def load_base(self) -> int:
        return self.machine.load_base

    def run_code(self, code: bytes, args: Sequence[int] = ()) -> tuple[int, int, int, int]:
        if len(args) > 4:
            raise ValueError("run_code takes at most 4 arguments")
        m, cpu = self.machine, self.machine.cpu
        base = self._scratch
        results, stub, stack = base + 0x8000, base + 0x9000, base + self.SCRATCH - 0x100
        blob = wrap(code, results)
        if len(blob) > 0x8000:
            raise ValueError("routine too long")
        uc = cpu.uc
        uc.mem_write(base, blob)
        uc.mem_write(results, bytes(32))
        uc.mem_write(stub, words(WFI, B_SELF_MINUS_4))
        for lo, hi in ((base, base + len(blob)), (stub, stub + 8)):
            uc.ctl_remove_cache(lo, hi)       # unicorn's translations of older code here
            cpu.invalidate_costs(lo, hi)      # and the cycle model's
        names = [f"x{i}" for i in range(31)] + ["sp", "pc", "nzcv"]
        saved = {n: cpu.reg_read(n) for n in names}
        refusal, crash = m.refusal, m.crash_regs
        try:
            for i in range(31):
                cpu.reg_write(f"x{i}", args[i] if i < len(args) else 0)
            cpu.reg_write("x30", stub)
            cpu.reg_write("sp", stack)
            try:
                why = cpu.run(base, cpu.instructions + self.LIMIT)
            except Exception as e:  # noqa: BLE001 - EmulatorError: unmapped memory and the like
                raise TargetError(f"the routine stopped the emulated core: {e}") from None
            pc = cpu.reg_read("pc")
            if not stub <= pc <= stub + 8:
                info = cpu.last_exception
                what = info.describe() if info is not None and why.value == "exception" else why.value
                raise TargetError(f"the routine did not return ({what}, pc {pc:#x})")
            return struct.unpack("<4Q", self.readmem(results, 32))
        finally:
            for n, v in saved.items():
                cpu.reg_write(n, v)
            m.refusal, m.crash_regs = refusal, crash

    def wait_for_key(self, seconds: float) -> bool:
        self.machine.uart.feed(b"k")
        return True


# ---------------------------------------------------------------------------
# A real M3 through m1n1's proxy
# ---------------------------------------------------------------------------

SETUP_HINT = ("set M1N1DIR to a checkout of m1n1 (github.com/AsahiLinux/m1n1) and M1N1DEVICE "
              "to the serial device of m1n1's proxy, e.g.\n"
              "  make probe M1N1DIR=~/src/m1n1 M1N1DEVICE=/dev/ttyACM0\n"
              "(or `python -m harness probe --standin t8122` for the emulated M3)")


class M1n1Target(Target):
    """A machine running m1n1's proxy.  m1n1's proxyclient is imported from
    $M1N1DIR/proxyclient at run time (never vendored); its UartInterface
    takes the device from $M1N1DEVICE (default /dev/m1n1), as
    proxyclient/tools/chainload.py does."""

    def __init__(self, m1n1dir: str | None = None):
        m1n1dir = m1n1dir or os.environ.get("M1N1DIR")
        if not m1n1dir:
            raise ProbeError(SETUP_HINT)
        client = Path(m1n1dir).expanduser() / "proxyclient"
        if not (client / "m1n1" / "proxy.py").is_file():
            raise ProbeError(f"{client / 'm1n1' / 'proxy.py'} not found: is M1N1DIR ({m1n1dir}) "
                             f"an m1n1 checkout?")
        if str(client) not in sys.path:
            sys.path.insert(0, str(client))
        try:
            from m1n1 import proxy as m1proxy
            from m1n1 import proxyutils
        except Exception as e:  # noqa: BLE001 - whatever the import raises, one line
            raise ProbeError(f"importing m1n1's proxyclient from {client} failed: "
                             f"{type(e).__name__}: {e}\n(it needs pyserial and construct in this "
                             f"Python: `.venv/bin/pip install pyserial construct`)") from None
        self._m = m1proxy
        device = os.environ.get("M1N1DEVICE", m1proxy.UartInterface.DEFAULT_UART_DEV)
        try:
            self.iface = m1proxy.UartInterface()
            self.p = m1proxy.M1N1Proxy(self.iface, debug=False)
            proxyutils.bootstrap_port(self.iface, self.p)
            self.u = proxyutils.ProxyUtils(self.p)
        except Exception as e:  # noqa: BLE001
            raise ProbeError(f"no m1n1 proxy on {device}: {type(e).__name__}: {e}\n"
                             f"(is the M3 in m1n1's proxy, and M1N1DEVICE its serial device?)") from None
        self.description = f"m1n1 proxy on {device} (m1n1 base {self.u.base:#x})"
        try:
            self.proxy_on_uart = self.p.iodev_whoami() == m1proxy.IODEV.UART
        except Exception:  # noqa: BLE001 - old m1n1: assume a serial link (as bootstrap_port does)
            self.proxy_on_uart = True

    def _guarded(self, fn: Callable[[], int], what: str) -> int:
        """fn() with m1n1's exception guard on: an exception on the M3 is
        skipped and counted, not fatal to the proxy."""
        G = self._m.GUARD
        try:
            self.p.set_exc_guard(G.SKIP | G.SILENT)
            try:
                value = fn()
                count = self.p.get_exc_count()
            finally:
                self.p.set_exc_guard(G.OFF)
        except Exception as e:  # noqa: BLE001 - the link itself failed
            raise TargetError(f"{what}: {type(e).__name__}: {e}") from None
        if count:
            raise TargetError(f"{what}: took an exception on the M3")
        return value

    def read32(self, addr):
        return self._guarded(lambda: self.p.read32(addr), f"read32 {addr:#x}")

    def write32(self, addr, value):
        self._guarded(lambda: self.p.write32(addr, value) or 0, f"write32 {addr:#x}")

    def read64(self, addr):
        return self._guarded(lambda: self.p.read64(addr), f"read64 {addr:#x}")

    def readmem(self, addr, n):
        try:
            return bytes(self.iface.readmem(addr, n))
        except Exception as e:  # noqa: BLE001
            raise TargetError(f"reading {n:#x} bytes at {addr:#x}: {type(e).__name__}: {e}") from None

    def mrs(self, op0, op1, crn, crm, op2):
        try:
            return self.u.mrs((op0, op1, crn, crm, op2), silent=True)
        except Exception as e:  # noqa: BLE001 - ProxyError: the MRS took an exception
            raise TargetError(f"MRS S{op0}_{op1}_C{crn}_C{crm}_{op2}: {type(e).__name__}: {e}") from None

    def msr(self, op0, op1, crn, crm, op2, value):
        try:
            self.u.msr((op0, op1, crn, crm, op2), value, silent=True)
        except Exception as e:  # noqa: BLE001
            raise TargetError(f"MSR S{op0}_{op1}_C{crn}_C{crm}_{op2}: {type(e).__name__}: {e}") from None

    @property
    def boot_args(self) -> bytes:
        rev = self.u.ba_rev
        size = bootargs.LAYOUTS.get(rev, bootargs.LAYOUTS[3]).size
        return self.readmem(self.u.ba_addr, size)

    @property
    def adt(self) -> bytes:
        fields = bootargs.parse_boot_args(self.boot_args)
        pa = (fields["devtree"] - fields["virt_base"] + fields["phys_base"]) & MASK64
        return self.readmem(pa, fields["devtree_size"])

    @property
    def load_base(self) -> int:
        return self.u.base

    def run_code(self, code, args=()):
        """As ProxyUtils.exec does it: upload, dc cvau + ic ivau, p.call
        through m1n1's executable alias of the heap (REGION_RX_EL1 unless
        m1n1's MMU is off), exception guard on."""
        if len(args) > 4:
            raise ValueError("run_code takes at most 4 arguments")
        u, p = self.u, self.p
        results = u.memalign(0x40, 32)
        blob = wrap(code, results)
        addr = u.memalign(0x40, len(blob))
        try:
            self.iface.writemem(results, bytes(32))
            self.iface.writemem(addr, blob)
            p.dc_cvau(addr, len(blob))
            p.ic_ivau(addr, len(blob))
            region = 0 if getattr(u, "mmu_off", False) else self._m.REGION_RX_EL1
            self._guarded(lambda: p.call(addr | region, *args) or 0, "running a routine")
            return struct.unpack("<4Q", self.iface.readmem(results, 32))
        except TargetError:
            raise
        except Exception as e:  # noqa: BLE001
            raise TargetError(f"running a routine: {type(e).__name__}: {e}") from None
        finally:
            u.free(addr)
            u.free(results)

    def wait_for_key(self, seconds):
        """m1n1's proxy loop reads every iodev with USAGE_UARTPROXY between
        requests, the UART included (src/uartproxy.c; src/uart.c gives it
        CONSOLE | UARTPROXY): so while the key is awaited the UART is the
        console only, and m1n1 leaves the byte in its FIFO."""
        if self.proxy_on_uart:
            return False            # the key would go to m1n1's proxy itself
        try:
            self.p.iodev_set_usage(self._m.IODEV.UART, self._m.USAGE.CONSOLE)
            self._usage_changed = True
        except Exception:  # noqa: BLE001 - an m1n1 without it: m1n1 may take the byte first
            self._usage_changed = False
        print(f"\n>>> type a key on the M3's serial console (the UART, not the proxy link) "
              f"within {seconds:g} s", file=sys.stderr, flush=True)
        return True

    def key_wait_over(self):
        if getattr(self, "_usage_changed", False):
            U = self._m.USAGE
            try:                    # back to src/uart.c's own usage
                self.p.iodev_set_usage(self._m.IODEV.UART, U.CONSOLE | U.UARTPROXY)
            except Exception:  # noqa: BLE001
                pass
            self._usage_changed = False


# ---------------------------------------------------------------------------
# The facts and the table
# ---------------------------------------------------------------------------

_BA = "kernel/boards/m3/board.S board_boot_info; hardware.md boot_args"
_DISC = "kernel/boards/m3/discover.S"
_AIC = "kernel/boards/m3/aic.S board_irq_init; m1n1 src/aic.c aic23_init, src/aic_regs.h"

# Every fact the probe checks, in table order: (fact, what the kernel
# assumes, [the kernel file; the doc or source it follows]).  hardware.md
# is docs/hardware.md (its section "The hand-over"); m1n1 paths are in
# AsahiLinux/m1n1.
FACTS: list[tuple[str, str, str]] = [
    ("MIDR_EL1", "an Apple core (implementer 0x61); nothing per part",
     "kernel/boards/m3/board.inc (Apple registers); m1n1 src/midr.h"),
    ("CurrentEL", "EL2", "kernel/head.S; hardware.md CPU state at entry"),
    ("HCR_EL2 E2H, TGE", "E2H = 1 and TGE = 1: VHE, the EL2&0 regime",
     "kernel/head.S, kernel/mmu.S; hardware.md CPU state at entry"),
    ("ID_AA64MMFR0 TGran16", "1 or 2: the 16 KiB granule", "kernel/mmu.S; Arm ARM D8 16 KiB granule"),
    ("ID_AA64MMFR0 PARange", "read into TCR.IPS; DRAM and devices below 2^PA",
     "kernel/mmu.S mmu_init, kernel/domain.S; Arm ARM D8"),
    ("ID_AA64MMFR1 VH", "1: VHE (EL2 tables, TCR, CPTR in the EL1 layouts)",
     "kernel/mmu.S, kernel/head.S; hardware.md CPU state at entry"),
    ("ID_AA64MMFR2 BBM", "0, no FEAT_BBM: break-before-make everywhere",
     "kernel/mmu.S; hardware.md t8122 platform"),
    ("CNTFRQ_EL0", "read, never assumed; 24 MHz or 1 GHz",
     "kernel/thread.S, kernel/console.S, kernel/forth/io.S; hardware.md (AGTCNTRDIR)"),
    ("PMC0/PMC1 at EL2", f"PMCR1 |= {PMCR1_KERNEL:#x}, PMCR0 |= 3: PMC1 counts instructions and PMC0 "
     "cycles at EL2", "kernel/boards/m3/board.S board_counters_init; Linux asm/apple_m1_pmu.h"),
    ("boot_args revision", "1, 2 or 3 (cmdline at 0x6c; the fields before it fixed)", _BA),
    ("boot_args phys_base", "16 KiB aligned (RAM is mapped in 16 KiB pages)", _BA + "; kernel/mmu.S"),
    ("boot_args mem_size", "usable RAM from phys_base, at least 64 MiB (whole pages used)", _BA),
    ("boot_args top_of_kernel_data", "inside usable RAM: free memory starts above it",
     _BA + "; m1n1 proxyclient/tools/chainload.py"),
    ("boot_args video", "depth 30 or 32, stride >= 4 x width, outside usable RAM",
     "kernel/fbcon.S, kernel/mmu.S; hardware.md boot_args"),
    ("boot_args devtree", "the ADT inside usable RAM (devtree - virt_base + phys_base)", _BA),
    ("ADT /chosen chip-id", "present; 0x8122, 0x6030, 0x6031 or 0x6034 (another runs as its ADT says)",
     _DISC + ", board.S known_chips; m1n1 src/soc.h"),
    ("ADT /chosen dram-*", "dram-base and dram-size present; usable RAM inside DRAM",
     _DISC + "; m1n1 src/kboot.c"),
    ("ADT console UART", "/arm-io/uart6 if it has debug-console, else /arm-io/uart0: reg through "
     "the ranges, size > 0", _DISC + "; m1n1 src/uart.c uart_init"),
    ("ADT UART interrupts", "an AIC IRQ number (without one the console polls)",
     _DISC + "; m1n1 src/uart.c"),
    ("ADT /arm-io/aic", "compatible aic,3 or aic,2; reg", _DISC + " discover_aic; m1n1 src/aic.c aic23_init"),
    ("ADT aic offsets", "aic-iack-offset; extint-baseaddress, cap0-offset, maxnumirq-offset (absent: "
     "AIC2's 0x2000, 0x4, 0xc)", _DISC + " discover_aic; m1n1 src/aic.c aic23_init"),
    ("ADT /arm-io/wdt", "reg (without it BYE halts instead of rebooting)", _DISC + "; m1n1 src/wdt.c"),
    ("ADT /arm-io/pmgr", "reg (the cores' start registers)", _DISC + "; m1n1 src/smp.c"),
    ("ADT /cpus", "cores with reg and cpu-impl-reg, exactly one 'running' (this one)",
     _DISC + " discover_cpus; m1n1 src/smp.c"),
    ("ADT carveout-memory-map", "no carveout inside usable RAM (all of it is mapped Normal)",
     "kernel/mmu.S; m1n1 src/mcc.c mcc_unmap_carveouts, src/display.c"),
    ("AIC CAP0", "nr_irq (15:0) above the UART's IRQ (else the console polls)", _AIC),
    ("AIC MAXNUMIRQ", "max_irq (15:0), a multiple of 32 >= nr_irq: the stride of SW_SET, SW_CLR, "
     "MASK_SET, MASK_CLR, HW_STATE after IRQ_CFG", _AIC),
    ("AIC global enable", "nothing: the kernel sets base+0x14 bit 0 itself",
     "kernel/boards/m3/aic.S; Linux irq-apple-aic.c AIC2_CONFIG"),
    ("AIC IRQ_CFG[UART]", "route (3:0) = 0: the kernel never writes IRQ_CFG",
     "kernel/boards/m3/aic.S; m1n1 proxyclient/experiments/aic2_vms.py"),
    ("AIC MASK[UART]", "nothing: the kernel masks every IRQ, then unmasks the UART's",
     "kernel/boards/m3/aic.S, kernel/console.S; m1n1 src/aic.c"),
    ("UART IRQ at the AIC", "a typed byte raises HW_STATE[UART] once UCON enables the RX threshold and "
     "timeout interrupts (as board_irq_init does)", "kernel/boards/m3/aic.S board_irq_init; m1n1 "
     "src/uart_regs.h"),
    ("DRAM outside RAM and fb", "never mapped as Normal memory (carveouts raise SErrors)",
     "kernel/mmu.S; m1n1 src/mcc.c mcc_unmap_carveouts"),
    ("ADT vs chainloaded image", "chainload.py's image, SEPFW, preoslog and boot_args at m1n1's base "
     "leave the ADT whole", "kernel/boards/m3/board.S; m1n1 proxyclient/tools/chainload.py"),
    ("kernel map (replayed)", "no Normal mapping touches a carveout; Normal only in usable RAM and "
     "the framebuffer", "kernel/mmu.S mmu_init; m1n1 src/mcc.c; harness/pagetable.py"),
    ("kernel map: devices", "the ADT's UART, AIC and WDT mapped Device-nGnRnE (MAIR 0x00)",
     "kernel/mmu.S; hardware.md Pages"),
]
_FACT_INDEX = {name: i for i, (name, _, _) in enumerate(FACTS)}


@dataclass
class Row:
    fact: str
    assumes: str
    says: str
    verdict: str
    source: str             # the kernel file; the doc or source it follows


@dataclass
class Report:
    target: str
    rows: list[Row] = field(default_factory=list)

    def add(self, fact: str, says: str, verdict: str) -> Row:
        _, assumes, source = FACTS[_FACT_INDEX[fact]]
        row = Row(fact, assumes, says, verdict, source)
        self.rows = [r for r in self.rows if r.fact != fact] + [row]
        self.rows.sort(key=lambda r: _FACT_INDEX[r.fact])
        return row

    def has(self, fact: str) -> bool:
        return any(r.fact == fact for r in self.rows)

    def row(self, fact: str) -> Row:
        return next(r for r in self.rows if r.fact == fact)

    def complete(self, why: str = "not checked: what it needs is missing (see the rows above)") -> None:
        """Every fact gets a row: the ones nothing answered are unknown."""
        for name, _, _ in FACTS:
            if not self.has(name):
                self.add(name, why, UNKNOWN)

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)

    @property
    def exit_code(self) -> int:
        return EXIT_DIFFERS if self.count(DIFFERS) else EXIT_OK

    def summary(self) -> str:
        d, u = self.count(DIFFERS), self.count(UNKNOWN)
        return (f"{len(self.rows)} facts: {self.count(OK)} ok, {d} DIFFERS, {u} unknown"
                + (" -- fix what DIFFERS before chainloading" if d else ""))

    def table(self, widths: tuple[int, int, int, int] = (24, 46, 46, 7)) -> str:
        """Four columns, each cell wrapped in its column; the source in
        brackets after the assumption."""
        heads = ("fact", "kernel assumes [kernel file; source]", "machine says", "verdict")
        out = [" | ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip(),
               "-+-".join("-" * w for w in widths)]
        for r in self.rows:
            cells = [textwrap.wrap(text, w, break_on_hyphens=False) or [""]
                     for text, w in zip((r.fact, f"{r.assumes} [{r.source}]", r.says, r.verdict), widths)]
            for i in range(max(map(len, cells))):
                out.append(" | ".join((c[i] if i < len(c) else "").ljust(w)
                                      for c, w in zip(cells, widths)).rstrip())
        return "\n".join(out)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n % (1 << 20) == 0 else f"{n:#x} bytes"


def _ranges(rs: Sequence[tuple[int, int]], limit: int = 4) -> str:
    shown = ", ".join(f"{lo:#x}-{hi:#x}" for lo, hi in rs[:limit])
    return shown + (f" and {len(rs) - limit} more" if len(rs) > limit else "")


# ---------------------------------------------------------------------------
# ADT reads as the kernel does them (kernel/boards/m3/adt.S)
# ---------------------------------------------------------------------------

def adt_u32(node: adtlib.Node | None, prop: str) -> int | None:
    """adt_u32: the first word of a property of at least 4 bytes."""
    raw = node.get(prop) if node is not None else None
    return None if raw is None or len(raw) < 4 else int.from_bytes(raw[:4], "little")


def adt_u64(node: adtlib.Node | None, prop: str) -> int | None:
    """adt_u64: a 4-byte value as is, else the first 8 bytes."""
    raw = node.get(prop) if node is not None else None
    if raw is None or len(raw) < 4 or 4 < len(raw) < 8:
        return None
    return int.from_bytes(raw[:4] if len(raw) == 4 else raw[:8], "little")


def adt_reg(root: adtlib.Node, path: str, index: int = 0) -> tuple[int, int] | None:
    """adt_reg: entry `index` of reg, translated up through every ancestor's
    ranges as the kernel does (a ranges that holds it nowhere whole fails,
    unlike a DT reader that would leave it as is); None if it cannot."""
    try:
        return root.get_reg(path, index, strict=True)
    except adtlib.AdtError:
        return None


def compatible(node: adtlib.Node | None) -> list[str]:
    if node is None or node.get("compatible") is None:
        return []
    try:
        return node.get_strlist("compatible")
    except adtlib.AdtError:
        return []


# ---------------------------------------------------------------------------
# Translation tables (the kernel's, replayed in emulation)
# ---------------------------------------------------------------------------

ADDR_MASK = 0x0000_FFFF_FFFF_C000


def leaves(read: Callable[[int, int], bytes], ttbr: int, va_bits: int) -> Iterator[tuple[int, int, int, int]]:
    """(va, pa, size, descriptor) of every valid block and page reachable
    from ttbr: harness/pagetable.py's walker (16 KiB granule, level-2 root
    up to 36 bits, level-1 up to 47)."""
    from harness.pagetable import Geometry, iter_leaves
    if not 25 < va_bits <= 47:
        raise ValueError(f"a {va_bits}-bit space is not one the kernel builds")
    geo = Geometry.for_va_bits(va_bits)
    for leaf in iter_leaves(read, geo.root_address(ttbr), geo):
        yield leaf.va, leaf.pa, leaf.size, leaf.descriptor


@dataclass
class KernelMap:
    """What the replay found: how the run ended, and the kernel's map as
    merged ranges (lo, hi, MAIR attribute byte)."""
    status: str
    note: str = ""
    va_bits: int = 0
    ranges: list[tuple[int, int, int]] = field(default_factory=list)
    identity: bool = True
    walk: Callable[[int], tuple[int, int] | None] | None = None   # pagetable.walk: va -> (pa, attr)
    image: tuple[int, int] = (0, 0)        # the replay's [load_base, top_of_kernel_data)
    adt_at: int = 0
    adt_moved: str = ""

    def normal(self) -> list[tuple[int, int]]:
        return [(lo, hi) for lo, hi, attr in self.ranges if attr & 0xF0]

    def attr_at(self, addr: int) -> int | None:
        for lo, hi, attr in self.ranges:
            if lo <= addr < hi:
                return attr
        return None


def _merge(items: Iterator[tuple[int, int, int, int]], mair: int) -> tuple[list[tuple[int, int, int]], bool]:
    out: list[list[int]] = []
    identity = True
    for va, pa, size, d in sorted(items):
        identity &= va == pa
        attr = (mair >> (8 * ((d >> 2) & 7))) & 0xFF
        if out and out[-1][1] == va and out[-1][2] == attr:
            out[-1][1] = va + size
        else:
            out.append([va, va + size, attr])
    return [tuple(r) for r in out], identity


def replay_kernel_map(elf: Path, facts: "Facts") -> KernelMap:
    """Boot the kernel image in the emulated M3 as this machine would hand it
    over and read back the map it built.  The M3Config that comes closest
    (chip from chip-id, phys_base, mem_size, DRAM, load base, CNTFRQ,
    cmdline, revision), then the machine's own ADT bytes and boot_args
    written over the emulated ones and its framebuffer mapped where it is.
    Nothing in harness/machine/m3.py changes for this: the machine is only
    touched before its first run."""
    from harness import chips
    from harness.machine.m3 import CNTFRQ_CHOICES, M3, M3Config, MachineError

    ba = facts.ba
    name = next((n for n in chips.names() if chips.load(n).chip_id == facts.chip_id), None)
    if name is None:
        return KernelMap("unknown", f"no emulated chip has chip-id {facts.chip_id:#x}" if facts.chip_id
                         is not None else "the ADT has no chip-id")
    chip = chips.load(name)
    phys_base, mem_size = ba["phys_base"], ba["mem_size"] & ~(PAGE - 1)
    dram_end = (facts.dram_base or chip.dram_base) + (facts.dram_size or 0)
    notes = []
    load_base = facts.load_base
    cfg = dict(chip=name, mem_size=mem_size, phys_offset=phys_base - chip.dram_base,
               dram_size=max(dram_end - chip.dram_base, 0) & ~(PAGE - 1),
               cntfrq=facts.cntfrq if facts.cntfrq in CNTFRQ_CHOICES else CNTFRQ_CHOICES[0],
               cmdline=ba["cmdline"], bootargs_revision=ba["revision"] if ba["revision"] in (1, 2, 3) else 2)
    if facts.cntfrq is not None and facts.cntfrq not in CNTFRQ_CHOICES:
        notes.append(f"CNTFRQ {facts.cntfrq:,} Hz is not emulated: replayed at 24 MHz")
    try:
        m = M3(elf, M3Config(load_base=load_base, **cfg))
    except (MachineError, ValueError) as e:
        try:
            m = M3(elf, M3Config(**cfg))
            notes.append(f"load base {load_base:#x} refused ({e}): the emulated default")
        except (MachineError, ValueError) as e2:
            return KernelMap("unknown", f"no emulated M3 fits this machine: {e2}")
    uc, lay = m.cpu.uc, m.layout
    image = (m.load_base, m.after.top_of_kernel_data)

    # The framebuffer where this machine has it.
    video = ba["video"]
    fb_lo = video.base & ~(PAGE - 1)
    fb_hi = -(-(video.base + video.stride * video.height) // PAGE) * PAGE
    if (fb_lo, fb_hi) != (lay.fb.base, lay.fb_end):
        uc.mem_unmap(lay.fb.base, lay.fb_size)
        if video.base and fb_hi > fb_lo and (fb_hi <= phys_base or fb_lo >= lay.mem_end):
            try:
                uc.mem_map(fb_lo, fb_hi - fb_lo)
            except Exception as e:  # noqa: BLE001
                notes.append(f"the framebuffer could not be mapped ({e})")

    # This machine's ADT, where it lies (or below the image if the image
    # would cover it: that is reported as its own row).
    data = facts.adt_bytes
    adt_at = facts.adt_pa
    moved = ""
    clash = adt_at < image[1] and image[0] < adt_at + len(data)
    if clash or not (phys_base + PAGE <= adt_at and adt_at + len(data) <= lay.mem_end):
        moved = f"the ADT moved from {adt_at:#x} to {lay.adt_base:#x} for the replay"
        adt_at = lay.adt_base
        if adt_at + len(data) > image[0]:
            return KernelMap("unknown", f"the ADT ({len(data):#x} bytes) fits nowhere below the image",
                             image=image)
    uc.mem_write(adt_at, data)
    try:
        args = bootargs.build_boot_args(
            revision=cfg["bootargs_revision"], virt_base=ba["virt_base"], phys_base=phys_base,
            mem_size=ba["mem_size"], top_of_kernel_data=image[1], video=video,
            machine_type=ba["machine_type"], devtree=adt_at - phys_base + ba["virt_base"],
            devtree_size=len(data), cmdline=ba["cmdline"], boot_flags=ba["boot_flags"],
            mem_size_actual=ba["mem_size_actual"])
    except bootargs.BootArgsError as e:
        return KernelMap("unknown", f"boot_args the emulated M3 cannot pass: {e}", image=image)
    uc.mem_write(m.boot_args, bytes(bootargs.LAYOUTS[3].size))
    uc.mem_write(m.boot_args, args)

    # Boot to the first wait for a console byte: the machine stops there when
    # its UART is polled empty; without a UART, at board_rx_wait.
    waiting = []
    try:
        rx_wait = m.symbols.address("board_rx_wait", m.load_base)
    except Exception:  # noqa: BLE001 - a kernel without it: the limit ends the run
        rx_wait = None
    if rx_wait is not None:
        from unicorn import UC_HOOK_CODE

        def at_rx_wait(uc, address, size, user):
            waiting.append(address)
            m.cpu.request_stop()
        uc.hook_add(UC_HOOK_CODE, at_rx_wait, begin=rx_wait, end=rx_wait)
    result = m.run(REPLAY_LIMIT)
    if result.status == "idle" or waiting:
        status = "booted to the prompt"
    else:
        status = f"the boot did not reach the prompt ({result.status})"
        notes.append((result.report.splitlines() or [""])[0])
    cpu = m.cpu
    if not cpu.sysreg_read(*SCTLR_EL2) & 1:
        return KernelMap("unknown", "; ".join([status + ", the MMU never went on"] + notes), image=image,
                         adt_at=adt_at, adt_moved=moved)
    tcr, ttbr, mair = (cpu.sysreg_read(*r) for r in (TCR_EL2, TTBR0_EL2, MAIR_EL2))
    va_bits = 64 - (tcr & 0x3F)

    def read(addr: int, n: int) -> bytes:
        return bytes(uc.mem_read(addr, n))

    try:
        ranges, identity = _merge(leaves(read, ttbr, va_bits), mair)
    except Exception as e:  # noqa: BLE001 - a table outside RAM, an odd T0SZ
        return KernelMap("unknown", f"{status}; the tables could not be walked: {e}", image=image)

    walk = None
    if va_bits == 36:
        from harness.pagetable import TranslationFault
        from harness.pagetable import walk as pt_walk

        def walk(va: int) -> tuple[int, int] | None:
            try:
                t = pt_walk(read, ttbr, va, va_bits)
            except TranslationFault:
                return None
            return t.pa, (mair >> (8 * t.attr_index)) & 0xFF
    return KernelMap(status, "; ".join(n for n in notes if n), va_bits, ranges, identity, walk, image,
                     adt_at, moved)


# ---------------------------------------------------------------------------
# The probe
# ---------------------------------------------------------------------------

@dataclass
class Facts:
    """What the machine said, as the later rows and the replay use it."""
    ba: dict
    root: adtlib.Node | None
    adt_bytes: bytes
    adt_pa: int
    load_base: int
    cntfrq: int | None = None
    pa_bits: int | None = None
    chip_id: int | None = None
    dram_base: int | None = None
    dram_size: int | None = None
    uart: tuple[int, int] | None = None
    uart_irq: int | None = None
    aic: tuple[int, int] | None = None
    aic_offsets: dict = field(default_factory=dict)   # event, cfg, cap0, maxnumirq: as the kernel uses them
    devices: dict = field(default_factory=dict)       # UART, AIC, WDT, PMGR -> (base, size)
    carveouts: list[tuple[int, int]] = field(default_factory=list)   # [lo, hi), merged

    @property
    def mem_end(self) -> int:
        return self.ba["phys_base"] + (self.ba["mem_size"] & ~(PAGE - 1))

    @property
    def fb(self) -> tuple[int, int]:
        v = self.ba["video"]
        return v.base & ~(PAGE - 1), -(-(v.base + v.stride * v.height) // PAGE) * PAGE


PA_BITS = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48, 6: 52}


def probe(target: Target, elf: Path | None = None, key: bool = True,
          key_seconds: float = KEY_SECONDS) -> Report:
    """Ask `target` everything; `elf` is the kernel to replay (default
    build/kernel.elf); key=False skips the typed-key check."""
    if elf is None:
        from harness.build import output_dir
        elf = output_dir("m3") / "kernel.elf"
    rep = Report(target.description)
    cpu = _cpu_rows(rep, target)
    facts = _boot_args_rows(rep, target)
    if facts is not None:
        facts.cntfrq, facts.pa_bits = cpu["cntfrq"], cpu["pa_bits"]
        if facts.root is not None:
            _adt_rows(rep, facts)
            _aic_rows(rep, facts, target, key, key_seconds)
        _memory_rows(rep, facts, Path(elf))
    rep.complete()
    return rep


def _read_sysreg(target: Target, reg: tuple) -> tuple[int | None, str]:
    try:
        return target.mrs(*reg), ""
    except TargetError as e:
        return None, str(e)


def _cpu_rows(rep: Report, t: Target) -> dict:
    """The core's rows; returns what later rows need (cntfrq, pa_bits)."""
    out = {"cntfrq": None, "pa_bits": None}
    midr, err = _read_sysreg(t, MIDR_EL1)
    if midr is None:
        rep.add("MIDR_EL1", err, UNKNOWN)
    else:
        impl, part = midr >> 24 & 0xFF, midr >> 4 & 0xFFF
        name = M3_PARTS.get(part, "not an M3 part m1n1 lists") if impl == 0x61 else "not Apple"
        rep.add("MIDR_EL1", f"{midr:#x}: implementer {impl:#x}, part {part:#x} {name}, variant "
                f"{midr >> 20 & 0xF}, revision {midr & 0xF}", OK if impl == 0x61 else DIFFERS)

    el, err = _read_sysreg(t, CURRENT_EL)
    rep.add("CurrentEL", err if el is None else f"EL{el >> 2 & 3}",
            UNKNOWN if el is None else OK if el >> 2 & 3 == 2 else DIFFERS)

    hcr, err = _read_sysreg(t, HCR_EL2)
    if hcr is None:
        rep.add("HCR_EL2 E2H, TGE", err, UNKNOWN)
    else:
        e2h, tge = bool(hcr & HCR_E2H), bool(hcr & HCR_TGE)
        rep.add("HCR_EL2 E2H, TGE", f"{hcr:#x}: E2H {int(e2h)}, TGE {int(tge)}", OK if e2h and tge else DIFFERS)

    mmfr0, err = _read_sysreg(t, ID_AA64MMFR0_EL1)
    if mmfr0 is None:
        rep.add("ID_AA64MMFR0 TGran16", err, UNKNOWN)
        rep.add("ID_AA64MMFR0 PARange", err, UNKNOWN)
    else:
        tg16, pa = mmfr0 >> 20 & 0xF, mmfr0 & 0xF
        rep.add("ID_AA64MMFR0 TGran16", f"{tg16}: {'supported' if tg16 in (1, 2) else 'not supported'} "
                f"(MMFR0 {mmfr0:#x})", OK if tg16 in (1, 2) else DIFFERS)
        out["pa_bits"] = PA_BITS.get(pa)        # held against the addresses in _memory_rows
        rep.add("ID_AA64MMFR0 PARange", f"{pa}: {PA_BITS.get(pa, 'reserved,')} bits",
                OK if pa in PA_BITS else DIFFERS)
    mmfr1, err = _read_sysreg(t, ID_AA64MMFR1_EL1)
    if mmfr1 is None:
        rep.add("ID_AA64MMFR1 VH", err, UNKNOWN)
    else:
        vh = mmfr1 >> 8 & 0xF
        rep.add("ID_AA64MMFR1 VH", f"{vh} (MMFR1 {mmfr1:#x})", OK if vh >= 1 else DIFFERS)
    mmfr2, err = _read_sysreg(t, ID_AA64MMFR2_EL1)
    if mmfr2 is None:
        rep.add("ID_AA64MMFR2 BBM", err, UNKNOWN)
    else:
        bbm = mmfr2 >> 52 & 0xF
        rep.add("ID_AA64MMFR2 BBM", f"{bbm}" + ("" if bbm == 0 else ": FEAT_BBM level "
                                                  f"{bbm}; break-before-make is still correct")
                + f" (MMFR2 {mmfr2:#x})", OK)

    frq, err = _read_sysreg(t, CNTFRQ_EL0)
    out["cntfrq"] = frq
    if frq is None:
        rep.add("CNTFRQ_EL0", err, UNKNOWN)
    else:
        which = {24_000_000: "24 MHz", 1_000_000_000: "1 GHz"}.get(frq, f"{frq:,} Hz: neither")
        rep.add("CNTFRQ_EL0", which, OK if frq in (24_000_000, 1_000_000_000) else UNKNOWN if frq else DIFFERS)

    n = 2 * PMC_ITERATIONS
    try:
        cyc, ins, pmcr1, pmcr0 = t.run_code(pmc_routine(), (PMC_ITERATIONS,))
    except TargetError as e:
        rep.add("PMC0/PMC1 at EL2", str(e), UNKNOWN)
    else:
        counts = n <= ins <= n + n // 100 + 64
        rep.add("PMC0/PMC1 at EL2",
                f"a loop of {n:,} instructions: PMC1 +{ins:,}, PMC0 +{cyc:,}"
                + (f" ({ins / cyc:.2f} instructions a cycle)" if cyc else "")
                + f"; PMCR1 was {pmcr1:#x}, PMCR0 {pmcr0:#x}", OK if counts and cyc else DIFFERS)
    return out


def _boot_args_rows(rep: Report, t: Target) -> Facts | None:
    try:
        ba = bootargs.parse_boot_args(t.boot_args)
    except (TargetError, bootargs.BootArgsError) as e:
        rep.add("boot_args revision", str(e), UNKNOWN if isinstance(e, TargetError) else DIFFERS)
        return None
    rev = ba["revision"]
    rep.add("boot_args revision", f"{rev} (version {ba['version']})", OK if rev in (1, 2, 3) else DIFFERS)
    pb, ms = ba["phys_base"], ba["mem_size"]
    mem_end = pb + (ms & ~(PAGE - 1))
    rep.add("boot_args phys_base", f"{pb:#x}", OK if pb % PAGE == 0 else DIFFERS)
    rep.add("boot_args mem_size", f"{ms:#x} ({_mib(ms)}): usable RAM {pb:#x}-{mem_end:#x}",
            OK if ms >= 64 << 20 else DIFFERS)
    top = ba["top_of_kernel_data"]
    rep.add("boot_args top_of_kernel_data", f"{top:#x} now (m1n1's); chainload.py sets the kernel's",
            OK if pb < top <= mem_end else DIFFERS)
    v = ba["video"]
    fb_end = v.base + v.stride * v.height
    depth = v.depth & 0xFF
    inside = v.base < mem_end and pb < fb_end
    rep.add("boot_args video", f"{v.width}x{v.height}, depth {depth}, stride {v.stride}, at "
            f"{v.base:#x}-{fb_end:#x}" + (" (inside usable RAM)" if inside else ""),
            DIFFERS if inside or not v.base or depth not in (30, 32) or v.stride < 4 * v.width else OK)
    adt_pa = (ba["devtree"] - ba["virt_base"] + pb) & MASK64
    size = ba["devtree_size"]
    in_ram = size > 0 and pb <= adt_pa and adt_pa + size <= mem_end
    root, data = None, b""
    says = f"{size:#x} bytes at {adt_pa:#x} (devtree {ba['devtree']:#x}, virt_base {ba['virt_base']:#x})"
    verdict = OK if in_ram else DIFFERS
    if in_ram:
        try:
            data = t.adt
            root = adtlib.parse(data)
        except TargetError as e:
            says, verdict = f"{says}; not readable: {e}", UNKNOWN
        except adtlib.AdtError as e:
            says, verdict = f"{says}; not a tree m1n1 would read: {e}", DIFFERS
    rep.add("boot_args devtree", says, verdict)
    return Facts(ba=ba, root=root, adt_bytes=data, adt_pa=adt_pa, load_base=t.load_base)


def _adt_rows(rep: Report, f: Facts) -> None:
    root = f.root
    chosen = root.find("/chosen")
    f.chip_id = cid = adt_u32(chosen, "chip-id")
    rep.add("ADT /chosen chip-id",
            "missing" if cid is None else f"{cid:#x}" + (f" ({KNOWN_CHIPS[cid]})" if cid in KNOWN_CHIPS else
                                                        ": not one the kernel names"),
            DIFFERS if cid is None else OK if cid in KNOWN_CHIPS else UNKNOWN)
    f.dram_base, f.dram_size = adt_u64(chosen, "dram-base"), adt_u64(chosen, "dram-size")
    pb = f.ba["phys_base"]
    if f.dram_base is None or f.dram_size is None:
        rep.add("ADT /chosen dram-*", f"dram-base {'missing' if f.dram_base is None else hex(f.dram_base)}, "
                f"dram-size {'missing' if f.dram_size is None else hex(f.dram_size)}", DIFFERS)
    else:
        inside = f.dram_base <= pb and f.mem_end <= f.dram_base + f.dram_size
        rep.add("ADT /chosen dram-*", f"{f.dram_base:#x} + {f.dram_size:#x} ({_mib(f.dram_size)})"
                + ("" if inside else ": usable RAM is not inside"), OK if inside else DIFFERS)

    # The console UART, chosen as discover.S (and m1n1 src/uart.c) choose it.
    path = "/arm-io/uart6" if root.find("/arm-io/uart6/debug-console") is not None else "/arm-io/uart0"
    node = root.find(path)
    reg = adt_reg(root, path) if node is not None else None
    if node is None:
        rep.add("ADT console UART", f"no {path}: no serial console, the screen only", DIFFERS)
    elif reg is None or not reg[1]:
        rep.add("ADT console UART", f"{path}: reg " + ("missing or outside its bus's ranges" if reg is None
                                                       else "of size 0"), DIFFERS)
    else:
        f.uart = f.devices["UART"] = reg
        rep.add("ADT console UART", f"{path} at {reg[0]:#x} (+{reg[1]:#x})", OK)
    if node is not None:
        f.uart_irq = irq = adt_u32(node, "interrupts")
        rep.add("ADT UART interrupts", "missing" if irq is None else f"{irq}", OK if irq is not None else DIFFERS)

    aic = root.find("/arm-io/aic")
    compat = compatible(aic)
    ver = 3 if "aic,3" in compat else 2 if "aic,2" in compat else None
    areg = adt_reg(root, "/arm-io/aic") if aic is not None else None
    if aic is None:
        rep.add("ADT /arm-io/aic", "missing: no interrupts, the console polls", DIFFERS)
        return
    if ver is None or areg is None:
        rep.add("ADT /arm-io/aic", f"compatible {', '.join(compat) or 'missing'}; reg "
                + ("missing or outside the ranges" if areg is None else f"{areg[0]:#x}"), DIFFERS)
    else:
        f.aic = f.devices["AIC"] = areg
        rep.add("ADT /arm-io/aic", f"aic,{ver} at {areg[0]:#x} (+{areg[1]:#x})", OK)
    offs = {p: adt_u64(aic, p) if p == "aic-iack-offset" else adt_u32(aic, p)
            for p in ("aic-iack-offset", "extint-baseaddress", "cap0-offset", "maxnumirq-offset")}
    fallback = {"extint-baseaddress": AIC2_IRQ_CFG, "cap0-offset": AIC2_CAP0, "maxnumirq-offset": AIC2_MAXNUMIRQ}
    used = {p: fallback.get(p) if v is None else v for p, v in offs.items()}
    f.aic_offsets = {"event": used["aic-iack-offset"], "cfg": used["extint-baseaddress"],
                     "cap0": used["cap0-offset"], "maxnumirq": used["maxnumirq-offset"]}
    missing = [p for p, v in offs.items() if v is None]
    short = {"aic-iack-offset": "iack", "extint-baseaddress": "extint", "cap0-offset": "cap0",
             "maxnumirq-offset": "maxnumirq"}
    shown = ", ".join(f"{short[p]} {'missing' if v is None else hex(v)}" for p, v in offs.items())
    rep.add("ADT aic offsets", shown + (f" (AIC2's used for {', '.join(missing)})"
                                        if missing and offs["aic-iack-offset"] is not None else ""),
            DIFFERS if offs["aic-iack-offset"] is None else UNKNOWN if missing and ver == 3 else OK)
    if offs["aic-iack-offset"] is None:
        f.aic = None                    # discover.S gives up on an AIC without it

    for dev, p in (("WDT", "/arm-io/wdt"), ("PMGR", "/arm-io/pmgr")):
        r = adt_reg(root, p)
        if r is not None:
            f.devices[dev] = r
        rep.add(f"ADT {p}", f"{r[0]:#x} (+{r[1]:#x})" if r else "missing (or outside the ranges)",
                OK if r else DIFFERS)

    cpus = root.find("/cpus")
    cores, running = 0, []
    for c in (cpus.children if cpus is not None else []):
        creg = adt_u32(c, "reg")
        if creg is None:
            continue
        cores += 1
        state = c.get("state") or b""
        if state.split(b"\0", 1)[0] == b"running":
            running.append((c.name, creg, adt_u64(c, "cpu-impl-reg")))
    if len(running) == 1:
        name, creg, impl = running[0]
        says = f"{cores} cores; running: {name}, reg {creg:#x}, cpu-impl-reg " + (
            "missing" if impl is None else f"{impl:#x}")
    else:
        says = f"{cores} cores, {len(running)} 'running'"
    rep.add("ADT /cpus", says, OK if cores and len(running) == 1 and running[0][2] is not None else DIFFERS)

    # Carveouts: the ADT's list (less the framebuffer, which m1n1 src/display.c
    # files there as region-id-14), and DRAM outside usable RAM and the framebuffer.
    fb = f.fb
    listed = []
    co = root.find("/chosen/carveout-memory-map")
    for name, raw in (co.props.items() if co is not None else []):
        if name.startswith("region-id-") and len(raw) >= 16:
            pa, size = struct.unpack_from("<QQ", raw)
            if pa and size:
                listed.append((pa, pa + size, name))
    spans = [r for lo, hi, _ in listed for r in _subtract((lo, hi), [fb])]
    if f.dram_base is not None and f.dram_size is not None:
        spans += _subtract((f.dram_base, f.dram_base + f.dram_size), [(pb, f.mem_end), fb])
    f.carveouts = _union(spans)
    overlap = [(n, lo, hi) for lo, hi, n in listed if lo < f.mem_end and pb < hi]
    holds_fb = [n for lo, hi, n in listed if lo <= fb[0] and fb[1] <= hi]
    if co is None:
        rep.add("ADT carveout-memory-map", "missing: only DRAM outside usable RAM is known", UNKNOWN)
    else:
        rep.add("ADT carveout-memory-map", f"{len(listed)} regions"
                + (f" ({', '.join(holds_fb)}: the framebuffer)" if holds_fb else "")
                + ("; inside usable RAM: " + ", ".join(f"{n} {lo:#x}-{hi:#x}" for n, lo, hi in overlap)
                   if overlap else "; none inside usable RAM"), DIFFERS if overlap else OK)


def _subtract(r: tuple[int, int], holes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = [r]
    for hlo, hhi in holes:
        nxt = []
        for lo, hi in out:
            if hhi <= lo or hi <= hlo:
                nxt.append((lo, hi))
                continue
            if lo < hlo:
                nxt.append((lo, hlo))
            if hhi < hi:
                nxt.append((hhi, hi))
        out = nxt
    return out


def _union(rs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(rs):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _aic_rows(rep: Report, f: Facts, t: Target, key: bool, key_seconds: float) -> None:
    if f.aic is None:
        return                          # complete() says unknown
    base, o, irq = f.aic[0], f.aic_offsets, f.uart_irq

    def r32(off: int) -> int | None:
        try:
            return t.read32(base + off)
        except TargetError:
            return None

    cap0, maxn = r32(o["cap0"]), r32(o["maxnumirq"])
    nr_irq = None if cap0 is None else cap0 & 0xFFFF
    if cap0 is None:
        rep.add("AIC CAP0", f"not readable at +{o['cap0']:#x}", UNKNOWN)
    else:
        ok = nr_irq > 0 and (irq is None or irq < nr_irq)
        rep.add("AIC CAP0", f"{cap0:#x} at +{o['cap0']:#x}: nr_irq {nr_irq}, last die {cap0 >> 24 & 0xF}"
                + ("" if irq is None else f"; UART IRQ {irq} {'inside' if irq < nr_irq else 'beyond it'}"),
                OK if ok else DIFFERS)
    layout = None
    if maxn is None:
        rep.add("AIC MAXNUMIRQ", f"not readable at +{o['maxnumirq']:#x}", UNKNOWN)
    else:
        max_irq = maxn & 0xFFFF
        good = max_irq > 0 and max_irq % 32 == 0 and (nr_irq is None or nr_irq <= max_irq)
        if good:
            sw_set, step = o["cfg"] + 4 * max_irq, max_irq // 8
            layout = dict(mask_set=sw_set + 2 * step, mask_clr=sw_set + 3 * step, hw_state=sw_set + 4 * step)
        rep.add("AIC MAXNUMIRQ", f"{maxn:#x} at +{o['maxnumirq']:#x}: max_irq {max_irq}, max die "
                f"{maxn >> 24 & 0xF}" + (f"; MASK_SET +{layout['mask_set']:#x}, MASK_CLR "
                                          f"+{layout['mask_clr']:#x}, HW_STATE +{layout['hw_state']:#x}"
                                          if layout else ""), OK if good else DIFFERS)
    cfgv = r32(AIC_CONFIG)
    rep.add("AIC global enable", f"not readable at +{AIC_CONFIG:#x}" if cfgv is None else
            f"{cfgv:#x}: {'set' if cfgv & AIC_CONFIG_ENABLE else 'clear'} at hand-over",
            UNKNOWN if cfgv is None else OK)
    if irq is None:
        return
    cfg = r32(o["cfg"] + 4 * irq)
    rep.add("AIC IRQ_CFG[UART]", f"not readable at +{o['cfg'] + 4 * irq:#x}" if cfg is None else
            f"{cfg:#x} at +{o['cfg'] + 4 * irq:#x}: route {cfg & AIC_IRQ_CFG_ROUTE}",
            UNKNOWN if cfg is None else OK if cfg & AIC_IRQ_CFG_ROUTE == 0 else DIFFERS)
    if layout is None:
        rep.add("AIC MASK[UART]", "not checked: no register layout (MAXNUMIRQ)", UNKNOWN)
        rep.add("UART IRQ at the AIC", "not checked (--no-key)" if not key else
                "not checked: no register layout (MAXNUMIRQ)", UNKNOWN)
        return
    word, bit = 4 * (irq // 32), 1 << (irq % 32)
    mask = r32(layout["mask_set"] + word)
    rep.add("AIC MASK[UART]", "not readable" if mask is None else
            f"{'masked' if mask & bit else 'unmasked'} at hand-over", UNKNOWN if mask is None else OK)
    _key_row(rep, f, t, base + layout["hw_state"] + word, bit, key, key_seconds)


def _key_row(rep: Report, f: Facts, t: Target, hw_state: int, bit: int, key: bool, seconds: float) -> None:
    fact = "UART IRQ at the AIC"
    if not key:
        rep.add(fact, "not checked (--no-key)", UNKNOWN)
        return
    if f.uart is None:
        return
    ub = f.uart[0]
    try:
        before = t.read32(hw_state) & bit
        ucon = t.read32(ub + UCON)
    except TargetError as e:
        rep.add(fact, str(e), UNKNOWN)
        return
    seen = rxd = False
    waited = 0.0
    try:
        t.write32(ub + UCON, (ucon | UCON_RXTO_ENA | UCON_RXTHR_ENA) & ~UCON_TXTHR_ENA)
        t.write32(ub + UTRSTAT, UTRSTAT_IRQS)
        if not t.wait_for_key(seconds):
            rep.add(fact, "not checked: m1n1's proxy talks over this UART", UNKNOWN)
            return
        start = time.monotonic()
        while True:
            rxd = rxd or bool(t.read32(ub + UTRSTAT) & UTRSTAT_RXDR)
            if t.read32(hw_state) & bit:
                seen = True
                break
            waited = time.monotonic() - start
            if waited > seconds or not t.waits_in_real_time:
                break
            time.sleep(0.05)
    except TargetError as e:
        rep.add(fact, str(e), UNKNOWN)
        return
    finally:
        t.key_wait_over()
        try:                            # leave the UART as it was found, the key read out
            for _ in range(64):
                if not t.read32(ub + UTRSTAT) & UTRSTAT_RXDR:
                    break
                t.read32(ub + URXH)
            t.write32(ub + UTRSTAT, UTRSTAT_IRQS)
            t.write32(ub + UCON, ucon)
        except TargetError:
            pass
    if seen:
        rep.add(fact, "already set before the key (a byte was waiting)" if before else
                f"clear before; set {waited:.1f} s after the key was typed", OK)
    elif rxd:
        rep.add(fact, "a byte arrived (UTRSTAT RX data ready) but HW_STATE[UART] stayed clear", DIFFERS)
    else:
        rep.add(fact, f"no key arrived within {seconds:g} s", UNKNOWN)


def _image_row(rep: Report, f: Facts, elf: Path) -> None:
    """Where chainload.py will put the kernel: the image at m1n1's base,
    then 4 zero bytes, SEPFW and preoslog (their sizes from this ADT's
    /chosen/memory-map) and 16 KiB of boot_args, each 16 KiB aligned."""
    from harness import payload
    mm = f.root.find("/chosen/memory-map")
    sizes = {}
    for name in ("SEPFW", "preoslog"):
        raw = mm.get(name) if mm is not None else None
        sizes[name] = struct.unpack_from("<QQ", raw)[1] if raw is not None and len(raw) >= 16 else 0
    try:
        image = len(payload.flat_image(elf)[0])
        after = bootargs.layout_after_image(f.load_base, image, sizes["SEPFW"], sizes["preoslog"])
    except (bootargs.BootArgsError, OSError, ValueError) as e:
        rep.add("ADT vs chainloaded image", f"no image region: {e}", UNKNOWN)
        return
    lo, hi = f.load_base, after.top_of_kernel_data
    end = f.adt_pa + len(f.adt_bytes)
    clash = f.adt_pa < hi and lo < end
    outside = not (f.ba["phys_base"] <= lo and hi <= f.mem_end)
    rep.add("ADT vs chainloaded image", f"image region {lo:#x}-{hi:#x} (SEPFW {sizes['SEPFW']:#x}, preoslog "
            f"{sizes['preoslog']:#x}), ADT {f.adt_pa:#x}-{end:#x}" + (": covered" if clash else "")
            + ("; the region leaves usable RAM" if outside else ""), DIFFERS if clash or outside else OK)


def _memory_rows(rep: Report, f: Facts, elf: Path) -> None:
    if f.pa_bits is not None and rep.has("ID_AA64MMFR0 PARange"):
        tops = [(n, b + s) for n, (b, s) in f.devices.items()]
        if f.dram_base is not None and f.dram_size is not None:
            tops.append(("DRAM", f.dram_base + f.dram_size))
        high = [n for n, top in tops if top > 1 << f.pa_bits]
        r = rep.row("ID_AA64MMFR0 PARange")
        r.says += f"; {'beyond: ' + ', '.join(high) if high else 'DRAM and devices below'}"
        if high:
            r.verdict = DIFFERS
    if f.root is None:
        return
    if f.dram_base is not None:
        rep.add("DRAM outside RAM and fb", f"{len(f.carveouts)} carveout ranges: {_ranges(f.carveouts)}"
                if f.carveouts else "none", OK)
    if not elf.exists():
        rep.add("kernel map (replayed)", f"no kernel at {elf}: run `make kernel`", UNKNOWN)
        return
    _image_row(rep, f, elf)
    km = replay_kernel_map(elf, f)
    if not km.ranges:
        rep.add("kernel map (replayed)", f"{km.status}: {km.note}", UNKNOWN)
        return
    normal = km.normal()
    touches = [(max(lo, clo), min(hi, chi)) for lo, hi in normal for clo, chi in f.carveouts
               if lo < chi and clo < hi]
    disagree = []                       # pagetable.walk, independently, at every carveout's edges
    if km.walk is not None:
        for clo, chi in f.carveouts:
            for a in sorted({clo, max(clo, chi - PAGE)}):
                w = km.walk(a)
                if bool(w is not None and w[1] & 0xF0) != any(lo <= a < hi for lo, hi in touches):
                    disagree.append(a)
    allowed = [(f.ba["phys_base"], f.mem_end), f.fb]
    stray = [r for lo, hi in normal for r in _subtract((lo, hi), allowed)]
    says = (f"{km.status}: {len(normal)} Normal ranges in a {km.va_bits}-bit space"
            + ("" if km.identity else ", NOT an identity map")
            + (f"; touching carveouts: {_ranges(touches)}" if touches else
               f"; none touches the {len(f.carveouts)} carveout ranges")
            + (f"; Normal outside usable RAM and fb: {_ranges(stray)}" if stray else "")
            + (f"; pagetable.walk disagrees at {', '.join(hex(a) for a in disagree)}" if disagree else
               "; pagetable.walk agrees at their edges" if km.walk is not None else "")
            + (f" ({km.adt_moved})" if km.adt_moved else "") + (f" ({km.note})" if km.note else ""))
    rep.add("kernel map (replayed)", says, DIFFERS if touches or stray or disagree or not km.identity else OK)
    devs, bad = [], []
    for name in ("UART", "AIC", "WDT"):
        if name in f.devices:
            attr = km.attr_at(f.devices[name][0])
            devs.append(f"{name} {'unmapped' if attr is None else f'MAIR {attr:#04x}'}")
            if attr != 0x00:
                bad.append(name)
    rep.add("kernel map: devices", ", ".join(devs) or "no devices in the ADT", DIFFERS if bad else OK)


# ---------------------------------------------------------------------------
# python -m harness probe
# ---------------------------------------------------------------------------

def main(standin: str | None = None, key: bool = True, elf: Path | None = None, out=None) -> int:
    """The CLI's body: the table and the summary on `out` (stdout), the exit
    code; usage and connection errors as one line on stderr, exit code 2."""
    out = out or sys.stdout
    if elf is None:
        from harness.build import output_dir
        elf = output_dir("m3") / "kernel.elf"
    elf = Path(elf)
    try:
        if standin is not None:
            if not elf.exists():
                raise ProbeError(f"no kernel at {elf}: run `make kernel` first (the stand-in boots it)")
            from harness.machine.m3 import MachineError
            try:
                target: Target = EmulatedTarget.standin(standin, elf)
            except MachineError as e:
                raise ProbeError(str(e)) from None
        else:
            target = M1n1Target()
        report = probe(target, elf, key=key)
    except ProbeError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"probe: {report.target}", file=out)
    print(report.table(), file=out)
    print(report.summary(), file=out)
    return report.exit_code
