"""The one source of 'now' for rules, so tests can freeze and move time.

SQL never calls now() for a rule decision; it receives the time from here as a parameter.
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain.core import settings

_frozen: datetime | None = None


def now() -> datetime:
    if _frozen is not None:
        return _frozen
    return settings.get().clock_at or datetime.now(timezone.utc)


def zone() -> ZoneInfo:
    """The deployment's time zone (LINLI_TZ): where every day, month and quarter of a rule begins."""
    return settings.get().tz


def freeze(at: datetime) -> None:
    global _frozen
    _frozen = at


def advance(delta: timedelta) -> None:
    freeze(now() + delta)


def unfreeze() -> None:
    global _frozen
    _frozen = None
