-- Scanning everywhere (issue 21, and issue 16 finding 5): late (offline) scans with both times and a
-- nonce the database de-duplicates, check-out on purpose, paired kiosk screens, fraud flags for the
-- manager's review, and an automatic check-out that credits only up to the last proof of presence.

-- Activity settings chosen by the manager (drafts only, like every other rule of an activity).
alter table activities
    add column rotating_only boolean not null default false,      -- poster codes refused: only the kiosk's code
    add column one_step_checkout boolean not null default false;  -- station / kiosk scans check out without asking

-- Both times of a late scan: checked_in_at / checked_out_at hold the device's (claimed) scan time,
-- *_received_at when the server got it (null: the scan arrived live). last_seen_at is the last
-- proof of presence (the check-in or any later scan while inside): an automatic check-out credits
-- up to it, never the whole window. in_* are what the fraud signals compare.
alter table attendances
    add column in_received_at  timestamptz,
    add column out_received_at timestamptz,
    add column last_seen_at    timestamptz,
    add column in_lat          double precision check (in_lat between -90 and 90),
    add column in_lng          double precision check (in_lng between -180 and 180),
    add column in_device       text check (length(in_device) <= 64),
    add column in_ip           text check (length(in_ip) <= 64);
create index attendances_device on attendances (in_device, checked_in_at) where in_device is not null;
create index attendances_ip on attendances (in_ip, checked_in_at) where in_ip is not null and source = 'self';

-- One row per scan nonce that reached the check-in logic: a queue uploaded twice (or from two tabs at
-- once) meets this key, and the second upload waits for the first, then answers without writing.
create table scan_nonces (
    activity_id bigint not null references activities (id),
    user_id     bigint not null references users (id),
    nonce       text not null check (length(nonce) between 1 and 64),
    claimed_at  timestamptz,                 -- the device's scan time of a late scan; null when live
    received_at timestamptz not null,
    primary key (activity_id, user_id, nonce)
);
create index scan_nonces_received on scan_nonces (received_at);  -- pruned by the sweeper (domain/checkin/offline.py)

-- Scans a manager should look at: flagged, never blocked.
create table scan_flags (
    id            bigint generated always as identity primary key,
    activity_id   bigint not null references activities (id),
    attendance_id bigint not null references attendances (id),
    user_id       bigint not null references users (id),
    reason        text not null check (reason in ('impossible_travel', 'device_burst', 'address_burst',
                                                  'late_over_capacity', 'auto_checkout')),
    details       jsonb not null default '{}',
    created_at    timestamptz not null,
    resolved_at   timestamptz,
    resolved_by   bigint references users (id),
    resolution    text check (resolution in ('annulled', 'dismissed', 'credited')),
    check ((resolved_at is null) = (resolution is null)),
    check ((resolved_at is null) = (resolved_by is null))
);
create index scan_flags_activity on scan_flags (activity_id, id desc);
create index scan_flags_attendance on scan_flags (attendance_id);

-- A venue screen paired with a one-time code: its token shows one activity's rotating code and count.
create table kiosk_devices (
    id                 bigint generated always as identity primary key,
    activity_id        bigint not null references activities (id),
    pairing_hash       text unique,          -- sha256 of the pairing code; cleared once used
    pairing_expires_at timestamptz,
    token_hash         text unique,          -- sha256 of the device token; set when paired
    created_by         bigint not null references users (id),
    created_at         timestamptz not null,
    paired_at          timestamptz,
    revoked_at         timestamptz,
    revoked_by         bigint references users (id),
    check ((paired_at is null) = (token_hash is null)),
    check ((revoked_at is null) = (revoked_by is null))
);
create index kiosk_devices_activity on kiosk_devices (activity_id, id);

-- A late scan (an offline queue uploading) is accepted beyond the capacity and flagged for the manager:
-- the station could not see the count when it scanned. Same function as migrations/010 otherwise.
create or replace function activities_count_taken() returns trigger language plpgsql as $$
declare
    delta integer;
    taken_now integer;
    capacity_now integer;
begin
    if tg_op = 'INSERT' then
        delta := case when new.state in ('inside', 'done') then 1 else 0 end;
    else
        delta := (case when new.state in ('inside', 'done') then 1 else 0 end)
               - (case when old.state in ('inside', 'done') then 1 else 0 end);
    end if;
    if delta = 0 then
        return null;
    end if;
    update activities set taken = taken + delta
     where id = new.activity_id and capacity is not null
    returning taken, capacity into taken_now, capacity_now;
    if tg_op = 'INSERT' and new.source <> 'manual' and new.in_received_at is null and taken_now > capacity_now then
        raise exception 'activity % is full', new.activity_id
            using errcode = 'check_violation', constraint = 'activities_capacity';
    end if;
    return null;
end $$;

insert into audit_acts (act) values ('kiosk_pair'), ('kiosk_revoke'), ('scan_flag_dismiss'), ('scan_flag_credit');
insert into scan_refusal_reasons (reason) values ('poster_not_accepted'), ('location_required'), ('late_scan_expired');
