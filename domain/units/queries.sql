-- The long or shared statements of 双报到 and the city above the community (domain/core/queries.py).
-- $2, $3 are a quarter's first day and the next quarter's (earned_quarterly's `quarter` is its first day).

-- name: unit_totals
-- The units of street or district $1 with their confirmed members and those members' minutes and points
-- of the quarter, most minutes first. Each member's quarter is summed by person (earned_quarterly_user) before
-- the units are: a join of the members with the quarter's rows made the planner read the whole summary
-- table (0.5-0.8 s for a district of 1,350 units). A member counts once per unit ((unit, user) is
-- unit_members' key).
select u.id as unit_id, u.name,
       count(m.user_id)::int as members,
       coalesce(sum(x.minutes), 0)::bigint as minutes,
       coalesce(sum(x.points), 0)::bigint as points
from units u
left join unit_members m on m.unit_id = u.id and m.confirmed
left join lateral (select sum(e.earned) filter (where e.unit = 'minutes') as minutes,
                          sum(e.earned) filter (where e.unit = 'points') as points
                     from earned_quarterly e
                    where e.user_id = m.user_id and e.quarter >= $2 and e.quarter < $3) x on true
where u.parent_id = $1
group by u.id order by minutes desc, points desc, u.name, u.id;

-- name: unit_members_quarter
-- The members of unit $1 by name: where they reported (pending or approved), their minutes and points
-- of the quarter, their minutes of the year so far (from $4, its first day), and whether they
-- confirmed the service card of quarter $5 ('2025Q1').
select m.user_id, p.name, p.phone, m.party_member, m.confirmed,
       r.community_id, c.name as community_name, r.state as report_state,
       coalesce((select sum(e.earned) from earned_quarterly e where e.user_id = m.user_id
                 and e.unit = 'minutes' and e.quarter >= $2 and e.quarter < $3), 0)::bigint as minutes,
       coalesce((select sum(e.earned) from earned_quarterly e where e.user_id = m.user_id
                 and e.unit = 'points' and e.quarter >= $2 and e.quarter < $3), 0)::bigint as points,
       coalesce((select sum(e.earned) from earned_quarterly e where e.user_id = m.user_id
                 and e.unit = 'minutes' and e.quarter >= $4 and e.quarter < $3), 0)::bigint as minutes_year,
       exists (select 1 from service_cards s where s.user_id = m.user_id and s.quarter = $5) as card_confirmed
from unit_members m join users p on p.id = m.user_id
left join unit_reports r on r.user_id = m.user_id and r.unit_id = m.unit_id and r.state in ('pending', 'approved')
left join orgs c on c.id = r.community_id
where m.unit_id = $1 order by p.name, m.user_id;

-- name: units_served
-- For community $1: the units whose members reported there (approved), how many of them, how many
-- served there in the quarter, and their minutes and points there, most minutes first.
select u.id as unit_id, u.name, count(distinct r.user_id)::int as reported,
       count(distinct e.user_id) filter (where e.active_days > 0)::int as served,
       coalesce(sum(e.earned) filter (where e.unit = 'minutes'), 0)::bigint as minutes,
       coalesce(sum(e.earned) filter (where e.unit = 'points'), 0)::bigint as points
from unit_reports r join units u on u.id = r.unit_id
left join earned_quarterly e on e.user_id = r.user_id and e.community_id = r.community_id
     and e.quarter >= $2 and e.quarter < $3
where r.community_id = $1 and r.state = 'approved'
group by u.id order by minutes desc, u.name;

-- name: community_figures
-- The figures of communities $1 in the quarter: active volunteers (a day of positive net earnings:
-- active_days counts them), minutes, points issued, and for the quarter's instants [$4, $5) the mean
-- wait of a redemption's decision and the reports verified; with the members reported there. The
-- quarter's rows are read once for the first three (three subqueries per community read them three
-- times: 130 ms of PostgreSQL CPU for a district of 162 communities at 10^6 postings a year), from
-- earned_quarterly: one row per person and unit, not per person and day.
with earned as (
    select e.community_id, count(distinct e.user_id) filter (where e.active_days > 0) as active,
           sum(e.earned) filter (where e.unit = 'minutes') as minutes,
           sum(e.earned) filter (where e.unit = 'points') as points
    from earned_quarterly e
    where e.community_id = any($1::bigint[]) and e.quarter >= $2 and e.quarter < $3
    group by e.community_id)
select c.id,
       coalesce(x.active, 0)::int as active_volunteers,
       coalesce(x.minutes, 0)::bigint as minutes,
       coalesce(x.points, 0)::bigint as points_issued,
       (select round((extract(epoch from avg(r.decided_at - r.requested_at)) / 3600)::numeric, 1)
          from redemptions r where r.community_id = c.id and r.decided_at >= $4 and r.decided_at < $5)
          as redemption_wait_hours,
       (select count(*) from reports p where p.community_id = c.id and p.state = 'verified'
          and p.reviewed_at >= $4 and p.reviewed_at < $5)::int as reports_verified,
       (select count(*) from unit_reports u where u.community_id = c.id and u.state = 'approved')::int
          as reported_members
from orgs c left join earned x on x.community_id = c.id
where c.id = any($1::bigint[]);
