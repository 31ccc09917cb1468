"""Every environment variable Linli reads, read here and nowhere else, into one typed object.

`get()` reads the environment once per process and validates it: a bad value stops the process at
start with a message naming the variable (`SettingsError`). Tests that change a variable call
`reload()` (the `settings_env` fixture does it). The README's configuration table lists exactly
these variables (a test compares the two).
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A variable is set to something Linli cannot use; the message names it."""


def _zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known time zone (e.g. Asia/Shanghai)") from None


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _text(raw: str) -> str:
    return raw


def _optional_text(raw: str) -> str | None:
    return raw or None


def _path(raw: str) -> Path:
    return Path(raw).resolve()


def _addresses(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _log_format(raw: str) -> str:
    if raw not in ("json", "text"):
        raise ValueError("must be json or text")
    return raw


def _optional_path(raw: str) -> Path | None:
    return Path(raw).resolve() if raw else None


def _optional_url(raw: str) -> str | None:
    return _url(raw) if raw else None


def _sms_template(raw: str) -> str:
    if "{code}" not in raw:
        raise ValueError("must contain {code}")
    return raw


def _flag(raw: str) -> bool:
    if raw.lower() not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError("0 or 1")
    return raw.lower() in ("1", "true", "yes")


def _optional_instant(raw: str) -> datetime | None:
    if not raw:
        return None
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2027-01-04T09:00:00+08:00")
    return at


def _aes_key(raw: str) -> bytes | None:
    if not raw:
        return None
    import base64
    import binascii
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (e.g. `python3 -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`)") from None
    if len(key) != 32:
        raise ValueError("must be 32 bytes (AES-256), base64-encoded")
    return key


def _var(env: str, parse: Callable[[str], Any], default: str, doc: str) -> Any:
    return field(metadata={"env": env, "parse": parse, "default": default, "doc": doc})


@dataclass(frozen=True)
class Settings:
    database_url: str | None = _var("DATABASE_URL", _optional_text, "",
                                    "any PostgreSQL ≥ 15; unset: an embedded PostgreSQL in LINLI_DATA_DIR")
    data_dir: Path = _var("LINLI_DATA_DIR", _path, ".linli-data",
                          "where the embedded PostgreSQL keeps its data between runs")
    home: Path = _var("LINLI_HOME", _path, str(Path(__file__).resolve().parents[2]),
                      "the folder holding migrations/ and frontend/ (the checkout, by default)")
    host: str = _var("LINLI_HOST", _text, "127.0.0.1", "where `linli serve` listens (`--host`)")
    port: int = _var("PORT", _positive, "8000", "the port `linli serve` listens on (`--port`)")
    workers: int = _var("LINLI_WORKERS", _positive, "1", "API worker processes (`--workers`)")
    public_url: str = _var("LINLI_PUBLIC_URL", _url, "http://127.0.0.1:8000",
                           "the base URL printed inside every QR code (`<url>/s/<code>`)")
    pool_size: int = _var("LINLI_POOL_SIZE", _positive, "10", "database connections per process")
    tz: ZoneInfo = _var("LINLI_TZ", _zone, "Asia/Shanghai",
                        "time zone of every day, month and quarter (caps, limits, rankings, audit dates)")
    scan_rate_per_minute: int = _var("LINLI_SCAN_RATE_PER_MINUTE", _non_negative, "60",
                                     "QR scans one person may make a minute; 0: no limit")
    scan_rate_per_ip_minute: int = _var("LINLI_SCAN_RATE_PER_IP_MINUTE", _non_negative, "600",
                                        "scans and scan previews from one client address a minute; 0: no limit")
    rotation_seconds: int = _var("LINLI_ROTATION_SECONDS", _positive, "30",
                                 "default of how often a kiosk's check-in code changes, for communities (and "
                                 "activities) that set none")
    rotation_grace_seconds: int = _var("LINLI_ROTATION_GRACE_SECONDS", _non_negative, "30",
                                       "default of how long the previous kiosk code still works after it changed, for "
                                       "communities that set none (their policy)")
    # scanning: late scans from offline queues, fraud signals. What a community decides is its
    # policy (domain/people/community_policy.py): these give the defaults. The clock skew is not a
    # community's: it measures devices' clocks against the server's, the same everywhere.
    offline_max_delay_seconds: int = _var("LINLI_OFFLINE_MAX_DELAY_SECONDS", _non_negative, "86400",
                                          "default of how long after its scan an offline-queued scan is still accepted, "
                                          "for communities that set none")
    offline_clock_skew_seconds: int = _var("LINLI_OFFLINE_CLOCK_SKEW_SECONDS", _non_negative, "300",
                                           "how far ahead of the server a device's scan time may be")
    fraud_max_speed_kmh: int = _var("LINLI_FRAUD_MAX_SPEED_KMH", _positive, "120",
                                    "default: faster travel between two of one person's scans is flagged")
    fraud_burst_minutes: int = _var("LINLI_FRAUD_BURST_MINUTES", _positive, "10",
                                    "default of the window in which scans for many people from one device/address "
                                    "are flagged")
    fraud_burst_per_device: int = _var("LINLI_FRAUD_BURST_PER_DEVICE", _positive, "4",
                                       "default of the people checked in from one phone within that window before it "
                                       "is flagged")
    fraud_burst_per_address: int = _var("LINLI_FRAUD_BURST_PER_ADDRESS", _positive, "40",
                                        "default of the people checked in from one client address within that window "
                                        "(venue wifi)")
    kiosk_pairing_minutes: int = _var("LINLI_KIOSK_PAIRING_MINUTES", _positive, "10",
                                      "default of how long a kiosk pairing code stays usable")
    daily_checkin_points_cap: int = _var("LINLI_DAILY_CHECKIN_POINTS_CAP", _non_negative, "200",
                                         "default of the points one person may earn from check-ins in one community "
                                         "a day, for communities that set none (their policy)")
    redemption_request_days: int = _var("LINLI_REDEMPTION_REQUEST_DAYS", _positive, "7",
                                        "default of the days a redemption request waits for a manager before it lapses")
    redemption_voucher_days: int = _var("LINLI_REDEMPTION_VOUCHER_DAYS", _positive, "30",
                                        "default of the days an approved voucher can be collected")
    admin_password: str | None = _var("LINLI_ADMIN_PASSWORD", _optional_text, "",
                                      "the password `linli create-admin` uses when --password is not given")
    sms_api_url: str | None = _var("LINLI_SMS_API_URL", _optional_url, "",
                                   "the SMS gateway, for phone codes and notifications: Linli POSTs JSON "
                                   "{to, text, kind} with an Idempotency-Key header; unset: messages are only logged")
    sms_api_key: str | None = _var("LINLI_SMS_API_KEY", _optional_text, "",
                                   "the gateway's API key, sent as `Authorization: Bearer <key>`")
    wechat_api_url: str = _var("LINLI_WECHAT_API_URL", _url, "https://api.weixin.qq.com",
                               "WeChat API base URL (subscription messages, the OAuth code exchange)")
    wechat_authorize_url: str = _var("LINLI_WECHAT_AUTHORIZE_URL", _url, "https://open.weixin.qq.com",
                                     "WeChat OAuth base URL (网页授权: `/connect/oauth2/authorize`)")
    wechat_appid: str | None = _var("LINLI_WECHAT_APPID", _optional_text, "",
                                    "WeChat app id; unset: no WeChat (no sign-in button, no messages)")
    wechat_secret: str | None = _var("LINLI_WECHAT_SECRET", _optional_text, "", "WeChat app secret")
    wechat_template_id: str | None = _var("LINLI_WECHAT_TEMPLATE_ID", _optional_text, "",
                                          "subscription-message template with fields thing1 (title), thing2 (text)")
    trusted_proxies: frozenset[str] = _var("LINLI_TRUSTED_PROXIES", _addresses, "",
                                           "comma-separated proxy addresses whose X-Forwarded-For is believed; "
                                           "default none")
    log_format: str = _var("LINLI_LOG_FORMAT", _log_format, "json",
                           "`json`: one JSON object a line on stdout (requests, sweeps); `text`: for humans")
    metrics_token: str | None = _var("LINLI_METRICS_TOKEN", _optional_text, "",
                                     "bearer token a scraper sends to `/metrics`; unset: `/metrics` answers 404")
    metrics_dir: Path | None = _var("PROMETHEUS_MULTIPROC_DIR", _optional_path, "",
                                    "where worker processes share their metrics; `linli serve` makes a fresh "
                                    "folder for each run (inside this one if set) and removes it")
    sms_template: str = _var("LINLI_SMS_TEMPLATE", _sms_template, "【邻里】您的验证码是{code}，5分钟内有效，请勿告诉他人。",
                             "the SMS text; `{code}` is replaced by the 6-digit code")
    clock_at: datetime | None = _var("LINLI_CLOCK_AT", _optional_instant, "",
                                     "for tests only: the process's clock stands still at this instant (ISO 8601 "
                                     "with offset), so a test can drive servers in other processes; unset: real time")
    id_key: bytes | None = _var("LINLI_ID_KEY", _aes_key, "",
                                "base64 of 32 random bytes: the AES-GCM key of stored ID numbers (身份证号); "
                                "unset: adding an ID number is refused")
    sms_show_codes: bool = _var("LINLI_SMS_SHOW_CODES", _flag, "0",
                                "1: the API returns sent codes so a demo works without a phone (`serve --demo`)")


VARIABLES: dict[str, str] = {f.metadata["env"]: f.metadata["doc"] for f in fields(Settings)}


# Variables that configured what one variable now does: a start with one of them set is refused,
# naming its replacement (an operator's old setting must not be silently ignored).
REPLACED: dict[str, str] = {
    **{old: "LINLI_SMS_API_URL and LINLI_SMS_API_KEY (one SMS gateway for phone codes and notifications: "
            "POST JSON {to, text, kind} with an Idempotency-Key header)"
       for old in ("LINLI_SMS_SENDER", "LINLI_SMS_URL", "LINLI_SMS_KEY", "LINLI_SMS_GATEWAY_URL",
                   "LINLI_SMS_GATEWAY_KEY")},
}


def from_environ(environ: Mapping[str, str]) -> Settings:
    replaced = sorted(name for name in REPLACED if environ.get(name, "").strip())
    if replaced:
        raise SettingsError("; ".join(f"{name} is no longer read: set {REPLACED[name]}" for name in replaced))
    values = {}
    for f in fields(Settings):
        env = f.metadata["env"]
        raw = environ.get(env, "").strip() or f.metadata["default"]
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            raise SettingsError(f"{env}={raw!r}: {exc}") from None
    return Settings(**values)


_current: Settings | None = None


def get() -> Settings:
    global _current
    if _current is None:
        _current = from_environ(os.environ)
    return _current


def reload() -> Settings:
    """Read the environment again (after a test or the CLI changed it)."""
    global _current
    _current = None
    return get()


def set_database_url(url: str) -> None:
    """The CLI starts an embedded server and hands its URL to worker processes through the environment."""
    os.environ["DATABASE_URL"] = url
    reload()


def set_metrics_dir(folder: Path) -> None:
    """`linli serve` hands its workers one metrics folder (read by prometheus_client at import)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    reload()


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process (pg_dump, pg_restore), with `extra` variables added."""
    return {**os.environ, **extra}


def set_public_url(url: str) -> None:
    os.environ["LINLI_PUBLIC_URL"] = url
    reload()


def set_public_url_default(url: str) -> None:
    os.environ.setdefault("LINLI_PUBLIC_URL", url)
    reload()


def set_sms_show_codes() -> None:
    """`linli serve --demo`: codes appear on the page, so a visitor can register without a phone."""
    os.environ["LINLI_SMS_SHOW_CODES"] = "1"
    reload()


def set_demo_id_key() -> None:
    """`linli serve --demo` without LINLI_ID_KEY: a random key for this run, so a visitor can try the
    ID number (numbers stored in a demo are unreadable after a restart, which a demo can afford)."""
    if not os.environ.get("LINLI_ID_KEY"):
        import base64
        os.environ["LINLI_ID_KEY"] = base64.b64encode(os.urandom(32)).decode()
        reload()
