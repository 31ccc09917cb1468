-- Earned value per person, community, unit and local day (earned_daily) and quarter (earned_quarterly,
-- what rankings and overviews read); kept by the ledger's entries (ledger_write_entries calls earned_add).
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


-- Earned value of a person from an issuing account: `user_id` earned `amount` (signed) of `unit`
-- issued by `community_id`, on the local day of `earned_at`. The time zone is read by the insert
-- itself, which first locks earned_daily: a rebuild for a new time zone (holding it exclusively)
-- makes this wait, then the new zone is read.
create or replace function earned_add(p_user bigint, p_community bigint, p_unit text, p_earned_at timestamptz, p_amount bigint)
returns void language plpgsql as $$
declare
    v_day date;
    v_earned bigint;
begin
    insert into earned_daily (user_id, community_id, unit, day, earned)
    values (p_user, p_community, p_unit, (p_earned_at at time zone (select tz from local_zone))::date, p_amount)
    on conflict (community_id, unit, day, user_id)
    do update set earned = earned_daily.earned + excluded.earned
    returning day, earned into v_day, v_earned;
    -- The quarter's row: the same amount, and one active day more (or less) when this posting moved
    -- the day's net across zero (before it, the day held v_earned - p_amount; no row held 0).
    insert into earned_quarterly (community_id, unit, quarter, user_id, earned, active_days)
    values (p_community, p_unit, date_trunc('quarter', v_day)::date, p_user, p_amount,
            (v_earned > 0)::int - (v_earned - p_amount > 0)::int)
    on conflict (community_id, unit, quarter, user_id)
    do update set earned = earned_quarterly.earned + excluded.earned,
                  active_days = earned_quarterly.active_days + excluded.active_days;
end $$;

-- The same rule as earned_add, over the whole ledger: the first fill, and the refill after a change
-- of time zone (earned_zone_changed). The caller holds a lock that keeps postings out meanwhile.
create or replace function earned_rebuild() returns bigint language plpgsql as $$
declare
    rows bigint;
begin
    delete from earned_daily;
    insert into earned_daily (user_id, community_id, unit, day, earned)
    select a.user_id, o.org_id, a.unit,
           (coalesce(coalesce(r.resolved_at, r.created_at), e.created_at)
               at time zone (select tz from local_zone))::date,
           sum(e.amount)
      from entries e
      join accounts a on a.id = e.account_id and a.kind = 'user'
      join transfers t on t.id = e.transfer_id
      join accounts o on o.id = case when t.debit_account = e.account_id
                                     then t.credit_account else t.debit_account end
                     and o.kind = 'issuing'
      left join transfers r on r.id = t.reverses
     where t.kind in ('award', 'adjustment')
        or (t.kind = 'reversal' and r.kind in ('award', 'adjustment'))
     group by 1, 2, 3, 4;
    get diagnostics rows = row_count;
    perform earned_quarterly_rebuild();
    return rows;
end $$;

-- earned_quarterly from earned_daily, set-based: the refill of earned_rebuild, and of a bulk load that
-- wrote earned_daily without the triggers (bench/ledger_growth.py). The same figures earned_add keeps.
create or replace function earned_quarterly_rebuild() returns bigint language plpgsql as $$
declare
    rows bigint;
begin
    delete from earned_quarterly;
    insert into earned_quarterly (community_id, unit, quarter, user_id, earned, active_days)
    select community_id, unit, date_trunc('quarter', day)::date, user_id, sum(earned),
           count(*) filter (where earned > 0)
      from earned_daily
     group by 1, 2, 3, 4
     -- where earned_add would have put them: a quarter's rows in the order of their first day (not
     -- scattered by the grouping's hash order over twice as many pages)
     order by 3, min(day), 4;
    get diagnostics rows = row_count;
    return rows;
end $$;

-- The zone changed (domain/core/clock.py `write_zone`, at a start with a new LINLI_TZ): the local days
-- are refilled in the new zone. earned_daily is held exclusively first, so postings wait for the
-- refill and then read the new zone (earned_add reads it in its own insert).
create or replace function earned_zone_changed() returns trigger language plpgsql as $$
begin
    lock table earned_daily in exclusive mode;
    lock table earned_quarterly in exclusive mode;
    perform earned_rebuild();
    return null;
end $$;

-- ---- triggers ----
drop trigger if exists local_zone_refills_earned on local_zone;
create trigger local_zone_refills_earned after update of tz on local_zone
    for each row when (old.tz is distinct from new.tz) execute function earned_zone_changed();
