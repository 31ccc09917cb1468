"""What one scan costs PostgreSQL, one call at a time, beside one ledger transfer (issue 37).

The load step (`checkin_load`) measures the scan under concurrency, where a p95 is mostly the wait
for a core. This step answers the question the target asks, "how much CPU does the database spend
on a scan", without that noise: one connection calls `attendance_check_in` (or
`attendance_check_out`) once per transaction, as the app does, and the backend's own CPU is read
from /proc before and after (the server runs on this machine: embedded, or 127.0.0.1). The same
connection then runs the yardstick's transfer (bench/pgbench.py LEDGER_STATEMENTS, LEDGER_SCRIPT's five statements,
prepared, one transaction each) and the *bare scan*: the rows a check-in and a check-out write,
written by one PL/pgSQL call into tables of the same columns with no constraint, trigger or foreign
key (`BARE_SCHEMA`). Three figures per scan, same run, same backend:

- bare / transfer: what writing a scan's rows costs, against one transfer's rows;
- scan / bare: what the guarantees add (the checks, the triggers that keep the ledger whole, the
  foreign keys, the fraud and cap reads);
- scan / transfer: the target (<= 2).

`python -m bench` runs it as its step `cost`; `python -m bench.scan_cost [--calls N]` alone, on a
fresh database (embedded unless DATABASE_URL is set), with two tools for weighing a change:
`--change FILE` applies a file of SQL to the seeded world before measuring (a variant of the schema,
in that database only), and `--perf DIR` records `perf record -g` of the backend while it
measures (DIR/scan.data).
"""

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg

from bench import checkin_load, ledger_growth, pgbench, report
from domain.checkin import fraud, rules
from domain.core import clock

