-- A city loads itself (issue 31): codes on the org tree, invitations by phone for the roles a city
-- list names (managers, unit administrators, party members), the need lifecycle with its credit,
-- 微网格 under a grid with 邻里长 / 微网格员, 亮身份, and where a joining resident lives.

-- Every level of a city's list has a code (统一编码); a re-import finds its rows by it.
alter table orgs add column code text check (code ~ '^[A-Za-z0-9_.-]{1,40}$');
create unique index orgs_code on orgs (code) where code is not null;
-- A community's address, for a resident searching where they live.
alter table orgs add column address text check (length(address) <= 200);

-- Work units from a city's list: their code and their party organisation (党组织).
alter table units add column code text check (code ~ '^[A-Za-z0-9_.-]{1,40}$');
alter table units add column party_org text check (length(party_org) <= 100);
create unique index units_code on units (code) where code is not null;

-- A role named by a list, or by a manager on a page, waits for the person's consent. Keyed by
-- phone: the person may have no account yet; signing in with that phone shows the invitation.
create table role_invites (
    id           bigint generated always as identity primary key,
    kind         text not null check (kind in ('manager', 'unit_admin', 'party_member', 'micro_leader',
                                               'micro_worker')),
    phone        text not null check (phone ~ '^1[3-9][0-9]{9}$'),
    name         text not null check (length(name) between 1 and 50),
    org_id       bigint references orgs (id),      -- manager: the org; party_member: the home community
    grid_id      bigint references orgs (id),      -- party_member: the grid they report to
    unit_id      bigint references units (id),     -- unit_admin, party_member
    micro_grid_id bigint,                          -- micro_leader, micro_worker (fk below)
    invited_by   bigint not null references users (id),
    state        text not null default 'open' check (state in ('open', 'accepted', 'declined')),
    created_at   timestamptz not null,
    answered_at  timestamptz,
    answered_by  bigint references users (id),
    check ((state = 'open') = (answered_at is null)),
    check (kind <> 'manager' or org_id is not null),
    check (kind <> 'unit_admin' or unit_id is not null),
    check (kind <> 'party_member' or (unit_id is not null and org_id is not null)),
    check (kind not in ('micro_leader', 'micro_worker') or micro_grid_id is not null)
);
-- One invitation per person and role: importing the same list again changes nothing.
create unique index role_invites_one on role_invites
    (kind, phone, coalesce(org_id, 0), coalesce(unit_id, 0), coalesce(micro_grid_id, 0))
    where kind <> 'party_member';
create unique index role_invites_party_member on role_invites (phone, unit_id) where kind = 'party_member';
create index role_invites_phone on role_invites (phone) where state = 'open';

-- 微网格: a building or a few, under a grid. Residents live in one (resident_profiles).
create table micro_grids (
    id         bigint generated always as identity primary key,
    grid_id    bigint not null references orgs (id),
    name       text not null check (length(name) between 1 and 50),
    buildings  text not null default '' check (length(buildings) <= 200),
    created_at timestamptz not null,
    unique (grid_id, name)
);
alter table role_invites add constraint role_invites_micro_grid foreign key (micro_grid_id) references micro_grids (id);
alter table resident_profiles add column micro_grid_id bigint references micro_grids (id);
create index resident_profiles_micro_grid on resident_profiles (micro_grid_id) where micro_grid_id is not null;

-- 邻里长 (leader) and 微网格员 (worker): residents who accepted; they mark for their 微网格's
-- residents who have no phone.
create table micro_grid_roles (
    micro_grid_id bigint not null references micro_grids (id),
    user_id       bigint not null references users (id),
    role          text not null check (role in ('leader', 'worker')),
    created_at    timestamptz not null,
    primary key (micro_grid_id, user_id)
);
create index micro_grid_roles_user on micro_grid_roles (user_id);

-- 亮身份: a party member chooses to show it; their household then reads 党员户.
create table party_identity (
    user_id    bigint primary key references users (id),
    shown      boolean not null,
    updated_at timestamptz not null
);

-- Where a joining resident says they live (楼栋 and 单元), so the approving manager is not deciding blind.
alter table join_requests add column building text check (length(building) <= 50);
alter table join_requests add column unit_no text check (length(unit_no) <= 50);

-- The need lifecycle: claimed → served (the person says so) → confirmed (with minutes, credited)
-- or declined / unserved (the place returns to the list).
alter table need_claims add column id bigint generated always as identity;
alter table need_claims add constraint need_claims_id unique (id);
alter table need_claims add column state text not null default 'claimed'
    check (state in ('claimed', 'served', 'awaiting_second', 'confirmed', 'declined', 'unserved'));
alter table need_claims add column unit_id bigint references units (id);   -- the unit they served for
alter table need_claims add column served_at timestamptz;
alter table need_claims add column served_note text check (length(served_note) <= 500);
alter table need_claims add column minutes integer check (minutes between 0 and 1440);
alter table need_claims add column points integer check (points between 0 and 100000);
alter table need_claims add column record text check (length(record) <= 1000);   -- 会议纪要: the community's minutes
alter table need_claims add column confirmed_by bigint references users (id);
alter table need_claims add column approved_by bigint references users (id);     -- the second person, when needed
alter table need_claims add column decided_at timestamptz;
alter table need_claims add column reason text check (length(reason) <= 500);
-- A declined claim frees the place and may be claimed again by the same person: the key is the id.
alter table need_claims drop constraint need_claims_pkey;
alter table need_claims add primary key (id);
create unique index need_claims_live on need_claims (need_id, user_id)
    where state in ('claimed', 'served', 'awaiting_second', 'confirmed');

-- A need's credit is a transfer caused by its claim. Added to whatever list of causes is current,
-- so a sibling migration that also adds a cause keeps its own.
do $$
declare
    current text;
begin
    select pg_get_constraintdef(oid) into current from pg_constraint
     where conrelid = 'transfers'::regclass and conname = 'transfers_cause_type_check';
    if current not like '%''need''%' then
        alter table transfers drop constraint transfers_cause_type_check;
        execute 'alter table transfers add constraint transfers_cause_type_check check (cause_type in ('
            || (select string_agg(quote_literal(m[1]), ', ') from regexp_matches(current, '''([a-z_]+)''', 'g') as m)
            || ', ''need''))';
    end if;
end $$;

insert into audit_acts (act) values
    ('city_import'), ('role_invite'), ('role_invite_answer'), ('need_serve'), ('need_confirm'),
    ('need_decline'), ('micro_grid_create'), ('micro_grid_assign')
on conflict do nothing;
