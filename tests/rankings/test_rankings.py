"""Rankings, CSV exports, households, public postings with appeals, points expiry and the dashboard
over the HTTP API, with a frozen clock and hand-computed expectations (issue 9).

Awards are posted with domain.ledger.post from the issuing account (kind "award"), so these tests
do not depend on check-in, the supermarket or courier reports."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from domain import ledger
from domain.core import clock
from domain.people import auth
from domain.rankings import expiry as points_expiry
from tests.conftest import Community, Person, World

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, h=10, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH)


# ---- moving value at a given time -------------------------------------------------------------

async def award(pool, person: Person, community: Community, amount: int, when: datetime, unit="points") -> int:
    clock.freeze(when)
    async with pool.acquire() as conn, conn.transaction():
        t = await ledger.post(conn, unit=unit, debit=await ledger.org_account(conn, community.id, "issuing", unit),
                              credit=await ledger.user_account(conn, person.id, unit, community.id), amount=amount,
                              kind="award", cause=("activity", 1), memo="楼道清扫")
    return t.id


async def deduct(pool, person: Person, community: Community, amount: int, when: datetime) -> None:
    """A negative adjustment: back to the issuing account."""
    clock.freeze(when)
    async with pool.acquire() as conn, conn.transaction():
        await ledger.post(conn, unit="points", debit=await ledger.user_account(conn, person.id, "points", community.id),
                          credit=await ledger.org_account(conn, community.id, "issuing", "points"), amount=amount,
                          kind="adjustment", cause=("adjustment", community.id), reason="扣分")


async def spend(pool, person: Person, community: Community, amount: int, when: datetime) -> None:
    """A redemption as the supermarket posts it: to the community's supermarket account."""
    clock.freeze(when)
    async with pool.acquire() as conn, conn.transaction():
        await ledger.post(conn, unit="points", debit=await ledger.user_account(conn, person.id, "points", community.id),
                          credit=await ledger.org_account(conn, community.id, "supermarket", "points"),
                          amount=amount, kind="redemption", memo="洗衣液")  # no redemption row: no cause


async def annul(pool, transfer_id: int, when: datetime) -> None:
    clock.freeze(when)
    async with pool.acquire() as conn, conn.transaction():
        await ledger.reverse(conn, transfer_id, actor_id=None, reason="签到作废")


async def travel(pool, when: datetime, *people: Person) -> None:
    """Freeze the clock at `when` and log the people in again: sessions last 30 days of clock time."""
    clock.freeze(when)
    async with pool.acquire() as conn:
        for p in people:
            login = await auth._new_session(conn, p.id)
            p.token, p.csrf = login.token, login.csrf


async def ok(client, person, method, path, body=None, status=(200, 201)):
    r = await client.request(method, path, json=body, headers=person.headers if person else {})
    assert r.status_code in status, r.text
    return r.json()


# ---- the fixture city: a street with two communities, data over 2026Q3 and 2026Q4 -------------

@dataclass
class City:
    a: Community
    b: Community
    zhang: Person   # 张三明, A
    li: Person      # 李四, A
    wang: Person    # 王五, A
    zhao: Person    # 赵六, B (also earns a little in A)
    qian: Person    # 钱七, A, never earns
    team_id: int

    @property
    def people(self) -> list[Person]:
        return [self.a.manager, self.b.manager, self.zhang, self.li, self.wang, self.zhao, self.qian]


