-- QR codes (every QR is <public url>/s/<code>) and the log of refused scans.

create table codes (
    code        text primary key check (length(code) between 10 and 32),
    kind        text not null check (kind in ('poster', 'rotating', 'member', 'voucher')),
    target_id   bigint not null,          -- activity, user or redemption id, by kind
    valid_from  timestamptz,
    valid_until timestamptz,
    revoked_at  timestamptz,
    used_at     timestamptz,              -- single-use codes (vouchers)
    created_at  timestamptz not null
);
create index codes_target on codes (kind, target_id, created_at desc);

-- Refused scans are kept with their reason: managers learn from them, volunteers see why.
create table failed_scans (
    id          bigint generated always as identity primary key,
    code        text,
    code_kind   text,
    target_id   bigint,
    activity_id bigint,
    user_id     bigint references users (id),
    reason      text not null check (reason in ('code_unknown', 'code_expired', 'code_revoked', 'outside_window',
        'capacity_full', 'not_published', 'not_member', 'too_far', 'daily_cap_reached', 'invalid_state',
        'already_used', 'forbidden', 'validation_failed', 'insufficient_balance', 'out_of_stock',
        'limit_reached', 'rate_limited')),
    details     jsonb not null default '{}',
    created_at  timestamptz not null
);
create index failed_scans_activity on failed_scans (activity_id, id desc);
create index failed_scans_user on failed_scans (user_id, id desc);
