"""Pure rules of notifications: the kinds of message, who gets which channel by default, the texts
in both languages, quiet hours and retry backoff. No database, no network.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

CHANNELS = ("sms", "wechat")  # the in-app inbox always gets every message; these are optional


@dataclass(frozen=True)
class Kind:
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    moves_value: bool  # money-moving messages go by SMS unless the person chose otherwise
    for_managers: bool = False


KINDS: dict[str, Kind] = {
    "held_decided": Kind(
        "待复核事项已处理", "Held item decided",
        "您提交的{what_zh}（编号 {item}）已{decision_zh}。{reason}",
        "Your {what_en} (no. {item}) was {decision_en}. {reason}",
        moves_value=False, for_managers=True),
    "redemption_approved": Kind(
        "兑换已通过", "Redemption approved",
        "您兑换的「{reward}」已通过审核，扣除 {points} 积分。请凭兑换码到{community}领取。",
        "Your redemption of “{reward}” was approved ({points} points). Collect it at {community} with your voucher.",
        moves_value=True),
    "redemption_rejected": Kind(
        "兑换未通过", "Redemption declined",
        "您兑换「{reward}」的申请未通过：{reason}。冻结的积分已退回。",
        "Your request for “{reward}” was declined: {reason}. The held points are back.",
        moves_value=True),
    "redemption_expiring": Kind(
        "兑换码即将过期", "Voucher expires soon",
        "您兑换的「{reward}」还有 {days} 天过期，请尽快到{community}领取。",
        "Your voucher for “{reward}” expires in {days} days. Please collect it at {community}.",
        moves_value=False),
    "redemption_expired": Kind(
        "兑换已过期", "Redemption expired",
        "您兑换「{reward}」的{what}已过期，积分已退回。",
        "Your {what} for “{reward}” expired; the points are back.",
        moves_value=True),
    "report_verified": Kind(
        "上报已核实", "Report verified",
        "您的上报已由{community}核实，获得 {points} 积分。感谢您！",
        "{community} verified your report: {points} points. Thank you!",
        moves_value=True),
    "report_rejected": Kind(
        "上报未通过", "Report not accepted",
        "您的上报未通过核实：{reason}。您可以补充后重新上报。",
        "Your report was not accepted: {reason}. You can add details and report again.",
        moves_value=False),
    "service_accepted": Kind(
        "有人接单了", "Someone will help",
        "您的求助「{title}」已有志愿者接单。",
        "A volunteer accepted your request “{title}”.",
        moves_value=False),
    "service_completed": Kind(
        "服务已完成，请确认", "Service done: please confirm",
        "「{title}」的志愿者已标记服务完成，请确认服务时长。",
        "The volunteer marked “{title}” as done. Please confirm the time.",
        moves_value=False),
    "service_confirmed": Kind(
        "服务时长已入账", "Service time banked",
        "「{title}」已确认，{minutes} 分钟已存入您的时间银行。",
        "“{title}” is confirmed: {minutes} minutes banked.",
        moves_value=True),
    "appeal_answered": Kind(
        "申诉已答复", "Appeal answered",
        "{community}已答复您对公示的申诉：{answer}",
        "{community} answered your appeal: {answer}",
        moves_value=False),
    "points_expiring": Kind(
        "积分即将到期", "Points expire soon",
        "您有 {points} 积分将于 {date} 到期，请及时使用。",
        "{points} of your points expire on {date}. Use them in time.",
        moves_value=True),
    "manager_digest": Kind(
        "今日待办", "Waiting for you today",
        "{community}待处理：兑换 {redemptions} 件，上报 {reports} 件，申诉 {appeals} 件。",
        "{community} is waiting: {redemptions} redemptions, {reports} reports, {appeals} appeals.",
        moves_value=False, for_managers=True),
    "queue_overdue": Kind(
        "事项等待过久", "Waiting too long",
        "{community}有一件{what}已等待超过 {hours} 小时，请尽快处理。",
        "At {community}, a {what} has waited over {hours} hours.",
        moves_value=False, for_managers=True),
}

# Words that fill {what} placeholders, per language.
WORDS = {
    "request": ("兑换申请", "request"), "voucher": ("兑换码", "voucher"),
    "redemption": ("兑换申请", "redemption request"), "report": ("上报", "report"),
}

SMS_PREFIX = {"zh-CN": "【邻里】", "en": "[Linli] "}


def default_channels(kind: str) -> tuple[str, ...]:
    """Money-moving events by SMS; the rest only in the app."""
    return ("sms",) if KINDS[kind].moves_value else ()


def choose_channels(kind: str, chosen: tuple[str, ...] | None, *, has_phone: bool,
                    has_wechat: bool) -> tuple[str, ...]:
    """The channels a message goes out on besides the inbox: the person's choice or the default,
    limited to the channels they can actually receive."""
    wanted = default_channels(kind) if chosen is None else chosen
    return tuple(c for c in wanted if (c == "sms" and has_phone) or (c == "wechat" and has_wechat))


def render(kind: str, params: Mapping[str, object], lang: str = "zh-CN") -> tuple[str, str]:
    """(title, body) of a message in `lang`; a missing parameter shows as blank, never as {name}."""
    spec = KINDS[kind]
    english = lang == "en"
    values = {k: _word(v, english) for k, v in params.items()}
    body = (spec.body_en if english else spec.body_zh).format_map(_Blank(values))
    return (spec.title_en if english else spec.title_zh), body


def sms_text(kind: str, params: Mapping[str, object], lang: str = "zh-CN") -> str:
    title, body = render(kind, params, lang)
    return f"{SMS_PREFIX.get(lang, SMS_PREFIX['zh-CN'])}{body}"


def _word(value: object, english: bool) -> object:
    if isinstance(value, str) and value in WORDS:
        return WORDS[value][1 if english else 0]
    return value


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


# ---- when to send ---------------------------------------------------------------------------

QUIET_START, QUIET_END = time(21, 0), time(8, 0)


def quiet_until(at: datetime, zone: ZoneInfo) -> datetime:
    """SMS is not sent 21:00–08:00 local time: a message due then waits until 08:00 (delayed, not
    dropped). Returns `at` itself outside quiet hours."""
    local = at.astimezone(zone)
    if QUIET_END <= local.time() < QUIET_START:
        return at
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, zone)


MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)  # a sender that died mid-delivery gives the row back after this


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour, after the n-th failed attempt."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


def idempotency_key(notification_id: int, channel: str) -> str:
    return f"linli-{notification_id}-{channel}"
