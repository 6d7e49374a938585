"""Domains: EL1 code under its own stage-2 tables (kernel/domain.S), and
soft page faults at EL2 and stage 2."""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from asm_snippets import assemble_snippet
from harness.pagetable import TranslationFault, walk, walk_stage2

PAGE = 16384


def code_words(asm: str) -> str:
    """Position-independent machine code as a Forth sequence of CODE,."""
    code, _ = assemble_snippet(asm, 0)
    words = struct.unpack(f"<{len(code) // 4}I", code)
    return " ".join(f"${w:x} code," for w in words)


def make_domain(con, name: str, asm: str, data_perm: str = "d-rw") -> None:
    """A domain `name` with a code page (R X) holding asm, a stack page
    and a data page; `name`-code / -data / -stack are their addresses."""
    out = con.send(
        f"domain-new value {name}  {name} {PAGE} d-rx domain-memory value {name}-code "
        f"{name} {PAGE} d-rw domain-memory value {name}-stack "
        f"{name} {PAGE} {data_perm} domain-memory value {name}-data")
    assert "ok" in out and "error" not in out, out
    out = con.send(f"{name}-code {code_words(asm)} drop  {name}-code {PAGE} sync-code "
                   f"{name}-code {name}-stack {PAGE} + {name} domain-entry!")
    assert "error" not in out, out


def run(con, name: str, arg: str = "0") -> tuple[int, int, str]:
    out = con.send(f"{arg} {name} domain-run . .")
    m = re.search(r"(-?\d+) (-?\d+)\s+ok", out)
    assert m, out
    return int(m.group(2)), int(m.group(1)), out     # value, reason, text


def number(con, expr: str) -> int:
    out = con.send(f"{expr} .")
    return int(re.search(r"(-?\d+)\s+ok", out).group(1))


def test_el12_aliases_are_served_at_el2(make_cpu):
    """unicorn 2.1.4 has no *_EL12 registers; harness/machine/vhe.py serves them."""
    cpu, _ = make_cpu("""
 ldr x9, =0x0000032488000038
 msr hcr_el2, x9
 mov x0, #0x8000
 msr vbar_el12, x0
 mrs x1, vbar_el12
 mrs x2, vbar_el2
 b .""")
    cpu.run(None, 20)
    assert cpu.reg_read("x1") == 0x8000 and cpu.reg_read("vbar_el1") == 0x8000
    assert cpu.reg_read("x2") != 0x8000


@pytest.mark.parametrize("alias,el1", sorted(__import__("harness.machine.vhe", fromlist=["x"]).EL12_BY_ENCODING.items()))
def test_the_other_el12_aliases_are_served_at_el2(make_cpu, alias, el1):
    """The EL1 registers the domain switch saves and loads, reached as
    *_EL12 at EL2 (harness/machine/vhe.py): a write lands in the EL1
    register, a read comes from it."""
    name = "s{}_{}_c{}_c{}_{}".format(*alias)
    cpu, _ = make_cpu(f"""
 ldr x9, =0x0000032488000038
 msr hcr_el2, x9
 mov x0, #0x10
 msr {name}, x0
 mrs x1, {name}
 b .""")
    cpu.run(None, 20)
    assert cpu.sysreg_read(*el1) == cpu.reg_read("x1")
    assert cpu.reg_read("x1") in (0x10, 0)                  # 0: RAZ/WI in QEMU (AMAIR, AFSR)


def test_domain_runs_at_el1_and_exits_by_hvc(console):
    make_domain(console, "d1", "mrs x1, CurrentEL\n add x0, x0, x1, lsr #2\n hvc #0")
    assert run(console, "d1", "41")[:2] == (42, 0)          # EL1: 41 + 1
    assert run(console, "d1", "99")[:2] == (100, 0)         # runs again from its entry
    assert "5 6 + . 11" in console.send("5 6 + .")


def test_forbidden_access_ends_the_domain_with_a_report(console):
    make_domain(console, "d2", "ldr x1, [x0]\n hvc #0")
    kernel = number(console, "' dup")                       # kernel code: not granted
    value, reason, out = run(console, "d2", str(kernel))
    assert reason == 1 and value == kernel, out
    assert re.search(r"domain \d+ ended: forbidden access \(stage-2 fault\) at ", out), out
    assert run(console, "d2", "0")[1] == 4                  # ended: does not run again
    assert "3 4 * . 12" in console.send("3 4 * .")          # the console carries on
    console.send("d2 domain-free")


