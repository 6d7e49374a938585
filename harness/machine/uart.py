"""The M3's debug UART: a Samsung S5L-style UART, as the kernel sees it.

Registers and bits as in shared/spec/m1n1-boot.md and m1n1's src/uart_regs.h;
the interrupt rules follow what m1n1's own virtual UART (src/hv_vuart.c) and
Linux's Apple S5L support do with the same bits.

What is modelled, and why that much:
- TX: a byte written to UTXH leaves at once (to tx_sink and uart.output), so
  UTRSTAT always shows TX buffer empty and TX fully empty and UFSTAT a TX
  count of 0.  Baud rate and line timing are irrelevant to a deterministic
  emulator; the kernel still has to poll the bits the real driver polls.
- RX: host input queued with feed() is the wire; a 16-byte FIFO is refilled
  from it whenever the kernel reads a register, so a poll sees at most 16
  bytes, UFSTAT counts them and sets RX full at 16.  When the kernel polls
  and nothing is left, on_rx_empty(uart) is called: the board stops the run
  there once a script has been consumed (or feeds more).  A poll is a read
  of URXH with nothing to read, or the `idle_polls`-th read of UTRSTAT or
  UFSTAT in a row that finds RX empty with no byte sent in between: the
  kernel also reads UTRSTAT before every byte it sends (waiting for TX
  buffer empty) and may glance at RX while printing, and neither of those
  must end a run in the middle of the output.
- Interrupts: UCON RX/TX mode fields (1 = IRQ) and the threshold/timeout
  enables; UTRSTAT bits 4/5/9 report them and are cleared by writing 1.
  rx_irq_pending() is what the AIC model samples for the UART's IRQ line.
- Anything else (an unknown offset, a 64-bit access) reads 0, does nothing,
  and is recorded in bad_accesses for the board to report.
"""

from __future__ import annotations

from collections import deque
from typing import Callable
from harness.machine.mmio import BadAccess  # noqa: F401  (re-exported)

# Register offsets (src/uart_regs.h).
ULCON, UCON, UFCON, UTRSTAT, UFSTAT, UTXH, URXH, UBRDIV = 0x00, 0x04, 0x08, 0x10, 0x18, 0x20, 0x24, 0x28
REGISTER_NAMES = {ULCON: "ULCON", UCON: "UCON", UFCON: "UFCON", UTRSTAT: "UTRSTAT",
                  UFSTAT: "UFSTAT", UTXH: "UTXH", URXH: "URXH", UBRDIV: "UBRDIV"}

# UCON
UCON_RXMODE_SHIFT, UCON_TXMODE_SHIFT, UCON_MODE_MASK = 0, 2, 0x3
UCON_MODE_IRQ = 1
UCON_RXTO_ENA = 1 << 9
UCON_RXTHRESH_ENA = 1 << 12
UCON_TXTHRESH_ENA = 1 << 13

# UFCON (Samsung): FIFO enable, RX/TX FIFO reset (self-clearing).
UFCON_RX_RESET = 1 << 1
UFCON_TX_RESET = 1 << 2

# UTRSTAT
UTRSTAT_RXD = 1 << 0        # RX data ready
UTRSTAT_TXBE = 1 << 1       # TX buffer empty: UTXH may be written
UTRSTAT_TXE = 1 << 2        # TX fully empty (shift register too)
UTRSTAT_RXTHRESH = 1 << 4
UTRSTAT_TXTHRESH = 1 << 5
UTRSTAT_RXTO = 1 << 9
UTRSTAT_IRQ_BITS = UTRSTAT_RXTHRESH | UTRSTAT_TXTHRESH | UTRSTAT_RXTO

# UFSTAT
UFSTAT_RXCNT_MASK = 0xF
UFSTAT_TXCNT_SHIFT = 4
UFSTAT_RXFULL = 1 << 8
UFSTAT_TXFULL = 1 << 9

FIFO_DEPTH = 16
MMIO_SIZE = 0x4000          # one 16 KiB page: the ADT reg size of the UART node

