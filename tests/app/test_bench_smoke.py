"""The pure parts of the benchmarks (bench/): statistics, tables, pgbench and EXPLAIN parsing, the
check-in grid. The benchmark itself runs with `python -m bench`, never in the test suite."""

import pytest

from bench import checkin_load, ledger_growth, pgbench
from bench.__main__ import configure, judge, parse_args
from bench.report import latency_summary, percentile, ratio, table, verdict

pytestmark = pytest.mark.heavy

PGBENCH_18 = """pgbench (18.6)
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
query mode: simple
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 5132
number of failed transactions: 0 (0.000%)
latency average = 4.618 ms
latency stddev = 3.606 ms
initial connection time = 36.177 ms
tps = 1722.238386 (without initial connection time)
"""

PGBENCH_14 = """transaction type: <builtin: TPC-B (sort of)>
number of transactions actually processed: 1200
latency average = 12.500 ms
tps = 640.100000 (excluding connections establishing)
"""

EXPLAIN = [
    "Limit  (cost=1.13..223.76 rows=21 width=147) (actual time=0.021..0.085 rows=21.00 loops=1)",
    "  Buffers: shared hit=155",
    "  ->  Nested Loop Left Join  (cost=1.13..1076818.93 rows=101200 width=170)",
    "        ->  Index Scan using entries_account on entries e  (cost=0.43..75529.84 rows=101200 width=48)",
    "        ->  Seq Scan on users u  (cost=0.00..20.00 rows=1000 width=40)",
    "Planning:",
    "  Buffers: shared hit=24",
    "Planning Time: 0.325 ms",
    "Execution Time: 0.108 ms",
]


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100
    assert percentile([], 50) is None and percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of arrival does not matter


def test_latency_summary_is_in_milliseconds():
    summary = latency_summary([0.001, 0.002, 0.003, 0.004, 0.100])
    assert summary["p50_ms"] == 3.0 and summary["max_ms"] == 100.0
    assert summary["p95_ms"] > summary["p50_ms"]
    assert latency_summary([])["p99_ms"] is None


def test_ratio_and_verdicts():
    assert ratio(50, 200) == 0.25
    assert ratio(50, 0) is None and ratio(None, 10) is None
    assert verdict(0.6, 0.5, at_most=False) == "ok" and verdict(0.4, 0.5, at_most=False) == "MISS"
    assert verdict(30.0, 25.0, at_most=True) == "MISS" and verdict(None, 1, at_most=True) == "-"


def test_table_aligns_columns_and_formats_numbers():
    text = table(["clients", "tps", "ok"], [[8, 1722.238, True], [64, 5.25, False], [32, None, True]])
    lines = text.splitlines()
    assert lines[0].startswith("clients") and set(lines[1]) <= {"-", " "}
    assert len({len(line) for line in lines}) == 1  # right-aligned numbers: every row as wide
    assert "1,722" in lines[2] and "5.25" in lines[3] and "NO" in lines[3] and lines[4].split()[1] == "-"


def test_pgbench_output_is_parsed():
    figures = pgbench.parse(PGBENCH_18)
    assert figures == {"tps": 1722.238386, "latency_avg_ms": 4.618, "latency_stddev_ms": 3.606,
                       "transactions": 5132, "failed": 0}
    older = pgbench.parse(PGBENCH_14)
    assert older["tps"] == 640.1 and older["latency_stddev_ms"] is None
    with pytest.raises(ValueError):
        pgbench.parse("connection to server failed")


def test_explain_summary_keeps_the_lines_that_matter():
    summary = ledger_growth.explain_summary(EXPLAIN)
    assert summary["top"].startswith("Limit") and summary["buffers"] == "Buffers: shared hit=155"
    assert summary["planning"] == "Planning Time: 0.325 ms" and summary["execution_ms"] == 0.108
    assert summary["indexes"] == ["entries_account"] and summary["seq_scans"] == ["users"]


def test_check_in_grid_uses_every_cell_once_and_keeps_concurrent_scans_apart():
    volunteers, activities = 50, 6
    ins, outs = checkin_load.grid_cells(volunteers, activities)
    cells = ins + outs
    assert len(cells) == len(set(cells)) == volunteers * activities
    assert not set(ins) & set(outs) and len(ins) == len(outs)
    for stream in (ins, outs):  # 32 concurrent clients take consecutive pairs: all different people
        for start in range(0, len(stream) - 32, 17):
            assert len({u for u, _ in stream[start:start + 32]}) == 32
    for k in range(0, len(ins), 7):  # the two streams advance together without meeting
        assert ins[k][0] != outs[k][0]
    with pytest.raises(ValueError):
        checkin_load.grid_cells(10, 5)


def test_options_pick_the_bounded_configurations():
    quick = configure(parse_args(["--quick"]))
    assert quick["growth"] == [10_000, 100_000] and quick["seconds"] < configure(parse_args([]))["seconds"]
    full = configure(parse_args(["--full-10m", "--clients", "8,64", "--skip", "pages"]))
    assert full["growth"][-1] == 10_000_000 and full["clients"] == [8, 64] and full["skip"] == ["pages"]


def test_targets_are_judged_from_the_figures():
    results = {
        "checkin_load": {"levels": [{"clients": 8, "checkin_ratio": 0.7, "p99_ms": 9.0},
                                    {"clients": 64, "checkin_ratio": 0.4, "p99_ms": 31.0}]},
        "pages": {"/s/abc": {"wire_bytes": 40 * 1024}},
    }
    verdicts = {t["target"]: (t["measured"], t["verdict"]) for t in judge(results)}
    assert verdicts["check-ins/s >= 0.5 x pgbench tps (every client count)"] == (0.4, "MISS")
    assert verdicts["p99 <= 25 ms at 64 clients"] == (31.0, "MISS")
    assert verdicts["scan page <= 50 KB"] == (40.0, "ok")
