-- One limit for every reason a manager gives (domain/core/texts.py REASON_MAX_LENGTH = 500):
-- a report's rejection reason was capped at 200 while every other reason allowed 500.
alter table reports drop constraint reports_reject_reason_check;
alter table reports add constraint reports_reject_reason_check
    check (length(reject_reason) between 1 and 500);

-- The per-person monthly limit counted Asia/Shanghai months whatever LINLI_TZ said, so in another
-- zone Python and the database disagreed about the first hours of a month. The request's
-- transaction now names its zone (set_config('linli.tz', ..., true) in domain/supermarket
-- `_check_offer`); a row written by any other path still counts Asia/Shanghai months, the default.
create or replace function redemption_within_limit() returns trigger language plpgsql as $$
declare
    month_limit integer;
    used bigint;
    zone text := coalesce(nullif(current_setting('linli.tz', true), ''), 'Asia/Shanghai');
    local_start timestamp := date_trunc('month', new.requested_at at time zone zone);
begin
    -- The reward's row lock serialises every request for it, so two cannot both squeeze under the limit.
    select per_person_limit into month_limit from rewards where id = new.reward_id for update;
    if month_limit is null then
        return new;
    end if;
    select coalesce(sum(quantity), 0) into used from redemptions
     where reward_id = new.reward_id and user_id = new.user_id and state in ('requested', 'approved', 'fulfilled')
       and requested_at >= local_start at time zone zone
       and requested_at < (local_start + interval '1 month') at time zone zone;
    if used + new.quantity > month_limit then
        raise exception 'redemption over the monthly limit of reward %', new.reward_id
            using errcode = 'check_violation';
    end if;
    return new;
end $$;