@pytest.fixture  # each test its own city: one test's later award must not show in another's ranking
async def city(pool) -> City:
    world = World(pool)
    a = await world.community("甲社区")
    b = await world.community("乙社区", street_id=a.street_id)
    zhang, li, wang = [await world.member(a, n) for n in ("张三明", "李四", "王五")]
    qian = await world.member(a, "钱七")
    zhao = await world.member(b, "赵六")

    # 2026Q3
    await award(pool, zhang, a, 50, at(2026, 8, 15))
    late_q3 = await award(pool, zhang, a, 25, at(2026, 9, 20))
    await award(pool, li, a, 30, at(2026, 9, 1))
    await award(pool, zhao, b, 40, at(2026, 8, 1))
    # 2026Q4 (Shanghai time). 00:30 on 1 October is still 30 September in UTC: Q4 here, Q3 in UTC.
    await award(pool, zhang, a, 30, at(2026, 10, 1, 0, 30))
    await award(pool, zhang, a, 20, at(2026, 11, 10))
    await award(pool, zhang, a, 120, at(2026, 10, 10), unit="minutes")
    await annul(pool, late_q3, at(2026, 10, 3))          # counts against Q3, the award's quarter
    await award(pool, li, a, 40, at(2026, 10, 5))
    await award(pool, li, a, 20, at(2026, 11, 1))
    await spend(pool, li, a, 50, at(2026, 11, 2))          # spending does not lower the rank
    await award(pool, li, a, 15, at(2027, 1, 1, 0, 10))    # already 2027Q1
    await award(pool, wang, a, 50, at(2026, 10, 20))
    wrong = await award(pool, wang, a, 10, at(2026, 10, 21))
    await annul(pool, wrong, at(2026, 12, 5))
    await award(pool, zhao, b, 60, at(2026, 10, 8))
    await award(pool, zhao, a, 5, at(2026, 11, 3))
    await deduct(pool, zhao, b, 10, at(2026, 12, 10))
    await award(pool, li, a, 5, at(2026, 12, 31, 23, 59))  # the last minute of Q4
    # Annulled in January: the annulment counts against December's award, in Q4.
    await annul(pool, await award(pool, wang, a, 1, at(2026, 12, 31, 23, 59)), at(2027, 1, 2))
    clock.unfreeze()

    admin = await world.actor(await world.admin())
    from domain.people import orgs
    async with pool.acquire() as conn:
        team = await orgs.create_team(conn, admin, "区政务服务中心党支部", a.id)
        for p in (zhang, wang, qian):
            await orgs.add_team_member(conn, admin, team.id, p.id)
    return City(a, b, zhang, li, wang, zhao, qian, team.id)


def table(ranking: dict) -> list[tuple[int, str, int]]:
    """(rank, name, amount), ties in name order so the expectation does not depend on collation."""
    return sorted((i["rank"], i["name"], i["amount"]) for i in ranking["items"])


async def ranking(client, person, **query) -> dict:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return await ok(client, person, "GET", f"/api/rankings?{q}")


# ---- rankings ---------------------------------------------------------------------------------

async def test_community_ranking_of_a_quarter_matches_the_hand_count(client, pool, city):
    await travel(pool, at(2027, 1, 5), *city.people)
    q4 = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q4")
    # 李四 40+20+5 (the 50 spent does not lower it; the 15 of 1 January is Q1); 张三明 30+20 (the
    # annulled 25 of September belongs to Q3); 王五 50+10-10+1-1; 赵六 5 paid by this community;
    # 钱七 earned nothing and is not listed.
    assert table(q4) == [(1, "李四", 65), (2, "张三明", 50), (2, "王五", 50), (4, "赵六", 5)]
    assert [i["rank"] for i in q4["items"]] == [1, 2, 2, 4]  # ordered by rank
    assert q4["quarter"] == "2026Q4" and q4["total"] == 4 and q4["org_name"] == "甲社区"
    assert q4["starts_at"] == "2026-10-01T00:00:00+08:00" and q4["time_zone"] == "Asia/Shanghai"
    assert all(re.fullmatch(r"1\d{2}\*{4}\d{4}", i["phone"]) for i in q4["items"])

    q3 = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q3")
    assert table(q3) == [(1, "张三明", 50), (2, "李四", 30)]
    q1 = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2027Q1")
    assert table(q1) == [(1, "李四", 15)]
    minutes = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q4",
                            unit="minutes")
    assert table(minutes) == [(1, "张三明", 120)]
    # Without a quarter: the current one (the clock says 2027Q1).
    assert (await ranking(client, city.a.manager, scope="community", org_id=city.a.id))["quarter"] == "2027Q1"


