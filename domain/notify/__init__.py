"""Notifications: the in-app inbox and the transactional outbox behind SMS and WeChat.

The code is in `service.py` (and the package's other modules); this file only re-exports it, so
`from domain.notify import x` keeps working."""


from domain.notify.service import (  # noqa: F401
    DAILY_FROM,
    EXPIRY_NOTICE_DAYS,
    OVERDUE_HOURS,
    SWEEPS,
    Inbox,
    Message,
    Preference,
    Preferences,
    _claim,
    _deliver,
    _digests,
    _expiring_points,
    _expiring_vouchers,
    _overdue,
    bind_wechat,
    deliver_due,
    inbox,
    log,
    mark_all_read,
    mark_read,
    preferences,
    remind,
    send,
    send_to_managers,
    set_preference,
    sweep_outbox,
    unread_count,
)
