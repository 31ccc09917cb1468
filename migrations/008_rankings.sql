-- Rankings, households, public postings (公示) with appeals, and the points expiry policy.
--
-- "Earned" (what rankings count) is value a community's issuing account gives a person:
--   + awards and positive adjustments (issuing -> user),
--   - negative adjustments (user -> issuing),
--   - reversals of those (annulled check-ins, corrected reports), counted on the day of what they
--     reverse, so an annulment lowers the quarter the points were earned in.
-- Spending (to the supermarket), gifts, time-bank exchanges between people and expiry are not
-- earning and are not counted. Minutes follow the same rule: minutes banked for time served at
-- the community's activities (time-bank exchanges move existing minutes, they create none).
--
-- Rankings must stay fast with millions of postings, so they never read `entries`: a trigger keeps
-- `earned_daily` (one row per person, community, unit and local day) in the same transaction as
-- the posting. The row is keyed per person, so concurrent check-ins of different people never
-- wait on each other, and a person's own postings are already serialised by their account lock.

-- The time zone of the day buckets. The app keeps it equal to LINLI_TZ: when they differ it
-- rebuilds earned_daily under a lock (domain/rankings.py sync_time_zone).
create table ranking_settings (
    only_row boolean primary key default true check (only_row),
    tz       text not null default 'Asia/Shanghai'
);
insert into ranking_settings default values;

-- No foreign keys: the table is derived (earned_rebuild() recreates it from the ledger) and its ids
-- come from accounts rows; a key check would cost every award two more lookups and a share lock
-- on the community's orgs row, a hot row that every check-in of the community would touch.
create table earned_daily (
    user_id      bigint not null,                        -- users (id)
    community_id bigint not null,                        -- orgs (id): whose issuing account paid
    unit         text not null check (unit in ('points', 'minutes')),
    day          date not null,                          -- local date in ranking_settings.tz
    earned       bigint not null,                        -- net; may be 0 or negative after deductions
    -- Community and street rankings read a range of days of one or a few communities.
    primary key (community_id, unit, day, user_id)
);
-- Team and household rankings, "expiring soon" and the expiry sweep read one person's days.
create index earned_daily_user on earned_daily (user_id, unit, day);

-- Per posting: the trigger runs only for entries on running-balance accounts (users and pools; the
-- WHEN clause skips the issuing side without calling any function), does one indexed select to
-- learn whether the counterparty is an issuing account, and then one upsert.
create function earned_track() returns trigger language plpgsql as $$
declare
    hit record;
    earned_at timestamptz := new.created_at;
begin
    select a.user_id, a.unit, o.org_id, t.kind, t.reverses into hit
      from accounts a
      join transfers t on t.id = new.transfer_id
      join accounts o on o.id = case when t.debit_account = new.account_id
                                     then t.credit_account else t.debit_account end
     where a.id = new.account_id and a.kind = 'user' and o.kind = 'issuing'
       and t.kind in ('award', 'adjustment', 'reversal');
    if not found then
        return null;
    end if;
    if hit.kind = 'reversal' then
        -- Counted on the day of what it reverses, and only if that was earning (not e.g. an expiry).
        select coalesce(r.resolved_at, r.created_at) into earned_at
          from transfers r where r.id = hit.reverses and r.kind in ('award', 'adjustment');
        if not found then
            return null;
        end if;
    end if;
    -- The time zone is read by the insert itself, which first locks earned_daily: a rebuild for a
    -- new time zone (holding it exclusively) makes this wait, then the new zone is read.
    insert into earned_daily (user_id, community_id, unit, day, earned)
    values (hit.user_id, hit.org_id, hit.unit, (earned_at at time zone (select tz from ranking_settings))::date,
            new.amount)
    on conflict (community_id, unit, day, user_id)
    do update set earned = earned_daily.earned + excluded.earned;
    return null;
end $$;

create trigger entries_track_earned after insert on entries
    for each row when (new.balance_after is not null) execute function earned_track();

-- The same rule as the trigger, over the whole ledger: the first fill, and the refill after a
-- change of time zone. The caller holds a lock that keeps postings out meanwhile.
create function earned_rebuild() returns bigint language plpgsql as $$
declare
    rows bigint;
