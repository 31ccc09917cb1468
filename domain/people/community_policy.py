"""A community's policy: the rules its managers decide for it, kept with the community in the database
(community_policies). What a community has not set comes from the environment, which gives defaults
only (the LINLI_* variable named in RULES).

Each rule reads the community's effective value where it decides:
- daily_points_cap, rotation_seconds: copied by an activity when it is created (its posters are printed
  with it; domain/checkin/activities.py), so a change applies to activities created afterwards;
- rotation_grace_seconds: how long a kiosk's previous code still works (a scan, the kiosk screen);
- offline_max_delay_seconds: how late an offline-queued scan is still accepted (domain/checkin/offline.py);
- fraud_*: when a self check-in is flagged for review (domain/checkin/fraud.py);
- kiosk_pairing_minutes: how long a kiosk pairing code stays usable (domain/checkin/kiosk.py);
- redemption_request_days, redemption_voucher_days: when a redemption request lapses and how long an
  approved voucher can be collected (domain/supermarket).
The scans read it in their one query (domain/checkin/service.py `_SCAN_QUERY`, `from_row`).

Not a community's: LINLI_OFFLINE_CLOCK_SKEW_SECONDS, how far ahead of the server a device's clock may
be. It measures phones' and stations' clocks against the server's, the same for every community, and
bounds how far a scan may be dated into the future: a deployment's tolerance, not a local choice.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from domain.core import audit, clock, settings
from domain.core.actor import Actor, require_manager
from domain.core.errors import invalid, not_found


@dataclass(frozen=True)
class Rule:
    setting: str   # the Settings attribute (an environment variable) giving the default
    low: int       # the bounds a manager may set
    high: int
    unit: str      # points, seconds, minutes, days, km/h, people


# The one list of a community's rules, in the order a page shows them.
RULES: dict[str, Rule] = {
    "daily_points_cap": Rule("daily_checkin_points_cap", 0, 100000, "points"),
    "rotation_seconds": Rule("rotation_seconds", 2, 300, "seconds"),
    "rotation_grace_seconds": Rule("rotation_grace_seconds", 0, 300, "seconds"),
    "offline_max_delay_seconds": Rule("offline_max_delay_seconds", 0, 7 * 86400, "seconds"),
    "fraud_max_speed_kmh": Rule("fraud_max_speed_kmh", 10, 1000, "km/h"),
    "fraud_burst_minutes": Rule("fraud_burst_minutes", 1, 1440, "minutes"),
    "fraud_burst_per_device": Rule("fraud_burst_per_device", 1, 1000, "people"),
    "fraud_burst_per_address": Rule("fraud_burst_per_address", 1, 10000, "people"),
    "kiosk_pairing_minutes": Rule("kiosk_pairing_minutes", 1, 60, "minutes"),
    "redemption_request_days": Rule("redemption_request_days", 1, 90, "days"),
    "redemption_voucher_days": Rule("redemption_voucher_days", 1, 365, "days"),
}
FIELDS = tuple(RULES)


class PolicyValues(msgspec.Struct, frozen=True, kw_only=True):
    daily_points_cap: int           # points one person may earn from check-ins here in a local day
    rotation_seconds: int           # how often a kiosk's check-in code changes
    rotation_grace_seconds: int     # how long the previous kiosk code still works after it changed
    offline_max_delay_seconds: int  # how long after its scan an offline-queued scan is still accepted
    fraud_max_speed_kmh: int        # faster travel between two of one person's check-ins is flagged
    fraud_burst_minutes: int        # the window in which check-ins from one phone or address are counted
    fraud_burst_per_device: int     # people checked in from one phone within it before it is flagged
    fraud_burst_per_address: int    # people checked in from one client address within it (venue wifi)
    kiosk_pairing_minutes: int      # how long a kiosk pairing code stays usable
    redemption_request_days: int    # days a redemption request waits for a manager before it lapses
    redemption_voucher_days: int    # days an approved voucher can be collected


class CommunityPolicy(PolicyValues, frozen=True, kw_only=True):
    """The effective policy: the community's own values, the deployment's defaults for the rest."""
    community_id: int
    own: tuple[str, ...]            # the values the community set; the others are `defaults`
    defaults: PolicyValues          # the deployment's (the environment's) values
    limits: dict[str, tuple[int, int]]  # what a manager may set, per value


assert set(PolicyValues.__struct_fields__) == set(RULES)


def defaults() -> PolicyValues:
    config = settings.get()
    return PolicyValues(**{name: getattr(config, rule.setting) for name, rule in RULES.items()})


def from_row(community_id: int, row: Any, prefix: str = "") -> CommunityPolicy:
    """The effective policy from a row holding the community's columns (`prefix` + field; None: unset),
    e.g. a query that left-joins community_policies; a missing row is a row of None."""
    base = defaults()
    own = {name: row[prefix + name] for name in FIELDS if row is not None and row[prefix + name] is not None}
    return CommunityPolicy(community_id=community_id, own=tuple(own), defaults=base,
                           limits={name: (rule.low, rule.high) for name, rule in RULES.items()},
                           **{name: own.get(name, getattr(base, name)) for name in FIELDS})


def select_sql(alias: str, prefix: str) -> str:
    """The columns `from_row` reads, for a query joining community_policies as `alias`."""
    return ", ".join(f"{alias}.{name} as {prefix}{name}" for name in FIELDS)


async def effective(conn: asyncpg.Connection, community_id: int) -> CommunityPolicy:
    """The community's policy, its unset parts from the environment's defaults."""
    row = await conn.fetchrow(f"select {', '.join(FIELDS)} from community_policies where community_id = $1",
                              community_id)
    return from_row(community_id, row)


def check(values: dict[str, int | None]) -> None:
    """Refuse a value outside what a manager may set, naming it (None gives it back to the default)."""
    for name, value in values.items():
        rule = RULES.get(name)
        if rule is None:
            raise invalid(name, "not a community policy")
        if value is not None and not rule.low <= value <= rule.high:
            raise invalid(name, f"{rule.low} to {rule.high}")


async def _community(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    kind = await conn.fetchval("select kind from orgs where id = $1", community_id)
    if kind != "community":
        raise not_found("community")
    require_manager(actor, community_id)


async def read(conn: asyncpg.Connection, actor: Actor, community_id: int) -> CommunityPolicy:
    await _community(conn, actor, community_id)
    return await effective(conn, community_id)


async def update(conn: asyncpg.Connection, actor: Actor, community_id: int,
                 changes: dict[str, int | None]) -> CommunityPolicy:
    """Change the named values of the community's policy (None gives one back to the environment's
    default); the others stay as they are. A manager of the community only; audited."""
    await _community(conn, actor, community_id)
    check(changes)
    names = [name for name in FIELDS if name in changes]
    async with conn.transaction():
        before = await effective(conn, community_id)
        # Only the named columns are written (insert or update in one statement): two managers changing
        # different values at once both keep theirs.
        columns = "".join(f", {name}" for name in names)
        await conn.execute(
            f"""insert into community_policies (community_id, updated_by, updated_at{columns})
                values ($1, $2, $3{"".join(f", ${i + 4}" for i in range(len(names)))})
                on conflict (community_id) do update set updated_by = $2, updated_at = $3
                    {"".join(f", {name} = excluded.{name}" for name in names)}""",
            community_id, actor.id, clock.now(), *[changes[name] for name in names])
        after = await effective(conn, community_id)
        changed = [name for name in FIELDS if (getattr(before, name), name in before.own)
                   != (getattr(after, name), name in after.own)]
        await audit.record(conn, actor, "community_policy", community_id=community_id, target=("org", community_id),
                           before={name: getattr(before, name) if name in before.own else None for name in changed},
                           after={name: getattr(after, name) if name in after.own else None for name in changed})
    return after
