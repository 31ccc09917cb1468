-- The long or shared statements of people, orgs and joining (domain/core/queries.py).

-- name: manages_a_community_under
-- Whether any of the orgs $2 (an actor's managed orgs) is a direct child of $1 (a street's communities).
select exists (select 1 from orgs c where c.parent_id = $1 and c.id = any($2::bigint[]));

-- name: active_user_by_phone_for_update
select id from users where phone = $1 and active and closed_at is null for update;

-- name: bind_wechat
insert into wechat_bindings (user_id, openid, bound_at) values ($1, $2, $3) on conflict (user_id) do update set openid = excluded.openid, bound_at = excluded.bound_at;

-- name: org_tree_with_counts
with shown as (
    select o.id, o.kind, o.name, o.parent_id, o.created_at from orgs o
    where $1::bigint[] is null or o.id = any($1) or (o.kind = 'grid' and o.parent_id = any($1))),
placed as (
    select m.user_id, m.org_id, case when x.kind = 'grid' then x.parent_id else x.id end as community_id
    from shown x join org_members m on m.org_id = x.id),
counts as (
    select org_id as id, count(distinct user_id) as n from placed where org_id <> community_id group by org_id
    union all
    select community_id, count(distinct user_id) from placed group by community_id)
select o.id, o.kind, o.name, o.parent_id, o.created_at, coalesce(c.n, 0) as members
from shown o left join counts c on c.id = o.id
order by o.id;
