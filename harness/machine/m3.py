"""The emulated Apple M3 family (t8122, t6030, t6031) as m1n1 hands it to a
chainloaded kernel.

One P-core (El2Cpu) at EL2 with the state m1n1 leaves: MMU off, DAIF
masked, HCR_EL2 = m1n1's value (E2H and TGE set), VBAR_EL2 and SP still
inside m1n1 (here a stand-in that reports any exception taken into it).
Memory as on a real machine (harness/machine/layout.py): usable RAM at an
unaligned phys_base inside DRAM, carveouts around it left unmapped, the
framebuffer at the top of usable RAM (m1n1 moved it) or outside it, the
ADT iBoot built (harness/chips: built from the chip's data) below the
image, the image at a 16 KiB-aligned base, the 4 zero bytes, SEPFW,
preoslog and boot_args after it exactly where chainload.py puts them.
Devices at the chip's addresses: the S5L UART (sending at its line rate
on emulated time), the AIC, the watchdog, the generic timer on
deterministic time, the Apple PMU.

Cores: every core of the chip is there (harness/chips; the ADT lists them
all), `M3Config.cores` of them emulated (default: all).  The secondaries
are held in reset until the kernel starts them through their RVBAR and
the PMGR cpu-start block (harness/machine/smp.py); until then the machine
runs the boot core alone exactly as a one-core machine, at no extra cost.
Once a secondary starts, each started core is its own unicorn instance
over the same host RAM and framebuffer, run in deterministic quanta
(M3._run_smp; docs/emulation.md, The cores).  `cpu` is the boot core;
`cores` every core in ADT order.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from unicorn import UC_HOOK_CODE

from harness import bootargs, chips, payload
from harness.costs import CostModel, disk_flush_cost, shootdown_cost
from harness.elf import Symbols
from harness.machine.cpu import NO_LIMIT, El2Cpu, EmulatorError, StopReason, decode_esr
from harness.machine.framebuffer import Framebuffer
from harness.machine.layout import DEFAULT_PHYS_OFFSET, PAGE, VIRT_BASE, LayoutError, plan
from harness.machine.mmu_rules import MmuRules
from harness.machine.aic import Aic
from harness.machine.cpuregs import CoreRegs
from harness.machine.events import Events
from harness.machine.ipi import FastIpi
from harness.machine import kthreads
from harness.machine.pmu import ApplePmu
from harness.machine import smp
from harness.machine.smp import Core, CpuStart, ImplRegs
from harness.machine.sysregs import (APPLE_VM_TMR_FIQ_ENA_EL2, CNTFRQ_EL0, CNTPCT_EL0, CNTVCT_EL0,
                                     HCR_EL2, ID_AA64MMFR0_EL1, MIDR_EL1, MPIDR_EL1, VBAR_EL2)
from harness.machine.timers import CPU_HZ, Clock, HypTimer, VirtTimer
from harness.machine.wdt import CTL_RESET_ENABLE as WDT_CTL_RESET_ENABLE, Watchdog
from harness.machine.uart import DEFAULT_BAUD, S5lUart, ubrdiv_for
from harness.run import DEFAULT_LIMIT, FRAME_BYTES, RunResult, halt_report, register_lines
from harness import run as runs

DEFAULT_CHIP = "t8122"
DEFAULT_MEM_SIZE = 2 << 30
DEFAULT_DRAM_SIZE = 8 << 30
FB = bootargs.Video(base=0, display=0, stride=1920 * 4, width=1920, height=1080, depth=30)
M1N1_HCR_EL2 = 0x0000_0324_8800_0038     # src/chickens.c / hv: E2H | TGE | ...
CNTFRQ_HZ = 24_000_000                   # the default CNTFRQ_EL0; the kernel must not assume it
CNTFRQ_CHOICES = (24_000_000, 1_000_000_000)   # 24 MHz, or 1 GHz (m1n1 on M3: AGTCNTRDIR = 0)
CHUNK = 1 << 30                          # RAM is mapped in chunks: one unicorn region of 4 GiB fails
# The TLBIs another core must see (broadcast: Inner and Outer Shareable,
# and the IPA ones at CRm 0; Arm ARM C5.5): op1 0 (EL1) or 4 (EL2), CRn 8.
# Any of them flushes every other core's whole TLB (unicorn has one TLB
# per instance, which no other instance's TLBI reaches).
TLBI_BROADCAST = [(op1, 8, crm, op2) for op1 in (0, 4) for crm in (0, 1, 2, 3, 5) for op2 in range(8)]
IC_IALLUIS, IC_IALLU, IC_IVAU = (0, 7, 1, 0), (0, 7, 5, 0), (3, 7, 5, 1)
ICACHE_LINE = 64


class MachineError(RuntimeError):
    """Bad machine configuration (caught before anything runs)."""


@dataclass
class M3Config:
    chip: str = DEFAULT_CHIP                # harness/chips: t8122, t6030, t6031
    load_base: int | None = None            # None: phys_base + layout.DEFAULT_LOAD_OFFSET
    mem_size: int = DEFAULT_MEM_SIZE        # boot_args.mem_size: usable RAM
    phys_offset: int = DEFAULT_PHYS_OFFSET  # phys_base - the DRAM base: not 32 MiB aligned
    dram_size: int = DEFAULT_DRAM_SIZE      # the chip's DRAM; what is not usable RAM is carveouts
    fb_placement: str = "top"               # "top": m1n1 moved it above usable RAM; "outside"
    cntfrq: int = CNTFRQ_HZ                 # what CNTFRQ_EL0 reads, and the counter's real rate
    adt_overrides: dict | None = None       # chips.build_adt overrides: a node or property gone or changed
    adt: bool = True                        # False: boot_args.devtree = 0, as if m1n1 passed none
    cmdline: str = ""
    bootargs_revision: int = 2
    costs: CostModel | None = None          # the cycle model (default: the standard table)
    pmc0: str = "conservative"              # what PMC0 counts (ApplePmu.cycle_source)
    pmc1: str = "instructions"              # what PMC1 counts (ApplePmu.instruction_source)
    prefetch_streams: int | None = None     # the memory model's prefetcher (None: costs.GEOMETRY; 0: off)
    fb_depth: int = 30                      # boot_args.video.depth: 30 (x2r10g10b10) or 32 (x8r8g8b8)
    fb_stride: int = 0                      # bytes per row; 0: 4 * width
    memory_model: bool = True               # caches, DRAM, NC, Device, branches (costs.MEMORY); False: as before
    uart_baud: int = DEFAULT_BAUD           # the line rate m1n1 leaves (UBRDIV as uart_setbaud computes it):
                                            # 115200 ASSUMED; 1500000 after m1n1's proxy ran over this UART
    cores: int | None = None                # cores emulated, 1..the chip's (None: all); the ADT lists all
    quantum: int = smp.DEFAULT_QUANTUM      # instructions a core runs ahead of the next (harness/machine/smp.py)
    rvbar_locked: bool = False              # every secondary's RVBAR locked at m1n1's vectors (a refusal)
    disk: bytes | None = None               # a RAM disk the payload carries (harness/payload.py with_disk:
                                            # appended to the image, its header says where), as build --disk


class M3:
    def __init__(self, elf: Path, config: M3Config | None = None, tx_sink=None, on_input=None):
        """tx_sink(byte) receives UART output as it is sent.  on_input() is
        asked for more console input when the kernel polls an empty UART:
        it returns bytes, or None to end the run (the default: a script has
        nothing more to say)."""
        self.config = cfg = config or M3Config()
        try:
            self.chip = chip = chips.load(cfg.chip)
        except chips.ChipError as e:
            raise MachineError(str(e)) from None
        if cfg.cntfrq not in CNTFRQ_CHOICES:
            raise MachineError(f"CNTFRQ {cfg.cntfrq}: the emulated M3 counts at "
                               f"{' or '.join(f'{f:,} Hz' for f in CNTFRQ_CHOICES)}")
        if cfg.fb_depth not in (30, 32) or cfg.fb_stride and cfg.fb_stride < 4 * FB.width:
            raise MachineError(f"framebuffer depth {cfg.fb_depth} / stride {cfg.fb_stride}: depth must be "
                               f"30 or 32, stride at least {4 * FB.width}")
        self.elf = Path(elf)
        self.symbols = Symbols(self.elf)
        image, _link_base, entry_offset = payload.flat_image(self.elf)
        try:
            image = payload.with_disk(image, cfg.disk)   # what build --disk writes: m1n1 loads it all
        except payload.PayloadError as e:
            raise MachineError(str(e)) from None
        self.disk_offset, self.disk_size = payload.disk_of(image)
        self.image_size = len(image)
        video = FB._replace(depth=cfg.fb_depth, stride=cfg.fb_stride or FB.stride)
        try:
            self.layout = lay = plan(chip.dram_base, cfg.dram_size, cfg.phys_offset, cfg.mem_size, video,
                                     cfg.fb_placement, cfg.load_base, len(image))
        except LayoutError as e:
            raise MachineError(str(e)) from None
        self.load_base = lay.load_base
        self.after = bootargs.layout_after_image(lay.load_base, len(image))
        self.video = lay.fb

        # What m1n1 hands over: the ADT below the image, boot_args after it.
        memory_map = {"DeviceTree": (lay.adt_base, None),
                      "SEPFW": (self.after.sepfw, self.after.sepfw_size),
                      "BootArgs": (self.after.boot_args, bootargs.BOOT_ARGS_REGION),
                      "preoslog": (self.after.preoslog, self.after.preoslog_size)}
        try:
            self.adt = chips.build_adt(chip, dram_size=cfg.dram_size, memory_map=memory_map,
                                       carveouts=lay.carveouts(), overrides=cfg.adt_overrides)
        except chips.ChipError as e:
            raise MachineError(str(e)) from None
        if lay.adt_base + len(self.adt) > lay.load_base:
            raise MachineError(f"the ADT ({len(self.adt):#x} bytes at {lay.adt_base:#x}) runs into the "
                               f"image at {lay.load_base:#x}")

        # The cores: all of the chip's (the ADT lists them), the boot core
        # and the cfg.cores - 1 after it in ADT order emulated.
        total = len(chip.cpus)
        n = total if cfg.cores is None else cfg.cores
        if not isinstance(n, int) or not 1 <= n <= total:
            raise MachineError(f"cores {cfg.cores!r}: the {chip.name} has {total} cores; emulate 1 to {total}")
        if not isinstance(cfg.quantum, int) or not 1 <= cfg.quantum <= smp.IPI_LATENCY:
            raise MachineError(f"quantum {cfg.quantum!r}: 1 to {smp.IPI_LATENCY} instructions (at most the "
                               f"modelled IPI latency, so an IPI is seen when it arrives)")
        boot_index = chip.boot_cpu.cpu_id
        emulated = {(boot_index + i) % total for i in range(n)}
        self.cores: list[Core] = [Core(c.cpu_id, c, c.cpu_id in emulated, boot=c.cpu_id == boot_index)
                                  for c in chip.cpus]
        self.boot_core = boot = self.cores[boot_index]
        boot.started = boot.startup = True          # iBoot brought it up; m1n1 runs on it
        self.quantum = cfg.quantum
        self._smp = False                           # a secondary has started: the scheduler runs
        self.current = boot                         # the core running now (devices read its clock)
        self._dev_t = 0                             # the devices' clock (monotonic across cores)
        self._resched = False                       # a quantum ended for the scheduler's sake
        self._start_queue: list[tuple[Core, int, int]] = []   # (core, instant, entry) to take out of reset
        self._stopped_core: Core | None = None
        self._all_waiting = False
        self.smp_refusal = ""
        self._ipi_seq = 0

        # Memory: usable RAM and the framebuffer only (carveouts stay unmapped:
        # touching one stops the run, as the SError would on a real machine).
        # With more than one core, one host buffer each that every core maps.
        self.cpu = cpu = El2Cpu()
        boot.cpu = cpu
        self._ram_regions: list[tuple[int, int, object, int]] = []   # (base, size, host buffer, offset)
        if n > 1:
            ram = _anonymous(lay.mem_end - lay.phys_base)
            for base in range(lay.phys_base, lay.mem_end, CHUNK):
                self._ram_regions.append((base, min(CHUNK, lay.mem_end - base), ram, base - lay.phys_base))
            self._ram_regions.append((lay.fb.base, lay.fb_size, _anonymous(lay.fb_size), 0))
            for base, size, host, off in self._ram_regions:
                cpu.map_ram_ptr(base, size, host, off)
        else:
            for base in range(lay.phys_base, lay.mem_end, CHUNK):
                cpu.map_ram(base, min(CHUNK, lay.mem_end - base))
            cpu.map_ram(lay.fb.base, lay.fb_size)
        self.framebuffer = Framebuffer(cpu.uc, lay.fb)
        # The UART sends on emulated time: a byte leaves one frame after the
        # shift register took it (harness/machine/uart.py).
        self.uart = S5lUart(chip.uart.base, tx_sink=tx_sink, on_rx_empty=self._rx_empty,
                            clock=self._device_now, events=Events.of(cpu), cpu_hz=CPU_HZ,
                            ubrdiv=ubrdiv_for(cfg.uart_baud))
        self.uart.on_refusal = self._uart_refused
        self.uart.on_tx_idle = self._tx_idle
        self.uart_refusal = ""
        cpu.map_mmio(chip.uart.base, self.uart.size, self.uart.read, self.uart.write)
        # The AIC as the ADT describes it, strict: it delivers only when
        # enabled, unmasked and routed to group 0 (harness/machine/aic.py).
        a = chip.aic
        self.aic = Aic(self._set_irq, version=a.version,
                       event_offset=a.event_offset, config_offset=a.config_offset,
                       cap0_offset=a.cap0_offset, maxnumirq_offset=a.maxnumirq_offset, nr_irq=a.nr_irq,
                       last_die=a.last_die, max_irq=a.max_irq, max_die=a.max_die,
                       enable_offset=a.enable_offset, size=a.size)
        self.aic.connect(chip.uart.irq, self.uart.irq_pending)
        self.uart.on_change = self.aic.update
        cpu.map_mmio(chip.aic.base, chip.aic.size, self.aic.read, self.aic.write)
        self.aic.on_unmask = self._unmasked
        cpu.on_wfi = self._idle

        cpu.uc.mem_write(lay.load_base, image)
        cpu.uc.mem_write(lay.adt_base, self.adt)
        args = bootargs.build_boot_args(
            revision=cfg.bootargs_revision, virt_base=VIRT_BASE, phys_base=lay.phys_base,
            mem_size=lay.mem_size, top_of_kernel_data=self.after.top_of_kernel_data,
            video=lay.fb, machine_type=0, devtree=lay.devtree_va() if cfg.adt else 0,
            devtree_size=len(self.adt) if cfg.adt else 0,
            cmdline=cfg.cmdline, boot_flags=0, mem_size_actual=cfg.dram_size)
        self.boot_args = self.after.boot_args
        cpu.uc.mem_write(self.boot_args, args)
        self.standin = lay.phys_base               # m1n1's vectors and stack, as far as we care
        # Each core's implementation registers (RVBAR at reset: m1n1's
        # vectors) and the PMGR cpu-start block (harness/machine/smp.py).
        self.impl_regs = [ImplRegs(c, reset_rvbar=self.standin, locked=cfg.rvbar_locked and not c.boot)
                          for c in self.cores]
        self.cpu_start = CpuStart(self.cores, self._start_requested)
        self.cpu_start_base = chip.pmgr.base + chip.pmgr.cpu_start_offset

        # m1n1's state at the hand-over.
        self._write_standin()
        cpu.sysreg_write(*HCR_EL2, M1N1_HCR_EL2)
        cpu.sysreg_write(*VBAR_EL2, self.standin)
        cpu.reg_write("sp", self.standin + PAGE)
        cpu.reg_write("x0", self.boot_args)
        cpu.on_exception(lambda *a: self._exception_policy(boot, *a))
        self.entry = lay.load_base + entry_offset

        # The generic timer on emulated time (unicorn's reads host time).
        self.clock = Clock(cpu, cfg.cntfrq, CPU_HZ)
        cpu.on_sysreg(*CNTFRQ_EL0, read=lambda: cfg.cntfrq)
        cpu.on_sysreg(*CNTPCT_EL0, read=self.counter)
        cpu.on_sysreg(*CNTVCT_EL0, read=self.counter)
        # The FIQ sources of an Apple core (Linux irq-apple-aic.c
        # aic_handle_fiq): the EL2 physical and virtual timers (m1n1 leaves
        # the virtual one enabled and masked), fast IPIs, the PMU.
        self.pmu = ApplePmu(cpu, cfg.pmc0, instruction_source=cfg.pmc1)
        self.timer = HypTimer(cpu, self.clock)
        self.vtimer = VirtTimer(cpu, self.clock)
        self.ipi = FastIpi(cpu, mpidr=chip.boot_cpu.mpidr, route=lambda *r: self._route_ipi(boot, *r))
        self._vm_tmr_fiq_ena = 0                  # the guest timers' FIQ enables (bit 0 V, 1 P);
        cpu.on_sysreg(*APPLE_VM_TMR_FIQ_ENA_EL2, read=lambda: self._vm_tmr_fiq_ena,   # no guest timer
                      write=lambda v: setattr(self, "_vm_tmr_fiq_ena", v & 3))       # FIQ modelled
        # The watchdog: BYE reboots through it (kernel/boards/m3/board.S).
        self.rebooted = False
        self.wdt = Watchdog(cpu, on_reset=self._reset)
        cpu.map_mmio(chip.wdt.base, self.wdt.size, self.wdt.read, self.wdt.write)
        self._map_core_registers(cpu)
        self._serve_id_registers(boot)
        boot.models["regs"] = CoreRegs(cpu, boot=True)    # as m1n1's init_cpu left them

        # The cycle model charges every block once; code the kernel rewrites
        # passes through sync_icache (as it must on hardware), which drops
        # the cached costs of that range.
        self.costs = cfg.costs or CostModel()
        self._l2_owners: dict[tuple[int, int], El2Cpu] = {}    # (die, cluster): the core whose L2 the cluster shares
        self._shoot_paid: dict[int, tuple[int, int]] = {}      # core index: the DSB a shootdown was charged at
        self._install_costs(boot)
        self._sync_icache = sync = self.symbols.address("sync_icache", lay.load_base)
        cpu.uc.hook_add(UC_HOOK_CODE, lambda uc, a, sz, u: self._code_rewritten(boot), begin=sync, end=sync)
        # The RAM disk stands in for the M3's NVMe drive, but it has no write
        # cache, so the kernel's blk_flush asks it nothing (kernel/blk.S);
        # the drive's flush is a device round trip the RAM disk cannot show.
        # Each call is charged the assumed one (harness/costs.py disk_flush),
        # on the boot core (the only one that reaches the disk).
        # (An image without the block layer, a test's snippet whose header
        # words happen to read as a disk, has no blk_flush: nothing to charge.)
        if self.disk_size and "blk_flush" in self.symbols._by_name:
            flush = self.symbols.address("blk_flush", lay.load_base)
            cons, opt = disk_flush_cost(self.costs.memory)
            cpu.uc.hook_add(UC_HOOK_CODE, lambda uc, a, sz, u: cpu.charge_assumed(cons, opt),
                            begin=flush, end=flush)

        # The silicon's translation rules, on in every run: break-before-make,
        # nothing Normal outside usable RAM and the framebuffer, the TLBI
        # before the MMU goes on (harness/machine/mmu_rules.py).
        self.mmu = MmuRules(cpu, [(lo, hi - lo) for lo, hi in lay.normal_ranges()], describe=self.describe)
        self.mmu.install()
        self._observe_broadcasts(boot)
        boot.models.update(clock=self.clock, pmu=self.pmu, timer=self.timer, vtimer=self.vtimer, ipi=self.ipi,
                           mmu=self.mmu)

        self.rx_waiter = self.symbols.address("rx_waiter", lay.load_base)
        self.console_tx = self.symbols.address("console_tx", lay.load_base)   # the TX ring: head, tail
        self.halt_pc = self.symbols.address("kernel_halted", lay.load_base)
        self.off_pc = self.symbols.address("powered_off", lay.load_base)
        self.percpu = self.symbols.address("percpu", lay.load_base)
        self.console_errors = self.symbols.address("console_errors", lay.load_base)
        self._errors_before = 0
        self.deadlock = ""
        self.user_stop = False
        self.on_input = on_input
        self.started = False
        self.waiting_for_input = False
        self.crash_regs: dict[str, int] | None = None
        self.refusal = ""
        self._run_limit = DEFAULT_LIMIT
        self._irq_level = False

    # ---- pieces -----------------------------------------------------------

    # The boot P-core's MIDR part per chip (m1n1 src/midr.h MIDR_PART_*_EVEREST).
    MIDR_PART = {"t8122": 0x43, "t6030": 0x45, "t6031": 0x49}

    def _serve_id_registers(self, core: Core) -> None:
        """The ID registers where unicorn's MAX core (a Cortex-A57 base)
        says something an M3 does not, for whoever reads them (harness/
        probe.py; the kernel reads only ID_AA64MMFR0.PARange, unchanged):
        MIDR_EL1 Apple (implementer 0x61, architecture 0xf) with the core
        type's part (harness/machine/smp.py MIDR_PART); variant and revision
        0 (UNVERIFIED: no M3 value in the sources).  MPIDR_EL1: bit 31
        (RES1) | the core's affinity (Linux t8122.dtsi cpu reg).
        ID_AA64MMFR0_EL1 unicorn's own value with TGran16 = 1 (16 KiB
        granule supported): unicorn's says 0, yet its MMU walks the
        kernel's 16 KiB tables; Apple cores have it (m1n1 uses it)."""
        cpu = core.cpu
        midr = smp.midr(self.chip.name, core.info.kind)
        if midr is not None:
            cpu.on_sysreg(*MIDR_EL1, read=lambda: midr)
        mpidr = smp.MPIDR_RES1 | core.info.mpidr
        cpu.on_sysreg(*MPIDR_EL1, read=lambda: mpidr)
        mmfr0 = cpu.sysreg_read(*ID_AA64MMFR0_EL1) & ~(0xF << 20) | 1 << 20
        cpu.on_sysreg(*ID_AA64MMFR0_EL1, read=lambda: mmfr0)

    def _map_core_registers(self, cpu: El2Cpu) -> None:
        """Every core's implementation registers and the PMGR cpu-start
        block, on one core's address space (the same models on every core)."""
        for regs in self.impl_regs:
            cpu.map_mmio(regs.core.info.impl_reg, regs.size, regs.read, regs.write)
        cpu.map_mmio(self.cpu_start_base, smp.CPU_START_SIZE, self.cpu_start.read, self.cpu_start.write)

    def _observe_broadcasts(self, core: Core) -> None:
        """What one core does that the others' unicorn instances must see:
        a broadcast TLBI flushes their TLBs, an instruction-cache
        invalidation drops their translated code (applied before each of
        them runs next: _apply_pending)."""
        cpu = core.cpu

        def tlbi(_enc, _xt):
            others = list(self._others(core))
            for other in others:
                other.pending_flush = True
            if others:
                self._shootdown(core, others)

        def ic(enc, xt):
            if enc[1:] == IC_IVAU:
                lo = xt & ~(ICACHE_LINE - 1)
                self._code_changed(core, lo, lo + ICACHE_LINE)
            else:
                self._code_changed(core, 0, NO_LIMIT)

        cpu.observe_sys(TLBI_BROADCAST, tlbi)
        cpu.observe_sys([IC_IALLUIS, IC_IALLU, IC_IVAU], ic)

    def _shootdown(self, core: Core, others: list[Core]) -> None:
        """A broadcast TLBI on `core` while `others` run (started: a core
        in reset is in no shareability domain; one in WFI answers too):
        the DSB that completes it waits for them (harness/costs.py
        shootdown_cost, tlbi_sync_core and tlbi_sync_cluster).  A DSB SY,
        ISH or OSH after the TLBI in its own block is charged now (once per
        DSB, whatever TLBIs precede it); otherwise the next such DSB is
        (El2Cpu.shootdown_pending; blockhook.c charges it)."""
        mine = (core.info.die, core.info.cluster)
        clusters = {(c.info.die, c.info.cluster) for c in others} - {mine}
        cons, opt = shootdown_cost(len(others), len(clusters), self.costs.memory)
        cpu = core.cpu
        st = cpu._st
        pc, end = cpu.observed_pc, st.blk_addr + st.blk_size
        if st.blk_addr <= pc < end - 4:
            code = bytes(cpu.uc.mem_read(pc + 4, end - pc - 4))
            for i in range(0, len(code) - 3, 4):
                w = int.from_bytes(code[i:i + 4], "little")
                if w & 0xFFFFF0FF == 0xD503309F and (w >> 8) & 0xF in (0xF, 0xB, 0x3):   # DSB SY, ISH, OSH
                    at = (st.instructions, pc + 4 + i)           # this block's run, that DSB
                    if self._shoot_paid.get(core.index) != at:
                        self._shoot_paid[core.index] = at
                        cpu.charge_assumed(cons, opt)
                    return
        cpu.shootdown_pending(cons, opt, armed=False)

    def _others(self, core: Core):
        return (c for c in self.cores if c is not core and c.cpu is not None)

    def _code_changed(self, core: Core, lo: int, hi: int) -> None:
        for other in self._others(core):
            other.pending_code.append((lo, hi))

    def _apply_pending(self, core: Core) -> None:
        cpu = core.cpu
        if core.pending_flush:
            core.pending_flush = False
            cpu.flush_tlb()
        if core.pending_code:
            ranges, core.pending_code = core.pending_code, []
            if any(hi - lo > 1 << 32 for lo, hi in ranges):
                cpu.uc.ctl_flush_tb()
                cpu.invalidate_costs(0, NO_LIMIT)
                return
            for lo, hi in ranges:
                cpu.uc.ctl_remove_cache(lo, hi)
                cpu.invalidate_costs(lo, hi)

    # ---- the cores ----------------------------------------------------------

    def _device_now(self) -> int:
        """The clock the shared devices read: the running core's.  With
        several cores it is kept monotonic (each core's clock is its own,
        a quantum apart at most): the latest any core has shown them."""
        if not self._smp:
            return self.cpu.now
        t = self.current.cpu.now
        if t > self._dev_t:
            self._dev_t = t
        return self._dev_t

    def _irq_cores(self):
        """The cores the AIC's IRQ reaches: started, with their PMGR
        startup bit set (m1n1 smp.c: without it, IRQs don't work)."""
        return [c for c in self.cores if c.started and c.startup and c.cpu is not None]

    def _set_irq(self, level: bool) -> None:
        """The AIC's IRQ output, seen by every core it reaches; whoever
        reads the event register first takes the event, the others read 0
        (Linux irq-apple-aic.c aic_handle_irq: no event, nothing to do)."""
        self._irq_level = level
        if not self._smp:
            self.cpu.raise_irq() if level else self.cpu.lower_irq()
            return
        for c in self._irq_cores():
            if level:
                c.cpu.raise_irq()
                self._woken(c, self._device_now())
            else:
                c.cpu.lower_irq()

    def _woken(self, core: Core, instant: int) -> None:
        """Something another core did at `instant` may wake `core`."""
        if core is self.current or not core.asleep:
            return
        core.wake_at = max(core.wake_at, instant)
        self._poke()

    def _poke(self) -> None:
        """End the running core's quantum at the next block boundary, so
        the scheduler looks again (a core woke, a core starts)."""
        self._resched = True
        self.current.cpu.request_stop()

    def _request_stop(self) -> None:
        """A device or a checker ends the run: stop whichever core runs."""
        self.current.cpu.request_stop()

    def _start_requested(self, core: Core) -> None:
        """A write of the core's start bit (PMGR cpu-start + 0x8 + 4 * cluster)."""
        if core.started or any(c is core for c, _, _ in self._start_queue):
            return                                  # running already: nothing happens
        if not core.emulated:
            core.starts_ignored += 1                # not emulated (M3Config.cores): it stays in reset
            return
        self._start_queue.append((core, self._device_now(), core.rvbar & smp.RVBAR_ADDR))
        self._poke()

    def _route_ipi(self, sender: Core, cluster: int, cpu_id: int, kind: int) -> None:
        """A fast IPI to another core: pending there IPI_LATENCY after the
        sender's MSR; to a core in reset, recorded and lost."""
        target = next((c for c in self.cores if (c.info.cluster, c.info.core) == (cluster, cpu_id)), None)
        if target is None:
            return                                  # no such core: recorded in the sender's ipi.sent only
        sent = sender.cpu.now
        if not target.started or target.cpu is None:
            target.ipis_lost.append((sender.index, kind, sent))
            return
        self._ipi_seq += 1
        arrive = sent + smp.IPI_LATENCY

        def deliver(target=target):
            target.ipi_arrivals.append((sender.index, sent, target.cpu.now))
            target.models["ipi"].inject(kind)

        Events.of(target.cpu).schedule(f"ipi-in-{self._ipi_seq}", arrive, deliver)
        self._woken(target, arrive)

    def _start_pending(self) -> None:
        """Take the cores whose start was requested out of reset (outside
        any unicorn callback: building a core runs a scratch instance)."""
        while self._start_queue:
            core, instant, entry = self._start_queue.pop(0)
            self._build_secondary(core, entry)
            core.cpu.advance_to(instant)
            core.limit_end = core.cpu.instructions + self._run_limit
            core.started = True
            if getattr(self, "_irq_level", False) and core.startup:
                core.cpu.raise_irq()

    def _build_secondary(self, core: Core, entry: int) -> None:
        """A core leaving reset: its own unicorn instance over the shared
        RAM, every device mapped, its own timers, PMU, fast IPIs, cost and
        memory models, in the state a core has out of reset: EL2h, MMU and
        caches off, DAIF masked, GPRs and SP zero, HCR_EL2 = E2H
        (smp.RESET_HCR_EL2), VBAR_EL2 0, TPIDR_EL2 0, CPTR_EL2 unicorn's
        reset value, PC = RVBAR."""
        cfg, chip, lay = self.config, self.chip, self.layout
        cpu = El2Cpu()
        core.cpu = cpu
        for base, size, host, off in self._ram_regions:
            cpu.map_ram_ptr(base, size, host, off)
        cpu.map_mmio(chip.uart.base, self.uart.size, self.uart.read, self.uart.write)
        cpu.map_mmio(chip.aic.base, chip.aic.size, self.aic.read, self.aic.write)
        cpu.map_mmio(chip.wdt.base, self.wdt.size, self.wdt.read, self.wdt.write)
        self._map_core_registers(cpu)
        cpu.sysreg_write(*HCR_EL2, smp.RESET_HCR_EL2)
        cpu.sysreg_write(*VBAR_EL2, 0)
        cpu.reg_write("tpidr_el2", 0)
        cpu.reg_write("pc", entry)
        cpu.on_exception(lambda *a: self._exception_policy(core, *a))
        cpu.on_wfi = None
        clock = Clock(cpu, cfg.cntfrq, CPU_HZ)
        cpu.on_sysreg(*CNTFRQ_EL0, read=lambda: cfg.cntfrq)
        cpu.on_sysreg(*CNTPCT_EL0, read=clock)
        cpu.on_sysreg(*CNTVCT_EL0, read=clock)
        pmu = ApplePmu(cpu, cfg.pmc0, instruction_source=cfg.pmc1)
        timer, vtimer = HypTimer(cpu, clock), VirtTimer(cpu, clock)
        ipi = FastIpi(cpu, mpidr=core.info.mpidr, route=lambda *r: self._route_ipi(core, *r))
        tmr = {"ena": 0}
        cpu.on_sysreg(*APPLE_VM_TMR_FIQ_ENA_EL2, read=lambda: tmr["ena"],
                      write=lambda v: tmr.__setitem__("ena", v & 3))
        self._serve_id_registers(core)
        regs = CoreRegs(cpu, boot=False)        # interrupts held off until the kernel sets CYC_OVRD
        self._install_costs(core)
        sync = self._sync_icache
        cpu.uc.hook_add(UC_HOOK_CODE, lambda uc, a, sz, u: self._code_rewritten(core), begin=sync, end=sync)
        cpu.uc.hook_add(UC_HOOK_CODE, lambda uc, a, sz, u: self._into_m1n1(core, a),
                        begin=self.standin, end=self.standin + 0x800 - 1)
        cpu.block_inspect = lambda addr, size: self._inspect(core, addr, size)
        self._observe_broadcasts(core)
        core.models.update(clock=clock, pmu=pmu, timer=timer, vtimer=vtimer, ipi=ipi, vm_tmr=tmr, regs=regs)

    def _install_costs(self, core: Core) -> None:
        """A core's cycle model and (M3Config.memory_model) its memory
        hierarchy: usable RAM cacheable, the framebuffer Normal-NC, the
        devices Device; its own L1D (its core type's size), and its
        cluster's L2, shared with the cluster's other cores (the first
        core of a cluster to start makes it; harness/costs.py GEOMETRY)."""
        cfg, chip, lay = self.config, self.chip, self.layout
        cpu = core.cpu
        self.costs.install(cpu)
        if cfg.memory_model:
            a = chip.aic
            self.costs.install_memory(cpu, ram=[(lay.phys_base, lay.mem_end)], nc=[(lay.fb.base, lay.fb_end)],
                                      device=[(chip.uart.base, chip.uart.base + self.uart.size),
                                              (a.base, a.base + a.size),
                                              (chip.wdt.base, chip.wdt.base + self.wdt.size)], hz=CPU_HZ,
                                      kind=core.info.kind)
            if cfg.prefetch_streams is not None:
                cpu.set_prefetch_streams(cfg.prefetch_streams)
            cluster = (core.info.die, core.info.cluster)
            owner = self._l2_owners.get(cluster)
            if owner is None:
                self._l2_owners[cluster] = cpu
            else:
                cpu.share_l2(owner)

    def _into_m1n1(self, core: Core, pc: int) -> None:
        """A secondary executes m1n1's vectors: its RVBAR was never set
        (the reset value), or it jumped there."""
        if not self.smp_refusal:
            written = "its RVBAR was never written (reset value: m1n1's vectors)" \
                if core.rvbar & smp.RVBAR_ADDR == self.standin & smp.RVBAR_ADDR else "it jumped there"
            self.smp_refusal = f"{core.label} runs m1n1's code at {pc:#x}: {written}"
            self.crash_regs = self._registers(core)
            self._stopped_core = core
        core.cpu.request_stop()

    def _inspect(self, core: Core, addr: int, size: int) -> None:
        """Each block, once, before it is costed (El2Cpu.block_inspect),
        once several cores run: refuse what the machine cannot model."""
        try:
            code = bytes(core.cpu.uc.mem_read(addr, size))
        except Exception:  # noqa: BLE001 - the cost model reports unreadable code itself
            return
        found = smp.refused_instruction(code)
        if found is None or self.smp_refusal:
            return
        off, what = found
        pc = addr + off
        self.smp_refusal = (f"{core.label} executed {what} at {pc:#x} {self.describe(pc)}: with several "
                            f"cores the emulated M3 refuses it (WFE and SEV are no-ops in unicorn and each "
                            f"core has its own exclusive monitor; wait with WFI and IPIs, use LSE atomics)")
        self._stopped_core = core
        core.cpu.request_stop()

    def _enter_smp(self) -> None:
        """The first secondary starts: from now on the scheduler runs."""
        self._smp = True
        self._dev_t = self.cpu.now
        boot = self.boot_core
        boot.cpu.block_inspect = lambda addr, size: self._inspect(boot, addr, size)
        boot.cpu.invalidate_costs(0, NO_LIMIT)       # every block inspected again (costs are the same)

    def _write_standin(self) -> None:
        # A vector table of `b .`: never meant to run.  The exception policy
        # stops the run before anything is delivered here.
        self.cpu.uc.mem_write(self.standin, struct.pack("<I", 0x14000000) * 0x200)

    def counter(self) -> int:
        """CNTPCT: the modelled core clock divided down to CNTFRQ."""
        return self.clock()

    def _reset(self) -> None:
        """The watchdog bit: the machine resets; the run ends."""
        self.rebooted = True
        self._request_stop()

    def _code_rewritten(self, core: Core) -> None:
        """sync_icache(x0 = lo, x1 = hi) on `core`: its cached costs of that
        range go; every other core drops its translations and costs of it."""
        lo, hi = core.cpu.reg_read("x0"), core.cpu.reg_read("x1")
        core.cpu.invalidate_costs(lo, hi)
        self._code_changed(core, lo, hi)

    def _rx_empty(self, uart) -> None:
        """The console waits for input and all input was read: ask for more,
        or end the run, once everything printed has left the UART (the
        kernel's TX ring empty, the FIFO and the shift register too), so a
        run's output is whole.  Until then the TX side's last byte brings
        the question back (_tx_idle)."""
        if not self._tx_drained():
            return
        more = self.on_input() if self.on_input else None
        if more:
            uart.feed(more)
            return
        self.waiting_for_input = True
        self._request_stop()

    def _tx_drained(self) -> bool:
        head, tail = struct.unpack("<QQ", self.cpu.uc.mem_read(self.console_tx, 16))
        return head == tail and self.uart.tx_idle

    def _console_waits(self) -> bool:
        """A thread sleeps in the console's wait for a key (kernel/console.S
        rx_waiter), and the core is not parked after a panic or BYE (that
        run ends on its own, with its own status).  The UART's line being
        unmasked at the AIC says nothing by itself: the console unmasks it
        for its TX ring too."""
        if not self._read_u64(self.rx_waiter):
            return False
        pc = self.cpu.reg_read("pc")
        return not (self.halt_pc <= pc <= self.halt_pc + 8 or self.off_pc <= pc <= self.off_pc + 8)

    def _tx_idle(self) -> None:
        """The UART's last byte has left: if the console waits for a key
        with nothing on the wire, it is idle now."""
        if not self.uart.pending_input and self._console_waits():
            self._rx_empty(self.uart)

    def _uart_refused(self, message: str) -> None:
        """A write the silicon would lose (harness/machine/uart.py): the run
        stops with it."""
        if not self.uart_refusal:
            self.uart_refusal = message
        self._request_stop()

    def _deadlocked(self) -> str:
        """At a WFI with everything printed gone out: the report of who
        waits on what if nothing can ever run again (harness/machine/
        kthreads.py deadlock), else ''."""
        if not self._tx_drained():
            return ""
        return kthreads.deadlock(self._read, self.percpu, self.rx_waiter,
                                 lambda xt: self.describe(xt).removeprefix("in Forth word "))

    def _read(self, addr: int, size: int) -> bytes:
        return bytes(self.cpu.uc.mem_read(addr, size))

    def _idle(self) -> None:
        """The core waits for an interrupt: if the console waits for a key
        (_console_waits) and nothing is on the wire, that is the same moment
        as a poll of an empty UART (which ends the run once the TX side has
        drained)."""
        if not self.uart.pending_input and self._console_waits():
            self._rx_empty(self.uart)
        elif not self.deadlock and self.started and not self._parked() and not self._others_awake():
            self.deadlock = self._deadlocked()
            if self.deadlock:
                self._request_stop()

    def _parked(self) -> bool:
        """The boot core waits after a panic or BYE (kernel_halted,
        powered_off): the run ends on its own, with its own status."""
        pc = self.cpu.reg_read("pc")
        return self.halt_pc <= pc <= self.halt_pc + 8 or self.off_pc <= pc <= self.off_pc + 8

    def _others_awake(self) -> bool:
        """A secondary runs, or an IPI is on its way to the boot core: its
        threads may yet be woken."""
        if not self._smp:
            return False
        if any(c.started and not c.asleep for c in self.cores if not c.boot):
            return True
        return any(n.startswith("ipi-in-") for n in Events.of(self.cpu).names())

    def _read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.cpu.uc.mem_read(addr, 8))[0]

    def _unmasked(self, irq: int) -> None:
        """The kernel unmasked the UART's IRQ and the console waits for a
        byte: with nothing on the wire that is a poll of an empty UART (ask
        for more input, or end the run), even if other threads keep the
        core busy."""
        if irq == self.chip.uart.irq and not self.uart.pending_input and self._console_waits():
            self._rx_empty(self.uart)

    def disk_image(self) -> bytes:
        """The RAM disk as the kernel has left it (what the payload carried,
        with every sector it wrote since): b"" without one."""
        if not self.disk_size:
            return b""
        return bytes(self.cpu.uc.mem_read(self.load_base + self.disk_offset, self.disk_size))

    def screenshot(self, path) -> Path:
        """Save the framebuffer as a PNG."""
        return self.framebuffer.screenshot(path)

    def _exception_policy(self, core: Core, kind: str, esr: int, far: int, elr: int) -> bool:
        cpu = core.cpu
        vbar = cpu.reg_read("vbar_el2")
        if vbar == self.standin:
            self.refusal = "exception taken into m1n1's vectors (before the kernel installed its own)"
        elif vbar == 0 and not core.boot:
            self.refusal = f"exception on {core.label} before it installed a vector table (VBAR_EL2 0)"
        elif not cpu.default_exception_policy(kind, esr, far, elr):
            self.refusal = "exception inside the kernel's own vector table (a fault while taking a fault)"
        else:
            return True
        self.crash_regs = self._registers(core)
        self._stopped_core = core
        return False

    def _registers(self, core: Core | None = None) -> dict[str, int]:
        cpu = (core or self.boot_core).cpu
        regs = {f"x{i}": cpu.reg_read(f"x{i}") for i in range(31)}
        regs["sp"] = cpu.reg_read("sp")
        regs["pc"] = cpu.reg_read("pc")
        return regs

    def feed(self, data: bytes) -> None:
        self.uart.feed(data)

    @property
    def output(self) -> str:
        self.uart.catch_up()            # what has left the UART by now
        return _text(self.uart.output)

    def describe(self, addr: int) -> str:
        """The ELF symbol for an address in the image, else the Forth word
        (from the kernel's own dictionary) whose code holds it."""
        return runs.describe(self.symbols.describe(addr, self.load_base), self._read,
                             self.symbols.address("latest", self.load_base), addr)

    def forth_words(self):
        """(name, xt) of every word in the kernel's dictionary, newest first."""
        return runs.forth_words(self._read, self.symbols.address("latest", self.load_base))

    # ---- running ------------------------------------------------------------

    def run(self, limit: int = DEFAULT_LIMIT) -> RunResult:
        """Run until the console waits for input nobody has fed, the kernel
        crashes, or `limit` more instructions have retired (on any one core)."""
        self.waiting_for_input = False
        self.deadlock = ""
        self._errors_before = self._read_u64(self.console_errors)
        start = self.cpu.instructions
        pc = None if self.started else self.entry
        self.started = True
        self._run_limit = limit
        self._stopped_core = None
        self._all_waiting = False
        for c in self.cores:
            if c.cpu is not None:
                c.limit_end = c.cpu.instructions + limit
                Events.of(c.cpu).resume()
        core = self.boot_core
        try:
            if not self._smp:
                why = self.cpu.run(pc, start + limit)
                if why is StopReason.STOPPED and self._resched and not self._stop_wanted():
                    self._resched = False
                    self._enter_smp()
                    why, core = self._run_smp()
            else:
                why, core = self._run_smp()
        except EmulatorError as e:
            core = self._stopped_core or self.current
            return self._result("crash", self._report(f"emulation stopped: {e}", core))
        if self.smp_refusal:
            return self._result("crash", self._report(self.smp_refusal, self._stopped_core or core))
        cpu = core.cpu
        if self.uart_refusal:
            pc = cpu.reg_read("pc")
            return self._result("crash", self._report(f"{self.uart_refusal} (pc {pc:#x} {self.describe(pc)})",
                                                      core))
        if self.rebooted:
            return self._result("reboot")
        for c in self.cores:
            mmu = c.models.get("mmu")
            if mmu is not None:
                mmu.check("end of run")
                if mmu.violation:
                    return self._result("crash", self._report(f"the kernel broke a rule of the MMU that the "
                                                              f"silicon enforces:\n{mmu.violation}", c))
        if why is StopReason.STOPPED and self.user_stop:
            return self._result("stopped")
        if why is StopReason.STOPPED and self.waiting_for_input:
            return self._result("idle")
        if why is StopReason.STOPPED and self.deadlock:
            return self._result("deadlock", self.deadlock)
        if why is StopReason.LIMIT:
            pc = cpu.reg_read("pc")
            who = f" on {core.label}" if self._smp else ""
            return self._result("limit", f"instruction limit reached: {limit:,} instructions{who} without "
                                         f"coming back to the console; pc {pc:#x} {self.describe(pc)}")
        boot_pc = self.cpu.reg_read("pc")
        if why is StopReason.WFI and self.off_pc <= boot_pc <= self.off_pc + 8:
            return self._result("off")
        if why is StopReason.WFI and self.halt_pc <= boot_pc <= self.halt_pc + 8:
            # kernel/vectors.S panic (or kernel/mmu.S boot_fail) keeps its frame in x20
            return self._result("crash", halt_report(self._read(self.cpu.reg_read("x20"), FRAME_BYTES),
                                                     self.output, self.describe) + self._core_line(self.boot_core))
        if why is StopReason.EXCEPTION:
            return self._result("crash", self._report(self.refusal, self._stopped_core or core))
        pc = cpu.reg_read("pc")
        if why is StopReason.WFI and self._all_waiting:
            waiting = ", ".join(f"{c.label} at {c.cpu.reg_read('pc'):#x}" for c in self.cores
                                if c.started and c.cpu is not None)
            return self._result("crash", self._report(f"every started core waits in WFI with nothing to wake "
                                                      f"it: {waiting}", core))
        return self._result("crash", self._report(f"the core stopped ({why.value}) at pc {pc:#x}", core))

    def _stop_wanted(self) -> bool:
        """Something ended the run (not just a quantum)."""
        return bool(self.user_stop or self.waiting_for_input or self.deadlock or self.uart_refusal
                    or self.rebooted or self.smp_refusal
                    or any(c.models.get("mmu") is not None and c.models["mmu"].violation for c in self.cores))

    def _key(self, core: Core) -> int:
        """When a started core next has something to do: now if it runs;
        asleep, when it wakes (an interrupt pending: at once, not before
        whoever woke it; else its next event; NEVER)."""
        cpu = core.cpu
        now = cpu.now
        if not core.asleep:
            return now
        if cpu.interrupt_pending:
            return max(now, core.wake_at)
        d = cpu.event_deadline
        return smp.NEVER if d is None else max(now, d)

    def _run_smp(self) -> tuple[StopReason, Core]:
        """The scheduler: run the core with the smallest (key, index) until
        it is `quantum` instructions past the next core's key (or its own
        limit), ended at a block boundary by the native hook's limit.  A
        core asleep in WFI is never run: its clock moves to its event, which
        runs, or to its wake-up.  Deterministic: nothing here reads the host."""
        NEVER = smp.NEVER
        quantum = self.quantum
        active = [c for c in self.cores if c.started and c.cpu is not None]
        while True:
            if self._start_queue:
                self._start_pending()
                active = [c for c in self.cores if c.started and c.cpu is not None]
            # the smallest (key, index) and the next key, in one pass (cores in index order)
            core, key, others = None, NEVER + 1, NEVER + 1
            for c in active:
                if c.asleep:
                    k = self._key(c)
                else:
                    st = c.cpu._st
                    k = st.instructions + st.idle          # cpu.now between runs
                if k < key:
                    core, key, others = c, k, key
                elif k < others:
                    others = k
            if key >= NEVER:
                return self._all_wait()
            cpu = core.cpu
            self.current = core
            if core.asleep:
                if not cpu.interrupt_pending:
                    cpu.sleep_step()                 # its event runs at its instant
                    if self._stop_wanted():
                        return StopReason.STOPPED, core
                    if not cpu.interrupt_pending:
                        continue
                cpu.advance_to(key)
                core.asleep = False
                core.wake_at = 0
            limit = core.limit_end
            if others < NEVER:
                limit = min(limit, cpu.instructions + max(1, others + quantum - cpu.now))
            self._apply_pending(core)
            self._resched = False
            try:
                why = cpu.run(None, limit, wait=False)
            except EmulatorError:
                self._stopped_core = self._stopped_core or core
                raise
            if why is StopReason.LIMIT:
                if cpu.instructions >= core.limit_end:
                    return why, core
                continue
            if why is StopReason.STOPPED:
                if self._stop_wanted() or not self._resched:
                    return why, core
                continue
            if why is StopReason.WFI:
                core.asleep = True
                core.wake_at = 0
                pc = cpu.reg_read("pc")
                if core.boot and (self.off_pc <= pc <= self.off_pc + 8 or self.halt_pc <= pc <= self.halt_pc + 8):
                    if not (self.wdt.ctl & WDT_CTL_RESET_ENABLE and self.wdt.reset_at is None):
                        return why, core
                    # BYE armed the watchdog before parking: the reset comes at its instant
                    # (the boot core sleeps until then, as a lone core's WFI would)
                continue
            return why, core

    def _all_wait(self) -> tuple[StopReason, Core]:
        """Every started core waits in WFI and nothing will ever wake one."""
        self.current = self.boot_core
        if not self.deadlock and self.started:
            self.deadlock = self._deadlocked()
            if self.deadlock:
                return StopReason.STOPPED, self.boot_core
        self._all_waiting = True
        return StopReason.WFI, self.boot_core

    def interrupt(self) -> None:
        """End the run at the next block boundary (from a signal handler,
        or any callback): status "stopped"."""
        self.user_stop = True
        self._request_stop()

    def run_script(self, text: str | bytes, limit: int = DEFAULT_LIMIT) -> RunResult:
        self.feed(text.encode() if isinstance(text, str) else text)
        return self.run(limit)

    def _result(self, status: str, report: str = "") -> RunResult:
        errors = self._read_u64(self.console_errors) - self._errors_before
        counts = tuple(c.cpu.instructions if c.cpu is not None else 0 for c in self.cores)
        cycles = tuple(c.cpu.cycles_conservative if c.cpu is not None else 0 for c in self.cores)
        return RunResult(status, self.output, self.cpu.instructions, report, errors,
                         core_instructions=counts, core_cycles=cycles)

    def _core_line(self, core: Core) -> str:
        return f"\n  on {core.label}"

    def _report(self, what: str, core: Core | None = None) -> str:
        """Exception class decoded, ELR and FAR with symbols, registers; the core."""
        core = core or self.boot_core
        lines = [f"CRASH: {what}", f"  on {core.label}"]
        info = core.cpu.last_exception
        regs = self.crash_regs or self._registers(core)
        if info is not None and info.kind in ("irq", "fiq"):
            lines.append(f"  the last exception taken: an {info.kind.upper()} at {info.elr:#x} "
                         f"{self.describe(info.elr)}")
        elif info is not None:
            lines.append(f"  class: {decode_esr(info.esr)} (ESR {info.esr:#010x})")
            lines.append(f"  ELR {info.elr:#x} {self.describe(info.elr)}")
            if info.far is not None:
                lines.append(f"  FAR {info.far:#x} {self.describe(info.far)}")
        return "\n".join(lines + register_lines(regs))


def _anonymous(size: int) -> mmap.mmap:
    """Zeroed host memory that costs nothing until touched (an anonymous
    private mapping; MAP_NORESERVE where the host has it)."""
    flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", getattr(mmap, "MAP_ANON", 0)) \
        | getattr(mmap, "MAP_NORESERVE", 0)
    return mmap.mmap(-1, size, flags=flags)


def _text(raw: bytes) -> str:
    """UART bytes as text: CR LF (what a serial terminal wants) becomes LF."""
    return raw.decode("utf-8", "replace").replace("\r\n", "\n")
