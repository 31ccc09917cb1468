-- Issue 30: crediting a community's time pool (公益时间池) is value created by hand, so it waits for a
-- second person like an adjustment: above the community's minutes threshold, or past the maker's
-- daily limit of hand-made minutes. A held act of its own kind (domain/timebank credit_pool).
alter table held_acts drop constraint held_acts_kind_check;
alter table held_acts add constraint held_acts_kind_check
    check (kind in ('mark', 'activity', 'own_credit', 'policy', 'pool_credit'));
