-- Activities and their attendance (QR check-in / check-out).
--
-- Codes for an activity live in `codes` (003): kind 'poster' (issued at publish, valid for the window)
-- and kind 'rotating' (a fresh one every rotation_seconds for the screen at the venue).
-- Credits of an attendance are ledger transfers with cause ('checkin', attendance id); the
-- attendance row only mirrors what was awarded, for lists and exports.

create table activities (
    id               bigint generated always as identity primary key,
    community_id     bigint not null references orgs (id),
    title            text not null check (length(title) between 1 and 100),
    description      text not null default '' check (length(description) <= 2000),
    place            text not null default '' check (length(place) <= 200),
    lat              double precision check (lat between -90 and 90),
    lng              double precision check (lng between -180 and 180),
    radius_m         integer check (radius_m between 10 and 50000),
    starts_at        timestamptz not null,
    ends_at          timestamptz not null,
    capacity         integer check (capacity between 1 and 100000),      -- null: no limit
    points           integer not null default 0 check (points between 0 and 10000),  -- on check-in
    points_per_hour  integer not null default 0 check (points_per_hour between 0 and 10000),
    max_minutes      integer check (max_minutes between 1 and 20160),    -- cap of banked minutes per attendance
    daily_points_cap integer not null default 200 check (daily_points_cap between 0 and 100000),
    rotation_seconds integer not null default 30 check (rotation_seconds between 2 and 300),
    state            text not null default 'draft' check (state in ('draft', 'published', 'closed')),
    created_by       bigint not null references users (id),
    created_at       timestamptz not null,
    published_at     timestamptz,
    closed_at        timestamptz,
    check (ends_at > starts_at),
    check (ends_at - starts_at <= interval '14 days'),
    -- a geofence needs all three numbers, or none
    check ((lat is null) = (lng is null) and (lng is null) = (radius_m is null)),
    check ((state = 'draft') = (published_at is null)),
    check ((state = 'closed') = (closed_at is not null))
);
create index activities_community_starts on activities (community_id, starts_at);
create index activities_open_ends on activities (ends_at) where state = 'published';

-- One attendance per person and activity: a second scan checks out, later ones change nothing,
-- and an annulled check-in is not redone by scanning again (a manager can mark attendance instead).
create table attendances (
    id             bigint generated always as identity primary key,
    activity_id    bigint not null references activities (id),
    user_id        bigint not null references users (id),
    state          text not null check (state in ('inside', 'done', 'annulled')),
    source         text not null check (source in ('self', 'station', 'manual')),
    checked_in_at  timestamptz not null,
    checked_out_at timestamptz,
    auto_checkout  boolean not null default false,            -- checked out by the window-end sweeper or close
    minutes        integer not null default 0 check (minutes >= 0),   -- banked, as awarded
    points         integer not null default 0 check (points >= 0),    -- awarded (check-in + per hour)
    in_nonce       text check (length(in_nonce) <= 64),       -- the page's nonce: a reload replays, never checks out
    out_nonce      text check (length(out_nonce) <= 64),
    recorded_by    bigint references users (id),              -- station manager or manual marker; null when self-scanned
    note           text check (length(note) <= 500),          -- the reason of a manual mark
    annulled_at    timestamptz,
    annulled_by    bigint references users (id),
    annul_reason   text check (length(annul_reason) between 1 and 500),
    created_at     timestamptz not null,
    unique (activity_id, user_id),
    check (state <> 'inside' or checked_out_at is null),
    check (state <> 'done' or checked_out_at is not null),
    check (checked_out_at is null or checked_out_at >= checked_in_at),
    check ((state = 'annulled') = (annulled_at is not null)),
    check ((annulled_at is null) = (annul_reason is null)),
    check ((source = 'self') = (recorded_by is null)),
    check (source <> 'manual' or note is not null)
);
create index attendances_inside on attendances (activity_id) where state = 'inside';
create index attendances_user on attendances (user_id);
