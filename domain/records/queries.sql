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
