-- The points supermarket's backstops: stock changes chained and recorded, the redemption state
-- machine logged. (The monthly limit per person is decided in Python only: domain/supermarket.)
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


-- A change must start from the stock the previous change left (callers hold the reward's row lock).
create or replace function reward_stock_chain() returns trigger language plpgsql as $$
declare
    before_stock integer;
begin
    select stock_after into before_stock from reward_stock_changes
     where reward_id = new.reward_id order by id desc limit 1;
    if coalesce(before_stock, 0) + new.delta <> new.stock_after then
        raise exception 'stock change of reward % does not follow the previous one', new.reward_id
            using errcode = 'check_violation';
    end if;
    return new;
end $$;

-- Checked at commit: the reward's stock is what its last recorded change says.
create or replace function reward_stock_recorded() returns trigger language plpgsql as $$
declare
    current_stock integer;
    recorded integer;
begin
    select stock into current_stock from rewards where id = new.id;
    select stock_after into recorded from reward_stock_changes where reward_id = new.id order by id desc limit 1;
    if current_stock is distinct from coalesce(recorded, 0) then
        raise exception 'stock of reward % changed without a recorded reason', new.id
            using errcode = 'check_violation';
    end if;
    return null;
end $$;

-- The state machine and the event log. A backstop: domain/supermarket/rules.py (TRANSITIONS) decides
-- every move first and answers with its own error; this refuses the same moves from any other writer
-- (tests/supermarket/test_one_side.py checks both against one table of cases).
create or replace function redemption_state_log() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        if not (new.state = 'requested' or (new.state = 'fulfilled' and new.on_the_spot)) then
            raise exception 'a redemption starts requested (or fulfilled, on the spot)'
                using errcode = 'check_violation';
        end if;
    else
        if new.state = old.state then
            return null;
        end if;
        if not ((old.state = 'requested' and new.state in ('approved', 'rejected', 'cancelled', 'expired'))
                or (old.state = 'approved' and new.state in ('fulfilled', 'expired'))) then
            raise exception 'redemption % cannot go from % to %', old.id, old.state, new.state
                using errcode = 'check_violation';
        end if;
    end if;
    insert into redemption_events (redemption_id, from_state, to_state, actor_id, reason, created_at)
    values (new.id, case when tg_op = 'UPDATE' then old.state end, new.state, new.state_changed_by,
            case when new.state in ('rejected', 'expired') then new.reason end, new.state_changed_at);
    return null;
end $$;

-- ---- triggers ----
drop trigger if exists reward_stock_changes_chain on reward_stock_changes;
create trigger reward_stock_changes_chain before insert on reward_stock_changes
    for each row execute function reward_stock_chain();
drop trigger if exists reward_stock_changes_append_only on reward_stock_changes;
create trigger reward_stock_changes_append_only before update or delete on reward_stock_changes
    for each row execute function ledger_refuse_change();
drop trigger if exists reward_stock_changes_no_truncate on reward_stock_changes;
create trigger reward_stock_changes_no_truncate before truncate on reward_stock_changes
    for each statement execute function ledger_refuse_change();
drop trigger if exists rewards_stock_recorded on rewards;
create constraint trigger rewards_stock_recorded after insert or update of stock on rewards
    deferrable initially deferred for each row execute function reward_stock_recorded();
drop trigger if exists redemptions_state_log on redemptions;
create trigger redemptions_state_log after insert or update of state on redemptions
    for each row execute function redemption_state_log();
drop trigger if exists redemption_events_append_only on redemption_events;
create trigger redemption_events_append_only before update or delete on redemption_events
    for each row execute function ledger_refuse_change();
drop trigger if exists redemption_events_no_truncate on redemption_events;
create trigger redemption_events_no_truncate before truncate on redemption_events
    for each statement execute function ledger_refuse_change();
