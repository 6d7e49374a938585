"""Cross-check: the same Forth lines, the same kernel code, counted twice.

QEMU runs the virt build under `-icount shift=0,sleep=off`, where the ARM
PMU's INST_RETIRED (what `instructions` reads on virt) is exact; the
emulated M3 serves the Apple PMC1 (what `instructions` reads on m3) from
unicorn's exact retired-instruction count.  Both builds share every line of
code except kernel/boards/, so for every probe

    count on m3 - count on virt == the board code the probe runs, m3's path
                                   length minus virt's (from the two ELFs)

which is 0 for everything but EMIT: the m3 UART's base address takes one
more instruction to load (BOARD_DIFFERENCES names each routine's share).
EMIT goes through the console's TX ring on both boards (kernel/console.S);
its probe sleeps first so that the ring is empty on m3 too (the line's own
echo drains at the line rate there), and both take the ring's fast path.
One difference is not board code: an image address compiled as a literal
(e.g. `['] word` inside the bracket) is one instruction longer on m3,
whose DRAM lies above 4 GiB; the probes account for it by name.
A probe that differs otherwise is a bug in one of the two emulations (or in
the harness's exception entry): docs/qemu.md says how to chase it.
"""

from __future__ import annotations

import re

import pytest
from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs
from elftools.elf.elffile import ELFFile

from harness.machine.m3 import M3
from harness.qemu import QemuVirt
from qemu_support import need_qemu

# name: (Forth line that prints one count, board routines run inside the
# bracket, words whose xt the bracket loads as a literal)
PROBES = {
    "empty bracket": ("instructions instructions swap - .", [], []),
    "literal and drop": ("instructions 1 drop instructions swap - .", [], []),
    "compiled bracket": (": t0 instructions instructions swap - . ; t0", [], []),
    "compiled + drop": (": t1 instructions 1 2 + drop instructions swap - . ; t1", [], []),
    "do loop x1000": (": t2 instructions 1000 0 do loop instructions swap - . ; t2", [], []),
    "nested calls": (": sq dup * ; : t3 instructions 7 sq sq drop instructions swap - . ; t3", [], []),
    "/mod and *": (": t4 instructions 100 7 /mod * drop instructions swap - . ; t4", [], []),
    "interpreting a line": ("instructions 1 2 3 + + drop instructions swap - .", [], []),
    "fault caught (data abort: exception entry, vector, eret)":
        (": p0 0 @ ; : t5 ['] p0 instructions swap catch drop instructions swap - . ; t5", [], []),
    "throw caught": (": p1 -1 throw ; : t6 ['] p1 instructions swap catch drop instructions swap - . ; t6",
                     [], []),
    # the screen mirror off (m3 would also draw the glyph: docs/framebuffer.md),
    # so what is compared is the UART path and the mirror's on/off check
    "emit (console UART)": (": t8 0 fb-console 50 ms instructions 65 emit instructions swap - . "
                            "-1 fb-console ; t8", ["uart_tx_try"], []),
    "key? (console UART)": ("instructions key? drop instructions swap - .", ["uart_rx_ready"], []),
    "an address literal (the load address, not board code)":
        (": p2 ; : t7 instructions ['] p2 drop instructions swap - . ; t7", [], ["p2"]),
}


# The benchmark words' own bracket (kernel/forth/bench.S bench-sample: the
# board's instruction and cycle counters around one EXECUTE of an xt), on
# each benchmarked primitive: (stack before, the primitive, clean-up after).
BENCHMARKED = {
    "dup": ("5", "dup", "2drop"), "drop": ("5 6", "drop", "drop"), "swap": ("5 6", "swap", "2drop"),
    "over": ("5 6", "over", "2drop drop"), "+": ("5 6", "+", "drop"), "*": ("5 6", "*", "drop"),
    "/": ("60 7", "/", "drop"), "/mod": ("60 7", "/mod", "2drop"),
    "@": ("here", "@", "drop"), "!": ("5 here", "!", ""), "noop colon word": ("", "bench-noop0", ""),
}
PROBES.update({
    f"bench-sample {name}": (f": bench-noop0 ; {before} ' {word} bench-sample drop . {after}", [], [])
    for name, (before, word, after) in BENCHMARKED.items()})


def movimm_length(value: int) -> int:
    """Instructions kernel/forth/compiler.S's compile_movimm emits for a
    literal: movz + movk per other non-zero halfword, or movn + movk per
    other halfword that is not 0xffff, whichever is shorter."""
    halves = [(value >> (16 * i)) & 0xFFFF for i in range(4)]
    return min(max(1, sum(h != 0 for h in halves)), max(1, sum(h != 0xFFFF for h in halves)))


# Every bracket ends in board_instructions and begins in its tail; bench-sample's
# also runs board_cycles twice inside.
BRACKET = ["board_instructions", "board_cycles"]


