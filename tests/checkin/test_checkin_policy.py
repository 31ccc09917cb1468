"""A community's check-in policy lives with the community in the database; the environment gives
only defaults (issue 29)."""

import pytest

from tests.snapshot import snapshot

pytestmark = pytest.mark.sql

WINDOW = {"title": "清洁家园", "starts_at": "2027-03-01T09:00:00+08:00", "ends_at": "2027-03-01T11:00:00+08:00"}


async def new_activity(client, community, **fields):
    r = await client.post("/api/activities", headers=community.manager.headers,
                          json={"community_id": community.id, **WINDOW, **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def test_the_environment_is_the_default_and_the_community_decides(client, world, setenv):
    setenv("LINLI_DAILY_CHECKIN_POINTS_CAP", "120")
    setenv("LINLI_ROTATION_SECONDS", "20")
    community = await world.community()
    url = f"/api/communities/{community.id}/checkin-policy"
    r = await client.get(url, headers=community.manager.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"community_id": community.id, "daily_points_cap": 120, "rotation_seconds": 20,
                        "daily_points_cap_set": False, "rotation_seconds_set": False}
    assert ((a := await new_activity(client, community))["daily_points_cap"], a["rotation_seconds"]) == (120, 20)

    r = await client.put(url, headers=community.manager.headers, json={"daily_points_cap": 300, "rotation_seconds": 45})
    assert r.status_code == 200, r.text
    assert (r.json()["daily_points_cap"], r.json()["daily_points_cap_set"]) == (300, True)
    assert ((a := await new_activity(client, community))["daily_points_cap"], a["rotation_seconds"]) == (300, 45)
    # An activity's own value still wins; an empty policy value gives the default back.
    assert (await new_activity(client, community, daily_points_cap=50))["daily_points_cap"] == 50
    r = await client.put(url, headers=community.manager.headers, json={"rotation_seconds": 45})
    assert (r.json()["daily_points_cap"], r.json()["daily_points_cap_set"]) == (120, False)


async def test_only_its_managers_set_it_and_a_refusal_changes_nothing(client, world, pool):
    community, other = await world.community(), await world.community()
    url = f"/api/communities/{community.id}/checkin-policy"

    async def policy():
        return await pool.fetchrow("select * from checkin_policies where community_id = $1", community.id)
    before = (await snapshot(pool, people=[community.manager.id, other.manager.id], communities=[community.id]),
              await policy())
    r = await client.put(url, headers=other.manager.headers, json={"daily_points_cap": 999})
    assert r.status_code == 403
    r = await client.put(url, headers=community.manager.headers, json={"daily_points_cap": -1})
    assert r.status_code == 422 and r.json()["details"]["field"] == "daily_points_cap"
    assert (await snapshot(pool, people=[community.manager.id, other.manager.id], communities=[community.id]),
            await policy()) == before
