-- The long or shared statements of people, orgs and joining (domain/core/queries.py).

-- name: manages_a_community_under
-- Whether any of the orgs $2 (an actor's managed orgs) is a direct child of $1 (a street's communities).
select exists (select 1 from orgs c where c.parent_id = $1 and c.id = any($2::bigint[]));
