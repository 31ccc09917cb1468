-- Check-in without counting: the places taken of an activity with a capacity are kept in a counter,
-- and the database itself refuses a check-in beyond the capacity.
--
-- A check-in used to count the activity's attendances under an exclusive lock of the activity row,
-- taken at the start of its transaction, so every check-in of an event waited for the whole of the
-- one before it, and the count grew with the event. Now the attendance insert moves the counter:
-- only activities with a capacity are written (and so locked), from the insert to the commit.
--
-- `taken` = attendances in state 'inside' or 'done' (an annulled one gives its place back), kept by
-- the triggers below in the transaction that changes them, and ONLY for activities with a capacity:
-- keeping it for every activity would make every check-in lock the activity row. Capacity is fixed
-- once published (only drafts are edited, and a draft has no attendances), so the counter of an
-- activity with a capacity covers all of its attendances.

alter table activities add column taken integer not null default 0 check (taken >= 0);

create function activities_count_taken() returns trigger language plpgsql as $$
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
    -- An activity without a capacity matches nothing here: its row is neither written nor locked.
    -- With one, check-ins of the activity take turns from here to their commit, each seeing the
    -- count the one before left, so 50 concurrent scans for 20 places admit exactly 20.
    update activities set taken = taken + delta
     where id = new.activity_id and capacity is not null
    returning taken, capacity into taken_now, capacity_now;
    -- A scan (self or station) needs a free place; a manager's manual mark vouches that the person
    -- was there and may go beyond the capacity.
    if tg_op = 'INSERT' and new.source <> 'manual' and taken_now > capacity_now then
        raise exception 'activity % is full', new.activity_id
            using errcode = 'check_violation', constraint = 'activities_capacity';
    end if;
    return null;
end $$;

create trigger attendances_count_taken after insert on attendances
    for each row execute function activities_count_taken();
-- Check-outs (inside -> done) keep their place: the WHEN clause skips them without a call.
create trigger attendances_count_taken_change after update of state on attendances
    for each row when ((old.state = 'annulled') is distinct from (new.state = 'annulled'))
    execute function activities_count_taken();

update activities a
   set taken = (select count(*) from attendances t where t.activity_id = a.id and t.state in ('inside', 'done'))
 where capacity is not null;

-- Today's check-in points of a person (the daily cap) are read on every check-in award. Read
-- through entries, that read went over the person's whole history; this index of the check-in
-- credits by account and time reads only today's few. Only check-in transfers pay for it.
create index transfers_checkin_credit on transfers (credit_account, created_at) where cause_type = 'checkin';
