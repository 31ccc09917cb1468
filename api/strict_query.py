"""A scalar query parameter given more than once is refused.

Litestar silently keeps one of the values of `?target_type=a&target_type=b` when the operation
declares `target_type` as a single value, so a request can mean something other than what its
sender thinks (and the OpenAPI says the parameter is not an array). This middleware answers such a
request with 422 `validation_failed` naming the parameter, for every operation at once: it reads
which query parameters each route handler declares as scalars from Litestar's own kwargs model
(handler, dependencies and layered parameters alike), so a new operation needs nothing here.
Parameters declared as lists (`ids: list[int]`) may repeat; names an operation does not declare
are left to it.
"""

from urllib.parse import parse_qsl

from litestar.types import ASGIApp, Receive, Scope, Send

from domain.core.errors import DomainError

# id(route handler) -> (the handler, the query names it reads as one value). Holding the handler keeps
# its id from being reused by another app's handler (tests build many apps in one process).
_scalars: dict[int, tuple[object, frozenset[str]]] = {}


def _scalar_query_names(handler, path_params) -> frozenset[str]:
    known = _scalars.get(id(handler))
    if known is not None and known[0] is handler:
        return known[1]
    model = handler.create_kwargs_model(path_parameters=dict.fromkeys(path_params))
    names = frozenset(p.field_alias for p in model.expected_query_params if not p.is_sequence)
    _scalars[id(handler)] = (handler, names)
    return names


def repeated_scalar(scope: Scope) -> str | None:
    """The first declared scalar query parameter the request gives more than once, if any."""
    query = scope.get("query_string") or b""
    if b"&" not in query and b";" not in query:
        return None  # one pair at most: nothing can repeat (the common case costs nothing)
    handler = scope.get("route_handler")
    if handler is None or not hasattr(handler, "create_kwargs_model"):
        return None
    names = _scalar_query_names(handler, scope.get("path_params") or {})
    seen: set[str] = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in names:
            if name in seen:
                return name
            seen.add(name)
    return None


def middleware(app: ASGIApp) -> ASGIApp:
    async def refuse_repeated_scalars(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (name := repeated_scalar(scope)):
            raise DomainError("validation_failed", field=name, details={"problem": "given more than once"})
        await app(scope, receive, send)

    return refuse_repeated_scalars
