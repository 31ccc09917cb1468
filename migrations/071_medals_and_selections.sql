-- Issue 34, part 2: medals (勋章) by rule, quarterly selections (评选) of 道德模范 and 最美家庭.
-- (亮身份 is migrations/050's party_identity.) The rules live in Python (domain/recognition).

-- A medal rule of a street or a community: what earns it (kind, threshold). Rules of the community
-- and of every level above it apply to its people; built-in rules (recognition/rules.DEFAULT_MEDALS)
-- apply where none is defined.
create table medal_rules (
    id          bigint generated always as identity primary key,
    org_id      bigint not null references orgs (id),
    kind        text not null check (kind in ('hours', 'communities', 'quarters', 'hazards')),
    threshold   integer not null check (threshold between 1 and 100000),
    name        text not null check (length(name) between 1 and 40),
    created_by  bigint not null references users (id),
    created_at  timestamptz not null,
    unique (org_id, kind, threshold)
);

-- A medal a person holds. `code` says what earned it (hours:10, selected:<selection id>); a person
-- holds each code once, so the sweep is idempotent and a revoked medal is not given again.
create table medals (
    id            bigint generated always as identity primary key,
    user_id       bigint not null references users (id),
    community_id  bigint not null references orgs (id),
    code          text not null check (length(code) between 1 and 60),
    name          text not null check (length(name) between 1 and 60),
    awarded_at    timestamptz not null,
    revoked_at    timestamptz,
    revoked_by    bigint references users (id),
    revoke_reason text check (length(revoke_reason) between 1 and 500),
    unique (user_id, code),
    check ((revoked_at is null) = (revoke_reason is null) and (revoked_at is null) = (revoked_by is null))
);
create index medals_community on medals (community_id, id);

-- ---- quarterly selections -------------------------------------------------------------------------
-- Opened by a manager for a quarter: candidates are the top of the ranking and residents'
-- nominations (one per household); households vote until votes_until (one vote each, at most
-- max_votes candidates); a manager proposes the committee's choices with a reason for each, a second
-- manager confirms (the committee is two or more); the result is posted as 公示 (posting_id) with
-- an appeal window; once it has ended it is made final and the selected get a medal and a line of
-- record (commendations).
create table selections (
    id                bigint generated always as identity primary key,
    community_id      bigint not null references orgs (id),
    quarter           text not null check (quarter ~ '^[0-9]{4}Q[1-4]$'),
    kind              text not null check (kind in ('person', 'household')),
    title             text not null check (length(title) between 1 and 40),
    top_n             integer not null check (top_n between 1 and 50),
    max_votes         integer not null check (max_votes between 1 and 20),
    votes_until       timestamptz not null,
    state             text not null check (state in ('open', 'proposed', 'posted', 'final')),
    opened_by         bigint not null references users (id),
    opened_at         timestamptz not null,
    proposed_by       bigint references users (id),
    proposed_at       timestamptz,
    confirmed_by      bigint references users (id),
    posting_id        bigint references postings (id),
    finalized_at      timestamptz,
    check (confirmed_by is null or confirmed_by <> proposed_by)
);
create index selections_community on selections (community_id, id desc);
-- One selection of a kind per community and quarter.
create unique index selections_one on selections (community_id, quarter, kind);

create table selection_candidates (
    id              bigint generated always as identity primary key,
    selection_id    bigint not null references selections (id),
    user_id         bigint references users (id),
    household_id    bigint references households (id),
    from_ranking    boolean not null,
    rank            integer,
    score           bigint not null default 0,
    nominated_by    bigint references users (id),
    nominating_household bigint references households (id),
    reason          text check (length(reason) between 1 and 500),
    chosen          boolean,
    choice_reason   text check (length(choice_reason) between 1 and 500),
    check ((user_id is null) <> (household_id is null)),
    check (from_ranking or (nominated_by is not null and reason is not null))
);
create unique index selection_candidates_person on selection_candidates (selection_id, user_id) where user_id is not null;
create unique index selection_candidates_household on selection_candidates (selection_id, household_id)
    where household_id is not null;
-- One nomination per household and selection.
create unique index selection_nominations_household on selection_candidates (selection_id, nominating_household)
    where nominating_household is not null;

-- One vote per household and selection: the second is refused by this key.
create table selection_votes (
    selection_id  bigint not null references selections (id),
    household_id  bigint not null references households (id),
    voter_id      bigint not null references users (id),
    candidate_ids bigint[] not null check (cardinality(candidate_ids) between 1 and 20),
    created_at    timestamptz not null,
    primary key (selection_id, household_id)
);

-- A 公示 of a selection's result names its selection (the ranking postings name none).
alter table postings add column selection_id bigint references selections (id);
alter table postings drop constraint postings_scope_check;
alter table postings add constraint postings_scope_check check (scope in ('community', 'household', 'selection'));

insert into audit_acts (act) values
    ('medal_sweep'), ('medal_revoke'), ('medal_rule'),
    ('selection_open'), ('selection_propose'), ('selection_confirm'), ('selection_final')
on conflict do nothing;
