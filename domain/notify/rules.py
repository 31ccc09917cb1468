"""Pure rules of notifications as they are read and delivered: a kind's text in both languages, an
SMS made safe, retry backoff. No database, no network. The kinds themselves, their channels and
quiet hours are domain/core/messages.py (the outbox below every layer queues by them).
"""

import re
from collections.abc import Mapping
from datetime import timedelta

from domain.core.messages import KINDS

# Words that fill {what} placeholders, per language.
WORDS = {
    "request": ("兑换申请", "request"), "voucher": ("兑换码", "voucher"),
    "redemption": ("兑换申请", "redemption request"), "report": ("上报", "report"),
    # roles named by an invitation
    "manager": ("管理员", "a manager"), "unit_admin": ("单位管理员", "the administrator"),
    "party_member": ("报到党员", "a reporting party member"), "micro_leader": ("邻里长", "the neighbourhood head"),
    "micro_worker": ("微网格员", "a micro-grid worker"),
    # a community's invitation by phone (domain/people/members.py)
    "volunteer": ("志愿者", "a volunteer"), "courier": ("网格员", "a courier"),
    "can_scan": ("现在可以扫码签到了。", "You can scan to check in now."),
    "checked_in": ("您的签到也已完成。", "Your check-in is done too."),
    "case_merged": ("已与相同事项合并处理", "was merged with the same matter"),
    "case_dispatched": ("已派单办理", "was dispatched to a handler"),
    "case_accepted": ("已由承办单位受理", "was accepted by its handler"),
    "case_published": ("的表决结果已公布", "has its vote result published"),
    "case_handler": ("承办单位", "the handler"), "case_street": ("街道", "the street"),
    "case_district": ("区", "the district"),
}

SMS_PREFIX = {"zh-CN": "【邻里】", "en": "[Linli] "}


def render(kind: str, params: Mapping[str, object], lang: str = "zh-CN") -> tuple[str, str]:
    """(title, body) of a message in `lang`; a missing parameter shows as blank, never as {name}."""
    spec = KINDS[kind]
    english = lang == "en"
    values = {k: _word(v, english) for k, v in params.items()}
    if isinstance(params.get("minutes"), int):  # one way to write a duration everywhere: 28小时48分
        values["duration"] = duration(int(params["minutes"]), english)  # type: ignore[call-overload]
    body = (spec.body_en if english else spec.body_zh).format_map(_Blank(values))
    return (spec.title_en if english else spec.title_zh), body


def duration(minutes: int, english: bool = False) -> str:
    """Minutes as people say them: "28小时48分", "3分钟", "2小时" (frontend/js/ui.js fmtDuration
    writes the same)."""
    hours, rest = divmod(max(minutes, 0), 60)
    if english:
        return " ".join(p for p in (f"{hours} h" if hours else "", f"{rest} min" if rest or not hours else "") if p)
    if not hours:
        return f"{rest}分钟"
    return f"{hours}小时{rest}分" if rest else f"{hours}小时"


def sms_text(kind: str, params: Mapping[str, object], lang: str = "zh-CN") -> str:
    """The SMS: the kind's fixed template, with every text parameter made safe for an SMS first
    (`sms_safe`): a manager's or a member's free text never reaches a phone verbatim."""
    safe = {k: sms_safe(v) if isinstance(v, str) and v not in WORDS else v for k, v in params.items()}
    title, body = render(kind, safe, lang)
    return f"{SMS_PREFIX.get(lang, SMS_PREFIX['zh-CN'])}{body}"


SMS_PARAM_MAX = 30  # characters of one free-text parameter in an SMS (the inbox shows it whole)
_LINK = re.compile(r"(?i)(?:[a-z][a-z0-9+.-]*://\S*|www\.\S*|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b(?:/\S*)?)")
_NUMBER = re.compile(r"\d[\d\s-]{5,}\d")  # 7+ digits: a phone or account number to call or pay
_SIGNATURE = str.maketrans({"【": "「", "】": "」", "[": "(", "]": ")"})


def sms_safe(text: str) -> str:
    """Free text as it may appear inside an SMS (a reject reason with a URL and a
    fake 【银行】 went out verbatim under Linli's signature): no links or domain names, no long numbers
    (phones, accounts), no 【】 (the sender's signature in a Chinese SMS), one line, at most
    SMS_PARAM_MAX characters."""
    text = _LINK.sub("…", text)
    text = _NUMBER.sub("…", text)
    text = " ".join(text.translate(_SIGNATURE).split())
    return text if len(text) <= SMS_PARAM_MAX else text[:SMS_PARAM_MAX - 1] + "…"


def _word(value: object, english: bool) -> object:
    if isinstance(value, str) and value in WORDS:
        return WORDS[value][1 if english else 0]
    return value


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


# ---- delivery ------------------------------------------------------------------------------

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)  # a sender that died mid-delivery gives the row back after this


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour, after the n-th failed attempt."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


def idempotency_key(notification_id: int, channel: str) -> str:
    return f"linli-{notification_id}-{channel}"
