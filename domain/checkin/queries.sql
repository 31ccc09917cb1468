-- The long or shared statements of activities, sign-ups and check-ins (domain/core/queries.py).
-- Not the database's functions: those are domain/checkin/sql/*.sql.

-- name: signup_counts
-- Activity $1's confirmed and waiting sign-ups, person $2's own (confirmed, waiting or null) and,
-- while they wait, their 1-based place in the queue.
select count(*) filter (where state = 'confirmed') as confirmed,
       count(*) filter (where state = 'waiting') as waiting,
       max(state) filter (where user_id = $2 and state <> 'cancelled') as mine,
       (select count(*) + 1 from activity_signups w
         where w.activity_id = $1 and w.state = 'waiting'
           and w.queue_order < (select queue_order from activity_signups
                                 where activity_id = $1 and user_id = $2 and state = 'waiting')) as position
from activity_signups where activity_id = $1;

-- name: my_activities
-- Person $1's activities they signed up for (not cancelled) or attended: ending after $2, soonest
-- first, when $3 (upcoming); else those over by $2, latest first. At most 100, with the minutes and
-- points each gave them.
with mine as (
    select activity_id from activity_signups where user_id = $1 and state <> 'cancelled'
    union select activity_id from attendances where user_id = $1)
select a.id, a.title, o.name as community_name, a.place, a.starts_at, a.ends_at,
       (select s.state from activity_signups s where s.activity_id = a.id and s.user_id = $1
          and s.state <> 'cancelled') as signup,
       coalesce((select sum(t.minutes) from attendances t where t.activity_id = a.id and t.user_id = $1
                   and t.state = 'done'), 0)::int as minutes,
       coalesce((select sum(t.points) from attendances t where t.activity_id = a.id and t.user_id = $1
                   and t.state = 'done'), 0)::int as points
from mine join activities a on a.id = mine.activity_id join orgs o on o.id = a.community_id
where case when $3 then a.ends_at > $2 else a.ends_at <= $2 end
order by case when $3 then a.starts_at end, a.starts_at desc limit 100;
