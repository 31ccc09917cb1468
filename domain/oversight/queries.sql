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

-- name: own_resident_redeemed_alone
select r.id as redemption_id, r.community_id, r.decided_by as manager_id, r.user_id, r.points
from redemptions r
where r.on_the_spot
  and exists (select 1 from audit_log l where l.act = 'member_create' and l.actor_id = r.decided_by
                and l.target_type = 'user' and l.target_id = r.user_id)
  and (exists (select 1 from accounts c join entries e on e.account_id = c.id
                 join transfers t on t.id = e.transfer_id
               where c.user_id = r.user_id and e.amount > 0 and t.actor_id = r.decided_by
                 and t.kind <> 'reversal')
       or exists (select 1 from attendances n where n.user_id = r.user_id and n.recorded_by = r.decided_by));
