-- The checks of `linli audit` (domain/oversight/report.py), one finding a row, at most 1,000 a check.
-- Each reads the communities $1 (null: all); the checks against a community's limits read them from
-- adjustment_policies, or the defaults $2 threshold_points, $3 threshold_minutes, $4 daily_points,
-- $5 daily_minutes (rules.DEFAULT_LIMITS); an act is judged by the limit in force when it was posted
-- where its audit row kept it (rows written before the limits were kept have none).

-- name: manual_adjustments
-- A hand-made credit posted by its maker alone: an adjustment (to a person, or to the community's time
-- pool) not from an approved request or held act, or a manual mark's award whose actor is the one who
-- recorded it. (community, maker, unit, amount, day)
select t.id, t.kind, t.cause_id as community_id, t.actor_id as maker_id, t.unit, t.amount, t.created_at
from transfers t join accounts d on d.id = t.debit_account and d.kind = 'issuing'
where t.kind = 'adjustment' and t.cause_type = 'adjustment' and t.state = 'posted' and t.actor_id is not null
  and (t.idem_key is null or (t.idem_key not like 'adjustment-request:%' and t.idem_key not like 'held:%'))
union all
select t.id, t.kind, a.community_id, t.actor_id, t.unit, t.amount, t.created_at
from transfers t join attendances n on n.id = t.cause_id join activities a on a.id = n.activity_id
where t.cause_type = 'checkin' and t.kind = 'award' and t.state = 'posted' and n.source = 'manual'
  and t.actor_id = n.recorded_by and t.idem_key like 'checkin:%:manual:%';

-- name: adjustment_above_threshold_alone
-- A template: report.py fills its one hole with the query manual_adjustments. A hand-made credit above the
-- community's threshold, posted by its maker alone.
select m.id as transfer_id, m.community_id, m.maker_id, m.unit, m.amount
from ({manual_adjustments}) m
left join adjustment_policies p on p.community_id = m.community_id
cross join lateral (select coalesce(p.threshold_points, $2) as thr_points, coalesce(p.threshold_minutes, $3) as thr_minutes,
                           coalesce(p.daily_points, $4) as day_points, coalesce(p.daily_minutes, $5) as day_minutes) lim
where m.kind = 'adjustment' and ($1::bigint[] is null or m.community_id = any($1))
  and m.amount > greatest(case m.unit when 'points' then lim.thr_points else lim.thr_minutes end,
                          (select max((l.after->>'threshold')::bigint) from audit_log l
                           where l.act = 'adjustment' and l.target_type in ('user', 'org')
                             and (l.after->>'transfer_id')::bigint = m.id))
order by 1, 2 limit 1000;

-- name: mark_above_threshold_alone
-- A manual mark above the community's threshold whose award its recorder posted.
select n.id as attendance_id, a.community_id, n.recorded_by as maker_id, n.points, n.minutes
from attendances n join activities a on a.id = n.activity_id
left join adjustment_policies p on p.community_id = a.community_id
cross join lateral (select coalesce(p.threshold_points, $2) as thr_points, coalesce(p.threshold_minutes, $3) as thr_minutes,
                           coalesce(p.daily_points, $4) as day_points, coalesce(p.daily_minutes, $5) as day_minutes) lim
where n.source = 'manual' and n.state <> 'annulled' and ($1::bigint[] is null or a.community_id = any($1))
  and (n.points > greatest(lim.thr_points, (select max((l.after->'thresholds'->>'points')::bigint)
                                            from audit_log l where l.act = 'attendance_mark'
                                              and l.after->'attendances' @> to_jsonb(n.id)))
       or n.minutes > greatest(lim.thr_minutes, (select max((l.after->'thresholds'->>'minutes')::bigint)
                                                 from audit_log l where l.act = 'attendance_mark'
                                                   and l.after->'attendances' @> to_jsonb(n.id))))
  and exists (select 1 from transfers t where t.cause_type = 'checkin' and t.cause_id = n.id
                and t.kind = 'award' and t.actor_id = n.recorded_by)
order by 1, 2 limit 1000;

