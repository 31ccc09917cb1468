-- Issue 16 (integrity findings 6, 7, 9, 12).

-- Finding 9: wrong logins are throttled per (phone, client address) with a growing wait, not by
-- locking the phone for everyone. One row per pair in a streak of failed tries; a successful login
-- deletes it. `tries` counts the attempts let through (counted before the password is checked, in
-- one UPSERT, so concurrent attempts cannot overshoot); `last_try` is when the last one was.
create table login_throttle (
    phone    text not null,
    ip       text not null,
    tries    integer not null check (tries >= 1),
    last_try timestamptz not null,
    allowed  boolean not null,  -- whether the latest attempt was let through (read by the UPSERT's RETURNING)
    primary key (phone, ip)
);

-- Finding 12: every manager act is audited; two acts had no name yet (domain/core/audit.py ACTS).
insert into audit_acts (act) values ('activity_delete'), ('station_scan');

-- Finding 12: an accepted service left undone lapses (domain/timebank/rules.py ACCEPTED_LAPSES_AFTER);
-- the sweeper cancels it and releases the hold, recorded as a transition by nobody: the system.
alter table service_events alter column actor_id drop not null;
alter table service_events drop constraint service_events_actor_role_check;
alter table service_events add constraint service_events_actor_role_check
    check (actor_role in ('requester', 'beneficiary', 'volunteer', 'manager', 'system'));
alter table service_events add constraint service_events_system_has_no_actor
    check ((actor_id is null) = (actor_role = 'system'));
alter table service_events drop constraint service_events_check;
alter table service_events add constraint service_events_check
    check (actor_id is null or on_behalf_of is distinct from actor_id);
