-- 双报到 and the city above the community.
-- Work units (单位/党组织) sit under a street or district, not inside a community; their
-- administrators see only their own members. A person declares themself a (party) member of a unit
-- and reports (报到) to the community and grid they live in; the community's managers confirm.
-- Communities publish a needs list; each quarter they confirm a member's service card, which the
-- unit sees. Streets and districts set a yearly target of service hours.

create table units (
    id         bigint generated always as identity primary key,
    name       text not null check (length(name) between 1 and 100),
    kind       text not null check (kind in ('government', 'enterprise', 'school', 'institution', 'social', 'other')),
    parent_id  bigint not null references orgs (id),     -- a street or a district (checked in domain/units)
    created_at timestamptz not null
);
create index units_parent on units (parent_id);

create table unit_admins (
    unit_id    bigint not null references units (id),
    user_id    bigint not null references users (id),
    created_at timestamptz not null,
    primary key (unit_id, user_id)
);
create index unit_admins_user on unit_admins (user_id);

-- The unit's own list of its members (uploaded): a person who declares membership and is on it
-- is confirmed at once; anyone else waits for a unit administrator.
create table unit_roster (
    unit_id    bigint not null references units (id),
    phone      text not null check (phone ~ '^1[3-9][0-9]{9}$'),
    name       text not null check (length(name) between 1 and 100),
    created_at timestamptz not null,
    primary key (unit_id, phone)
);

create table unit_members (
    unit_id      bigint not null references units (id),
    user_id      bigint not null references users (id),
    party_member boolean not null,
    confirmed    boolean not null,          -- the unit agrees this is one of theirs
    created_at   timestamptz not null,
    primary key (unit_id, user_id)
);
create index unit_members_user on unit_members (user_id);

-- 报到单: one open or approved report per person (the place they live).
create table unit_reports (
    id           bigint generated always as identity primary key,
    user_id      bigint not null references users (id),
    unit_id      bigint not null references units (id),
    community_id bigint not null references orgs (id),
    grid_id      bigint references orgs (id),
    state        text not null check (state in ('pending', 'approved', 'rejected', 'withdrawn')),
    reason       text check (length(reason) <= 500),
    created_at   timestamptz not null,
    decided_by   bigint references users (id),
    decided_at   timestamptz,
    check ((state in ('approved', 'rejected')) = (decided_at is not null))
);
create unique index unit_reports_one_home on unit_reports (user_id) where state in ('pending', 'approved');
create index unit_reports_queue on unit_reports (community_id, state, id);
create index unit_reports_unit on unit_reports (unit_id, state);

-- 需求清单: what the community asks of reported members.
create table community_needs (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    title        text not null check (length(title) between 1 and 100),
    description  text not null default '' check (length(description) <= 1000),
    kind         text not null check (kind in ('post', 'duty', 'activity')),
    slots        integer not null check (slots between 1 and 1000),
    state        text not null default 'open' check (state in ('open', 'closed')),
    created_by   bigint not null references users (id),
    created_at   timestamptz not null
);
create index community_needs_open on community_needs (community_id, state, id);

create table need_claims (
    need_id    bigint not null references community_needs (id),
    user_id    bigint not null references users (id),
    created_at timestamptz not null,
    primary key (need_id, user_id)
);

-- 服务登记卡: the community confirms a member's quarter (a snapshot of what it counted).
create table service_cards (
    user_id      bigint not null references users (id),
    community_id bigint not null references orgs (id),
    quarter      text not null check (quarter ~ '^[0-9]{4}Q[1-4]$'),
    minutes      bigint not null,
    points       bigint not null,
    confirmed_by bigint not null references users (id),
    confirmed_at timestamptz not null,
    primary key (user_id, community_id, quarter)
);

-- A street's or district's yearly target of service minutes per reported member.
create table service_targets (
    org_id  bigint not null references orgs (id),
    year    integer not null check (year between 2000 and 2100),
    minutes integer not null check (minutes between 0 and 100000),
    set_by  bigint not null references users (id),
    set_at  timestamptz not null,
    primary key (org_id, year)
);

insert into audit_acts (act) values
    ('unit_create'), ('unit_admin_grant'), ('unit_roster_upload'), ('unit_member_confirm'),
    ('unit_report_approve'), ('unit_report_reject'), ('need_create'), ('need_close'),
    ('service_card_confirm'), ('service_target_set');
