"""Rules of merchants (爱心商家) without a database: when an offer may be taken, the limits at the
counter, the refund window, the money of a statement. The database side is
domain/merchants/__init__.py."""

from datetime import datetime, time

from domain.core import clock
from domain.core.errors import DomainError, invalid

VOUCHER_MINUTES = 10            # a voucher shown at the counter is valid this long
CARD_DAILY_POINTS = 300         # a member card alone (residents without a phone): points per local day
MERCHANT_DAILY_FLAG = 60        # redemptions at one merchant in a local day above which the street hears of it
PERSON_DAILY_FLAG = 5           # redemptions by one person in a local day (all merchants) above which ...
WEEKDAYS = 7
ALL_DAYS = (1 << WEEKDAYS) - 1


def days_mask(days: list[int]) -> int:
    """ISO weekdays (1 Monday ... 7 Sunday) as the stored bit mask (bit 0 Monday)."""
    if not days or any(not isinstance(d, int) or not 1 <= d <= 7 for d in days):
        raise invalid("days", "weekdays 1 (Monday) to 7 (Sunday), at least one")
    return sum(1 << (d - 1) for d in set(days))


def mask_days(mask: int) -> list[int]:
    return [d for d in range(1, 8) if mask & (1 << (d - 1))]


def parse_time(value: str, field: str) -> time:
    """"HH:MM"; "24:00" is the end of the day."""
    try:
        hours, minutes = (int(p) for p in value.split(":"))
    except (ValueError, AttributeError):
        raise invalid(field, "a time like 09:00") from None
    if (hours, minutes) == (24, 0):
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise invalid(field, "a time like 09:00")
    return time(hours, minutes)


def show_time(value: time) -> str:
    return "24:00" if value == time.max else value.strftime("%H:%M")


def check_open(now: datetime, valid_days: int, opens: time, closes: time) -> None:
    """The offer is valid on this local weekday and time of day, or `outside_window`."""
    local = clock.local_time(now)
    if not valid_days & (1 << local.weekday()) or not opens <= local.time() < closes:
        raise DomainError("outside_window", details={"days": mask_days(valid_days), "opens": show_time(opens),
                                                     "closes": show_time(closes)})


def check_take(*, stock: int, monthly_limit: int, used_this_month: int) -> None:
    """Stock, then the person's monthly limit for this offer (redemptions not refunded this month)."""
    if stock < 1:
        raise DomainError("out_of_stock", details={"stock": stock})
    if used_this_month >= monthly_limit:
        raise DomainError("limit_reached", details={"limit": monthly_limit, "used": used_this_month,
                                                    "per": "person and month"})


def check_refund_day(redeemed_at: datetime, now: datetime) -> None:
    """A refund is given the same local day as the redemption, never later (the month's statement
    and the settlement are then final for every day that has ended)."""
    if clock.local_day(redeemed_at) != clock.local_day(now):
        raise DomainError("invalid_state", details={"problem": "refunds only on the day of the redemption"})


def check_card_day(points_today: int, price: int) -> None:
    """A member card alone (no phone to show a voucher): a low limit per local day."""
    if points_today + price > CARD_DAILY_POINTS:
        raise DomainError("limit_reached", details={"limit": CARD_DAILY_POINTS, "used": points_today,
                                                    "per": "member card and day"})


def money_fen(points: int, fen_per_point: int | None) -> int | None:
    """The money equivalent of a statement, in fen, when the settling level sets a rate; None:
    the goods are donated."""
    return None if fen_per_point is None else points * fen_per_point
