-- The audit log is append-only.
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


create or replace function audit_log_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only' using errcode = 'integrity_constraint_violation';
end $$;

-- ---- triggers ----
drop trigger if exists audit_log_append_only on audit_log;
create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function audit_log_refuse_change();
drop trigger if exists audit_log_no_truncate on audit_log;
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_refuse_change();
