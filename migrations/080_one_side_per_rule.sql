-- The monthly limit of a reward per person is decided in one place, domain/supermarket (rules.check_request,
-- counted under the reward's row lock, in LINLI_TZ months). The trigger that decided it a second time,
-- with its own list of states and its own time zone, goes.
drop trigger if exists redemptions_within_limit on redemptions;
drop function if exists redemption_within_limit();
