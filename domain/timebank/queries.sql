-- name: earned_minutes
-- Minutes EARNED, for stars: what a person was credited for their own service or by a manager, net
-- of corrections. Per entry on the person's minutes account:
--   award, service  - credits count; service debits are spending (paying a volunteer) and do not;
--   adjustment      - counts with its sign (a manager's correction either way);
--   reversal        - undoes what its original counted (a reversed award or service credit, a reversed
--                     adjustment); reversing a payment the person made is not earning;
--   gift, donation  - never count: gifts are not the receiver's service, and counting them would let two
--                     linked people raise each other's stars by passing the same minutes back and forth.
-- Spending never lowers it: earned minutes count after they are spent.
select greatest(coalesce(sum(case
    when t.kind in ('award', 'service') and e.amount > 0 then e.amount
    when t.kind = 'adjustment' then e.amount
    when t.kind = 'reversal' and o.kind = 'adjustment' then e.amount
    when t.kind = 'reversal' and o.kind in ('award', 'service') and e.amount < 0 then e.amount
    else 0 end), 0), 0)::bigint
from entries e join transfers t on t.id = e.transfer_id left join transfers o on o.id = t.reverses
join accounts a on a.id = e.account_id
where a.user_id = $1 and a.unit = 'minutes' and a.kind = 'user'
  and t.kind <> 'carryover';

-- name: hours_by_kind
select coalesce(sum(e.amount) filter (where coalesce(o.kind, t.kind) = 'award'
                                       and (t.kind = 'award' or e.amount < 0)), 0)::bigint as activity,
       coalesce(sum(e.amount) filter (where coalesce(o.kind, t.kind) = 'service'
                                       and ((t.kind = 'service' and e.amount > 0)
                                            or (t.kind = 'reversal' and e.amount < 0))), 0)::bigint as service,
       coalesce(sum(e.amount) filter (where coalesce(o.kind, t.kind) = 'adjustment'), 0)::bigint as adjustment,
       coalesce(sum(e.amount) filter (where t.kind = 'gift' and e.amount > 0), 0)::bigint as gift
  from entries e join transfers t on t.id = e.transfer_id left join transfers o on o.id = t.reverses
  join accounts a on a.id = e.account_id
 where a.user_id = $1 and a.unit = 'minutes' and a.kind = 'user';

-- name: cancel_request
update service_requests set state = 'cancelled', cancelled_at = $2 where id = $1;
