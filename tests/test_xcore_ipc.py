"""IPC across cores (kernel/ipc.S, "Many cores"): an endpoint lives on one
core (ENDPOINT-ON; ENDPOINT: the core that makes it) and its queue is
touched only there, so a thread using another core's endpoint moves there
for the operation and back (ipc_away, thread_migrate), and a reply to a
caller waiting on another core moves the replier.  PIN gives a thread to
a core.  Run on the emulated M3 (8 cores) and under QEMU -smp 4, with
-icount and with MTTCG (the cores really in parallel)."""

from __future__ import annotations

import re

import pytest

MTTCG = "tcg,thread=multi"

SERVER = ("{core} endpoint-on ep  : srv ( -- ) ep receive begin >r + + + 0 0 0 r> ep reply-receive again ; "
          "' srv 20 {server} spawn-on drop ")
CLIENTS = ("variable total  variable fin "
           ": cli ( -- ) 0 200 0 do i 1 2 3 ep call drop drop drop + loop total +! 1 fin +! ; "
           "{spawns} : wt ( -- ) 2000 0 do fin @ {n} = if unloop exit then 1 ms loop ; wt fin ? total ? ")
ONE_CLIENT = 200 * 199 // 2 + 200 * 6          # sum of i + 1 + 2 + 3 over 200 calls


def _ints(out: str, line: str) -> list[int]:
    assert "error" not in out, out
    return [int(n) for n in re.findall(r"-?\d+", out[out.index(line) + len(line):])]


def _machine(request, where: str):
    if where == "m3":
        return request.getfixturevalue("boot")(), 8
    accel = None if where == "qemu" else MTTCG
    return request.getfixturevalue("qemu_boot")(cores=4, **({"accel": accel} if accel else {})), 4


@pytest.mark.parametrize("where", ["m3", "qemu", "mttcg"])
@pytest.mark.parametrize("placement", ["server-home", "caller-home"])
def test_calls_from_every_core_to_a_server_on_another_each_answered_once(request, where, placement):
    """Clients on every core call one server.  server-home: the endpoint
    lives on the server's core (the callers move); caller-home: on the
    boot core, the server elsewhere (the server moves for each receive and
    each reply too).  Every call is answered, with its own answer."""
    c, n = _machine(request, where)
    server = n - 1
    home = server if placement == "server-home" else 0
    c.send(SERVER.format(core=home, server=server))
    first = "1 2 3 4 ep call . . . ."
    assert _ints(c.send(first), first) == [0, 0, 0, 10]
    spawns = " ".join(f"' cli 10 {k} spawn-on drop" for k in range(n))
    line = CLIENTS.format(spawns=spawns, n=n)
    assert _ints(c.send(line), line)[-2:] == [n, n * ONE_CLIENT]
    assert "7 " in c.send("3 4 + .")                 # and the console keeps answering


@pytest.mark.parametrize("where", ["m3", "qemu"])
def test_send_receive_and_timeouts_across_cores(request, where):
    c, n = _machine(request, where)
    c.send("2 endpoint-on ep2  variable got  : rcv ( -- ) begin ep2 receive drop + + + got +! again ; "
           "' rcv 20 1 spawn-on drop")
    line = "1 2 3 4 ep2 send 5 6 7 8 ep2 send 10 ms got ?"
    assert _ints(c.send(line), line) == [36]
    # a timed receive on another core's endpoint nobody sends to: it times out
    line = "2 endpoint-on quiet  quiet 2400 receive-timeout ."
    assert _ints(c.send(line), line) == [0]
    # a timed call to a server on another core is answered in time
    c.send("1 endpoint-on ep1  : srv ( -- ) ep1 receive begin >r + + + 0 0 0 r> ep1 reply-receive again ; "
           "' srv 20 1 spawn-on drop")
    line = "1 2 3 4 ep1 240000 call-timeout . . . . ."
    assert _ints(c.send(line), line) == [-1, 0, 0, 0, 10]
    # a timed send nobody takes, on another core's endpoint: false
    line = "1 2 3 4 quiet 2400 send-timeout ."
    assert _ints(c.send(line), line) == [0]


def test_cross_core_ipc_is_deterministic_on_the_emulated_m3(boot):
    """Same input, same output, same instruction counts."""
    runs = []
    for _ in range(2):
        c = boot()
        out = c.send(SERVER.format(core=5, server=5) + CLIENTS.format(
            spawns=" ".join(f"' cli 10 {k} spawn-on drop" for k in range(8)), n=8))
        runs.append((out, c.machine.cpu.instructions,
                     [core.cpu.instructions for core in c.machine.cores if core.cpu is not None]))
    assert runs[0] == runs[1]


def test_a_bad_reply_token_is_refused_with_its_code(console):
    """REPLY-RECEIVE with a token nobody waits for: THROW -259, its code
    intact through critical_throw (which once lost it to its own BL)."""
    c = console
    out = c.send("endpoint e0  0 0 0 0 first-thread e0 reply-receive")
    assert "error -259" in out, out
    out = c.send("0 0 0 0 first-thread e0 ' reply-receive catch . 2drop 2drop 2drop")
    assert "-259 " in out, out
    assert "7 " in c.send("3 4 + .")


