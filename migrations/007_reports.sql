-- Courier reports (兼职网格员上报): what a courier saw or did, its photo, and the manager's review.

-- Per-community overrides of the report rules; a null column means the default in domain/report_rules.py.
create table report_settings (
    community_id    bigint primary key references orgs (id),
    civility_points integer check (civility_points between 0 and 1000),
    hazard_points   integer check (hazard_points between 0 and 1000),
    service_points  integer check (service_points between 0 and 1000),
    daily_cap       integer check (daily_cap between 0 and 100000),
    updated_by      bigint references users (id),
    updated_at      timestamptz not null
);

-- Lets a report name its grid and that grid's community together (reports_grid_community below), so
-- the community a report is scoped to can never disagree with the grid it was filed in.
create unique index orgs_id_parent on orgs (id, parent_id);

create table reports (
    id              bigint generated always as identity primary key,
    courier_id      bigint not null references users (id),
    grid_id         bigint not null,
    community_id    bigint not null,
    kind            text not null check (kind in ('civility', 'hazard', 'service')),
    text            text not null check (length(text) between 1 and 500),
    place           text not null default '' check (length(place) <= 200),
    lat             double precision check (lat between -90 and 90),
    lng             double precision check (lng between -180 and 180),
    has_photo       boolean not null default false,
    client_key      text check (length(client_key) between 1 and 200),  -- the upload's Idempotency-Key
    state           text not null default 'pending' check (state in ('pending', 'verified', 'rejected')),
    points          integer check (points >= 0),            -- awarded on verify; less than the kind's when capped
    points_withheld integer not null default 0 check (points_withheld >= 0),  -- cut by the daily cap
    reject_reason   text check (length(reject_reason) between 1 and 200),
    reviewed_by     bigint references users (id),
    reviewed_at     timestamptz,
    transfer_id     bigint unique references transfers (id),  -- the award; none when capped to 0
    created_at      timestamptz not null,
    constraint reports_grid_community foreign key (grid_id, community_id) references orgs (id, parent_id),
    -- A retried upload (same courier, same key) finds the first report instead of filing a second.
    unique (courier_id, client_key),
    check ((lat is null) = (lng is null)),
    check (kind <> 'hazard' or has_photo),
    check ((state = 'pending') = (reviewed_at is null)),
    check ((state = 'pending') = (reviewed_by is null)),
    check ((state = 'verified') = (points is not null)),
    check ((state = 'rejected') = (reject_reason is not null)),
    check (transfer_id is null or (state = 'verified' and points > 0)),
    check (state = 'verified' or points_withheld = 0)
);
create index reports_queue on reports (community_id, state, id desc);
create index reports_grid on reports (grid_id, state, id desc);
create index reports_courier on reports (courier_id, id desc);

-- Only the processed JPEG (re-encoded, metadata stripped) is kept, never the upload; a table of its
-- own keeps list queries over reports from dragging image bytes along.
create table report_photos (
    report_id bigint primary key references reports (id),
    jpeg      bytea not null check (length(jpeg) between 1 and 8388608),
    width     integer not null check (width between 1 and 1600),
    height    integer not null check (height between 1 and 1600)
);

-- A review is final: only a pending report may change, and only its review columns.
create function reports_review_once() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'reports are never deleted' using errcode = 'integrity_constraint_violation';
    end if;
    if old.state <> 'pending'
       or (new.id, new.courier_id, new.grid_id, new.community_id, new.kind, new.text, new.place, new.lat,
           new.lng, new.has_photo, new.client_key, new.created_at)
          is distinct from
          (old.id, old.courier_id, old.grid_id, old.community_id, old.kind, old.text, old.place, old.lat,
           old.lng, old.has_photo, old.client_key, old.created_at) then
        raise exception 'report % was already reviewed or is immutable', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;

create trigger reports_review_once before update or delete on reports
    for each row execute function reports_review_once();
