-- Notifications: an inbox row per message (the in-app channel, always), and an outbox row per
-- further channel (SMS, WeChat) written in the same transaction as the act that causes it, so an
-- approval and its message commit or roll back together. Senders in any API process claim outbox
-- rows with SKIP LOCKED and a lease; the (message, channel) pair is the idempotency key sent to the
-- gateway, so a retry after a crash cannot deliver twice to a gateway that honours it.

create table notifications (
    id           bigint generated always as identity primary key,
    user_id      bigint not null references users (id),
    kind         text not null check (length(kind) between 1 and 40),
    community_id bigint references orgs (id),
    params       jsonb not null default '{}',       -- what the text is rendered from, at read time
    link         text check (length(link) <= 300),  -- where the message leads inside Linli
    dedup_key    text check (length(dedup_key) <= 200),  -- one message per (user, key): digests, reminders
    created_at   timestamptz not null,
    read_at      timestamptz
);
create index notifications_inbox on notifications (user_id, id desc);
create index notifications_unread on notifications (user_id) where read_at is null;
create unique index notifications_once on notifications (user_id, dedup_key) where dedup_key is not null;

create table notification_outbox (
    id              bigint generated always as identity primary key,
    notification_id bigint not null references notifications (id),
    channel         text not null check (channel in ('sms', 'wechat')),
    state           text not null default 'pending' check (state in ('pending', 'sent', 'failed')),
    attempts        int not null default 0,
    not_before      timestamptz not null,           -- quiet hours and retry backoff
    lease_until     timestamptz,                    -- a sender is working on it until then
    last_error      text check (length(last_error) <= 500),
    sent_at         timestamptz,
    created_at      timestamptz not null,
    unique (notification_id, channel)
);
create index notification_outbox_due on notification_outbox (not_before, id) where state = 'pending';

-- Each person's choice of channels per kind of message; absent rows mean the defaults in
-- domain/notify/rules.py. The in-app inbox is not optional.
create table notification_preferences (
    user_id  bigint not null references users (id),
    kind     text not null check (length(kind) between 1 and 40),
    channels text[] not null check (channels <@ array['sms', 'wechat']::text[]),
    primary key (user_id, kind)
);

-- Where a person receives WeChat subscription messages (their openid for the configured app).
create table wechat_bindings (
    user_id bigint primary key references users (id),
    openid  text not null check (length(openid) between 1 and 128)
);

-- The daily reminders (digests, expiring vouchers and points, overdue queues) run once a day in
-- the whole deployment: the first process to insert the day's row does them.
create table notification_daily_runs (
    day    date primary key,
    ran_at timestamptz not null
);
