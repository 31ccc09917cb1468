-- The ledger's own writes: a transfer's insert (or the resolution of its hold) writes its two entries and moves the balances; nothing else may write them.
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


create or replace function ledger_sides(t transfers, out debit ledger_side, out credit ledger_side)
language plpgsql as $$
declare
    debits ledger_side[];
    credits ledger_side[];
begin
    select array_agg(row(a.unit, a.kind, a.user_id, a.org_id)::ledger_side) filter (where a.id = t.debit_account),
           array_agg(row(a.unit, a.kind, a.user_id, a.org_id)::ledger_side) filter (where a.id = t.credit_account)
      into debits, credits
      from accounts a where a.id in (t.debit_account, t.credit_account);
    debit := debits[1];
    credit := credits[1];
end $$;

create or replace function ledger_write_entries(t transfers, debit ledger_side, credit ledger_side) returns void
language plpgsql as $$
declare
    after_debit bigint;
    after_credit bigint;
    at timestamptz := coalesce(t.resolved_at, t.created_at);
    earned_at timestamptz := at;
begin
    if debit.kind in ('user', 'pool') then
        update accounts set balance = balance - t.amount where id = t.debit_account returning balance into after_debit;
    end if;
    if credit.kind in ('user', 'pool') then
        update accounts set balance = balance + t.amount where id = t.credit_account returning balance into after_credit;
    end if;
    insert into entries (transfer_id, account_id, amount, balance_after, created_at)
    values (t.id, t.debit_account, -t.amount, after_debit, at),
           (t.id, t.credit_account, t.amount, after_credit, at);
    -- Earning: an award, an adjustment, or the reversal of one, between a person and an issuing
    -- account, counts on the day of what it earned (a reversal: the day of what it reverses).
    if t.kind not in ('award', 'adjustment', 'reversal')
       or not ((credit.kind = 'user' and debit.kind = 'issuing') or (debit.kind = 'user' and credit.kind = 'issuing')) then
        return;
    end if;
    if t.kind = 'reversal' then
        select coalesce(r.resolved_at, r.created_at) into earned_at
          from transfers r where r.id = t.reverses and r.kind in ('award', 'adjustment');
        if not found then
            return;
        end if;
    end if;
    if credit.kind = 'user' then
        perform earned_add(credit.user_id, debit.org_id, t.unit, earned_at, t.amount);
    else
        perform earned_add(debit.user_id, credit.org_id, t.unit, earned_at, -t.amount);
    end if;
end $$;

-- The one INSERT of a transfer: domain/ledger's `post` / `hold` (after their checks, with the accounts
-- locked) and the scans' one-call writes (checkin_award) both write value through it, so a transfer
-- has one shape whoever moves it. A taken idem_key inserts nothing and returns no row (the caller
-- replays). Balances, entries and settlements follow from the triggers below.
create or replace function ledger_insert_transfer(
    p_unit text, p_debit bigint, p_credit bigint, p_amount bigint, p_kind text, p_state text,
    p_held_amount bigint default null, p_cause_type text default null, p_cause_id bigint default null,
    p_memo text default null, p_actor bigint default null, p_reason text default null,
    p_reverses bigint default null, p_key text default null, p_expires_at timestamptz default null,
    p_at timestamptz default now())
returns setof transfers language plpgsql as $$
begin
    return query
    insert into transfers (unit, debit_account, credit_account, amount, held_amount, kind, state,
                           cause_type, cause_id, memo, actor_id, reason, reverses, idem_key, expires_at, created_at)
    values (p_unit, p_debit, p_credit, p_amount, p_held_amount, p_kind, p_state,
            p_cause_type, p_cause_id, p_memo, p_actor, p_reason, p_reverses, p_key, p_expires_at, p_at)
    on conflict (idem_key) do nothing
    returning *;
end $$;

-- A transfer inserted (posted or held) writes its entries; a held one resolved (posted or voided) moves
-- its hold. Both accounts are read in one query (ledger_sides); a missing account is refused here, as
-- the hot path keeps no foreign keys on the ledger's rows.
create or replace function ledger_apply() returns trigger language plpgsql as $$
declare
    sides record;
