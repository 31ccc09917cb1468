-- The long or shared statements of rankings (domain/core/queries.py). A ranking's parameters: $1 the
-- communities (an array), the team, or the community (households) or street (units); $2 the unit
-- ('points' or 'minutes'); $3, $4 a quarter's first day and the next quarter's (earned_quarterly's
-- `quarter` is its first day).
--
-- A ranking of people is a wrapper (people_ranking, people_top, ranking_csv,
-- ranking_csv_narrowed) around a source, the (user_id, amount) of everyone it lists: communities_earned,
-- party_earned or team_earned. A wrapper's one hole, `source`, is filled by domain/rankings/service.py
-- from that closed list only (the CSV wrappers' also from households_ranking or units_ranking, or a
-- ranking of people built so). Not written out per combination: what a quarter's score in a community
-- is (earned minus deductions) would be written in nine statements.

-- name: top_activities
select a.id, a.title, a.starts_at,
       count(t.id) filter (where t.state <> 'annulled') as people,
       coalesce(sum(t.points) filter (where t.state <> 'annulled'), 0)::bigint as points,
       coalesce(sum(t.minutes) filter (where t.state <> 'annulled'), 0)::bigint as minutes
  from activities a left join attendances t on t.activity_id = a.id
 where a.community_id = $1 and a.starts_at >= $2 and a.starts_at <= $3
 group by a.id
having count(t.id) filter (where t.state <> 'annulled') > 0
 order by people desc, points desc, a.starts_at desc
 limit 5;

-- name: insert_posting_entries
insert into posting_entries (posting_id, position, rank, user_id, household_id, masked_name, amount)
values ($1, $2, $3, $4, $5, $6, $7);

-- name: communities_earned
-- Everyone paid by the issuing account of communities $1 in the quarter, summed per person. The score in
-- a community is what was earned there minus the deductions posted there in the quarter, each at its
-- whole amount (also the part the balance could not pay); a deduction's ledger transfer (kind
-- 'deduction') is not in earned_daily, so nothing counts twice.
select e.user_id, sum(e.earned)::bigint as amount
  from (select e.user_id, e.earned from earned_quarterly e
         where e.community_id = any($1::bigint[]) and e.unit = $2 and e.quarter >= $3 and e.quarter < $4
        union all
        select d.user_id, -d.amount::bigint as earned from deductions d
         where d.state = 'posted' and $2 = 'points' and d.community_id = any($1::bigint[])
           and (d.decided_at at time zone (select tz from local_zone))::date >= $3
           and (d.decided_at at time zone (select tz from local_zone))::date < $4) e
 where true
 group by e.user_id
having sum(e.earned) <> 0;

-- name: party_earned
-- communities_earned kept to the confirmed party members of any unit (双报到): what they earned in the
-- street's communities $1.
select e.user_id, sum(e.earned)::bigint as amount
  from (select e.user_id, e.earned from earned_quarterly e
         where e.community_id = any($1::bigint[]) and e.unit = $2 and e.quarter >= $3 and e.quarter < $4
        union all
        select d.user_id, -d.amount::bigint as earned from deductions d
         where d.state = 'posted' and $2 = 'points' and d.community_id = any($1::bigint[])
           and (d.decided_at at time zone (select tz from local_zone))::date >= $3
           and (d.decided_at at time zone (select tz from local_zone))::date < $4) e
 where true
   and exists (select 1 from unit_members m where m.user_id = e.user_id and m.party_member and m.confirmed)
 group by e.user_id
having sum(e.earned) <> 0;

-- name: team_earned
-- Every member of team $1 (zero included), by what they earned in any community.
select m.user_id, coalesce((select sum(e.earned) from earned_quarterly e
                             where e.user_id = m.user_id and e.unit = $2 and e.quarter >= $3 and e.quarter < $4),
                           0)::bigint as amount
  from team_members m join teams t on t.id = m.team_id
 where m.team_id = $1
   -- only members of the team's community count (a row from before that rule is ignored)
   and exists (select 1 from org_members om join orgs g on g.id = om.org_id
                where om.user_id = m.user_id
                  and case when g.kind = 'grid' then g.parent_id else g.id end = t.community_id);

