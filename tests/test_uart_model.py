"""The S5L UART model, register by register, against the bit numbers of
shared/spec/m1n1-boot.md and m1n1's src/uart_regs.h (written out here as
literals, not imported from the model)."""

import pytest

from harness.machine.uart import S5lUart

BASE = 0x2_A120_0000
ULCON, UCON, UFCON, UTRSTAT, UFSTAT, UTXH, URXH, UBRDIV = 0x00, 0x04, 0x08, 0x10, 0x18, 0x20, 0x24, 0x28

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


def test_transmit_goes_to_sink_and_output():
    sent = []
    u = S5lUart(BASE, tx_sink=sent.append)
    for b in b"ok\r\n":
        assert u.read(UTRSTAT, 4) & TXBE   # the m1n1 driver waits for this
        u.write(UTXH, 4, b | 0xFFFFFF00)   # only the low byte is sent
    assert bytes(sent) == b"ok\r\n"
    assert u.output == bytearray(b"ok\r\n")
    assert u.read(UTRSTAT, 4) & TXE        # uart_flush's condition
    assert tx_count(u.read(UFSTAT, 4)) == 0


def test_transmit_byte_store(uart):
    uart.write(UTXH, 1, 0x41)
    assert uart.output == b"A"


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
    u = S5lUart(BASE, on_rx_empty=calls.append, idle_polls=4)
    for b in b"printing a long line":
        u.read(UTRSTAT, 4)                 # TX wait
        u.read(UTRSTAT, 4)                 # a glance at RX between bytes
        u.write(UTXH, 4, b)
    assert calls == []
    for _ in range(4):
        assert not u.read(UTRSTAT, 4) & RXD   # a KEY loop
    assert calls == [u]


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


def test_tx_threshold_irq_is_separate_from_rx(uart):
    uart.write(UCON, 4, 0x5 | 1 << 13)     # TX threshold enable (bit 13)
    assert not uart.rx_irq_pending()
    assert uart.irq_pending()
    assert uart.read(UTRSTAT, 4) & TXTHRESH


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
