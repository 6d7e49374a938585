"""The M3's debug UART: a Samsung S5L-style UART, as the kernel sees it.

Registers and bits as in docs/hardware.md (The t8122 platform) and m1n1's
src/uart_regs.h; the interrupt rules follow what m1n1's own virtual UART
(src/hv_vuart.c) and Linux's Apple S5L support (drivers/tty/serial/
samsung_tty.c, "apple,s5l-uart"; include/linux/serial_s3c.h) do with the
same bits.

What is modelled, and why that much:
- TX, on the machine's deterministic clock (`clock`: cpu.now, instruction
  units at `cpu_hz`; `events`: the core's Events multiplexer).  A byte
  written to UTXH enters a FIFO of FIFO_DEPTH (16) bytes, or of one byte
  while UFCON's FIFO enable (bit 0) is clear; the shift register takes
  the oldest byte as soon as it is idle and sends it for one frame time.
  A byte reaches uart.output, tx_log (the instant it left, exact) and
  tx_sink when it has left the shift register.  Bytes go back to back at
  the line rate.  The machine is woken (an Events entry, which ends a
  WFI's fast-forward) only when something can be seen to happen: the TX
  threshold edge while its interrupt is on, and the line going idle
  (on_tx_idle); bytes in between are sent whenever anyone looks (any
  register access, catch_up()), each at its own instant.  The frame time
  is start + data + parity + stop bits (ULCON) x 16 x (UBRDIV + 1) cycles
  of the 24 MHz reference clock: 8N1 at UBRDIV 12 (115200 baud as m1n1
  computes it) is 2080 cycles, 86.7 us, 303,333 cycles of the 3.5 GHz
  core.
- TX status is the real state: UTRSTAT TXBE (bit 1) while the FIFO is
  empty, TXE (bit 2) while the FIFO and the shift register are; UFSTAT TX
  count (7:4, saturating at 15) and TX full (bit 9, the FIFO holds its
  depth).
- Refusal: a write to UTXH with the FIFO full loses the byte on silicon.
  Here it is recorded in bad_accesses and on_refusal(message) is called
  ("UART TX overrun: byte 0x41 written with the FIFO full"); the board
  stops the run with that report.
- The TX threshold interrupt is edge triggered (samsung_tty.c
  enable_tx_pio: "The Apple version only has edge triggered TX IRQs, so we
  need to kick off the process by sending some characters"): UTRSTAT bit 5
  latches when the FIFO drains to the trigger level of UFCON bits 7:6
  (4 x the field: 0, 4, 8 or 12 bytes; Linux programs 0, S3C2410_UFCON_
  TXTRIG0) while UCON's TX mode is IRQ and TXTHRESH_ENA (bit 13) is set,
  and stays until written 1.  Enabling the interrupt with the FIFO already
  drained raises nothing.
- RX: host input queued with feed() is the wire; a 16-byte FIFO is refilled
  from it whenever the kernel reads a register, so a poll sees at most 16
  bytes, UFSTAT counts them and sets RX full at 16.  When the kernel polls
  and nothing is left, on_rx_empty(uart) is called: the board stops the run
  there once a script has been consumed and the TX side has drained (or
  feeds more).  A poll is a read of URXH with nothing to read, or the
  `idle_polls`-th read of UTRSTAT or UFSTAT in a row that finds RX empty
  with no byte sent in between and the transmitter idle: the kernel also
  reads UTRSTAT or UFSTAT before every byte it sends, waits on them for
  room or for the line to drain, and may glance at RX while printing, and
  none of those must end a run in the middle of the output.
- RX interrupts: UCON RX mode (1 = IRQ) and the threshold/timeout enables;
  UTRSTAT bits 4/9 report them while data waits and are cleared by writing
  1 (they come back while data waits, as hv_vuart.c's update_irq does).
  rx_irq_pending() and irq_pending() (RX or TX: the UART has one AIC line)
  are what the AIC model samples.
- Anything else (an unknown offset, a 64-bit access) reads 0, does nothing,
  and is recorded in bad_accesses for the board to report.

Without a clock (a model on its own) time stands still at 0 unless the
caller moves it: pass clock=lambda: t and read a register (or call
catch_up()) after moving t.

UNVERIFIED on an M3 (docs/hardware.md, "The console UART's transmit
side"): the state at hand-over (UFCON, UBRDIV: below), the FIFO enable's
effect (a one-byte buffer without it, as on the S3C2410), what a write to
a full FIFO does (neither Linux nor m1n1 ever writes without looking), the
non-zero TX trigger levels, and whether the threshold edge also fires when
a byte written to an idle transmitter goes straight to the shift register
(here it does: the FIFO count falls to 0).
"""

