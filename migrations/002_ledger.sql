-- The ledger: double-entry, append-only. Every movement is a transfer of a positive integer amount
-- of one unit from one account to another. The effects of a transfer on balances are applied by the
-- triggers below, and only by them, so no Python path can move value without the invariants:
--   * amount > 0, debit <> credit, both accounts in the transfer's unit;
--   * a user's (and a pool's) available balance (balance - held) is never negative (CHECK);
--   * posted transfers and entries are never updated or deleted (triggers refuse it);
--   * an account's balance is the sum of its entries, written in the same statement as the transfer;
--     balance, held and entries change only inside those triggers (guards below refuse direct writes);
--   * a transfer is reversed at most once (unique), applied once (idem_key unique); a reversal
--     mirrors a posted transfer that is not itself a reversal (trigger).
--
-- Issuing and supermarket accounts take part in nearly every award or redemption of a community.
-- A running balance on them would serialise every check-in of the community behind one row lock,
-- so they keep none: their balance is the sum of their entries, computed on read (ledger check).

create table accounts (
    id      bigint generated always as identity primary key,
    unit    text not null check (unit in ('points', 'minutes')),
    kind    text not null check (kind in ('user', 'issuing', 'pool', 'supermarket')),
    user_id bigint references users (id),
    org_id  bigint references orgs (id),
    balance bigint not null default 0,
    held    bigint not null default 0,
    check (held >= 0),
    check (kind not in ('user', 'pool') or balance - held >= 0),
    check (kind not in ('issuing', 'supermarket') or (balance = 0 and held = 0)),
    check ((kind = 'user') = (user_id is not null)),
    check ((kind = 'user') = (org_id is null)),
    check (kind <> 'pool' or unit = 'minutes'),
    check (kind <> 'supermarket' or unit = 'points')
);
create unique index accounts_user_unit on accounts (user_id, unit) where kind = 'user';
create unique index accounts_org_kind_unit on accounts (org_id, kind, unit) where kind <> 'user';

create table transfers (
    id             bigint generated always as identity primary key,
    unit           text not null check (unit in ('points', 'minutes')),
    debit_account  bigint not null references accounts (id),   -- value leaves this account
    credit_account bigint not null references accounts (id),   -- value arrives here
    amount         bigint not null check (amount > 0),        -- moved, or held while pending
    held_amount    bigint check (held_amount > 0),            -- set only on two-phase transfers
    kind           text not null check (kind in ('award', 'adjustment', 'reversal', 'redemption',
                                                 'service', 'gift', 'donation', 'expiry')),
    state          text not null check (state in ('posted', 'pending', 'voided', 'expired')),
    cause_type     text check (cause_type in ('activity', 'checkin', 'report', 'redemption', 'service',
                                              'adjustment', 'gift', 'donation', 'expiry', 'reversal')),
    cause_id       bigint,
    memo           text,                                      -- human label of the cause, frozen
    actor_id       bigint references users (id),
    reason         text,
    reverses       bigint unique references transfers (id),   -- a transfer is reversed at most once
    idem_key       text unique,
    expires_at     timestamptz,                               -- for holds the ledger sweeper voids
    created_at     timestamptz not null,
    resolved_at    timestamptz,                               -- when a hold was posted/voided/expired
    check (debit_account <> credit_account),
    check (held_amount is null or amount <= held_amount),
    check (state = 'posted' or held_amount is not null),
    check ((state = 'pending') = (held_amount is not null and resolved_at is null)),
    check ((reverses is null) = (kind <> 'reversal'))
);
create index transfers_pending_expiry on transfers (expires_at) where state = 'pending';
create index transfers_cause on transfers (cause_type, cause_id);
create index transfers_debit_pending on transfers (debit_account) where state = 'pending';

create table entries (
    id            bigint generated always as identity primary key,
    transfer_id   bigint not null references transfers (id),
    account_id    bigint not null references accounts (id),
    amount        bigint not null check (amount <> 0),       -- signed: + in, - out
    balance_after bigint,                                    -- null on accounts without a running balance
    created_at    timestamptz not null
);
create index entries_account on entries (account_id, id desc);
create index entries_transfer on entries (transfer_id);

create function ledger_write_entries(t transfers) returns void language plpgsql as $$
declare
    after_debit bigint;
    after_credit bigint;
    at timestamptz := coalesce(t.resolved_at, t.created_at);
begin
    update accounts set balance = balance - t.amount
     where id = t.debit_account and kind in ('user', 'pool') returning balance into after_debit;
    update accounts set balance = balance + t.amount
     where id = t.credit_account and kind in ('user', 'pool') returning balance into after_credit;
    insert into entries (transfer_id, account_id, amount, balance_after, created_at)
    values (t.id, t.debit_account, -t.amount, after_debit, at),
           (t.id, t.credit_account, t.amount, after_credit, at);
end $$;

create function ledger_apply() returns trigger language plpgsql as $$
declare
    debit_unit text;
    credit_unit text;
    debit_kind text;
begin
    if tg_op = 'INSERT' then
        select unit, kind into debit_unit, debit_kind from accounts where id = new.debit_account;
        select unit into credit_unit from accounts where id = new.credit_account;
        if debit_unit is distinct from new.unit or credit_unit is distinct from new.unit then
            raise exception 'transfer % mixes units', new.id using errcode = 'check_violation';
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
            if new.held_amount <> new.amount or debit_kind not in ('user', 'pool') then
                raise exception 'invalid hold %', new.id using errcode = 'check_violation';
            end if;
            update accounts set held = held + new.amount where id = new.debit_account;
        elsif new.state = 'posted' then
            perform ledger_write_entries(new);
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
        perform ledger_write_entries(new);
    end if;
    return new;
end $$;

create function ledger_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;

-- Balances, holds and entries are written only by the triggers above, which run one trigger level
-- deep (pg_trigger_depth() = 1), so their writes arrive here at depth 2. A direct statement arrives
-- at depth 1 and is refused: otherwise one careless UPDATE would make money no transfer explains.
create function ledger_guard_accounts() returns trigger language plpgsql as $$
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

create function ledger_guard_entries() returns trigger language plpgsql as $$
begin
    if pg_trigger_depth() < 2 then
        raise exception 'entries are written only by their transfer'
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

create trigger accounts_guard before insert or update on accounts
    for each row execute function ledger_guard_accounts();
create trigger entries_written_by_transfers before insert on entries
    for each row execute function ledger_guard_entries();
create trigger transfers_apply after insert or update on transfers
    for each row execute function ledger_apply();
create trigger transfers_no_delete before delete on transfers
    for each row execute function ledger_refuse_change();
create trigger transfers_no_truncate before truncate on transfers
    for each statement execute function ledger_refuse_change();
create trigger entries_append_only before update or delete on entries
    for each row execute function ledger_refuse_change();
create trigger entries_no_truncate before truncate on entries
    for each statement execute function ledger_refuse_change();

-- Replays of value-moving HTTP requests: the same key from the same user returns the first answer.
create table idempotency_keys (
    user_id      bigint not null references users (id),
    key          text not null check (length(key) between 1 and 200),
    request_hash text not null,
    status       integer,
    response     jsonb,
    created_at   timestamptz not null default now(),
    primary key (user_id, key)
);
