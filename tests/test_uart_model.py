"""The S5L UART model, register by register, against the bit numbers of
docs/hardware.md (The t8122 platform) and m1n1's src/uart_regs.h (written out here as
literals, not imported from the model); the TX side on a clock the test
moves by hand (and once on the Events multiplexer a core would use)."""

import pytest

from harness.machine.events import Events
from harness.machine.uart import S5lUart

BASE = 0x2_A120_0000
ULCON, UCON, UFCON, UTRSTAT, UFSTAT, UTXH, URXH, UBRDIV = 0x00, 0x04, 0x08, 0x10, 0x18, 0x20, 0x24, 0x28
FIFO_ON = 0x1                  # UFCON bit 0 (S3C2410_UFCON_FIFOMODE), TX trigger 0
TXTHR_ENA = 1 << 13            # UCON
# 8N1 at UBRDIV 12: 10 bits x 16 x 13 cycles of 24 MHz = 86.67 us, on a
# 3.5 GHz clock 303,333 units
FRAME = 303_333

RXD, TXBE, TXE = 1 << 0, 1 << 1, 1 << 2
RXTHRESH, TXTHRESH, RXTO = 1 << 4, 1 << 5, 1 << 9
RXFULL, TXFULL = 1 << 8, 1 << 9


def rx_count(ufstat):
    return ufstat & 0xF


def tx_count(ufstat):
    return (ufstat >> 4) & 0xF


@pytest.fixture
def uart():
    return S5lUart(BASE)


def test_idle_uart_status(uart):
    st = uart.read(UTRSTAT, 4)
    assert st & TXBE and st & TXE          # ready to send
    assert not st & RXD                    # nothing received
    fs = uart.read(UFSTAT, 4)
    assert rx_count(fs) == 0 and tx_count(fs) == 0
    assert not fs & RXFULL and not fs & TXFULL


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def timed(**kw):
    clock = Clock()
    return S5lUart(BASE, clock=clock, **kw), clock


def test_transmit_goes_to_sink_and_output_one_frame_later():
    sent = []
    u, clock = timed(tx_sink=sent.append)
    for b in b"ok\r\n":
        while not u.read(UTRSTAT, 4) & TXBE:   # the m1n1 driver waits for this
            clock.t += 1000
        u.write(UTXH, 4, b | 0xFFFFFF00)     # only the low byte is sent
    assert bytes(sent) == b"ok"             # CR in the shift register, LF in the
    assert not u.read(UTRSTAT, 4) & TXE      # one-byte buffer (FIFO mode off)
    clock.t += 2 * FRAME
    u.catch_up()                             # (no events here: time moves when looked at)
    assert bytes(sent) == b"ok\r\n"
    assert u.output == bytearray(b"ok\r\n")
    assert u.read(UTRSTAT, 4) & TXE          # uart_flush's condition
    assert tx_count(u.read(UFSTAT, 4)) == 0


def test_transmit_byte_store():
    u, clock = timed()
    u.write(UTXH, 1, 0x41)
    assert u.output == b""
    clock.t = FRAME
    u.catch_up()
    assert u.output == b"A"


def test_frame_time_from_ubrdiv_and_ulcon():
    u, _ = timed()
    assert u.frame_time == FRAME and round(u.baud) == 115385     # m1n1's UBRDIV for 115200
    u.write(UBRDIV, 4, 0)                                        # 1500000 baud: m1n1's proxy rate
    assert u.frame_time == 23_333
    u.write(UBRDIV, 4, 12)
    u.write(ULCON, 4, 0x3 | 1 << 2)                              # 8N2: 11 bits
    assert u.frame_time == 333_667
    u.write(ULCON, 4, 0x2 | 5 << 3)                              # 7E1: 10 bits
    assert u.frame_time == FRAME


def test_bytes_leave_back_to_back_at_the_line_rate():
    times = []
    clock = Clock()
    u = S5lUart(BASE, clock=clock, tx_sink=lambda b: times.append(clock.t))
    u.write(UFCON, 4, FIFO_ON)
    for b in b"0123456789":
        u.write(UTXH, 4, b)
    for clock.t in range(0, 11 * FRAME, 997):   # looked at now and then
        u.read(UTRSTAT, 4)
    assert u.output == b"0123456789"
    # each one frame after the one before, whenever it was looked at
    assert len(times) == 10
    assert all(times[i] - (i + 1) * FRAME < 997 for i in range(10))


