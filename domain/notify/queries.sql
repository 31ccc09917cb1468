-- name: send
with person as (
    select u.phone is not null and u.closed_at is null as has_phone,
           exists (select 1 from wechat_bindings w where w.user_id = u.id) as has_wechat,
           (select p.channels from notification_preferences p where p.user_id = u.id and p.kind = $2)
               as chosen
    from users u where u.id = $1),
message as (
    insert into notifications (user_id, kind, community_id, params, link, dedup_key, created_at)
    values ($1, $2, $3, $4, $5, $6, $7)
    on conflict (user_id, dedup_key) where dedup_key is not null do nothing
    returning id)
select message.id, person.* from message, person;

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
