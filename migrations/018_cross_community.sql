-- Earn anywhere, spend anywhere (通存通兑): points and minutes carry the community that issued them,
-- a street or district may make its communities one spending area, and every spend that crosses
-- communities leaves a settlement row. Design note: docs/cross-community.md.
--
-- 1. A person's wallet is one account per unit AND issuing community (kind 'user', org_id = the
--    community whose issuing account, pool or service created the value). The wallet is their sum.
--    Every credit lands in the sub-account of the community that issues it; a spend draws from
--    sub-accounts in the order documented in domain/ledger/__init__.py (`spend`). The existing CHECK
--    (balance - held >= 0) now holds per sub-account, so no community's points can cover another's.
-- 2. Existing wallets (org_id null) are carried over: each becomes the sub-account of the community
--    that issued most of its balance, and the shares issued by other communities move to their own
--    sub-accounts by 'carryover' transfers (double-entry, visible in the statement).
-- 3. area_policies: per street or district and unit, whether its communities form one spending area
--    from a date on (history kept; the row with the latest start on or before a day rules that day).
-- 4. settlements: one row per posted transfer that moves value issued in community A to community B
--    (a spend, a service paid across communities, a donation) and one negative row per reversal of
--    such a transfer, written by a trigger in the same statement. Append-only, insert-only: many
--    communities settle at once without sharing a row.

-- ---- 1. accounts per issuing community ------------------------------------------------------------

alter table transfers drop constraint transfers_kind_check;
alter table transfers add constraint transfers_kind_check check (kind in (
    'award', 'adjustment', 'reversal', 'redemption', 'service', 'gift', 'donation', 'expiry', 'carryover'));
alter table transfers drop constraint transfers_cause_type_check;
alter table transfers add constraint transfers_cause_type_check check (cause_type in (
    'activity', 'checkin', 'report', 'redemption', 'service', 'adjustment', 'gift', 'donation', 'expiry',
    'reversal', 'carryover'));

do $$
declare
    name text;
begin
    select c.conname into name from pg_constraint c
     where c.conrelid = 'accounts'::regclass and c.contype = 'c'
       and pg_get_constraintdef(c.oid) like '%(kind = ''user''::text) = (org_id IS NULL)%';
    execute format('alter table accounts drop constraint %I', name);
end $$;

drop index accounts_user_unit;
create unique index accounts_user_unit_org on accounts (user_id, unit, org_id) where kind = 'user';
-- Spending reads and locks all of one person's sub-accounts of a unit.
create index accounts_user_unit on accounts (user_id, unit) where kind = 'user';

-- ---- 2. carry existing wallets over -----------------------------------------------------------------

-- The community an entry's value came from (credits) or went to (debits): the counterparty's
-- community (issuing, pool, supermarket); for a service paid person to person, the request's
-- community; for a gift, the giver's (or receiver's) first community.
create temporary table carry_shares on commit drop as
with legacy as (
    select id from accounts where kind = 'user' and org_id is null),
moved as (
    select l.id as account_id, e.amount, o.org_id as other_org, o.user_id as other_user,
           t.cause_type, t.cause_id
      from legacy l
      join entries e on e.account_id = l.id
      join transfers t on t.id = e.transfer_id
      join accounts o on o.id = case when t.debit_account = l.id then t.credit_account else t.debit_account end)
select account_id,
       coalesce(other_org,
                case when cause_type = 'service'
                     then (select r.community_id from service_requests r where r.id = cause_id) end,
                (select min(case when g.kind = 'grid' then g.parent_id else g.id end)
                   from org_members m join orgs g on g.id = m.org_id where m.user_id = other_user)) as community_id,
       sum(amount)::bigint as share
  from moved group by 1, 2;

-- Transfers before this migration moved value between wallets that named no community: the new
-- invariants of `linli ledger check` (domain/ledger/check.py) hold from the first transfer after.
create table ledger_epochs (
    name              text primary key,
    first_transfer_id bigint not null
);
insert into ledger_epochs (name, first_transfer_id)
select 'cross_community', coalesce(max(id), 0) + 1 from transfers;

