-- name: claim
with due as (
    select id from notification_outbox
    where state = 'pending' and not_before <= $1 and (lease_until is null or lease_until <= $1)
    order by not_before, id limit $2 for update skip locked)
update notification_outbox o set lease_until = $3, attempts = o.attempts + 1
from due, notifications n, users u
where o.id = due.id and n.id = o.notification_id and u.id = n.user_id
returning o.id, o.notification_id, o.channel, o.attempts, n.kind, n.params, n.link, u.phone,
          u.closed_at, (select w.openid from wechat_bindings w where w.user_id = u.id) as openid;
