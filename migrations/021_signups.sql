-- Sign-up (报名) for activities, with a waiting list: the first `capacity` sign-ups are confirmed,
-- the rest wait in order and move up, oldest first, when a confirmed place frees.
create sequence activity_signups_order;
create table activity_signups (
    activity_id  bigint not null references activities (id),
    user_id      bigint not null references users (id),
    state        text not null check (state in ('confirmed', 'waiting', 'cancelled')),
    signed_up_at timestamptz not null,
    queue_order  bigint not null default nextval('activity_signups_order'),  -- the place in the queue
    changed_at   timestamptz not null,
    primary key (activity_id, user_id)
);
create index activity_signups_queue on activity_signups (activity_id, state, queue_order);
create index activity_signups_user on activity_signups (user_id, state);
