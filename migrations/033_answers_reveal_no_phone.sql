-- Issue 30, finding 7: a pending family link showed only for registered numbers, so the list of
-- one's own asks told whether a phone was registered. An ask for a number with no (active) account
-- is now kept too, by phone, and shows as pending like any other; nobody can approve it.
alter table family_links alter column target_id drop not null;
alter table family_links add column if not exists target_phone text;
alter table family_links add constraint family_links_target_or_phone
    check (target_id is not null or target_phone is not null);
create unique index if not exists family_links_phone_ask on family_links (requester_id, target_phone)
    where target_id is null and state = 'pending';

-- Appointing a unit administrator by phone answered 422 "no account" or 204, and appointed at once,
-- without the person's consent. Now it is an offer to whoever proves that phone (their account), the
-- answer is the same for any valid phone, and the person accepts or declines it.
create table if not exists unit_admin_offers (
    id          bigint generated always as identity primary key,
    unit_id     bigint not null references units (id),
    phone       text not null check (phone ~ '^1[3-9][0-9]{9}$'),
    offered_by  bigint not null references users (id),
    created_at  timestamptz not null,
    state       text not null default 'pending' check (state in ('pending', 'accepted', 'declined')),
    answered_at timestamptz,
    answered_by bigint references users (id),
    check ((state = 'pending') = (answered_at is null)),
    check ((answered_at is null) = (answered_by is null))
);
create unique index if not exists unit_admin_offers_pending on unit_admin_offers (unit_id, phone)
    where state = 'pending';
create index if not exists unit_admin_offers_phone on unit_admin_offers (phone) where state = 'pending';
