-- name: adjustment_request_vs_transfer
select r.id, r.state, r.transfer_id from adjustment_requests r
left join transfers t on t.id = r.transfer_id
left join accounts u on u.id = case when r.amount > 0 then t.credit_account else t.debit_account end
where (r.state = 'approved' and (t.id is null or t.state <> 'posted' or t.kind <> 'adjustment'
                                 or t.amount <> abs(r.amount) or t.unit <> r.unit
                                 or u.user_id is distinct from r.user_id
                                 or t.actor_id is distinct from r.decided_by
                                 or r.decided_by = r.requested_by))
   or (r.state <> 'approved' and r.transfer_id is not null);

-- name: settlements_vs_postings
with expected as (
    select t.id, t.unit, d.org_id as issuer_id, c.org_id as spender_id, t.amount
      from transfers t join accounts d on d.id = t.debit_account join accounts c on c.id = t.credit_account
     where t.state = 'posted' and t.kind in ('redemption', 'service', 'donation') and d.kind = 'user'
       and c.kind in ('user', 'supermarket', 'pool') and d.org_id <> c.org_id
    union all
    select r.id, r.unit, s.issuer_id, s.spender_id, -r.amount
      from transfers r join settlements s on s.transfer_id = r.reverses where r.kind = 'reversal')
select coalesce(e.id, s.transfer_id) as transfer_id from expected e
  full join settlements s on s.transfer_id = e.id
 where coalesce(e.id, s.transfer_id) >= (select first_transfer_id from ledger_epochs
                                          where name = 'cross_community')
   and (e.id is null or s.transfer_id is null
    or (e.unit, e.issuer_id, e.spender_id, e.amount)
       is distinct from (s.unit, s.issuer_id, s.spender_id, s.amount));

-- name: spent_outside_area
select s.transfer_id from settlements s
  join transfers t on t.id = s.transfer_id
  join orgs ic on ic.id = s.issuer_id join orgs ist on ist.id = ic.parent_id
  join orgs sc on sc.id = s.spender_id join orgs sst on sst.id = sc.parent_id
 where s.amount > 0 and not exists (
       select 1 from (values (ist.id), (ist.parent_id)) level(org_id)
        where level.org_id in (sst.id, sst.parent_id)
          and (select p.enabled from area_policies p
                where p.org_id = level.org_id and p.unit = s.unit
                  and p.starts_on <= (t.created_at at time zone (select tz from local_zone))::date
                  and p.created_at <= t.created_at
                order by p.starts_on desc, p.id desc limit 1));

-- name: redemption_vs_transfers
select d.id as redemption_id, d.state, p.amount, p.states
from redemptions d
left join lateral (
    select sum(coalesce(t.held_amount, t.amount)) as amount,
           -- as text: an array of the column's domain (migrations/086) has no = with text[]
           array_agg(distinct t.state::text order by t.state::text) as states,
           coalesce(bool_and(f.id is not null), false) as all_refunded,
           coalesce(bool_or(f.id is not null), false) as any_refunded
    from transfers t left join transfers f on f.reverses = t.id
    where t.cause_type = 'redemption' and t.cause_id = d.id and t.reverses is null) p on true
where p.amount is distinct from d.points
   or not coalesce(case d.state
        when 'requested' then p.states = array['pending']
        when 'approved' then p.states = array['posted'] and not p.any_refunded
        when 'fulfilled' then p.states = array['posted'] and not p.any_refunded
        when 'rejected' then p.states = array['voided']
        when 'cancelled' then p.states = array['voided']
        when 'expired' then p.states = array['expired'] or (p.states = array['posted'] and p.all_refunded)
        else false end, false);