def test_tx_fifo_holds_16_and_reports_count_and_full():
    u, clock = timed()
    u.write(UFCON, 4, FIFO_ON)
    u.write(UTXH, 4, 0x30)                       # straight into the shift register
    st = u.read(UTRSTAT, 4)
    assert st & TXBE and not st & TXE            # FIFO empty, still sending
    for i in range(15):
        u.write(UTXH, 4, 0x31 + i)
    fs = u.read(UFSTAT, 4)
    assert tx_count(fs) == 15 and not fs & TXFULL
    u.write(UTXH, 4, 0x40)
    fs = u.read(UFSTAT, 4)
    assert fs & TXFULL and tx_count(fs) == 15    # 16 in the FIFO; the count saturates
    assert not u.read(UTRSTAT, 4) & TXBE
    clock.t = FRAME                              # one byte left: room for one
    fs = u.read(UFSTAT, 4)
    assert not fs & TXFULL and tx_count(fs) == 15 and u.output == b"0"
    clock.t = 17 * FRAME
    assert u.read(UTRSTAT, 4) & TXE and len(u.output) == 17


def test_without_fifo_mode_the_buffer_is_one_byte():
    u, clock = timed()                           # UFCON 0 as m1n1 hands over (assumed)
    u.write(UTXH, 4, 0x41)                       # shift register
    u.write(UTXH, 4, 0x42)                       # the one-byte buffer
    assert u.read(UFSTAT, 4) & TXFULL and not u.read(UTRSTAT, 4) & TXBE
    clock.t = FRAME
    assert u.read(UTRSTAT, 4) & TXBE


def test_a_byte_written_with_the_fifo_full_is_refused_and_lost():
    refused = []
    u, clock = timed()
    u.on_refusal = refused.append
    u.write(UFCON, 4, FIFO_ON)
    for i in range(17):                          # shift register + 16
        u.write(UTXH, 4, 0x61 + i)
    assert not refused and not u.bad_accesses
    u.write(UTXH, 4, 0x5A)
    assert refused == ["UART TX overrun: byte 0x5a written with the FIFO full"]
    assert [(a.kind, a.offset, a.reason) for a in u.bad_accesses] == [
        ("write", UTXH, "UART TX overrun: byte 0x5a written with the FIFO full")]
    clock.t = 100 * FRAME
    u.catch_up()
    assert u.output == bytes(range(0x61, 0x61 + 17))     # the 0x5a never went out


def test_tx_fifo_reset_drops_what_waits_not_what_is_sent():
    u, clock = timed()
    u.write(UFCON, 4, FIFO_ON)
    for b in b"abc":
        u.write(UTXH, 4, b)
    u.write(UFCON, 4, FIFO_ON | 1 << 2)          # TX FIFO reset, self-clearing
    assert u.read(UFCON, 4) == FIFO_ON
    clock.t = 10 * FRAME
    u.catch_up()
    assert u.output == b"a"


def test_tx_threshold_is_an_edge_when_the_fifo_drains():
    u, clock = timed()
    u.write(UFCON, 4, FIFO_ON)
    u.write(UCON, 4, 0x5 | TXTHR_ENA)            # TX threshold enable (bit 13)
    assert not u.irq_pending()                   # drained already: no edge, no interrupt
    assert not u.read(UTRSTAT, 4) & TXTHRESH
    u.write(UTXH, 4, ord("x"))                   # straight to the shift register: the
    assert u.irq_pending()                       # FIFO count fell to 0 (UNVERIFIED edge)
    u.write(UTRSTAT, 4, TXTHRESH)
    for b in b"yz":
        u.write(UTXH, 4, b)                      # y z wait
    assert not u.irq_pending()
    clock.t = FRAME                              # y to the shift register
    u.catch_up()
    assert not u.irq_pending()
    clock.t = 2 * FRAME                          # z: the FIFO is empty, trigger level 0
    u.catch_up()
    assert u.irq_pending() and not u.rx_irq_pending()
    assert u.read(UTRSTAT, 4) & TXTHRESH and u.tx_edges == 2
    u.write(UTRSTAT, 4, TXTHRESH)                # write 1 to clear: it stays clear
    assert not u.irq_pending()
    clock.t = 10 * FRAME
    assert not u.read(UTRSTAT, 4) & TXTHRESH


