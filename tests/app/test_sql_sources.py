"""The database's functions, triggers and views live as source in domain/<capability>/sql/*.sql, each
in exactly one file; migrations change schema and data only (docs/architecture.md, "Database functions")."""

import re

import pytest

from domain.core import db

pytestmark = pytest.mark.sql

# Migrations up to this one defined functions before the sources existed; they stay as history.
LAST_MIGRATION_WITH_FUNCTIONS = 25
DEFINES_CODE = re.compile(r"^\s*create\s+(or\s+replace\s+)?(function|procedure|(constraint\s+)?trigger|"
                          r"(materialized\s+)?view|rule)\b", re.I | re.M)


def _definitions(kind: str) -> dict[str, list[str]]:
    """Where each name of `kind` (function, trigger, view) is defined, by source file."""
    pattern = {"function": r"create\s+or\s+replace\s+function\s+(\w+)\s*\(",
               "trigger": r"create\s+(?:constraint\s+)?trigger\s+(\w+)\s",
               "view": r"create\s+or\s+replace\s+view\s+(\w+)\s"}[kind]
    found: dict[str, list[str]] = {}
    for path in db.source_files():
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        for name in re.findall(pattern, text, re.I):
            found.setdefault(name.lower(), []).append(path.relative_to(db.ROOT).as_posix())
    return found


def test_no_migration_after_the_landed_ones_defines_a_function():
    late = [p.name for p in db.migration_files()
            if int(p.name[:3]) > LAST_MIGRATION_WITH_FUNCTIONS and DEFINES_CODE.search(p.read_text(encoding="utf-8"))]
    assert late == [], f"functions, triggers and views belong in domain/*/sql/*.sql, not in {late}"


async def test_every_function_trigger_and_view_has_its_text_in_exactly_one_source_file(fresh_conn):
    functions = await fresh_conn.fetch(
        """select p.proname, count(*) as overloads from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = 'public'
             and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
           group by p.proname""")
    triggers = await fresh_conn.fetch("select tgname from pg_trigger where not tgisinternal")
    views = await fresh_conn.fetch("select viewname from pg_views where schemaname = 'public'")
    for kind, in_database in (("function", {r["proname"]: r["overloads"] for r in functions}),
                              ("trigger", {r["tgname"]: 1 for r in triggers}),
                              ("view", {r["viewname"]: 1 for r in views})):
        sources = _definitions(kind)
        for name, count in in_database.items():
            files = sources.get(name, [])
            assert len(set(files)) == 1 and len(files) == count, f"{kind} {name} is defined in {files or 'no source file'}"
        assert set(sources) <= set(in_database), f"{kind}s in sources but not in the database: {set(sources) - set(in_database)}"
    assert len(functions) > 20 and len(triggers) > 20  # the query sees the schema at all


async def test_the_sources_are_what_the_database_runs_and_apply_again_only_when_changed(fresh_conn):
    definitions = "select p.oid::regprocedure::text, pg_get_functiondef(p.oid) from pg_proc p " \
                  "join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' order by 1"
    triggers = "select tgname, pg_get_triggerdef(oid) from pg_trigger where not tgisinternal order by 1"
    before = (await fresh_conn.fetch(definitions), await fresh_conn.fetch(triggers))
    assert await fresh_conn.fetchval("select digest from schema_sources") == db.sources_digest()
    assert await db._apply_sources(fresh_conn) is False  # unchanged text: nothing locked, nothing re-created
    await fresh_conn.execute("update schema_sources set digest = 'an older text'")
    assert await db._apply_sources(fresh_conn) is True  # changed: applied again, idempotently
    assert (await fresh_conn.fetch(definitions), await fresh_conn.fetch(triggers)) == before
    assert await fresh_conn.fetchval("select digest from schema_sources") == db.sources_digest()


def test_a_trigger_is_created_after_it_is_dropped_in_the_same_file():
    for path in db.source_files():
        text = path.read_text(encoding="utf-8")
        for name, table in re.findall(r"create\s+(?:constraint\s+)?trigger\s+(\w+)\s.*?\son\s+(\w+)", text, re.I | re.S):
            assert f"drop trigger if exists {name} on {table};" in text, f"{path.name}: {name} is not re-creatable"
