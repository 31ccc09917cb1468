-- name: top_activities
select a.id, a.title, a.starts_at,
       count(t.id) filter (where t.state <> 'annulled') as people,
       coalesce(sum(t.points) filter (where t.state <> 'annulled'), 0)::bigint as points,
       coalesce(sum(t.minutes) filter (where t.state <> 'annulled'), 0)::bigint as minutes
  from activities a left join attendances t on t.activity_id = a.id
 where a.community_id = $1 and a.starts_at >= $2 and a.starts_at <= $3
 group by a.id
having count(t.id) filter (where t.state <> 'annulled') > 0
 order by people desc, points desc, a.starts_at desc
 limit 5;

-- name: insert_posting_entries
insert into posting_entries (posting_id, position, rank, user_id, household_id, masked_name, amount)
values ($1, $2, $3, $4, $5, $6, $7);
