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
