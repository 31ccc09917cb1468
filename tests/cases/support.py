"""A street with one community for the grid loop's tests: its managers, a courier, a resident, a
category with a 48-hour deadline, and a property company whose handler joined by invitation."""

import io
from dataclasses import dataclass

from PIL import Image

from domain.people import orgs
from tests.conftest import Community, Person, World


def photo(color=(120, 90, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Loop:
    c: Community
    courier: Person
    resident: Person
    street_manager: Person
    district_manager: Person
    handler: Person
    company_id: int
    category_id: int

    @property
    def manager(self) -> Person:
        return self.c.manager


async def ok(client, person, method: str, path: str, **kwargs) -> dict:
    r = await client.request(method, path, headers={**person.headers, **kwargs.pop("headers", {})}, **kwargs)
    assert r.status_code in (200, 201), (method, path, r.status_code, r.text)
    return r.json()


async def build(world: World, client, name: str = "闭环社区") -> Loop:
    c = await world.community(name)
    courier = await world.member(c, "快递小哥", role="courier")
    resident = await world.member(c, "王阿姨")
    admin = await world.actor(await world.admin())
    street_manager = await world.person("街道管理员")
    district_manager = await world.person("区管理员")
    handler = await world.person("物业维修员")
    async with world.pool.acquire() as conn:
        await orgs.appoint_manager(conn, admin, c.street_id, street_manager.id)
        await orgs.appoint_manager(conn, admin, c.district_id, district_manager.id)
    categories = await ok(client, street_manager, "PUT", f"/api/streets/{c.street_id}/case-categories",
                          json={"name": "占道堵塞", "deadline_hours": 48})
    company = await ok(client, street_manager, "POST", "/api/partners",
                       json={"kind": "property", "name": f"{name}物业公司", "parent_id": c.street_id})
    invited = await ok(client, street_manager, "POST", f"/api/partners/{company['id']}/invitations",
                       json={"phone": handler.phone, "name": handler.name})
    await ok(client, handler, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer",
             json={"accept": True})
    return Loop(c, courier, resident, street_manager, district_manager, handler, company["id"],
                categories[0]["id"])


async def hazard_case(client, loop: Loop, text: str = "消防通道被电动车占用", place: str = "3号楼东侧") -> int:
    """A courier's hazard report, verified by the community: the case it opens."""
    r = await client.post("/api/reports", headers=loop.courier.headers,
                          files={"kind": (None, "hazard"), "text": (None, text), "place": (None, place),
                                 "photo": ("p.jpg", photo(), "image/jpeg")})
    assert r.status_code == 201, r.text
    report = r.json()
    await ok(client, loop.manager, "POST", f"/api/reports/{report['id']}/verify")
    page = await ok(client, loop.manager, "GET", f"/api/cases?view=community&org_id={loop.c.id}&state=reported")
    return next(k["id"] for k in page["items"] if k["report_id"] == report["id"])
