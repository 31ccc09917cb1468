-- The database's one copy of the time zone (LINLI_TZ), read by its SQL: written by every start from
-- the settings (domain/core/clock.py `write_zone`), never edited by anyone. It was the rankings'
-- own setting; its readers are the ledger's, the units' and the rankings' queries alike.
alter table ranking_settings rename to local_zone;
comment on table local_zone is 'A copy of LINLI_TZ written at start (domain/core/clock.py write_zone); never edit it.';
