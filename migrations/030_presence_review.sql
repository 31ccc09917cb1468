-- Issue 30, finding 3: a late scan that cannot be believed on its own is held for review instead of
-- being credited at once (domain/checkin/offline.py held_reasons). Its review item is a scan_flag of
-- reason 'late_scan' (details: step check_in | check_out, why [...], points held, until claimed).
alter table scan_flags drop constraint if exists scan_flags_reason_check;
alter table scan_flags add constraint scan_flags_reason_check
    check (reason in ('impossible_travel', 'device_burst', 'address_burst', 'late_over_capacity', 'auto_checkout',
                      'late_scan'));

-- What holds credit and waits for a manager (domain/checkin/fraud.py HELD_REASONS): the held-acts
-- queue reads the open ones, and a check-out asks whether its late check-in is still held.
create index if not exists scan_flags_held_open on scan_flags (attendance_id)
    where resolved_at is null and reason in ('auto_checkout', 'late_scan');
