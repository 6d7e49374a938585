"""The console's output meets a UART that sends at the line rate.

The emulated M3's UART (harness/machine/uart.py) drains a 16-byte FIFO one
byte a frame time (86.7 us at 115200 baud 8N1, 303,333 cycles of the
3.5 GHz core) and refuses a byte written with the FIFO full; its TX
threshold interrupt is an edge.  The kernel (kernel/console.S) puts output
in a ring that the UART's interrupt drains, so printing does not spin:
these pin that on the real payload, on emulated time.
"""

from __future__ import annotations

import re

import pytest
from unicorn import UC_HOOK_CODE

from harness.machine.m3 import CPU_HZ, M3, M3Config

FRAME = 303_333                 # 10 bits x 16 x 13 cycles of 24 MHz, in 3.5 GHz cycles
BLOCK = 512                     # a block boundary's worth of error: where the kernel's write
                                # lands in emulated time (an MMIO callback sees its block's end)


def booted(kernel, **cfg) -> M3:
    m = M3(kernel.elf, M3Config(**cfg))
    r = m.run(80_000_000)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output}"
    return m


def say(m: M3, line: str, limit: int = 300_000_000):
    before = len(m.output)
    r = m.run_script(line + "\n", limit)
    assert r.status == "idle", f"{r.status}: {r.report}\n{r.output[-2000:]}"
    return m.output[before:], r


def numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def answer(m: M3, line: str) -> list[int]:
    out, _ = say(m, line)
    assert out.startswith(line), out
    return numbers(out[len(line):])


def tx_stats(m: M3) -> dict[str, int]:
    irqs, polled, pumped, waits, sent = answer(m, "console-tx-stats . . . . .")
    return dict(sent=sent, waits=waits, pumped=pumped, polled=polled, irqs=irqs)


def stamp_tx(m: M3) -> list[tuple[int, int]]:
    """(emulated time, byte) of every byte from now on, the instant it
    left the UART's shift register."""
    m.uart.catch_up()
    m.uart.tx_log = []
    return m.uart.tx_log


def test_the_frame_time_is_the_line_rate_m1n1_leaves(kernel):
    m = booted(kernel)
    assert m.uart.ubrdiv == 12 and m.uart.frame_time == FRAME      # 115200 baud, m1n1's formula
    assert abs(FRAME / CPU_HZ - 86.67e-6) < 0.01e-6
    fast = booted(kernel, uart_baud=1_500_000)                    # m1n1's proxy rate: UBRDIV 0
    assert fast.uart.ubrdiv == 0 and fast.uart.frame_time == 23_333


@pytest.mark.parametrize("baud,frame", [(115_200, FRAME), (1_500_000, 23_333)])
def test_bytes_leave_one_frame_apart(kernel, baud, frame):
    m = booted(kernel, uart_baud=baud)
    log = stamp_tx(m)
    say(m, ": t 300 0 do 65 emit loop ; t")
    times = [t for t, b in log if b == ord("A")]
    assert len(times) == 300
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(abs(g - frame) <= BLOCK for g in gaps), sorted(set(gaps))[:5] + sorted(set(gaps))[-5:]


def test_a_long_print_waits_on_the_ring_while_another_thread_runs(kernel):
    m = booted(kernel)
    say(m, "variable n : count ( -- ) begin 1 n +! 1 ms again ; ' count 10 spawn drop")
    before = tx_stats(m)
    log = stamp_tx(m)
    start_insns, start_now = m.cpu.instructions, m.cpu.now
    out, r = say(m, ": t ( -- ) 2000 0 do i 10 mod 48 + emit loop ; n @ t n @ swap - .")
    text = "".join(chr(b) for _, b in log)
    digits = "0123456789" * 200
    assert digits in text and digits in out                 # every byte, in order
    ran = numbers(out[out.index(digits) + len(digits):])[0]
    after = tx_stats(m)
    # the printing thread found the ring full and waited: the counter
    # (priority 10, below the console's 32) ran meanwhile, once a ms
    assert after["waits"] > before["waits"]
    assert ran >= 50
    assert after["irqs"] > before["irqs"] + 50               # the FIFO refilled by its interrupt
    # 2,000 bytes took 2,000 frames of emulated time, and the core did not
    # spend them spinning: far fewer instructions than that
    elapsed = m.cpu.now - start_now
    assert elapsed >= 2000 * FRAME
    assert r.instructions - start_insns < 10_000_000 < 2000 * FRAME // 50


def test_a_byte_written_to_a_full_fifo_stops_the_run(kernel):
    m = booted(kernel)
    utxh = m.chip.uart.base + 0x20
    r = m.run_script(f": flood ( -- ) 40 0 do 65 {utxh} l! loop ; flood\n", 50_000_000)
    assert r.status == "crash"
    assert "UART TX overrun: byte 0x41 written with the FIFO full" in r.report
    assert "in Forth word flood" in r.report
    assert m.uart.overruns == 1 and m.uart.bad_accesses[-1].reason.startswith("UART TX overrun")


