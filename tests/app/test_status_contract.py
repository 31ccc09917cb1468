"""The check that every answered status is documented (tests/status_contract.py) can fail: it names an
undocumented status, and passes documented ones and routes outside the document."""

from tests import status_contract

OPENAPI = {"paths": {"/api/auth/login": {"post": {"responses": {"200": {}, "422": {}}}},
                     "/api/scans/{code}": {"get": {"responses": {"200": {}, "404": {}}}}}}


def test_an_undocumented_status_is_named():
    seen = {("POST", "/api/auth/login", 401), ("POST", "/api/auth/login", 200), ("GET", "/api/scans/{code}", 404)}
    assert status_contract.undocumented(seen, OPENAPI) == [
        "POST /api/auth/login answered 401, which its OpenAPI entry does not list"]


def test_pages_and_unmatched_paths_are_not_operations():
    seen = {("GET", "static", 200), ("GET", "unmatched", 404), ("GET", "/healthz", 200)}
    assert status_contract.undocumented(seen, OPENAPI) == []


async def test_what_this_process_answered_is_seen(client):
    r = await client.post("/api/auth/login", json={"phone": "13800000000"})
    assert r.status_code == 422
    assert ("POST", "/api/auth/login", 422) in status_contract.seen_in_this_process()