async def test_a_cut_ranking_is_the_head_of_the_whole_with_ties_at_the_cut_ranked_alike(client, pool, city):
    """The page's ranking (limit) ranks only the rows that reach the cut's amount: each is the head of
    the whole ranking, same ranks and order, and the total counts every row. 张三明 and 王五 tie at 50."""
    await travel(pool, at(2027, 1, 5), *city.people)
    whole = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q4",
                          limit=1000)
    assert [(i["rank"], i["amount"]) for i in whole["items"]] == [(1, 65), (2, 50), (2, 50), (4, 5)]
    for limit in (1, 2, 3, 4):
        cut = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q4",
                            limit=limit)
        assert cut["items"] == whole["items"][:limit] and cut["total"] == 4
    street = await ranking(client, city.a.manager, scope="street", org_id=city.a.street_id, quarter="2026Q4",
                           limit=3)
    assert [(i["rank"], i["amount"]) for i in street["items"]] == [(1, 65), (2, 55), (3, 50)]
    assert street["total"] == 4


async def test_street_and_team_rankings(client, pool, city):
    await travel(pool, at(2027, 1, 5), *city.people)
    street = await ranking(client, city.a.manager, scope="street", org_id=city.a.street_id, quarter="2026Q4")
    # 赵六: 60 - 10 (deduction) in 乙社区 + 5 in 甲社区.
    assert table(street) == [(1, "李四", 65), (2, "赵六", 55), (3, "张三明", 50), (3, "王五", 50)]
    q3 = await ranking(client, city.b.manager, scope="street", org_id=city.a.street_id, quarter="2026Q3")
    # 乙社区's manager sees their own 赵六 in full, 甲社区's people masked (issue 20: no name leak).
    assert table(q3) == [(1, "张*明", 50), (2, "赵六", 40), (3, "李*", 30)]

    team = await ranking(client, city.a.manager, scope="team", org_id=city.team_id, quarter="2026Q4")
    # Every member is listed, 钱七 with nothing. (赵六 of 乙社区 cannot join a team of 甲社区: issue 16.)
    assert table(team) == [(1, "张三明", 50), (1, "王五", 50), (3, "钱七", 0)]


async def test_only_value_from_the_issuing_account_counts_as_earned(client, pool, world):
    """Gifts, time-bank services paid by the pool, spending and its refund are not earning;
    positive adjustments are."""
    c = await world.community("辛社区")
    x, y = await world.member(c, "韩梅"), await world.member(c, "李雷")
    when = at(2026, 5, 10)
    await award(pool, x, c, 60, when, unit="minutes")
    clock.freeze(when)
    async with pool.acquire() as conn, conn.transaction():
        minutes = {p.id: await ledger.user_account(conn, p.id, "minutes", c.id) for p in (x, y)}
        points = await ledger.user_account(conn, x.id, "points", c.id)
        issuing_points = await ledger.org_account(conn, c.id, "issuing", "points")
        shop = await ledger.org_account(conn, c.id, "supermarket", "points")
        pool_minutes = await ledger.org_account(conn, c.id, "pool", "minutes")
        issuing_minutes = await ledger.org_account(conn, c.id, "issuing", "minutes")
        await ledger.post(conn, unit="minutes", debit=minutes[x.id], credit=minutes[y.id], amount=30, kind="gift")
        await ledger.post(conn, unit="minutes", debit=issuing_minutes, credit=pool_minutes, amount=50,
                          kind="donation")
        await ledger.post(conn, unit="minutes", debit=pool_minutes, credit=minutes[y.id], amount=20, kind="service")
        await ledger.post(conn, unit="points", debit=issuing_points, credit=points, amount=7, kind="adjustment",
                          reason="补记")
        spent = await ledger.post(conn, unit="points", debit=points, credit=shop, amount=5, kind="redemption")
        await ledger.reverse(conn, spent.id, actor_id=None, reason="退货")
    await travel(pool, at(2026, 7, 1), c.manager)
    by_minutes = await ranking(client, c.manager, scope="community", org_id=c.id, quarter="2026Q2", unit="minutes")
    assert table(by_minutes) == [(1, "韩梅", 60)]
    by_points = await ranking(client, c.manager, scope="community", org_id=c.id, quarter="2026Q2")
    assert table(by_points) == [(1, "韩梅", 7)]
    assert await world.ledger_problems() == {}


