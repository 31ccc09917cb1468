"""The monthly settlement of a spending area (通兑结算): for each pair of communities, the points
(and minutes) issued by one and spent in the other during a local month (LINLI_TZ).

It reads `settlements` (migrations/018): one row per posted cross-community spend, written by the
ledger's trigger with the transfer, and one negative row per reversal of one (a refunded voucher),
dated when it happened. A refund in a later month lowers that later month: each month shows what
moved in it, so the months add up to the ledger. Who reads it: admins, managers of the street or district
(Actor.oversees) and the managers of its communities (as street rankings).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain.core import clock, queries
from domain.core import csv_export as csv_rules
from domain.core.actor import Actor
from domain.core.errors import forbidden
from domain.ledger import areas

Q = queries.load("ledger")

UNIT_ZH = {"points": "积分", "minutes": "分钟"}
HEADER = ["月份", "单位", "发放社区", "使用社区", "笔数", "金额"]


class Pair(msgspec.Struct, frozen=True):
    issuer_id: int
    issuer_name: str
    spender_id: int
    spender_name: str
    unit: str
    transfers: int             # settlement rows (spends and reversals) in the month
    amount: int                # net: spent minus given back


class MerchantLine(msgspec.Struct, frozen=True):
    """Points spent at a merchant (爱心商家) in the month, per issuing community: the
    merchant settles with its settling level (the one community it serves, or the street)."""
    merchant_id: int
    merchant_name: str
    settles_with: int
    settles_with_name: str
    issuer_id: int
    issuer_name: str
    redemptions: int           # redemptions in the month (refunds lower `points`)
    points: int                # net: redeemed minus refunded
    money_fen: int | None      # at the settling level's rate; None: goods donated


class Settlement(msgspec.Struct, frozen=True):
    org_id: int
    org_name: str
    month: str                 # YYYY-MM
    starts_at: datetime
    ends_at: datetime
    pairs: list[Pair]
    totals: dict[str, int]     # per unit: the sum of the pairs
    merchants: list[MerchantLine] = msgspec.field(default_factory=list)  # side by side, per issuing community


async def _require_reader(conn: asyncpg.Connection, actor: Actor, org_id: int) -> None:
    """Whoever may read the figures of one of its communities (Actor.reads): an admin, a manager of
    one of them, or a street or district manager overseeing them (Actor.oversees)."""
    await areas.level(conn, org_id)
    if not any(actor.reads(c) for c in await areas.communities_under(conn, org_id)):
        raise forbidden("not a manager in this street or district")


async def monthly(conn: asyncpg.Connection, actor: Actor, org_id: int, month: str | None = None) -> Settlement:
    await _require_reader(conn, actor, org_id)
    month = month or clock.month_of(clock.now())
    starts_at, ends_at = clock.month_span(clock.parse_month(month))
    communities = await areas.communities_under(conn, org_id)
    rows = await conn.fetch(
        """Select s.issuer_id, i.name as issuer_name, s.spender_id, p.name as spender_name, s.unit,
                  count(*) as transfers, sum(s.amount)::bigint as amount
             from settlements s join orgs i on i.id = s.issuer_id join orgs p on p.id = s.spender_id
            where s.settled_at >= $1 and s.settled_at < $2
              and (s.issuer_id = any($3::bigint[]) or s.spender_id = any($3::bigint[]))
            group by 1, 2, 3, 4, 5 order by s.unit desc, s.issuer_id, s.spender_id""",
        starts_at, ends_at, communities)
    pairs = [Pair(**dict(r)) for r in rows]
    name = await conn.fetchval("select name from orgs where id = $1", org_id)
    totals = {unit: sum(p.amount for p in pairs if p.unit == unit) for unit in ("points", "minutes")}
    return Settlement(org_id, name, month, starts_at, ends_at, pairs, totals,
                      await merchant_lines(conn, org_id, communities, starts_at, ends_at))


async def merchant_lines(conn: asyncpg.Connection, org_id: int, communities: list[int], starts_at: datetime,
                         ends_at: datetime) -> list[MerchantLine]:
    """The merchants serving the level's communities (or settling with it): for each, the points of
    each issuing community that moved into its account (minus refunds) in the month, read from the
    ledger's transfers (a merchant account's transfers are redemptions and their reversals).

    The transfers are found through the merchant account's entries (entries_account, one entry on
    it per transfer), then by primary key: transfers has no index on its accounts, and matching
    `credit_account = m.id or debit_account = m.id` scanned the whole city's transfers.
    The cost follows the merchant's own history; the month is a filter on the transfer, as before
    (its entries are dated when it posted, not necessarily when it was made)."""
    rows = await conn.fetch(Q.merchant_lines, org_id, starts_at, ends_at, communities)
    return [MerchantLine(r["merchant_id"], r["merchant_name"], r["settles_with"], r["settles_with_name"],
                         r["issuer_id"], r["issuer_name"], r["redemptions"], r["points"],
                         None if r["fen_per_point"] is None else r["points"] * r["fen_per_point"]) for r in rows]


def to_csv(report: Settlement) -> bytes:
    """UTF-8 with BOM, Chinese header: one line per pair and unit."""
    rows = [[report.month, UNIT_ZH[p.unit], p.issuer_name, p.spender_name, p.transfers, p.amount]
            for p in report.pairs]
    rows += [[report.month, "积分", m.issuer_name, f"爱心商家：{m.merchant_name}", m.redemptions, m.points]
             for m in report.merchants]
    return csv_rules.to_csv(HEADER, rows)
