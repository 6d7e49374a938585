"""The emulated Apple M3 (t8122) as m1n1 hands it to a chainloaded kernel.

One P-core (El2Cpu) at EL2 with the state m1n1 leaves: MMU off, DAIF
masked, HCR_EL2 = m1n1's value (E2H and TGE set), VBAR_EL2 and SP still
inside m1n1 (here a stand-in that reports any exception taken into it).
DRAM at 0x8_0000_0000, the image at a 16 KiB-aligned base, the 4 zero
bytes, SEPFW, preoslog and boot_args after it exactly where chainload.py
puts them, a framebuffer outside usable RAM, the S5L UART, and the generic
timer on deterministic time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from unicorn import UC_HOOK_CODE

from harness import bootargs, payload
from harness.costs import CostModel
from harness.elf import Symbols
from harness.machine.cpu import El2Cpu, EmulatorError, StopReason, decode_esr
from harness.machine.aic import AIC_BASE, UART0_IRQ, Aic3
from harness.machine.aic import MMIO_SIZE as AIC_MMIO_SIZE
from harness.machine.framebuffer import Framebuffer
from harness.machine.pmu import ApplePmu  # noqa: F401  (re-exported)
from harness.machine.timers import CNTFRQ_HZ, CPU_HZ, HypTimer  # noqa: F401  (re-exported)
from harness.machine.uart import S5lUart

DRAM_BASE = 0x8_0000_0000
DEFAULT_MEM_SIZE = 2 << 30
DEFAULT_LOAD_BASE = 0x8_0200_4000        # 16 KiB aligned, deliberately not 32 MiB
UART_BASE = 0x2_A120_0000
FB = bootargs.Video(base=0x8_F000_0000, display=0, stride=1920 * 4, width=1920, height=1080, depth=30)
M1N1_HCR_EL2 = 0x0000_0324_8800_0038     # src/chickens.c / hv: E2H | TGE | ...
STANDIN = DRAM_BASE + 0x4000             # m1n1's vectors and stack, as far as we are concerned
DEFAULT_LIMIT = 2_000_000_000

# System registers as (op0, op1, CRn, CRm, op2)
HCR_EL2 = (3, 4, 1, 1, 0)
VBAR_EL2 = (3, 4, 12, 0, 0)
CNTFRQ_EL0 = (3, 3, 14, 0, 0)
CNTPCT_EL0 = (3, 3, 14, 0, 1)
CNTVCT_EL0 = (3, 3, 14, 0, 2)


class MachineError(RuntimeError):
    """Bad machine configuration (caught before anything runs)."""


@dataclass
class RunResult:
    """How a run ended.  `status`:
    idle   the console waits for input and all input was consumed (success)
    off    the kernel switched the machine off (BYE)
    limit  the instruction limit was reached (a hang)
    crash  the kernel panicked or took an exception it could not handle
    """
    status: str
    output: str
    instructions: int
    report: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("idle", "off")


@dataclass
class M3Config:
    load_base: int = DEFAULT_LOAD_BASE
    mem_size: int = DEFAULT_MEM_SIZE
    cmdline: str = ""
    bootargs_revision: int = 2
    costs: CostModel | None = None          # the cycle model (default: the standard table)
    pmc0: str = "conservative"              # what PMC0 counts (ApplePmu.cycle_source)
    fb_depth: int = 30                      # boot_args.video.depth: 30 (x2r10g10b10) or 32 (x8r8g8b8)
    fb_stride: int = 0                      # bytes per row; 0: 4 * width


class M3:
    def __init__(self, elf: Path, config: M3Config | None = None, tx_sink=None, on_input=None):
        """tx_sink(byte) receives UART output as it is sent.  on_input() is
        asked for more console input when the kernel polls an empty UART:
        it returns bytes, or None to end the run (the default: a script has
        nothing more to say)."""
        self.config = cfg = config or M3Config()
        if cfg.load_base % 0x4000 or not DRAM_BASE + 0x10000 <= cfg.load_base:
            raise MachineError(f"load base {cfg.load_base:#x} must be 16 KiB aligned and inside DRAM "
                               f"above {DRAM_BASE + 0x10000:#x}")
        self.elf = Path(elf)
        self.symbols = Symbols(self.elf)
        image, _link_base, entry_offset = payload.flat_image(self.elf)
        self.image_size = len(image)
        self.after = bootargs.layout_after_image(cfg.load_base, len(image))
        if self.after.top_of_kernel_data + (64 << 20) > DRAM_BASE + cfg.mem_size:
            raise MachineError(f"memory size {cfg.mem_size:#x} leaves no room above the image")

        self.cpu = cpu = El2Cpu()
        cpu.map_ram(DRAM_BASE, cfg.mem_size)
        if cfg.fb_depth not in (30, 32) or cfg.fb_stride and cfg.fb_stride < 4 * FB.width:
            raise MachineError(f"framebuffer depth {cfg.fb_depth} / stride {cfg.fb_stride}: depth must be "
                               f"30 or 32, stride at least {4 * FB.width}")
        self.video = video = FB._replace(depth=cfg.fb_depth, stride=cfg.fb_stride or FB.stride)
        fb_size = (video.stride * video.height + 0x3FFF) & ~0x3FFF
        cpu.map_ram(video.base, fb_size)
        self.framebuffer = Framebuffer(cpu.uc, video)
        self.uart = S5lUart(UART_BASE, tx_sink=tx_sink, on_rx_empty=self._rx_empty)
        cpu.map_mmio(UART_BASE, self.uart.size, self.uart.read, self.uart.write)
        # AIC3: the UART's line is IRQ 757; the AIC drives the core's IRQ.
        # strict=False: today's kernel neither sets the AIC's enable nor
        # leaves IRQ_CFG's route at 0 (harness/machine/aic.py).
        self.aic = Aic3(lambda level: cpu.raise_irq() if level else cpu.lower_irq(), strict=False)
        self.aic.connect(UART0_IRQ, self.uart.irq_pending)
        self.uart.on_change = self.aic.update
        cpu.map_mmio(AIC_BASE, AIC_MMIO_SIZE, self.aic.read, self.aic.write)
        self.aic.on_unmask = self._unmasked
        cpu.on_wfi = self._idle

        cpu.uc.mem_write(cfg.load_base, image)
        args = bootargs.build_boot_args(
            revision=cfg.bootargs_revision, virt_base=0xFFFF_FE00_0000_0000 + (cfg.load_base - DRAM_BASE),
            phys_base=DRAM_BASE, mem_size=cfg.mem_size, top_of_kernel_data=self.after.top_of_kernel_data,
            video=video, machine_type=0, devtree=0, devtree_size=0, cmdline=cfg.cmdline,
            boot_flags=0, mem_size_actual=cfg.mem_size)
        self.boot_args = self.after.boot_args
        cpu.uc.mem_write(self.boot_args, args)

        # m1n1's state at the hand-over.
        self._write_standin()
        cpu.sysreg_write(*HCR_EL2, M1N1_HCR_EL2)
        cpu.sysreg_write(*VBAR_EL2, STANDIN)
        cpu.reg_write("sp", STANDIN + 0x4000)
        cpu.reg_write("x0", self.boot_args)
        cpu.on_exception(self._exception_policy)
        self.entry = cfg.load_base + entry_offset

        # The generic timer on emulated time (unicorn's reads host time).
        cpu.on_sysreg(*CNTFRQ_EL0, read=lambda: CNTFRQ_HZ)
        cpu.on_sysreg(*CNTPCT_EL0, read=self.counter)
        cpu.on_sysreg(*CNTVCT_EL0, read=self.counter)
        self.pmu = ApplePmu(cpu, cfg.pmc0)
        self.timer = HypTimer(cpu, self.counter)

        # The cycle model charges every block once; code the kernel rewrites
        # passes through sync_icache (as it must on hardware), which drops
        # the cached costs of that range.
        self.costs = cfg.costs or CostModel()
        self.costs.install(cpu)
        sync = self.symbols.address("sync_icache", cfg.load_base)
        cpu.uc.hook_add(UC_HOOK_CODE, self._code_rewritten, begin=sync, end=sync)

        self.halt_pc = self.symbols.address("kernel_halted", cfg.load_base)
        self.off_pc = self.symbols.address("powered_off", cfg.load_base)
        self.on_input = on_input
        self.started = False
        self.waiting_for_input = False
        self.crash_regs: dict[str, int] | None = None
        self.refusal = ""

    # ---- pieces -----------------------------------------------------------

    def _write_standin(self) -> None:
        # A vector table of `b .`: never meant to run.  The exception policy
        # stops the run before anything is delivered here.
        self.cpu.uc.mem_write(STANDIN, struct.pack("<I", 0x14000000) * 0x200)

    def counter(self) -> int:
        """CNTPCT: the modelled core clock divided down to CNTFRQ."""
        return self.cpu.now * CNTFRQ_HZ // CPU_HZ

    def _code_rewritten(self, uc, address, size, _user) -> None:
        self.cpu.invalidate_costs(self.cpu.reg_read("x0"), self.cpu.reg_read("x1"))

    def _rx_empty(self, uart) -> None:
        more = self.on_input() if self.on_input else None
        if more:
            uart.feed(more)
            return
        self.waiting_for_input = True
        self.cpu.request_stop()

    def _idle(self) -> None:
        """The core waits for an interrupt: if the console waits for a key
        (the UART's IRQ unmasked at the AIC) and nothing is on the wire,
        that is the same moment as a poll of an empty UART."""
        if not self.aic.is_masked(UART0_IRQ) and not self.uart.pending_input:
            self._rx_empty(self.uart)

    def _unmasked(self, irq: int) -> None:
        """The kernel unmasked the UART's IRQ: it waits for a byte.  With
        nothing on the wire that is a poll of an empty UART (ask for more
        input, or end the run), even if other threads keep the core busy."""
        if irq == UART0_IRQ and not self.uart.pending_input:
            self._rx_empty(self.uart)

    def screenshot(self, path) -> Path:
        """Save the framebuffer as a PNG."""
        return self.framebuffer.screenshot(path)

    def _exception_policy(self, kind: str, esr: int, far: int, elr: int) -> bool:
        vbar = self.cpu.reg_read("vbar_el2")
        if vbar == STANDIN:
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
        return _text(self.uart.output)

    def describe(self, addr: int) -> str:
        """The ELF symbol for an address in the image, else the Forth word
        (from the kernel's own dictionary) whose code holds it."""
        name = self.symbols.describe(addr, self.config.load_base)
        if name == "?":
            word = self.forth_word_at(addr)
            if word:
                name = f"in Forth word {word[0]}+{addr - word[1]:#x}"
        return name

    def forth_words(self):
        """(name, xt) of every word in the kernel's dictionary, newest first:
        headers are link(8, relative) count(1) name, padded, 4 info bytes, xt
        (kernel/macros.inc)."""
        mem = self.cpu.uc.mem_read
        try:
            hdr = struct.unpack("<Q", mem(self.symbols.address("latest", self.config.load_base), 8))[0]
            for _ in range(100_000):
                if not hdr:
                    break
                link, n = struct.unpack("<qB", mem(hdr, 9))
                name = bytes(mem(hdr + 9, n)).decode("latin-1")
                yield name, ((hdr + 9 + n + 3) & ~3) + 4
                hdr = hdr + link if link else 0
        except Exception:  # noqa: BLE001 - a report must not fail on a broken dictionary
            return

    def forth_word_at(self, addr: int):
        best = None
        for name, xt in self.forth_words():
            if xt <= addr and (best is None or xt > best[1]):
                best = (name, xt)
        return best

    # ---- running ------------------------------------------------------------

    def run(self, limit: int = DEFAULT_LIMIT) -> RunResult:
        """Run until the console waits for input nobody has fed, the kernel
        crashes, or `limit` more instructions have retired."""
        self.waiting_for_input = False
        start = self.cpu.instructions
        pc = None if self.started else self.entry
        self.started = True
        try:
            why = self.cpu.run(pc, start + limit)
        except EmulatorError as e:
            return self._result("crash", self._report(f"emulation stopped: {e}"))
        if why is StopReason.STOPPED and self.waiting_for_input:
            return self._result("idle")
        if why is StopReason.LIMIT:
            pc = self.cpu.reg_read("pc")
            return self._result("limit", f"instruction limit reached: {limit:,} instructions without "
                                         f"coming back to the console; pc {pc:#x} {self.describe(pc)}")
        if why is StopReason.WFI and self.off_pc <= self.cpu.reg_read("pc") <= self.off_pc + 8:
            return self._result("off")
        if why is StopReason.WFI and self.halt_pc <= self.cpu.reg_read("pc") <= self.halt_pc + 8:
            return self._result("crash", self._report("kernel panic", from_frame=True))
        if why is StopReason.EXCEPTION:
            return self._result("crash", self._report(self.refusal))
        pc = self.cpu.reg_read("pc")
        return self._result("crash", self._report(f"the core stopped ({why.value}) at pc {pc:#x}"))

    def run_script(self, text: str | bytes, limit: int = DEFAULT_LIMIT) -> RunResult:
        self.feed(text.encode() if isinstance(text, str) else text)
        return self.run(limit)

    def _result(self, status: str, report: str = "") -> RunResult:
        return RunResult(status, self.output, self.cpu.instructions, report)

    def _report(self, what: str, from_frame: bool = False) -> str:
        """Exception class decoded, ELR and FAR with symbols, registers."""
        lines = [f"CRASH: {what}"]
        info = self.cpu.last_exception
        regs = self.crash_regs or self._registers()
        if from_frame:
            # kernel/vectors.S panic keeps the exception frame in x20:
            # x0-x30, SP_EL0, ELR, SPSR, ESR, FAR.
            frame = self.cpu.reg_read("x20")
            words = struct.unpack("<36Q", self.cpu.uc.mem_read(frame, 36 * 8))
            regs = {f"x{i}": words[i] for i in range(31)}
            regs["sp_el0"] = words[31]
            elr, esr, far = words[32], words[34], words[35]
            lines.append(f"  class: {decode_esr(esr)} (ESR {esr:#010x})")
            lines.append(f"  ELR {elr:#x} {self.describe(elr)}")
            lines.append(f"  FAR {far:#x} {self.describe(far)}")
        elif info is not None:
            lines.append(f"  class: {decode_esr(info.esr)} (ESR {info.esr:#010x})")
            lines.append(f"  ELR {info.elr:#x} {self.describe(info.elr)}")
            if info.far is not None:
                lines.append(f"  FAR {info.far:#x} {self.describe(info.far)}")
        names = list(regs)
        for i in range(0, len(names), 4):
            lines.append("  " + "  ".join(f"{n:>6} {regs[n]:#018x}" for n in names[i:i + 4]))
        return "\n".join(lines)


def _text(raw: bytes) -> str:
    """UART bytes as text: CR LF (what a serial terminal wants) becomes LF."""
    return raw.decode("utf-8", "replace").replace("\r\n", "\n")
