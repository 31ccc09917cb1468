-- 爱心商家 (issue 35): merchants are partner organisations of kind 'merchant' (migrations/034: invited
-- by a street or community, staff by consent) with their details, the communities they serve, a
-- points account of their own, offers approved by a community manager, vouchers residents show at
-- the counter, and redemptions staff confirm there. The rules live in domain/merchants; value moves
-- only through domain/ledger (a spend from the person's accounts to the merchant's account).

-- A merchant's account: kind 'merchant', one per merchant (partner_id), points only. Like the
-- supermarket it keeps no running balance (its balance is the sum of its entries: `linli ledger
-- check`), so concurrent redemptions at one merchant never wait on its row. org_id is the level it
-- settles with (the one community it serves, or the street whose area it serves).
alter table accounts drop constraint accounts_kind_check;
alter table accounts add constraint accounts_kind_check
    check (kind in ('user', 'issuing', 'pool', 'supermarket', 'merchant'));
alter table accounts add column partner_id bigint references partners (id);
alter table accounts add constraint accounts_merchant_partner check ((kind = 'merchant') = (partner_id is not null));
alter table accounts add constraint accounts_merchant_hot
    check (kind <> 'merchant' or (unit = 'points' and balance = 0 and held = 0));
drop index accounts_org_kind_unit;
create unique index accounts_org_kind_unit on accounts (org_id, kind, unit) where kind not in ('user', 'merchant');
create unique index accounts_merchant on accounts (partner_id, unit) where kind = 'merchant';

-- A merchant redemption's transfers name it as their cause: the list of causes gains one, keeping
-- whatever other migrations added (the pattern of migrations/050).
do $$
declare
    current text;
begin
    select pg_get_constraintdef(oid) into current from pg_constraint
     where conrelid = 'transfers'::regclass and conname = 'transfers_cause_type_check';
    if current not like '%''merchant_redemption''%' then
        alter table transfers drop constraint transfers_cause_type_check;
        execute 'alter table transfers add constraint transfers_cause_type_check check (cause_type in ('
            || (select string_agg(quote_literal(m[1]), ', ') from regexp_matches(current, '''([a-z_]+)''', 'g') as m)
            || ', ''merchant_redemption''))';
    end if;
end $$;

-- A voucher's code is a code like any other (look-alike tolerant, migrations/040): kind 'offer'.
alter table codes drop constraint codes_kind_check;
alter table codes add constraint codes_kind_check check (kind in ('poster', 'rotating', 'member', 'voucher', 'offer'));

create table merchants (
    partner_id     bigint primary key references partners (id),
    address        text not null check (length(address) between 1 and 200),
    contact_phone  text not null check (contact_phone ~ '^1[3-9][0-9]{9}$'),
    category       text not null check (length(category) between 1 and 30),
    settles_with   bigint not null references orgs (id),   -- the community it serves alone, or the street
    suspended_at   timestamptz,
    suspended_by   bigint references users (id),
    suspend_reason text check (length(suspend_reason) between 1 and 500),
    check ((suspended_at is null) = (suspended_by is null))
);

create table merchant_communities (
    partner_id   bigint not null references partners (id),
    community_id bigint not null references orgs (id),
    primary key (partner_id, community_id)
);
create index merchant_communities_community on merchant_communities (community_id);

-- The money a settling level (a community or a street) pays per point; no row: goods are donated.
create table merchant_rates (
    org_id        bigint primary key references orgs (id),
    fen_per_point integer not null check (fen_per_point between 0 and 100000),
    set_by        bigint not null references users (id),
    set_at        timestamptz not null
);

create table merchant_offers (
    id            bigint generated always as identity primary key,
    partner_id    bigint not null references partners (id),
    name          text not null check (length(name) between 1 and 60),
    description   text not null default '' check (length(description) <= 500),
    price_points  integer not null check (price_points > 0),
    monthly_limit integer not null check (monthly_limit between 1 and 100),  -- per person, local month
    stock         integer not null check (stock >= 0),
    valid_days    smallint not null check (valid_days between 1 and 127),   -- bit 0 Monday ... bit 6 Sunday
    opens         time not null,
    closes        time not null,
    state         text not null default 'pending' check (state in ('pending', 'approved', 'withdrawn')),
    decided_by    bigint references users (id),
    decided_at    timestamptz,
    created_by    bigint not null references users (id),
    created_at    timestamptz not null,
    check (opens < closes),
    check ((state = 'pending') = (decided_at is null))
);
create index merchant_offers_partner on merchant_offers (partner_id, id);

create table merchant_vouchers (
    id           bigint generated always as identity primary key,
    offer_id     bigint not null references merchant_offers (id),
    user_id      bigint not null references users (id),
    code         text not null unique references codes (code),
    community_id bigint not null references orgs (id),   -- where the points are spent (a served community)
    created_at   timestamptz not null,
    expires_at   timestamptz not null,
    used_at      timestamptz
);
create index merchant_vouchers_user on merchant_vouchers (user_id, id desc);

create table merchant_redemptions (
    id            bigint generated always as identity primary key,
    partner_id    bigint not null references partners (id),
    offer_id      bigint not null references merchant_offers (id),
    offer_name    text not null,
    user_id       bigint not null references users (id),
    community_id  bigint not null references orgs (id),
    via           text not null check (via in ('voucher', 'card')),
    voucher_id    bigint unique references merchant_vouchers (id),   -- one voucher, one redemption
    points        integer not null check (points > 0),
    staff_id      bigint not null references users (id),
    redeemed_at   timestamptz not null,
    refunded_at   timestamptz,
    refunded_by   bigint references users (id),
    refund_reason text check (length(refund_reason) between 1 and 500),
    check ((via = 'voucher') = (voucher_id is not null)),
    check (staff_id <> user_id),
    check ((refunded_at is null) = (refund_reason is null) and (refunded_at is null) = (refunded_by is null))
);
create index merchant_redemptions_partner on merchant_redemptions (partner_id, redeemed_at);
create index merchant_redemptions_person on merchant_redemptions (user_id, offer_id, redeemed_at);

insert into audit_acts (act) values ('merchant_create'), ('merchant_suspend'), ('merchant_offer_create'),
    ('merchant_offer_decide'), ('merchant_redeem'), ('merchant_refund'), ('merchant_rate')
on conflict do nothing;