# The rows of a scan, without what guards them: the same columns as attendances, scan_nonces,
# transfers, entries, accounts and earned_daily / earned_quarterly (what a check-in writes), in
# tables of their own. One index per lookup the real write path makes.
BARE_SCHEMA = """
drop table if exists bare_nonces, bare_attendances, bare_transfers, bare_entries, bare_accounts,
    bare_earned_daily, bare_earned_quarterly, bare_activities cascade;
create table bare_activities (id bigint primary key, taken integer not null default 0);
create table bare_accounts (id bigint primary key, balance bigint not null default 0);
create table bare_nonces (activity_id bigint, user_id bigint, nonce text, claimed_at timestamptz,
    received_at timestamptz, primary key (activity_id, user_id, nonce));
create table bare_attendances (id bigint generated always as identity primary key, activity_id bigint,
    user_id bigint, state text, source text, checked_in_at timestamptz, checked_out_at timestamptz,
    minutes integer, points integer, in_nonce text, out_nonce text, recorded_by bigint, created_at timestamptz,
    in_received_at timestamptz, out_received_at timestamptz, last_seen_at timestamptz, auto_checkout boolean,
    in_lat double precision, in_lng double precision, in_device text, in_ip text, unique (activity_id, user_id));
create index on bare_attendances (in_device, checked_in_at);
create index on bare_attendances (in_ip, checked_in_at);
create index on bare_attendances (user_id, checked_in_at);
create table bare_transfers (id bigint generated always as identity primary key, unit text, debit_account bigint,
    credit_account bigint, amount bigint, held_amount bigint, kind text, state text, cause_type text,
    cause_id bigint, memo text, actor_id bigint, reason text, reverses bigint, idem_key text unique,
    expires_at timestamptz, created_at timestamptz, resolved_at timestamptz);
create index on bare_transfers (credit_account, created_at) where cause_type = 'checkin';
create table bare_entries (id bigint generated always as identity primary key, transfer_id bigint,
    account_id bigint, amount bigint, balance_after bigint, created_at timestamptz);
create index on bare_entries (account_id, id);
create index on bare_entries (transfer_id);
create table bare_earned_daily (user_id bigint, org_id bigint, unit text, day date, earned bigint,
    primary key (user_id, org_id, unit, day));
create table bare_earned_quarterly (user_id bigint, org_id bigint, unit text, quarter date, earned bigint,
    primary key (org_id, unit, quarter, user_id));

-- One credit: the transfer, both balances (the issuing side keeps none, as in the ledger), two
-- entries, the day's and the quarter's earnings.
create or replace function bare_credit(p_unit text, p_debit bigint, p_credit bigint, p_amount bigint,
    p_cause bigint, p_memo text, p_key text, p_at timestamptz, p_user bigint, p_org bigint) returns void
language plpgsql as $$
declare
    t bigint;
    after_credit bigint;
begin
    if p_amount <= 0 then
        return;
    end if;
    insert into bare_transfers (unit, debit_account, credit_account, amount, kind, state, cause_type, cause_id,
                                memo, idem_key, created_at)
    values (p_unit, p_debit, p_credit, p_amount, 'award', 'posted', 'checkin', p_cause, p_memo, p_key, p_at)
    returning id into t;
    update bare_accounts set balance = balance + p_amount where id = p_credit returning balance into after_credit;
    insert into bare_entries (transfer_id, account_id, amount, balance_after, created_at)
    values (t, p_debit, -p_amount, null, p_at), (t, p_credit, p_amount, after_credit, p_at);
    insert into bare_earned_daily values (p_user, p_org, p_unit, p_at::date, p_amount)
    on conflict (user_id, org_id, unit, day) do update set earned = bare_earned_daily.earned + excluded.earned;
    insert into bare_earned_quarterly values (p_user, p_org, p_unit, date_trunc('quarter', p_at)::date, p_amount)
    on conflict (org_id, unit, quarter, user_id) do update set earned = bare_earned_quarterly.earned + excluded.earned;
end $$;

-- A check-in's rows: the activity's lock and place, the nonce, today's credits (the cap), the
-- attendance, one credit.
create or replace function bare_check_in(p_activity bigint, p_user bigint, p_at timestamptz, p_nonce text,
    p_account bigint, p_issuing bigint, p_org bigint, p_points integer) returns bigint
language plpgsql as $$
declare
    a bigint;
    already bigint;
begin
    perform 1 from bare_activities where id = p_activity for key share;
    insert into bare_nonces values (p_activity, p_user, p_nonce, p_at, p_at) on conflict do nothing;
    perform 1 from bare_accounts where id = p_account for update;
    select coalesce(sum(amount), 0) into already from bare_transfers
     where cause_type = 'checkin' and credit_account = p_account and created_at >= p_at - interval '1 day';
    insert into bare_attendances (activity_id, user_id, state, source, checked_in_at, in_nonce, points,
                                  created_at, last_seen_at)
    values (p_activity, p_user, 'inside', 'self', p_at, p_nonce, p_points, p_at, p_at)
    on conflict (activity_id, user_id) do nothing returning id into a;
    update bare_activities set taken = taken + 1 where id = p_activity;
    perform bare_credit('points', p_issuing, p_account, p_points, a, 'bench', 'in:' || a, p_at, p_user, p_org);
    return a;
end $$;

-- A check-out's rows: the lock, the attendance closed, the nonce, the cap, two credits.
create or replace function bare_check_out(p_attendance bigint, p_activity bigint, p_user bigint, p_at timestamptz,
    p_nonce text, p_points_account bigint, p_minutes_account bigint, p_issuing_points bigint,
    p_issuing_minutes bigint, p_org bigint, p_points integer, p_minutes integer) returns void
language plpgsql as $$
declare
    already bigint;
begin
    perform 1 from bare_activities where id = p_activity for key share;
    perform 1 from bare_attendances where id = p_attendance and state = 'inside' for update;
    insert into bare_nonces values (p_activity, p_user, p_nonce, p_at, p_at) on conflict do nothing;
    perform 1 from bare_accounts where id in (p_points_account, p_minutes_account) order by id for update;
    select coalesce(sum(amount), 0) into already from bare_transfers
     where cause_type = 'checkin' and credit_account = p_points_account and created_at >= p_at - interval '1 day';
    update bare_attendances set state = 'done', checked_out_at = p_at, minutes = p_minutes,
                                points = points + p_points, out_nonce = p_nonce where id = p_attendance;
    perform bare_credit('points', p_issuing_points, p_points_account, p_points, p_attendance, 'bench',
                        'out:p:' || p_attendance, p_at, p_user, p_org);
    perform bare_credit('minutes', p_issuing_minutes, p_minutes_account, p_minutes, p_attendance, 'bench',
                        'out:m:' || p_attendance, p_at, p_user, p_org);
end $$;
"""


class NotLocal(Exception):
    """The server's backends are not processes of this machine: their CPU cannot be read."""


