-- A service's events are append-only.
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


create or replace function timebank_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;

-- ---- triggers ----
drop trigger if exists service_events_append_only on service_events;
create trigger service_events_append_only before update or delete on service_events
    for each row execute function timebank_refuse_change();
