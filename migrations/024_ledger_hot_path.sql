-- Fewer row triggers and no locks on hot rows when a transfer is posted (issue 24).
--
-- A posted award used to run, besides its own ledger_apply trigger: four foreign-key checks (the
-- transfer's two accounts, each entry's transfer and account), each a query taking a KEY SHARE
-- lock, and an AFTER INSERT trigger on the person's entry (earned_track) that read the transfer and
-- both accounts again. The foreign-key checks locked the community's issuing account, the one row
-- every award of the community names: concurrent awards shared that lock, which PostgreSQL keeps in
-- a multixact rebuilt by each newcomer (the ledger's design keeps hot accounts unlocked on purpose,
-- migrations/002; the foreign keys locked them anyway).
--
-- Every invariant stays with the database, moved to where the work already is:
-- * a transfer names existing accounts: ledger_apply reads both accounts of every new transfer (for
--   their units) and refuses a missing one with foreign_key_violation; accounts are never deleted
--   or truncated (triggers below), so an account a transfer names stays;
-- * an entry names its transfer and that transfer's account: entries are written only by
--   ledger_write_entries from the transfer row itself (the entries_written_by_transfers guard refuses
--   any other writer), and transfers are never deleted;
-- * earned_daily follows the earning entries: ledger_write_entries adds to it in the same statement,
--   with the rule earned_track had (and earned_rebuild, migrations/008, still has for a rebuild).
-- tests/ledger/test_ledger_hot_path.py breaks each of these and expects the refusal.

create trigger accounts_no_delete before delete on accounts
    for each row execute function ledger_refuse_change();
create trigger accounts_no_truncate before truncate on accounts
    for each statement execute function ledger_refuse_change();

alter table entries drop constraint entries_transfer_id_fkey, drop constraint entries_account_id_fkey;
alter table transfers drop constraint transfers_debit_account_fkey, drop constraint transfers_credit_account_fkey;

drop trigger entries_track_earned on entries;
drop function earned_track();

-- Earned value of a person from an issuing account: `user_id` earned `amount` (signed) of `unit`
-- issued by `community_id`, on the local day of `earned_at`. The time zone is read by the insert
-- itself, which first locks earned_daily: a rebuild for a new time zone (holding it exclusively)
-- makes this wait, then the new zone is read.
create function earned_add(p_user bigint, p_community bigint, p_unit text, p_earned_at timestamptz, p_amount bigint)
returns void language plpgsql as $$
begin
    insert into earned_daily (user_id, community_id, unit, day, earned)
    values (p_user, p_community, p_unit, (p_earned_at at time zone (select tz from ranking_settings))::date, p_amount)
    on conflict (community_id, unit, day, user_id)
    do update set earned = earned_daily.earned + excluded.earned;
end $$;

-- The two accounts of a transfer as ledger_apply reads them, once, for both its checks and the entries.
create type ledger_side as (unit text, kind text, user_id bigint, org_id bigint);

create function ledger_sides(t transfers, out debit ledger_side, out credit ledger_side)
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

-- As migrations/002, with the accounts already read: only running balances are updated (the
-- issuing side of an award is not even looked up again), and the earned summary is added here.
drop function ledger_write_entries(transfers);
create function ledger_write_entries(t transfers, debit ledger_side, credit ledger_side) returns void
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

-- As migrations/002, with both accounts read in one query, a missing account refused (the foreign
-- keys' work), and what was read handed to ledger_write_entries. Unchanged otherwise.
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
