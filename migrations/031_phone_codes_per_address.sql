-- Issue 30, finding 5: wrong codes from one address locked the phone for everyone (the owner too).
-- A code now belongs to the address that asked for it: only tries from that address spend it, and a
-- burnt code locks that (phone, address) pair only.
alter table phone_codes add column if not exists ip text;
create index if not exists phone_codes_phone_ip on phone_codes (phone, purpose, ip, id desc);
