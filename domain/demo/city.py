"""The demo city itself: the organisation tree, its managers, volunteers and couriers, the
logins printed by `linli demo`, and the opening balances from past paper records."""

import asyncpg
import msgspec

from domain import ledger
from domain.people import auth, orgs

PASSWORD = "linli-demo"


class City(msgspec.Struct):
    admin: int
    managers: dict[str, int]
    volunteers: dict[str, int]
    couriers: dict[str, int]
    communities: dict[str, int]
    grids: dict[str, int]
    streets: dict[str, int]
    team: int


LOGINS = [
    ("平台管理员 admin", "13800000000"),
    ("社区管理员 manager (三苏社区, 裕丰社区)", "13800000001"),
    ("社区管理员 manager (诗书社区)", "13800000002"),
    ("街道管理员 street manager (苏祠街道)", "13800000003"),
    ("单位管理员 unit administrator (区政务服务中心党支部)", "13800000004"),
    ("志愿者 volunteer", "13900000001"),
    ("志愿者 volunteer, 在职党员 party member", "13900000002"),
    ("邻里长 neighbourhood head (3栋微网格)", "13900000003"),
    ("快递小哥网格员 courier", "13700000001"),
    ("物业维修员 handler (蜀润物业)", "13700000009"),
    ("爱心商家店主 merchant owner (老王理发店)", "13700000010"),
    ("爱心商家店员 merchant staff (老王理发店)", "13700000011"),
]


async def build(conn: asyncpg.Connection) -> City | None:
    """The city, or None when it already exists (the demo admin's phone is taken)."""
    if await conn.fetchval("select 1 from users where phone = '13800000000'"):
        return None
    admin_id = await auth.create_user(conn, phone="13800000000", password=PASSWORD, name="王主任", is_admin=True)
    admin = await orgs.load_actor(conn, admin_id)
    district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
    streets = {n: (await orgs.create_org(conn, admin, kind="street", name=n, parent_id=district.id)).id
               for n in ("苏祠街道", "通惠街道")}
    communities, grids = {}, {}
    for name, street in (("三苏社区", "苏祠街道"), ("裕丰社区", "苏祠街道"), ("诗书社区", "通惠街道")):
        communities[name] = (await orgs.create_org(conn, admin, kind="community", name=name,
                                                   parent_id=streets[street])).id
        for g in ("第一网格", "第二网格"):
            grids[f"{name}{g}"] = (await orgs.create_org(conn, admin, kind="grid", name=g,
                                                         parent_id=communities[name])).id
    managers = {"李晓梅": "13800000001", "张建国": "13800000002"}
    manager_ids = {n: await auth.create_user(conn, phone=p, password=PASSWORD, name=n) for n, p in managers.items()}
    for c in ("三苏社区", "裕丰社区"):
        await orgs.appoint_manager(conn, admin, communities[c], manager_ids["李晓梅"])
    await orgs.appoint_manager(conn, admin, communities["诗书社区"], manager_ids["张建国"])

    people = [("刘芳", "13900000001", "三苏社区"), ("陈伟", "13900000002", "三苏社区"),
              ("杨丽", "13900000003", "三苏社区"), ("赵强", "13900000004", "裕丰社区"),
              ("黄敏", "13900000005", "诗书社区"), ("周秀英", "13900000006", "三苏社区")]
    volunteers = {}
    for name, phone, community in people:
        volunteers[name] = await auth.create_user(conn, phone=phone, password=PASSWORD, name=name)
        await orgs.add_member(conn, admin, communities[community], volunteers[name], "volunteer")
    couriers = {}
    for name, phone, grid in (("马骏", "13700000001", "三苏社区第一网格"), ("孙浩", "13700000002", "诗书社区第一网格")):
        couriers[name] = await auth.create_user(conn, phone=phone, password=PASSWORD, name=name)
        await orgs.add_member(conn, admin, grids[grid], couriers[name], "courier")
    team = await orgs.create_team(conn, admin, "区政务服务中心党支部", communities["三苏社区"])
    for name in ("刘芳", "陈伟"):
        await orgs.add_team_member(conn, admin, team.id, volunteers[name])

    # Opening balances from past paper records, so the shop and time bank can be tried at once.
    unit: ledger.Unit  # the pairs below name the ledger's units
    for name, points, minutes in (("刘芳", 320, 600), ("陈伟", 180, 240), ("杨丽", 90, 120)):
        for unit, amount in (("points", points), ("minutes", minutes)):
            async with conn.transaction():
                await ledger.post(conn, unit=unit, debit=await ledger.org_account(conn, communities["三苏社区"], "issuing", unit),
                                  credit=await ledger.user_account(conn, volunteers[name], unit, communities["三苏社区"]), amount=amount,
                                  kind="adjustment", cause=("adjustment", communities["三苏社区"]),
                                  # a migration the platform ran, not a manager's credit by hand (which
                                  # above 200 would need a second manager, `linli audit`)
                                  memo="纸质记录迁移", actor_id=None,
                                  reason="2026年三季度纸质台账迁移")
    return City(admin=admin_id, managers=manager_ids, volunteers=volunteers, couriers=couriers,
                communities=communities, grids=grids, streets=streets, team=team.id)
