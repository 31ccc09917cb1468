-- Postings and their snapshots are a public record: never rewritten. Appeals change once (answer).
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


-- Postings and their snapshots are a public record: never rewritten. Appeals change once (answer).
create or replace function rankings_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;

create or replace function posting_appeals_answer_once() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' or old.answered_at is not null
       or (new.id, new.posting_id, new.user_id, new.reason, new.created_at)
          is distinct from (old.id, old.posting_id, old.user_id, old.reason, old.created_at) then
        raise exception 'appeal % is answered once and never rewritten', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

-- ---- triggers ----
drop trigger if exists postings_append_only on postings;
create trigger postings_append_only before update or delete on postings
    for each row execute function rankings_refuse_change();
drop trigger if exists posting_entries_append_only on posting_entries;
create trigger posting_entries_append_only before update or delete on posting_entries
    for each row execute function rankings_refuse_change();
drop trigger if exists posting_appeals_answer_once on posting_appeals;
create trigger posting_appeals_answer_once before update or delete on posting_appeals
    for each row execute function posting_appeals_answer_once();
