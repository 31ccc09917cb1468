-- People, the organisation tree, sessions and rate limits.

create table users (
    id            bigint generated always as identity primary key,
    phone         text unique check (phone ~ '^1[3-9][0-9]{9}$'),  -- null once the account is closed
    name          text not null check (length(name) between 1 and 50),
    password_hash text,
    is_admin      boolean not null default false,
    active        boolean not null default true,
    created_at    timestamptz not null default now(),
    closed_at     timestamptz
);

create table orgs (
    id         bigint generated always as identity primary key,
    kind       text not null check (kind in ('district', 'street', 'community', 'grid')),
    name       text not null check (length(name) between 1 and 100),
    parent_id  bigint references orgs (id),
    created_at timestamptz not null default now(),
    check ((kind = 'district') = (parent_id is null))
);
create index orgs_parent on orgs (parent_id);

-- Managers are appointed per community.
create table org_managers (
    org_id     bigint not null references orgs (id),
    user_id    bigint not null references users (id),
    created_at timestamptz not null default now(),
    primary key (org_id, user_id)
);
create index org_managers_user on org_managers (user_id);

-- Volunteers belong to a community, couriers to a grid.
create table org_members (
    org_id     bigint not null references orgs (id),
    user_id    bigint not null references users (id),
    role       text not null check (role in ('volunteer', 'courier')),
    created_at timestamptz not null default now(),
    primary key (org_id, user_id)
);
create index org_members_user on org_members (user_id);

create table teams (
    id           bigint generated always as identity primary key,
    name         text not null check (length(name) between 1 and 100),
    community_id bigint not null references orgs (id),
    created_at   timestamptz not null default now()
);

create table team_members (
    team_id    bigint not null references teams (id),
    user_id    bigint not null references users (id),
    created_at timestamptz not null default now(),
    primary key (team_id, user_id)
);

-- Only a hash of the token is stored: a database leak does not leak live sessions.
create table sessions (
    token_hash bytea primary key,
    user_id    bigint not null references users (id),
    csrf       text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
create index sessions_user on sessions (user_id);

-- Fixed-window counters shared by every API process.
create table rate_hits (
    bucket       text not null,
    window_start timestamptz not null,
    hits         integer not null,
    primary key (bucket, window_start)
);
