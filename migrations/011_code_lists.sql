-- The closed lists of audit acts and of logged scan refusals become tables instead of CHECK lists,
-- so a capability adds its own codes with one INSERT in its migration (no drop-and-recreate of a
-- shared constraint, which would silently lose another migration's additions). Python keeps the
-- same lists (domain/core/audit.py ACTS, domain/checkin/scans.py LOGGED_REASONS); a test compares
-- both sides.

create table audit_acts (act text primary key);
insert into audit_acts (act)
select unnest(array[
    'adjustment', 'reversal',
    'redemption_approve', 'redemption_reject', 'redemption_fulfil', 'redemption_on_the_spot',
    'checkin_annul', 'attendance_mark', 'activity_create', 'activity_edit', 'activity_publish',
    'activity_close',
    'role_grant', 'role_revoke',
    'member_add', 'member_edit', 'member_deactivate', 'member_reactivate',
    'team_create', 'team_member_add', 'household_edit',
    'stock_change', 'reward_create', 'reward_edit',
    'report_verify', 'report_reject', 'report_settings',
    'service_confirm', 'service_cancel', 'service_proxy', 'family_link_approve',
    'org_create', 'org_edit',
    'posting_publish', 'appeal_answer', 'expiry_policy',
    'account_close']);
alter table audit_log drop constraint audit_log_act_check;
alter table audit_log add constraint audit_log_act_known foreign key (act) references audit_acts (act);

create table scan_refusal_reasons (reason text primary key);
insert into scan_refusal_reasons (reason)
select unnest(array[
    'code_unknown', 'code_expired', 'code_revoked', 'outside_window', 'capacity_full', 'not_published',
    'not_member', 'too_far', 'daily_cap_reached', 'invalid_state', 'already_used', 'forbidden',
    'validation_failed', 'insufficient_balance', 'out_of_stock', 'limit_reached', 'rate_limited']);
alter table failed_scans drop constraint failed_scans_reason_check;
alter table failed_scans add constraint failed_scans_reason_known
    foreign key (reason) references scan_refusal_reasons (reason);
