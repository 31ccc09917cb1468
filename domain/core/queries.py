"""Named queries: the long or shared SQL of a capability, in `domain/<capability>/queries.sql`, read by
name. Short SQL stays in the function it serves; a statement moves to the file when it is long (more
than 8 lines) or written in more than one place (tests/app/test_named_queries.py holds both limits).

The file's format is aiosql's: each statement follows a `-- name: <identifier>` line, comment lines
after it say what it answers, `$1`, `$2` ... are its parameters, and a `;` may end it:

    -- name: open_cases
    -- The cases of a community nobody has closed, oldest first.
    select * from cases where community_id = $1 and closed_at is null order by id;

A module loads its package's file once and passes the text to asyncpg as before:

    Q = queries.load("cases")
    rows = await conn.fetch(Q.open_cases, community_id)

Why a loader of our own and not aiosql: aiosql turns each query into a generated function with its own
calling convention (an operation suffix on every name, `:name` parameters, its own choice of fetch or
execute), so every call site would change shape and mypy would see each query as Any. Here the call
sites keep asyncpg's methods (fetch, fetchrow, fetchval, execute, executemany, cursor), the connection
and transaction they already hold, and `$n` parameters; the loader is forty lines and no dependency.
The files stay valid aiosql, so moving to it later changes call sites only.

These files are not the database's functions (`domain/<capability>/sql/*.sql`, which migrate applies):
nothing here runs until a call site sends it.
"""

import functools
import re
from pathlib import Path

DOMAIN = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"^--\s*name:\s*(\S+)\s*$", re.M)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class Queries:
    """The named queries of one file; `Q.name` is a statement's text. A name the file does not define
    raises AttributeError naming the file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._text: dict[str, str] = parse(path.read_text(encoding="utf-8"), str(path))

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._text[name]
        except KeyError:
            raise AttributeError(f"{self._path} defines no query named {name!r}") from None

    def names(self) -> list[str]:
        return list(self._text)


def parse(text: str, where: str = "queries.sql") -> dict[str, str]:
    """Name -> statement text (its comment lines kept, a trailing `;` dropped)."""
    parts = _NAME.split(text)
    if parts[0].strip() and not all(line.lstrip().startswith("--") for line in parts[0].strip().splitlines()):
        raise ValueError(f"{where}: SQL before the first `-- name:` line")
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{where}: {name!r} is not a plain lowercase identifier")
        if name in found:
            raise ValueError(f"{where}: {name!r} is defined twice")
        statement = body.strip().removesuffix(";").rstrip()
        if not any(line.strip() and not line.lstrip().startswith("--") for line in statement.splitlines()):
            raise ValueError(f"{where}: {name!r} has no statement")
        found[name] = statement
    return found


@functools.cache
def load(package: str) -> Queries:
    """The named queries of `domain/<package>/queries.sql`, read once per process."""
    return Queries(DOMAIN / package / "queries.sql")