async def test_rankings_are_for_the_communitys_managers(client, pool, city, world):
    await travel(pool, at(2027, 1, 5), *city.people)
    stranger = await world.community("丙社区")
    for query in ({"scope": "community", "org_id": city.a.id}, {"scope": "street", "org_id": city.a.street_id},
                  {"scope": "team", "org_id": city.team_id}, {"scope": "household", "org_id": city.a.id}):
        r = await client.get("/api/rankings", params={**query, "quarter": "2026Q4"},
                             headers=stranger.manager.headers)
        assert r.status_code == 403, (query, r.text)
    r = await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id},
                         headers=city.li.headers)
    assert r.status_code == 403
    assert (await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id})).status_code == 401
    bad = await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id, "quarter": "2026Q5"},
                           headers=city.a.manager.headers)
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "quarter"
    wrong_kind = await client.get("/api/rankings", params={"scope": "street", "org_id": city.a.id},
                                  headers=city.a.manager.headers)
    assert wrong_kind.status_code == 422 and wrong_kind.json()["details"]["field"] == "org_id"


async def test_household_ranking(client, pool, city):
    await travel(pool, at(2027, 1, 5), *city.people)
    m = city.a.manager
    zhang_home = await ok(client, m, "POST", "/api/households", {"community_id": city.a.id, "name": "张家"})
    for p in (city.zhang, city.li):
        home = await ok(client, m, "POST", f"/api/households/{zhang_home['id']}/members", {"user_id": p.id})
    assert [x["name"] for x in home["members"]] == ["张三明", "李四"]
    wang_home = await ok(client, m, "POST", "/api/households", {"community_id": city.a.id, "name": "王家"})
    await ok(client, m, "POST", f"/api/households/{wang_home['id']}/members", {"user_id": city.wang.id})
    await ok(client, m, "POST", "/api/households", {"community_id": city.a.id, "name": "新户"})
    # 赵六 lives in 乙社区: not a member of this community, so not of its households.
    r = await client.post(f"/api/households/{wang_home['id']}/members", json={"user_id": city.zhao.id},
                          headers=m.headers)
    assert r.status_code == 404 and r.json()["details"]["field"] == "user_id"  # as an unknown id (issue 16)
    r = await client.post("/api/households", json={"community_id": city.a.id, "name": "别家"},
                          headers=city.b.manager.headers)
    assert r.status_code == 403

    homes = await ranking(client, m, scope="household", org_id=city.a.id, quarter="2026Q4")
    assert table(homes) == [(1, "张家", 115), (2, "王家", 50), (3, "新户", 0)]
    assert sorted(next(i for i in homes["items"] if i["name"] == "张家")["members"]) == sorted(["张三明", "李四"])
    listed = await ok(client, m, "GET", f"/api/communities/{city.a.id}/households")
    assert sorted(h["name"] for h in listed["items"]) == sorted(["张家", "王家", "新户"])  # 别家 was refused


async def test_ranking_csv_opens_with_the_chinese_header_and_masked_phones(client, pool, city):
    await travel(pool, at(2027, 1, 5), *city.people)
    r = await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id, "quarter": "2026Q4",
                                                  "format": "csv"}, headers=city.a.manager.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and "2026Q4" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["名次", "姓名", "手机号", "积分"]
    assert sorted(rows[1:]) == sorted([
        ["1", "李四", mask(city.li.phone), "65"], ["2", "张三明", mask(city.zhang.phone), "50"],
        ["2", "王五", mask(city.wang.phone), "50"], ["4", "赵六", mask(city.zhao.phone), "5"]])
    for p in (city.li, city.zhang, city.wang, city.zhao):
        assert p.phone.encode() not in r.content

    homes = await client.get("/api/rankings", params={"scope": "household", "org_id": city.a.id,
                                                      "quarter": "2026Q4", "format": "csv"},
                             headers=city.a.manager.headers)
    assert homes.content.decode("utf-8-sig").splitlines()[0] == "名次,家庭,成员,积分"


def mask(phone: str) -> str:
    return phone[:3] + "****" + phone[7:]


