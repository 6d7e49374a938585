"""The same kernel on QEMU's virt machine at EL2 (board virt): boot from the
device tree, the console through the runner, BYE as PSCI SYSTEM_OFF, the
GIC and the EL2 timer as QEMU models them."""

import struct
from pathlib import Path

import pytest

from harness.qemu import LINK_BASE, QemuVirt, qemu_command
from harness.build import BOARDS


def test_boots_at_el2_from_qemus_loader_and_adds(qemu_console):
    con = qemu_console
    assert "Sovereign Forth kernel on virt, EL2" in con.boot_output
    assert f"loaded at {LINK_BASE:#x}" in con.boot_output
    assert "1 2 + . 3  ok" in con.send("1 2 + .")


def test_link_base_is_where_qemu_loads_the_elf():
    assert BOARDS["virt"]["link_base"] == LINK_BASE


@pytest.mark.parametrize("mib", [128, 512, 1024])
def test_memory_comes_from_the_device_tree(qemu_boot, mib):
    con = qemu_boot(mem_size=mib << 20)
    assert f"memory: {mib} MiB at 0x40000000" in con.boot_output
    # free RAM starts 16 KiB aligned above the image (the DTB lies below it)
    image_end = int(con.send("boot-info 16 + @ .").split()[-2])
    free0 = int(con.send("boot-info 104 + @ .").split()[-2])
    assert free0 == (image_end + 0x3FFF) & ~0x3FFF
    # all of it is mapped: the last word of RAM reads
    top = 0x4000_0000 + (mib << 20) - 8
    assert "ok" in con.send(f"{top} @ drop") and "error" not in con.send(f"{top} @ drop")


def test_device_tree_is_found_and_cmdline_comes_from_chosen(qemu_boot):
    con = qemu_boot(cmdline="hello=1 sovereign")
    # QEMU 7.2 passes x0 = 0 to an ELF kernel: the board finds the DTB at
    # the base of RAM, where QEMU's loader puts it
    assert int(con.send("bootargs .").split()[-2]) == 0x4000_0000
    out = con.send("boot-info 56 + @ 17 type")
    assert "hello=1 sovereign" in out


def test_no_cmdline_is_a_null_pointer(qemu_console):
    assert int(qemu_console.send("boot-info 56 + @ .").split()[-2]) == 0


def test_bye_is_psci_system_off(virt_kernel):
    with QemuVirt(virt_kernel.elf) as q:
        r = q.run_script("1 2 + . bye\n")
        assert r.status == "off", r.report
        assert "3 " in r.output
        assert q.proc.returncode == 0


def test_timer_interrupt_arrives_through_the_gic(qemu_console):
    """Board code arms CNTHP at boot and polls ISR_EL1 with IRQs masked:
    the interrupt it acknowledges at the GIC CPU interface is PPI 26."""
    intid, polls = struct.unpack("<2Q", qemu_console.machine.read_symbol("timer_selftest", 16))
    assert intid == 26
    assert 0 < polls < 1 << 20


def test_uart_interrupt_is_routed_to_this_core(qemu_console):
    """SPI 33 (PL011) is routed to core 0 (GICD_IROUTER33, a 64-bit
    register the console can read with @); the UART's own mask keeps it
    quiet until a driver wants it."""
    con = qemu_console
    iroute = 0x0800_0000 + 0x6000 + 33 * 8
    assert int(con.send(f"{iroute} @ .").split()[-2]) == 0
    assert "3  ok" in con.send("1 2 + .")


def test_a_script_larger_than_every_buffer_is_consumed_whole(qemu_console):
    """Idle means every byte written to QEMU was taken by the console: a
    script far larger than the PL011 FIFO and the pipe comes back whole."""
    lines = "".join(f"{i} drop\n" for i in range(6000)) + "12345 .\n"
    out = qemu_console.send(lines, limit=2_000_000_000)
    assert "12345  ok" in out
    assert out.count(" ok") == 6001


def test_same_input_same_output(virt_kernel):
    outs = []
    for _ in range(2):
        with QemuVirt(virt_kernel.elf) as q:
            r = q.run_script(": sq dup * ; 7 sq . instructions 3 sq drop instructions swap - .\n")
            assert r.status == "idle"
            outs.append(r.output)
    assert outs[0] == outs[1]


def test_a_hang_ends_as_limit_with_where_it_was(virt_kernel, monkeypatch):
    import harness.qemu as hq
    monkeypatch.setattr(hq, "BASE_SECONDS", 1.0)
    with QemuVirt(virt_kernel.elf) as q:
        r = q.run_script(": spin begin again ; spin\n", limit=0)
        assert r.status == "limit"
        assert "pc 0x" in r.report


def test_qemu_command_line():
    cmd = qemu_command("k.elf")
    assert cmd[1:5] == ["-M", "virt,virtualization=on,gic-version=3", "-cpu", "max"]
    assert cmd[cmd.index("-icount") + 1] == "shift=0,sleep=off"
    assert "-accel" not in cmd
    hvf = qemu_command("k.elf", accel="hvf", icount=False)
    assert hvf[hvf.index("-accel") + 1] == "hvf" and hvf[hvf.index("-cpu") + 1] == "host"
    assert "-icount" not in hvf


def test_without_qemu_the_reason_says_how_to_install_it(monkeypatch, tmp_path):
    import harness.qemu as hq
    monkeypatch.delenv("SOVEREIGN_QEMU", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert hq.qemu_binary() is None
    with pytest.raises(hq.QemuError) as e:
        QemuVirt(Path(__file__))
    assert "apt-get install -y --no-install-recommends qemu-system-arm" in str(e.value)
    assert "brew install qemu" in str(e.value)
