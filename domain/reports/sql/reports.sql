-- A review is final: only a pending report may change, and only its review columns.
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


-- A review is final: only a pending report may change, and only its review columns.
create or replace function reports_review_once() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'reports are never deleted' using errcode = 'integrity_constraint_violation';
    end if;
    if old.state <> 'pending'
       or (new.id, new.courier_id, new.grid_id, new.community_id, new.kind, new.text, new.place, new.lat,
           new.lng, new.has_photo, new.client_key, new.created_at)
          is distinct from
          (old.id, old.courier_id, old.grid_id, old.community_id, old.kind, old.text, old.place, old.lat,
           old.lng, old.has_photo, old.client_key, old.created_at) then
        raise exception 'report % was already reviewed or is immutable', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

-- ---- triggers ----
drop trigger if exists reports_review_once on reports;
create trigger reports_review_once before update or delete on reports
    for each row execute function reports_review_once();
