-- A scan's write in one call (attendance_check_in / attendance_check_out, called by domain/checkin with named arguments), the daily cap of check-in points, and the activity's count of places taken.
--
-- Source of truth for these functions and triggers (docs/architecture.md, "Database functions"):
-- applied by the migrator after the numbered migrations whenever this text changes, in one
-- transaction under the migration lock. Functions are CREATE OR REPLACE; triggers are dropped and
-- created. Edit here, never in a migration.


-- A late scan (an offline queue uploading) is accepted beyond the capacity and flagged for the manager:
-- the station could not see the count when it scanned.
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

-- The daily cap of check-in points: how many of `wanted` points may still be awarded today to a
-- person's `account` from `issuing`, with the account locked, so two concurrent awards cannot both
-- slip under the cap. Today's total comes from the ledger itself (check-in credits not reversed;
-- index transfers_checkin_credit, migrations/010). The one place this rule is decided: every award
-- of attendance (scan, manual mark, late credit) asks it.
-- The rule itself: what may still be awarded today under the cap, never negative.
create or replace function checkin_cap_left(wanted bigint, already bigint, daily_cap bigint) returns integer
language sql immutable as $$ select greatest(0, least(wanted, daily_cap - already))::integer $$;

create or replace function checkin_capped_award(account bigint, issuing bigint, wanted integer, daily_cap integer,
                                     day_start timestamptz, day_end timestamptz) returns integer
language plpgsql as $$
declare
    already bigint;
begin
    if wanted <= 0 then
        return 0;
    end if;
    perform 1 from accounts where id = account for update;
    select coalesce(sum(t.amount), 0) into already from transfers t
     where t.cause_type = 'checkin' and t.credit_account = account and t.debit_account = issuing
       and t.state = 'posted' and t.created_at >= day_start and t.created_at < day_end
       and not exists (select 1 from transfers r where r.reverses = t.id);
    return checkin_cap_left(wanted, already, daily_cap);
end $$;

-- An award of attendance: one posted transfer from the community's issuing account, keyed so a
-- retried credit applies once, written by the ledger's own function (value moves only through it).
create or replace function checkin_award(p_unit text, p_issuing bigint, p_account bigint, p_amount integer,
                              p_attendance bigint, p_memo text, p_actor bigint, p_key text, p_at timestamptz)
returns void language plpgsql as $$
begin
    if p_amount > 0 then
        perform ledger_insert_transfer(p_unit => p_unit, p_debit => p_issuing, p_credit => p_account,
                                       p_amount => p_amount, p_kind => 'award', p_state => 'posted',
                                       p_cause_type => 'checkin', p_cause_id => p_attendance, p_memo => p_memo,
                                       p_actor => p_actor, p_key => p_key, p_at => p_at);
    end if;
end $$;

-- A scan's nonce, taken once per person and activity (domain/checkin/offline.py): false when it was
-- already taken, and the scan then only answers with what stands. A concurrent holder of the same
-- nonce makes this wait for its commit (or its rollback, which frees the nonce).
create or replace function scan_nonce_claim(p_activity bigint, p_user bigint, p_nonce text, p_claimed timestamptz,
                                 p_received timestamptz) returns boolean
language plpgsql as $$
begin
    insert into scan_nonces (activity_id, user_id, nonce, claimed_at, received_at)
    values (p_activity, p_user, p_nonce, p_claimed, p_received)
    on conflict do nothing;
    return found;
end $$;

create or replace function attendance_check_in(
    p_activity bigint, p_user bigint, p_source text, p_at timestamptz, p_received timestamptz, p_late boolean,
    p_nonce text, p_claimed timestamptz, p_actor bigint, p_lat double precision, p_lng double precision, p_device text, p_ip text,
    p_wanted integer, p_daily_cap integer, p_day_start timestamptz, p_day_end timestamptz,
    p_account bigint, p_issuing bigint, p_memo text, p_burst_since timestamptz, p_travel_lookback interval,
    out outcome text, out attendance_id bigint, out points integer, out taken integer,
    out device_people bigint, out address_people bigint,
    out other_activity bigint, out other_at timestamptz, out other_lat double precision, out other_lng double precision)
