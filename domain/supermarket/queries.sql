-- name: made_and_credited_by
select exists (select 1 from audit_log where target_type = 'user' and target_id = $2
              and act = 'member_create' and actor_id = $1)
and (exists (select 1 from accounts a join entries e on e.account_id = a.id
               join transfers t on t.id = e.transfer_id
             where a.user_id = $2 and e.amount > 0 and t.actor_id = $1)
     or exists (select 1 from attendances where user_id = $2 and recorded_by = $1)
     or exists (select 1 from adjustment_requests where user_id = $2 and requested_by = $1)
     or exists (select 1 from held_acts where maker_id = $1
                  and (subject_id = $2 or payload->'user_ids' @> to_jsonb($2::bigint))));