create temporary table carry_legacy on commit drop as
select a.id, a.user_id, a.unit, a.balance, a.held, null::bigint as home,
       exists (select 1 from transfers t where a.id in (t.debit_account, t.credit_account)) as used
  from accounts a where a.kind = 'user' and a.org_id is null;

do $$
declare
    acc record;
    s record;
    deficit bigint;
    found_home bigint;
    take bigint;
begin
    for acc in select * from carry_legacy where used order by id loop
        -- Debits beyond what a community issued (spent elsewhere before this migration) are taken
        -- from the other shares in community-id order, the spending order of the new model.
        select coalesce(-sum(share), 0) into deficit from carry_shares where account_id = acc.id and share < 0;
        update carry_shares set share = 0 where account_id = acc.id and share < 0;
        for s in select community_id, share from carry_shares
                  where account_id = acc.id and share > 0 order by community_id nulls last loop
            exit when deficit = 0;
            take := least(deficit, s.share);
            update carry_shares set share = share - take
             where account_id = acc.id and community_id is not distinct from s.community_id;
            deficit := deficit - take;
        end loop;
        select community_id into found_home from carry_shares
         where account_id = acc.id and community_id is not null order by share desc, community_id limit 1;
        if found_home is null then
            select min(case when g.kind = 'grid' then g.parent_id else g.id end) into found_home
              from org_members m join orgs g on g.id = m.org_id where m.user_id = acc.user_id;
        end if;
        if found_home is null then
            select min(id) into found_home from orgs where kind = 'community';
        end if;
        update carry_legacy set home = found_home where id = acc.id;
    end loop;
end $$;

-- Opened at registration and never used: nothing to carry, nothing refers to them.
delete from accounts a using carry_legacy l where a.id = l.id and not l.used;

-- The guard refuses changing what an account is; this one-time carry-over names the issuing
-- community of the accounts that had none (their entries and balances do not change).
alter table accounts disable trigger accounts_guard;
update accounts a set org_id = l.home from carry_legacy l where a.id = l.id and l.used;
alter table accounts enable trigger accounts_guard;

-- The other communities' shares move to their own accounts, as far as the available balance allows
-- (pending holds stay on the home account that holds them): double-entry 'carryover' transfers.
do $$
declare
    acc record;
    s record;
    movable bigint;
    take bigint;
    sub bigint;
begin
    for acc in select * from carry_legacy where used order by id loop
        movable := acc.balance - acc.held;
        for s in select community_id, share from carry_shares
                  where account_id = acc.id and community_id is not null and community_id <> acc.home and share > 0
                  order by community_id loop
            exit when movable <= 0;
            take := least(s.share, movable);
            insert into accounts (unit, kind, user_id, org_id) values (acc.unit, 'user', acc.user_id, s.community_id)
            on conflict do nothing;
            select id into sub from accounts
             where kind = 'user' and user_id = acc.user_id and unit = acc.unit and org_id = s.community_id;
            insert into transfers (unit, debit_account, credit_account, amount, kind, state, cause_type, cause_id,
                                   memo, created_at)
            values (acc.unit, acc.id, sub, take, 'carryover', 'posted', 'carryover', s.community_id,
                    '按发放社区分账 carried to the community that issued it', now());
            movable := movable - take;
        end loop;
    end loop;
end $$;

-- Every account now names its community: the issuer of a person's sub-account, or the owner.
alter table accounts add constraint accounts_org_named check (org_id is not null);

-- ---- 3. spending areas (通兑范围) ---------------------------------------------------------------------

create table area_policies (
    id         bigint generated always as identity primary key,
    org_id     bigint not null references orgs (id),        -- a street or a district
    unit       text not null check (unit in ('points', 'minutes')),
    enabled    boolean not null,
    starts_on  date not null,                               -- local date (LINLI_TZ) from which it rules
    set_by     bigint references users (id),
    created_at timestamptz not null
);
create index area_policies_org on area_policies (org_id, unit, starts_on desc, id desc);
create trigger area_policies_append_only before update or delete on area_policies
    for each row execute function ledger_refuse_change();

-- ---- 4. settlements -----------------------------------------------------------------------------------