-- name: activity_above_threshold_unapproved
-- An activity published with terms (a day's points for the longest stay) above the community's
-- threshold and no approved hold.
select a.id as activity_id, a.community_id, a.created_by as maker_id, a.points, a.points_per_hour,
       a.daily_points_cap
from activities a
left join adjustment_policies p on p.community_id = a.community_id
cross join lateral (select coalesce(p.threshold_points, $2) as thr_points, coalesce(p.threshold_minutes, $3) as thr_minutes,
                           coalesce(p.daily_points, $4) as day_points, coalesce(p.daily_minutes, $5) as day_minutes) lim
cross join lateral (select least(extract(epoch from a.ends_at - a.starts_at)::bigint / 60,
                                 coalesce(a.max_minutes, 2147483647)) as stay) w
where a.state <> 'draft' and ($1::bigint[] is null or a.community_id = any($1))
  and least(a.daily_points_cap, a.points + w.stay * a.points_per_hour / 60) > lim.thr_points
  and not exists (select 1 from held_acts h where h.kind = 'activity' and h.activity_id = a.id
                    and h.state = 'approved')
order by 1, 2 limit 1000;

-- name: daily_limit_passed_alone
-- A template: report.py fills its one hole with the query manual_adjustments. A maker's hand-made credits of
-- a local day (zone $6), posted alone, above the community's daily limit.
select m.community_id, m.maker_id, m.unit, (m.created_at at time zone $6::text)::date as day,
       sum(m.amount) as amount
from ({manual_adjustments}) m
left join adjustment_policies p on p.community_id = m.community_id
cross join lateral (select coalesce(p.threshold_points, $2) as thr_points, coalesce(p.threshold_minutes, $3) as thr_minutes,
                           coalesce(p.daily_points, $4) as day_points, coalesce(p.daily_minutes, $5) as day_minutes) lim
where $1::bigint[] is null or m.community_id = any($1)
group by m.community_id, m.maker_id, m.unit, (m.created_at at time zone $6::text)::date, lim.day_points,
         lim.day_minutes
having sum(m.amount) > greatest(case m.unit when 'points' then lim.day_points else lim.day_minutes end,
                                max((select max((l.after->>'daily_limit')::bigint) from audit_log l
                                     where l.act = 'adjustment' and l.target_type in ('user', 'org')
                                       and (l.after->>'transfer_id')::bigint = m.id)))
order by 1, 2 limit 1000;

-- name: own_scan_credited_alone
-- A check-in credit of a manager's own scan at an activity they made or manage, posted without
-- another manager's approval and not reversed.
select t.id as transfer_id, a.community_id, n.user_id as manager_id, t.unit, t.amount
from transfers t join attendances n on n.id = t.cause_id join activities a on a.id = n.activity_id
where t.cause_type = 'checkin' and t.kind = 'award' and t.state = 'posted' and n.source = 'self'
  and (t.idem_key is null or t.idem_key not like 'held:%')
  and (a.created_by = n.user_id
       or exists (select 1 from org_managers g where g.org_id = a.community_id and g.user_id = n.user_id))
  and not exists (select 1 from transfers r where r.reverses = t.id)
  and ($1::bigint[] is null or a.community_id = any($1))
order by 1, 2 limit 1000;

-- name: own_resident_redeemed_alone
-- An on-the-spot redemption decided by the manager who created the resident and credited them.
select r.id as redemption_id, r.community_id, r.decided_by as manager_id, r.user_id, r.points
from redemptions r
where r.on_the_spot
  and exists (select 1 from audit_log l where l.act = 'member_create' and l.actor_id = r.decided_by
                and l.target_type = 'user' and l.target_id = r.user_id)
  and (exists (select 1 from accounts c join entries e on e.account_id = c.id
                 join transfers t on t.id = e.transfer_id
               where c.user_id = r.user_id and e.amount > 0 and t.actor_id = r.decided_by
                 and t.kind <> 'reversal')
       or exists (select 1 from attendances n where n.user_id = r.user_id and n.recorded_by = r.decided_by))
  and ($1::bigint[] is null or r.community_id = any($1))
order by 1, 2 limit 1000;

-- name: presence_after_auto_checkout
-- A credit whose presence proof came after an automatic check-out, posted at once instead of going to
-- the review list.
select t.id as transfer_id, a.community_id, n.user_id, t.unit, t.amount
from transfers t join attendances n on n.id = t.cause_id join activities a on a.id = n.activity_id
where t.cause_type = 'checkin' and t.kind = 'award' and t.state = 'posted' and t.actor_id is null
  and t.idem_key like 'checkin:%:until:%'
  and ($1::bigint[] is null or a.community_id = any($1))
order by 1, 2 limit 1000;