def test_no_tx_interrupt_through_a_disabled_aic_and_the_output_still_arrives(kernel):
    m = booted(kernel)
    a = m.chip.aic
    before = tx_stats(m)
    m.aic.write(a.enable_offset, 4, 0)                       # the AIC's global enable off
    out, _ = say(m, ": t 1500 0 do 66 emit loop ; t")
    assert "B" * 1500 in out
    assert m.chip.uart.irq in m.aic.starved                  # raised, refused, as on silicon
    m.aic.write(a.enable_offset, 4, 1)
    after = tx_stats(m)
    # the bytes went by the console's timed waits, not by an interrupt
    # (the stats line itself came by interrupts again: the AIC is back on)
    assert after["pumped"] - before["pumped"] >= 1000
    assert after["waits"] > before["waits"]


def test_a_masked_line_delivers_nothing(kernel):
    m = booted(kernel)
    irq = m.chip.uart.irq
    before = m.aic.events
    # the kernel arms the TX interrupt; keep its line masked at the AIC
    # whatever the kernel unmasks, and the UART's cause stays unanswered
    unmasked = m.aic.on_unmask

    def remask(i):
        if i == irq:
            m.aic.masked[i // 32] |= 1 << (i % 32)
        unmasked(i)
    m.aic.on_unmask = remask
    remask(irq)                                  # (the console had it open for a key)
    out, _ = say(m, ": t 100 0 do 67 emit loop ; t")
    assert "C" * 100 in out
    assert m.aic.events == before and m.aic.is_masked(irq)
    assert m.uart.tx_edges > 0


def test_the_echo_is_on_the_screen_before_its_byte_leaves_the_uart(kernel):
    m = M3(kernel.elf)
    screen = []                                  # (time, byte) of every byte drawn
    fbcon = m.symbols.address("fbcon_putc", m.load_base)
    m.cpu.uc.hook_add(UC_HOOK_CODE, lambda uc, a, s, u: screen.append((m.cpu.now, m.cpu.reg_read("x0") & 0xFF)),
                      begin=fbcon, end=fbcon)
    assert m.run(80_000_000).status == "idle"
    del screen[:]
    log = stamp_tx(m)
    # a thread above the console's priority fills the ring; then a key
    say(m, ": spew ( -- ) 3000 0 do 46 emit loop ; ' spew 40 spawn drop\n7 .")
    drawn = next(t for t, b in screen if b == ord("7"))
    sent = next(t for t, b in log if b == ord("7"))
    assert sum(1 for _, b in log if b == ord(".")) >= 3000
    # the screen had it at once; the UART sent it after what the ring held
    assert sent - drawn > 500 * FRAME
    queued = sum(1 for t, b in log if drawn < t < sent)
    assert queued > 500


def test_bye_waits_for_the_wire(kernel):
    m = booted(kernel)
    r = m.run_script("1 2 + . bye\n", 50_000_000)
    assert r.status == "reboot"
    assert r.output.endswith("1 2 + . bye 3 \n")
    assert m.uart.tx_idle


def test_two_runs_are_the_same(kernel):
    def once():
        m = booted(kernel)
        log = stamp_tx(m)
        say(m, ": t 1500 0 do i 26 mod 97 + emit loop ; t")
        return m.output, m.cpu.instructions, m.cpu.now, log, m.uart.tx_edges
    assert once() == once()


def test_two_threads_filling_the_ring_both_get_through(kernel):
    # the second thread to find the ring full sleeps a wait's period and
    # looks again (kernel/console.S console_tx_block): nothing lost
    m = booted(kernel)
    line = ": xs 1500 0 do 120 emit loop ; : ys 1500 0 do 121 emit loop ; ' xs 40 spawn drop ' ys 40 spawn drop"
    out, _ = say(m, line)
    printed = out[len(line):]
    assert printed.count("x") == 1500 and printed.count("y") == 1500
    assert tx_stats(m)["waits"] > 0


def test_a_panic_report_is_polled_out_at_the_line_rate_without_spinning(kernel):
    # a kernel fault at boot, before the scheduler: every byte polled
    # (uart_putc waits a frame at a time in WFI: m3_tx_pause)
    import struct
    m = M3(kernel.elf)
    m.cpu.uc.mem_write(m.symbols.address("map_range", m.load_base), struct.pack("<I", 0))
    log = stamp_tx(m)
    r = m.run(10_000_000)
    assert r.status == "crash" and "KERNEL PANIC" in r.output
    sent = len(log)
    assert sent > 500
    span = log[-1][0] - log[0][0]
    assert span >= (sent - 1) * FRAME                       # no faster than the line
    assert span <= (sent - 1) * FRAME * 1.05                # and hardly slower: a byte a frame
    assert r.instructions < 200 * sent                      # the waits were WFI, not spins