async def test_community_ledger_csv_lists_the_postings_of_the_period(client, pool, city):
    await travel(pool, at(2027, 1, 5), *city.people)
    m = city.a.manager
    r = await client.get(f"/api/communities/{city.a.id}/ledger.csv", params={"from": "2026-10-01", "to": "2026-12-31"},
                         headers=m.headers)
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["入账时间", "流水号", "类型", "事由", "说明", "单位", "数量", "付出方", "收入方",
                             "冲正的流水号", "经办人", "备注"]
    # Q4 postings touching 甲社区 or its members: 张三明 30, 20, 120 min and the annulment of September's
    # 25; 李四 40, 20, spend 50, 5; 王五 50, 10, its annulment, 1; 赵六 5 from 甲社区. Not: 赵六's 乙社区
    # postings (he is no member of 甲社区), 李四's 15 of 1 January, the January annulment of 王五's 1.
    kinds = sorted((row["类型"], int(row["数量"])) for row in rows)
    assert kinds == sorted([("奖励", 30), ("奖励", 20), ("奖励", 120), ("冲正", 25), ("奖励", 40), ("奖励", 20),
                            ("兑换", 50), ("奖励", 5), ("奖励", 50), ("奖励", 10), ("冲正", 10), ("奖励", 1),
                            ("奖励", 5)])
    assert rows[0]["入账时间"] == "2026-10-01 00:30:00"  # local time, in posting order
    spent = next(row for row in rows if row["类型"] == "兑换")
    assert spent["付出方"] == f"李四 {mask(city.li.phone)}" and spent["收入方"] == "甲社区 道德超市"
    for p in (city.li, city.zhang, city.wang, city.zhao):
        assert p.phone.encode() not in r.content

    assert (await client.get(f"/api/communities/{city.a.id}/ledger.csv", params={"from": "2026-10-01",
                             "to": "2026-12-31"}, headers=city.b.manager.headers)).status_code == 403
    bad = await client.get(f"/api/communities/{city.a.id}/ledger.csv", params={"from": "2026-12-31",
                           "to": "2026-10-01"}, headers=m.headers)
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "to"


async def test_time_zone_is_configurable_and_the_summary_follows_it(client, pool, city, setenv):
    await travel(pool, at(2027, 1, 5), *city.people)
    setenv("LINLI_TZ", "UTC")
    utc = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q4")
    # In UTC 张三明's award of 1 October 00:30 (+08:00) is in September, and 李四's of 1 January 00:10 in December.
    assert table(utc) == [(1, "李四", 80), (2, "王五", 50), (3, "张三明", 20), (4, "赵六", 5)]
    assert utc["time_zone"] == "UTC" and utc["starts_at"].startswith("2026-10-01T00:00:00")
    setenv("LINLI_TZ", "Asia/Shanghai")
    back = await ranking(client, city.a.manager, scope="community", org_id=city.a.id, quarter="2026Q4")
    assert table(back) == [(1, "李四", 65), (2, "张三明", 50), (2, "王五", 50), (4, "赵六", 5)]


async def test_the_summary_matches_a_rebuild_from_the_ledger(pool, city):
    """The trigger and earned_rebuild() apply one rule: what the trigger kept equals a full recount."""
    ours = [city.a.id, city.b.id]
    sql = ("select user_id, community_id, unit, day, earned from earned_daily "
           "where community_id = any($1::bigint[]) and earned <> 0 order by 1, 2, 3, 4")
    async with pool.acquire() as conn:
        kept = [tuple(r) for r in await conn.fetch(sql, ours)]
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.execute("select earned_rebuild()")
            rebuilt = [tuple(r) for r in await conn.fetch(sql, ours)]
        finally:
            await tr.rollback()
    assert kept == rebuilt and len(kept) > 10


