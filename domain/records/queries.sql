-- name: requirements_of
select a.requires_training, a.requires_insurance,
       a.requires_training is null or exists (
           select 1 from training_attendance ta join trainings t on t.id = ta.training_id
           where ta.user_id = $2 and t.community_id = a.community_id and t.topic = a.requires_training
             and t.held_on <= $3) as trained,
       not a.requires_insurance or exists (
           select 1 from insurance_policies p
           where (p.user_id = $2 or p.activity_id = a.id) and p.starts_on <= $3 and p.ends_on >= $3) as insured
from activities a where a.id = $1;

-- The export of the five §19 groups (domain/records/export.py). Each row is keyed by the volunteer
-- number, else the key a restore kept (record_key), else one Linli makes: 'LL' and the user id
-- (export.LINLI_KEY_PREFIX). $1 is the communities; $2, $3 the first and last local day of the period.

-- name: export_people
-- The members of the communities $1 whose accounts are open, one row a community, joined on the local
-- day (zone $2) of their first membership there.
select coalesce(i.volunteer_number, i.record_key, 'LL' || u.id::text) as volunteer_key, u.name, u.phone,
       i.id_number_masked as id_number, i.birth_date, d.name as district, s.name as street, c.name as community,
       (min(m.created_at) at time zone $2::text)::date as joined_on
from org_members m join orgs g on g.id = m.org_id
join orgs c on c.id = case when g.kind = 'grid' then g.parent_id else g.id end
join orgs s on s.id = c.parent_id join orgs d on d.id = s.parent_id
join users u on u.id = m.user_id left join identities i on i.user_id = u.id
where c.id = any($1) and u.closed_at is null
group by 1, u.id, u.name, u.phone, i.id_number_masked, i.birth_date, d.name, s.name, c.name;

-- name: export_service
-- The service done: attendances checked in on a local day (zone $4) of the period, and the history a
-- community brought from paper.
select coalesce(i.volunteer_number, i.record_key, 'LL' || u.id::text) as volunteer_key, c.name as community,
       (t.checked_in_at at time zone $4::text)::date as served_on, a.title, t.minutes
from attendances t join activities a on a.id = t.activity_id join orgs c on c.id = a.community_id
join users u on u.id = t.user_id left join identities i on i.user_id = u.id
where a.community_id = any($1) and t.state = 'done'
  and (t.checked_in_at at time zone $4::text)::date between $2 and $3
union all
select coalesce(i.volunteer_number, i.record_key, 'LL' || u.id::text), c.name, h.served_on, h.title, h.minutes
from service_history h join orgs c on c.id = h.community_id join users u on u.id = h.user_id
left join identities i on i.user_id = u.id
where h.community_id = any($1) and h.served_on between $2 and $3;

-- name: export_training
select coalesce(i.volunteer_number, i.record_key, 'LL' || u.id::text) as volunteer_key, c.name as community,
       t.held_on, t.title, t.topic, t.minutes
from training_attendance ta join trainings t on t.id = ta.training_id join orgs c on c.id = t.community_id
join users u on u.id = ta.user_id left join identities i on i.user_id = u.id
where t.community_id = any($1) and t.held_on between $2 and $3;

-- name: export_commendations
select coalesce(i.volunteer_number, i.record_key, 'LL' || u.id::text) as volunteer_key, c.name as community,
       k.awarded_on, k.title, k.note
from commendations k join orgs c on c.id = k.community_id join users u on u.id = k.user_id
left join identities i on i.user_id = u.id
where k.community_id = any($1) and k.awarded_on between $2 and $3;

-- name: export_evaluations
select coalesce(i.volunteer_number, i.record_key, 'LL' || u.id::text) as volunteer_key, c.name as community,
       e.evaluated_on, e.activity_title, e.rating, e.comment
from evaluations e join orgs c on c.id = e.community_id join users u on u.id = e.user_id
left join identities i on i.user_id = u.id
where e.community_id = any($1) and e.evaluated_on between $2 and $3;
