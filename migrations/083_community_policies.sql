-- One home for what a community decides: checkin_policies (082) becomes community_policies and takes
-- the rest of a community's rules that the environment used to decide alone: the offline window, the
-- grace of a rotating code, the fraud review's thresholds, the kiosk pairing code's life, and how long
-- a redemption request and an approved voucher last. An empty column (or no row) takes the
-- environment's default (LINLI_*): the environment gives defaults only. The bounds a manager may set
-- are decided in Python (domain/people/community_policy.py); the checks here only keep out values no
-- rule could use.
alter table checkin_policies rename to community_policies;
alter index checkin_policies_pkey rename to community_policies_pkey;
alter table community_policies
    add column rotation_grace_seconds    integer check (rotation_grace_seconds >= 0),
    add column offline_max_delay_seconds integer check (offline_max_delay_seconds >= 0),
    add column fraud_max_speed_kmh       integer check (fraud_max_speed_kmh > 0),
    add column fraud_burst_minutes       integer check (fraud_burst_minutes > 0),
    add column fraud_burst_per_device    integer check (fraud_burst_per_device > 0),
    add column fraud_burst_per_address   integer check (fraud_burst_per_address > 0),
    add column kiosk_pairing_minutes     integer check (kiosk_pairing_minutes > 0),
    add column redemption_request_days   integer check (redemption_request_days > 0),
    add column redemption_voucher_days   integer check (redemption_voucher_days > 0);
