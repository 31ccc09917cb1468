"""A scalar query parameter given twice is refused with 422 naming it, on every operation (issue 16,
finding 13: `GET /api/audit?target_type=&target_type=` was answered 200, which made the negative fuzzing
in CI fail now and then)."""

import json
import re

import pytest

from api.app import create_app

SPEC = create_app("postgresql://unused@127.0.0.1/none").openapi_schema.to_schema()


def _scalar_query_parameters() -> list[tuple[str, str, str]]:
    """(method, path, name) of every query parameter the OpenAPI declares as one value."""
    found = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and '"array"' not in json.dumps(parameter.get("schema", {})):
                    found.append((method.upper(), path, parameter["name"]))
    return found


SCALARS = _scalar_query_parameters()


def _concrete(path: str) -> str:
    """The path with its parameters filled in (an id or a code; what they name does not matter here)."""
    return re.sub(r"\{(\w+)\}", lambda m: "abc" if m.group(1) == "code" else "1", path)


def test_the_api_has_many_scalar_query_parameters():
    # Guards the enumeration below: were it empty, the test over every operation would pass vacuously.
    assert len(SCALARS) >= 30
    assert ("GET", "/api/audit", "target_type") in SCALARS


async def test_the_audit_filter_given_twice_is_refused(client, world):
    admin = await world.admin()
    r = await client.get("/api/audit?target_type=&target_type=", headers=admin.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_failed" and r.json()["details"]["field"] == "target_type"
    # Once is fine, and so are two different parameters.
    assert (await client.get("/api/audit?target_type=user", headers=admin.headers)).status_code == 200
    assert (await client.get("/api/audit?target_type=user&act=adjustment", headers=admin.headers)).status_code == 200


async def test_several_operations_as_their_own_users(client, world):
    a = await world.community("重复参数社区")
    volunteer = await world.member(a)
    cases = [
        (volunteer, "/api/me/statement?unit=points&unit=minutes", "unit"),
        (volunteer, f"/api/activities?community_id={a.id}&community_id={a.id}", "community_id"),
        (a.manager, f"/api/rankings?scope=community&org_id={a.id}&org_id={a.id}", "org_id"),
        (a.manager, f"/api/redemptions?community_id={a.id}&state=requested&state=approved", "state"),
        (a.manager, f"/api/communities/{a.id}/members?limit=5&limit=500", "limit"),
    ]
    for person, url, name in cases:
        r = await client.get(url, headers=person.headers)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["details"]["field"] == name, (url, r.json())
        # The same request with the parameter once is answered as usual.
        once = url.rsplit("&", 1)[0]
        assert (await client.get(once, headers=person.headers)).status_code == 200, (once, r.text)


@pytest.mark.parametrize(("method", "path", "name"), SCALARS, ids=[f"{m} {p} {n}" for m, p, n in SCALARS])
async def test_every_scalar_query_parameter_given_twice_is_422_naming_it(client, method, path, name):
    """Checked before anything else, so even a caller who is not logged in gets the 422."""
    r = await client.request(method, _concrete(path), params=[(name, "1"), (name, "2")])
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "validation_failed", "message": r.json()["message"],
                        "details": {"field": name, "problem": "given more than once"}}


async def test_list_parameters_and_pages_without_declared_parameters_may_repeat(client):
    # The scan page declares no query parameter: what a QR app appends is not this layer's business.
    assert (await client.get("/s/abcdef?utm=1&utm=2")).status_code == 200