begin
    if tg_op = 'INSERT' then
        sides := ledger_sides(new);
        if (sides.debit).unit is null or (sides.credit).unit is null then
            raise exception 'transfer % names an account that does not exist', new.id
                using errcode = 'foreign_key_violation';
        end if;
        if (sides.debit).unit <> new.unit or (sides.credit).unit <> new.unit then
            raise exception 'transfer % mixes units', new.id using errcode = 'check_violation';
        end if;
        -- Nobody pays themself (domain/ledger refuse_self_payment, the same kinds as its PAYING_KINDS):
        -- the guard for every writer, also the scans' one-call writes of migrations/022, which do
        -- not pass through domain/ledger's own check.
        if new.state = 'posted' and new.kind in ('adjustment', 'award', 'service', 'reversal')
           and new.actor_id is not null and new.actor_id = (sides.credit).user_id then
            raise exception 'transfer % pays its own actor', new.id
                using errcode = 'check_violation', constraint = 'self_payment';
        end if;
        if new.reverses is not null then
            -- A reversal puts back exactly what a posted transfer moved. Reversing a reversal would
            -- let a correction be undone and redone without end: make a new transfer instead.
            perform 1 from transfers o
             where o.id = new.reverses and o.state = 'posted' and o.kind <> 'reversal'
               and o.unit = new.unit and o.amount = new.amount
               and o.debit_account = new.credit_account and o.credit_account = new.debit_account;
            if not found or new.state <> 'posted' then
                raise exception 'transfer % does not mirror the posted transfer %', new.id, new.reverses
                    using errcode = 'check_violation';
            end if;
        end if;
        if new.state = 'pending' then
            if new.held_amount <> new.amount or (sides.debit).kind not in ('user', 'pool') then
                raise exception 'invalid hold %', new.id using errcode = 'check_violation';
            end if;
            update accounts set held = held + new.amount where id = new.debit_account;
        elsif new.state = 'posted' then
            perform ledger_write_entries(new, sides.debit, sides.credit);
        else
            raise exception 'a transfer starts posted or pending' using errcode = 'check_violation';
        end if;
        return new;
    end if;
    -- UPDATE: the only change ever allowed is resolving a pending hold, once.
    if old.state <> 'pending' or new.state = 'pending'
       or (new.id, new.unit, new.debit_account, new.credit_account, new.held_amount, new.kind,
           new.cause_type, new.cause_id, new.memo, new.actor_id, new.reason, new.reverses, new.idem_key,
           new.expires_at, new.created_at)
          is distinct from
          (old.id, old.unit, old.debit_account, old.credit_account, old.held_amount, old.kind,
           old.cause_type, old.cause_id, old.memo, old.actor_id, old.reason, old.reverses, old.idem_key,
           old.expires_at, old.created_at)
       or (new.state <> 'posted' and new.amount <> old.amount) then
        raise exception 'transfer % is immutable except to resolve its hold', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    update accounts set held = held - old.amount where id = old.debit_account;
    if new.state = 'posted' then
        sides := ledger_sides(new);
        perform ledger_write_entries(new, sides.debit, sides.credit);
    end if;
    return new;
end $$;

create or replace function ledger_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;

-- Balances, holds and entries are written only by the triggers above, which run one trigger level
-- deep (pg_trigger_depth() = 1), so their writes arrive here at depth 2. A direct statement arrives
-- at depth 1 and is refused: otherwise one careless UPDATE would make money no transfer explains.
create or replace function ledger_guard_accounts() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        if new.balance <> 0 or new.held <> 0 then
            raise exception 'an account opens empty' using errcode = 'check_violation';
        end if;
        return new;
    end if;
    if (new.id, new.unit, new.kind, new.user_id, new.org_id)
       is distinct from (old.id, old.unit, old.kind, old.user_id, old.org_id) then
        raise exception 'account % cannot change what it is', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    if (new.balance, new.held) is distinct from (old.balance, old.held) and pg_trigger_depth() < 2 then
        raise exception 'account % changes only through transfers', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

create or replace function ledger_guard_entries() returns trigger language plpgsql as $$
begin
    if pg_trigger_depth() < 2 then
        raise exception 'entries are written only by their transfer'
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

-- ---- triggers ----
drop trigger if exists accounts_guard on accounts;
create trigger accounts_guard before insert or update on accounts
    for each row execute function ledger_guard_accounts();
drop trigger if exists accounts_no_delete on accounts;
create trigger accounts_no_delete before delete on accounts
    for each row execute function ledger_refuse_change();
drop trigger if exists accounts_no_truncate on accounts;
create trigger accounts_no_truncate before truncate on accounts
    for each statement execute function ledger_refuse_change();
drop trigger if exists entries_written_by_transfers on entries;
create trigger entries_written_by_transfers before insert on entries
    for each row execute function ledger_guard_entries();
drop trigger if exists entries_append_only on entries;
create trigger entries_append_only before update or delete on entries
    for each row execute function ledger_refuse_change();
drop trigger if exists entries_no_truncate on entries;
create trigger entries_no_truncate before truncate on entries
    for each statement execute function ledger_refuse_change();
drop trigger if exists transfers_apply on transfers;
create trigger transfers_apply after insert or update on transfers
    for each row execute function ledger_apply();
drop trigger if exists transfers_no_delete on transfers;
create trigger transfers_no_delete before delete on transfers
    for each row execute function ledger_refuse_change();
drop trigger if exists transfers_no_truncate on transfers;
create trigger transfers_no_truncate before truncate on transfers
    for each statement execute function ledger_refuse_change();
