-- 申请补录 (issue 33, finding 4b): a person checked out with nothing (or too little) credited asks the
-- managers to credit their time, with a reason. The request waits on the activity's review list; the
-- manager credits through the review list's own act (scan_flags resolve 'credit'). Kept in its own
-- table, apart from the scan flags, so the review of late scans can change without it.
create table checkout_corrections (
    id            bigint generated always as identity primary key,
    attendance_id bigint not null unique references attendances (id),  -- one request per attendance
    activity_id   bigint not null references activities (id),
    community_id  bigint not null references orgs (id),
    user_id       bigint not null references users (id),
    reason        text not null check (length(reason) between 1 and 500),
    created_at    timestamptz not null
);
create index checkout_corrections_activity on checkout_corrections (activity_id, id);
