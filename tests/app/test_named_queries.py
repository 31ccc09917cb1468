"""Long or shared SQL lives in `domain/<package>/queries.sql` as named queries (domain/core/queries.py,
docs/architecture.md "Named queries"):

- long: a statement of more than LONG lines, as written in Python, moves to the file;
- shared: one statement (spacing and case aside) written in two places of domain/ is one named query,
  unless it is a one-line lookup shorter than SHARED_CHARS (`select name from users where id = $1`:
  its name would be longer than it is);
- every query a file names is used, and every name a module reads is defined;
- a module reads the queries of its own layer or a lower one (as it imports, tests/app/test_layering.py);
- every named query prepares against the migrated schema (so a moved statement that lost a word fails
  here, not in the one code path that sends it);
- a call of a database function with more than NAMED_FROM - 1 arguments names them (`p_x => $1`)."""

import ast
import re
from pathlib import Path

import pytest

from domain.core import queries
from tests.app.test_layering import LAYERS

ROOT = Path(__file__).resolve().parents[2]
LONG = 8
SHARED_CHARS = 80
NAMED_FROM = 5

# Statements still in Python above LONG lines, (path, their first words), each with why. The lists may only
# shrink: a listed statement that moved (or is shorter now) fails until its line here is deleted.
_BUILT = "built by the code around it (holes filled from Python's constants or a Struct's fields)"
_BUSY = "its module was being changed by other work when the queries moved; move it next"
KNOWN_LONG: dict[tuple[str, str], str] = {
    # _SCAN_QUERY: its columns come from Activity's fields, and the scan path is being reworked by other work.
    ("domain/checkin/service.py", "select a.*, o.name as community_name,"): _BUILT,
}
# Templates that stay (a named query whose `{hole}` the caller fills from a closed list; the prepare
# test skips them, their callers' tests send them): cases `figures` (the column grouped by and the
# scope: columns cannot be parameters), oversight's two checks of hand-made credits (the hole is
# the query manual_adjustments) and rankings' five wrappers of a ranking (the hole is one of its named
# sources: written out per combination, the quarter's score would be nine statements). Where a value
# could be a parameter it is one (`at time zone $n`).
# Statements written in more than one place still (their first words), each with why: may only shrink.
KNOWN_SHARED: dict[str, str] = {
}

_SQL = re.compile(r"^\s*(select\b.*\bfrom\b|select\s+\w+\s*\(|insert\s+into\b|update\s+\w+\s+(\w+\s+)?set\b|"
                  r"delete\s+from\b|with\s+(recursive\s+)?\w+(\s*\([^)]*\))?\s+as\b|lock\s+table\b)", re.I | re.S)