from __future__ import annotations

from collections import deque
from typing import Callable
from harness.machine.mmio import BadAccess  # noqa: F401  (re-exported)

# Register offsets (src/uart_regs.h).
ULCON, UCON, UFCON, UTRSTAT, UFSTAT, UTXH, URXH, UBRDIV = 0x00, 0x04, 0x08, 0x10, 0x18, 0x20, 0x24, 0x28
REGISTER_NAMES = {ULCON: "ULCON", UCON: "UCON", UFCON: "UFCON", UTRSTAT: "UTRSTAT",
                  UFSTAT: "UFSTAT", UTXH: "UTXH", URXH: "URXH", UBRDIV: "UBRDIV"}

# ULCON (include/linux/serial_s3c.h S3C2410_LCON_*): word length 1:0 (5 + n
# bits), two stop bits (bit 2), parity 5:3 (none unless bit 5 is set).
ULCON_CS_MASK = 0x3
ULCON_STOPB = 1 << 2
ULCON_PARITY_ON = 1 << 5

# UCON
UCON_RXMODE_SHIFT, UCON_TXMODE_SHIFT, UCON_MODE_MASK = 0, 2, 0x3
UCON_MODE_IRQ = 1
UCON_RXTO_ENA = 1 << 9
UCON_RXTHRESH_ENA = 1 << 12
UCON_TXTHRESH_ENA = 1 << 13

# UFCON (serial_s3c.h): FIFO enable, RX/TX FIFO reset (self-clearing), TX
# trigger level 7:6 (S3C2410_UFCON_TXTRIG0 = 0 << 6; the 64-byte S3C2440's
# levels are 0/16/32/48, a quarter of its FIFO a step: here 0/4/8/12).
UFCON_FIFO_ENA = 1 << 0
UFCON_RX_RESET = 1 << 1
UFCON_TX_RESET = 1 << 2
UFCON_TXTRIG_SHIFT, UFCON_TXTRIG_MASK = 6, 0x3

# UTRSTAT
UTRSTAT_RXD = 1 << 0        # RX data ready
UTRSTAT_TXBE = 1 << 1       # TX buffer (FIFO) empty
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

# 16 bytes each way: Linux samsung_tty.c s5l_serial_drv_data (.fifosize =
# 16, the S3C2410 UFSTAT layout: 4-bit counts and a full bit), m1n1
# src/uart_regs.h (UFSTAT_TXCNT 7:4, UFSTAT_TXFULL bit 9).
FIFO_DEPTH = 16
MMIO_SIZE = 0x4000          # one 16 KiB page: the ADT reg size of the UART node

# The baud clock: 24 MHz (Linux arch/arm64/boot/dts/apple/t8122.dtsi
# serial0: clocks = <&clkref>, clkref a 24 MHz fixed clock; m1n1 src/uart.c
# UART_CLOCK 24000000).  baud = REF_CLOCK_HZ / (16 x (UBRDIV + 1))
# (samsung_tty.c s3c24xx_serial_get_options).
REF_CLOCK_HZ = 24_000_000
DEFAULT_CPU_HZ = 3_500_000_000      # harness/machine/timers.py CPU_HZ
DEFAULT_BAUD = 115_200              # ASSUMED: what iBoot leaves and m1n1 keeps (below)


