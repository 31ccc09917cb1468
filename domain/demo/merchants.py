"""The merchants' demo (爱心商家): 苏祠街道 invites 老王理发店, serving 三苏社区; its owner 王师傅
(13700000010) accepted and took on 小周 as staff; its haircut for 200 points is approved by 三苏社区's
manager; 赵强 of 裕丰社区 (the street's points area is open: areas demo) had his hair cut with a voucher,
so the merchant page's statement and the street's settlement show a merchant against 裕丰社区."""

import asyncpg

from domain import merchants, partners
from domain.demo.city import PASSWORD, City
from domain.oversight import adjustments
from domain.people import auth, orgs


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    if "赵强" not in city.volunteers:
        return
    admin = await orgs.load_actor(conn, city.admin)
    sansu, yufeng = city.communities["三苏社区"], city.communities["裕丰社区"]
    owner_id = await auth.create_user(conn, phone="13700000010", password=PASSWORD, name="王师傅")
    merchant = await merchants.create(conn, admin, parent_id=city.streets["苏祠街道"], name="老王理发店",
                                      address="三苏社区北门 12 号", contact_phone="13700000010", owner_name="王师傅",
                                      category="理发", community_ids=[sansu])
    owner = await orgs.load_actor(conn, owner_id)
    [invitation] = (await partners.my_invitations(conn, owner)).items
    await partners.answer(conn, owner, invitation.id, accept=True)
    staff_id = await auth.create_user(conn, phone="13700000011", password=PASSWORD, name="小周")
    staff_invite = await partners.invite(conn, owner, merchant.id, phone="13700000011", name="小周")
    assert staff_invite is not None
    staff = await orgs.load_actor(conn, staff_id)
    await partners.answer(conn, staff, staff_invite.id, accept=True)
    offer = await merchants.create_offer(conn, owner, merchant.id, name="理发一次", description="洗剪吹，男女不限",
                                         price_points=200, monthly_limit=2, stock=30, days=[1, 2, 3, 4, 5, 6, 7],
                                         opens="00:00", closes="24:00")
    await merchants.create_offer(conn, owner, merchant.id, name="20元代金券", description="", price_points=300,
                                 monthly_limit=1, stock=10, days=[1, 2, 3, 4, 5], opens="09:00", closes="18:00")
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])  # manages 三苏社区
    await merchants.decide_offer(conn, manager, offer.id, approve=True)
    zhao = await orgs.load_actor(conn, city.volunteers["赵强"])
    await adjustments.adjust(conn, manager, user_id=zhao.id, unit="points", amount=200,
                             reason="裕丰社区敬老服务（纸质签到补录）", community_id=yufeng)
    voucher = await merchants.take_offer(conn, zhao, offer.id)
    await merchants.redeem(conn, staff, merchant.id, code=voucher.code)
