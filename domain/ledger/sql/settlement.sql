-- Settlement between communities: every transfer that spends value issued by another community records what one owes the other (docs/cross-community.md).
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


create or replace function settlement_write() returns trigger language plpgsql as $$
declare
    d record;
    c record;
    original record;
    at timestamptz := coalesce(new.resolved_at, new.created_at);
begin
    if new.kind = 'reversal' then
        select issuer_id, spender_id into original from settlements where transfer_id = new.reverses;
        if found then
            insert into settlements (transfer_id, unit, issuer_id, spender_id, amount, settled_at)
            values (new.id, new.unit, original.issuer_id, original.spender_id, -new.amount, at);
        end if;
        return null;
    end if;
    select kind, org_id into d from accounts where id = new.debit_account;
    select kind, org_id into c from accounts where id = new.credit_account;
    if d.kind = 'user' and c.kind in ('user', 'supermarket', 'pool') and d.org_id <> c.org_id then
        insert into settlements (transfer_id, unit, issuer_id, spender_id, amount, settled_at)
        values (new.id, new.unit, d.org_id, c.org_id, new.amount, at);
    end if;
    return null;
end $$;

create or replace function settlement_guard() returns trigger language plpgsql as $$
begin
    if pg_trigger_depth() < 2 then
        raise exception 'settlements are written only by their transfer'
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

-- ---- triggers ----
-- Only spending kinds can cross communities (awards, adjustments and expiry stay in the issuer's
-- accounts, gifts keep the issuer, carry-overs move between one person's accounts): the WHEN clause
-- keeps check-ins free of this trigger.
drop trigger if exists transfers_settle_insert on transfers;
create trigger transfers_settle_insert after insert on transfers
    for each row when (new.state = 'posted' and new.kind in ('redemption', 'service', 'donation', 'reversal'))
    execute function settlement_write();
drop trigger if exists transfers_settle_post on transfers;
create trigger transfers_settle_post after update on transfers
    for each row when (old.state = 'pending' and new.state = 'posted'
                       and new.kind in ('redemption', 'service', 'donation'))
    execute function settlement_write();
drop trigger if exists settlements_written_by_transfers on settlements;
create trigger settlements_written_by_transfers before insert on settlements
    for each row execute function settlement_guard();
drop trigger if exists settlements_append_only on settlements;
create trigger settlements_append_only before update or delete on settlements
    for each row execute function ledger_refuse_change();
drop trigger if exists settlements_no_truncate on settlements;
create trigger settlements_no_truncate before truncate on settlements
    for each statement execute function ledger_refuse_change();
drop trigger if exists area_policies_append_only on area_policies;
create trigger area_policies_append_only before update or delete on area_policies
    for each row execute function ledger_refuse_change();
