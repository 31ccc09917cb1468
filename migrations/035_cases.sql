-- The grid loop (闭环, issue 32): one case (事项) for a courier's verified hazard report and a resident's
-- 提事 (a problem or a proposal). State machine (domain/cases/rules.py is its one home):
--   reported → sorted → dispatched → accepted → done → rated, with returned (the handler gives it
--   back to the dispatcher), merged (a duplicate folded into another case), escalated (the `escalation`
--   level: 1 the street, 2 the district, raised by the sweep once the deadline passed) and reopened
--   (an 不满意 rating sends it back to its handler once).
-- Every step is a row of case_events: who did what, when, from which state to which.

-- A street's categories and their deadlines (the street edits this table).
create table case_categories (
    id             bigint generated always as identity primary key,
    street_id      bigint not null references orgs (id),
    name           text not null check (length(name) between 1 and 50),
    deadline_hours integer not null check (deadline_hours between 1 and 2160),
    active         boolean not null default true,
    updated_by     bigint not null references users (id),
    updated_at     timestamptz not null,
    unique (street_id, name)
);

create table cases (
    id              bigint generated always as identity primary key,
    number          text unique check (number ~ '^[0-9]{8}-[0-9]+$'),  -- what the reporter follows
    source          text not null check (source in ('report', 'resident')),
    kind            text not null check (kind in ('hazard', 'problem', 'proposal')),
    report_id       bigint unique references reports (id),
    reporter_id     bigint not null references users (id),
    grid_id         bigint references orgs (id),
    community_id    bigint not null references orgs (id),
    street_id       bigint not null references orgs (id),
    title           text not null check (length(title) between 1 and 100),
    text            text not null check (length(text) between 1 and 1000),
    place           text not null default '' check (length(place) <= 200),
    lat             double precision check (lat between -90 and 90),
    lng             double precision check (lng between -180 and 180),
    state           text not null check (state in ('reported', 'sorted', 'dispatched', 'accepted', 'returned',
                                                   'done', 'rated', 'merged')),
    level           text not null default 'community' check (level in ('community', 'street')),
    category_id     bigint references case_categories (id),
    priority        text not null default 'normal' check (priority in ('normal', 'urgent')),
    merged_into     bigint references cases (id),
    handler_id      bigint references partners (id),
    dispatched_by   bigint references users (id),
    deadline        timestamptz,
    escalation      smallint not null default 0 check (escalation between 0 and 2),
    reopened        boolean not null default false,
    done_at         timestamptz,
    done_by         bigint references users (id),
    closed_in_time  boolean,
    rating          text check (rating in ('satisfied', 'fair', 'unsatisfied')),
    rated_at        timestamptz,
    bonus_transfer_id bigint,           -- the reporter's bonus at closure in time (ledger, cause 'case')
    -- proposals (议事/定事)
    meeting_note    text check (length(meeting_note) between 1 and 2000),
    vote_scope      text check (vote_scope in ('grid', 'community')),
    vote_closes_at  timestamptz,
    votes_yes       integer check (votes_yes >= 0),
    votes_no        integer check (votes_no >= 0),
    result_published_at timestamptz,
    created_at      timestamptz not null,
    updated_at      timestamptz not null,
    check ((lat is null) = (lng is null)),
    check ((source = 'report') = (report_id is not null)),
    check ((state = 'merged') = (merged_into is not null)),
    check (state not in ('dispatched', 'accepted', 'done', 'rated') or merged_into is not null
           or (handler_id is not null and deadline is not null)),
    check ((state in ('done', 'rated')) <= (done_at is not null)),
    check ((state = 'rated') <= (rating is not null)),
    check (kind = 'proposal' or vote_scope is null)
);
create index cases_community_queue on cases (community_id, level, state, id desc);
create index cases_street_queue on cases (street_id, level, state, id desc);
create index cases_handler on cases (handler_id, state, id desc) where handler_id is not null;
create index cases_reporter on cases (reporter_id, id desc);
create index cases_merged_into on cases (merged_into) where merged_into is not null;  -- its foreign key's checks
-- The escalation sweep reads only open cases with a deadline that can still escalate.
create index cases_overdue on cases (deadline) where state in ('dispatched', 'accepted') and escalation < 2;
-- Figures per district/street/community over a period of creation read only these columns: an
-- index-only scan, never the wide rows (bench/README.md, the grid loop at 10^5 cases a year).
create index cases_figures_street on cases (street_id, created_at)
    include (community_id, grid_id, handler_id, state, closed_in_time, deadline, done_at, rating);
create index cases_figures_community on cases (community_id, created_at)
    include (grid_id, handler_id, state, closed_in_time, deadline, done_at, rating);

create table case_events (
    id         bigint generated always as identity primary key,
    case_id    bigint not null references cases (id),
    act        text not null check (act in ('reported', 'sorted', 'merged', 'merged_in', 'sent_up', 'dispatched',
                                            'accepted', 'returned', 'note', 'done', 'rated', 'reopened',
                                            'escalated', 'comment', 'meeting', 'vote_opened', 'published',
                                            'followed')),
    actor_id   bigint references users (id),     -- null: the system (the escalation sweep)
    from_state text,
    to_state   text,
    note       text check (length(note) <= 2000),
    data       jsonb,
    at         timestamptz not null
);
create index case_events_case on case_events (case_id, id);

-- Only the processed JPEG (domain/core/photos.py), as for reports.
create table case_photos (
    id       bigint generated always as identity primary key,
    case_id  bigint not null references cases (id),
    event_id bigint not null references case_events (id),
    jpeg     bytea not null check (length(jpeg) between 1 and 8388608),
    width    integer not null check (width between 1 and 1600),
    height   integer not null check (height between 1 and 1600)
);
create index case_photos_case on case_photos (case_id, id);

-- Residents who follow a case are told of its outcome like its reporter (never a whole grid).
create table case_followers (
    case_id    bigint not null references cases (id),
    user_id    bigint not null references users (id),
    created_at timestamptz not null,
    primary key (case_id, user_id)
);
create index case_followers_user on case_followers (user_id);

-- One vote per household (户); a resident in no household votes as a household of one.
create table case_votes (
    case_id    bigint not null references cases (id),
    voter_key  text not null check (voter_key ~ '^(h|u)[0-9]+$'),
    user_id    bigint not null references users (id),
    choice     text not null check (choice in ('yes', 'no')),
    created_at timestamptz not null,
    primary key (case_id, voter_key)
);

-- Amounts come from the community's report settings (null: the default in domain/cases/rules.py)
-- until the rulebook becomes their one home.
alter table report_settings add column case_bonus_points integer check (case_bonus_points between 0 and 1000),
                            add column handler_minutes integer check (handler_minutes between 0 and 1440);

-- The ledger names a case as the cause of its bonus and of a handler's service minutes. The list is
-- extended from the constraint as it stands, so another migration's additions are kept.
do $$
declare
    kinds text[];
begin
    select array_agg(m[1]) into kinds
      from pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') m
     where c.conrelid = 'transfers'::regclass and c.conname = 'transfers_cause_type_check';
    if not 'case' = any(kinds) then
        kinds := kinds || 'case'::text;
        alter table transfers drop constraint transfers_cause_type_check;
        execute format('alter table transfers add constraint transfers_cause_type_check check (cause_type in (%s))',
                       (select string_agg(quote_literal(k), ', ') from unnest(kinds) k));
    end if;
end $$;

insert into audit_acts (act) values ('case_category'), ('case_sort'), ('case_merge'), ('case_dispatch'),
    ('case_handle'), ('case_meeting'), ('case_vote_open'), ('case_publish')
on conflict do nothing;