# iBoot leaves the UART set up and m1n1 does not reprogram it.  8N1, polled
# TX/RX mode, 115200 baud at 24 MHz.  UNVERIFIED on M3: a kernel that depends
# on a reset value instead of writing UCON itself is wrong anyway.
RESET_ULCON = 0x3
RESET_UCON = (UCON_MODE_IRQ << UCON_RXMODE_SHIFT) | (UCON_MODE_IRQ << UCON_TXMODE_SHIFT)
RESET_UFCON = 0x0
RESET_UBRDIV = (24_000_000 // 115_200 + 7) // 16 - 1   # src/uart.c uart_setbaud


class S5lUart:
    """One S5L UART at physical `base`; read()/write() take offsets from base."""

    def __init__(self, base: int, tx_sink: Callable[[int], None] | None = None,
                 on_rx_empty: Callable[["S5lUart"], None] | None = None, idle_polls: int = 16):
        if idle_polls < 1:
            raise ValueError(f"idle_polls must be at least 1, not {idle_polls}")
        self.base = base
        self.idle_polls = idle_polls
        self._empty_polls = 0               # status reads in a row finding RX empty
        self.size = MMIO_SIZE
        self.tx_sink = tx_sink
        self.on_rx_empty = on_rx_empty
        self.output = bytearray()
        self.bad_accesses: list[BadAccess] = []
        self.ulcon, self.ucon, self.ufcon, self.ubrdiv = RESET_ULCON, RESET_UCON, RESET_UFCON, RESET_UBRDIV
        self._host: deque[int] = deque()    # bytes still on the wire
        self._rx: deque[int] = deque()      # the 16-byte RX FIFO
        self._irq_status = 0                # UTRSTAT bits 4/5/9
        self.on_change: Callable[[], None] | None = None   # the interrupt line may have moved

    # --- host side ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Queue host input (what a person or a script types)."""
        self._host.extend(bytes(data))
        self._empty_polls = 0
        if self.on_change is not None:
            self.on_change()

    @property
    def pending_input(self) -> int:
        """Bytes not yet read by the kernel (FIFO and wire)."""
        return len(self._rx) + len(self._host)

    def _refill(self) -> None:
        while self._host and len(self._rx) < FIFO_DEPTH:
            self._rx.append(self._host.popleft())

    def _mode(self, shift: int) -> int:
        return (self.ucon >> shift) & UCON_MODE_MASK

    def _update_irq_status(self) -> None:
        """Raise the status bits whose condition holds (like hv_vuart.c's
        update_irq): they stay set until written 1 and come back while the
        condition lasts, so an interrupt is never lost."""
        if self._rx and self._mode(UCON_RXMODE_SHIFT) == UCON_MODE_IRQ:
            if self.ucon & UCON_RXTO_ENA:
                self._irq_status |= UTRSTAT_RXTO
            if self.ucon & UCON_RXTHRESH_ENA:
                self._irq_status |= UTRSTAT_RXTHRESH
        if self._mode(UCON_TXMODE_SHIFT) == UCON_MODE_IRQ and self.ucon & UCON_TXTHRESH_ENA:
            self._irq_status |= UTRSTAT_TXTHRESH   # TX FIFO is always below its threshold

    def _sample_rx(self, polls: int = 1) -> None:
        """The kernel is looking at RX: refill, and tell the board once it
        has polled an empty line `idle_polls` times in a row (`polls` says
        how much this look counts: idle_polls for a read of an empty URXH)."""
        self._refill()
        if self._rx:
            self._empty_polls = 0
        else:
            self._empty_polls += polls
            if self._empty_polls >= self.idle_polls and self.on_rx_empty is not None:
                self.on_rx_empty(self)
                self._refill()
        self._update_irq_status()

    def rx_irq_pending(self) -> bool:
        """The RX interrupt line: RX mode IRQ, and an enabled RX threshold or
        timeout condition raised and not cleared."""
        self._refill()
        self._update_irq_status()
        if self._mode(UCON_RXMODE_SHIFT) != UCON_MODE_IRQ:
            return False
        return bool((self.ucon & UCON_RXTO_ENA and self._irq_status & UTRSTAT_RXTO)
                    or (self.ucon & UCON_RXTHRESH_ENA and self._irq_status & UTRSTAT_RXTHRESH))

    def irq_pending(self) -> bool:
        """The UART's one AIC line: RX as above, or the TX threshold."""
        tx = (self._mode(UCON_TXMODE_SHIFT) == UCON_MODE_IRQ and self.ucon & UCON_TXTHRESH_ENA
              and self._irq_status & UTRSTAT_TXTHRESH)
        return self.rx_irq_pending() or bool(tx)

    # --- kernel side (MMIO) --------------------------------------------------------

    def _bad(self, kind: str, offset: int, size: int, value: int | None, reason: str) -> None:
        self.bad_accesses.append(BadAccess(kind, offset, size, value, reason))

    def read(self, offset: int, size: int) -> int:
        if size not in (1, 2, 4):
            self._bad("read", offset, size, None, f"{size}-byte access to a 32-bit register")
            return 0
        if offset == ULCON:
            value = self.ulcon
        elif offset == UCON:
            value = self.ucon
        elif offset == UFCON:
            value = self.ufcon
        elif offset == UBRDIV:
            value = self.ubrdiv
        elif offset == UTRSTAT:
            self._sample_rx()
            value = UTRSTAT_TXBE | UTRSTAT_TXE | self._irq_status | (UTRSTAT_RXD if self._rx else 0)
        elif offset == UFSTAT:
            self._sample_rx()
            value = min(len(self._rx), FIFO_DEPTH - 1) | (UFSTAT_RXFULL if len(self._rx) >= FIFO_DEPTH else 0)
        elif offset == URXH:
            self._sample_rx(self.idle_polls if not self.pending_input else 1)
            value = self._rx.popleft() if self._rx else 0
            self._refill()
        elif offset == UTXH:
            value = 0           # write-only
        else:
            self._bad("read", offset, size, None, "no register here")
            return 0
        return value & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        if size not in (1, 2, 4):
            self._bad("write", offset, size, value, f"{size}-byte access to a 32-bit register")
            return
        value &= (1 << (8 * size)) - 1
        if offset == UTXH:
            byte = value & 0xFF
            self._empty_polls = 0
            self.output.append(byte)
            if self.tx_sink is not None:
                self.tx_sink(byte)
        elif offset == UCON:
            self.ucon = value
        elif offset == ULCON:
            self.ulcon = value
        elif offset == UFCON:
            if value & UFCON_RX_RESET:
                self._rx.clear()        # what had reached the FIFO is lost, as on hardware
            self.ufcon = value & ~(UFCON_RX_RESET | UFCON_TX_RESET)
        elif offset == UBRDIV:
            self.ubrdiv = value
        elif offset == UTRSTAT:
            self._irq_status &= ~(value & UTRSTAT_IRQ_BITS)     # write 1 to clear
        elif offset in (UFSTAT, URXH):
            pass                        # read-only; writes are ignored by the hardware
        else:
            self._bad("write", offset, size, value, "no register here")
            return
        if self.on_change is not None and offset in (UCON, UTRSTAT, UFCON):
            self.on_change()
