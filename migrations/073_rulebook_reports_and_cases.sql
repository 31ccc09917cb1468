-- Issue 34, the rest of the rulebook: courier report points and the case bonus at closure in time come
-- from the rulebook in force where it has an item for them. Only columns, constraints and indexes.

-- What an earning item pays for besides activities: a verified courier report of one kind, or the
-- reporter's bonus for a case closed in time. NULL: an item for activities. At most one item of a
-- version per purpose (a community's own item takes the place of its base's, see rulebook.py).
alter table rule_items add column applies_to text
    check (applies_to in ('report_civility', 'report_hazard', 'report_service', 'case_in_time'));
alter table rule_items add constraint rule_items_applies_to_earns check (applies_to is null or kind = 'earn');
create unique index rule_items_applies_to on rule_items (version_id, applies_to) where applies_to is not null;

-- The item a report's points and a case's bonus were paid under (NULL: the report settings' amounts),
-- which the credit's statement line names with its version.
alter table reports add column rule_item_id bigint references rule_items (id);
alter table cases add column bonus_rule_item_id bigint references rule_items (id);
-- The per-item daily cap reads a courier's verified reports under one item.
create index reports_rule_item on reports (courier_id, rule_item_id, created_at) where rule_item_id is not null;
