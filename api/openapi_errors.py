"""Make the OpenAPI tell the truth about failures. Litestar documents a 400 with its own
{status_code, detail, extra} body, but every failure here is rendered by api/errors.py as
{"error", "message", "details"}; clients and schemathesis (tests/test_schemathesis.py) read the
schema, so each operation lists the error statuses it can answer with that one Error body."""

from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)

from domain.core.reasons import REASONS

ERROR = Schema(
    type=OpenAPIType.OBJECT, required=["error", "message", "details"],
    properties={"error": Schema(type=OpenAPIType.STRING, enum=sorted(REASONS)),
                "message": Schema(type=OpenAPIType.STRING, description="in the request's language"),
                "details": Schema(type=OpenAPIType.OBJECT, description="`field` names the offending input")})

# Any operation may refuse bad input, miss what it names, conflict with the state of things, be
# throttled or find the database down. Bodies may also be too large or of the wrong media type.
ANY = {400: "Bad request", 404: "Not found", 409: "Conflict with the current state", 410: "Code expired or revoked",
       422: "Invalid input (details.field names it)", 429: "Too many requests (Retry-After)",
       503: "Database unavailable"}
WITH_BODY = {413: "Body too large", 415: "Unsupported media type"}
WITH_LOGIN = {401: "Not logged in", 403: "Not allowed (scope, role or CSRF)"}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _needs_login(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of every operation whose handler takes `actor`, or reads the session itself
    and says so with opt={"login": True} (a scan, on its one connection): 401 without a session."""
    found = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "actor" in handler.parsed_fn_signature.parameters or handler.opt.get("login"):
                found |= {(route.path_format or "/", m.lower()) for m in handler.http_methods}
    return found


def _own_errors(app: Litestar) -> dict[tuple[str, str], dict[int, str]]:
    """Statuses a handler answers beyond the usual ones, declared where it is defined with
    opt={"errors": {status: description}} (a login refused with 401 needs no session)."""
    found: dict[tuple[str, str], dict[int, str]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for m in handler.http_methods:
                found[(route.path_format or "/", m.lower())] = dict(handler.opt.get("errors", {}))
    return found


def document(app: Litestar) -> None:
    openapi = app.openapi_schema  # built once here, then served as is
    openapi.components = openapi.components or Components()
    openapi.components.schemas["Error"] = ERROR
    schemes = dict(openapi.components.security_schemes or {})
    schemes["bearer"] = SecurityScheme(type="http", scheme="bearer", description="token from POST /api/auth/login")
    schemes["session"] = SecurityScheme(type="apiKey", security_scheme_in="cookie", name="linli_session",
                                        description="pages; unsafe methods also need the X-CSRF-Token header")
    openapi.components.security_schemes = schemes
    login, own = _needs_login(app), _own_errors(app)
    ref = Reference(ref="#/components/schemas/Error")
    for path, item in (openapi.paths or {}).items():
        for method in HTTP_METHODS:
            operation = getattr(item, method, None)
            if operation is None:
                continue
            statuses = dict(ANY)
            if operation.request_body is not None:
                statuses |= WITH_BODY
            if (path, method) in login:
                statuses |= WITH_LOGIN
                operation.security = [{"bearer": []}, {"session": []}]
            statuses |= own.get((path, method), {})
            responses = operation.responses = dict(operation.responses or {})
            if isinstance(responses.get("204"), OpenAPIResponse):
                responses["204"].content = None  # Response[None] is documented as JSON null; 204 has no body
            fmt = next((p for p in operation.parameters or [] if getattr(p, "name", None) == "format"), None)
            if fmt is not None:
                _csv_alternative(responses, xlsx="xlsx" in (getattr(getattr(fmt, "schema", None), "enum", None) or ()))
            for status, description in statuses.items():
                if str(status) in responses and status != 400:
                    continue  # the handler documented its own
                responses[str(status)] = OpenAPIResponse(description=description,
                                                         content={"application/json": OpenAPIMediaType(schema=ref)})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_alternative(responses: dict, *, xlsx: bool = False) -> None:
    """`?format=csv` answers the same operation with text/csv instead of JSON (and `?format=xlsx`,
    where offered, with a workbook: the volunteer records' export)."""
    for status, response in responses.items():
        if status.startswith("2") and isinstance(response, OpenAPIResponse) and response.content:
            response.content.setdefault("text/csv", OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)))
            if xlsx:
                response.content.setdefault(XLSX, OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING,
                                                                                  format=OpenAPIFormat.BINARY)))
