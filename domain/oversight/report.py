"""`linli audit`: the ledger's shapes that break "nobody creates value alone" (issue 30).

Read from the ledger and the records beside it, never from the counters the rules keep, so it also
finds what happened before the rules or around them:
- value created without a second person above the thresholds: a manual adjustment or a manual mark
  above the community's threshold that was posted by its maker alone; an activity published with
  terms above the threshold without an approval; a maker's hand-made credits of a day, posted
  alone, above the community's daily limit;
- self-benefit by managers: check-in credits of a manager's own scans at an activity they manage,
  posted without another manager's approval; an on-the-spot redemption by the manager who created
  and credited the resident;
- credits whose presence proof came after an automatic check-out (a late scan credited at once
  instead of going to the review list).
Each finding names its rows; an empty report is the healthy state (tests/conftest.py checks the
test session's database with it).
"""

from typing import Any

import asyncpg

from domain.core import clock, queries
from domain.oversight import rules

Q = queries.load("oversight")

D = rules.DEFAULT_LIMITS

# The community's limits, or the defaults, as columns of `lim` for a community id `c`.
_LIMITS = f"""left join adjustment_policies p on p.community_id = {{c}}
    cross join lateral (select coalesce(p.threshold_points, {D["threshold_points"]}) as thr_points,
                               coalesce(p.threshold_minutes, {D["threshold_minutes"]}) as thr_minutes,
                               coalesce(p.daily_points, {D["daily_points"]}) as day_points,
                               coalesce(p.daily_minutes, {D["daily_minutes"]}) as day_minutes) lim"""


# The limit of `what` kept on a hand-made credit's audit row when it was posted (null for a mark's
# award, and for rows written before issue 30): an act is judged by the limits then in force.
_IN_FORCE = """(select max((l.after->>{what})::bigint) from audit_log l
                where l.act = 'adjustment' and l.target_type in ('user', 'org')
                  and (l.after->>'transfer_id')::bigint = m.id)"""

CHECKS: dict[str, str] = {
    "adjustment_above_threshold_alone": f"""
        select m.id as transfer_id, m.community_id, m.maker_id, m.unit, m.amount
        from ({Q.manual_adjustments}) m {_LIMITS.format(c="m.community_id")}
        where m.kind = 'adjustment'
          and m.amount > greatest(case m.unit when 'points' then lim.thr_points else lim.thr_minutes end,
                                  {_IN_FORCE.format(what="'threshold'")})""",
    "mark_above_threshold_alone": f"""
        select n.id as attendance_id, a.community_id, n.recorded_by as maker_id, n.points, n.minutes
        from attendances n join activities a on a.id = n.activity_id {_LIMITS.format(c="a.community_id")}
        where n.source = 'manual' and n.state <> 'annulled'
          and (n.points > greatest(lim.thr_points, (select max((l.after->'thresholds'->>'points')::bigint)
                                                        from audit_log l where l.act = 'attendance_mark'
                                                          and l.after->'attendances' @> to_jsonb(n.id)))
               or n.minutes > greatest(lim.thr_minutes, (select max((l.after->'thresholds'->>'minutes')::bigint)
                                                          from audit_log l where l.act = 'attendance_mark'
                                                            and l.after->'attendances' @> to_jsonb(n.id))))
          and exists (select 1 from transfers t where t.cause_type = 'checkin' and t.cause_id = n.id
                        and t.kind = 'award' and t.actor_id = n.recorded_by)""",
    "activity_above_threshold_unapproved": f"""
        select a.id as activity_id, a.community_id, a.created_by as maker_id, a.points, a.points_per_hour,
               a.daily_points_cap
        from activities a {_LIMITS.format(c="a.community_id")}
        cross join lateral (select least(extract(epoch from a.ends_at - a.starts_at)::bigint / 60,
                                         coalesce(a.max_minutes, 2147483647)) as stay) w
        where a.state <> 'draft'
          and least(a.daily_points_cap, a.points + w.stay * a.points_per_hour / 60) > lim.thr_points
          and not exists (select 1 from held_acts h where h.kind = 'activity' and h.activity_id = a.id
                            and h.state = 'approved')""",
    "daily_limit_passed_alone": f"""
        select m.community_id, m.maker_id, m.unit, (m.created_at at time zone $1)::date as day,
               sum(m.amount) as amount
        from ({Q.manual_adjustments}) m {_LIMITS.format(c="m.community_id")}
        group by m.community_id, m.maker_id, m.unit, (m.created_at at time zone $1)::date, lim.day_points,
                 lim.day_minutes
        having sum(m.amount) > greatest(case m.unit when 'points' then lim.day_points else lim.day_minutes end,
                                        max({_IN_FORCE.format(what="'daily_limit'")}))""",
    "own_scan_credited_alone": """
        select t.id as transfer_id, a.community_id, n.user_id as manager_id, t.unit, t.amount
        from transfers t join attendances n on n.id = t.cause_id join activities a on a.id = n.activity_id
        where t.cause_type = 'checkin' and t.kind = 'award' and t.state = 'posted' and n.source = 'self'
          and (t.idem_key is null or t.idem_key not like 'held:%')
          and (a.created_by = n.user_id
               or exists (select 1 from org_managers g where g.org_id = a.community_id and g.user_id = n.user_id))
          and not exists (select 1 from transfers r where r.reverses = t.id)""",
    "own_resident_redeemed_alone": Q.own_resident_redeemed_alone,
    "presence_after_auto_checkout": """
        select t.id as transfer_id, a.community_id, n.user_id, t.unit, t.amount
        from transfers t join attendances n on n.id = t.cause_id join activities a on a.id = n.activity_id
        where t.cause_type = 'checkin' and t.kind = 'award' and t.state = 'posted' and t.actor_id is null
          and t.idem_key like 'checkin:%:until:%'""",
}


async def report(conn: asyncpg.Connection, community_ids: list[int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every finding per check (only the checks that found something), optionally for some communities."""
    found: dict[str, list[dict[str, Any]]] = {}
    zone = clock.zone().key
    for name, sql in CHECKS.items():
        params: list[Any] = [zone] if "$1" in sql else []
        rows = await conn.fetch(f"select * from ({sql}) x where (${len(params) + 1}::bigint[] is null "
                                f"or x.community_id = any(${len(params) + 1})) order by 1, 2 limit 1000",
                                *params, community_ids)
        if rows:
            found[name] = [{k: (str(v) if k == "day" else v) for k, v in dict(r).items()} for r in rows]
    return found