def test_tx_threshold_needs_irq_mode_and_the_enable_and_a_level():
    u, clock = timed()
    u.write(UFCON, 4, FIFO_ON | 1 << 6)          # trigger level 4 (UFCON 7:6 = 1)
    u.write(UCON, 4, 0x5)                        # no enable: no edge latched
    for b in b"0123456":
        u.write(UTXH, 4, b)
    clock.t = 3 * FRAME
    u.catch_up()
    assert not u.read(UTRSTAT, 4) & TXTHRESH
    u.write(UCON, 4, 0x1 | TXTHR_ENA)            # TX mode off (bits 3:2): no interrupt
    clock.t = 10 * FRAME
    u.catch_up()
    assert not u.irq_pending()
    u.write(UCON, 4, 0x5 | TXTHR_ENA)
    for b in b"abcdef":                          # a in the shift register, 5 wait
        u.write(UTXH, 4, b)
    assert not u.irq_pending()                   # level 4: a straight through is no edge
    clock.t += FRAME                             # b out of the FIFO: 4 left
    u.catch_up()
    assert u.irq_pending() and u.tx_edges == 1


def test_the_machine_is_woken_at_the_edge_and_when_the_line_is_idle():
    # on the Events multiplexer a core has: no wake-up per byte, only at
    # the TX threshold edge (while its interrupt is on) and the line's end
    from test_m3_models import FakeCore
    core = FakeCore()
    idle = []
    u = S5lUart(BASE, clock=lambda: core.now, events=Events.of(core))
    u.tx_log = []
    u.on_tx_idle = lambda: idle.append(core.now)
    u.write(UFCON, 4, FIFO_ON)
    u.write(UCON, 4, 0x5 | TXTHR_ENA)
    u.write(UTXH, 4, ord("A"))                   # straight through: an edge at once
    u.write(UTRSTAT, 4, TXTHRESH)
    for b in b"BCDE":
        u.write(UTXH, 4, b)
    core.run_to(4 * FRAME - 1)
    assert not u.irq_pending()
    core.run_to(4 * FRAME)                       # E into the shift register: the FIFO empty
    assert u.irq_pending() and u.output == b"ABCD"
    u.write(UTRSTAT, 4, TXTHRESH)
    core.wait()                                  # WFI: fast-forwarded to the end
    assert u.output == b"ABCDE" and core.now == 5 * FRAME and core.deadline is None
    assert idle == [5 * FRAME]
    assert u.tx_log == [((i + 1) * FRAME, b) for i, b in enumerate(b"ABCDE")]
    assert Events.of(core).fired <= 3            # not one a byte


def test_receive_in_order_with_rx_ready(uart):
    uart.feed(b"hi")
    assert uart.read(UTRSTAT, 4) & RXD
    assert rx_count(uart.read(UFSTAT, 4)) == 2
    assert uart.read(URXH, 4) == ord("h")
    assert rx_count(uart.read(UFSTAT, 4)) == 1
    assert uart.read(URXH, 4) == ord("i")
    assert not uart.read(UTRSTAT, 4) & RXD
    assert rx_count(uart.read(UFSTAT, 4)) == 0


def test_rx_fifo_holds_16_and_refills_from_host(uart):
    data = bytes(range(40))
    uart.feed(data)
    fs = uart.read(UFSTAT, 4)
    assert fs & RXFULL                     # 16 bytes in the FIFO
    assert rx_count(fs) == 15              # the 4-bit count saturates, as m1n1's vuart does
    got = bytes(uart.read(URXH, 4) for _ in range(40))
    assert got == data
    assert not uart.read(UFSTAT, 4) & RXFULL
    assert uart.pending_input == 0


def test_rx_fifo_count_below_full(uart):
    uart.feed(b"x" * 5)
    fs = uart.read(UFSTAT, 4)
    assert rx_count(fs) == 5 and not fs & RXFULL


def test_empty_urxh_reads_zero_and_calls_hook():
    calls = []
    u = S5lUart(BASE, on_rx_empty=calls.append)
    assert u.read(URXH, 4) == 0
    assert calls == [u]


def test_hook_waits_for_a_real_poll_not_a_tx_wait():
    calls = []
    clock = Clock()
    u = S5lUart(BASE, on_rx_empty=calls.append, idle_polls=4, clock=clock)
    for b in b"printing a long line":
        u.read(UTRSTAT, 4)                 # TX wait
        u.read(UTRSTAT, 4)                 # a glance at RX between bytes
        u.write(UTXH, 4, b)
        clock.t += FRAME
    assert calls == []
    for _ in range(4):
        assert not u.read(UTRSTAT, 4) & RXD   # a KEY loop
    assert calls == [u]


