"""Apple fast IPIs: core-to-core interrupts through system registers, a FIQ.

Why: a fast IPI is one of the FIQ sources a handler must clear, or the
core re-enters its FIQ vector for ever (Linux irq-apple-aic.c:
aic_handle_fiq checks IPI_SR first and acks with a write of 1; m1n1
src/exception.c exc_fiq does the same).  AIC2/AIC3 have no MMIO IPIs: fast
IPIs are the only kind.

Registers (Linux irq-apple-aic.c; m1n1 src/cpu_regs.h; docs/hardware.md,
The t8122 platform):

  IPI_RR_LOCAL_EL1  S3_5_C15_C0_0  send to a core of this cluster:
                                   cpu 7:0, type 29:28
  IPI_RR_GLOBAL_EL1 S3_5_C15_C0_1  send to any core: cpu 7:0,
                                   cluster 23:16, type 29:28
  IPI_SR_EL1        S3_5_C15_C1_1  bit 0 pending; write 1 to clear
  IPI_CR_EL1        S3_5_C15_C3_1  deferred-IPI countdown (kept as written)

Types: 0 immediate, 1 retract, 2 deferred, 3 no-wake.  The cluster is
MPIDR Aff1 and the cpu Aff0 (m1n1 src/smp.c sends
(mpidr & 0xff) | ((mpidr & 0xff00) << 8) to IPI_RR_GLOBAL).

An IPI to the core's own MPIDR sets pending at once.  One to any other
core is recorded in `sent` and handed to `route(cluster, cpu, type)`,
the machine's fabric (harness/machine/m3.py: it delivers to the target
after the modelled latency, harness/machine/smp.py IPI_LATENCY, and not
at all to a core held in reset); without a route nobody is there to take
it.  Deferred
and no-wake IPIs are taken as pending at once (the countdown and the wake
policy are not modelled: an IPI is never lost, at worst early); a retract
withdraws a deferred IPI that is still pending.  The RR registers read 0
(UNVERIFIED).  inject() raises an IPI as if another core had sent it.
FIQ source "ipi" is asserted while pending.
"""

from __future__ import annotations

from harness.machine.fiq import FiqLines
from harness.machine.sysregs import (APPLE_IPI_CR_EL1 as IPI_CR_EL1,
                                     APPLE_IPI_RR_GLOBAL_EL1 as IPI_RR_GLOBAL_EL1,
                                     APPLE_IPI_RR_LOCAL_EL1 as IPI_RR_LOCAL_EL1,
                                     APPLE_IPI_SR_EL1 as IPI_SR_EL1)


IPI_SR_PENDING = 1 << 0
RR_CPU_MASK = 0xFF
RR_CLUSTER_SHIFT, RR_CLUSTER_MASK = 16, 0xFF
RR_TYPE_SHIFT, RR_TYPE_MASK = 28, 3
TYPE_IMMEDIATE, TYPE_RETRACT, TYPE_DEFERRED, TYPE_NOWAKE = 0, 1, 2, 3

BOOT_MPIDR = 0x10100        # the first P-core of a t8122 (docs/hardware.md, The t8122 platform)
FIQ_SOURCE = "ipi"


class FastIpi:
    """The fast-IPI registers of the one emulated core (MPIDR `mpidr`)."""

    def __init__(self, cpu, mpidr: int = BOOT_MPIDR, *, fiq: FiqLines | None = None, route=None):
        self.cpu = cpu
        self.cpu_id = mpidr & 0xFF
        self.cluster = (mpidr >> 8) & 0xFF
        self.fiq = fiq or FiqLines.of(cpu)
        self.pending = False
        self._deferred = False          # the pending IPI came from a deferred request
        self.cr = 0
        self.sent: list[tuple[int, int, int]] = []    # (cluster, cpu, type) to other cores
        self.received = 0
        self.route = route              # route(cluster, cpu, type): an IPI to another core
        cpu.on_sysreg(*IPI_SR_EL1, read=self._read_sr, write=self._write_sr)
        cpu.on_sysreg(*IPI_RR_LOCAL_EL1, read=lambda: 0, write=self._write_local)
        cpu.on_sysreg(*IPI_RR_GLOBAL_EL1, read=lambda: 0, write=self._write_global)
        cpu.on_sysreg(*IPI_CR_EL1, read=lambda: self.cr, write=self._write_cr)

    def _read_sr(self) -> int:
        return IPI_SR_PENDING if self.pending else 0

    def _write_sr(self, value: int) -> None:
        if value & IPI_SR_PENDING:
            self.pending = self._deferred = False
            self._update()

    def _write_cr(self, value: int) -> None:
        self.cr = value

    def _write_local(self, value: int) -> None:
        self._request(self.cluster, value)

    def _write_global(self, value: int) -> None:
        self._request((value >> RR_CLUSTER_SHIFT) & RR_CLUSTER_MASK, value)

    def _request(self, cluster: int, value: int) -> None:
        cpu = value & RR_CPU_MASK
        kind = (value >> RR_TYPE_SHIFT) & RR_TYPE_MASK
        if (cluster, cpu) != (self.cluster, self.cpu_id):
            self.sent.append((cluster, cpu, kind))
            if self.route is not None:
                self.route(cluster, cpu, kind)
            return
        if kind == TYPE_RETRACT:
            if self._deferred:
                self.pending = self._deferred = False
        else:
            if not self.pending:
                self._deferred = kind == TYPE_DEFERRED
            self.pending = True
            self.received += 1
        self._update()

    def inject(self, kind: int = TYPE_IMMEDIATE) -> None:
        """An IPI from another core arrives (a retract withdraws a deferred
        one still pending, as for a self-IPI)."""
        if kind == TYPE_RETRACT:
            if self._deferred:
                self.pending = self._deferred = False
                self._update()
            return
        self._deferred = kind == TYPE_DEFERRED and (self._deferred or not self.pending)
        self.pending = True
        self.received += 1
        self._update()

    def _update(self) -> None:
        self.fiq.set(FIQ_SOURCE, self.pending)
