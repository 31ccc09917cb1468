-- Issue 34, part 1: the points rulebook (积分细则) and deductions (扣分) with due process.
-- The rules live in Python (domain/recognition); here are only tables, constraints and indexes.

-- ---- the rulebook ---------------------------------------------------------------------------------
-- A version of one organisation's rulebook. A street or district publishes a base; a community's
-- version extends one base version (base_id) with its own items. A version is proposed (pending)
-- and takes effect when a second person approves it (in_force); the version it replaces becomes
-- superseded. At most one version of an organisation is in force.
create table rulebook_versions (
    id              bigint generated always as identity primary key,
    org_id          bigint not null references orgs (id),
    version         integer not null check (version >= 1),
    base_id         bigint references rulebook_versions (id),
    title           text not null check (length(title) between 1 and 100),
    state           text not null check (state in ('pending', 'in_force', 'superseded', 'rejected')),
    created_by      bigint not null references users (id),
    created_at      timestamptz not null,
    decided_by      bigint references users (id),
    decided_at      timestamptz,
    decision_reason text check (length(decision_reason) <= 500),
    unique (org_id, version),
    check ((state = 'pending') = (decided_at is null)),
    check (decided_by is null or decided_by <> created_by)
);
create unique index rulebook_versions_in_force on rulebook_versions (org_id) where state = 'in_force';

-- One item of a version: what earns (earn: amount, optional daily cap, evidence asked for) or what
-- deducts (deduct: amount, the compact clause it enforces). Items are frozen with their version.
create table rule_items (
    id          bigint generated always as identity primary key,
    version_id  bigint not null references rulebook_versions (id),
    position    integer not null check (position >= 1),
    code        text not null check (code ~ '^[A-Za-z0-9_-]{1,20}$'),
    kind        text not null check (kind in ('earn', 'deduct')),
    title       text not null check (length(title) between 1 and 100),
    points      integer not null check (points between 1 and 10000),
    daily_cap   integer check (daily_cap between 1 and 10000),
    evidence    text not null default '' check (length(evidence) <= 200),
    clause      text check (length(clause) between 1 and 300),
    unique (version_id, code),
    unique (version_id, position),
    check (kind <> 'deduct' or clause is not null)
);

-- An activity created under a rule takes its points from the item (and names it for good).
alter table activities add column rule_item_id bigint references rule_items (id);

-- ---- deductions -------------------------------------------------------------------------------------
-- Proposed with evidence, shown to the person, who may appeal until appeal_until; a second manager
-- (never the proposer, never the person) decides; only then is it posted. Posting takes what the
-- person has of the community's points (taken) and records the rest (unrecovered): never owed.
create table deductions (
    id              bigint generated always as identity primary key,
    community_id    bigint not null references orgs (id),
    user_id         bigint not null references users (id),
    rule_item_id    bigint not null references rule_items (id),
    amount          integer not null check (amount >= 1),
    evidence        text not null check (length(evidence) between 1 and 1000),
    photo           bytea,
    proposed_by     bigint not null references users (id),
    proposed_at     timestamptz not null,
    appeal_until    timestamptz not null,
    appeal_reason   text check (length(appeal_reason) between 1 and 1000),
    appealed_at     timestamptz,
    state           text not null check (state in ('proposed', 'posted', 'rejected')),
    decided_by      bigint references users (id),
    decided_at      timestamptz,
    decision_reason text check (length(decision_reason) <= 500),
    taken           integer check (taken >= 0),
    unrecovered     integer check (unrecovered >= 0),
    transfer_id     bigint references transfers (id),
    check (proposed_by <> user_id),
    check (decided_by is null or (decided_by <> proposed_by and decided_by <> user_id)),
    check ((state = 'proposed') = (decided_at is null)),
    check ((state = 'posted') = (taken is not null)),
    check (taken is null or taken + unrecovered = amount),
    check ((appeal_reason is null) = (appealed_at is null))
);
create index deductions_user on deductions (user_id, id desc);
create index deductions_open on deductions (community_id, id) where state = 'proposed';
-- Rankings subtract the deductions posted in a quarter in a community.
create index deductions_posted on deductions (community_id, decided_at) where state = 'posted';

-- A posted deduction moves value from the person to the community's issuing account: kind
-- 'deduction', cause 'deduction'. Added to whatever lists are current (siblings add their own).
do $$
declare
    current text;
begin
    select pg_get_constraintdef(oid) into current from pg_constraint
     where conrelid = 'transfers'::regclass and conname = 'transfers_cause_type_check';
    if current not like '%''deduction''%' then
        alter table transfers drop constraint transfers_cause_type_check;
        execute 'alter table transfers add constraint transfers_cause_type_check check (cause_type in ('
            || (select string_agg(quote_literal(m[1]), ', ') from regexp_matches(current, '''([a-z_]+)''', 'g') as m)
            || ', ''deduction''))';
    end if;
    select pg_get_constraintdef(oid) into current from pg_constraint
     where conrelid = 'transfers'::regclass and conname = 'transfers_kind_check';
    if current not like '%''deduction''%' then
        alter table transfers drop constraint transfers_kind_check;
        execute 'alter table transfers add constraint transfers_kind_check check (kind in ('
            || (select string_agg(quote_literal(m[1]), ', ') from regexp_matches(current, '''([a-z_]+)''', 'g') as m)
            || ', ''deduction''))';
    end if;
end $$;

insert into audit_acts (act) values
    ('rulebook_propose'), ('rulebook_approve'), ('rulebook_reject'),
    ('deduction_propose'), ('deduction_post'), ('deduction_reject')
on conflict do nothing;
