"""Check-in load: volunteers scanning activity posters over HTTP with real session tokens.

The world (seeded straight through the domain functions, fast): one community, N volunteers with
live sessions, M published activities with a wide window and a poster code each.

Each client loops over pairs of scans of POST /api/scans:
- a check-in: a volunteer scans the poster of an activity they have not attended yet (points award);
- a check-out: a volunteer scans the poster of an activity they checked into 30 minutes ago, confirmed
  (intent check_out, as the page sends it after its confirm prompt; minutes banked and points per
  hour: two awards).
A second scan within two minutes of a check-in is only "already_checked_in" (domain/checkin_rules
REPEAT_WINDOW), so the check-outs use attendances seeded "inside" half an hour earlier; every
(volunteer, activity) cell of the grid is used once, either for a check-in or for a check-out.

Afterwards every award transfer written since the load began is counted against the credits the
successful responses announced: a lost or doubled write shows up as a difference.
"""

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlparse

import asyncpg
import httpx
import msgspec

from bench.report import latency_summary, ratio
from domain import supermarket
from domain.checkin import activities
from domain.core import clock, codes, db
from domain.people import auth, orgs

TITLE = "压测活动"
SEEDED_MINUTES_AGO = 30
POINTS_ON_CHECKIN = 5
POINTS_PER_HOUR = 60


@dataclass
class World:
    community_id: int
    grid_id: int
    activity_ids: list[int]
    codes: list[str]
    tokens: list[str]                       # per volunteer, bearer tokens
    user_ids: list[int]
    checkins: list[tuple[int, int]]         # (volunteer index, activity index) never attended
    checkouts: list[tuple[int, int]]        # (volunteer index, activity index) inside since 30 minutes
    next_checkin: itertools.count = field(default_factory=itertools.count)
    next_checkout: itertools.count = field(default_factory=itertools.count)
    extra: dict = field(default_factory=dict)

    def reserve(self, checkins: int, checkouts: int) -> "World":
        """A world of the same people and activities with pairs of its own, cut from the end of these
        before any is taken (the profile's, issue 37: run after the load, it used to find every pair
        taken and printed "0.0 database calls" for scans that were never sent)."""
        mine_in, self.checkins = self.checkins[-checkins:] if checkins else [], self.checkins[:-checkins or None]
        mine_out, self.checkouts = self.checkouts[-checkouts:] if checkouts else [], self.checkouts[:-checkouts or None]
        return World(self.community_id, self.grid_id, self.activity_ids, self.codes, self.tokens, self.user_ids,
                     mine_in, mine_out, extra=self.extra)

    def take(self, kind: str) -> tuple[int, int] | None:
        pairs, counter = ((self.checkins, self.next_checkin) if kind == "in" else (self.checkouts, self.next_checkout))
        k = next(counter)
        return pairs[k] if k < len(pairs) else None


def phone(n: int) -> str:
    return f"139{n:08d}"


# Every phone of a city has its own network address (mobile networks, home wifi). The load comes
# from this one machine, so it says each phone's address in X-Forwarded-For, which the app believes
# from 127.0.0.1 only (LINLI_TRUSTED_PROXIES, set by bench/server.py and bench/profile.py): one
# address for every scan would read as a venue's wifi and raise the address-burst signal.
TRUSTED_PROXY = "127.0.0.1"


def phone_address(user: int) -> str:
    return f"10.{user // 65536 % 256}.{user // 256 % 256}.{user % 256}"


