-- A scan's check-out takes the activity's lock before the attendance's (migrations/022 took them the
-- other way round, through the nonce's foreign key): every scan and a manager's close now lock the
-- activity, then the attendance, as before the one-call write, and a check-out scanned while the
-- manager closes no longer deadlocks with the close
-- (tests/checkin/test_scan_in_one_call.py test_a_check_out_scan_and_a_close_at_the_same_moment_both_go_through).

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
