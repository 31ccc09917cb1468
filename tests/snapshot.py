"""A before/after picture of what a refused request must not change (issue 30, item 8): balances and
holds, stock, memberships, attendances, join requests, redemptions, services, family links, review
items and audit rows, scoped to the
people and communities a test made itself (other tests run beside it: nothing here counts rows it
does not own).

    before = await snapshot(pool, people=[a.id, b.id], communities=[c.id])
    ... the refused request ...
    assert await snapshot(pool, people=[a.id, b.id], communities=[c.id]) == before
"""

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


async def snapshot(pool: asyncpg.Pool, *, people: Iterable[int] = (), communities: Iterable[int] = ()
                   ) -> dict[str, Any]:
    users, orgs = sorted(set(people)), sorted(set(communities))
    async with pool.acquire() as conn:
        accounts = await conn.fetch(
            """select a.id, a.kind, a.unit, a.balance, a.held,
                      (select coalesce(sum(e.amount), 0) from entries e where e.account_id = a.id) as posted,
                      (select count(*) from entries e where e.account_id = a.id) as entries
               from accounts a where a.user_id = any($1::bigint[]) or a.org_id = any($2::bigint[])
               order by a.id""", users, orgs)
        ids = [a["id"] for a in accounts]
        holds = await conn.fetch(
            """select id, state, amount, held_amount from transfers
               where (debit_account = any($1::bigint[]) or credit_account = any($1::bigint[]))
                 and (state = 'pending' or resolved_at is not null) order by id""", ids)
        return {
            "accounts": [dict(a) for a in accounts],
            "holds": [dict(h) for h in holds],
            "transfers": await conn.fetchval(
                "select count(*) from transfers where debit_account = any($1::bigint[]) "
                "or credit_account = any($1::bigint[])", ids),
            "stock": [dict(r) for r in await conn.fetch(
                "select id, stock, active from rewards where community_id = any($1::bigint[]) order by id", orgs)],
            "memberships": [tuple(r) for r in await conn.fetch(
                "select org_id, user_id, role from org_members where user_id = any($1::bigint[]) "
                "or org_id = any($2::bigint[]) order by 1, 2, 3", users, orgs)],
            "join_requests": [tuple(r) for r in await conn.fetch(
                "select id, state from join_requests where user_id = any($1::bigint[]) "
                "or community_id = any($2::bigint[]) order by id", users, orgs)],
            "attendances": [tuple(r) for r in await conn.fetch(
                "select id, state, minutes, points, checked_out_at from attendances "
                "where user_id = any($1::bigint[]) order by id", users)],
            "redemptions": [tuple(r) for r in await conn.fetch(
                "select id, state from redemptions where user_id = any($1::bigint[]) "
                "or community_id = any($2::bigint[]) order by id", users, orgs)],
            "services": [tuple(r) for r in await conn.fetch(
                "select id, state, volunteer_id, confirmed_minutes from service_requests "
                "where requester_id = any($1::bigint[]) or beneficiary_id = any($1::bigint[]) "
                "or volunteer_id = any($1::bigint[]) or community_id = any($2::bigint[]) order by id", users, orgs)],
            "family_links": [tuple(r) for r in await conn.fetch(
                "select id, state from family_links where requester_id = any($1::bigint[]) "
                "or target_id = any($1::bigint[]) order by id", users)],
            "review": [tuple(r) for r in await conn.fetch(
                "select id, reason, resolution from scan_flags where user_id = any($1::bigint[]) order by id", users)],
            # issue 34: deductions (state, appeal, what was taken) and rulebook versions
            "deductions": [tuple(r) for r in await conn.fetch(
                "select id, state, appealed_at, decided_by, taken from deductions where user_id = any($1::bigint[]) "
                "or community_id = any($2::bigint[]) order by id", users, orgs)],
            "rulebooks": [tuple(r) for r in await conn.fetch(
                "select id, state, decided_by from rulebook_versions where org_id = any($1::bigint[]) order by id",
                orgs)],
            "selections": [tuple(r) for r in await conn.fetch(
                """select s.id, s.state, s.proposed_by, s.confirmed_by, s.posting_id,
                          (select count(*) from selection_votes v where v.selection_id = s.id),
                          (select array_agg((c.id, c.chosen, c.nominating_household)::text order by c.id)
                             from selection_candidates c where c.selection_id = s.id)
                   from selections s where s.community_id = any($1::bigint[]) order by s.id""", orgs)],
            "medals": [tuple(r) for r in await conn.fetch(
                "select id, code, revoked_at from medals where user_id = any($1::bigint[]) order by id", users)],
            "audit": [tuple(r) for r in await conn.fetch(
                "select id, act from audit_log where community_id = any($2::bigint[]) or actor_id = any($1::bigint[]) "
                "or (target_type = 'user' and target_id = any($1::bigint[])) order by id", users, orgs)],
        }


@asynccontextmanager
async def unchanged(pool: asyncpg.Pool, *, people: Iterable[int] = (), communities: Iterable[int] = ()
                    ) -> AsyncIterator[None]:
    """Assert that what runs inside changes nothing of these people and communities:
    `async with unchanged(pool, people=[v.id], communities=[c.id]): ...refused request...`"""
    people, communities = list(people), list(communities)
    before = await snapshot(pool, people=people, communities=communities)
    yield
    assert await snapshot(pool, people=people, communities=communities) == before
