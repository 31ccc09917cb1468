"""The one table from domain error codes to HTTP statuses, and the handlers that render
every failure (domain refusals, validation, routing, size limits, crashes) as the JSON error
of API.md: {"error": code, "message": text in the request's language, "details": {...}}."""

import asyncio
import logging
import re

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from domain.core.errors import DomainError
from domain.core.reasons import explain

log = logging.getLogger("linli.api")

STATUS: dict[str, int] = {
    "validation_failed": 422, "unauthenticated": 401, "bad_credentials": 401, "forbidden": 403,
    "csrf_failed": 403, "not_found": 404, "method_not_allowed": 405, "insufficient_balance": 409,
    "out_of_stock": 409, "limit_reached": 409, "outside_window": 409, "capacity_full": 409,
    "not_published": 409, "not_member": 403, "too_far": 409, "daily_cap_reached": 409,
    "outside_area": 403, "not_spendable_here": 409,
    "invalid_state": 409, "already_used": 409, "idempotency_conflict": 409, "conflict": 409,
    "code_unknown": 404, "code_expired": 410, "code_revoked": 410, "too_large": 413,
    "unsupported_media": 415, "rate_limited": 429, "unavailable": 503, "internal": 500,
    "poster_not_accepted": 409, "location_required": 422, "late_scan_expired": 409,  # scanning
    "owned_transfer": 409,
    "payer_short": 409,  # the requester cannot pay the estimate
    "merchant_suspended": 409,
    "time_short": 422,  # posting a request beyond one's banked minutes (field minutes_estimate)
    # joining
    "weak_password": 422, "sms_code_invalid": 422, "sms_code_locked": 429, "already_registered": 409,
    "already_member": 409, "import_columns": 422,
    "old_spreadsheet": 415,
    "consent_required": 422, "id_number_invalid": 422, "requirement_unmet": 409,
}

_BY_STATUS = {400: "validation_failed", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media",
              422: "validation_failed", 429: "rate_limited", 503: "unavailable"}


def lang(request: Request) -> str:
    header = request.headers.get("accept-language", "")
    return "en" if header.lower().startswith("en") else "zh"


def error_response(request: Request, code: str, details: dict | None = None, message: str | None = None,
                   status: int | None = None) -> Response:
    status = status or STATUS.get(code, 400)
    headers = {}
    if code == "rate_limited" and details and "retry_after" in details:
        headers["Retry-After"] = str(details["retry_after"])
    return Response({"error": code, "message": message or explain(code, lang(request)), "details": details or {}},
                    status_code=status, media_type=MediaType.JSON, headers=headers)


def on_domain_error(request: Request, exc: DomainError) -> Response:
    return error_response(request, exc.code, exc.details, exc.message)


_FIELD = re.compile(r"`\$\.([A-Za-z_][A-Za-z0-9_]*)|missing required field `([A-Za-z_][A-Za-z0-9_]*)`"
                    r"|unknown field `([A-Za-z_][A-Za-z0-9_]*)`")


def _field(problem: dict) -> str | None:
    """Name the offending field: a query/path parameter's key, or the JSON field msgspec's message points at."""
    match = _FIELD.search(str(problem.get("message", "")))
    if match:
        return next(g for g in match.groups() if g)
    key = problem.get("key")
    return key if key and key != "data" else None


def on_validation_error(request: Request, exc: ValidationException) -> Response:
    problems = [p for p in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(p, dict)]
    details: dict = {"problems": [{k: str(v) for k, v in p.items() if k in ("key", "message", "source")}
                                  for p in problems]}
    fields = [f for f in map(_field, problems) if f]
    if fields:
        details["field"] = fields[0]
    return error_response(request, "validation_failed", details)


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    code = _BY_STATUS.get(exc.status_code, "validation_failed" if exc.status_code < 500 else "internal")
    details = {"problem": str(exc.detail)} if exc.status_code < 500 and exc.detail else {}
    return error_response(request, code, details, status=exc.status_code)


def _route(request: Request) -> str:
    """The route template, never the path: a path may carry a QR code or a token."""
    return request.scope.get("path_template") or "unmatched"


def on_crash(request: Request, exc: Exception) -> Response:
    if isinstance(exc, asyncpg.DataError):  # e.g. an id beyond bigint: bad input that reached SQL
        return error_response(request, "validation_failed", {"problem": "value out of range"})
    if isinstance(exc, UnicodeDecodeError):  # Litestar decodes multipart text fields without catching this
        return error_response(request, "validation_failed", {"problem": "text is not valid UTF-8"})
    if isinstance(exc, OverflowError):  # date arithmetic on a date at the end of the calendar (9999-12-31)
        return error_response(request, "validation_failed", {"problem": "value out of range"})
    if isinstance(exc, RecursionError):  # msgspec on JSON nested some 10^4 deep: bad input, not a crash
        return error_response(request, "validation_failed", {"problem": "JSON nested too deeply"})
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        # The database refused what a rule in Python should have caught first: safe, but worth a look.
        log.warning("constraint refused %s %s: %s", request.method, _route(request), type(exc).__name__,
                    extra={"fields": {"request_id": request.scope.get("linli_request_id")}})
        return error_response(request, "conflict")
    if isinstance(exc, asyncpg.exceptions.TransactionRollbackError):
        # A deadlock or serialization failure: PostgreSQL rolled the whole transaction back, so nothing
        # was written and a retry (with its Idempotency-Key where it moves value) is safe.
        log.warning("transaction rolled back by the database on %s %s: %s", request.method, _route(request),
                    type(exc).__name__, extra={"fields": {"request_id": request.scope.get("linli_request_id")}})
        return error_response(request, "unavailable")
    # OperatorInterventionError: the server is shutting down or restarting (admin_shutdown,
    # crash_shutdown, cannot_connect_now) or cancelled the statement. InternalClientError: asyncpg
    # handed out a connection the shutdown was still tearing down ("cannot switch to state ...").
    # Either way the request may be retried, with its Idempotency-Key where it moves value
    # (tests/test_crash_safety.py).
    if isinstance(exc, (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
                        asyncpg.exceptions.OperatorInterventionError, asyncpg.InternalClientError,
                        asyncpg.InterfaceError)):
        log.warning("database unavailable: %s", type(exc).__name__,
                    extra={"fields": {"request_id": request.scope.get("linli_request_id")}})
        return error_response(request, "unavailable")
    log.exception("unhandled error on %s %s", request.method, _route(request),
                  extra={"fields": {"request_id": request.scope.get("linli_request_id")}})
    return error_response(request, "internal")


HANDLERS: ExceptionHandlersMap = {DomainError: on_domain_error, ValidationException: on_validation_error,
            HTTPException: on_http_exception, Exception: on_crash}