def straight_path(elf, name: str) -> list[str]:
    """The instructions of a board routine from its entry to its first ret,
    every conditional branch falling through (its path when the device is
    ready): what one call retires."""
    with open(elf, "rb") as f:
        e = ELFFile(f)
        sym = next(s for s in e.get_section_by_name(".symtab").iter_symbols() if s.name == name)
        text = e.get_section_by_name(".text")
        off = sym["st_value"] - text["sh_addr"]
        code = text.data()[off:off + 256]
    out = []
    for insn in Cs(CS_ARCH_ARM64, CS_MODE_ARM).disasm(code, sym["st_value"]):
        out.append(f"{insn.mnemonic} {insn.op_str}".strip())
        if insn.mnemonic == "ret":
            return out
    raise AssertionError(f"{name}: no ret within 64 instructions")


@pytest.fixture(scope="module")
def machines(kernel, virt_kernel):
    need_qemu()
    m3 = M3(kernel.elf)
    assert m3.run(100_000_000).status == "idle"
    q = QemuVirt(virt_kernel.elf)
    assert q.run().status == "idle"
    yield m3, q
    q.close()


def _count(machine, line: str) -> int:
    before = len(machine.output)
    r = machine.run_script(line + "\n", 200_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output[-1000:]}"
    out = machine.output[before:]
    assert "error" not in out, out
    m = re.search(r"(-?\d+)\s+ok\s*$", out)
    assert m, f"no count in {out!r}"
    return int(m.group(1))


# The board routines the probes run, with what one call retires on m3 minus
# on virt, and why.  Pinned against the two ELFs below.
BOARD_DIFFERENCES = {
    "board_instructions": (0, "`mrs x0, <counter>; ret` on both: the bracket itself adds nothing"),
    "board_cycles": (0, "`mrs x0, <counter>; ret` on both"),
    "uart_putc": (2, "m3 loads the UART's base from what the ADT said (adrp/add, ldr) and "
                     "checks there is one (cbz): 4 instructions; virt's fixed PL011 is movz + movk"),
    "uart_tx_try": (2, "as uart_putc: m3's base from the ADT (adrp/add, ldr, cbz), virt's movz + movk; "
                       "then look (UFSTAT TX full / FR.TXFF), write, x0 = 1 on both"),
    "uart_rx_ready": (2, "m3: the base from the ADT (adrp/add, ldr, cbz) and a default 0 (mov); "
                         "virt: movz + movk, and the eor that turns PL011 RXFE (empty) into ready"),
}


@pytest.mark.parametrize("routine", list(BOARD_DIFFERENCES))
def test_named_board_difference(kernel, virt_kernel, routine):
    diff, why = BOARD_DIFFERENCES[routine]
    m3 = straight_path(kernel.elf, routine)
    virt = straight_path(virt_kernel.elf, routine)
    assert len(m3) - len(virt) == diff, f"{routine}: {why}\n  m3:   {m3}\n  virt: {virt}"


def test_the_bracket_reads_the_counter_first_thing(kernel, virt_kernel):
    m3 = straight_path(kernel.elf, "board_instructions")
    virt = straight_path(virt_kernel.elf, "board_instructions")
    assert m3 == ["mrs x0, s3_2_c15_c1_0", "ret"]          # Apple PMC1
    assert virt == ["mrs x0, pmevcntr0_el0", "ret"]         # INST_RETIRED (board_counters_init)
    assert straight_path(kernel.elf, "board_cycles") == ["mrs x0, s3_2_c15_c0_0", "ret"]
    assert straight_path(virt_kernel.elf, "board_cycles") == ["mrs x0, pmccntr_el0", "ret"]


@pytest.mark.parametrize("probe", list(PROBES))
def test_instruction_counts_agree(machines, probe):
    line, board_code, address_literals = PROBES[probe]
    m3, q = machines
    got_m3, got_virt = _count(m3, line), _count(q, line)
    expected = sum(BOARD_DIFFERENCES[r][0] for r in board_code + BRACKET)
    # An image address compiled as a literal: m3's DRAM is at 0x8_xxxx_xxxx
    # (movz + 2 movk), virt's at 0x4xxx_xxxx (movz + movk).
    expected += sum(movimm_length(_count(m3, f"' {w} .")) - movimm_length(_count(q, f"' {w} ."))
                    for w in address_literals)
    assert got_m3 - got_virt == expected, (
        f"{probe}: m3 (unicorn) {got_m3}, virt (QEMU -icount INST_RETIRED) {got_virt}; "
        f"board code {board_code} and address literals {address_literals} explain {expected}")
    assert got_virt > 0


def test_an_image_address_literal_is_one_instruction_longer_on_m3(machines):
    m3, q = machines
    m3.run_script(": p3 ;\n")
    q.run_script(": p3 ;\n")
    assert movimm_length(_count(m3, "' p3 .")) == 3
    assert movimm_length(_count(q, "' p3 .")) == 2