-- name: service_vs_hold
select s.id as request_id, s.state, t.id as transfer_id, t.state as transfer_state
from service_requests s left join transfers t on t.id = s.hold_transfer_id
where (t.id is not null and (t.cause_type is distinct from 'service' or t.cause_id <> s.id
                             or t.held_amount <> s.minutes_estimate))
   or not coalesce(case s.state
        when 'open' then t.id is null
        when 'accepted' then t.state = 'pending'
        when 'completed' then t.state = 'pending'
        when 'confirmed' then t.state = 'posted'
        when 'cancelled' then t.id is null or t.state in ('voided', 'expired')
        else false end, false);

-- name: merchant_redemption_vs_ledger
select r.id as redemption_id, r.points, p.amount, p.refunded_parts, p.parts
from merchant_redemptions r
left join accounts m on m.partner_id = r.partner_id and m.kind = 'merchant'
left join lateral (
    select sum(t.amount) as amount, count(*) as parts, count(f.id) as refunded_parts,
           bool_and(t.credit_account = m.id and d.user_id = r.user_id and t.state = 'posted'
                    and t.kind = 'redemption') as right_accounts
    from transfers t join accounts d on d.id = t.debit_account left join transfers f on f.reverses = t.id
    where t.cause_type = 'merchant_redemption' and t.cause_id = r.id) p on true
where p.amount is distinct from r.points or not p.right_accounts
   or p.refunded_parts <> case when r.refunded_at is null then 0 else p.parts end;

-- name: merchant_lines
-- $1 the level, $2..$3 the month, $4 its communities; merchant_lines (settlement.py) says why it starts
-- from the entries.
select p.id as merchant_id, p.name as merchant_name, m.org_id as settles_with,
      so.name as settles_with_name, a.org_id as issuer_id, io.name as issuer_name,
      count(*) filter (where t.credit_account = m.id)::int as redemptions,
      sum(case when t.credit_account = m.id then t.amount else -t.amount end)::bigint as points,
      r.fen_per_point
 from accounts m join partners p on p.id = m.partner_id join orgs so on so.id = m.org_id
 join entries e on e.account_id = m.id
 join transfers t on t.id = e.transfer_id and t.state = 'posted'
 join accounts a on a.id = case when t.credit_account = m.id then t.debit_account else t.credit_account end
 join orgs io on io.id = a.org_id
 left join merchant_rates r on r.org_id = m.org_id
where m.kind = 'merchant' and t.created_at >= $2 and t.created_at < $3
  and (m.org_id = $1 or exists (select 1 from merchant_communities c where c.partner_id = p.id
                                and c.community_id = any($4::bigint[])))
group by 1, 2, 3, 4, 5, 6, r.fen_per_point order by p.name, p.id, a.org_id;

-- name: attendance_vs_ledger
select a.id as attendance_id, a.state, a.points, a.minutes,
       coalesce(c.points, 0) as ledger_points, coalesce(c.minutes, 0) as ledger_minutes
from attendances a
left join (select t.cause_id, ac.user_id,
                  sum(t.amount) filter (where t.unit = 'points') as points,
                  sum(t.amount) filter (where t.unit = 'minutes') as minutes
           from transfers t join accounts ac on ac.id = t.credit_account
           where t.cause_type = 'checkin' and t.state = 'posted' and not exists (select 1 from transfers x where x.reverses = t.id) group by t.cause_id, ac.user_id) c
       on c.cause_id = a.id and c.user_id = a.user_id
where coalesce(c.points, 0) <> case when a.state = 'annulled' then 0 else a.points end
   or coalesce(c.minutes, 0) <> case when a.state = 'annulled' then 0 else a.minutes end
union all
select t.cause_id, 'credited to someone else', null, null, t.amount, null from transfers t
join accounts ac on ac.id = t.credit_account
where t.cause_type = 'checkin' and t.state = 'posted' and not exists (select 1 from transfers x where x.reverses = t.id)
  and not exists (select 1 from attendances a where a.id = t.cause_id and a.user_id = ac.user_id);

