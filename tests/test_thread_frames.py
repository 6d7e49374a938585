"""The interrupt paths' frames and the fresh stack slot.

The timer and the console's interrupt save the interrupted registers
straight into the running thread's TCB (kernel/percpu.inc tf_save_*),
only as many as the path clobbers, and restore only those when nothing is
switched (kernel/thread.S timer_from_thread).  A thread here loads a
pattern into all 31 registers, SP and NZCV, spins through timer
interrupts, and writes them all out: each must come back exactly, when
the timer preempts it (round robin with a thread of its priority) and
when the ticks switch nothing (it outranks everyone, while a sleeper comes
due meanwhile: the wider save of the wake-up path).  Both machines: the
harness's FIQ and QEMU's own GIC, timer and exceptions.

On the emulated M3 also: the exception stack is empty at every interrupt
from a thread (the paths park two registers there and always take them
back), and the guard pages of fresh stack slots, which slot_new cuts
three at a time with one barrier sequence.
"""

from __future__ import annotations

import re
import struct

import pytest

from asm_snippets import assemble_snippet
from harness.machine import kthreads
from harness.machine.sysregs import TTBR0_EL2
from harness.pagetable import TranslationFault, walk


@pytest.fixture
def console(any_console):
    return any_console


MASK = (1 << 64) - 1
PATTERNS = [((i + 1) * 0x9E3779B97F4A7C15) & MASK for i in range(31)]
SP_PATTERN = 0x5A5A_5A5A_5A5A_5A50
NZCV_PATTERN = 0xA000_0000                     # N and C set
SPIN = 12_000_000                              # iterations of two instructions: > 6 ms on m3

# Loads the patterns (x28: the dump's address), spins with x29 counting
# down (SUB and CBNZ leave NZCV alone), then writes x0-x30, SP, NZCV to the
# dump.  Around it: the counter another thread bumps and CNTPCT, read at
# the start and the end; the Forth registers kept in `save`.
REGS_ASM = """
    adr     x16, save
    stp     x24, x25, [x16, #0]
    stp     x26, x27, [x16, #16]
    stp     x28, x30, [x16, #32]
    mov     x17, sp
    str     x17, [x16, #48]
    ldr     x17, [x16, #64]
    ldr     x17, [x17]
    str     x17, [x16, #72]
    mrs     x17, cntpct_el0
    str     x17, [x16, #88]
    adr     x30, table
    ldr     x29, [x30, #248]
    mov     sp, x29
    ldr     x29, [x30, #256]
    msr     nzcv, x29
    ldr     x29, [x16, #56]
    ldp     x0, x1, [x30, #0]
    ldp     x2, x3, [x30, #16]
    ldp     x4, x5, [x30, #32]
    ldp     x6, x7, [x30, #48]
    ldp     x8, x9, [x30, #64]
    ldp     x10, x11, [x30, #80]
    ldp     x12, x13, [x30, #96]
    ldp     x14, x15, [x30, #112]
    ldp     x16, x17, [x30, #128]
    ldp     x18, x19, [x30, #144]
    ldp     x20, x21, [x30, #160]
    ldp     x22, x23, [x30, #176]
    ldp     x24, x25, [x30, #192]
    ldp     x26, x27, [x30, #208]
    ldr     x28, [x30, #224]
    ldr     x30, [x30, #240]
1:  sub     x29, x29, #1
    cbnz    x29, 1b
    stp     x0, x1, [x28, #0]
    stp     x2, x3, [x28, #16]
    stp     x4, x5, [x28, #32]
    stp     x6, x7, [x28, #48]
    stp     x8, x9, [x28, #64]
    stp     x10, x11, [x28, #80]
    stp     x12, x13, [x28, #96]
    stp     x14, x15, [x28, #112]
    stp     x16, x17, [x28, #128]
    stp     x18, x19, [x28, #144]
    stp     x20, x21, [x28, #160]
    stp     x22, x23, [x28, #176]
    stp     x24, x25, [x28, #192]
    stp     x26, x27, [x28, #208]
    stp     x28, x29, [x28, #224]
    str     x30, [x28, #240]
    mov     x0, sp
    str     x0, [x28, #248]
    mrs     x0, nzcv
    str     x0, [x28, #256]
    adr     x16, save
    ldr     x17, [x16, #64]
    ldr     x17, [x17]
    str     x17, [x16, #80]
    mrs     x17, cntpct_el0
    str     x17, [x16, #96]
    ldp     x24, x25, [x16, #0]
    ldp     x26, x27, [x16, #16]
    ldp     x28, x30, [x16, #32]
    ldr     x17, [x16, #48]
    mov     sp, x17
    ret
    .balign 8
save:   .skip 104   // x24 x25 x26 x27 x28 x30 sp, spin count, &counter, counter at start, at end, CNTPCT at start, at end
table:  .skip 264   // x0-x30 (x28: the dump's address), SP, NZCV
dump:   .skip 264
"""


def numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def said(console, line: str) -> list[int]:
    out = console.send(line)
    assert "error" not in out, out
    return numbers(out[out.index(line) + len(line):] if line in out else out)


