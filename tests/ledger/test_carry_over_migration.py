"""migrations/018: wallets that existed before points carried their issuing community are split by
the community that issued them, by double-entry carry-over transfers, and the ledger stays clean."""

import uuid

import asyncpg
import pytest

from domain.core import db
from domain.ledger import check as ledger_check
from tests.conftest import _with_database, drop_database

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

LEGACY = """
insert into orgs (kind, name, parent_id) values ('district', '区', null);
insert into orgs (kind, name, parent_id) values ('street', '街道', 1);
insert into orgs (kind, name, parent_id) values ('community', '甲社区', 2), ('community', '乙社区', 2);
insert into accounts (unit, kind, org_id) select u, k, c from unnest(array[3, 4]) c,
    (values ('points', 'issuing'), ('minutes', 'issuing'), ('minutes', 'pool'), ('points', 'supermarket')) v(u, k);
insert into users (phone, name) values ('13900000001', '甲居民'), ('13900000002', '乙居民'), ('13900000003', '新人');
insert into org_members (org_id, user_id, role) values (3, 1, 'volunteer'), (4, 2, 'volunteer'), (3, 3, 'volunteer');
insert into accounts (unit, kind, user_id) select u, 'user', p from unnest(array[1, 2, 3]) p,
    unnest(array['points', 'minutes']) u;
"""


def acc(sql_kind: str, org: int | None = None, user: int | None = None, unit: str = "points") -> str:
    if user is not None:
        return f"(select id from accounts where kind = 'user' and user_id = {user} and unit = '{unit}')"
    return f"(select id from accounts where kind = '{sql_kind}' and org_id = {org} and unit = '{unit}')"


def transfer(debit: str, credit: str, amount: int, kind: str, state: str = "posted") -> str:
    held = amount if state == "pending" else "null"
    return (f"insert into transfers (unit, debit_account, credit_account, amount, held_amount, kind, state, created_at) "
            f"values ('points', {debit}, {credit}, {amount}, {held}, '{kind}', '{state}', now());")


async def test_existing_wallets_are_split_by_issuing_community(admin_url):
    name = f"linli_carry_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = _with_database(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        files = db.migration_files()
        before = [p for p in files if p.name < "018"]
        for path in before:
            await conn.execute(path.read_text(encoding="utf-8"))
        await conn.execute(LEGACY)
        u1, u2 = acc("user", user=1), acc("user", user=2)
        await conn.execute("\n".join([
            transfer(acc("issuing", 3), u1, 100, "award"),
            transfer(acc("issuing", 4), u1, 30, "adjustment"),
            transfer(u1, acc("supermarket", 4), 50, "redemption"),
            transfer(acc("issuing", 4), u1, 40, "adjustment"),
            transfer(u1, acc("supermarket", 3), 90, "redemption", state="pending"),
            transfer(acc("issuing", 4), u2, 25, "award"),
        ]))
        for path in files[len(before):]:
            await conn.execute(path.read_text(encoding="utf-8"))

        rows = await conn.fetch("select user_id, org_id, balance, held from accounts where kind = 'user' "
                                "and unit = 'points' order by user_id, org_id")
        # 甲居民 got 100 from 甲 and 30 + 40 from 乙 and spent 50 in 乙: 乙's share is 20, 甲's 100. The
        # wallet becomes 甲's account (the larger share, with the pending hold of 90 on it); 乙's 20
        # move to a new account of 乙 by one carry-over. 乙居民's 25 are all 乙's.
        assert [tuple(r) for r in rows] == [(1, 3, 100, 90), (1, 4, 20, 0), (2, 4, 25, 0)]
        # 新人 never had anything: no accounts left; every account names its community
        assert await conn.fetchval("select count(*) from accounts where user_id = 3") == 0
        assert await conn.fetchval("select count(*) from accounts where org_id is null") == 0
        carried = await conn.fetch("select amount, kind from transfers where kind = 'carryover'")
        assert [tuple(r) for r in carried] == [(20, "carryover")]
        await db._init_connection(conn)
        assert await ledger_check.check(conn) == {}
    finally:
        await conn.close()
        await drop_database(admin_url, url)
