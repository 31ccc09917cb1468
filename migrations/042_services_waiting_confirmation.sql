-- Completed services the requester leaves unconfirmed are confirmed at their estimate after a notice
-- period (issue 33, domain/timebank confirm_unconfirmed_services): the sweep finds them by this index.
create index if not exists service_requests_completed on service_requests (completed_at) where state = 'completed';
