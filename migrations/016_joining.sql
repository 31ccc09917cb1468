-- Joining a community (issue 18): phone verification codes, self-join requests with a per-community
-- policy and join QR codes, resident profiles filled by bulk import, residents without phones.

-- One-time codes sent by SMS (domain/people/phones.py). Only a salted hash of the code is kept;
-- `attempts` counts tries against this code (the code dies at the limit).
create table phone_codes (
    id         bigint generated always as identity primary key,
    phone      text not null check (phone ~ '^1[3-9][0-9]{9}$'),
    purpose    text not null check (purpose in ('register', 'reset')),
    salt       bytea not null,
    code_hash  bytea not null,
    attempts   integer not null default 0 check (attempts >= 0),
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at    timestamptz,
    burnt      boolean not null default false   -- killed by too many wrong tries: the phone is locked a while
);
create index phone_codes_phone on phone_codes (phone, purpose, id desc);

-- The link and QR code anyone scans to ask to join a community (<public url>/j/<code>).
create table join_codes (
    code         text primary key check (length(code) between 10 and 32),
    community_id bigint not null references orgs (id),
    created_at   timestamptz not null,
    revoked_at   timestamptz
);
create index join_codes_community on join_codes (community_id, created_at desc);

-- Per-community policy: approve every request automatically, or let a manager decide.
create table join_policies (
    community_id bigint primary key references orgs (id),
    auto_approve boolean not null default false,
    updated_at   timestamptz not null
);

-- A person's request to join; the check-in attempt that was refused (not_member) rides along and
-- completes when the request is approved while the activity's window is still open.
create table join_requests (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    user_id      bigint not null references users (id),
    state        text not null check (state in ('pending', 'approved', 'rejected')),
    activity_id  bigint references activities (id),
    scan_code    text check (length(scan_code) <= 32),
    nonce        text check (length(nonce) <= 64),
    created_at   timestamptz not null,
    decided_at   timestamptz,
    decided_by   bigint references users (id),
    reason       text check (length(reason) <= 500),
    checkin      jsonb,                      -- what the pending check-in did on approval
    check ((state = 'pending') = (decided_at is null))
);
create unique index join_requests_one_pending on join_requests (community_id, user_id) where state = 'pending';
create index join_requests_queue on join_requests (community_id, id) where state = 'pending';
create index join_requests_user on join_requests (user_id, id desc);

-- What a community knows of a resident beyond the account: from the import or the manager.
create table resident_profiles (
    community_id bigint not null references orgs (id),
    user_id      bigint not null references users (id),
    grid_id      bigint references orgs (id),
    household    text check (length(household) <= 100),
    tags         text[] not null default '{}',
    work_unit    text check (length(work_unit) <= 100),
    id_hint      text check (length(id_hint) <= 20),
    updated_at   timestamptz not null,
    primary key (community_id, user_id)
);
create index resident_profiles_user on resident_profiles (user_id);

insert into audit_acts (act) values ('join_approve'), ('join_reject'), ('join_policy'), ('member_import'),
                                    ('member_create'), ('card_reissue');
