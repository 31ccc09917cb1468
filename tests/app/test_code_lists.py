"""Closed code lists live twice, in Python and in the database; these tests pin the two together."""

import pytest

from domain.checkin.scans import LOGGED_REASONS
from domain.core import audit

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


async def test_audit_acts_match_the_database(pool):
    rows = {r["act"] for r in await pool.fetch("select act from audit_acts")}
    assert rows == set(audit.ACTS)


async def test_logged_scan_reasons_match_the_database(pool):
    rows = {r["reason"] for r in await pool.fetch("select reason from scan_refusal_reasons")}
    assert rows == set(LOGGED_REASONS)
