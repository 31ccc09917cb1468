-- Nobody creates value alone (issue 30, findings 1 and 2): what one manager did alone and what now
-- waits for a second person (another manager of the community, or a manager of its street or
-- district), the daily limit of value one person creates by hand, and the flags a manager's
-- pattern raises. domain/oversight holds the rules.

-- A day's total of value one person may create by hand (adjustments, attendance marks) in one
-- community before the rest waits for a second person: five adjustments of 200 add up.
alter table adjustment_policies
    add column daily_points  integer not null default 500 check (daily_points between 0 and 1000000),
    add column daily_minutes integer not null default 1500 check (daily_minutes between 0 and 1000000);

-- Why an adjustment waits: above the per-act threshold, or past the maker's daily limit.
alter table adjustment_requests
    add column why text not null default 'threshold' check (why in ('threshold', 'daily_limit'));

-- What one person created by hand in a community on a local day, counted where it is posted
-- (under this row's lock, so two concurrent acts cannot both slip under the limit). Co-signed value
-- (an approval of a held act) is not counted: it had its second person.
create table manual_value_days (
    community_id bigint not null references orgs (id),
    maker_id     bigint not null references users (id),
    day          date not null,
    unit         text not null check (unit in ('points', 'minutes')),
    amount       bigint not null default 0 check (amount >= 0),
    primary key (community_id, maker_id, day, unit)
);

-- Acts held for a second person (maker-checker), besides adjustments (adjustment_requests) and
-- on-the-spot redemptions (redemptions.held_maker):
--   mark        a manual attendance mark above the thresholds or past the daily limit
--   activity    the publication of an activity whose terms pay one person more than the thresholds a day
--   own_credit  the credit of a manager's own scan at an activity of a community they manage
--   policy      a loosening of the community's thresholds, daily limits or join auto-approval
create table held_acts (
    id              bigint generated always as identity primary key,
    community_id    bigint not null references orgs (id),
    kind            text not null check (kind in ('mark', 'activity', 'own_credit', 'policy')),
    maker_id        bigint not null references users (id),
    subject_id      bigint references users (id),         -- who would be credited, when one person is
    activity_id     bigint references activities (id),
    attendance_id   bigint references attendances (id),
    payload         jsonb not null,                         -- what approval does (per kind)
    evidence        jsonb not null default '{}',            -- why it was held: thresholds, totals, times
    state           text not null default 'pending' check (state in ('pending', 'approved', 'rejected')),
    created_at      timestamptz not null,
    decided_by      bigint references users (id),
    decided_at      timestamptz,
    decision_reason text check (length(decision_reason) <= 500),
    result          jsonb,                                  -- what approval did (attendance ids, transfers)
    -- nobody checks their own act, nor approves a credit to themself
    check (state <> 'approved' or decided_by <> maker_id),
    check (decided_by is null or subject_id is null or decided_by <> subject_id or state = 'rejected'),
    check ((state = 'pending') = (decided_at is null and decided_by is null))
);
create index held_acts_open on held_acts (community_id, id) where state = 'pending';
create index held_acts_maker on held_acts (maker_id, id desc);
-- One open held credit per attendance and phase, one open publication per activity.
create unique index held_acts_own_credit on held_acts (attendance_id, (payload->>'phase'))
    where kind = 'own_credit' and state = 'pending';
create unique index held_acts_activity on held_acts (activity_id) where kind = 'activity' and state = 'pending';

-- An on-the-spot redemption for a resident the same manager created and credited: the points are
-- held and the stock reserved, as a request another manager approves (never this maker).
alter table redemptions add column held_maker bigint references users (id);
alter table redemptions add constraint redemptions_held_maker_decides_not
    check (held_maker is null or decided_by is null or decided_by <> held_maker or state = 'rejected');

-- Signals about a manager (issue 30 build: fraud signals across a street): flagged, never blocked.
-- One flag per manager, community, reason and local day; another person resolves it.
create table manager_flags (
    id          bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    manager_id  bigint not null references users (id),
    reason      text not null,
    details     jsonb not null default '{}',
    day         date not null,
    created_at  timestamptz not null,
    resolved_at timestamptz,
    resolved_by bigint references users (id),
    resolution  text check (length(resolution) <= 500),
    check (resolved_by is null or resolved_by <> manager_id),
    check ((resolved_at is null) = (resolved_by is null))
);
create unique index manager_flags_once on manager_flags (community_id, manager_id, reason, day);
create index manager_flags_open on manager_flags (community_id, id) where resolved_at is null;

insert into audit_acts (act) values ('held_request'), ('held_approve'), ('held_reject'), ('manager_flag_dismiss')
on conflict do nothing;
