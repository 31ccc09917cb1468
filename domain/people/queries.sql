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

-- name: community_members
-- A page of the members of community $1 and its grids, one row per person, by id after $6, at most $7:
-- of role $2 (or any), named like $3 or (when $4, the viewer sees phones) with $3 in the phone, the
-- deactivated and closed included when $5. The community's members are found first (its orgs, then
-- org_members by its primary key) and each is looked up in users by id (the lateral join): planned
-- the other way round, PostgreSQL walked the whole city's users in id order looking for members,
-- 0.36 s for a page of a community of 860 in a city of 300,000 and 0.6-0.8 s for a search.
with m as materialized (
    select m.user_id, m.role, m.created_at, g.id as grid_id, g.name as grid_name
    from orgs o join org_members m on m.org_id = o.id
    left join orgs g on g.id = o.id and g.kind = 'grid'
    where (o.id = $1 or (o.kind = 'grid' and o.parent_id = $1)) and m.user_id > $6
)
select u.id, u.name, u.phone, u.active, u.closed_at is not null as closed,
       u.password_hash is not null as claimed,
       array_agg(distinct m.role order by m.role) as roles,
       min(m.grid_id) as grid_id, min(m.grid_name) as grid_name, min(m.created_at) as joined_at,
       (select coalesce(sum(balance - held), 0)::bigint from accounts a
         where a.user_id = u.id and a.kind = 'user' and a.unit = 'points') as points,
       (select coalesce(sum(balance - held), 0)::bigint from accounts a
         where a.user_id = u.id and a.kind = 'user' and a.unit = 'minutes') as minutes
from m cross join lateral (select * from users u where u.id = m.user_id offset 0) u
where ($2::text is null or m.role = $2)
  and ($3::text is null or u.name ilike '%' || $3 || '%' or ($4 and u.phone like '%' || $3 || '%'))
  and ($5 or (u.active and u.closed_at is null))
group by u.id, u.name, u.phone, u.active, u.closed_at, u.password_hash
order by u.id
limit $7;

-- name: community_members_page
-- A page of `community_members` with no filter on the person (no search, no role, a viewer who sees
-- everyone): the members after $2, at most $3, by id. The page's people are cut first, so a community
-- of 20,000 looks up $3 people in users, not all of its members (35 ms of PostgreSQL CPU a page
-- otherwise); their memberships are read next. Each org of the community gives its first $3 members
-- after $2 (the page's people are among them: a person in the page has fewer than $3 people before
-- them in any org), so a page reads at most $3 memberships per org, not every membership of the
-- community (20,000 read, made distinct and sorted: 10 ms a page).
with page as materialized (
    select distinct first.user_id
    from orgs o cross join lateral (select m.user_id from org_members m
                                     where m.org_id = o.id and m.user_id > $2
                                     order by m.user_id limit $3) first
    where o.id = $1 or (o.kind = 'grid' and o.parent_id = $1)
    order by first.user_id
    limit $3
),
m as materialized (
    select m.user_id, m.role, m.created_at, g.id as grid_id, g.name as grid_name
    from orgs o join org_members m on m.org_id = o.id
    left join orgs g on g.id = o.id and g.kind = 'grid'
    where (o.id = $1 or (o.kind = 'grid' and o.parent_id = $1)) and m.user_id in (select user_id from page)
)
select u.id, u.name, u.phone, u.active, u.closed_at is not null as closed,
       u.password_hash is not null as claimed,
       array_agg(distinct m.role order by m.role) as roles,
       min(m.grid_id) as grid_id, min(m.grid_name) as grid_name, min(m.created_at) as joined_at,
       (select coalesce(sum(balance - held), 0)::bigint from accounts a
         where a.user_id = u.id and a.kind = 'user' and a.unit = 'points') as points,
       (select coalesce(sum(balance - held), 0)::bigint from accounts a
         where a.user_id = u.id and a.kind = 'user' and a.unit = 'minutes') as minutes
from m cross join lateral (select * from users u where u.id = m.user_id offset 0) u
group by u.id, u.name, u.phone, u.active, u.closed_at, u.password_hash
order by u.id;

-- name: community_member
-- Person $2 as a member of community $1 (or its grids), with the columns of `community_members`; no
-- row when they are none.
select u.id, u.name, u.phone, u.active, u.closed_at is not null as closed,
       u.password_hash is not null as claimed,
       array_agg(distinct m.role order by m.role) as roles,
       min(g.id) as grid_id, min(g.name) as grid_name, min(m.created_at) as joined_at,
       (select coalesce(sum(balance - held), 0)::bigint from accounts a
         where a.user_id = u.id and a.kind = 'user' and a.unit = 'points') as points,
       (select coalesce(sum(balance - held), 0)::bigint from accounts a
         where a.user_id = u.id and a.kind = 'user' and a.unit = 'minutes') as minutes
from orgs o join org_members m on m.org_id = o.id
left join orgs g on g.id = o.id and g.kind = 'grid'
join users u on u.id = m.user_id
where (o.id = $1 or (o.kind = 'grid' and o.parent_id = $1)) and m.user_id = $2
group by u.id, u.name, u.phone, u.active, u.closed_at, u.password_hash;

-- name: put_member
-- Person $2 joins org $1 as $3, or takes role $3 there if they were a member already.
insert into org_members (org_id, user_id, role) values ($1, $2, $3)
on conflict (org_id, user_id) do update set role = excluded.role;

-- name: people_search
-- Anyone whose phone (when $2) or name holds $1, after id $3, at most $4, by id, with the ids and names
-- of their communities (a courier's through their grid).
select u.id, u.name, u.phone, u.active, u.closed_at is not null as closed, u.is_admin,
       coalesce(array_agg(distinct c.id) filter (where c.id is not null), '{}') as community_ids,
       coalesce(array_agg(distinct c.name) filter (where c.id is not null), '{}') as communities
from users u
left join org_members m on m.user_id = u.id
left join orgs o on o.id = m.org_id
left join orgs c on c.id = case when o.kind = 'grid' then o.parent_id else o.id end
where u.id > $3 and (case when $2 then u.phone like '%' || $1 || '%' else u.name ilike '%' || $1 || '%' end)
group by u.id order by u.id limit $4;

-- name: pending_join_request
-- The id of person $2's request to join community $1 that waits for a manager, if any.
select id from join_requests where community_id = $1 and user_id = $2 and state = 'pending';

-- name: join_requests_waiting
-- How many requests to join community $1 wait for a manager.
select count(*) from join_requests where community_id = $1 and state = 'pending';