def test_endpoint_on_a_core_that_is_not_running_is_an_error(boot):
    c = boot(cores=2)
    assert "error -24" in c.send("5 endpoint-on nowhere")
    assert "error -24" in c.send("-1 endpoint-on nowhere")
    assert "7 " in c.send("3 4 + .")


@pytest.mark.parametrize("where", ["m3", "qemu"])
def test_pin_moves_a_running_thread_and_itself(request, where):
    c, n = _machine(request, where)
    c.send("variable at  : w ( -- ) begin core at ! again ;  ' w 10 spawn constant t")
    for core in (3, 1, 0):
        line = f"{core} t pin 5 ms at ?"
        assert _ints(c.send(line), line) == [core]
    # a thread pinning itself moves at once
    line = ("variable seen  : hop ( -- ) core  2 me pin core  1 me pin core  seen ! 100 * + 10 * seen @ + seen ! ; "
            "' hop 20 spawn drop 20 ms seen ?")
    assert _ints(c.send(line), line) == [(0 + 2 * 100) * 10 + 1]
    # refused: the console off the boot core, no such thread, no such core
    for bad in ("1 me pin", "1 99999 pin", "99 t pin"):
        assert "error -24" in c.send(bad), bad
    assert "7 " in c.send("3 4 + .")


# FP/SIMD: under QEMU only (unicorn 2.1.4 never traps FP at EL2, so the
# emulated M3 cannot switch it lazily: tests/test_threads.py).

def test_pin_carries_the_fp_state_of_a_preempted_thread(qemu_boot):
    """A thread holding a value in d0 while it spins is moved by its tick
    (tick_move): its FP/SIMD state goes with it (saved here, trapped back in
    there) while another thread uses FP on the old core."""
    c = qemu_boot(cores=4)
    c.send("variable r  : fw ( -- ) 123456789 30000000 fp-spin r ! ;  ' fw 10 spawn constant t  "
           "variable r2  : other ( -- ) 987654321 30000000 fp-spin r2 ! ;  ' other 10 spawn drop")
    line = "1 ms 3 t pin 400 ms r ? r2 ?"
    out = c.send(line)
    nums = _ints(out, line)
    assert nums[:2] == [123456789, 987654321], out


def test_a_thread_that_moves_itself_keeps_its_fp_state(qemu_boot):
    """thread_migrate: the registers hold the moving thread's FP/SIMD
    state (it owns them here); it is saved before the move and trapped
    back in over there, where another thread owns the registers."""
    c = qemu_boot(cores=4)
    c.send("variable r2  : other ( -- ) 987654321 30000000 fp-spin r2 ! ;  ' other 10 3 spawn-on drop  1 ms "
           "variable r  variable r3  : hopfp ( -- ) 4242 0 fp-spin drop  3 me pin  fp-d0 r !  0 me pin  fp-d0 r3 ! ; "
           "' hopfp 20 spawn drop")
    line = "50 ms r ? r3 ? 300 ms r2 ?"
    assert _ints(c.send(line), line) == [4242, 4242, 987654321]


@pytest.mark.parametrize("where", ["m3", "qemu"])
def test_idle_cores_take_waiting_unpinned_threads(request, where):
    """Load balancing (kernel/thread.S tick_balance): busy threads spawned on
    the boot core and UNPINned spread over the idle cores at the boot
    core's ticks, one a core; threads left pinned (the default) stay where
    they were spawned."""
    c, n = _machine(request, where)
    c.send("create at 16 cells allot  variable go  variable k  "
           ": w ( -- ) k @ 1 k +! begin core over cells at + ! go @ until drop ; "
           ": sp ( n -- ) 0 do ['] w 10 spawn unpin loop ;  : sh ( -- ) 3 0 do at i cells + @ . loop ;")
    c.send("3 sp")                      # (a short line: its echo is quick with busy cores)
    line = "3 ms sh -1 go ! 1 ms"
    cores = _ints(c.send(line), line)
    assert len(set(cores)) == 3, cores
    c.send(": sp ( n -- ) 0 do ['] w 10 spawn drop loop ;  0 go ! 0 k !")
    c.send("3 sp")
    line = "2 ms sh -1 go ! 1 ms"
    assert _ints(c.send(line), line) == [0, 0, 0]
    for bad in ("1 unpin", "99999 unpin"):
        assert "error -24" in c.send(bad), bad
    assert "7 " in c.send("3 4 + .")


@pytest.mark.parametrize("where", ["m3", "qemu"])
def test_key_on_another_core_is_refused_and_the_console_keeps_its_input(request, where):
    """Console input is the boot core's (the UART's interrupt is delivered
    there; one RX waiter): KEY on another core THROWs -21 and takes
    nothing; the console still reads what is typed."""
    c, n = _machine(request, where)
    line = "variable r  : k ( -- ) ['] key catch r ! ;  ' k 20 1 spawn-on drop 2 ms r ?"
    assert _ints(c.send(line), line) == [-21]
    assert "7 " in c.send("3 4 + .")