def test_waiting_for_the_line_to_drain_is_not_a_poll():
    calls = []
    clock = Clock()
    u = S5lUart(BASE, on_rx_empty=calls.append, idle_polls=4, clock=clock)
    u.write(UFCON, 4, FIFO_ON)
    for b in b"0123456789":
        u.write(UTXH, 4, b)
    while not u.read(UTRSTAT, 4) & TXE:    # uart_flush: a read a while, no byte sent
        clock.t += FRAME // 3
    assert calls == []                     # the transmitter was busy: TX waits
    for _ in range(3):
        u.read(UTRSTAT, 4)
    assert calls == [u]                    # then an idle line polled: RX polls


def test_hook_can_feed_more_input():
    u = S5lUart(BASE, on_rx_empty=lambda uart: uart.feed(b"more"), idle_polls=1)
    assert u.read(UTRSTAT, 4) & RXD        # fed by the hook during this very poll
    assert bytes(u.read(URXH, 4) for _ in range(4)) == b"more"


def test_hook_not_called_while_input_remains():
    calls = []
    u = S5lUart(BASE, on_rx_empty=calls.append, idle_polls=1)
    u.feed(b"ab")
    u.read(UTRSTAT, 4)
    u.read(URXH, 4)
    u.read(URXH, 4)
    assert calls == []
    u.read(UTRSTAT, 4)
    assert calls == [u]


def test_control_registers_read_back(uart):
    for off, val in ((ULCON, 0x3), (UCON, 0x3205), (UFCON, 0x31), (UBRDIV, 12)):
        uart.write(off, 4, val)
        assert uart.read(off, 4) == val


def test_ufcon_rx_reset_drops_fifo_and_self_clears(uart):
    uart.feed(b"abc")
    assert uart.read(UTRSTAT, 4) & RXD     # bytes have reached the FIFO
    uart.write(UFCON, 4, 0x1 | 0x2)        # FIFO enable | RX FIFO reset
    assert uart.read(UFCON, 4) == 0x1
    assert not uart.read(UTRSTAT, 4) & RXD


def test_rx_irq_needs_irq_mode_and_an_enable(uart):
    uart.feed(b"z")
    uart.write(UCON, 4, 0x0)               # RX mode off
    assert not uart.rx_irq_pending()
    uart.write(UCON, 4, 0x5)               # IRQ/polled mode, no threshold/timeout enable
    assert not uart.rx_irq_pending()
    uart.write(UCON, 4, 0x5 | 1 << 9)      # RX timeout enable (bit 9)
    assert uart.rx_irq_pending()
    assert uart.read(UTRSTAT, 4) & RXTO
    uart.write(UCON, 4, 0x5 | 1 << 12)     # RX threshold enable (bit 12)
    assert uart.rx_irq_pending()
    assert uart.read(UTRSTAT, 4) & RXTHRESH


def test_rx_irq_clears_after_drain_and_write_one_to_clear(uart):
    uart.write(UCON, 4, 0x5 | 1 << 9 | 1 << 12)
    uart.feed(b"q")
    assert uart.rx_irq_pending()
    uart.write(UTRSTAT, 4, RXTO | RXTHRESH)
    assert uart.rx_irq_pending()           # data still waiting: raised again
    assert uart.read(URXH, 4) == ord("q")
    assert uart.rx_irq_pending()           # latched until cleared
    uart.write(UTRSTAT, 4, RXTO | RXTHRESH)
    assert not uart.rx_irq_pending()
    assert not uart.read(UTRSTAT, 4) & (RXTO | RXTHRESH)


def test_no_rx_irq_without_data(uart):
    uart.write(UCON, 4, 0x5 | 1 << 9 | 1 << 12)
    assert not uart.rx_irq_pending()


def test_unknown_offsets_read_zero_and_are_recorded(uart):
    assert uart.read(0x2C, 4) == 0
    uart.write(0x100, 4, 0xDEAD)
    assert [(a.kind, a.offset, a.value) for a in uart.bad_accesses] == [
        ("read", 0x2C, None), ("write", 0x100, 0xDEAD)]


def test_wide_access_is_recorded(uart):
    assert uart.read(UTRSTAT, 8) == 0
    assert uart.bad_accesses[0].size == 8


def test_read_only_registers_ignore_writes(uart):
    uart.write(UFSTAT, 4, 0xFFFF)
    uart.write(URXH, 4, 0x41)
    assert uart.read(UFSTAT, 4) == 0
    assert uart.output == b"" and uart.bad_accesses == []