-- name: households_ranking
-- Every household of community $1 with its members' names, by what its members earned (anywhere) minus
-- the deductions posted to them in the community, most first.
select h.id, h.name,
       coalesce(array_agg(u.name order by u.name, u.id) filter (where u.id is not null), '{}') as members,
       coalesce((select sum(e.earned) from household_members hm
                   join earned_quarterly e on e.user_id = hm.user_id
                  where hm.household_id = h.id and e.unit = $2 and e.quarter >= $3 and e.quarter < $4),
                0)::bigint
       - coalesce((select sum(d.amount) from household_members hm join deductions d on d.user_id = hm.user_id
                    where hm.household_id = h.id and d.state = 'posted' and $2 = 'points'
                      and d.community_id = $1
                      and (d.decided_at at time zone (select tz from local_zone))::date >= $3
                      and (d.decided_at at time zone (select tz from local_zone))::date < $4),
                  0)::bigint as amount
  from households h
  left join household_members m on m.household_id = h.id
  left join users u on u.id = m.user_id
 where h.community_id = $1
 group by h.id
 order by amount desc, h.name, h.id;

-- name: units_ranking
-- The work units under street or district $1, by what their confirmed members earned anywhere.
select u.id, u.name, null as phone,
       coalesce((select sum(e.earned) from unit_members m join earned_quarterly e on e.user_id = m.user_id
                  where m.unit_id = u.id and m.confirmed and e.unit = $2 and e.quarter >= $3 and e.quarter < $4),
                0)::bigint as amount
  from units u where u.parent_id = $1
 order by amount desc, u.name, u.id;

-- name: people_ranking
-- A template: the whole ranking of people of a source, most first (ranked by the caller).
with earned as ({source})
select u.id, u.name, u.phone, earned.amount
  from earned join users u on u.id = earned.user_id
 order by earned.amount desc, u.name, u.id;

-- name: people_top
-- A template: the first $5 rows of a source's ranking of people with their ranks and the ranking's length,
-- and person $6's amount there and how many earned more (their rank is one more: ties share a rank, as
-- rules.competition_ranks), ranked by PostgreSQL in one pass over the source: a community of 20,000 sent
-- every row to the app to rank, mask and cut to 100 (65 ms of PostgreSQL and 75 ms of app CPU per call,
-- street rankings 170 + 130 ms). Only the rows whose amount reaches the $5-th amount (`cut`: ties at
-- the cut included) are ranked and named: a row's rank among them is its rank in the whole ranking,
-- since every row above it is among them. Ranking every row with window functions, or looking up and
-- sorting by name every person of a street, cost most of the statement's time. No row when the source
-- is empty (then nobody is ranked, $6 included).
with earned as materialized ({source}),
cut as (select amount from earned order by amount desc offset $5 - 1 limit 1),
top as (select user_id, amount, rank() over (order by amount desc)::int as rank
          from earned
         where (select amount from cut) is null or amount >= (select amount from cut)),  -- null: fewer than $5
person as (select amount from earned where user_id = $6::bigint)
select u.id, u.name, u.phone, top.amount, top.rank, (select count(*) from earned)::int as total,
       (select amount from person) as person_amount,
       case when $6::bigint is null then 0
            else (select count(*) from earned where amount > (select amount from person)) end::int as person_above
  from top join users u on u.id = top.user_id
 order by top.amount desc, u.name, u.id
 limit $5;

-- name: ranking_csv
-- A template: a whole ranking (people_ranking of a source, households_ranking or units_ranking) ranked by
-- PostgreSQL in its own order (amount, name, id), for the CSV read through a server-side cursor.
with ranked as ({source})
select ranked.*, rank() over (order by amount desc)::int as rank
  from ranked
 order by amount desc, name, id;

-- name: ranking_csv_narrowed
-- A template: ranking_csv of a ranking of people kept to the confirmed members of work units ($5 party
-- members only, $6 one unit) before the ranks are counted, as `ranking` narrows a list of people.
with ranked as ({source})
select ranked.*, rank() over (order by amount desc)::int as rank
  from ranked where ranked.id in (select user_id from unit_members where confirmed and (not $5 or party_member)
                                  and ($6::bigint is null or unit_id = $6))
 order by amount desc, name, id;

-- name: ledger_postings
-- Every posting between $2 and $3 that touches an account of community $1 or of one of its members
-- (volunteers, and couriers of its grids), once, in the order posted, with who made it
-- (domain/rankings/service.py ledger_csv_pages says why one query read through a cursor).
with acc as (
    select id from accounts where org_id = $1
    union
    select a.id from accounts a
      join org_members m on m.user_id = a.user_id
      join orgs o on o.id = m.org_id and (o.id = $1 or o.parent_id = $1)
     where a.kind = 'user'),
moved as (
    select distinct on (t.id) t.id, e.created_at as posted_at, t.kind, t.cause_type, t.memo, t.unit,
           t.amount, t.debit_account, t.credit_account, t.reverses, t.actor_id, t.reason
      from acc join entries e on e.account_id = acc.id
      join transfers t on t.id = e.transfer_id
     where e.created_at >= $2 and e.created_at < $3
     order by t.id)
select moved.*, u.name as actor_name from moved left join users u on u.id = moved.actor_id
 order by posted_at, id;