def test_exception_at_el1_ends_the_domain(console):
    make_domain(console, "d3", "udf #0")
    value, reason, out = run(console, "d3")
    assert reason == 2 and value >> 26 == 0, out            # ESR_EL1: unknown (UDF)
    assert "exception at EL1" in out


def test_write_to_read_only_grant_is_forbidden(console):
    make_domain(console, "d4", "ldr x1, [x0]\n str x1, [x0]\n hvc #0", data_perm="d-r")
    value, reason, _ = run(console, "d4", "d4-data")
    assert reason == 1 and value == number(console, "d4-data")


def test_hvc_null_call_and_registers_survive(console):
    make_domain(console, "d5", """
 mov x19, #7
 mov x20, #100
1: hvc #1
 add x19, x19, #1
 subs x20, x20, #1
 b.ne 1b
 mov x0, x19
 hvc #0""")
    assert run(console, "d5")[:2] == (107, 0)


def test_ipc_from_a_domain_to_a_thread(console):
    console.send("endpoint dep  : dserver dep receive begin >r + + + 0 0 0 r> dep reply-receive again ; "
                 "' dserver 40 spawn drop")
    make_domain(console, "d6", """
 mov x19, #10
 mov x20, #0
1: mov x0, #0
 mov x1, #1
 mov x2, #2
 mov x3, #3
 mov x4, x19
 hvc #2
 cbnz x0, 2f
 add x20, x20, x1
 subs x19, x19, #1
 b.ne 1b
 mov x0, x20
2: hvc #0""")
    console.send("dep 0 d6 domain-endpoint!")
    # each call: 1+2+3+i, i = 10..1  ->  10*6 + 55
    assert run(console, "d6")[:2] == (115, 0)


def test_demand_zero_stage2_fault_maps_on_first_touch(console):
    make_domain(console, "d7", """
 ldr x1, [x0]
 mov x2, #5
 str x2, [x0, #8]
 ldr x3, [x0, #8]
 add x0, x1, x3
 hvc #0""", data_perm="d-rw d-demand or")
    m = console.machine
    vttbr = number(console, "d7 domain-vttbr")
    data = number(console, "d7-data")

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))
    with pytest.raises(TranslationFault):
        walk_stage2(read, vttbr, data)
    console.send("-1 d7-data !")                            # the host's copy is not zeroed again...
    assert run(console, "d7", "d7-data")[:2] == (4, 0)      # ...it was zeroed at the grant: -1 + 5
    t = walk_stage2(read, vttbr, data)
    assert t.pa == data and t.level == 3 and t.s2_read and t.s2_write and not t.s2_exec


EL1_STATE = """
 cmp x0, #4
 b.lo 1f
 msr tpidr_el1, x0
 msr contextidr_el1, x0
 msr ttbr0_el1, x0
 msr tpidrro_el0, x0
 and x1, x0, #~0x7ff
 msr vbar_el1, x1
 mov x0, #0
 hvc #0
1: cbnz x0, 2f
 mrs x0, tpidr_el1
 hvc #0
2: cmp x0, #1
 b.ne 3f
 mrs x0, contextidr_el1
 hvc #0
3: cmp x0, #2
 b.ne 4f
 mrs x0, vbar_el1
 hvc #0
4: mrs x0, ttbr0_el1
 hvc #0"""


def el1_state(con, name):
    """TPIDR_EL1, CONTEXTIDR_EL1, VBAR_EL1, TTBR0_EL1 as the domain reads them."""
    return [run(con, name, str(i))[0] for i in range(4)]


