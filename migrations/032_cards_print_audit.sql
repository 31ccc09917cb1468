-- Issue 30 finding 7: printing member cards issues new card codes (people's keys) to whoever had
-- none; it is now an audited manager act.
insert into audit_acts (act) values ('cards_print') on conflict do nothing;
