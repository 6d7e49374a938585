"""The seed's file rows (file open, file read 4 KB, file write 4 KB, disk
flush: harness/bench.py FILE_BENCHMARKS) on the emulated M3 with the bench
disk as its RAM disk: each row's budget variant, in its budget state, held
to its budget or, while it is over, to its KNOWN_OVER ceiling.  Modelled
cycles: deterministic, so exact checks.  (tests/test_budgets.py runs every
variant in every state with the rest of the bench; this file is the quick
check of these rows alone.)"""

import pytest

from harness import bench, fat
from harness.costs import MEMORY, disk_flush_cost

FILE_ROWS = ("file_open", "file_read", "file_write", "disk_flush")


def test_the_bench_disk_is_a_clean_fat32_volume_with_its_files():
    disk = bench.bench_disk()
    assert disk is bench.bench_disk()                       # made once per process, the same bytes
    with fat.Volume(disk) as v:
        v.check()
        assert v.stat(bench.BENCH_FILE).size == bench.BENCH_FILE_SIZE
        assert v.stat(bench.BENCH_LOG).size % 512 != 0       # an append starts inside a sector
        assert len(v.listdir("/data")) >= 17


@pytest.fixture(scope="module")
def rows(kernel):
    plans = {}
    for key in FILE_ROWS:
        p = bench.PLANS[key]
        v = next(v for v in p.variants if v.name == p.budget_variant)
        plans[key] = bench.Plan((v,), v.name, p.budget_state, p.why, (p.budget_state,))
    budgets = [b for b in bench.BUDGETS if b.key in FILE_ROWS]
    return {r.key: r for r in bench.run(kernel.elf, budgets=budgets, plans=plans)}


@pytest.mark.parametrize("key", FILE_ROWS)
def test_file_row_within_budget_or_its_ceiling(rows, key):
    row = rows[key]
    b = row.budget_result
    assert b is not None and b.instructions.median > 0
    assert b.conservative.min <= b.conservative.median <= b.conservative.p99 <= b.conservative.max
    assert b.optimistic.median <= b.conservative.median
    figures = f"{row.primitive}: p99 {b.conservative.p99:,.0f}, budget {row.budget_cycles:,}"
    known = bench.KNOWN_OVER.get(key)
    if known is None:
        assert b.conservative.p99 <= row.budget_cycles, "over budget: " + figures
    else:
        assert b.conservative.p99 > row.budget_cycles, f"within budget now: remove {key!r} from KNOWN_OVER"
        assert b.conservative.p99 <= known.ceiling, f"above its ceiling {known.ceiling:,}: {figures}"


def test_the_flush_is_the_assumed_device_flush_once_and_the_kernel_part(rows):
    """Every flush sample carries exactly one assumed device flush
    (harness/costs.py disk_flush, charged at blk_flush); the rest, the
    kernel writing the dirty sectors to the RAM disk, is small beside it;
    at the assumption's low end the row is within its budget."""
    row = rows["disk_flush"]
    b = row.budget_result
    cons, opt_milli = disk_flush_cost()
    assert MEMORY["disk_flush"].source.startswith("assumed")
    assert cons <= b.assumed.min and b.assumed.max < 2 * cons
    kernel_part = b.conservative.p99 - cons
    assert 0 < kernel_part < 30_000, kernel_part
    assert b.optimistic.p99 >= opt_milli / 1000
    assert b.optimistic.p99 <= row.budget_cycles


def test_the_read_and_open_rows_touch_the_disk_only_when_the_cache_is_cold(kernel):
    """The cold variants really go to the disk, the hot open does not: the
    block layer's request count (blk-stats) over 20 runs of each."""
    m = bench.boot(kernel.elf, "conservative", disk=True)

    def requests(setup_or_run: str) -> int:
        before = len(m.output)
        r = m.run_script(setup_or_run + " blk-stats 2drop .\n", 2_000_000_000)
        out = m.output[before:]
        assert r.ok and "error" not in out, out
        return int(out.split()[-2])

    requests(bench.FILE_BENCHMARKS["open_cold"].setup)
    start = requests("")
    hot = requests(": hot20 20 0 do fb-close bench-open loop ; hot20")
    cold = requests(": cold20 20 0 do fb-close-cold bench-open loop ; cold20")
    assert hot == start, (start, hot)
    assert cold - hot >= 20 * 3, (hot, cold)             # root, /data's sectors, its FAT sector, each time


def test_under_qemu_a_cold_open_goes_to_the_device_and_a_flush_asks_it_to_flush(virt_kernel):
    """The same rows under QEMU's virtio-blk (harness/bench.py
    qemu_file_table): the hot open makes no device request, the cold one
    one per sector it reads; the flush writes its dirty sectors and then
    sends the device's own flush (one request more than the writes)."""
    text = bench.qemu_file_table(virt_kernel.elf, samples=8, keys=("open_cold", "open_hot", "flush"))
    got = {}
    for line in text.splitlines()[2:-1]:
        *_, instr, req, ints = line.split()
        got[line[18:52].strip()] = (int(instr.replace(",", "")), float(req), float(ints))
    cold, hot = got["path in /data, FS cache cold"], got["path in /data, FS cache hot"]
    flush = got["FLUSH-FILE after a 4 KB append"]
    assert hot[1] == 0 and cold[1] >= 3 and cold[1] == cold[2], got
    assert cold[0] > hot[0] > 10_000, got
    assert flush[1] >= 2 and flush[1] == flush[2], got
