-- Earned value per person, community, unit and local quarter: earned_daily summed over the quarter's
-- days, so a ranking or an overview of a street or district reads one row per person it ranks, not
-- one per person and day (at Meishan's 10^7 postings a year, about eight days a quarter per person).
-- Derived like earned_daily (earned_add keeps both in the posting's transaction, earned_rebuild
-- refills both): no foreign keys, for the reason migrations/008_rankings.sql gives.
create table earned_quarterly (
    community_id bigint not null,                        -- orgs (id): whose issuing account paid
    unit         text not null check (unit in ('points', 'minutes')),
    quarter      date not null,                          -- the quarter's first local day
    user_id      bigint not null,                        -- users (id)
    earned       bigint not null,                        -- net, as earned_daily.earned summed
    active_days  integer not null,                       -- days of the quarter whose earned_daily.earned > 0
    primary key (community_id, unit, quarter, user_id)
);
-- A work unit's members, and one person's quarters, are read by person.
create index earned_quarterly_user on earned_quarterly (user_id, unit, quarter);

insert into earned_quarterly (community_id, unit, quarter, user_id, earned, active_days)
select community_id, unit, date_trunc('quarter', day)::date, user_id, sum(earned),
       count(*) filter (where earned > 0)
  from earned_daily
 group by 1, 2, 3, 4
 order by 3, min(day), 4;