def load_regs_word(console) -> dict[str, int]:
    """regs-code: the routine above in the dictionary, its table filled in;
    returns its symbols (offsets)."""
    code, syms = assemble_snippet(REGS_ASM, 0)
    words = struct.unpack(f"<{len(code) // 4}I", code)
    save, table, dump = syms["save"], syms["table"], syms["dump"]
    console.send(f"variable bumps  create regs-code {len(code)} allot  regs-code")
    for i in range(0, len(words), 64):               # lines stay short
        out = console.send(" ".join(f"${w:x} code," for w in words[i:i + 64]))
        assert "error" not in out, out
    values = [(table + 8 * i, v) for i, v in enumerate(PATTERNS) if i != 28]
    values += [(table + 8 * 28, None), (table + 248, SP_PATTERN), (table + 256, NZCV_PATTERN),
               (save + 56, SPIN)]
    stores = [f"{v} regs-code {off} + !" for off, v in values if v is not None]
    stores.append(f"regs-code {dump} + regs-code {table + 8 * 28} + !  bumps regs-code {save + 64} + !")
    lines = ["drop"] + [" ".join(stores[i:i + 12]) for i in range(0, len(stores), 12)]
    lines.append(f"regs-code {len(code)} sync-code "
                 f": regs-wait ( -- ) begin 1 ms regs-code {save + 96} + @ until ; "
                 f": .cells ( a n -- ) 0 do dup i cells + @ u. loop drop ;")
    for line in lines:
        out = console.send(line)
        assert "error" not in out, out
    return syms


def dumped(console, syms) -> tuple[list[int], dict]:
    out = said(console, f"regs-code {syms['dump']} + 33 .cells")
    assert len(out) == 33, out
    s = said(console, f"regs-code {syms['save']} + 72 + 4 .cells")
    return out, dict(zip(("bumps0", "bumps1", "t0", "t1"), s))


def expected(syms) -> list[int]:
    return PATTERNS[:28] + [None, 0, PATTERNS[30], SP_PATTERN, NZCV_PATTERN]


def check(values: list[int], syms, base: int) -> None:
    want = expected(syms)
    want[28] = base + syms["dump"]
    names = [f"x{i}" for i in range(31)] + ["SP", "NZCV"]
    bad = [f"{n}: {v:#x}, not {w:#x}" for n, v, w in zip(names, values, want) if v != w]
    assert not bad, "registers changed by the interrupts:\n" + "\n".join(bad)


def test_a_preempted_thread_gets_every_register_back(console):
    syms = load_regs_word(console)
    base, = said(console, "regs-code .")
    # a thread of the same priority bumps the counter: the timer round-robins
    # between the two (the console sleeps meanwhile); it stops once the
    # pattern thread is done, so that the console's output afterwards is not
    # paced by a UART that a spinning thread leaves only emulated time for
    said(console, f": bumper ( -- ) begin 1 bumps +! regs-code {syms['save'] + 96} + @ until ;  "
                  "' bumper 32 spawn drop  regs-code 32 spawn drop  regs-wait")
    values, s = dumped(console, syms)
    check(values, syms, base)
    assert s["bumps1"] > s["bumps0"], s                 # preempted while it spun
    slice_ticks, = said(console, "ticks/s 1000 / .")
    assert s["t1"] - s["t0"] > 3 * slice_ticks, s       # through several slices


def test_a_tick_that_switches_nothing_leaves_every_register(console):
    syms = load_regs_word(console)
    base, = said(console, "regs-code .")
    # it outranks every thread, so no tick switches; a sleeper comes due
    # while it spins (the timer's wake-up path saves more registers)
    said(console, "variable nap-at  variable napped "
                  ": napper ( -- ) ticks nap-at ! 2 ms 1 napped ! ;  ' napper 40 spawn drop "
                  "regs-code 50 spawn drop  regs-wait  1 ms napped @ .")
    values, s = dumped(console, syms)
    check(values, syms, base)
    nap_at, per_s = said(console, "nap-at @ . ticks/s .")
    due = nap_at + 2 * per_s // 1000
    assert s["t0"] < due < s["t1"], (s, due)            # woken by a tick during the spin
    assert s["t1"] - s["t0"] > 3 * per_s // 1000, s     # and several slices went by


# ---- emulated M3 only -------------------------------------------------------

