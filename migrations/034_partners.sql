-- Partner organisations (伙伴单位): handlers of cases (departments 职能部门, property companies 物业,
-- work units 单位) and, later, merchants (爱心商家). One model for all of them: an organisation of a
-- kind, invited by a street or a community (its parent), whose staff join by consent, like any
-- membership: the parent's manager (or the partner's own admin) invites a phone; a phone nobody has
-- registered gets a password-less account its owner claims with the SMS code (domain/people/auth.py
-- claim_invited); the person then accepts or declines the invitation themself.

create table partners (
    id         bigint generated always as identity primary key,
    kind       text not null check (kind in ('department', 'property', 'unit', 'merchant')),
    name       text not null check (length(name) between 1 and 100),
    parent_id  bigint not null references orgs (id),      -- the street or community that invited it
    unit_id    bigint unique references units (id),       -- the 双报到 work unit this partner is
    created_by bigint not null references users (id),
    created_at timestamptz not null,
    check ((kind = 'unit') = (unit_id is not null))
);
create unique index partners_parent_name on partners (parent_id, name);

create table partner_staff (
    partner_id bigint not null references partners (id),
    user_id    bigint not null references users (id),
    role       text not null check (role in ('admin', 'staff')),
    created_at timestamptz not null,
    primary key (partner_id, user_id)
);
create index partner_staff_user on partner_staff (user_id);

create table partner_invitations (
    id          bigint generated always as identity primary key,
    partner_id  bigint not null references partners (id),
    user_id     bigint not null references users (id),
    role        text not null check (role in ('admin', 'staff')),
    invited_by  bigint not null references users (id),
    state       text not null default 'pending' check (state in ('pending', 'accepted', 'declined')),
    created_at  timestamptz not null,
    answered_at timestamptz,
    check ((state = 'pending') = (answered_at is null))
);
create unique index partner_invitations_open on partner_invitations (partner_id, user_id) where state = 'pending';
create index partner_invitations_user on partner_invitations (user_id, state);

insert into audit_acts (act) values ('partner_create'), ('partner_invite'), ('partner_invitation_answer')
on conflict do nothing;
