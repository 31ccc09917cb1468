-- name: rule_items_of_causes
with wanted as (
    select 'checkin' as cause_type, t.id as cause_id, a.rule_item_id, null::bigint as transfer_id
      from attendances t
      join activities a on a.id = t.activity_id
     where t.id = any($1::bigint[]) and a.rule_item_id is not null
    union all
    select 'deduction', d.id, d.rule_item_id, null from deductions d where d.id = any($2::bigint[])
    union all
    select 'report', r.id, r.rule_item_id, null from reports r
     where r.id = any($3::bigint[]) and r.rule_item_id is not null
    union all
    select 'case', k.id, k.bonus_rule_item_id, k.bonus_transfer_id from cases k
     where k.id = any($4::bigint[]) and k.bonus_rule_item_id is not null)
select w.cause_type, w.cause_id, w.transfer_id, i.* , v.version, v.org_id, o.name as org_name from wanted w
  join rule_items i on i.id = w.rule_item_id join rulebook_versions v on v.id = i.version_id
  join orgs o on o.id = v.org_id;

-- name: nominated_by_household
select 1 from selection_candidates where selection_id = $1 and nominating_household = $2;