def grid_cells(volunteers: int, activity_count: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split every (volunteer, activity) cell into check-ins and check-outs.

    Round r pairs every volunteer u with activity (u + r) % M, so consecutive pairs (taken by
    concurrent clients) belong to different people and spread over every activity. With M even,
    odd rounds are check-ins and even rounds check-outs. The check-outs start half-way through the
    volunteers, so the two streams, which advance together, never scan for the same person at once.
    """
    if activity_count % 2:
        raise ValueError("the number of activities must be even")
    ins, outs = [], []
    for r in range(activity_count):
        for j in range(volunteers):
            u = j if r % 2 else (j + volunteers // 2) % volunteers
            (ins if r % 2 else outs).append((u, (u + r) % activity_count))
    return ins, outs


async def seed(url: str, *, volunteers: int, activity_count: int) -> World:
    """Build the world through the domain (the app must have migrated the database already)."""
    pool = await db.create_pool(url, min_size=2, max_size=8)
    try:
        async with pool.acquire() as conn:
            admin_id = await auth.create_user(conn, phone=phone(0), password=None, name="压测管理员", is_admin=True)
            admin = await orgs.load_actor(conn, admin_id)
            district = await orgs.create_org(conn, admin, kind="district", name="压测区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name="压测街道", parent_id=district.id)
            community = await orgs.create_org(conn, admin, kind="community", name="压测社区", parent_id=street.id)
            grid = await orgs.create_org(conn, admin, kind="grid", name="压测网格", parent_id=community.id)
            manager_id = await auth.create_user(conn, phone=phone(1), password=None, name="压测社区管理员")
            await orgs.appoint_manager(conn, admin, community.id, manager_id)
            manager = await orgs.load_actor(conn, manager_id)
            # The activities' terms (up to 250 points a day each) pass the default four-eyes threshold
            # (issue 30: such an activity waits, held, for a second manager); this community sets its own.
            await conn.execute("insert into adjustment_policies (community_id, threshold_points, updated_by, updated_at) "
                               "values ($1, 100000, $2, $3)", community.id, admin_id, clock.now())
            now = clock.now()
            activity_ids, poster_codes = [], []
            for i in range(activity_count):
                a = await activities.create(
                    conn, manager, community_id=community.id, title=f"{TITLE} {i + 1}", place="社区活动室",
                    starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=10), capacity=100000,
                    points=POINTS_ON_CHECKIN, points_per_hour=POINTS_PER_HOUR, max_minutes=240,
                    daily_points_cap=100000)
                await activities.publish(conn, manager, a.id)
                activity_ids.append(a.id)
                poster_codes.append((await codes.latest(conn, "poster", a.id)).code)

        async def volunteer(n: int) -> tuple[int, str]:
            async with pool.acquire() as conn:
                user_id = await auth.create_user(conn, phone=phone(100 + n), password=None, name=f"志愿者{n + 1}")
                login = await auth._new_session(conn, user_id)
                await orgs.add_member(conn, admin, community.id, user_id, "volunteer")
            return user_id, login.token

        made = await asyncio.gather(*(volunteer(n) for n in range(volunteers)))
        user_ids, tokens = [m[0] for m in made], [m[1] for m in made]
        page_person = await _page_person(pool, admin, manager, community.id, grid.id)
        ins, outs = grid_cells(volunteers, activity_count)
        # People who checked in half an hour ago and will scan out during the load. Written directly:
        # the check-in path itself is what the load measures, and a scan cannot be back-dated.
        async with pool.acquire() as conn:
            at = now - timedelta(minutes=SEEDED_MINUTES_AGO)
            await conn.execute(
                """insert into attendances (activity_id, user_id, state, source, checked_in_at, created_at)
                   select a, u, 'inside', 'self', $3, $3 from unnest($1::bigint[], $2::bigint[]) as x(a, u)""",
                [activity_ids[a] for _, a in outs], [user_ids[u] for u, _ in outs], at)
            await conn.execute("analyze")
        return World(community_id=community.id, grid_id=grid.id, activity_ids=activity_ids, codes=poster_codes,
                     tokens=tokens, user_ids=user_ids, checkins=ins, checkouts=outs,
                     extra={"admin_id": admin_id, "manager_id": manager_id, "page_person": page_person})
    finally:
        await pool.close()


async def _page_person(pool: asyncpg.Pool, admin, manager, community_id: int, grid_id: int) -> dict:
    """A volunteer who is also a courier, with a cookie session, and a stocked shop, for the pages."""
    async with pool.acquire() as conn:
        user_id = await auth.create_user(conn, phone=phone(99), password=None, name="页面测试")
        login = await auth._new_session(conn, user_id)
        await orgs.add_member(conn, admin, community_id, user_id, "volunteer")
        await orgs.add_member(conn, admin, grid_id, user_id, "courier")
        for i, (name, cost) in enumerate([("大米 5kg", 300), ("食用油 1L", 150), ("洗衣液", 120), ("毛巾", 40),
                                          ("牙膏", 30), ("抽纸一提", 60)]):
            await supermarket.create_reward(conn, manager, community_id=community_id, name=name, cost_points=cost,
                                            stock=20 + i)
    return {"user_id": user_id, "token": login.token, "csrf": login.csrf}


# ---- the load ---------------------------------------------------------------------------------

@dataclass
class Tally:
    """What the responses said: latencies, outcomes and the credits they announced."""
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"in": [], "out": []})
    outcomes: dict[str, int] = field(default_factory=dict)
    checked_in: int = 0
    checked_out: int = 0
    point_awards: int = 0
    minute_awards: int = 0
    points: int = 0
    minutes: int = 0
    exhausted: bool = False

    def add(self, other: "Tally") -> None:
        for k in ("in", "out"):
            self.latencies[k] += other.latencies[k]
        for k, v in other.outcomes.items():
            self.outcomes[k] = self.outcomes.get(k, 0) + v
        for k in ("checked_in", "checked_out", "point_awards", "minute_awards", "points", "minutes"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.exhausted |= other.exhausted


class _Result(msgspec.Struct):
    action: str = ""
    points: int = 0
    minutes: int = 0
    error: str = ""


_decode = msgspec.json.Decoder(_Result).decode
_encode = msgspec.json.encode


class Phone:
    """One volunteer's phone: a kept-alive HTTP/1.1 connection and just enough HTTP for JSON POSTs.

    The generator shares 2 cores with the app and PostgreSQL, so it must cost little: a full client
    (httpx) spends about 1 ms of CPU per request, this one a small fraction of that.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, token: str, address: str) -> tuple[int, bytes]:
        return await self.send("POST", path, body, token, address)

    async def get(self, path: str, token: str, address: str) -> tuple[int, bytes]:
        return await self.send("GET", path, None, token, address)

    async def send(self, method: str, path: str, body: bytes | None, token: str, address: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = (f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                    f"authorization: Bearer {token}\r\nx-forwarded-for: {address}\r\n")
            if body is not None:
                head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            self.writer.write((head + "\r\n").encode() + (body or b""))
            status = int((await self.reader.readline()).split(b" ", 2)[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
                elif name == "connection":
                    close = value == "close"
            if chunked:
                content = b""
                while size := int((await self.reader.readline()).split(b";")[0], 16):
                    content += await self.reader.readexactly(size + 2)
                    content = content[:-2]
                await self.reader.readline()
            else:
                content = await self.reader.readexactly(length)
            if close:
                await self.close()
            return status, content
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class AsgiPhone:
    """The same calls through an httpx client (the in-process app of the profile)."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def post(self, path: str, body: bytes, token: str, address: str) -> tuple[int, bytes]:
        response = await self.client.post(path, content=body, headers={
            "authorization": f"Bearer {token}", "content-type": "application/json", "x-forwarded-for": address})
        return response.status_code, response.content


async def scan(phone, world: World, kind: str, tally: Tally) -> bool:
    """One scan of the next unused pair of this kind; False when the pairs ran out."""
    pair = world.take(kind)
    if pair is None:
        tally.exhausted = True
        return False
    user, activity = pair
    # As the page sends it: the phone's device id, and for the second scan the confirmed check-out
    # (issue 21: the page first answers a second scan with confirm_check_out, which writes only
    # last_seen_at; the person's confirmation comes back with intent check_out, the scan that
    # checks out and credits, which is the one the load sends).
    scanned = {"code": world.codes[activity], "nonce": uuid.uuid4().hex, "device": f"phone-{user}"}
    if kind == "out":
        scanned["intent"] = "check_out"
    started = time.perf_counter()
    try:
        status, content = await phone.post("/api/scans", _encode(scanned), world.tokens[user], phone_address(user))
        elapsed = time.perf_counter() - started
        result = _decode(content) if content else _Result()
        outcome = result.action or f"{status} {result.error}"
    except (OSError, ValueError, asyncio.IncompleteReadError, httpx.HTTPError, msgspec.DecodeError) as error:
        elapsed = time.perf_counter() - started
        result, outcome = _Result(), f"client error {type(error).__name__}"
    tally.latencies[kind].append(elapsed)
    tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1
    if result.action in ("checked_in", "checked_out"):
        setattr(tally, result.action, getattr(tally, result.action) + 1)
        tally.point_awards += result.points > 0
        tally.minute_awards += result.minutes > 0
        tally.points += result.points
        tally.minutes += result.minutes
    return True


async def _client_loop(phone, world: World, deadline: float, tally: Tally) -> None:
    while time.perf_counter() < deadline:
        if not await scan(phone, world, "in", tally) or not await scan(phone, world, "out", tally):
            return


async def drive(base_url: str, world: World, clients: int, seconds: float, warmup: float = 1.0) -> tuple[dict, Tally]:
    """`clients` concurrent phones for `seconds` (after an unmeasured warm-up); figures of the measured part."""
    url = urlparse(base_url)
    phones = [Phone(url.hostname, url.port) for _ in range(clients)]
    try:
        everything = Tally()
        if warmup > 0:
            warm = [Tally() for _ in range(clients)]
            end = time.perf_counter() + warmup
            await asyncio.gather(*(_client_loop(p, world, end, t) for p, t in zip(phones, warm)))
            for t in warm:
                everything.add(t)
        tallies = [Tally() for _ in range(clients)]
        cpu0, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(_client_loop(p, world, started + seconds, t) for p, t in zip(phones, tallies)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    finally:
        for p in phones:
            await p.close()
    measured = Tally()
    for t in tallies:
        measured.add(t)
    everything.add(measured)
    scans = measured.latencies["in"] + measured.latencies["out"]
    ok = measured.checked_in + measured.checked_out
    figures = {
        "clients": clients, "seconds": round(wall, 2), "requests": len(scans),
        "requests_per_s": round(len(scans) / wall, 1), "ok_scans_per_s": round(ok / wall, 1),
        "checkins_per_s": round(measured.checked_in / wall, 1),
        "checkouts_per_s": round(measured.checked_out / wall, 1),
        **latency_summary(scans),
        "checkin": latency_summary(measured.latencies["in"]),
        "checkout": latency_summary(measured.latencies["out"]),
        "outcomes": dict(sorted(measured.outcomes.items())),
        "errors": len(scans) - ok,
        "load_generator_cpu": round(cpu / wall, 2),  # share of one core the generator itself used
        "pairs_exhausted": measured.exhausted,
    }
    return figures, everything


# The app's yardstick (issue 37): a minimal authenticated endpoint of the same server, through the
# same middleware (session read, actor) plus one indexed query, driven by the same phones.
MINIMAL_PATH = "/api/me/messages/unread"


async def drive_minimal(base_url: str, world: World, clients: int, seconds: float) -> dict:
    """`clients` phones loop on GET MINIMAL_PATH, each as its own volunteer, for `seconds`."""
    url = urlparse(base_url)
    phones = [Phone(url.hostname, url.port) for _ in range(clients)]
    latencies: list[float] = []
    errors = 0

    async def loop(i: int, phone: Phone, deadline: float) -> None:
        nonlocal errors
        token, address = world.tokens[i % len(world.tokens)], phone_address(i)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _ = await phone.get(MINIMAL_PATH, token, address)
            latencies.append(time.perf_counter() - started)
            errors += status != 200

    try:
        started = time.perf_counter()
        await asyncio.gather(*(loop(i, p, started + seconds) for i, p in enumerate(phones)))
        wall = time.perf_counter() - started
    finally:
        for p in phones:
            await p.close()
    return {"clients": clients, "path": MINIMAL_PATH, "seconds": round(wall, 2), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / wall, 1), "errors": errors, **latency_summary(latencies)}


def add_ratios(figures: dict, pgbench_tps: float | None, simple_tps: float | None = None) -> dict:
    """Rates as a share of pgbench's: `pgbench_tps` is the yardstick (`-M prepared`, issue 24),
    `simple_tps` the simple protocol's, kept for comparison with earlier runs."""
    figures["pgbench_tps"] = pgbench_tps
    figures["checkin_ratio"] = ratio(figures["checkins_per_s"], pgbench_tps)
    figures["scan_ratio"] = ratio(figures["ok_scans_per_s"], pgbench_tps)
    figures["pgbench_simple_tps"] = simple_tps
    figures["scan_ratio_simple"] = ratio(figures["ok_scans_per_s"], simple_tps)
    return figures


def add_cpu(figures: dict, cpu_s: dict, scans: int, tx_ms: float | None) -> dict:
    """CPU per scan (the headline of issue 24): the app's and PostgreSQL's, their sum, and the sum as a
    multiple of the PostgreSQL CPU of one TPC-B transaction (`tx_ms`, pgbench -M prepared, same
    client count). `cpu_s` holds CPU seconds during the step ("app", "postgres"; None if unknown)."""
    app, postgres = per_unit(cpu_s.get("app"), scans), per_unit(cpu_s.get("postgres"), scans)
    total = round(app + postgres, 3) if app is not None and postgres is not None else None
    figures.update(cpu_s=cpu_s, app_cpu_ms_per_scan=app, postgres_cpu_ms_per_scan=postgres,
                   cpu_ms_per_scan=total, cpu_per_scan_vs_tpcb_tx=ratio(total, tx_ms))
    return figures


def per_unit(seconds: float | None, count: int | None) -> float | None:
    """Milliseconds of CPU per unit of work (None when not measurable)."""
    return round(seconds * 1000 / count, 3) if seconds is not None and count else None


async def settle(base_url: str, url: str, world: World, seconds: float) -> Tally:
    """A first burst of scans, then VACUUM ANALYZE: the planner's statistics then describe a ledger
    in use, as autovacuum keeps them in a running deployment, not the empty one of the seed (with
    those, asyncpg's prepared statements keep plans made for empty tables until autoanalyze
    catches up, up to a minute later)."""
    _, tally = await drive(base_url, world, 8, seconds, warmup=0)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("vacuum analyze")
    finally:
        await conn.close()
    return tally


# ---- where the database time goes -----------------------------------------------------------------

async def reset_statement_stats(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("select pg_stat_statements_reset()")
    finally:
        await conn.close()


async def statement_stats(url: str, scans: int, top: int = 30) -> dict:
    """The app database's statements since the reset (pg_stat_statements), per scan, costliest first.
    With pg_stat_statements.track = all (the embedded server, issue 37) the statements inside the
    PL/pgSQL functions and triggers are listed too (`nested`); the totals count top-level statements
    only, whose time already includes what they ran inside."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """select query, calls, total_exec_time + total_plan_time as total_ms, total_plan_time as plan_ms, rows,
                      toplevel
               from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
               order by total_exec_time + total_plan_time desc""")
    finally:
        await conn.close()
    top_level = [r for r in rows if r["toplevel"]]
    total = sum(r["total_ms"] for r in top_level) or 1.0
    n = max(scans, 1)
    return {
        "db_ms_per_scan": round(total / n, 3),
        "statements_per_scan": round(sum(r["calls"] for r in top_level) / n, 1),
        "nested_statements_per_scan": round(sum(r["calls"] for r in rows if not r["toplevel"]) / n, 1),
        "top": [{"query": " ".join(r["query"].split())[:160], "nested": not r["toplevel"],
                 "calls_per_scan": round(r["calls"] / n, 2),
                 "ms_per_call": round(r["total_ms"] / r["calls"], 4) if r["calls"] else None,
                 "plan_share": round(r["plan_ms"] / r["total_ms"], 2) if r["total_ms"] else None,
                 "ms_per_scan": round(r["total_ms"] / n, 4), "share": round(r["total_ms"] / total, 3)}
                for r in rows[:top]],
    }


# ---- afterwards: no lost or doubled write ---------------------------------------------------------

async def watermark(url: str) -> dict:
    conn = await asyncpg.connect(url)
    try:
        return {"transfer": await conn.fetchval("select coalesce(max(id), 0) from transfers"),
                "attendance": await conn.fetchval("select coalesce(max(id), 0) from attendances")}
    finally:
        await conn.close()


async def verify(url: str, mark: dict, world: World, tally: Tally) -> dict:
    """Compare what the database holds since `mark` with what the responses announced."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """select count(*) filter (where unit = 'points') as point_awards,
                      count(*) filter (where unit = 'minutes') as minute_awards,
                      coalesce(sum(amount) filter (where unit = 'points'), 0) as points,
                      coalesce(sum(amount) filter (where unit = 'minutes'), 0) as minutes,
                      count(*) filter (where kind <> 'award' or cause_type is distinct from 'checkin') as other
               from transfers where id > $1""", mark["transfer"])
        new_attendances = await conn.fetchval(
            "select count(*) from attendances where id > $1 and activity_id = any($2::bigint[])",
            mark["attendance"], world.activity_ids)
        done = await conn.fetchval(
            "select count(*) from attendances where id <= $1 and activity_id = any($2::bigint[]) and state = 'done'",
            mark["attendance"], world.activity_ids)
    finally:
        await conn.close()
    found = {"point_awards": row["point_awards"], "minute_awards": row["minute_awards"], "points": int(row["points"]),
             "minutes": int(row["minutes"]), "other_transfers": row["other"], "check_ins": new_attendances,
             "check_outs": done}
    expected = {"point_awards": tally.point_awards, "minute_awards": tally.minute_awards, "points": tally.points,
                "minutes": tally.minutes, "other_transfers": 0, "check_ins": tally.checked_in,
                "check_outs": tally.checked_out}
    return {"expected": expected, "found": found, "ok": found == expected}
