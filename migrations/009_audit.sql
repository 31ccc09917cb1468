-- The audit trail: one append-only row per manager or admin act that changes anything, written by
-- domain/audit.py in the same transaction as the act (a failed act leaves no row, a committed act
-- always has one).
--
-- Rows hold ids and small before/after summaries, never phone numbers or passwords: closing an
-- account pseudonymises the person in `users`, and the audit log (which cannot be edited) must not
-- keep what was erased. Names are joined from `users` when the log is read.
--
-- Who can change a row: nobody through the app, and not the app's database role either.
--   * REVOKE below takes UPDATE/DELETE/TRUNCATE away from PUBLIC and from the role running the
--     migrations. That binds a role that does not own the table; the app's role usually OWNS it
--     (it runs the migrations), and an owner can grant itself the privileges back, and a superuser
--     ignores privileges altogether. So REVOKE is a second line only.
--   * The triggers are the real guard: they refuse UPDATE, DELETE and TRUNCATE for every role,
--     owner and superuser included. Only someone who can ALTER the table (disable the trigger) or
--     run with session_replication_role = replica can get past them; a deployment that wants that
--     closed too runs migrations as a separate owner role and gives the app role DML rights only.

create table audit_log (
    id           bigint generated always as identity primary key,
    actor_id     bigint references users (id),            -- null: the system (a sweeper)
    act          text not null,
    community_id bigint references orgs (id),             -- null: platform-wide acts (admins see them)
    target_type  text not null check (length(target_type) between 1 and 40),
    target_id    bigint,
    before       jsonb,
    after        jsonb,
    reason       text check (length(reason) <= 500),
    ip           text check (length(ip) <= 64),
    created_at   timestamptz not null,
    -- The closed list of acts; mirrors domain/audit.py ACTS. To add one, a later migration drops and
    -- re-creates this named constraint with the longer list.
    constraint audit_log_act_check check (act in (
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
        'account_close'))
);
create index audit_log_community on audit_log (community_id, id desc);
create index audit_log_actor on audit_log (actor_id, id desc);
create index audit_log_target on audit_log (target_type, target_id, id desc);
create index audit_log_created on audit_log (created_at);

create function audit_log_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only' using errcode = 'integrity_constraint_violation';
end $$;

create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function audit_log_refuse_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_refuse_change();

revoke update, delete, truncate on audit_log from public;
revoke update, delete, truncate on audit_log from current_user;
