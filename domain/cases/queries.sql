-- name: case_with_names
-- A case with the names its page shows; the caller adds the where clause.
select k.*, r.name as reporter_name, c.name as community_name, g.name as grid_name,
       p.name as handler_name, p.kind as handler_kind, cat.name as category_name,
       cat.deadline_hours, cat.active as category_active,
       array(select ph.id from case_photos ph where ph.case_id = k.id order by ph.id) as photo_ids
from cases k
join users r on r.id = k.reporter_id
join orgs c on c.id = k.community_id
left join orgs g on g.id = k.grid_id
left join partners p on p.id = k.handler_id
left join case_categories cat on cat.id = k.category_id;

-- name: figures
-- A template: figures() fills {key}, {group} (the column grouped by) and {scope} (which cases) from
-- closed lists. One scan: a row per group and, through the empty grouping set, the total.
select {key} as key, grouping({key}) = 1 as is_total,
       count(*) filter (where k.state <> 'merged')::int as opened,
       count(*) filter (where k.state in ('done', 'rated'))::int as closed,
       count(*) filter (where k.state in ('done', 'rated') and k.closed_in_time)::int as closed_in_time,
       count(*) filter (where k.state in ('dispatched', 'accepted') and k.deadline < $4)::int as overdue_open,
       -- over intervals: extract(epoch ...) per row would be numeric arithmetic, 10 times slower
       extract(epoch from percentile_cont(0.5) within group (order by k.done_at - k.created_at)
               filter (where k.state in ('done', 'rated'))) / 3600.0 as median_hours,
       count(*) filter (where k.state = 'rated' and k.rating = 'satisfied')::int as satisfied,
       count(*) filter (where k.state = 'rated' and k.rating = 'fair')::int as fair,
       count(*) filter (where k.state = 'rated' and k.rating = 'unsatisfied')::int as unsatisfied
from cases k
where {scope} and k.created_at >= $2 and k.created_at < $3
group by grouping sets (({group}), ());
