-- name: take_both
with first as (
    insert into rate_hits (bucket, window_start, hits) values ($1, $3, 1)
    on conflict (bucket, window_start) do update set hits = rate_hits.hits + 1
    returning hits),
second as (
    insert into rate_hits (bucket, window_start, hits) select $2, $3, 1 from first where first.hits <= $4
    on conflict (bucket, window_start) do update set hits = rate_hits.hits + 1
    returning hits)
select (select hits from first) as first, (select hits from second) as second;

-- name: manages_org_or_its_parent
select exists (select 1 from org_managers m join orgs o on o.id = $1
where m.user_id = $2 and (m.org_id = o.id or m.org_id = o.parent_id));

-- name: audit_page
select a.id, a.created_at, a.act, a.actor_id, u.name as actor_name, a.community_id,
       c.name as community_name, a.target_type, a.target_id,
       case a.target_type when 'user' then tu.name when 'org' then o.name end as target_name,
       a.before, a.after, a.reason, a.ip
from audit_log a
left join users u on u.id = a.actor_id
left join orgs c on c.id = a.community_id
left join users tu on a.target_type = 'user' and tu.id = a.target_id
left join orgs o on a.target_type = 'org' and o.id = a.target_id
where ($1::bigint is null or a.community_id = $1)
  and ($2::bigint[] is null or a.community_id = any($2))
  and ($3::bigint is null or a.actor_id = $3)
  and ($4::text is null or a.act = $4)
  and ($5::text is null or a.target_type = $5)
  and ($6::bigint is null or a.target_id = $6)
  and ($7::timestamptz is null or a.created_at >= $7)
  and ($8::timestamptz is null or a.created_at < $8)
  and ($9 = 0 or a.id < $9)
order by a.id desc limit $10;

-- name: queue_notification
-- A message's inbox row (none when its dedup key was used), and what its person can receive.
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