def test_interrupts_leave_nothing_on_the_exception_stack(boot):
    """The interrupt paths park two registers on the exception stack and
    every path, switching or not, takes them off again: at every interrupt
    from a thread SP_EL2 is the empty stack's top, whatever ran before
    (yields, IPC fast and slow, sleeps, preemption, spawns and exits)."""
    con = boot()
    m = con.machine
    top = m.symbols.address("boot_stack_top", m.load_base)
    seen, bad = [0], []

    def on_exception(kind: str, pc: int) -> None:
        if kind not in ("fiq", "irq") or m.cpu.reg_read("pstate") & 1:
            return
        seen[0] += 1
        sp2 = m.cpu.reg_read("sp_el2")
        if sp2 != top:
            bad.append(f"{kind} at {m.describe(pc)}: SP_EL2 {sp2:#x}, the top is {top:#x}")

    m.cpu.exception_listeners.append(on_exception)
    out = con.send("endpoint ep : srv ( -- ) ep receive begin >r 1+ r> ep reply-receive again ; "
                   "' srv 32 spawn drop  : spin ( -- ) begin yield again ;  ' spin 32 spawn drop "
                   ": busy ( -- ) begin again ;  ' busy 32 spawn drop  : nap ( -- ) begin 1 ms again ; "
                   "' nap 40 spawn drop  : none ( -- ) ;  : calls ( -- ) 3000 0 do i 0 0 0 ep call "
                   "2drop 2drop  i 255 and 0= if ['] none 50 spawn drop then loop ;  calls  "
                   "1 2 3 4 ep 100000 call-timeout drop 2drop 2drop  5 ms  1 2 + .")
    assert "3  ok" in out and "error" not in out, out
    assert seen[0] > 10, seen
    assert not bad, "\n".join(bad[:10])


def test_fresh_stack_slots_have_their_three_guard_pages_unmapped(boot):
    """Every thread's slot: guard | return stack | guard | data stack | guard,
    the guards invalid at level 3, the stacks mapped, including a slot that
    straddles a 32 MiB block (one level-3 table each side)."""
    con = boot()
    m = con.machine
    L = kthreads.layout()                               # kernel/percpu.inc, macros.inc
    percpu = m.symbols.address("percpu", m.load_base)
    ttbr = m.cpu.sysreg_read(*TTBR0_EL2)

    def read(addr, n):
        return bytes(m.cpu.uc.mem_read(addr, n))

    def q(addr):
        return struct.unpack("<Q", read(addr, 8))[0]

    def slots():
        out, t = [], q(percpu + L["PC_THREADS"])
        while t:
            if q(t + L["T_SLOT"]):
                out.append(t + L["T_USER"])
            t = q(t + L["T_ALLNEXT"])
        return out

    # the threads live on (waiting on an endpoint nobody sends to), so no
    # slot is recycled and 8 x 60 slots of 80 KiB pass a 32 MiB boundary
    con.send("endpoint never  : none ( -- ) never receive ;  "
             ": many ( n -- ) 0 do ['] none 5 spawn drop loop ;")
    users, straddles = [], False
    for _ in range(8):                                    # until a slot straddles a block
        out = con.send("60 many")
        assert "error" not in out, out
        users = slots()
        bases = [q(u + L["U_RLIMIT"]) - L["SLOT_GUARD"] for u in users]
        if any(b >> 25 != (b + L["SLOT_GUARD"] * 5 - 1) >> 25 for b in bases):
            straddles = True
            break
    assert straddles, "no slot straddled a 32 MiB block"
    for u in users:
        s0, r0, slimit, rlimit = (q(u + L[f]) for f in ("U_S0", "U_R0", "U_SLIMIT", "U_RLIMIT"))
        for guard in (s0, slimit - 1, r0, rlimit - 1):
            with pytest.raises(TranslationFault) as e:
                walk(read, ttbr, guard)
            assert e.value.level == 3
        for inside in (s0 - 8, slimit, r0 - 8, rlimit):
            assert walk(read, ttbr, inside).pa == inside
    assert "3  ok" in con.send("10 ms 1 2 + .")           # and they all run (and wait)


def test_threads_preempted_inside_the_allocators_never_share_a_block(boot):
    """The allocators (kernel/alloc.S, mmu.S bump_alloc) are not safe against
    another thread running in their middle: two threads of one priority,
    each refilling the block list, and a timer interrupt forced at every
    entry of bump_alloc (its next block boundary is between reading the bump
    frontier and writing it back).  An interrupt in there must not switch
    threads (the no-switch region, linker/kernel.ld): else both threads get
    the same page and hand out its blocks twice."""
    from unicorn import UC_HOOK_CODE

    con = boot()
    m = con.machine
    entry = m.symbols.address("bump_alloc", m.load_base)
    forced = [0]

    def force(uc, addr, size, _user):
        forced[0] += 1
        m.timer.cval = 0                                  # due now: taken at the next boundary
        m.timer.update()

    m.cpu.uc.hook_add(UC_HOOK_CODE, force, None, entry, entry)
    m.cpu.uc.ctl_flush_tb()
    out = con.send("create got0 40 cells allot  create got1 40 cells allot  variable fin0  variable fin1 "
                   ": grab0 ( -- ) 40 0 do block-alloc got0 i cells + ! loop 1 fin0 ! ; "
                   ": grab1 ( -- ) 40 0 do block-alloc got1 i cells + ! loop 1 fin1 ! ; "
                   "' grab0 10 spawn drop  ' grab1 10 spawn drop "
                   ": wait2 ( -- ) begin 1 ms fin0 @ fin1 @ and until ;  wait2")
    assert "error" not in out, out
    assert forced[0] >= 20, forced                         # refills, each interrupted
    got = said(con, ": .got ( a -- ) 40 0 do dup i cells + @ . loop drop ;  got0 .got got1 .got")
    assert len(got) == 80 and all(got), got
    assert len(set(got)) == 80, f"{80 - len(set(got))} blocks handed out twice"
