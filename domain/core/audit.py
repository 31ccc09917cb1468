"""The audit trail: who changed what, when, from where, and why.

Every manager or admin act that changes anything calls, inside the act's own transaction:

    await audit.record(conn, actor, "adjustment", community_id=c, target=("user", uid),
                       after={"amount": 5}, reason=reason, ip=ip)

Same connection, same transaction: a failed act rolls its audit row back with it, a committed
act always has one. `record` refuses to run outside a transaction so a caller cannot get this
wrong silently. The table refuses UPDATE, DELETE and TRUNCATE (migrations/009_audit.sql).

Before/after are small summaries (ids, amounts, states, org names): never phone numbers or
passwords, because audit rows outlive an account's closure and cannot be edited.
"""

import json
from datetime import date, datetime, timedelta
from typing import Any, cast

import asyncpg
import msgspec

from domain.core import clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden

Q = queries.load("core")

# Every act an audit row may name: the one list. The database's table audit_acts (which audit_log.act
# references) is a copy written from it at every start (`write_acts`, called by domain/core/db.py
# `migrate`); a migration need not add an act. Acts no longer listed stay in the table for old rows.
ACTS = frozenset({
    "adjustment", "reversal",
    "redemption_approve", "redemption_reject", "redemption_fulfil", "redemption_on_the_spot",
    "checkin_annul", "community_policy", "attendance_mark", "activity_create", "activity_edit", "activity_publish",
    "activity_close", "cards_print",
    "role_grant", "role_revoke",
    "member_add", "member_edit", "member_deactivate", "member_reactivate",
    "team_create", "team_member_add", "household_edit",
    "stock_change", "reward_create", "reward_edit",
    "report_verify", "report_reject", "report_settings",
    "service_confirm", "service_cancel", "service_proxy", "family_link_approve",
    "org_create", "org_edit",
    "posting_publish", "appeal_answer", "expiry_policy",
    "account_close",
    "kiosk_pair", "kiosk_revoke", "scan_flag_dismiss", "scan_flag_credit",  # scanning
    "activity_delete", "station_scan",  # migrations/014_integrity.sql
    "area_policy",  # a street's or district's spending area (通兑范围)
    "certificate_issue", "certificate_revoke", "correction_answer",  # certificates and records
    # 双报到: work units, reports to communities, needs lists, service cards, targets
    "unit_create", "unit_admin_grant", "unit_roster_upload", "unit_member_confirm",
    "unit_report_approve", "unit_report_reject", "need_create", "need_close",
    "service_card_confirm", "service_target_set",
    # joining (migrations/016_joining.sql)
    "join_approve", "join_reject", "join_policy", "member_import", "member_create", "card_reissue",
    # looks at full phone numbers, invitations awaiting consent, maker-checker adjustments
    "phone_view", "member_invite", "adjustment_request", "adjustment_approve", "adjustment_reject",
    "adjustment_policy", "invitation_answer",
    # a city loads itself (migrations/050_city.sql)
    "city_import", "role_invite", "role_invite_answer", "need_serve", "need_confirm", "need_decline",
    "micro_grid_create", "micro_grid_assign",
    # partner organisations (migrations/034_partners.sql) and the grid loop (migrations/035_cases.sql)
    "partner_create", "partner_invite", "partner_invitation_answer",
    "case_category", "case_sort", "case_merge", "case_dispatch", "case_handle", "case_meeting", "case_vote_open",
    "case_publish",
    # reach and records (migrations/045 and 046)
    "privacy_notice", "minor_register", "training_create", "training_attend", "commendation_add",
    "evaluation_add", "insurance_add", "activity_requirements", "records_restore_request", "records_restore_apply",
    # acts held for a second person (maker-checker beyond adjustments), flags about managers
    "held_request", "held_approve", "held_reject", "manager_flag_dismiss",
    # merchants (爱心商家, migrations/060_merchants.sql)
    "merchant_create", "merchant_suspend", "merchant_offer_create", "merchant_offer_decide", "merchant_redeem",
    "merchant_refund", "merchant_rate",
    # the rulebook (积分细则), deductions, medals, selections (migrations/070, 071)
    "rulebook_propose", "rulebook_approve", "rulebook_reject", "deduction_propose", "deduction_post",
    "deduction_reject", "medal_sweep", "medal_revoke", "medal_rule", "selection_open", "selection_propose",
    "selection_confirm", "selection_final",
})


async def write_acts(conn: asyncpg.Connection) -> None:
    """Write ACTS into the database's audit_acts (the caller holds the migration lock)."""
    await conn.execute("insert into audit_acts (act) select unnest($1::text[]) on conflict do nothing", sorted(ACTS))