create table settlements (
    transfer_id bigint primary key references transfers (id),
    unit        text not null check (unit in ('points', 'minutes')),
    issuer_id   bigint not null references orgs (id),       -- where the value was issued
    spender_id  bigint not null references orgs (id),       -- where it was spent
    amount      bigint not null check (amount <> 0),        -- + spent, - given back (a reversal)
    settled_at  timestamptz not null,
    check (issuer_id <> spender_id)
);
create index settlements_month on settlements (settled_at);

create function settlement_write() returns trigger language plpgsql as $$
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

-- Only spending kinds can cross communities (awards, adjustments and expiry stay in the issuer's
-- accounts, gifts keep the issuer, carry-overs move between one person's accounts): the WHEN clause
-- keeps check-ins free of this trigger.
create trigger transfers_settle_insert after insert on transfers
    for each row when (new.state = 'posted' and new.kind in ('redemption', 'service', 'donation', 'reversal'))
    execute function settlement_write();
create trigger transfers_settle_post after update on transfers
    for each row when (old.state = 'pending' and new.state = 'posted'
                       and new.kind in ('redemption', 'service', 'donation'))
    execute function settlement_write();

create function settlement_guard() returns trigger language plpgsql as $$
begin
    if pg_trigger_depth() < 2 then
        raise exception 'settlements are written only by their transfer'
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;
create trigger settlements_written_by_transfers before insert on settlements
    for each row execute function settlement_guard();
create trigger settlements_append_only before update or delete on settlements
    for each row execute function ledger_refuse_change();
create trigger settlements_no_truncate before truncate on settlements
    for each statement execute function ledger_refuse_change();

insert into audit_acts (act) values ('area_policy');

-- ---- 5. certificates of service hours, issued and verifiable (issue 19) ---------------------------

-- Asked for by the person (requested), issued by a manager of the community (issued: numbered, with a
-- verification code for /v/<code> and the hours as they stood, archived), and revocable (revoked).
create table service_certificates (
    id            bigint generated always as identity primary key,
    user_id       bigint not null references users (id),
    community_id  bigint not null references orgs (id),      -- the issuing community (居委会)
    state         text not null default 'requested' check (state in ('requested', 'issued', 'revoked')),
    requested_at  timestamptz not null,
    number        text unique,                               -- the certificate number, once issued
    code          text unique,                               -- the verification code of /v/<code>
    hours         jsonb,                                     -- domain/timebank Hours when issued
    masked_name   text,
    issued_by     bigint references users (id),              -- the manager in charge who issued it
    issued_at     timestamptz,
    contact       text check (length(contact) <= 100),
    revoked_by    bigint references users (id),
    revoked_at    timestamptz,
    revoke_reason text check (length(revoke_reason) between 1 and 500),
    check ((state = 'requested') = (number is null)),
    check (state = 'requested' or (code is not null and hours is not null and issued_by is not null
                                   and issued_at is not null and masked_name is not null)),
    check ((state = 'revoked') = (revoked_at is not null and revoked_by is not null and revoke_reason is not null)),
    check (issued_by is distinct from user_id)                -- nobody certifies their own hours
);
create index service_certificates_user on service_certificates (user_id, id desc);
create index service_certificates_queue on service_certificates (community_id, state, id);

insert into audit_acts (act) values ('certificate_issue'), ('certificate_revoke');

-- A person asks for a correction of their record; a manager of the community answers (accepted, with
-- the adjustment made through the ledger, or declined), audited. Answered once.
create table record_corrections (
    id           bigint generated always as identity primary key,
    user_id      bigint not null references users (id),
    community_id bigint not null references orgs (id),
    request      text not null check (length(request) between 1 and 1000),
    requested_at timestamptz not null,
    state        text not null default 'open' check (state in ('open', 'accepted', 'declined')),
    answer       text check (length(answer) between 1 and 1000),
    answered_by  bigint references users (id),
    answered_at  timestamptz,
    check ((state = 'open') = (answer is null and answered_by is null and answered_at is null)),
    check (answered_by is distinct from user_id)
);
create index record_corrections_user on record_corrections (user_id, id desc);
create index record_corrections_queue on record_corrections (community_id, state, id);

insert into audit_acts (act) values ('correction_answer');
