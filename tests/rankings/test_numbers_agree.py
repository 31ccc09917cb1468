"""Numbers that agree (issue 31): the street's overview and the community's dashboard read 兑换积分 from
one definition. The overview used to count only handed-over rewards (0) where the dashboard counted
the points spent (230) for the same month."""

from domain.core import clock
from tests.checkin.test_activities import T0
from tests.supermarket.test_supermarket import ask, new_reward, shop


async def test_the_overview_and_the_dashboard_agree_on_points_redeemed(client, world):
    clock.freeze(T0)
    community, volunteer = await shop(world, points_to_give=500)
    reward = await new_reward(client, community, cost_points=115, stock=5)
    for _ in range(2):  # approved, not yet handed over
        asked = await ask(client, volunteer, reward["id"])
        assert asked.status_code == 201, asked.text
        approved = await client.post(f"/api/redemptions/{asked.json()['id']}/approve", headers=community.manager.headers)
        assert approved.status_code == 200, approved.text
    admin = await world.admin()
    dashboard = (await client.get(f"/api/communities/{community.id}/dashboard", headers=admin.headers)).json()
    overview = (await client.get(f"/api/levels/{community.street_id}/overview", headers=admin.headers)).json()
    mine = [c for c in overview["communities"] if c["community_id"] == community.id]
    assert dashboard["points_redeemed_month"] == 230
    assert [c["points_redeemed"] for c in mine] == [230]