def ubrdiv_for(baud: int) -> int:
    """UBRDIV as m1n1's uart_setbaud computes it (src/uart.c)."""
    return (REF_CLOCK_HZ // baud + 7) // 16 - 1


# iBoot leaves the UART set up and m1n1 does not reprogram it (src/uart.c
# uart_init: "keep UART config from iBoot") unless its proxy runs over this
# UART, when proxyclient/m1n1/proxyutils.py bootstrap_port raises it to
# 1500000 baud (UBRDIV 0).  8N1, polled TX/RX mode, 115200 baud at 24 MHz,
# FIFO mode off.  UNVERIFIED on M3: a kernel that depends on a reset value
# instead of writing UCON and UFCON itself is wrong anyway.
RESET_ULCON = 0x3
RESET_UCON = (UCON_MODE_IRQ << UCON_RXMODE_SHIFT) | (UCON_MODE_IRQ << UCON_TXMODE_SHIFT)
RESET_UFCON = 0x0
RESET_UBRDIV = ubrdiv_for(DEFAULT_BAUD)


def frame_bits(ulcon: int) -> int:
    """Bits on the wire per byte: start, data, parity, stop."""
    data = 5 + (ulcon & ULCON_CS_MASK)
    parity = 1 if ulcon & ULCON_PARITY_ON else 0
    stop = 2 if ulcon & ULCON_STOPB else 1
    return 1 + data + parity + stop


class S5lUart:
    """One S5L UART at physical `base`; read()/write() take offsets from base."""

    def __init__(self, base: int, tx_sink: Callable[[int], None] | None = None,
                 on_rx_empty: Callable[["S5lUart"], None] | None = None, idle_polls: int = 16,
                 clock: Callable[[], int] | None = None, events=None, cpu_hz: int = DEFAULT_CPU_HZ,
                 ubrdiv: int = RESET_UBRDIV):
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
        self.ulcon, self.ucon, self.ufcon, self.ubrdiv = RESET_ULCON, RESET_UCON, RESET_UFCON, ubrdiv
        self._host: deque[int] = deque()    # bytes still on the wire
        self._rx: deque[int] = deque()      # the 16-byte RX FIFO
        self._irq_status = 0                # UTRSTAT bits 4/5/9
        self.on_change: Callable[[], None] | None = None   # the interrupt line may have moved
        # TX
        self.clock = clock or (lambda: 0)
        self.events = events
        self.cpu_hz = cpu_hz
        self._event_name = f"uart@{base:#x}"
        self._txq: deque[int] = deque()     # the TX FIFO
        self._shift: int | None = None      # the byte in the shift register
        self._shift_done = 0                # when it has left (clock units)
        self._catching_up = False
        self._wake_at: int | None = None    # the Events entry's instant, if one is due
        self._frame_key: tuple[int, int] | None = None
        self._frame = 1
        self.tx_log: list[tuple[int, int]] | None = None   # (instant it left, byte), if wanted
        self.on_refusal: Callable[[str], None] | None = None   # a byte the silicon would lose
        self.on_tx_idle: Callable[[], None] | None = None      # the last byte has left
        self.overruns = 0
        self.tx_edges = 0                   # TX threshold causes latched

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

    # --- TX timing ---------------------------------------------------------------

    @property
    def tx_depth(self) -> int:
        """The TX FIFO's depth: 16, or 1 with FIFO mode off."""
        return FIFO_DEPTH if self.ufcon & UFCON_FIFO_ENA else 1

    @property
    def tx_trigger(self) -> int:
        """The FIFO level the TX threshold interrupt fires at."""
        return 4 * ((self.ufcon >> UFCON_TXTRIG_SHIFT) & UFCON_TXTRIG_MASK)

    @property
    def frame_time(self) -> int:
        """One byte on the wire, in clock units (at cpu_hz)."""
        key = (self.ulcon, self.ubrdiv)
        if self._frame_key != key:
            ref_cycles = frame_bits(self.ulcon) * 16 * ((self.ubrdiv & 0xFFFF) + 1)
            self._frame = max(1, (ref_cycles * self.cpu_hz + REF_CLOCK_HZ // 2) // REF_CLOCK_HZ)
            self._frame_key = key
        return self._frame

    @property
    def baud(self) -> float:
        return REF_CLOCK_HZ / (16 * ((self.ubrdiv & 0xFFFF) + 1))

    @property
    def tx_idle(self) -> bool:
        """Nothing in the FIFO or the shift register (UTRSTAT TXE)."""
        self.catch_up()
        return not self._txq and self._shift is None

    def catch_up(self) -> None:
        """Send every byte whose frame has ended by now (each is stamped
        with the instant it left, in tx_log when there is one)."""
        if self._catching_up or self._shift is None:
            return
        now = self.clock()
        if self._shift_done > now:
            return                              # nothing has left since the last look
        self._catching_up = True
        went_idle = False
        try:
            while self._shift is not None and self._shift_done <= now:
                byte, done = self._shift, self._shift_done
                self._shift = None
                self.output.append(byte)
                if self.tx_log is not None:
                    self.tx_log.append((done, byte))
                if self.tx_sink is not None:
                    self.tx_sink(byte)
                if self._txq:
                    self._load_shift(done)          # back to back: the line never rests
                else:
                    went_idle = True
        finally:
            self._catching_up = False
        self._arm()
        if went_idle and self._shift is None and self.on_tx_idle is not None:
            self.on_tx_idle()

    def _load_shift(self, start: int) -> None:
        """The shift register takes the FIFO's oldest byte at `start`."""
        before = len(self._txq)
        self._shift = self._txq.popleft()
        self._shift_done = start + self.frame_time
        if before == self.tx_trigger + 1 and self._tx_irq_on():
            self._irq_status |= UTRSTAT_TXTHRESH
            self.tx_edges += 1
            if self.on_change is not None:
                self.on_change()

    def _tx_irq_on(self) -> bool:
        return self._mode(UCON_TXMODE_SHIFT) == UCON_MODE_IRQ and bool(self.ucon & UCON_TXTHRESH_ENA)

    def _arm(self) -> None:
        """Wake the machine when something can be seen to happen: the FIFO
        draining to its trigger level with the TX interrupt on (the edge),
        or the last byte leaving (the line idle).  The bytes in between
        leave unwatched; catch_up() sends them when anyone looks."""
        if self.events is None:
            return
        if self._shift is None:
            if self._wake_at is not None:
                self.events.cancel(self._event_name)
                self._wake_at = None
            return
        frame, waiting = self.frame_time, len(self._txq)
        at = self._shift_done + waiting * frame                 # the line idle
        trigger = self.tx_trigger
        if waiting > trigger and self._tx_irq_on():
            at = self._shift_done + (waiting - trigger - 1) * frame     # the edge
        if self._wake_at is not None and self._wake_at <= at:
            return              # an earlier wake-up is due anyway: it looks again then
        self._wake_at = at
        self.events.schedule(self._event_name, at, self._wake)

    def _wake(self) -> None:
        self._wake_at = None
        self.catch_up()
        self._arm()             # (if the line's timing changed meanwhile, nothing was due yet)

    def _transmit(self, byte: int, size: int, value: int) -> None:
        self.catch_up()
        if len(self._txq) >= self.tx_depth:
            self.overruns += 1
            msg = f"UART TX overrun: byte {byte:#04x} written with the FIFO full"
            self._bad("write", UTXH, size, value, msg)
            if self.on_refusal is not None:
                self.on_refusal(msg)
            return
        self._txq.append(byte)
        if self._shift is None:
            self._load_shift(self.clock())
        self._arm()

    # --- RX ----------------------------------------------------------------------

    def _refill(self) -> None:
        while self._host and len(self._rx) < FIFO_DEPTH:
            self._rx.append(self._host.popleft())

    def _mode(self, shift: int) -> int:
        return (self.ucon >> shift) & UCON_MODE_MASK

    def _update_irq_status(self) -> None:
        """Raise the RX status bits whose condition holds (like hv_vuart.c's
        update_irq): they stay set until written 1 and come back while the
        condition lasts, so an interrupt is never lost.  (TX latches on its
        edge: _load_shift.)"""
        if self._rx and self._mode(UCON_RXMODE_SHIFT) == UCON_MODE_IRQ:
            if self.ucon & UCON_RXTO_ENA:
                self._irq_status |= UTRSTAT_RXTO
            if self.ucon & UCON_RXTHRESH_ENA:
                self._irq_status |= UTRSTAT_RXTHRESH

    def _sample_rx(self, polls: int = 1) -> None:
        """The kernel is looking at RX: refill, and tell the board once it
        has polled an empty line `idle_polls` times in a row (`polls` says
        how much this look counts: idle_polls for a read of an empty URXH)."""
        self._refill()
        if self._rx:
            self._empty_polls = 0
        elif polls == 1 and (self._txq or self._shift is not None):
            pass                        # a status read while sending: a TX wait, not a poll
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

    def tx_irq_pending(self) -> bool:
        """The TX interrupt line: TX mode IRQ, TXTHRESH_ENA, and the edge
        latched and not cleared."""
        return bool(self._mode(UCON_TXMODE_SHIFT) == UCON_MODE_IRQ and self.ucon & UCON_TXTHRESH_ENA
                    and self._irq_status & UTRSTAT_TXTHRESH)

    def irq_pending(self) -> bool:
        """The UART's one AIC line: RX or TX."""
        return self.rx_irq_pending() or self.tx_irq_pending()

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
            self.catch_up()
            self._sample_rx()
            value = self._irq_status | (UTRSTAT_RXD if self._rx else 0)
            if not self._txq:
                value |= UTRSTAT_TXBE | (UTRSTAT_TXE if self._shift is None else 0)
        elif offset == UFSTAT:
            self.catch_up()
            self._sample_rx()
            value = min(len(self._rx), UFSTAT_RXCNT_MASK) | (UFSTAT_RXFULL if len(self._rx) >= FIFO_DEPTH else 0)
            value |= min(len(self._txq), FIFO_DEPTH - 1) << UFSTAT_TXCNT_SHIFT
            if len(self._txq) >= self.tx_depth:
                value |= UFSTAT_TXFULL
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
            self._empty_polls = 0
            self._transmit(value & 0xFF, size, value)
        elif offset == UCON:
            self.catch_up()
            self.ucon = value
            self._arm()                 # the TX interrupt may be on now: its edge wants a wake-up
        elif offset == ULCON:
            self.catch_up()
            self.ulcon = value
        elif offset == UFCON:
            self.catch_up()
            if value & UFCON_RX_RESET:
                self._rx.clear()        # what had reached the FIFO is lost, as on hardware
            if value & UFCON_TX_RESET:
                self._txq.clear()       # the byte in the shift register still goes out
            self.ufcon = value & ~(UFCON_RX_RESET | UFCON_TX_RESET)
            self._arm()
        elif offset == UBRDIV:
            self.catch_up()
            self.ubrdiv = value         # from the next byte on
        elif offset == UTRSTAT:
            self.catch_up()
            self._irq_status &= ~(value & UTRSTAT_IRQ_BITS)     # write 1 to clear
        elif offset in (UFSTAT, URXH):
            pass                        # read-only; writes are ignored by the hardware
        else:
            self._bad("write", offset, size, value, "no register here")
            return
        if self.on_change is not None and offset in (UCON, UTRSTAT, UFCON):
            self.on_change()
