"""The reason a person gives for an act (a rejection, an annulment, an adjustment, ...): one type
with one limit, and one cleaner every capability uses, so the same text is accepted everywhere.

Cleaning collapses runs of spaces and line breaks into one space; the limit counts the cleaned
text, so the database's length checks (500) always agree with what was accepted.
"""

from typing import Annotated, Literal, overload

import msgspec

from domain.core.errors import invalid

REASON_MAX_LENGTH = 500

# The wire type: the decoder refuses what can never fit; `clean_reason` decides the rest (blank).
Reason = Annotated[str, msgspec.Meta(max_length=REASON_MAX_LENGTH,
                                     description="Why, in a sentence (1 to 500 characters once spaces are collapsed)")]


class ReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A request body that is only a reason."""
    reason: Reason


@overload
def clean_reason(reason: str | None, *, required: Literal[True] = True) -> str: ...
@overload
def clean_reason(reason: str | None, *, required: bool) -> str | None: ...
def clean_reason(reason: str | None, *, required: bool = True) -> str | None:
    """The reason with its spaces collapsed; blank is refused (422 on `reason`) unless not required,
    then it is None."""
    text = " ".join((reason or "").split())
    if not text:
        if required:
            raise invalid("reason", "required")
        return None
    if len(text) > REASON_MAX_LENGTH:
        raise invalid("reason", f"at most {REASON_MAX_LENGTH} characters")
    return text
