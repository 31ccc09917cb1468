"""`python -m bench --city` (issue 37): a city world at Meishan's numbers beside the one-community
world, the ledger check on the city, and every read a page makes, timed on both (bench/city_world.py,
bench/city_reads.py). bench/README.md says how to read the tables."""

import asyncio
import time

from bench import city_reads, city_world
from bench.report import table, verdict
from bench.server import App

TARGETS = {"community_p95_ms": 50.0, "community_ratio": 1.5, "aggregate_p95_ms": 200.0,
           "export_rss_growth_mb": 32.0}


def run(pg, config: dict, results: dict, failures: list[str], ledger_check, log=print) -> None:
    postings = config.get("city_postings", city_world.DEFAULT_POSTINGS)
    worlds = {}
    for name, one in (("one_community", True), ("city", False)):
        url = pg.database("city_one" if one else "city")
        started = time.perf_counter()
        worlds[name] = asyncio.run(city_world.build(url, one_community=one, postings=postings, log=log))
        log(f"  {name}: built in {time.perf_counter() - started:.0f} s")
    section = results.setdefault("city", {})
    section["postings_requested"] = postings
    section["worlds"] = {name: {"facts": w.facts, "timings": w.timings} for name, w in worlds.items()}
    check = ledger_check(worlds["city"].url)
    section["ledger_check_after_load"] = check
    log(f"linli ledger check on the city: {'clean' if check['clean'] else 'DRIFT'} ({check['seconds']} s)")
    if not check["clean"]:
        failures.append(f"linli ledger check found drift in the city world:\n{check['output']}")
    measured = {}
    for name, world in worlds.items():
        asyncio.run(pg.statement_stats(world.url))
        app = App(world.url, workers=config["workers"])
        try:
            app.start()
            log(f"  reads on the {name.replace('_', ' ')} world:")
            measured[name] = asyncio.run(city_reads.measure(app, world, pg.server_cpu, log=log))
        finally:
            app.stop()
    section["reads"] = city_reads.compare(measured["city"], measured["one_community"])
    check = ledger_check(worlds["city"].url)
    section["ledger_check_after_reads"] = check
    if not check["clean"]:
        failures.append(f"linli ledger check found drift in the city world after the reads:\n{check['output']}")


def judge(results: dict) -> list[dict]:
    section = results.get("city")
    if not section or "reads" not in section:
        return []
    out = []
    reads = section["reads"]
    community = [r for r in reads if r["kind"] == "community" and r.get("p95_ms") is not None]
    aggregate = [r for r in reads if r["kind"] == "aggregate" and r.get("p95_ms") is not None]
    exports = [r for r in reads if r["kind"] == "export"]
    for r in community:
        label = f"{r['role']} {r['operation']}"
        out.append({"target": f"p95 <= {TARGETS['community_p95_ms']:g} ms: {label}", "measured": r["p95_ms"],
                    "verdict": verdict(r["p95_ms"], TARGETS["community_p95_ms"], at_most=True)})
        out.append({"target": f"p95 <= {TARGETS['community_ratio']:g} x one community: {label}",
                    "measured": r["p95_ratio"], "verdict": verdict(r["p95_ratio"], TARGETS["community_ratio"],
                                                                   at_most=True)})
    for r in aggregate:
        out.append({"target": f"p95 <= {TARGETS['aggregate_p95_ms']:g} ms: {r['role']} {r['operation']}",
                    "measured": r["p95_ms"], "verdict": verdict(r["p95_ms"], TARGETS["aggregate_p95_ms"], at_most=True)})
    for r in exports:
        label = f"{r['role']} {r['operation']}"
        ok = r.get("status") == 200
        out.append({"target": f"export answers every row (no cap): {label}", "measured": r.get("status"),
                    "verdict": "ok" if ok else "MISS"})
        mb = round(r["rss_growth_kb"] / 1024, 1) if ok and r.get("rss_growth_kb") is not None else None
        out.append({"target": f"export memory (peak RSS growth) <= {TARGETS['export_rss_growth_mb']:g} MB: {label}",
                    "measured": mb, "verdict": verdict(mb, TARGETS["export_rss_growth_mb"], at_most=True)})
    for r in reads:
        big = (r.get("costliest") or {}).get("big_seq_scans")
        if big and r["kind"] != "export":
            out.append({"target": f"no whole-table scan of a city table: {r['role']} {r['operation']}",
                        "measured": ",".join(big), "verdict": "MISS"})
    return out


def summary(results: dict) -> list[str]:
    section = results.get("city")
    if not section:
        return []
    parts = []
    facts = section["worlds"]["city"]["facts"]
    parts.append("City world (bench/city_world.py): " + ", ".join(f"{k} {v:,}" for k, v in facts.items())
                 + f"; loaded in {section['worlds']['city']['timings'].get('total')} s; ledger check "
                 + ("clean" if section["ledger_check_after_load"]["clean"] else "DRIFT"))
    reads = section.get("reads", [])
    if not reads:
        return parts
    parts.append("Every read a page makes, city beside one community (8 readers x 4 calls; ms over loopback; "
                 "PG/app = CPU ms per call; ratio = city p95 / one-community p95; plan = the costliest "
                 "statement's generic plan, * = a sequential scan of a table over 50,000 rows)")
    rows = []
    for r in reads:
        o = r.get("one_community") or {}
        plan = r.get("costliest") or {}
        scans = ",".join(("*" + t) if t in plan.get("big_seq_scans", []) else t for t in plan.get("seq_scans", []))
        rows.append([r["role"].replace("_manager", " mgr"), r["kind"][:4], r["operation"][:58],
                     r.get("p50_ms") if r.get("status") == 200 else f"HTTP {r.get('status')}", r.get("p95_ms"),
                     r.get("postgres_cpu_ms_per_call"), r.get("app_cpu_ms_per_call"), o.get("p95_ms"),
                     r.get("p95_ratio"), scans or "-"])
    parts.append(table(["who", "kind", "operation", "p50", "p95", "PG", "app", "1-comm p95", "ratio", "seq scans"],
                       rows))
    exports = [r for r in reads if r["kind"] == "export" and r.get("status") == 200]
    if exports:
        parts.append("Exports (3 calls one after another, city world): seconds, size, peak RSS growth of a worker")
        parts.append(table(["operation", "median s", "max s", "MB", "RSS growth MB", "PG CPU s", "app CPU s"],
                           [[r["operation"][:60], r["p50_ms"] / 1000, r["p95_ms"] / 1000,
                             round(r["bytes"] / 1e6, 1), round(r["rss_growth_kb"] / 1024, 1),
                             (r.get("postgres_cpu_ms_per_call") or 0) / 1000, (r.get("app_cpu_ms_per_call") or 0) / 1000]
                            for r in exports]))
    return parts
