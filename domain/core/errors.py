"""One exception type for every rule the domain refuses; the API maps its code to a status."""

from typing import Any

from domain.core.reasons import REASONS


class DomainError(Exception):
    def __init__(self, code: str, *, field: str | None = None, details: dict[str, Any] | None = None,
                 message: str | None = None) -> None:
        assert code in REASONS, f"unknown reason code {code!r}"
        self.code = code
        self.details = dict(details or {})
        if field:
            self.details.setdefault("field", field)
        self.message = message  # overrides the catalogue text when a rule has something more specific
        super().__init__(code)


def invalid(field: str, problem: str) -> DomainError:
    """Bad input that passed msgspec typing but breaks a rule (e.g. ends_at before starts_at)."""
    return DomainError("validation_failed", field=field, details={"problem": problem})


def not_found(what: str) -> DomainError:
    return DomainError("not_found", details={"what": what})


def forbidden(why: str = "") -> DomainError:
    return DomainError("forbidden", details={"why": why} if why else None)
