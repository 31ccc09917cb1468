-- Records beyond service (志愿服务条例 §19, issue 36): training with attendance, commendations,
-- evaluations and insurance; activity requirements; service history restored from an export; and
-- restores of a record export (one admin asks, a second approves).

create table trainings (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    title        text not null check (length(title) between 1 and 100),
    topic        text not null default '' check (length(topic) <= 50),   -- what an activity may require
    held_on      date not null,
    minutes      integer not null check (minutes between 1 and 1440),
    created_by   bigint references users (id),
    created_at   timestamptz not null
);
create index trainings_community on trainings (community_id, held_on);

create table training_attendance (
    training_id bigint not null references trainings (id),
    user_id     bigint not null references users (id),
    recorded_by bigint references users (id),
    created_at  timestamptz not null,
    primary key (training_id, user_id)
);
create index training_attendance_user on training_attendance (user_id);

-- 表彰奖励, entered by a manager of the community.
create table commendations (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    user_id      bigint not null references users (id),
    title        text not null check (length(title) between 1 and 100),
    awarded_on   date not null,
    note         text not null default '' check (length(note) <= 500),
    awarded_by   bigint references users (id),
    created_at   timestamptz not null
);
create index commendations_user on commendations (user_id);
create index commendations_community on commendations (community_id, awarded_on);

-- 评价: an organiser rates a volunteer's service (after an activity, or in general); the person sees it.
create table evaluations (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    user_id      bigint not null references users (id),
    activity_id  bigint references activities (id),
    activity_title text not null default '' check (length(activity_title) <= 100),  -- kept for exports
    rating       integer not null check (rating between 1 and 5),
    comment      text not null default '' check (length(comment) <= 500),
    evaluated_on date not null,
    evaluator_id bigint references users (id),
    created_at   timestamptz not null
);
create index evaluations_user on evaluations (user_id);
create index evaluations_community on evaluations (community_id, evaluated_on);

-- Insurance (§17): a policy covering one person, or every volunteer of one activity.
create table insurance_policies (
    id            bigint generated always as identity primary key,
    community_id  bigint not null references orgs (id),
    user_id       bigint references users (id),
    activity_id   bigint references activities (id),
    policy_number text not null check (length(policy_number) between 1 and 64),
    insurer       text not null default '' check (length(insurer) <= 100),
    starts_on     date not null,
    ends_on       date not null,
    recorded_by   bigint references users (id),
    created_at    timestamptz not null,
    check ((user_id is null) <> (activity_id is null)),
    check (ends_on >= starts_on)
);
create index insurance_user on insurance_policies (user_id);
create index insurance_activity on insurance_policies (activity_id);

-- What an activity asks of its volunteers before they check in.
alter table activities add column requires_training text check (length(requires_training) between 1 and 50),
                       add column requires_insurance boolean not null default false;

-- Service done before Linli (restored from another system's export): hours only, no points.
create table service_history (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    user_id      bigint not null references users (id),
    served_on    date not null,
    title        text not null check (length(title) between 1 and 100),
    minutes      integer not null check (minutes between 0 and 20160),
    created_at   timestamptz not null
);
create index service_history_user on service_history (user_id);
create index service_history_community on service_history (community_id, served_on);

-- Restoring a record export: asked by one admin, applied when a second admin approves.
create table record_restores (
    id           bigint generated always as identity primary key,
    state        text not null check (state in ('pending', 'applied', 'refused')),
    file_sha256  text not null check (length(file_sha256) = 64),
    payload      jsonb not null,
    summary      jsonb not null,
    requested_by bigint not null references users (id),
    decided_by   bigint references users (id),
    created_at   timestamptz not null,
    decided_at   timestamptz,
    check ((state = 'pending') = (decided_at is null))
);

insert into audit_acts (act) values ('training_create'), ('training_attend'), ('commendation_add'),
    ('evaluation_add'), ('insurance_add'), ('activity_requirements'), ('records_restore_request'),
    ('records_restore_apply')
on conflict do nothing;
insert into scan_refusal_reasons (reason) values ('requirement_unmet') on conflict do nothing;