def test_domains_keep_their_own_el1_state(console):
    """Two domains set their own TPIDR_EL1, VBAR_EL1 (registers no trap
    covers: compared and switched) and CONTEXTIDR_EL1, TTBR0_EL1 (written
    through the TVM trap): alternating, each reads back its own, and a new
    domain sees the defaults, not what the others left."""
    make_domain(console, "ea", EL1_STATE)
    make_domain(console, "eb", EL1_STATE)
    stub = console.machine.symbols.address("domain_el1_vectors", console.machine.load_base)
    defaults = [0, 0, stub, 0]
    assert el1_state(console, "ea") == defaults
    assert run(console, "ea", str(0x123000))[:2] == (0, 0)
    assert el1_state(console, "eb") == defaults             # nothing of ea's
    assert run(console, "eb", str(0x456c00))[:2] == (0, 0)
    for _ in range(2):
        assert el1_state(console, "ea") == [0x123000, 0x123000, 0x123000, 0x123000]
        assert el1_state(console, "eb") == [0x456c00, 0x456c00, 0x456800, 0x456c00]
    make_domain(console, "ec", EL1_STATE)
    assert el1_state(console, "ec") == defaults
    console.send("ea domain-free")
    assert el1_state(console, "ec") == defaults             # ea's state was loaded when freed
    assert el1_state(console, "eb")[0] == 0x456c00


def test_a_domain_may_take_its_own_exceptions(console):
    """VBAR_EL1 is the domain's: pointed at its own vectors, its SVC lands
    there (and it exits with its ESR_EL1); another domain still has the
    kernel's stub, where an SVC ends it."""
    make_domain(console, "ev", """
start: adr x1, start
 add x1, x1, #0x800
 msr vbar_el1, x1
 svc #5
 mov x0, #1
 hvc #0""")
    # its vectors at code + 0x800: the entry for the current EL with SP_ELx at + 0x200
    vec = code_words("mrs x0, esr_el1\n hvc #0")
    out = console.send(f"ev-code 2560 + {vec} drop ev-code {PAGE} sync-code")
    assert "error" not in out, out
    value, reason, _ = run(console, "ev")
    assert reason == 0 and value == (0x15 << 26) | (1 << 25) | 5, hex(value)   # SVC64 #5, at its own vector
    make_domain(console, "ew", "svc #0\n hvc #0")
    value, reason, out = run(console, "ew")
    assert reason == 2 and value >> 26 == 0x15 and "exception at EL1" in out
    assert run(console, "ev")[:2] == ((0x15 << 26) | (1 << 25) | 5, 0)


def _s2_entry(m, vttbr, ipa):
    def q(a):
        return struct.unpack("<Q", bytes(m.cpu.uc.mem_read(a, 8)))[0]
    l2 = q((vttbr & 0xFFFFFFFFC000) + ((ipa >> 25) & 2047) * 8)
    return q((l2 & 0xFFFFFFFFC000) + ((ipa >> 14) & 2047) * 8)


def test_pool_backed_demand_grant(console):
    """DOMAIN-DEMAND: IPAs of the demand window, each page's invalid entry
    marked demand-zero with its rights; the first touch maps the frame on
    top of the zeroed-page stack; DOMAIN-UNMAP gives it back."""
    m = console.machine
    make_domain(console, "pd", """
 ldr x1, [x0]
 mov x2, #9
 str x2, [x0, #8]
 ldr x3, [x0, #8]
 add x0, x1, x3
 hvc #0""")
    console.send(f"pd {4 * PAGE} d-rw domain-demand constant pdz  pd {PAGE} d-r domain-demand constant pdr")
    pdz, pdr = number(console, "pdz"), number(console, "pdr")
    lo, hi = (number(console, f"demand-window {x}") for x in ("drop", "nip"))
    assert lo <= pdz < hi and lo <= pdr < hi
    vttbr = number(console, "pd domain-vttbr")

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))
    e = _s2_entry(m, vttbr, pdz)
    assert e & 1 == 0 and e >> 55 & 1 and (e >> 57) & 7 == 3 and e & 0xFFFFFFFFC000 == 0
    assert number(console, "pd pdz domain-query") == 8 | 16 | 3
    from test_kmem import _stack_top_page
    frame = _stack_top_page(m)
    pages = int(re.findall(r"-?\d+", console.send("zeroed-pages . ."))[-1])
    assert run(console, "pd", "pdz")[:2] == (9, 0)
    t = walk_stage2(read, vttbr, pdz)
    assert t.level == 3 and t.pa == frame and t.pa != pdz and t.s2_write and not t.s2_exec
    assert int(re.findall(r"-?\d+", console.send("zeroed-pages . ."))[-1]) == pages - 1
    assert "error -9" in console.send("pdz @ .")            # no EL2 mapping: an IPA only
    value, reason, _ = run(console, "pd", "pdr")             # read-only: the store is refused
    assert reason == 1 and value == pdr + 8
    free0 = int(re.findall(r"-?\d+", console.send("mem-stats . . . ."))[-2])     # free pages
    make_domain(console, "pe", "ldr x1, [x0]\n add x0, x1, #1\n hvc #0")
    console.send(f"pe {2 * PAGE} d-rw domain-demand constant pez")
    assert run(console, "pe", "pez")[:2] == (1, 0)
    console.send(f"pe pez {PAGE} domain-unmap")             # the frame back to the page lists
    assert int(re.findall(r"-?\d+", console.send("mem-stats . . . ."))[-2]) == free0 + 1
    with pytest.raises(TranslationFault):
        walk_stage2(read, number(console, "pe domain-vttbr"), number(console, "pez"))
    console.send("pe domain-free")
    console.send("pd domain-free")                           # pdz's frame too

    def page_list():
        head = struct.unpack("<Q", read(m.symbols.address("percpu", m.load_base) + 8, 8))[0]
        out = []
        while head and len(out) < 10_000:
            out.append(head)
            head = struct.unpack("<Q", read(head, 8))[0]
        return out
    assert frame in page_list()


