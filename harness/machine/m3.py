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
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from unicorn import UC_HOOK_CODE

from harness import bootargs, chips, payload
from harness.costs import CostModel
from harness.elf import Symbols
from harness.machine.cpu import El2Cpu, EmulatorError, StopReason, decode_esr
from harness.machine.framebuffer import Framebuffer
from harness.machine.layout import DEFAULT_PHYS_OFFSET, PAGE, VIRT_BASE, LayoutError, plan
from harness.machine.mmu_rules import MmuRules
from harness.machine.aic import Aic
from harness.machine.events import Events
from harness.machine.ipi import FastIpi
from harness.machine import kthreads
from harness.machine.pmu import ApplePmu
from harness.machine.sysregs import (APPLE_VM_TMR_FIQ_ENA_EL2, CNTFRQ_EL0, CNTPCT_EL0, CNTVCT_EL0,
                                     HCR_EL2, ID_AA64MMFR0_EL1, MIDR_EL1, VBAR_EL2)
from harness.machine.timers import CPU_HZ, Clock, HypTimer, VirtTimer
from harness.machine.wdt import Watchdog
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

        # Memory: usable RAM and the framebuffer only (carveouts stay unmapped:
        # touching one stops the run, as the SError would on a real machine).
        self.cpu = cpu = El2Cpu()
        for base in range(lay.phys_base, lay.mem_end, CHUNK):
            cpu.map_ram(base, min(CHUNK, lay.mem_end - base))
        cpu.map_ram(lay.fb.base, lay.fb_size)
        self.framebuffer = Framebuffer(cpu.uc, lay.fb)
        # The UART sends on emulated time: a byte leaves one frame after the
        # shift register took it (harness/machine/uart.py).
        self.uart = S5lUart(chip.uart.base, tx_sink=tx_sink, on_rx_empty=self._rx_empty,
                            clock=lambda: cpu.now, events=Events.of(cpu), cpu_hz=CPU_HZ,
                            ubrdiv=ubrdiv_for(cfg.uart_baud))
        self.uart.on_refusal = self._uart_refused
        self.uart.on_tx_idle = self._tx_idle
        self.uart_refusal = ""
        cpu.map_mmio(chip.uart.base, self.uart.size, self.uart.read, self.uart.write)
        # The AIC as the ADT describes it, strict: it delivers only when
        # enabled, unmasked and routed to group 0 (harness/machine/aic.py).
        a = chip.aic
        self.aic = Aic(lambda level: cpu.raise_irq() if level else cpu.lower_irq(), version=a.version,
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

        # m1n1's state at the hand-over.
        self._write_standin()
        cpu.sysreg_write(*HCR_EL2, M1N1_HCR_EL2)
        cpu.sysreg_write(*VBAR_EL2, self.standin)
        cpu.reg_write("sp", self.standin + PAGE)
        cpu.reg_write("x0", self.boot_args)
        cpu.on_exception(self._exception_policy)
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
        self.ipi = FastIpi(cpu, mpidr=chip.boot_cpu.mpidr)
        self._vm_tmr_fiq_ena = 0                  # the guest timers' FIQ enables (bit 0 V, 1 P);
        cpu.on_sysreg(*APPLE_VM_TMR_FIQ_ENA_EL2, read=lambda: self._vm_tmr_fiq_ena,   # no guest timer
                      write=lambda v: setattr(self, "_vm_tmr_fiq_ena", v & 3))       # FIQ modelled
        # The watchdog: BYE reboots through it (kernel/boards/m3/board.S).
        self.rebooted = False
        self.wdt = Watchdog(cpu, on_reset=self._reset)
        cpu.map_mmio(chip.wdt.base, self.wdt.size, self.wdt.read, self.wdt.write)
        self._serve_id_registers()

        # The cycle model charges every block once; code the kernel rewrites
        # passes through sync_icache (as it must on hardware), which drops
        # the cached costs of that range.
        self.costs = cfg.costs or CostModel()
        self.costs.install(cpu)
        # The memory hierarchy: usable RAM cacheable, the framebuffer Normal-NC, the devices Device.
        if cfg.memory_model:
            self.costs.install_memory(cpu, ram=[(lay.phys_base, lay.mem_end)], nc=[(lay.fb.base, lay.fb_end)],
                                      device=[(chip.uart.base, chip.uart.base + self.uart.size),
                                              (a.base, a.base + a.size),
                                              (chip.wdt.base, chip.wdt.base + self.wdt.size)], hz=CPU_HZ)
            if cfg.prefetch_streams is not None:
                cpu.set_prefetch_streams(cfg.prefetch_streams)
        sync = self.symbols.address("sync_icache", lay.load_base)
        cpu.uc.hook_add(UC_HOOK_CODE, self._code_rewritten, begin=sync, end=sync)

        # The silicon's translation rules, on in every run: break-before-make,
        # nothing Normal outside usable RAM and the framebuffer, the TLBI
        # before the MMU goes on (harness/machine/mmu_rules.py).
        self.mmu = MmuRules(cpu, [(lo, hi - lo) for lo, hi in lay.normal_ranges()], describe=self.describe)
        self.mmu.install()

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

    # ---- pieces -----------------------------------------------------------

    # The boot P-core's MIDR part per chip (m1n1 src/midr.h MIDR_PART_*_EVEREST).
    MIDR_PART = {"t8122": 0x43, "t6030": 0x45, "t6031": 0x49}

    def _serve_id_registers(self) -> None:
        """The ID registers where unicorn's MAX core (a Cortex-A57 base)
        says something an M3 does not, for whoever reads them (harness/
        probe.py; the kernel reads only ID_AA64MMFR0.PARange, unchanged):
        MIDR_EL1 Apple (implementer 0x61, architecture 0xf) with the boot
        P-core's part; variant and revision 0 (UNVERIFIED: no M3 value in
        the sources).  ID_AA64MMFR0_EL1 unicorn's own value with TGran16 = 1
        (16 KiB granule supported): unicorn's says 0, yet its MMU walks the
        kernel's 16 KiB tables; Apple cores have it (m1n1 uses it)."""
        part = self.MIDR_PART.get(self.chip.name)
        if part is not None:
            midr = 0x61 << 24 | 0xF << 16 | part << 4
            self.cpu.on_sysreg(*MIDR_EL1, read=lambda: midr)
        mmfr0 = self.cpu.sysreg_read(*ID_AA64MMFR0_EL1) & ~(0xF << 20) | 1 << 20
        self.cpu.on_sysreg(*ID_AA64MMFR0_EL1, read=lambda: mmfr0)

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
        self.cpu.request_stop()

    def _code_rewritten(self, uc, address, size, _user) -> None:
        self.cpu.invalidate_costs(self.cpu.reg_read("x0"), self.cpu.reg_read("x1"))

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
        self.cpu.request_stop()

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
        self.cpu.request_stop()

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
        elif not self.deadlock and self.started:
            self.deadlock = self._deadlocked()
            if self.deadlock:
                self.cpu.request_stop()

    def _read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.cpu.uc.mem_read(addr, 8))[0]

    def _unmasked(self, irq: int) -> None:
        """The kernel unmasked the UART's IRQ and the console waits for a
        byte: with nothing on the wire that is a poll of an empty UART (ask
        for more input, or end the run), even if other threads keep the
        core busy."""
        if irq == self.chip.uart.irq and not self.uart.pending_input and self._console_waits():
            self._rx_empty(self.uart)

    def screenshot(self, path) -> Path:
        """Save the framebuffer as a PNG."""
        return self.framebuffer.screenshot(path)

    def _exception_policy(self, kind: str, esr: int, far: int, elr: int) -> bool:
        vbar = self.cpu.reg_read("vbar_el2")
        if vbar == self.standin:
            self.refusal = "exception taken into m1n1's vectors (before the kernel installed its own)"
        elif not self.cpu.default_exception_policy(kind, esr, far, elr):
            self.refusal = "exception inside the kernel's own vector table (a fault while taking a fault)"
        else:
            return True
        self.crash_regs = self._registers()
        return False

    def _registers(self) -> dict[str, int]:
        regs = {f"x{i}": self.cpu.reg_read(f"x{i}") for i in range(31)}
        regs["sp"] = self.cpu.reg_read("sp")
        regs["pc"] = self.cpu.reg_read("pc")
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
        crashes, or `limit` more instructions have retired."""
        self.waiting_for_input = False
        self.deadlock = ""
        self._errors_before = self._read_u64(self.console_errors)
        start = self.cpu.instructions
        pc = None if self.started else self.entry
        self.started = True
        Events.of(self.cpu).resume()
        try:
            why = self.cpu.run(pc, start + limit)
        except EmulatorError as e:
            return self._result("crash", self._report(f"emulation stopped: {e}"))
        if self.uart_refusal:
            pc = self.cpu.reg_read("pc")
            return self._result("crash", self._report(f"{self.uart_refusal} (pc {pc:#x} {self.describe(pc)})"))
        if self.rebooted:
            return self._result("reboot")
        self.mmu.check("end of run")
        if self.mmu.violation:
            return self._result("crash", self._report(f"the kernel broke a rule of the MMU that the "
                                                      f"silicon enforces:\n{self.mmu.violation}"))
        if why is StopReason.STOPPED and self.user_stop:
            return self._result("stopped")
        if why is StopReason.STOPPED and self.waiting_for_input:
            return self._result("idle")
        if why is StopReason.STOPPED and self.deadlock:
            return self._result("deadlock", self.deadlock)
        if why is StopReason.LIMIT:
            pc = self.cpu.reg_read("pc")
            return self._result("limit", f"instruction limit reached: {limit:,} instructions without "
                                         f"coming back to the console; pc {pc:#x} {self.describe(pc)}")
        if why is StopReason.WFI and self.off_pc <= self.cpu.reg_read("pc") <= self.off_pc + 8:
            return self._result("off")
        if why is StopReason.WFI and self.halt_pc <= self.cpu.reg_read("pc") <= self.halt_pc + 8:
            # kernel/vectors.S panic (or kernel/mmu.S boot_fail) keeps its frame in x20
            return self._result("crash", halt_report(self._read(self.cpu.reg_read("x20"), FRAME_BYTES),
                                                     self.output, self.describe))
        if why is StopReason.EXCEPTION:
            return self._result("crash", self._report(self.refusal))
        pc = self.cpu.reg_read("pc")
        return self._result("crash", self._report(f"the core stopped ({why.value}) at pc {pc:#x}"))

    def interrupt(self) -> None:
        """End the run at the next block boundary (from a signal handler,
        or any callback): status "stopped"."""
        self.user_stop = True
        self.cpu.request_stop()

    def run_script(self, text: str | bytes, limit: int = DEFAULT_LIMIT) -> RunResult:
        self.feed(text.encode() if isinstance(text, str) else text)
        return self.run(limit)

    def _result(self, status: str, report: str = "") -> RunResult:
        errors = self._read_u64(self.console_errors) - self._errors_before
        return RunResult(status, self.output, self.cpu.instructions, report, errors)

    def _report(self, what: str) -> str:
        """Exception class decoded, ELR and FAR with symbols, registers."""
        lines = [f"CRASH: {what}"]
        info = self.cpu.last_exception
        regs = self.crash_regs or self._registers()
        if info is not None and info.kind in ("irq", "fiq"):
            lines.append(f"  the last exception taken: an {info.kind.upper()} at {info.elr:#x} "
                         f"{self.describe(info.elr)}")
        elif info is not None:
            lines.append(f"  class: {decode_esr(info.esr)} (ESR {info.esr:#010x})")
            lines.append(f"  ELR {info.elr:#x} {self.describe(info.elr)}")
            if info.far is not None:
                lines.append(f"  FAR {info.far:#x} {self.describe(info.far)}")
        return "\n".join(lines + register_lines(regs))


def _text(raw: bytes) -> str:
    """UART bytes as text: CR LF (what a serial terminal wants) becomes LF."""
    return raw.decode("utf-8", "replace").replace("\r\n", "\n")