def _modules() -> list[Path]:
    return sorted((ROOT / "domain").rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_strings() -> list[tuple[str, int, str]]:
    """(path, line, text) of every SQL string in domain/ Python; an f-string's holes read `{}`."""
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                skip.update(id(v) for v in node.values)
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                text = node.value
            else:
                continue
            if _SQL.match(text):
                found.append((path.relative_to(ROOT).as_posix(), node.lineno, text))
    return found


def _lines(text: str) -> int:
    return len([line for line in text.strip().splitlines() if line.strip()])


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def test_no_long_sql_is_left_in_python():
    strings = sql_strings()
    assert len(strings) > 300  # the scan sees the SQL at all
    long = {f"{path}:{line}": (path, _normal(text)) for path, line, text in strings if _lines(text) > LONG}

    def listed(path: str, normal: str) -> tuple[str, str] | None:
        return next((k for k in KNOWN_LONG if k[0] == path and normal.startswith(_normal(k[1]))), None)
    unlisted = [where for where, (path, normal) in long.items() if listed(path, normal) is None]
    assert unlisted == [], f"statements of more than {LONG} lines belong in domain/<package>/queries.sql: {unlisted}"
    # (a statement of a module other work is changing may come and go with that work)
    gone = {k for k in KNOWN_LONG if KNOWN_LONG[k] != _BUSY} - {listed(path, normal) for path, normal in long.values()}
    assert gone == set(), f"moved or shorter, delete from KNOWN_LONG: {gone}"


def test_no_statement_is_written_in_two_places():
    places: dict[str, list[str]] = {}
    for path, line, text in sql_strings():
        normal = _normal(text)
        if "\n" in text.strip() or len(normal) >= SHARED_CHARS:
            places.setdefault(normal, []).append(f"{path}:{line}")
    for path in sorted((ROOT / "domain").glob("*/queries.sql")):
        for name, text in queries.parse(path.read_text(encoding="utf-8"), str(path)).items():
            places.setdefault(_normal(re.sub(r"--[^\n]*", "", text)), []).append(f"{path.name}:{name}")
    shared = {text[:100]: where for text, where in places.items() if len(where) > 1}
    known = {k: next((text for text in shared if text.startswith(_normal(k))), None) for k in KNOWN_SHARED}
    unlisted = {text: where for text, where in shared.items() if text not in known.values()}
    assert unlisted == {}, f"one statement, one named query: {unlisted}"
    gone = [k for k, text in known.items() if text is None and KNOWN_SHARED[k] != _BUSY]
    assert gone == [], f"written once now, delete from KNOWN_SHARED: {gone}"


def _loads(tree: ast.AST) -> dict[str, str]:
    """variable -> package, for each `X = load("package")` or `X = queries.load("package")` of a module."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
            call, target = node.value, node.targets[0]
            callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
            if callee == "load" and isinstance(target, ast.Name) and call.args \
                    and isinstance(call.args[0], ast.Constant):
                found[target.id] = call.args[0].value
    return found


def _uses() -> dict[str, dict[str, set[str]]]:
    """package -> query name -> the modules that read it."""
    uses: dict[str, dict[str, set[str]]] = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        loads = _loads(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in loads:
                uses.setdefault(loads[node.value.id], {}).setdefault(node.attr, set()).add(
                    path.relative_to(ROOT).as_posix())
    return uses


def test_every_named_query_is_used_and_every_name_read_is_defined():
    uses = _uses()
    files = {path.parent.name: path for path in (ROOT / "domain").glob("*/queries.sql")}
    assert files, "no domain/*/queries.sql"
    for package, path in files.items():
        defined = set(queries.load(package).names())
        read = set(uses.get(package, {}))
        assert defined - read == set(), f"{path} names queries nothing reads: {sorted(defined - read)}"
        assert read - defined == set(), \
            f"{path} does not define {sorted(read - defined)}, read by {[uses[package][n] for n in read - defined]}"
    assert set(uses) <= set(files), f"queries read from packages without a queries.sql: {set(uses) - set(files)}"


def test_a_module_reads_queries_of_its_own_layer_or_below():
    def layer(package: str) -> int:
        return LAYERS.get(package, len(LAYERS))
    up = []
    for path in _modules():
        own = path.relative_to(ROOT / "domain").parts[0]
        for package in _loads(ast.parse(path.read_text(encoding="utf-8"))).values():
            if layer(package) > layer(own):
                up.append(f"{path.relative_to(ROOT)} reads {package}'s queries")
    assert up == []


def test_the_loader_refuses_a_file_it_could_misread():
    assert queries.parse("-- the file's heading\n-- name: a\n-- what a answers\nselect 1;\n\n-- name: b\nselect $1\n") \
        == {"a": "-- what a answers\nselect 1", "b": "select $1"}
    for text in ("select 1\n-- name: a\nselect 2", "-- name: a\nselect 1\n-- name: a\nselect 2",
                 "-- name: a\n-- only a comment\n", "-- name: Get-It\nselect 1"):
        with pytest.raises(ValueError):
            queries.parse(text)
    with pytest.raises(AttributeError, match="no query named 'nothing_here'"):
        queries.load(next((ROOT / "domain").glob("*/queries.sql")).parent.name).nothing_here  # noqa: B018


@pytest.mark.sql
async def test_every_named_query_prepares_against_the_schema(fresh_conn):
    prepared = 0
    for path in sorted((ROOT / "domain").glob("*/queries.sql")):
        for name in queries.load(path.parent.name).names():
            text = getattr(queries.load(path.parent.name), name)
            if re.search(r"\{\w+\}", text):
                continue  # a template whose holes its caller fills: the caller's tests send it
            try:
                await fresh_conn.prepare(text)
            except Exception as error:  # the message says which query, whatever asyncpg raised
                raise AssertionError(f"{path.parent.name}/queries.sql {name}: {error}") from error
            prepared += 1
    assert prepared > 0


_CALL = re.compile(r"\b(\w+)\s*\(")


def _positional_calls(text: str) -> list[str]:
    """Calls of the database's own functions (names found in domain/*/sql/*.sql) in `text` with
    NAMED_FROM or more arguments, none of them named."""
    found = []
    for match in _CALL.finditer(text):
        if match.group(1).lower() not in _FUNCTIONS:
            continue
        depth, start, args, i = 1, match.end(), [], match.end()
        while i < len(text) and depth:
            ch = text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 1:
                args.append(text[start:i])
                start = i + 1
            i += 1
        args.append(text[start:i - 1])
        if len(args) >= NAMED_FROM and not any("=>" in a for a in args):
            found.append(match.group(1))
    return found


_FUNCTIONS = {name.lower() for path in (ROOT / "domain").glob("*/sql/*.sql")
              for name in re.findall(r"create\s+or\s+replace\s+function\s+(\w+)\s*\(", path.read_text(), re.I)}


def test_calls_of_database_functions_with_many_arguments_name_them():
    texts = [(f"{path}:{line}", text) for path, line, text in sql_strings()]
    for path in sorted((ROOT / "domain").glob("*/queries.sql")):
        texts += [(f"{path.name}:{name}", text)
                  for name, text in queries.parse(path.read_text(encoding="utf-8"), str(path)).items()]
    positional = {where: calls for where, text in texts if (calls := _positional_calls(text))}
    assert _FUNCTIONS and positional == {}, f"name the arguments (f(p_x => $1, ...)): {positional}"