async def test_ranking_query_reads_the_summary_index_not_the_ledger(pool, city):
    """With a realistic amount of summary rows the plan is an index range scan of earned_quarterly."""
    from domain import rankings
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:
            # 200 more communities of 30 people each, everyone earning in eight quarters: 96,000
            # summary rows, in one transaction rolled back afterwards.
            street = city.a.street_id
            await conn.execute("""insert into orgs (kind, name, parent_id)
                                  select 'community', 'bench ' || g, $1 from generate_series(1, 200) g""", street)
            await conn.execute("insert into users (name) select 'bench ' || g from generate_series(1, 6000) g")
            await conn.execute(
                """with c as (select id, row_number() over (order by id) - 1 as n from orgs where name like 'bench %'),
                        u as (select id, row_number() over (order by id) - 1 as n from users where name like 'bench %')
                   insert into earned_quarterly (user_id, community_id, unit, quarter, earned, active_days)
                   select u.id, c.id, unit, q::date, 150, 30 from u join c on c.n = u.n % 200
                   cross join generate_series('2025-04-01'::date, '2027-01-01'::date, '3 months') q
                   cross join unnest(array['points', 'minutes']) unit""")
            await conn.execute("analyze earned_quarterly")
            for scope, key in (("community", [city.a.id]), ("street", [city.a.id, city.b.id]),
                               ("team", city.team_id), ("household", city.a.id)):
                plan = "\n".join(r[0] for r in await conn.fetch(
                    "explain " + rankings.ranking_sql(scope), key, "points", date(2026, 10, 1), date(2027, 1, 1)))
                print(f"--- {scope}\n{plan}")
                assert "entries" not in plan and "transfers" not in plan
                assert re.search(r"(Index (Only )?Scan using|Bitmap Index Scan on) (earned_quarterly_pkey|earned_quarterly_user)",
                                 plan), plan
                assert "Seq Scan on earned_quarterly" not in plan and "earned_daily" not in plan, plan
        finally:
            await tr.rollback()


# ---- public posting and appeals ---------------------------------------------------------------

async def test_public_posting_masks_names_takes_appeals_and_ends(client, pool, city):
    await travel(pool, at(2027, 1, 5, 9), *city.people)
    m = city.a.manager
    posting = await ok(client, m, "POST", "/api/postings",
                       {"community_id": city.a.id, "quarter": "2026Q4", "top_n": 2, "days": 7})
    # Top 2 with the tie at the cut kept whole: three people.
    assert [(i["rank"], i["name"], i["amount"]) for i in posting["items"]][0] == (1, "李*", 65)
    assert sorted((i["rank"], i["name"]) for i in posting["items"]) == [(1, "李*"), (2, "张*明"), (2, "王*")]
    assert posting["status"] == "open"

    public = await client.get(f"/api/public/postings/{posting['id']}")  # no login
    assert public.status_code == 200
    body = public.json()
    assert body["community_name"] == "甲社区" and body["quarter"] == "2026Q4" and body["status"] == "open"
    assert sorted(i["name"] for i in body["items"]) == ["张*明", "李*", "王*"]
    for secret in ("张三明", "李四", "王五", city.li.phone, str(city.li.id) + ","):
        assert secret not in public.text
    assert "user_id" not in public.text

    # An appeal from a member of the community, during the posting.
    appeal = await ok(client, city.qian, "POST", f"/api/postings/{posting['id']}/appeals",
                      {"reason": "我10月参加了三次楼道清扫，积分没有记上"})
    assert appeal["answer"] is None and appeal["user_id"] == city.qian.id
    again = await client.post(f"/api/postings/{posting['id']}/appeals", json={"reason": "再问一次"},
                              headers=city.qian.headers)
    assert again.status_code == 409 and again.json()["details"]["why"] == "appeal_pending"
    outsider = await client.post(f"/api/postings/{posting['id']}/appeals", json={"reason": "我也有意见"},
                                 headers=city.zhao.headers)
    assert outsider.status_code == 403 and outsider.json()["error"] == "not_member"
    r = await client.post(f"/api/appeals/{appeal['id']}/answer", json={"answer": "已核实"},
                          headers=city.b.manager.headers)
    assert r.status_code == 403

    listed = await ok(client, m, "GET", f"/api/postings/{posting['id']}/appeals")
    assert [a["reason"] for a in listed["items"]] == ["我10月参加了三次楼道清扫，积分没有记上"]
    answered = await ok(client, m, "POST", f"/api/appeals/{appeal['id']}/answer",
                        {"answer": "已核实签到记录，10月12日的签到已补记。"})
    assert answered["answer"].startswith("已核实") and answered["answered_by"] == m.name
    twice = await client.post(f"/api/appeals/{appeal['id']}/answer", json={"answer": "改口"}, headers=m.headers)
    assert twice.status_code == 409
    mine = await ok(client, city.qian, "GET", f"/api/postings/{posting['id']}/appeals")
    assert [a["answer"] for a in mine["items"]] == ["已核实签到记录，10月12日的签到已补记。"]
    others = await ok(client, city.li, "GET", f"/api/postings/{posting['id']}/appeals")
    assert others["items"] == []  # a member sees only their own appeals
    assert (await ok(client, None, "GET", f"/api/public/postings/{posting['id']}"))["appeals"] == 1

    # After the period: the page says it has ended and appeals are refused.
    await travel(pool, at(2027, 1, 12, 9, 1), *city.people)
    assert (await ok(client, None, "GET", f"/api/public/postings/{posting['id']}"))["status"] == "ended"
    late = await client.post(f"/api/postings/{posting['id']}/appeals", json={"reason": "晚了吗"},
                             headers=city.li.headers)
    assert late.status_code == 409 and late.json()["details"]["why"] == "posting_ended"
    # The posted list is a snapshot: a later award does not change it.
    await award(pool, city.qian, city.a, 500, at(2026, 12, 1))
    clock.freeze(at(2027, 1, 12, 10))
    snapshot = await ok(client, None, "GET", f"/api/public/postings/{posting['id']}")
    assert "钱*" not in {i["name"] for i in snapshot["items"]}
    postings = await ok(client, m, "GET", f"/api/communities/{city.a.id}/postings")
    assert posting["id"] in [p["id"] for p in postings["items"]]