def test_grants_of_memory_in_the_demand_window_are_refused(console):
    console.send("domain-new value pw")
    assert "error -24" in console.send(f"pw demand-window drop {PAGE} d-rw domain-map")


def test_timer_interrupts_a_long_domain_and_threads_keep_running(console):
    console.send("variable ticks  : ticker begin 1 ticks +! 1 ms again ; ' ticker 40 spawn drop")
    make_domain(console, "d8", """
 movz x1, #0x40, lsl #16
1: subs x1, x1, #1
 b.ne 1b
 add x0, x0, #1
 hvc #0""")
    before = number(console, "ticks @")
    assert run(console, "d8", "1")[:2] == (2, 0)
    assert number(console, "ticks @") > before              # preempted meanwhile


def test_el2_demand_region_soft_fault(console):
    m = console.machine
    base = number(console, f"{4 * PAGE} demand-region dup constant dr")
    ttbr = m.cpu.sysreg_read(3, 4, 2, 0, 0)

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))
    for i in range(4):
        with pytest.raises(TranslationFault):
            walk(read, ttbr, base + i * PAGE)
    assert "0  ok" in console.send(f"dr {PAGE} + 8 + @ .")   # reads zero
    console.send(f"77 dr {3 * PAGE} + !")
    assert "77  ok" in console.send(f"dr {3 * PAGE} + @ .")
    assert walk(read, ttbr, base + PAGE).level == 3
    with pytest.raises(TranslationFault):
        walk(read, ttbr, base)                              # untouched: still not mapped



def test_bench_domain_code_matches_its_source():
    from harness import bench
    for name, asm in bench.DOMAIN_CODE.items():
        code, _ = assemble_snippet(asm.replace("\\n", "\n"), 0)
        assert list(struct.unpack(f"<{len(code) // 4}I", code)) == bench.DOMAIN_WORDS[name], name


# ------------------------------------------------------------ properties


def _model(ops, page):
    state = 0
    for kind, base, n, perm in ops:
        if not base <= page < base + n:
            continue
        if kind == "map":
            state = perm
        elif kind == "unmap":
            state = 0
        elif state:
            state = (state & 8) | (perm & 7)
    return state


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["map", "unmap", "protect"]), st.integers(0, 11),
                              st.integers(1, 5), st.integers(0, 15)), min_size=1, max_size=8))
