-- Issue 30, finding 7: a pending family link showed only for registered numbers, so the list of
-- one's own asks told whether a phone was registered. An ask for a number with no (active) account
-- is now kept too, by phone, and shows as pending like any other; nobody can approve it.
alter table family_links alter column target_id drop not null;
alter table family_links add column if not exists target_phone text;
alter table family_links add constraint family_links_target_or_phone
    check (target_id is not null or target_phone is not null);
create unique index if not exists family_links_phone_ask on family_links (requester_id, target_phone)
    where target_id is null and state = 'pending';
