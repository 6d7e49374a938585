"""How a run ends, the same for both runners: the emulated M3
(harness/machine/m3.py) and the virt board under QEMU (harness/qemu.py).

Why one module: a script must mean the same on both boards, so the result
(RunResult), the default instruction limit, the crash report made from
the kernel's exception frame, the Forth word an address lies in, and the
exit status the command line turns a result into are written once here;
each runner supplies only how it reads the guest's memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Iterator

DEFAULT_LIMIT = 2_000_000_000           # instructions a script may run before it is a hang

# Exit statuses of `python -m harness run` (README "Using it").
EXIT_OK = 0
EXIT_CRASH = 3
EXIT_HANG = 4
EXIT_DEADLOCK = 5
EXIT_FORTH_ERROR = 6
EXIT_OFF = 7                # a script's BYE: the board rebooted (m3) or switched off (virt)
EXIT_STOPPED = 130          # the user left (128 + SIGINT, as a shell reports it)

Read = Callable[[int, int], bytes]      # read(address, size) -> bytes of guest memory


@dataclass
class RunResult:
    """How a run ended.  `status`:
    idle   the console waits for input, all input was consumed and
           everything printed has left the UART (success)
    off    the kernel switched the machine off (BYE on virt; parked on m3 without a watchdog)
    reboot the watchdog reset the machine (BYE on m3, as m1n1 reboots)
    limit  the instruction limit was reached (a hang)
    deadlock every thread waits on another, none has a deadline and none
           waits for input: nothing can ever run again (the report says who
           waits on what)
    crash  the kernel panicked, stopped at boot, or took an exception it
           could not handle
    stopped the user left (interrupt(): a second SIGINT, SIGTERM)
    break  QEMU only: the stop asked for with QemuVirt.break_at() was reached
    """
    status: str
    output: str
    instructions: int
    report: str = ""
    errors: int = 0         # lines (or threads) that ended in an uncaught THROW during the run
    core_instructions: tuple = ()   # every core's retired instructions (emulated M3: ADT cpu order; 0 in reset)
    core_cycles: tuple = ()         # and its conservative modelled cycles

    @property
    def ok(self) -> bool:
        return self.status in ("idle", "off", "reboot")


def exit_status(result: RunResult, keep_going: bool = False,
                script: bool = True) -> tuple[int, str]:
    """The command line's exit status for a result, and what to say on
    stderr besides the status line ('' for nothing).  A script whose machine
    was switched off or rebooted (BYE) ends with its own code, 7, unless a
    line before it ended in a Forth error (6).  At an interactive console
    errors are part of the conversation: leaving it (BYE, Ctrl-D) is 0."""
    if result.status == "crash":
        return EXIT_CRASH, result.report
    if result.status == "limit":
        return EXIT_HANG, f"hang: {result.report}"
    if result.status == "deadlock":
        return EXIT_DEADLOCK, result.report
    if result.status == "stopped":
        return EXIT_STOPPED, ""
    if result.errors and not keep_going and script:
        return EXIT_FORTH_ERROR, (f"{result.errors} Forth error(s) in the script "
                                  f"(--keep-going: exit 0 all the same)")
    if result.status in ("off", "reboot") and script:
        what = "rebooted" if result.status == "reboot" else "switched off"
        return EXIT_OFF, f"the script's BYE: the machine {what}"
    return EXIT_OK, ""


# ---- the crash report ------------------------------------------------------

# The exception frame kernel/vectors.S's panic keeps in x20 (its EF_*
# offsets): x0-x30, SP_EL0, ELR, SPSR, ESR, FAR, one 64-bit word each.
# boot_fail (kernel/mmu.S) halts with the same frame all zero.
FRAME_WORDS = 36
FRAME_BYTES = FRAME_WORDS * 8


def register_lines(regs: dict[str, int]) -> list[str]:
    """Registers four to a line, as both runners print them."""
    names = list(regs)
    return ["  " + "  ".join(f"{n:>6} {regs[n]:#018x}" for n in names[i:i + 4])
            for i in range(0, len(names), 4)]


def boot_stop_line(output: str) -> str:
    """The kernel's own 'BOOT STOPPED: ...' line from the console, or ''."""
    for line in reversed(output.splitlines()):
        if "BOOT STOPPED:" in line:
            return line[line.index("BOOT STOPPED:"):].strip()
    return ""


def halt_report(frame: bytes, output: str, describe: Callable[[int], str]) -> str:
    """The report for a core halted at kernel_halted: a panic (the frame
    holds the exception: its class decoded, ELR and FAR named, every
    register), or a stop at boot (an all-zero frame from boot_fail: the
    kernel's own message, no registers to show)."""
    from harness.machine.exceptions import decode_esr
    words = struct.unpack(f"<{FRAME_WORDS}Q", frame)
    if not any(words):
        said = boot_stop_line(output)
        return ("CRASH: the kernel stopped at boot: " +
                (said.removeprefix("BOOT STOPPED:").strip() if said else
                 "kernel_halted with an empty frame and no BOOT STOPPED message on the console"))
    regs = {f"x{i}": words[i] for i in range(31)}
    regs["sp_el0"] = words[31]
    elr, esr, far = words[32], words[34], words[35]
    return "\n".join(["CRASH: kernel panic",
                      f"  class: {decode_esr(esr)} (ESR {esr:#010x})",
                      f"  ELR {elr:#x} {describe(elr)}",
                      f"  FAR {far:#x} {describe(far)}",
                      *register_lines(regs)])


# ---- Forth words, for naming an address ---------------------------------------

def forth_words(read: Read, latest: int) -> Iterator[tuple[str, int]]:
    """(name, xt) of every word in the kernel's dictionary, newest first,
    from the header at the address `latest` holds: link (8 bytes, relative)
    count (1) name, padded, 4 info bytes, xt (kernel/macros.inc).  A broken
    dictionary ends the walk; it never fails a report."""
    try:
        hdr = struct.unpack("<Q", read(latest, 8))[0]
        for _ in range(100_000):
            if not hdr:
                break
            link, n = struct.unpack("<qB", read(hdr, 9))
            name = bytes(read(hdr + 9, n)).decode("latin-1")
            yield name, ((hdr + 9 + n + 3) & ~3) + 4
            hdr = hdr + link if link else 0
    except Exception:  # noqa: BLE001 - a report must not fail on a broken dictionary
        return


def forth_word_at(read: Read, latest: int, addr: int) -> tuple[str, int] | None:
    """The (name, xt) of the newest-defined code at or below addr."""
    best = None
    for name, xt in forth_words(read, latest):
        if xt <= addr and (best is None or xt > best[1]):
            best = (name, xt)
    return best


def describe(symbol: str, read: Read, latest: int, addr: int) -> str:
    """`symbol` (the ELF's name for addr, '?' outside the image), else the
    Forth word whose code holds addr: 'in Forth word NAME+0xOFF'."""
    if symbol == "?":
        word = forth_word_at(read, latest, addr)
        if word:
            return f"in Forth word {word[0]}+{addr - word[1]:#x}"
    return symbol