begin
    delete from earned_daily;
    insert into earned_daily (user_id, community_id, unit, day, earned)
    select a.user_id, o.org_id, a.unit,
           (coalesce(coalesce(r.resolved_at, r.created_at), e.created_at)
               at time zone (select tz from ranking_settings))::date,
           sum(e.amount)
      from entries e
      join accounts a on a.id = e.account_id and a.kind = 'user'
      join transfers t on t.id = e.transfer_id
      join accounts o on o.id = case when t.debit_account = e.account_id
                                     then t.credit_account else t.debit_account end
                     and o.kind = 'issuing'
      left join transfers r on r.id = t.reverses
     where t.kind in ('award', 'adjustment')
        or (t.kind = 'reversal' and r.kind in ('award', 'adjustment'))
     group by 1, 2, 3, 4;
    get diagnostics rows = row_count;
    return rows;
end $$;

select earned_rebuild();

-- ---- households (户) ----------------------------------------------------------------------------

create table households (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    name         text not null check (length(name) between 1 and 50),
    created_by   bigint references users (id),
    created_at   timestamptz not null
);
create index households_community on households (community_id, id);

-- A person lives in one household at a time.
create table household_members (
    user_id      bigint primary key references users (id),
    household_id bigint not null references households (id),
    added_by     bigint references users (id),
    added_at     timestamptz not null
);
create index household_members_household on household_members (household_id);

-- ---- public postings (公示) and appeals ----------------------------------------------------------

create table postings (
    id           bigint generated always as identity primary key,
    community_id bigint not null references orgs (id),
    scope        text not null check (scope in ('community', 'household')),
    unit         text not null check (unit in ('points', 'minutes')),
    quarter      text not null check (quarter ~ '^[0-9]{4}Q[1-4]$'),
    top_n        integer not null check (top_n between 1 and 100),
    starts_at    timestamptz not null,
    ends_at      timestamptz not null,
    created_by   bigint not null references users (id),
    created_at   timestamptz not null,
    check (ends_at > starts_at)
);
create index postings_community on postings (community_id, id desc);

-- The list as published: a snapshot, so the public page does not move while it is posted.
-- Only the masked name is kept for display; the id says who it was for the manager's records.
create table posting_entries (
    posting_id   bigint not null references postings (id),
    position     integer not null check (position >= 1),
    rank         integer not null check (rank >= 1),
    user_id      bigint references users (id),
    household_id bigint references households (id),
    masked_name  text not null,
    amount       bigint not null,
    primary key (posting_id, position),
    check ((user_id is null) <> (household_id is null))
);

create table posting_appeals (
    id          bigint generated always as identity primary key,
    posting_id  bigint not null references postings (id),
    user_id     bigint not null references users (id),
    reason      text not null check (length(reason) between 1 and 1000),
    created_at  timestamptz not null,
    answer      text check (length(answer) between 1 and 1000),
    answered_by bigint references users (id),
    answered_at timestamptz,
    check ((answer is null) = (answered_at is null) and (answer is null) = (answered_by is null))
);
create index posting_appeals_posting on posting_appeals (posting_id, id);
-- One unanswered appeal per person and posting: a second one waits for the answer to the first.
create unique index posting_appeals_open on posting_appeals (posting_id, user_id) where answered_at is null;

-- Postings and their snapshots are a public record: never rewritten. Appeals change once (answer).
create function rankings_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;
create trigger postings_append_only before update or delete on postings
    for each row execute function rankings_refuse_change();
create trigger posting_entries_append_only before update or delete on posting_entries
    for each row execute function rankings_refuse_change();

create function posting_appeals_answer_once() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' or old.answered_at is not null
       or (new.id, new.posting_id, new.user_id, new.reason, new.created_at)
          is distinct from (old.id, old.posting_id, old.user_id, old.reason, old.created_at) then
        raise exception 'appeal % is answered once and never rewritten', old.id
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end $$;
create trigger posting_appeals_answer_once before update or delete on posting_appeals
    for each row execute function posting_appeals_answer_once();

-- ---- points expiry policy -----------------------------------------------------------------------

create table points_expiry_policy (
    community_id  bigint primary key references orgs (id),
    points_expire boolean not null,
    updated_by    bigint references users (id),
    updated_at    timestamptz not null
);

-- Who has been swept for which earning year: the claim that makes the sweep safe with many
-- processes (insert ... on conflict do nothing) and run once per person and year.
create table points_expiry_done (
    year      integer not null,
    user_id   bigint not null references users (id),
    expired   bigint not null check (expired >= 0),
    swept_at  timestamptz not null,
    primary key (year, user_id)
);

-- A year whose sweep found nobody left: later sweeps skip it without scanning.
create table points_expiry_years (
    year        integer primary key,
    finished_at timestamptz not null
);
