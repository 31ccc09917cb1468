-- One limit for every reason a manager gives (domain/core/texts.py REASON_MAX_LENGTH = 500):
-- a report's rejection reason was capped at 200 while every other reason allowed 500.
alter table reports drop constraint reports_reject_reason_check;
alter table reports add constraint reports_reject_reason_check
    check (length(reject_reason) between 1 and 500);
