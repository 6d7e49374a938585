"""The cores of the emulated M3 beyond the boot core: reset, start, and
the rules of running several unicorn instances as one machine.

Why: an M3 has 8 cores (t8122: 4 E-cores, cluster 0, MPIDR 0x0-0x3; 4
P-cores, cluster 1, MPIDR 0x10100-0x10103; Linux t8122.dtsi cpus), and the
kernel starts the secondaries itself, as m1n1 src/smp.c smp_start_cpu does:

  1. write the entry point to the core's RVBAR, the 64-bit register at
     its ADT cpu-impl-reg[0] (bits 47:12 the address, bit 0 LOCK: a write
     while LOCK is set changes nothing; m1n1 smp.c RVBAR_ADDR, RVBAR_LOCK);
  2. write 1 << (4 * cluster + core) to the PMGR cpu-start block + 0x4
     ("some kind of system level startup/status bit. Without this, IRQs
     don't work": m1n1 smp.c);
  3. write 1 << core to cpu-start + 0x8 + 4 * cluster: the core leaves
     reset at RVBAR.

The cpu-start block is at the ADT pmgr reg[0] + CPU_START_OFF (0x34000 on
t8122 and t6030, 0x88000 on t6031: m1n1 smp.c CPU_START_OFF_T8112,
CPU_START_OFF_T6031); harness/chips has it as pmgr.cpu_start_offset.  The
core's state word is at cpu-impl-reg + 0x100, low byte non-zero while it
runs (m1n1 smp.c smp_stop_cpu polls read64(impl + 0x100) & 0xff).

Models here, strict as the rest of the machine (docs/emulation.md, The
cores):

- ImplRegs: one core's implementation-register block (RVBAR, the state
  word).  Reset RVBAR: m1n1's vectors (the machine's stand-in), so a core
  started without its RVBAR written runs into m1n1, and the run stops with
  a report naming the core.  rvbar_locked (M3Config) locks every
  secondary's RVBAR at that value: a write is ignored and recorded.
- CpuStart: the PMGR cpu-start block (startup bits, start bits).  Starting
  a core that runs does nothing; a core that is not emulated (fewer cores
  than the chip has: M3Config.cores) stays in reset, the start recorded.
- Core: what the machine keeps per core: the chip's facts, its El2Cpu
  once started, its models, its clock state for the scheduler.

Scheduling (harness/machine/m3.py M3._run_smp): each core has its own
clock (cpu.now: instructions plus time asleep).  The machine always runs
the runnable core with the smallest (now, index), until it is `quantum`
ahead of the next core (ended at a block boundary by the native hook's
instruction limit); a core in WFI runs nothing and costs no host time: its
clock moves to its next event, or to the time whoever woke it did.  No
host time anywhere: the same input gives the same output and counts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable

from harness.machine.mmio import BadAccess

RVBAR_LOCK = 1 << 0
RVBAR_ADDR = ((1 << 48) - 1) & ~((1 << 12) - 1)     # bits 47:12 (m1n1 smp.c RVBAR_ADDR)
STATE_OFFSET = 0x100                                 # m1n1 smp.c: read64(impl + 0x100) & 0xff
STATE_RUNNING = 1                                    # what the low byte reads while the core runs (non-zero)

CPU_START_STOP = 0x0                                 # m1n1 smp.c smp_stop_cpu: request a stop (not modelled)
CPU_START_STARTUP = 0x4                              # 1 << (4 * cluster + core): the system-level startup bit
CPU_START_CLUSTER = 0x8                              # + 4 * cluster: 1 << core starts that core
CPU_START_SIZE = 0x4000                              # one 16 KiB page mapped (the ADT's granule)

# A fast IPI's trip from the sending core's MSR to the target's IPI_SR, in
# core cycles (instruction units of the machine's clock, 3.5 GHz).
# ASSUMED: no source gives it.  175 cycles = 50 ns at 3.5 GHz: of the
# order of a cross-cluster cache-line transfer on Apple silicon (100-200
# cycles between clusters is what coherence round trips cost on M1-class
# parts), which is the least a core-to-core signal through the fabric can
# take.  A range, like every assumed cost: change it here.
IPI_LATENCY = 175

# Instructions a core runs ahead of the next one before the machine
# switches (each core's clock is its own).  At most IPI_LATENCY, so an IPI
# is seen at exactly its modelled arrival (the target is never more than a
# quantum, plus one block, ahead of the sender).
DEFAULT_QUANTUM = 128

NEVER = (1 << 64) - 1

# The MIDR part of each core type (m1n1 src/midr.h MIDR_PART_T8122_SAWTOOTH
# 0x42 / _EVEREST 0x43, MIDR_PART_T6030_* 0x44 / 0x45, MIDR_PART_T6031_*
# 0x48 / 0x49).
MIDR_PART = {("t8122", "E"): 0x42, ("t8122", "P"): 0x43,
             ("t6030", "E"): 0x44, ("t6030", "P"): 0x45,
             ("t6031", "E"): 0x48, ("t6031", "P"): 0x49}
MPIDR_RES1 = 1 << 31                                 # MPIDR_EL1 bit 31 is RES1 (Arm ARM D23.2)

# HCR_EL2 when a core leaves reset.  ASSUMED: Apple cores force E2H = 1
# (RAO/WI; the reason the kernel runs VHE, shared/spec/m1n1-boot.md), and
# nothing else is set before software writes it (the architectural reset
# value of the rest is UNKNOWN; 0 is the choice that breaks a kernel that
# relies on anything m1n1 would have set).
RESET_HCR_EL2 = 1 << 34

WFE = 0xD503205F


def midr(chip: str, kind: str) -> int | None:
    """MIDR_EL1 of a core: Apple (0x61), architecture 0xf, the part;
    variant and revision 0 (UNVERIFIED: no M3 value in the sources)."""
    part = MIDR_PART.get((chip, kind))
    return None if part is None else 0x61 << 24 | 0xF << 16 | part << 4


def is_exclusive(word: int) -> bool:
    """LDXR/STXR/LDAXR/STLXR and their pair forms (Arm ARM C4.1.x, the
    load/store exclusive class: bits 29:24 = 0b001000, o2 (bit 23) = 0),
    but not CASP (size bit 31 = 0 with o1 (bit 21) = 1), an LSE atomic."""
    if (word >> 24) & 0x3F != 0x08 or (word >> 23) & 1:
        return False
    return not (not word >> 31 and (word >> 21) & 1)


def refused_instruction(code: bytes) -> tuple[int, str] | None:
    """(byte offset, what) of the first instruction in a block the
    multi-core machine refuses: WFE (unicorn runs it as a no-op, so a WFE
    loop would spin on emulated time; the kernel waits with WFI and IPIs)
    and the exclusives (each unicorn instance has its own exclusive
    monitor, so a store by another core would not clear it: the kernel
    uses LSE atomics)."""
    for i in range(0, len(code) - 3, 4):
        (w,) = struct.unpack_from("<I", code, i)
        if w == WFE:
            return i, "WFE"
        if is_exclusive(w):
            return i, "a load/store exclusive (LDXR/STXR family)"
    return None


@dataclass
class Core:
    """One core of the chip (index = ADT cpu-id, the order of /cpus)."""

    index: int
    info: object                    # harness.chips.Cpu
    emulated: bool                  # among M3Config.cores
    boot: bool = False
    rvbar: int = 0                  # RVBAR as the core's register reads
    startup: bool = False           # the PMGR system-level startup bit (m1n1: "without this, IRQs don't work")
    started: bool = False           # out of reset
    cpu: object = None              # its El2Cpu once started
    asleep: bool = False            # in WFI with nothing pending
    wake_at: int = 0                # while asleep: not before this instant (who woke it, when)
    limit_end: int = NEVER          # the run's instruction limit for this core
    pending_flush: bool = False     # another core broadcast a TLBI: flush before running
    pending_code: list = field(default_factory=list)    # code ranges others rewrote: drop before running
    ipis_lost: list = field(default_factory=list)       # (from index, type, sender's now) sent while in reset
    ipi_arrivals: list = field(default_factory=list)    # (from index, sent at, arrived at)
    starts_ignored: int = 0         # start requests while not emulated
    refusals: list = field(default_factory=list)        # what this core's registers refused
    models: dict = field(default_factory=dict)          # timer, vtimer, pmu, ipi, clock, mmu

    @property
    def mpidr(self) -> int:
        return self.info.mpidr

    @property
    def label(self) -> str:
        kind = "P-core" if self.info.kind == "P" else "E-core"
        extra = ", the boot core" if self.boot else ""
        return f"core {self.index} (MPIDR {self.info.mpidr:#x}, {kind}{extra})"


class ImplRegs:
    """A core's implementation-register block at cpu-impl-reg[0]: RVBAR at
    +0 (64-bit), the state word at +0x100.  Other offsets read 0 and are
    recorded in bad_accesses (nothing else is modelled)."""

    def __init__(self, core: Core, *, reset_rvbar: int, locked: bool = False):
        self.core = core
        self.size = core.info.impl_size
        core.rvbar = (reset_rvbar & RVBAR_ADDR) | (RVBAR_LOCK if locked else 0)
        self.bad_accesses: list[BadAccess] = []

    def read(self, offset: int, size: int) -> int:
        c = self.core
        if offset == 0 and size == 8:
            return c.rvbar
        if offset in (0, 4) and size == 4:
            return (c.rvbar >> (8 * offset)) & 0xFFFF_FFFF
        if offset == STATE_OFFSET and size in (4, 8):
            return STATE_RUNNING if c.started else 0
        self.bad_accesses.append(BadAccess("read", offset, size, None, "not modelled"))
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        c = self.core
        if offset == 0 and size in (4, 8):
            if size == 4:
                value = (c.rvbar & ~0xFFFF_FFFF) | (value & 0xFFFF_FFFF)
            if c.rvbar & RVBAR_LOCK:
                c.refusals.append(f"RVBAR write {value:#x} ignored: LOCK (bit 0) is set")
                return
            c.rvbar = value & (RVBAR_ADDR | RVBAR_LOCK)
            return
        self.bad_accesses.append(BadAccess("write", offset, size, value,
                                           "read-only" if offset == STATE_OFFSET else "not modelled"))


class CpuStart:
    """The PMGR cpu-start block (die 0).  `start(core)` is the machine's:
    it takes the core out of reset (or records why not)."""

    def __init__(self, cores: list[Core], start: Callable[[Core], None]):
        self.by_bit = {(c.info.cluster, c.info.core): c for c in cores}
        self.start = start
        self.bad_accesses: list[BadAccess] = []
        self.startup_bits = 0

    def read(self, offset: int, size: int) -> int:
        if offset == CPU_START_STARTUP and size == 4:
            return self.startup_bits
        if size == 4 and offset >= CPU_START_CLUSTER and offset % 4 == 0:
            cluster = (offset - CPU_START_CLUSTER) // 4
            return sum(1 << core for (cl, core), c in self.by_bit.items() if cl == cluster and c.started)
        self.bad_accesses.append(BadAccess("read", offset, size, None, "not modelled"))
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4 or offset % 4:
            self.bad_accesses.append(BadAccess("write", offset, size, value, f"{size}-byte access"))
            return
        value &= 0xFFFF_FFFF
        if offset == CPU_START_STARTUP:
            self.startup_bits |= value
            for (cl, core), c in self.by_bit.items():
                if value >> (4 * cl + core) & 1:
                    c.startup = True
            return
        if offset >= CPU_START_CLUSTER and (offset - CPU_START_CLUSTER) // 4 < 16:
            cluster = (offset - CPU_START_CLUSTER) // 4
            for b in range(32):
                if value >> b & 1:
                    c = self.by_bit.get((cluster, b))
                    if c is None:
                        self.bad_accesses.append(BadAccess("write", offset, size, value,
                                                           f"no core {b} in cluster {cluster}"))
                    else:
                        self.start(c)
            return
        self.bad_accesses.append(BadAccess("write", offset, size, value,
                                           "CPU stop not modelled" if offset == CPU_START_STOP else "not modelled"))
