"""Rankings and exports, households, public postings (公示) with appeals, the points expiry policy,
"expiring soon", and the community dashboard."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.params import QueryParameter
from litestar.response import Stream

from domain import rankings
from domain.core import clock
from domain.core.actor import Actor
from domain.rankings import Ranking, dashboard, households, postings
from domain.rankings import expiry as points_expiry
from domain.rankings import rules as ranking_rules
from domain.rankings.dashboard import Dashboard
from domain.rankings.expiry import Expiring, Policy
from domain.rankings.households import Household
from domain.rankings.postings import Appeal, Posting

CSV = "text/csv"  # Litestar adds the charset itself


async def _end(pool: asyncpg.Pool, conn: asyncpg.Connection, tx, pages: AsyncIterator[bytes]) -> None:
    try:
        await pages.aclose()  # type: ignore[attr-defined]
        await tx.rollback()  # read only: nothing to keep
    finally:
        await pool.release(conn)


async def _csv_stream(pool: asyncpg.Pool, conn: asyncpg.Connection,
                      pages_of: Callable[[asyncpg.Connection], AsyncIterator[bytes]],
                      filename: Callable[[], str]) -> Stream:
    """A CSV export streamed from one read-only snapshot (its query runs once, through a server-side
    cursor). The first page is read before answering, so a refusal (who asks, the period) is still a
    JSON error; the connection goes back to the pool when the body ends, also when the client goes away."""
    tx = conn.transaction(isolation="repeatable_read", readonly=True)
    await tx.start()
    pages = pages_of(conn)
    try:
        first = await anext(pages)
    except BaseException:
        await _end(pool, conn, tx, pages)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for page in pages:
                yield page
        finally:
            await _end(pool, conn, tx, pages)

    return Stream(body(), media_type=CSV, headers={
        "content-disposition": f'attachment; filename="{filename()}"', "cache-control": "no-store"})


async def _ranking_csv(actor: Actor, pool: asyncpg.Pool, scope: str, org_id: int, quarter: str | None, unit: str,
                       party: bool, work_unit: int | None) -> Stream:
    conn = await pool.acquire()
    try:
        await rankings.sync_time_zone(conn)  # may write the database's copy of the zone: before the read-only part
    except BaseException:
        await pool.release(conn)
        raise

    def filename() -> str:  # after the first page: the quarter has been checked by then
        shown = str(ranking_rules.parse_quarter(quarter) if quarter
                    else ranking_rules.quarter_of(clock.now(), clock.zone()))
        return rankings.ranking_filename(scope, org_id, shown, unit)

    return await _csv_stream(pool, conn, lambda conn: rankings.ranking_csv_pages(
        conn, actor, scope=scope, org_id=org_id, quarter=quarter, unit=unit, only_party=party,
        work_unit=work_unit), filename)


class HouseholdIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class UserRef(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int


class PostingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    quarter: Annotated[str, msgspec.Meta(pattern=r"^\d{4}[Qq][1-4]$")]
    top_n: Annotated[int, msgspec.Meta(ge=1, le=postings.MAX_TOP_N)] = 10
    days: Annotated[int, msgspec.Meta(ge=1, le=postings.MAX_DAYS)] = 7
    scope: Literal["community", "household"] = "community"
    unit: Literal["points", "minutes"] = "points"


class AppealIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class AnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answer: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    points_expire: bool


class Households(msgspec.Struct):
    items: list[Household]


class Teams(msgspec.Struct):
    items: list[rankings.TeamRef]


class Postings(msgspec.Struct):
    items: list[Posting]


class Appeals(msgspec.Struct):
    items: list[Appeal]


class RankingController(Controller):
    path = "/api/rankings"
    tags = ["rankings"]

    # The query parameter `scope` is named scope_ here: Litestar reserves `scope` for the ASGI scope.
    @get("/")
    async def ranking(self, actor: Actor, pool: asyncpg.Pool,
                      scope_: Annotated[Literal["community", "street", "team", "household", "party", "units"],
                                        QueryParameter(name="scope")],
                      org_id: int, quarter: str | None = None, unit: Literal["points", "minutes"] = "points",
                      format: Literal["json", "csv"] = "json",
                      limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
                      party: bool = False, work_unit: int | None = None) -> Response[Ranking]:
        """Points (or minutes) earned in a quarter (default: the current one), ties sharing a rank.
        Scopes party and units rank a street's or district's party members and work units (双报到);
        party=true or work_unit=<id> narrow a ranking of people. Names outside the viewer's own
        communities are masked. format=csv: every row, UTF-8 with BOM, Chinese header, masked phones,
        streamed page by page (a refusal comes before the first byte)."""
        if format == "csv":
            # Response[Ranking] documents the JSON body in OpenAPI; format=csv streams bytes instead.
            return await _ranking_csv(actor, pool, scope_, org_id, quarter, unit, party, work_unit)  # type: ignore[return-value]
        async with pool.acquire() as conn:
            result = await rankings.ranking(conn, actor, scope=scope_, org_id=org_id, quarter=quarter, unit=unit,
                                            limit=limit, only_party=party, work_unit=work_unit)
        return Response(result)


class CommunityController(Controller):
    path = "/api/communities/{community_id:int}"
    tags = ["rankings"]

    @get("/ledger.csv", media_type=CSV)
    async def ledger_csv(self, actor: Actor, pool: asyncpg.Pool, community_id: int,
                         date_from: Annotated[str, QueryParameter(name="from", max_length=10)],
                         date_to: Annotated[str, QueryParameter(name="to", max_length=10)]) -> Stream:
        """Postings touching the community's or its members' accounts, from..to (local dates, both
        included; at most two years). UTF-8 with BOM, Chinese header, masked phone numbers. Streamed
        page by page without a cap; a refusal comes before the first byte."""
        conn = await pool.acquire()
        return await _csv_stream(pool, conn, lambda conn: rankings.ledger_csv_pages(
            conn, actor, community_id, date_from, date_to), lambda: f"ledger-{community_id}-{date_from}-{date_to}.csv")

    @get("/settings")
    async def settings(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Policy:
        async with pool.acquire() as conn:
            return await points_expiry.get_policy(conn, actor, community_id)

    @patch("/settings")
    async def change_settings(self, actor: Actor, pool: asyncpg.Pool, community_id: int, data: SettingsIn) -> Policy:
        """Points_expire: points earned in a year expire at the end of the next year (minutes never)."""
        async with pool.acquire() as conn:
            return await points_expiry.set_policy(conn, actor, community_id, data.points_expire)

    @get("/dashboard")
    async def dashboard(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Dashboard:
        async with pool.acquire() as conn:
            return await dashboard.dashboard(conn, actor, community_id)

    @get("/households")
    async def households(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Households:
        async with pool.acquire() as conn:
            return Households(await households.list_for(conn, actor, community_id))

    @get("/teams")
    async def teams(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Teams:
        """The community's teams (work units), for the team ranking."""
        async with pool.acquire() as conn:
            return Teams(await rankings.teams_of(conn, actor, community_id))

    @get("/postings")
    async def postings(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Postings:
        async with pool.acquire() as conn:
            return Postings(await postings.list_for(conn, actor, community_id))


class HouseholdController(Controller):
    path = "/api/households"
    tags = ["rankings"]

    @post("/", status_code=201)
    async def create(self, actor: Actor, pool: asyncpg.Pool, data: HouseholdIn) -> Household:
        async with pool.acquire() as conn, conn.transaction():
            return await households.create(conn, actor, community_id=data.community_id, name=data.name)

    @post("/{household_id:int}/members", status_code=201)
    async def add_member(self, actor: Actor, pool: asyncpg.Pool, household_id: int, data: UserRef) -> Household:
        async with pool.acquire() as conn, conn.transaction():
            return await households.add_member(conn, actor, household_id, data.user_id)


class PostingController(Controller):
    path = "/api"
    tags = ["rankings"]

    @post("/postings", status_code=201)
    async def publish(self, actor: Actor, pool: asyncpg.Pool, data: PostingIn) -> Posting:
        """Publish the quarter's top N (ties at the cut included) on a public page for `days` days."""
        async with pool.acquire() as conn:
            return await postings.publish(conn, actor, community_id=data.community_id, quarter=data.quarter.upper(),
                                          top_n=data.top_n, days=data.days, scope=data.scope, unit=data.unit)

    @get("/public/postings/{posting_id:int}")
    async def public(self, pool: asyncpg.Pool, posting_id: int) -> Posting:
        """No login: the posted list with masked names, the period, and whether it has ended."""
        async with pool.acquire() as conn:
            return await postings.public(conn, posting_id)

    @post("/postings/{posting_id:int}/appeals", status_code=201)
    async def appeal(self, actor: Actor, pool: asyncpg.Pool, posting_id: int, data: AppealIn) -> Appeal:
        async with pool.acquire() as conn, conn.transaction():
            return await postings.appeal(conn, actor, posting_id, data.reason)

    @get("/postings/{posting_id:int}/appeals")
    async def appeals(self, actor: Actor, pool: asyncpg.Pool, posting_id: int) -> Appeals:
        """The manager sees all appeals of the posting; a member their own."""
        async with pool.acquire() as conn:
            return Appeals(await postings.appeals(conn, actor, posting_id))

    @post("/appeals/{appeal_id:int}/answer", status_code=200)
    async def answer(self, actor: Actor, pool: asyncpg.Pool, appeal_id: int, data: AnswerIn) -> Appeal:
        async with pool.acquire() as conn, conn.transaction():
            return await postings.answer(conn, actor, appeal_id, data.answer)

    @get("/me/expiring")
    async def expiring(self, actor: Actor, pool: asyncpg.Pool) -> Expiring:
        """My points that expire at the end of this year unless spent first (communities with the policy)."""
        async with pool.acquire() as conn:
            return await points_expiry.expiring(conn, actor.id)


CONTROLLERS = (RankingController, CommunityController, HouseholdController, PostingController,)  # listed in api/capabilities.py