def backend_cpu(conn: asyncpg.Connection) -> float:
    """CPU seconds the connection's backend has spent on a core so far (the server must run here)."""
    spent = ledger_growth.backend_cpu_s(ledger_growth.local_backend(conn.get_server_pid()))
    if spent is None:
        raise NotLocal("the server's backend is not a process of this machine")
    return spent


async def _timed(conn: asyncpg.Connection, calls, run) -> float:
    """Backend CPU ms per call of `run(conn, call)`, each in a transaction of its own."""
    before = backend_cpu(conn)
    for call in calls:
        async with conn.transaction():
            await run(conn, call)
    return (backend_cpu(conn) - before) * 1000 / len(calls)


def _perf(conn: asyncpg.Connection, folder: str | None) -> subprocess.Popen | None:
    """`perf record -g` of the connection's backend into folder/scan.data, until sent SIGINT."""
    if not folder:
        return None
    recorder = subprocess.Popen(["perf", "record", "-g", "-p", str(conn.get_server_pid()), "-o",
                                 str(Path(folder) / "scan.data")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # perf attaches
    return recorder


async def _accounts(conn: asyncpg.Connection, community_id: int, user_ids: list[int]) -> dict:
    rows = await conn.fetch(
        "select user_id, unit, id from accounts where kind = 'user' and org_id = $1 and user_id = any($2)",
        community_id, user_ids)
    mine = {(r["user_id"], r["unit"]): r["id"] for r in rows}
    issuing = {r["unit"]: r["id"] for r in await conn.fetch(
        "select unit, id from accounts where kind = 'issuing' and org_id = $1", community_id)}
    return {"user": mine, "issuing": issuing}


CHECK_IN = ("select outcome from attendance_check_in(p_activity => $1, p_user => $2, p_source => 'self', p_at => $3,"
            " p_received => $3, p_late => false, p_nonce => $4, p_claimed => $3, p_actor => null, p_lat => null,"
            " p_lng => null, p_device => $5, p_ip => $6, p_wanted => $7, p_daily_cap => 100000,"
            " p_day_start => $8, p_day_end => $9, p_account => $10, p_issuing => $11, p_memo => 'bench',"
            " p_burst_since => $12, p_travel_lookback => $13)")
CHECK_OUT = ("select outcome from attendance_check_out(p_attendance => $1, p_activity => $2, p_user => $3,"
             " p_at => $4, p_minutes => $5, p_wanted => $6, p_daily_cap => 100000, p_day_start => $7,"
             " p_day_end => $8, p_nonce => $9, p_claimed => $4, p_late => false, p_auto => false, p_now => $4,"
             " p_actor => null, p_points_account => $10, p_minutes_account => $11, p_issuing_points => $12,"
             " p_issuing_minutes => $13, p_memo => 'bench')")


ROUNDS = 10
HISTORY = 10  # past awards a person (see measure)


def warm_up_calls(calls: int) -> int:
    return max(50, calls // 10)


async def measure(url: str, world: checkin_load.World, calls: int, perf: str | None = None) -> dict:
    """Backend CPU per call, ms, of a check-in, a check-out, the transfer and the bare scan's two
    halves, each about `calls` times after a warm-up (the world must hold calls + warm_up_calls(calls)
    check-ins and check-outs); with `perf` (a folder), a profile of the backend meanwhile."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(BARE_SCHEMA)
        await conn.execute(pgbench.LEDGER_SCHEMA)
        users = world.user_ids
        money = await _accounts(conn, world.community_id, users)
        await conn.execute("insert into bare_activities select unnest($1::bigint[])", world.activity_ids)
        await conn.execute("insert into bare_accounts select unnest($1::bigint[])", list(money["user"].values()))
        now = clock.now()
        # History: the ledger of a live community (HISTORY awards a person, a month and more ago:
        # outside today's cap), in both worlds. On the few rows of a fresh world the plans chosen
        # were a small table's: the cap's read of `transfers` scanned it whole, ever longer as the
        # calls added rows, and the scan's figure grew with the run.
        people = [a for (_, unit), a in money["user"].items() if unit == "points"]
        await conn.execute(
            """select ledger_insert_transfer(p_unit => 'points', p_debit => $1, p_credit => a, p_amount => 1,
                   p_kind => 'award', p_state => 'posted', p_cause_type => 'activity',
                   p_key => 'bench-history:' || a || ':' || k, p_at => $3::timestamptz - make_interval(days => 30 + k))
               from unnest($2::bigint[]) as a, generate_series(1, $4) as k""",
            money["issuing"]["points"], people, now, HISTORY)
        await conn.execute(
            "insert into bare_transfers (unit, debit_account, credit_account, amount, kind, state, cause_type, "
            "idem_key, created_at) select 'points', $1, a, 1, 'award', 'posted', 'activity', "
            "'bench-history:' || a || ':' || k, $3::timestamptz - make_interval(days => 30 + k) "
            "from unnest($2::bigint[]) as a, generate_series(1, $4) as k",
            money["issuing"]["points"], people, now, HISTORY)
        await conn.execute("analyze")
        day_start, day_end = rules.local_day(now)
        burst_since = now - timedelta(minutes=10)
        warm = warm_up_calls(calls)
        calls += warm
        ins = [(world.activity_ids[a], users[u]) for u, a in world.checkins[:calls]]
        outs = await conn.fetch(
            "select id, activity_id, user_id from attendances where state = 'inside' and activity_id = any($1) "
            "order by id limit $2", world.activity_ids, calls)
        if len(ins) < calls or len(outs) < calls:
            raise ValueError(f"the world holds {len(ins)} check-ins and {len(outs)} check-outs, not {calls}")
        statements = [await conn.prepare(sql) for sql in pgbench.LEDGER_STATEMENTS]
        check_in, check_out = await conn.prepare(CHECK_IN), await conn.prepare(CHECK_OUT)
        bare_in = await conn.prepare("select bare_check_in($1, $2, $3, $4, $5, $6, $7, 5)")
        bare_out = await conn.prepare("select bare_check_out($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 30, 30)")

        async def transfer(conn, k):
            a, b = 1 + k % pgbench.LEDGER_ACCOUNTS, 1 + (k * 7919 + 1) % pgbench.LEDGER_ACCOUNTS
            if a == b:
                b = 1 + b % pgbench.LEDGER_ACCOUNTS
            await statements[0].fetch(a, b)
            debit_after = await statements[1].fetchval(a, 3)
            credit_after = await statements[2].fetchval(b, 3)
            t = await statements[3].fetchval(a, b, 3)
            await statements[4].fetch(t, a, 3, debit_after, b, credit_after)

        async def scan_in(conn, pair):
            activity, user = pair
            outcome = await check_in.fetchval(
                activity, user, now, uuid.uuid4().hex, f"device-{user}", checkin_load.phone_address(user), 5,
                day_start, day_end, money["user"][(user, "points")], money["issuing"]["points"], burst_since,
                fraud.TRAVEL_LOOKBACK)
            assert outcome == "checked_in", outcome

        async def scan_out(conn, row):
            user = row["user_id"]
            outcome = await check_out.fetchval(
                row["id"], row["activity_id"], user, now, 30, 30, day_start, day_end, uuid.uuid4().hex,
                money["user"][(user, "points")], money["user"][(user, "minutes")], money["issuing"]["points"],
                money["issuing"]["minutes"])
            assert outcome == "checked_out", outcome

        async def bare_scan_in(conn, pair):
            activity, user = pair
            await bare_in.fetchval(activity, user, now, uuid.uuid4().hex, money["user"][(user, "points")],
                                   money["issuing"]["points"], world.community_id)

        bare_ids = {}

        async def bare_scan_out(conn, row):
            user = row["user_id"]
            # the bare world's own attendance of the same pair (written by the bare check-ins)
            attendance = bare_ids[(row["activity_id"], user)]
            await bare_out.fetchval(attendance, row["activity_id"], user, now, uuid.uuid4().hex,
                                    money["user"][(user, "points")], money["user"][(user, "minutes")],
                                    money["issuing"]["points"], money["issuing"]["minutes"], world.community_id)

        # Warm-up: every kind of call runs first (plans cached, pages read), then the statistics are
        # taken, as autovacuum would on a live server. The bare check-outs need bare attendances inside: the check-out pairs', checked in here (the
        # bare check-ins measured take the check-in pairs, as the real ones do).
        await _timed(conn, range(warm), transfer)
        await _timed(conn, ins[:warm], scan_in)
        await _timed(conn, outs[:warm], scan_out)
        await _timed(conn, [(r["activity_id"], r["user_id"]) for r in outs], bare_scan_in)
        bare_ids.update({(r["activity_id"], r["user_id"]): r["id"] for r in await conn.fetch(
            "select id, activity_id, user_id from bare_attendances")})
        await _timed(conn, outs[:warm], bare_scan_out)
        await _timed(conn, ins[:warm], bare_scan_in)
        await conn.execute("analyze")
        # Measured in ROUNDS interleaved slices, so that the machine's drift (another process, the
        # CPU's clock) weighs on every kind alike: run-to-run, every figure moved by up to a third
        # together, while their ratios held within a tenth.
        kinds = {"transfer": (list(range(warm, calls)), transfer), "check_in": (ins[warm:], scan_in),
                 "check_out": (outs[warm:], scan_out), "bare_check_in": (ins[warm:], bare_scan_in),
                 "bare_check_out": (outs[warm:], bare_scan_out)}
        size = (calls - warm) // ROUNDS
        recorder = _perf(conn, perf)
        figures = dict.fromkeys(kinds, 0.0)
        for r in range(ROUNDS):
            for kind, (items, call) in kinds.items():
                figures[kind] += await _timed(conn, items[r * size:(r + 1) * size], call) / ROUNDS
        if recorder:
            recorder.send_signal(signal.SIGINT)
            recorder.wait()
        return summarise(figures, size * ROUNDS)
    finally:
        await conn.close()


def summarise(ms: dict, calls: int) -> dict:
    """The scan is half check-ins, half check-outs, as in the load."""
    scan = (ms["check_in"] + ms["check_out"]) / 2
    bare = (ms["bare_check_in"] + ms["bare_check_out"]) / 2
    return {"calls": calls, "ms_per_call": {k: round(v, 3) for k, v in ms.items()},
            "scan_ms": round(scan, 3), "bare_scan_ms": round(bare, 3), "transfer_ms": round(ms["transfer"], 3),
            "bare_x_transfer": round(bare / ms["transfer"], 2), "scan_x_bare": round(scan / bare, 2),
            "scan_x_transfer": round(scan / ms["transfer"], 2)}


def table(result: dict) -> str:
    """The three figures of a scan, one call at a time, and how they compare."""
    ms = result["ms_per_call"]
    head = (f"A scan's PostgreSQL CPU, one call at a time (the backend's own CPU, {result['calls']} calls each; "
            "bare = the same rows in tables with no constraint, trigger or foreign key)")
    return head + "\n\n" + report.table(
        ["call", "check-in ms", "check-out ms", "scan ms", "x transfer"],
        [["ledger transfer (yardstick)", None, None, result["transfer_ms"], 1.0],
         ["scan, bare rows", ms["bare_check_in"], ms["bare_check_out"], result["bare_scan_ms"],
          result["bare_x_transfer"]],
         ["scan (attendance_check_in / _out)", ms["check_in"], ms["check_out"], result["scan_ms"],
          result["scan_x_transfer"]]]) + (
        f"\n\nscan / bare rows = {result['scan_x_bare']:.2f}: what the guarantees (checks, triggers, foreign keys, "
        "the cap's and fraud signals' reads) add to writing the rows")


async def run(url: str, calls: int, change: str | None = None, perf: str | None = None) -> dict:
    """Migrate a fresh database, seed a world of `calls` check-ins and check-outs, measure."""
    from domain.core import db
    conn = await asyncpg.connect(url)
    try:
        backend_cpu(conn)  # NotLocal for a server elsewhere: before the seeding, not after it
    finally:
        await conn.close()
    await db.migrate(url)
    volunteers = calls + warm_up_calls(calls)
    world = await checkin_load.seed(url, volunteers=volunteers, activity_count=2)
    if change:  # a variant of the schema to weigh (a file of SQL), applied to this database only
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(Path(change).read_text())
        finally:
            await conn.close()
        await db.migrate(url)  # the SQL sources again, if the change asked for it
    return await measure(url, world, calls, perf)


def main(calls: int, change: str | None = None, perf: str | None = None) -> dict:
    from bench.server import Postgres
    pg = Postgres().start()
    try:
        return asyncio.run(run(pg.database("scan_cost"), calls, change, perf))
    finally:
        pg.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--change", help="a file of SQL applied after the world is seeded (a variant to weigh)")
    parser.add_argument("--perf", help="a folder: `perf record -g` of the backend while it measures, into it")
    args = parser.parse_args()
    started = time.perf_counter()
    result = main(args.calls, args.change, args.perf)
    print(table(result))
    print(json.dumps(result), file=sys.stderr)
    print(f"({time.perf_counter() - started:.0f} s)")