def test_tables_agree_with_the_record_and_the_model(console, ops):
    """Random map/unmap/protect on a domain: for every page, a Python walker
    over the kernel's stage-2 tables (read from emulated memory), the
    kernel's own record (DOMAIN-QUERY) and a Python model agree, and no
    walk is deeper than two levels."""
    m = console.machine
    console.send("domain-new value pd")
    region = number(console, f"{16 * PAGE} reserve-pages")
    applied = []
    for kind, first, n, perm in ops:
        base, length = region + first * PAGE, n * PAGE
        word = {"map": f"{perm} domain-map", "unmap": "domain-unmap",
                "protect": f"{perm} domain-protect"}[kind]
        out = console.send(f"pd {base} {length} {word}")
        assert "error" not in out, out
        applied.append((kind, base, length, perm))
    vttbr = number(console, "pd domain-vttbr")

    def read(a, n):
        return bytes(m.cpu.uc.mem_read(a, n))
    for i in range(16):
        page = region + i * PAGE
        want = _model(applied, page)
        assert number(console, f"pd {page} domain-query") == want
        perm = want & 7
        try:
            t = walk_stage2(read, vttbr, page)
        except TranslationFault as f:
            assert f.level in (2, 3)
            assert perm == 0 or want & 8, (i, want)         # unmapped, or demand-zero untouched
            continue
        assert t.level == 3 and t.pa == page
        assert (t.s2_read, t.s2_write, t.s2_exec) == (bool(perm & 1), bool(perm & 2), bool(perm & 4))
    console.send("pd domain-free")


@pytest.fixture(scope="module")
def iso(kernel):
    """A console of its own for the isolation property."""
    from harness.machine.m3 import M3, M3Config
    from kernel_support import Console
    m = M3(kernel.elf, M3Config())
    r = m.run(50_000_000)
    assert r.status == "idle", r.report
    return Console(m, r.output)


@settings(max_examples=25, deadline=None)
@given(offsets=st.lists(st.integers(0, (1 << 36) - 8), min_size=3, max_size=3),
       near=st.lists(st.integers(-3 * PAGE, 4 * PAGE), min_size=5, max_size=5),
       write=st.booleans())
def test_domain_never_reaches_outside_its_grant(iso, offsets, near, write):
    """Random addresses, anywhere in the 36-bit space and around its
    grants: an access succeeds exactly when the page is granted with that
    right, and a forbidden one ends the domain at that very address."""
    con = iso
    m = con.machine
    # x0 = address | 1 for a write
    make_domain(con, "pr", "tbnz x0, #0, 1f\n ldr x2, [x0]\n hvc #0\n"
                           "1: bic x0, x0, #1\n str x0, [x0]\n hvc #0", data_perm="d-r")
    data, stack, code = (number(con, f"pr-{n}") for n in ("data", "stack", "code"))
    stub = m.symbols.address("domain_el1_vectors", m.load_base)
    addrs = [o & ~7 for o in offsets] + [(data + n) & ~7 for n in near]
    for a in addrs:
        page = a & ~(PAGE - 1)
        readable = page in (data, stack, code, stub)
        writable = page == stack
        value, reason, out = run(con, "pr", str(a | int(write)))
        if (writable if write else readable):
            assert reason == 0, (hex(a), out)
        else:
            assert reason == 1 and value == a, (hex(a), out)
            break                                           # it has ended
    con.send("pr domain-free")


def test_domains_on_qemu(qemu_console):
    """The same on QEMU's architectural stage 2 (virt board)."""
    con = qemu_console
    make_domain(con, "q1", "mrs x1, CurrentEL\n add x0, x0, x1, lsr #2\n hvc #0")
    assert run(con, "q1", "41")[:2] == (42, 0)
    make_domain(con, "q2", "ldr x1, [x0]\n hvc #0")
    value, reason, out = run(con, "q2", str(number(con, "' dup")))
    assert reason == 1, out
    make_domain(con, "q3", "ldr x1, [x0]\n add x0, x1, #3\n hvc #0", data_perm="d-rw d-demand or")
    assert run(con, "q3", "q3-data")[:2] == (3, 0)
    con.send(f"q3 {PAGE} d-rw domain-demand constant q3z")
    assert run(con, "q3", "q3z")[:2] == (3, 0)                      # a pool-backed page
    make_domain(con, "q4", EL1_STATE)                              # EL1 state on QEMU's TVM and *_EL12
    make_domain(con, "q5", EL1_STATE)
    assert run(con, "q4", str(0x123000))[:2] == (0, 0)
    assert run(con, "q5", str(0x456c00))[:2] == (0, 0)
    assert el1_state(con, "q4") == [0x123000] * 4
    assert el1_state(con, "q5") == [0x456c00, 0x456c00, 0x456800, 0x456c00]
