"""The Forth 2012 suite (tests/test_forth2012.py) again, on the virt board
under QEMU: the same kernel with QEMU's own exceptions and MMU behind it."""

from test_forth2012 import test_forth2012_suite as forth2012_suite


def test_forth2012_suite_under_qemu(qemu_console):
    forth2012_suite(qemu_console)
