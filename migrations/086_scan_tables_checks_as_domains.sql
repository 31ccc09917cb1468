-- The single-column CHECK constraints of the four tables a scan writes (activities, attendances,
-- transfers, accounts) become domains of the same rule and the same constraint name.
--
-- Why: PostgreSQL reads a table's CHECK constraints back from their stored text, then plans and
-- compiles them, at every INSERT or UPDATE statement that writes the table (ExecRelCheck builds
-- them per statement), whatever columns the statement sets. A domain's constraints are read and
-- planned once per connection (the type cache) and checked only where a value of the column is
-- written. A check-in's statements wrote tables carrying 53 KB of constraint text between them; one
-- call at a time (bench/scan_cost.py), a scan spent about a quarter of its PostgreSQL CPU on that,
-- and with these domains about 15-20 % less CPU than before (bench/README.md, issue 37). The rules
-- themselves are unchanged: the same values are refused, with the same SQLSTATE (23514) and
-- constraint name. The checks that relate two columns stay on their tables.
--
-- How, without rewriting the tables: a domain with no constraint over the column's own type is
-- binary-compatible with it (ALTER COLUMN TYPE keeps the rows and the indexes), and its constraint
-- is then added NOT VALID and validated, which reads the rows once.

-- Triggers whose WHEN clause or UPDATE OF list names a column whose type changes must go first;
-- the SQL sources create them again (forced below).
drop trigger if exists attendances_count_taken_change on attendances;
drop trigger if exists transfers_settle_insert on transfers;
drop trigger if exists transfers_settle_post on transfers;

do $$
declare
    c record;
    typ text;
    rule text;
    dom text;
begin
    for c in select * from (values
        ('activities', 'title', 'activities_title_check'),
        ('activities', 'description', 'activities_description_check'),
        ('activities', 'place', 'activities_place_check'),
        ('activities', 'lat', 'activities_lat_check'),
        ('activities', 'lng', 'activities_lng_check'),
        ('activities', 'radius_m', 'activities_radius_m_check'),
        ('activities', 'capacity', 'activities_capacity_check'),
        ('activities', 'points', 'activities_points_check'),
        ('activities', 'points_per_hour', 'activities_points_per_hour_check'),
        ('activities', 'max_minutes', 'activities_max_minutes_check'),
        ('activities', 'daily_points_cap', 'activities_daily_points_cap_check'),
        ('activities', 'rotation_seconds', 'activities_rotation_seconds_check'),
        ('activities', 'state', 'activities_state_check'),
        ('activities', 'taken', 'activities_taken_check'),
        ('activities', 'requires_training', 'activities_requires_training_check'),
        ('attendances', 'state', 'attendances_state_check'),
        ('attendances', 'source', 'attendances_source_check'),
        ('attendances', 'minutes', 'attendances_minutes_check'),
        ('attendances', 'points', 'attendances_points_check'),
        ('attendances', 'in_nonce', 'attendances_in_nonce_check'),
        ('attendances', 'out_nonce', 'attendances_out_nonce_check'),
        ('attendances', 'note', 'attendances_note_check'),
        ('attendances', 'annul_reason', 'attendances_annul_reason_check'),
        ('attendances', 'in_lat', 'attendances_in_lat_check'),
        ('attendances', 'in_lng', 'attendances_in_lng_check'),
        ('attendances', 'in_device', 'attendances_in_device_check'),
        ('attendances', 'in_ip', 'attendances_in_ip_check'),
        ('transfers', 'unit', 'transfers_unit_check'),
        ('transfers', 'amount', 'transfers_amount_check'),
        ('transfers', 'held_amount', 'transfers_held_amount_check'),
        ('transfers', 'kind', 'transfers_kind_check'),
        ('transfers', 'state', 'transfers_state_check'),
        ('transfers', 'cause_type', 'transfers_cause_type_check'),
        ('accounts', 'unit', 'accounts_unit_check'),
        ('accounts', 'kind', 'accounts_kind_check'),
        ('accounts', 'held', 'accounts_held_check')
    ) as v(tbl, col, con) loop
        typ := (select format_type(atttypid, null) from pg_attribute
                 where attrelid = c.tbl::regclass and attname = c.col);
        rule := (select pg_get_constraintdef(oid) from pg_constraint where conrelid = c.tbl::regclass and conname = c.con);
        if rule is null then
            raise exception 'no check % on %', c.con, c.tbl;
        end if;
        dom := c.tbl || '_' || c.col;
        execute format('create domain %I as %s', dom, typ);
        execute format('alter table %I alter column %I type %I', c.tbl, c.col, dom);
        execute format('alter table %I drop constraint %I', c.tbl, c.con);
        execute format('alter domain %I add constraint %I %s not valid', dom, c.con,
                       regexp_replace(rule, '\m' || c.col || '\M', 'VALUE', 'g'));
        execute format('alter domain %I validate constraint %I', dom, c.con);
    end loop;
end $$;

-- "Every account names its community" (migrations/018) was a CHECK only because it was added after
-- the rows were mended; NOT NULL says it without an expression to compile.
alter table accounts alter column org_id set not null;
alter table accounts drop constraint accounts_org_named;

-- The SQL sources are applied again after this migration (their triggers above among them).
do $$ begin
    if to_regclass('schema_sources') is not null then
        delete from schema_sources;
    end if;
end $$;
