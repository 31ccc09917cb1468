"""GET /api/orgs/{id} follows the tree (DESIGN.md "Roles follow the tree"; issue 30): a street's or
district's managers read their level and everything below it (communities, grids); a community's
manager reads the community and its grids, not the street above it nor a neighbour's; a manager of
another street reads nothing of this one."""

from tests.conftest import appoint


async def test_street_and_district_managers_read_every_org_below_them(client, world):
    c = await world.community("树下社区")
    admin = await world.admin()
    street, district = await world.person("街道书记"), await world.person("区长")
    assert (await appoint(client, admin, c.street_id, street)).status_code == 200
    assert (await appoint(client, admin, c.district_id, district)).status_code == 200
    far = await world.community("别街社区")  # another district and street
    stranger = await world.person("别街书记")
    assert (await appoint(client, admin, far.street_id, stranger)).status_code == 200

    def get(person, org_id):
        return client.get(f"/api/orgs/{org_id}", headers=person.headers)

    for org_id in (c.id, c.grid_id, c.street_id):
        r = await get(street, org_id)
        assert r.status_code == 200 and r.json()["id"] == org_id, r.text
    for org_id in (c.id, c.grid_id, c.street_id, c.district_id):
        assert (await get(district, org_id)).status_code == 200
    assert (await get(street, c.district_id)).status_code == 403  # above the street: not below them
    for org_id in (c.id, c.grid_id, c.street_id, c.district_id):
        assert (await get(stranger, org_id)).status_code == 403
    assert (await get(c.manager, c.id)).status_code == 200
    assert (await get(c.manager, c.grid_id)).status_code == 200
    assert (await get(c.manager, c.street_id)).status_code == 403
    assert (await get(c.manager, far.id)).status_code == 403