-- name: report_vs_ledger
select r.id as report_id, r.state, r.points, r.transfer_id, coalesce(c.total, 0) as ledger_points
from reports r
left join (select t.cause_id, ac.user_id, sum(t.amount) as total, array_agg(t.id) as ids
           from transfers t join accounts ac on ac.id = t.credit_account
           where t.cause_type = 'report' and t.unit = 'points' and t.state = 'posted' and not exists (select 1 from transfers x where x.reverses = t.id)
           group by t.cause_id, ac.user_id) c on c.cause_id = r.id and c.user_id = r.courier_id
where coalesce(c.total, 0) <> case when r.state = 'verified' then r.points else 0 end
   or (r.transfer_id is null) <> (c.ids is null)
   or (r.transfer_id is not null and not r.transfer_id = any(c.ids));

-- name: case_bonus_vs_ledger
select k.id as case_id, k.bonus_transfer_id, t.id as transfer_id
from cases k
left join (select t.id, t.cause_id, ac.user_id from transfers t join accounts ac on ac.id = t.credit_account
           where t.cause_type = 'case' and t.unit = 'points' and t.state = 'posted' and not exists (select 1 from transfers x where x.reverses = t.id)) t on t.id = k.bonus_transfer_id
where k.bonus_transfer_id is not null and (t.id is null or t.cause_id <> k.id or t.user_id <> k.reporter_id)
union all
select t.cause_id, null, t.id from transfers t
where t.cause_type = 'case' and t.unit = 'points' and t.state = 'posted' and not exists (select 1 from transfers x where x.reverses = t.id)
  and not exists (select 1 from cases k where k.bonus_transfer_id = t.id);

-- name: user_account
select id from accounts where user_id = $1 and unit = $2 and org_id = $3 and kind = 'user';

-- name: available_points_by_community
-- A person's points they may spend, per issuing community (balance less what is held).
select org_id, balance - held as available from accounts where user_id = $1 and unit = 'points' and kind = 'user';

-- name: statement_page
-- One page of account $1's postings before entry id $2, at most $3, newest first, read through the
-- entries_account (account_id, id desc) index so the cost grows with the page, not with the history,
-- however deep the cursor, and planned the same way for every account. What keeps it so
-- (tests/ledger/test_ledger_scale.py EXPLAINs this text and checks the plan cache):
-- - `e.id < ...` with no OR: the first page passes the largest id, so both bounds are index conditions;
-- - `account_id = any(array[...])` and `order by e.account_id, e.id desc`: with a plain `account_id = ...`
--   the planner may instead walk the primary key backwards filtering on the account, which looks cheap
--   for an account with a large share of all entries but reads every newer posting of everyone when
--   that account's own postings are old. Written this way, only entries_account delivers the order.
-- - the three parameters are read through `(select $n)`, which the planner treats as unknown values
--   even when it plans for the actual ones, so the plan does not depend on the account or the page
--   size. Why: asyncpg prepares the query, and after five runs PostgreSQL keeps the generic plan only
--   if its estimated cost is below that of the plans made for the actual values. With the values
--   visible, the generic plan guessed "10 % of an average account" for `limit $3` where the custom one
--   knew 21 rows; once the average account held ~2,000 entries (10^6 postings) the generic estimate
--   looked 6x dearer and every call was planned afresh ("0 generic, 29 custom"), the planning costing
--   more than the query (the first page took 2x its time at 10^4). With the values hidden both
--   estimates are the same, so the generic plan is kept, at any size.
select e.id, e.transfer_id, e.created_at, e.amount, e.balance_after, t.kind, t.state,
       t.cause_type, t.cause_id, t.memo, t.reason, t.actor_id, u.name as actor_name,
       (select r.id from transfers r where r.reverses = t.id) as reversed_by
  from entries e
  join transfers t on t.id = e.transfer_id
  left join users u on u.id = t.actor_id
 where e.account_id = any(array[(select $1::bigint)]) and e.id < (select $2::bigint)
 order by e.account_id, e.id desc
 limit (select $3::integer);
