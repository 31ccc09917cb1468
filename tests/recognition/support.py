"""What the recognition tests share: a city with a street, a community, second managers, a rulebook."""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.conftest import Community, Person, World
from tests.conftest import appoint as invite_and_accept

T0 = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai, a Tuesday, 2026Q4

BASE_ITEMS = [
    {"code": "A1", "kind": "earn", "title": "参加志愿服务", "points": 10, "daily_cap": 30, "evidence": "签到记录"},
    {"code": "D1", "kind": "deduct", "title": "乱扔垃圾", "points": 5, "clause": "居民公约第二条：垃圾分类投放"},
]
EXTENSION_ITEMS = [
    {"code": "D2", "kind": "deduct", "title": "高空抛物", "points": 20, "clause": "小区公约第三条：严禁高空抛物"},
]


async def appoint(client, world: World, org_id: int, name: str) -> Person:
    person = await world.person(name)
    r = await invite_and_accept(client, await world.admin(), org_id, person)
    assert r.status_code in (200, 201, 204), r.text
    return person


async def ok(client, person: Person, method: str, path: str, **kw) -> dict:
    r = await client.request(method, path, headers=person.headers, **kw)
    assert r.status_code in (200, 201, 202), r.text
    return r.json()


@dataclass
class City:
    c: Community
    deputy: Person           # a second manager of the community
    street: Person           # a manager of the street
    district: Person         # a manager of the district
    member: Person
    base_id: int
    extension_id: int

    def item(self, book: dict, code: str) -> dict:
        return next(i for i in book["items"] if i["code"] == code)


async def city_with_rulebook(client, world: World, name: str) -> City:
    """A street's base rulebook approved by the district, a community's extension approved by the street."""
    c = await world.community(name)
    deputy = await appoint(client, world, c.id, f"{name}副主任")
    street = await appoint(client, world, c.street_id, f"{name}街道")
    district = await appoint(client, world, c.district_id, f"{name}区")
    member = await world.member(c, f"{name}居民")
    base = await ok(client, street, "POST", "/api/rulebooks",
                    json={"org_id": c.street_id, "title": "街道积分细则", "items": BASE_ITEMS})
    await ok(client, district, "POST", f"/api/held/rulebook/{base['id']}/approve", json={})
    ext = await ok(client, c.manager, "POST", "/api/rulebooks",
                   json={"org_id": c.id, "title": "社区积分细则", "items": EXTENSION_ITEMS})
    await ok(client, street, "POST", f"/api/held/rulebook/{ext['id']}/approve", json={})
    return City(c, deputy, street, district, member, base["id"], ext["id"])


async def activity_under(client, city: City, code: str, **extra) -> dict:
    book = await ok(client, city.member, "GET", f"/api/orgs/{city.c.id}/rulebook")
    body = {"community_id": city.c.id, "title": "清扫楼道", "starts_at": (T0 - timedelta(hours=1)).isoformat(),
            "ends_at": (T0 + timedelta(hours=2)).isoformat(), "rule_item_id": city.item(book, code)["id"], **extra}
    activity = await ok(client, city.c.manager, "POST", "/api/activities", json=body)
    await ok(client, city.c.manager, "POST", f"/api/activities/{activity['id']}/publish")
    return activity


# Items that pay for courier reports and cases (issue 34): hazards and cases closed in time are paid
# by the rulebook; civility and service reports are not listed, so the report settings pay them.
LOOP_ITEMS = [
    {"code": "R1", "kind": "earn", "title": "隐患排查上报", "points": 12, "daily_cap": 15, "evidence": "现场照片",
     "applies_to": "report_hazard"},
    {"code": "K1", "kind": "earn", "title": "上报事项按时办结", "points": 8, "applies_to": "case_in_time"},
]


@dataclass
class GridLoop:
    courier: Person
    handler: Person
    company_id: int
    category_id: int


async def grid_loop_under_rulebook(client, world: World, city: City) -> GridLoop:
    """grid_loop, with the community's rulebook (version 2, approved by the street) adding LOOP_ITEMS."""
    loop = await grid_loop(client, world, city)
    await adopt_loop_items(client, city)
    return loop


async def adopt_loop_items(client, city: City) -> None:
    v2 = await ok(client, city.c.manager, "POST", "/api/rulebooks",
                  json={"org_id": city.c.id, "title": "社区积分细则", "items": EXTENSION_ITEMS + LOOP_ITEMS})
    await ok(client, city.street, "POST", f"/api/held/rulebook/{v2['id']}/approve", json={})


async def grid_loop(client, world: World, city: City) -> GridLoop:
    """A courier of the city's community, a street category and a property company with a handler."""
    c = city.c
    courier = await world.member(c, "细则快递员", role="courier")
    handler = await world.person("细则维修员")
    [category] = await ok(client, city.street, "PUT", f"/api/streets/{c.street_id}/case-categories",
                          json={"name": "消防通道", "deadline_hours": 48})
    company = await ok(client, city.street, "POST", "/api/partners",
                       json={"kind": "property", "name": f"物业公司{c.id}", "parent_id": c.street_id})
    invited = await ok(client, city.street, "POST", f"/api/partners/{company['id']}/invitations",
                       json={"phone": handler.phone, "name": handler.name})
    await ok(client, handler, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer",
             json={"accept": True})
    return GridLoop(courier, handler, company["id"], category["id"])


async def verified_report(client, city: City, loop: GridLoop, kind: str = "hazard") -> dict:
    from tests.cases.support import photo
    r = await client.post("/api/reports", headers=loop.courier.headers, files={
        "kind": (None, kind), "text": (None, "消防通道被电动车占用"), "place": (None, "3号楼东侧"),
        "photo": ("p.jpg", photo(), "image/jpeg")})
    assert r.status_code == 201, r.text
    return await ok(client, city.c.manager, "POST", f"/api/reports/{r.json()['id']}/verify")


async def close_in_time(client, city: City, loop: GridLoop, report_id: int) -> dict:
    """The case a verified hazard opened, sent up, dispatched by the street and closed by its handler."""
    page = await ok(client, city.c.manager, "GET", "/api/cases",
                    params={"view": "community", "org_id": city.c.id, "state": "reported"})
    case_id = next(k["id"] for k in page["items"] if k["report_id"] == report_id)
    await ok(client, city.c.manager, "POST", f"/api/cases/{case_id}/sort",
             json={"category_id": loop.category_id, "send_up": True})
    await ok(client, city.street, "POST", f"/api/cases/{case_id}/dispatch", json={"handler_id": loop.company_id})
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/accept")
    return await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/done", json={"note": "已清理"})