async def test_posting_checks_its_input(client, pool, city):
    await travel(pool, at(2027, 1, 5, 9), *city.people)
    m = city.a.manager
    for body, field in (({"quarter": "2027Q2"}, "quarter"), ({"top_n": 0}, "top_n"), ({"days": 31}, "days")):
        r = await client.post("/api/postings", json={"community_id": city.a.id, "quarter": "2026Q4", **body},
                              headers=m.headers)
        assert r.status_code == 422 and r.json()["details"]["field"] == field, r.text
    r = await client.post("/api/postings", json={"community_id": city.a.id, "quarter": "2026Q4"},
                          headers=city.b.manager.headers)
    assert r.status_code == 403
    assert (await client.get("/api/public/postings/999999999")).status_code == 404


# ---- points expiry ----------------------------------------------------------------------------

async def balance(client, person, unit="points") -> int:
    return (await ok(client, person, "GET", "/api/me/balances"))[unit]["balance"]


async def test_expiry_moves_exactly_the_unspent_points_of_the_earlier_year(client, pool, world):
    c = await world.community("丁社区")
    d = await world.community("戊社区")  # no expiry policy
    p = await world.member(c, "孙丽")
    spender = await world.member(c, "周敏")
    await travel(pool, at(2026, 1, 2), c.manager, d.manager)
    r = await client.patch(f"/api/communities/{c.id}/settings", json={"points_expire": True}, headers=d.manager.headers)
    assert r.status_code == 403
    policy = await ok(client, c.manager, "PATCH", f"/api/communities/{c.id}/settings", {"points_expire": True})
    assert policy["points_expire"] is True
    assert (await ok(client, c.manager, "GET", f"/api/communities/{c.id}/settings"))["points_expire"] is True

    await award(pool, p, c, 60, at(2026, 3, 1))
    await award(pool, p, d, 25, at(2026, 6, 1))
    await award(pool, p, c, 40, at(2026, 11, 1))
    await award(pool, p, c, 120, at(2026, 5, 1), unit="minutes")
    # Points are kept per issuing community (issue 19): spent in 丁社区, the 70 come from 丁社区's own
    # points, FIFO: March's 60 and 10 of November's 40. 戊社区's 25 are untouched.
    await spend(pool, p, c, 70, at(2027, 4, 1))
    await award(pool, p, c, 50, at(2027, 5, 1))
    await award(pool, spender, c, 30, at(2026, 7, 1))
    await spend(pool, spender, c, 30, at(2027, 2, 1))
    await travel(pool, at(2027, 5, 2), c.manager)
    before_q4 = await ranking(client, c.manager, scope="community", org_id=c.id, quarter="2026Q4")

    # The last minute of 2027: nothing has expired yet; 孙丽 sees what is about to.
    await travel(pool, at(2027, 12, 31, 23, 59), c.manager, p, spender)
    soon = await ok(client, p, "GET", "/api/me/expiring")
    assert soon["total"] == 30 and soon["expires_at"] == "2028-01-01T00:00:00+08:00"
    assert [(i["community_name"], i["year"], i["points"]) for i in soon["items"]] == [("丁社区", 2026, 30)]
    assert (await ok(client, spender, "GET", "/api/me/expiring"))["total"] == 0
    await points_expiry.sweep(pool, clock.now())  # sweeps every community: what it did to ours is asserted
    assert await balance(client, p) == 105

    # Five minutes into 2028 (Shanghai): November's 30 left go back to 丁社区's issuing account. June's
    # 25 in 戊社区 never expire, 2027's 50 are newer, minutes never expire.
    await travel(pool, at(2028, 1, 1, 0, 5), c.manager, p, spender)
    await points_expiry.sweep(pool, clock.now())
    assert await balance(client, p) == 75
    assert await balance(client, p, "minutes") == 120
    assert await balance(client, spender) == 0
    await points_expiry.sweep(pool, clock.now())  # once
    assert await balance(client, p) == 75
    statement = await ok(client, p, "GET", "/api/me/statement?unit=points&limit=1")
    line = statement["items"][0]
    assert (line["kind"], line["amount"], line["cause"]["type"], line["cause"]["id"]) == ("expiry", -30, "expiry", 2026)
    assert await world.ledger_problems() == {}
    # Expiry is not un-earning: the rankings of 2026 do not change.
    after_q4 = await ranking(client, c.manager, scope="community", org_id=c.id, quarter="2026Q4")
    assert after_q4["items"] == before_q4["items"]

    # A year later 2027's 50 expire too; the 25 of 戊社区 stay.
    await travel(pool, at(2029, 1, 1, 0, 5), p)
    assert await points_expiry.expire_year(pool, 2027) == 50
    assert await balance(client, p) == 25
    assert await world.ledger_problems() == {}


