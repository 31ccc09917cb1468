-- The edges of authority (issue 16): invitations a person accepts, adjustments a second manager
-- approves above a per-community threshold, and the new audit acts.

-- A manager's invitation of an existing person who belongs to none of the manager's communities:
-- membership waits for the person's consent (domain/people/members.py invite, accept_invitation).
create table invitations (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    org_id       bigint not null references orgs (id),      -- the community, or its grid for a courier
    user_id      bigint not null references users (id),
    role         text not null check (role in ('volunteer', 'courier')),
    invited_by   bigint not null references users (id),
    state        text not null default 'pending' check (state in ('pending', 'accepted', 'declined')),
    created_at   timestamptz not null,
    answered_at  timestamptz,
    check ((state = 'pending') = (answered_at is null))
);
-- One open invitation per person and org: inviting again changes nothing.
create unique index invitations_open on invitations (org_id, user_id) where state = 'pending';
create index invitations_user on invitations (user_id, id desc);

-- Above these amounts (absolute, per adjustment) a manual adjustment needs a second manager.
create table adjustment_policies (
    community_id      bigint primary key references orgs (id),
    threshold_points  integer not null default 200 check (threshold_points between 0 and 1000000),
    threshold_minutes integer not null default 600 check (threshold_minutes between 0 and 1000000),
    updated_by        bigint references users (id),
    updated_at        timestamptz not null
);

-- A pending adjustment (maker-checker): the maker asks, another manager of the community (or an
-- admin) approves, which posts the transfer exactly once, or rejects it.
create table adjustment_requests (
    id              bigint generated always as identity primary key,
    community_id    bigint not null references orgs (id),
    user_id         bigint not null references users (id),
    unit            text not null check (unit in ('points', 'minutes')),
    amount          bigint not null check (amount <> 0),
    reason          text not null check (length(reason) between 1 and 500),
    requested_by    bigint not null references users (id),
    state           text not null default 'pending' check (state in ('pending', 'approved', 'rejected')),
    decided_by      bigint references users (id),
    decided_at      timestamptz,
    decision_reason text check (length(decision_reason) <= 500),
    transfer_id     bigint references transfers (id),
    created_at      timestamptz not null,
    -- Nobody pays themself, and nobody approves their own request (the maker may withdraw it):
    -- the database says so too.
    check (user_id <> requested_by),
    check (decided_by is null or decided_by <> user_id),
    check (state <> 'approved' or decided_by <> requested_by),
    check ((state = 'pending') = (decided_at is null and decided_by is null)),
    check ((state = 'approved') = (transfer_id is not null))
);
create index adjustment_requests_open on adjustment_requests (community_id, id) where state = 'pending';
create unique index adjustment_requests_transfer on adjustment_requests (transfer_id);

insert into audit_acts (act) values
    ('phone_view'), ('member_invite'), ('adjustment_request'), ('adjustment_approve'), ('adjustment_reject'),
    ('adjustment_policy'), ('invitation_answer');
