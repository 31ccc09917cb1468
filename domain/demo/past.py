"""Seeding the past: the ledger and the audit log stamp rows with clock.now()."""

import contextlib
from collections.abc import Iterator
from datetime import datetime

from domain.core import clock


@contextlib.contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """Seed the past as if it were happening then: the ledger stamps transfers with clock.now()."""
    frozen_before = clock._frozen  # restored below: a caller may have frozen the clock itself
    clock.freeze(moment)
    try:
        yield
    finally:
        if frozen_before is not None:
            clock.freeze(frozen_before)
        else:
            clock.unfreeze()