language plpgsql as $$
begin
    -- The activity the API decided on is still open to check-ins. FOR KEY SHARE, as every scan took
    -- it before: a manager's close (FOR UPDATE) waits for the scans in flight, and they for it.
    perform 1 from activities where id = p_activity and state = 'published' for key share;
    if not found then
        outcome := 'stale';
        return;
    end if;
    if p_nonce is not null and not scan_nonce_claim(p_activity, p_user, p_nonce, p_claimed, p_received) then
        outcome := 'replay';
        return;
    end if;
    points := checkin_capped_award(p_account, p_issuing, p_wanted, p_daily_cap, p_day_start, p_day_end);
    -- With a capacity, this insert moves the activity's `taken` counter and refuses a place beyond it
    -- (migrations/010, 017): the exception rolls the whole call back.
    insert into attendances (activity_id, user_id, state, source, checked_in_at, in_nonce, recorded_by, points,
                             created_at, in_received_at, last_seen_at, in_lat, in_lng, in_device, in_ip)
    values (p_activity, p_user, 'inside', p_source, p_at, p_nonce, p_actor, points, p_received,
            case when p_late then p_received end, p_at, p_lat, p_lng, p_device, p_ip)
    on conflict (activity_id, user_id) do nothing
    returning id into attendance_id;
    if attendance_id is null then
        outcome := 'exists';  -- the same person's other scan checked in first; its nonce stays claimed
        return;
    end if;
    perform checkin_award('points', p_issuing, p_account, points, attendance_id, p_memo, p_actor,
                          'checkin:' || attendance_id || ':in', p_received);
    if p_late then
        select a.taken into taken from activities a where a.id = p_activity;
    end if;
    -- What the fraud signals of a self-scan look at (domain/checkin/fraud.py decides): people checked
    -- in from this device and this address lately, and this person's nearest other located check-in.
    if p_source = 'self' then
        select (select count(distinct t.user_id) from attendances t
                 where p_device is not null and t.in_device = p_device and t.source = 'self'
                   and t.checked_in_at > p_burst_since and t.checked_in_at <= p_at),
               (select count(distinct t.user_id) from attendances t
                 where p_ip is not null and t.in_ip = p_ip and t.source = 'self'
                   and t.checked_in_at > p_burst_since and t.checked_in_at <= p_at)
          into device_people, address_people;
        if p_lat is not null and p_lng is not null then
            select t.activity_id, t.checked_in_at, t.in_lat, t.in_lng
              into other_activity, other_at, other_lat, other_lng
              from attendances t
             where t.user_id = p_user and t.id <> attendance_id and t.in_lat is not null
               and t.checked_in_at between p_at - p_travel_lookback and p_at + p_travel_lookback
             order by abs(extract(epoch from t.checked_in_at - p_at)) limit 1;
        end if;
    end if;
    outcome := 'checked_in';
end $$;

create or replace function attendance_check_out(
    p_attendance bigint, p_activity bigint, p_user bigint, p_at timestamptz, p_minutes integer,
    p_wanted integer, p_daily_cap integer, p_day_start timestamptz, p_day_end timestamptz,
    p_nonce text, p_claimed timestamptz, p_late boolean, p_auto boolean, p_now timestamptz, p_actor bigint,
    p_points_account bigint, p_minutes_account bigint, p_issuing_points bigint, p_issuing_minutes bigint,
    p_memo text, out outcome text, out points integer)
language plpgsql as $$
begin
    -- A scan's check-out locks the activity first, FOR KEY SHARE as a check-in does: its nonce's
    -- foreign key takes that lock anyway, and taken after the attendance's it waited for a close
    -- (activity, then the attendances inside) that waited for it. An automatic check-out's caller
    -- already holds the activity (a close; the window-end sweep: domain/checkin `_lock_activity`).
    if not p_auto then
        perform 1 from activities where id = p_activity for key share;
    end if;
    -- Still inside (the minutes were computed from its check-in time, which never changes while
    -- inside); the row stays locked until the transaction ends.
    perform 1 from attendances where id = p_attendance and state = 'inside' for update;
    if not found then
        outcome := 'stale';
        return;
    end if;
    if p_nonce is not null and not scan_nonce_claim(p_activity, p_user, p_nonce, p_claimed, p_now) then
        outcome := 'replay';
        return;
    end if;
    -- The person's accounts in id order, before any write, as every writer of the ledger locks them.
    perform 1 from accounts where id in (p_points_account, p_minutes_account) order by id for update;
    points := checkin_capped_award(p_points_account, p_issuing_points, p_wanted, p_daily_cap, p_day_start, p_day_end);
    update attendances set state = 'done', checked_out_at = p_at, minutes = p_minutes,
                           points = attendances.points + attendance_check_out.points, auto_checkout = p_auto,
                           out_nonce = p_nonce, out_received_at = case when p_late then p_now end
     where id = p_attendance;
    perform checkin_award('points', p_issuing_points, p_points_account, points, p_attendance, p_memo, p_actor,
                          'checkin:' || p_attendance || ':out:points', p_now);
    perform checkin_award('minutes', p_issuing_minutes, p_minutes_account, p_minutes, p_attendance, p_memo, p_actor,
                          'checkin:' || p_attendance || ':out:minutes', p_now);
    outcome := 'checked_out';
end $$;

-- ---- triggers ----
drop trigger if exists attendances_count_taken on attendances;
create trigger attendances_count_taken after insert on attendances
    for each row execute function activities_count_taken();
-- Check-outs (inside -> done) keep their place: the WHEN clause skips them without a call.
drop trigger if exists attendances_count_taken_change on attendances;
create trigger attendances_count_taken_change after update of state on attendances
    for each row when ((old.state = 'annulled') is distinct from (new.state = 'annulled'))
    execute function activities_count_taken();
