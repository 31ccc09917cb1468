-- A community's own check-in policy: the daily cap of check-in points and how often a kiosk's code
-- changes, for the activities it creates from now on. An empty column (or no row) takes the
-- environment's default (LINLI_DAILY_CHECKIN_POINTS_CAP, LINLI_ROTATION_SECONDS): the environment gives
-- defaults only, the community decides (domain/checkin/policies.py).
create table checkin_policies (
    community_id     bigint primary key references orgs (id),
    daily_points_cap integer check (daily_points_cap between 0 and 100000),
    rotation_seconds integer check (rotation_seconds between 2 and 300),
    updated_by       bigint not null references users (id),
    updated_at       timestamptz not null
);