class Entry(msgspec.Struct, frozen=True):
    id: int
    created_at: datetime
    act: str
    actor_id: int | None
    actor_name: str | None
    community_id: int | None
    community_name: str | None
    target_type: str
    target_id: int | None
    target_name: str | None   # the person's or org's current name, when the target is one
    before: dict | None
    after: dict | None
    reason: str | None
    ip: str | None


class EntryPage(msgspec.Struct, frozen=True):
    items: list[Entry]
    next_cursor: str | None


def _json(value: object) -> str | None:
    # Sent as text and cast in SQL, so it works with or without the pool's jsonb codec.
    return None if value is None else json.dumps(msgspec.to_builtins(value), ensure_ascii=False)


async def record(conn: asyncpg.Connection, actor: "Actor | int | None", act: str, *,
                 community_id: int | None, target: tuple[str, int | None], before: object = None,
                 after: object = None, reason: str | None = None, ip: str | None = None) -> int:
    """Append one audit row in the caller's transaction; returns its id."""
    if act not in ACTS:
        raise ValueError(f"unknown audit act {act!r}: add it to audit.ACTS")
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record must run inside the act's transaction")
    actor_id = actor if actor is None or isinstance(actor, int) else actor.id
    target_type, target_id = target
    return await conn.fetchval(
        """Insert into audit_log (actor_id, act, community_id, target_type, target_id, before, after, reason,
                                  ip, created_at)
           values ($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9, $10) returning id""",
        actor_id, act, community_id, target_type, target_id, _json(before), _json(after),
        (reason or None) and reason[:500], (ip or None) and ip[:64], clock.now())


def parse_bound(value: str | None, field: str, *, end: bool) -> datetime | None:
    """`from`/`to` filters: an ISO date (a whole local day, `to` inclusive) or an ISO date-time."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return clock.local_midnight(day + timedelta(days=1) if end else day)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError("validation_failed", field=field,
                          details={"problem": "an ISO date (2026-10-01) or date-time"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.zone())


async def entries(conn: asyncpg.Connection, viewer: Actor, *, community_id: int | None = None,
                  actor_id: int | None = None, act: str | None = None, target_type: str | None = None,
                  target_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
                  limit: int = 50, before_id: int = 0) -> EntryPage:
    """Newest first. Admins read everything; a manager reads the rows of their communities only."""
    if community_id is not None and not viewer.can_manage(community_id):
        raise forbidden("not a manager of this community")
    if not viewer.is_admin and not viewer.manages:
        raise forbidden("managers and admins only")
    if act is not None and act not in ACTS:
        raise DomainError("validation_failed", field="act")
    scope = None if viewer.is_admin else sorted(viewer.manages)
    rows = await conn.fetch(
        Q.audit_page,
        community_id, scope, actor_id, act, target_type, target_id, since, until, before_id, limit + 1)
    # The columns are Entry's fields by name; asyncpg values are untyped (Any) until msgspec holds them.
    items = [Entry(**cast(dict[str, Any], {k: _decoded(r[k]) if k in ("before", "after") else r[k]
                                           for k in Entry.__struct_fields__}))
             for r in rows[:limit]]
    return EntryPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


CSV_PAGE = 1_000  # rows per page of the streamed export (no cap, constant memory)
CSV_HEADER = ["时间", "操作", "操作人", "社区", "对象", "对象名称", "变更前", "变更后", "原因", "IP"]


async def csv_page(conn: asyncpg.Connection, viewer: "Actor", *, before_id: int = 0,
                   **filters: Any) -> tuple[bytes, int | None]:
    """One page of the rows `entries` gives the viewer with the same filters (newest first), as CSV:
    UTF-8 with BOM and a Chinese header for Excel on the first page (before_id=0), local times,
    formula-like cells quoted. Returns the bytes and the cursor of the next page (None at the end):
    the export streams every row page by page, so a year's audit needs neither a cap nor memory."""
    from domain.core.csv_export import to_csv  # the one CSV writer of the exports (BOM, formula guard)
    page = await entries(conn, viewer, limit=CSV_PAGE, before_id=before_id, **filters)
    rows = [[clock.local_time(e.created_at).strftime("%Y-%m-%d %H:%M:%S"), e.act,
             e.actor_name or "", e.community_name or "", f"{e.target_type} {e.target_id or ''}".strip(),
             e.target_name or "", _text(e.before), _text(e.after), e.reason or "", e.ip or ""] for e in page.items]
    body = to_csv(CSV_HEADER, rows)
    if before_id:  # a later page: no byte-order mark, no header
        body = body[len("\ufeff".encode()):].split(b"\r\n", 1)[1]
    return body, (int(page.next_cursor) if page.next_cursor is not None else None)


def _text(value: dict | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _decoded(value: object) -> dict | None:
    # The pool decodes jsonb; a bare connection hands back text.
    # Otherwise the pool's jsonb codec already gave a dict (or None for SQL null).
    return json.loads(value) if isinstance(value, str) else cast("dict | None", value)
