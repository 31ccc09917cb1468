"""The flag queue about managers: signals raised by held attempts and by an unusual pace,
shown on the workbench of the community's managers (the flagged one sees their own) and of its
street's and district's managers. Flags never block; another person dismisses each, with a reason."""

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from domain import oversight
from domain.core import audit, clock
from domain.core.actor import Actor, PersonRef
from domain.core.errors import DomainError, forbidden, not_found
from domain.core.texts import clean_reason


class ManagerFlag(msgspec.Struct, kw_only=True):
    id: int
    community_id: int
    community_name: str
    manager: PersonRef
    reason: str
    message: str
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    can_dismiss: bool


class ManagerFlagList(msgspec.Struct):
    items: list[ManagerFlag]
    open: int


def _json(value: Any) -> dict[str, Any]:
    return msgspec.json.decode(value) if isinstance(value, str) else dict(value or {})


def _scope(actor: Actor, community_id: int | None) -> list[int] | None:
    if community_id is not None:
        if not oversight.may_check(actor, community_id):
            raise forbidden("not a manager of this community or above it")
        return [community_id]
    if actor.is_admin:
        return None
    if not actor.manages and not actor.oversees:
        raise forbidden("managers only")
    return sorted(actor.manages | actor.oversees)


def _flag(r: asyncpg.Record, actor: Actor, lang: str) -> ManagerFlag:
    return ManagerFlag(id=r["id"], community_id=r["community_id"], community_name=r["community_name"],
                       manager=PersonRef(r["manager_id"], r["manager_name"]), reason=r["reason"],
                       message=oversight.explain_flag(r["reason"], lang), details=_json(r["details"]),
                       created_at=r["created_at"], resolved_at=r["resolved_at"], resolution=r["resolution"],
                       can_dismiss=r["resolved_at"] is None and actor.id != r["manager_id"]
                       and oversight.may_check(actor, r["community_id"]))


_SELECT = """select f.*, u.name as manager_name, o.name as community_name from manager_flags f
             join users u on u.id = f.manager_id join orgs o on o.id = f.community_id"""


async def list_flags(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None = None,
                     open_only: bool = True, lang: str = "zh") -> ManagerFlagList:
    scope = _scope(actor, community_id)
    rows = await conn.fetch(
        f"""{_SELECT} where ($1::bigint[] is null or f.community_id = any($1)) and (not $2 or f.resolved_at is null)
            order by (f.resolved_at is null) desc, f.id desc limit 500""", scope, open_only)
    items = [_flag(r, actor, lang) for r in rows]
    return ManagerFlagList(items=items, open=sum(1 for f in items if f.resolved_at is None))


async def dismiss(conn: asyncpg.Connection, actor: Actor, flag_id: int, reason: str, *, ip: str | None = None,
                  lang: str = "zh") -> ManagerFlag:
    """Another person looked at it: a manager of the community or above it, never the flagged one."""
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await conn.fetchrow("select * from manager_flags where id = $1 for update", flag_id)
        if row is None or not oversight.may_check(actor, row["community_id"]):
            raise not_found("flag")
        if row["manager_id"] == actor.id:
            raise forbidden("a flag about you is dismissed by someone else")
        if row["resolved_at"] is not None:
            raise DomainError("invalid_state", details={"resolution": row["resolution"]})
        await conn.execute("update manager_flags set resolved_at = $2, resolved_by = $3, resolution = $4 where id = $1",
                           flag_id, clock.now(), actor.id, reason)
        await audit.record(conn, actor, "manager_flag_dismiss", community_id=row["community_id"],
                           target=("user", row["manager_id"]), after={"flag_id": flag_id, "reason": row["reason"]},
                           reason=reason, ip=ip)
        return _flag(await conn.fetchrow(f"{_SELECT} where f.id = $1", flag_id), actor, lang)
