-- The time bank: service requests (open -> accepted -> completed -> confirmed, or cancelled), their
-- append-only history, and family links between members who may give each other minutes.
-- Minutes move only through the ledger (002): a request points at the hold taken when a volunteer
-- accepted it, and at the extra transfer when the confirmed minutes exceeded the estimate.

create table service_requests (
    id                bigint generated always as identity primary key,
    community_id      bigint not null references orgs (id),
    requester_id      bigint not null references users (id),   -- who posted it (a member, or a manager)
    beneficiary_id    bigint not null references users (id),   -- who is helped; may have no login
    use_pool          boolean not null default false,          -- the community pool pays, not the requester
    proxy             boolean not null default false,          -- a manager posted it for someone else
    title             text not null check (length(title) between 1 and 100),
    description       text not null default '' check (length(description) <= 2000),
    place             text not null default '' check (length(place) <= 200),
    wanted_at         timestamptz,                             -- "when" in the API
    minutes_estimate  integer not null check (minutes_estimate between 1 and 1440),
    state             text not null default 'open'
                      check (state in ('open', 'accepted', 'completed', 'confirmed', 'cancelled')),
    volunteer_id      bigint references users (id),
    hold_transfer_id  bigint unique references transfers (id),
    extra_transfer_id bigint unique references transfers (id),
    confirmed_minutes integer,
    reason            text check (length(reason) between 1 and 500),
    created_at        timestamptz not null,
    accepted_at       timestamptz,
    completed_at      timestamptz,
    confirmed_at      timestamptz,
    cancelled_at      timestamptz,
    -- Whoever is served never serves themselves (the volunteer would pay themselves).
    check (volunteer_id <> requester_id and volunteer_id <> beneficiary_id),
    -- A proxy request is for someone else; the pool pays only for proxy requests (never a manager's own).
    check (not proxy or requester_id <> beneficiary_id),
    check (not use_pool or proxy),
    -- Once accepted, a request always has its volunteer and its hold (kept after a cancel: history).
    check (state = 'open' or state = 'cancelled' or (volunteer_id is not null and hold_transfer_id is not null)),
    check (state <> 'open' or (volunteer_id is null and hold_transfer_id is null)),
    check ((volunteer_id is null) = (accepted_at is null)),
    check (state not in ('completed', 'confirmed') or completed_at is not null),
    check ((state = 'confirmed') = (confirmed_minutes is not null and confirmed_at is not null)),
    check ((state = 'cancelled') = (cancelled_at is not null)),
    -- The confirm bound: at most 150 % of the estimate, and a reason whenever above it.
    check (confirmed_minutes is null or (confirmed_minutes >= 1 and confirmed_minutes * 2 <= minutes_estimate * 3)),
    check (confirmed_minutes is null or confirmed_minutes <= minutes_estimate or reason is not null),
    check ((extra_transfer_id is not null) = (coalesce(confirmed_minutes, 0) > minutes_estimate))
);
create index service_requests_board on service_requests (community_id, state, id desc);
create index service_requests_requester on service_requests (requester_id, id desc);
create index service_requests_beneficiary on service_requests (beneficiary_id, id desc);
create index service_requests_volunteer on service_requests (volunteer_id, id desc) where volunteer_id is not null;

-- Every transition, who did it and in what capacity. A manager acting for an elder is recorded as
-- actor = the manager, actor_role = 'manager', on_behalf_of = the elder ("by manager X for Y").
create table service_events (
    id           bigint generated always as identity primary key,
    request_id   bigint not null references service_requests (id),
    transition   text not null check (transition in ('posted', 'accepted', 'completed', 'confirmed', 'cancelled')),
    actor_id     bigint not null references users (id),
    actor_role   text not null check (actor_role in ('requester', 'beneficiary', 'volunteer', 'manager')),
    on_behalf_of bigint references users (id),
    minutes      integer,
    reason       text,
    at           timestamptz not null,
    check (on_behalf_of is distinct from actor_id)
);
create index service_events_request on service_events (request_id, id);

create function timebank_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;

create trigger service_events_append_only before update or delete on service_events
    for each row execute function timebank_refuse_change();

-- A family link joins two people once, whichever side asked; only approved links allow gifts.
create table family_links (
    id           bigint generated always as identity primary key,
    requester_id bigint not null references users (id),
    target_id    bigint not null references users (id),
    state        text not null default 'pending' check (state in ('pending', 'approved', 'removed')),
    created_at   timestamptz not null,
    approved_at  timestamptz,
    approved_by  bigint references users (id),   -- the target, or a manager acting for a target without a login
    removed_at   timestamptz,
    removed_by   bigint references users (id),
    check (requester_id <> target_id),
    check ((approved_at is null) = (approved_by is null)),
    check (state <> 'approved' or approved_at is not null),
    check ((state = 'removed') = (removed_at is not null and removed_by is not null))
);
-- One live link per pair; a removed link may be asked for again.
create unique index family_links_pair on family_links (least(requester_id, target_id), greatest(requester_id, target_id))
    where state <> 'removed';
create index family_links_target on family_links (target_id);
create index family_links_requester on family_links (requester_id);