async def test_expiry_sweeps_in_parallel_move_points_once(pool, world):
    import asyncio
    c = await world.community("己社区")
    people = [await world.member(c, f"居民{i}") for i in range(6)]
    async with pool.acquire() as conn:
        await conn.execute("insert into points_expiry_policy values ($1, true, null, $2)", c.id, at(2025, 1, 1))
    for i, person in enumerate(people):
        await award(pool, person, c, 10 + i, at(2025, 6, 1))
    clock.freeze(at(2027, 1, 1, 8))
    moved = await asyncio.gather(*(points_expiry.expire_year(pool, 2025) for _ in range(4)))
    assert sum(moved) == sum(10 + i for i in range(6))
    assert await world.ledger_problems() == {}


# ---- dashboard --------------------------------------------------------------------------------

async def test_dashboard_numbers(client, pool, world):
    c = await world.community("庚社区")
    a, b, idle = [await world.member(c, n) for n in ("何静", "吴刚", "郑红")]
    now = at(2026, 11, 19, 15)  # a Thursday
    await award(pool, a, c, 30, at(2026, 11, 2))      # this month, two weeks before
    await award(pool, b, c, 20, at(2026, 11, 17))     # this week
    await award(pool, b, c, 90, at(2026, 11, 17), unit="minutes")
    await award(pool, a, c, 40, at(2026, 10, 20))     # last month
    await award(pool, idle, c, 5, at(2026, 6, 1))      # long ago: outside the 12 weeks
    await spend(pool, a, c, 25, at(2026, 11, 18))
    await travel(pool, now, c.manager, b)
    r = await client.get(f"/api/communities/{c.id}/dashboard", headers=b.headers)
    assert r.status_code == 403
    dash = await ok(client, c.manager, "GET", f"/api/communities/{c.id}/dashboard")
    assert dash["active_volunteers"] == 2
    assert (dash["points_issued_month"], dash["points_redeemed_month"]) == (50, 25)
    assert (dash["minutes_banked_month"], dash["minutes_banked_total"]) == (90, 90)
    weeks = {w["week_start"]: (w["issued"], w["redeemed"]) for w in dash["weeks"]}
    assert len(dash["weeks"]) == 12 and dash["weeks"][-1]["week_start"] == "2026-11-16"
    assert weeks["2026-11-16"] == (20, 25) and weeks["2026-11-02"] == (30, 0) and weeks["2026-10-19"] == (40, 0)
    assert sum(i for i, _ in weeks.values()) == 90
    assert dash["queues"] == {"redemptions": 0, "reports": 0, "timebank": 0}
    assert dash["top_activities"] == []
