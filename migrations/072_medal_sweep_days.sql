-- Issue 34: the periodic medal sweep runs once a local day per community. A process claims the
-- community's day here (insert ... on conflict do nothing) before it sweeps: two processes never
-- sweep the same community the same day, and a new day sweeps again (nothing twice: medals' key).
create table medal_sweep_days (
    community_id bigint not null references orgs (id),
    day          date not null,
    swept_at     timestamptz not null,
    primary key (community_id, day)
);
