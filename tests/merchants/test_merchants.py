"""爱心商家 (issue 35) over the API: a street invites a barber whose owner accepts with the SMS code
and adds staff; an offer approved by a community manager; a resident of another community of the
street's spending area shows a voucher and the staff confirm it (points person -> merchant, the
issuing community recorded); the same-day refund; the statement (JSON, CSV, PDF, money at the
street's rate) and the street's settlement; the refusals, each leaving nothing changed; a member card
for residents without a phone; velocity flags; `linli ledger check` with merchant accounts."""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from domain import ledger
from domain.core import clock
from domain.merchants import rules
from domain.people import orgs
from tests.conftest import Community, Person, World, new_phone, register
from tests.snapshot import snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 6, 3, 2, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Shanghai


async def ok(client, person, method: str, path: str, status=(200, 201), **kwargs) -> dict:
    r = await client.request(method, path, headers={**person.headers, **kwargs.pop("headers", {})}, **kwargs)
    assert r.status_code in status, (method, path, r.status_code, r.text)
    return r.json()


async def refused(client, person, method: str, path: str, status: int, code: str | None = None, **kwargs) -> dict:
    r = await client.request(method, path, headers=person.headers, **kwargs)
    assert r.status_code == status, (method, path, r.status_code, r.text)
    body = r.json()
    if code:
        assert body["error"] == code, body
    return body


@dataclass
class Street:
    a: Community            # the barber serves it
    b: Community            # the resident's community, in the same spending area
    street_manager: Person
    owner: Person
    staff: Person
    resident: Person
    merchant_id: int
    offer_id: int


async def points(pool, person) -> int:
    async with pool.acquire() as conn:
        return (await ledger.balances(conn, person.id))["points"].balance


async def merchant_points(pool, merchant_id: int) -> int:
    return await pool.fetchval("select coalesce(sum(e.amount), 0) from accounts a join entries e on e.account_id = a.id "
                               "where a.partner_id = $1 and a.kind = 'merchant'", merchant_id)


async def build(world: World, client, *, monthly_limit: int = 3, stock: int = 50) -> Street:
    clock.freeze(T0)
    a = await world.community("理发社区")
    b = await world.community("邻近社区", street_id=a.street_id)
    admin = await world.actor(await world.admin())
    street_manager = await world.person("街道管理员")
    async with world.pool.acquire() as conn:
        await orgs.appoint_manager(conn, admin, a.street_id, street_manager.id)
    await ok(client, street_manager, "PUT", f"/api/orgs/{a.street_id}/spending-area",
             json={"unit": "points", "enabled": True})
    # The street invites the barber; its contact phone is a new phone: the owner registers with the
    # SMS code (claiming the account the invitation made) and accepts.
    phone = new_phone()
    merchant = await ok(client, street_manager, "POST", "/api/merchants", json={
        "parent_id": a.street_id, "name": f"老王理发{phone[-4:]}", "address": "幸福路12号", "contact_phone": phone,
        "owner_name": "王师傅", "category": "理发", "community_ids": [a.id]})
    assert merchant["communities"] == [a.id] and merchant["settles_with"] == a.id
    registered = await register(client, phone, "barber-pass-1", "王师傅")
    assert registered.status_code in (200, 201), registered.text
    login = registered.json()
    owner = Person(login["user_id"], phone, "王师傅", login["token"], login["csrf"])
    [invitation] = (await ok(client, owner, "GET", "/api/partner-invitations"))["items"]
    assert invitation["partner_kind"] == "merchant" and invitation["role"] == "admin"
    await ok(client, owner, "POST", f"/api/partner-invitations/{invitation['id']}/answer", json={"accept": True})
    # The owner adds a staff member, who accepts.
    staff = await world.person("小李")
    invited = await ok(client, owner, "POST", f"/api/partners/{merchant['id']}/invitations",
                       json={"phone": staff.phone, "name": staff.name})
    await ok(client, staff, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer",
             json={"accept": True})
    offer = await ok(client, owner, "POST", f"/api/merchants/{merchant['id']}/offers", json={
        "name": "理发一次", "price_points": 200, "monthly_limit": monthly_limit, "stock": stock,
        "days": [1, 2, 3, 4, 5, 6, 7], "opens": "08:00", "closes": "20:00"})
    assert offer["state"] == "pending"
    resident = await world.member(b, "张三明")
    await world.fund(resident, b, "points", 1000)
    return Street(a, b, street_manager, owner, staff, resident, merchant["id"], offer["id"])


async def approve(client, s: Street) -> None:
    decided = await ok(client, s.a.manager, "POST", f"/api/offers/{s.offer_id}/decision", json={"approve": True})
    assert decided["state"] == "approved"


async def voucher(client, s: Street, person: Person | None = None) -> dict:
    return await ok(client, person or s.resident, "POST", f"/api/offers/{s.offer_id}/vouchers")


async def picture(pool, s: Street, *people: Person) -> dict:
    """What a refused redemption could have changed: the snapshot of the people and communities, and
    the merchant's own rows (its account, offers' stock, vouchers, redemptions, audit)."""
    base = await snapshot(pool, people=[p.id for p in people], communities=[s.a.id, s.b.id])
    async with pool.acquire() as conn:
        base["merchant"] = {
            "points": await merchant_points(pool, s.merchant_id),
            "offers": [tuple(r) for r in await conn.fetch(
                "select id, state, stock from merchant_offers where partner_id = $1 order by id", s.merchant_id)],
            "vouchers": [tuple(r) for r in await conn.fetch(
                "select v.id, v.used_at from merchant_vouchers v join merchant_offers f on f.id = v.offer_id "
                "where f.partner_id = $1 order by v.id", s.merchant_id)],
            "redemptions": [tuple(r) for r in await conn.fetch(
                "select id, refunded_at from merchant_redemptions where partner_id = $1 order by id", s.merchant_id)],
            "audit": await conn.fetchval("select count(*) from audit_log where act like 'merchant_%' and "
                                         "(target_type = 'partner' and target_id = $1 or after->>'merchant_id' = $2)",
                                         s.merchant_id, str(s.merchant_id)),
        }
    return base


async def test_a_barber_is_invited_publishes_an_offer_and_is_paid_at_the_counter(client, world, pool):
    s = await build(world, client)
    # Residents see nothing before a community manager approves; the merchant's own people cannot approve.
    assert s.offer_id not in [o["id"] for o in await ok(client, s.resident, "GET", "/api/offers")]
    await refused(client, s.owner, "POST", f"/api/offers/{s.offer_id}/decision", 403, json={"approve": True})
    await approve(client, s)
    listed = await ok(client, s.resident, "GET", "/api/offers")
    [mine] = [o for o in listed if o["id"] == s.offer_id]
    assert mine["my_remaining"] == 3 and mine["merchant_address"] == "幸福路12号"

    shown = await voucher(client, s)
    assert shown["display"].replace(" ", "").lower() == shown["code"] and "<svg" in shown["svg"]
    assert datetime.fromisoformat(shown["expires_at"]) == T0 + timedelta(minutes=rules.VOUCHER_MINUTES)
    # The staff type the code as printed, with look-alikes (1 for l, 0 for o), and see the masked name.
    typed = shown["display"].upper().replace("L", "1").replace("O", "0")
    look = await ok(client, s.staff, "GET", f"/api/merchants/{s.merchant_id}/vouchers/{typed.replace(' ', '')}")
    assert (look["offer_name"], look["person"], look["price_points"], look["used"]) == ("理发一次", "张*明", 200, False)
    before = await points(pool, s.resident)
    done = await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", json={"code": typed},
                    headers={"Idempotency-Key": "counter-1"})
    assert done["points"] == 200 and done["via"] == "voucher" and done["community_id"] == s.a.id
    assert await points(pool, s.resident) == before - 200
    assert await merchant_points(pool, s.merchant_id) == 200
    # A double tap with the same key replays; the voucher is used for anyone else.
    again = await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", json={"code": typed},
                     headers={"Idempotency-Key": "counter-1"})
    assert again["id"] == done["id"] and await points(pool, s.resident) == before - 200
    await refused(client, s.owner, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 409, "already_used",
                  json={"code": shown["code"]})
    # The points were issued by the resident's community (B) and spent at a merchant of A.
    transfers = await pool.fetch("select d.org_id from transfers t join accounts d on d.id = t.debit_account "
                                 "where t.cause_type = 'merchant_redemption' and t.cause_id = $1", done["id"])
    assert [t["org_id"] for t in transfers] == [s.b.id]

    # The street pays 5 fen a point; the statement and the settlement show it against community B.
    await ok(client, s.street_manager, "PUT", f"/api/orgs/{s.a.street_id}/merchant-rate", json={"fen_per_point": 5})
    await ok(client, s.a.manager, "PUT", f"/api/orgs/{s.a.id}/merchant-rate", json={"fen_per_point": 10})
    statement = await ok(client, s.owner, "GET", f"/api/merchants/{s.merchant_id}/statement?month=2026-06")
    assert (statement["redemptions"], statement["refunds"], statement["points"]) == (1, 0, 200)
    assert statement["settles_with"] == s.a.id and statement["money_fen"] == 2000  # A's rate: it serves A alone
    assert statement["by_issuer"] == [{"community_id": s.b.id, "community_name": "邻近社区", "points": 200}]
    settlement = await ok(client, s.street_manager, "GET", f"/api/orgs/{s.a.street_id}/settlement?month=2026-06")
    [line] = [m for m in settlement["merchants"] if m["merchant_id"] == s.merchant_id]
    assert (line["issuer_id"], line["points"], line["redemptions"], line["money_fen"]) == (s.b.id, 200, 1, 2000)
    csv = await client.get(f"/api/orgs/{s.a.street_id}/settlement?month=2026-06&format=csv",
                           headers=s.street_manager.headers)
    assert "爱心商家：老王理发" in csv.content.decode("utf-8-sig")

    # The same day, the staff refund it with a reason: everything goes back; the month nets to zero.
    refunded = await ok(client, s.staff, "POST", f"/api/merchant-redemptions/{done['id']}/refund",
                        json={"reason": "顾客临时有事"})
    assert refunded["refund_reason"] == "顾客临时有事"
    assert await points(pool, s.resident) == before and await merchant_points(pool, s.merchant_id) == 0
    await refused(client, s.staff, "POST", f"/api/merchant-redemptions/{done['id']}/refund", 409,
                  json={"reason": "再退一次"})
    statement = await ok(client, s.owner, "GET", f"/api/merchants/{s.merchant_id}/statement?month=2026-06")
    assert (statement["redemptions"], statement["refunds"], statement["points"]) == (1, 1, 0)

    csv = await client.get(f"/api/merchants/{s.merchant_id}/statement?month=2026-06&format=csv", headers=s.owner.headers)
    assert csv.status_code == 200 and "理发一次" in csv.content.decode("utf-8-sig") and "张*明" in csv.text
    assert "张三明" not in csv.content.decode("utf-8-sig")
    pdf = await client.get(f"/api/merchants/{s.merchant_id}/statement?month=2026-06&format=pdf",
                           headers=s.street_manager.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # Every merchant act is audited.
    acts = {r["act"] for r in await pool.fetch(
        "select act from audit_log where (target_type = 'partner' and target_id = $1) or after->>'merchant_id' = $2",
        s.merchant_id, str(s.merchant_id))}
    assert {"merchant_create", "partner_invite", "partner_invitation_answer", "merchant_offer_create",
            "merchant_offer_decide", "merchant_redeem", "merchant_refund"} <= acts
    assert await world.ledger_problems() == {}


async def test_a_refund_is_only_for_the_same_day(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    done = await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions",
                    json={"code": (await voucher(client, s))["code"]})
    clock.advance(timedelta(days=1))
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchant-redemptions/{done['id']}/refund", 409, "invalid_state",
                  json={"reason": "第二天才来退"})
    assert await picture(pool, s, s.resident, s.staff) == before


async def test_a_merchant_outside_the_persons_area_refuses_and_changes_nothing(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    elsewhere = await world.community("别的街道社区")  # another street: no shared spending area
    outsider = await world.member(elsewhere, "赵六")
    await world.fund(outsider, elsewhere, "points", 1000)
    assert s.offer_id not in [o["id"] for o in await ok(client, outsider, "GET", "/api/offers")]
    before = await picture(pool, s, outsider)
    await refused(client, outsider, "POST", f"/api/offers/{s.offer_id}/vouchers", 403, "outside_area")
    assert await picture(pool, s, outsider) == before
    # The street closes its area after a voucher was shown: the counter refuses too.
    shown = await voucher(client, s)
    await ok(client, s.street_manager, "PUT", f"/api/orgs/{s.a.street_id}/spending-area",
             json={"unit": "points", "enabled": False})
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 403, "outside_area",
                  json={"code": shown["code"]})
    assert await picture(pool, s, s.resident, s.staff) == before


async def test_an_offer_over_its_monthly_limit_refuses_and_changes_nothing(client, world, pool):
    s = await build(world, client, monthly_limit=1)
    await approve(client, s)
    first, second = await voucher(client, s), await voucher(client, s)  # taken before the first was used
    await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", json={"code": first["code"]})
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 409, "limit_reached",
                  json={"code": second["code"]})
    await refused(client, s.resident, "POST", f"/api/offers/{s.offer_id}/vouchers", 409, "limit_reached")
    assert await picture(pool, s, s.resident, s.staff) == before


async def test_staff_cannot_redeem_their_own_voucher(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    # A resident of B took a voucher, then joined the barber's staff: their own voucher is refused.
    shown = await voucher(client, s)
    invited = await ok(client, s.owner, "POST", f"/api/partners/{s.merchant_id}/invitations",
                       json={"phone": s.resident.phone, "name": s.resident.name})
    await ok(client, s.resident, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer",
             json={"accept": True})
    before = await picture(pool, s, s.resident, s.staff)
    for counter in (s.resident, s.staff):  # at their own hand, or a colleague's
        body = await refused(client, counter, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 403, "forbidden",
                             json={"code": shown["code"]})
        assert body["details"]["rule"] == "own_merchant"
    await refused(client, s.staff, "POST", f"/api/offers/{s.offer_id}/vouchers", 403, "forbidden")
    assert await picture(pool, s, s.resident, s.staff) == before


async def test_a_suspended_merchant_redeems_nothing(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    shown = await voucher(client, s)
    await refused(client, s.owner, "POST", f"/api/merchants/{s.merchant_id}/suspension", 403,
                  json={"suspended": True, "reason": "自己停"})
    suspended = await ok(client, s.street_manager, "POST", f"/api/merchants/{s.merchant_id}/suspension",
                         json={"suspended": True, "reason": "居民投诉，暂停核查"})
    assert suspended["suspended"] is True
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 409, "merchant_suspended",
                  json={"code": shown["code"]})
    await refused(client, s.resident, "POST", f"/api/offers/{s.offer_id}/vouchers", 409, "merchant_suspended")
    assert s.offer_id not in [o["id"] for o in await ok(client, s.resident, "GET", "/api/offers")]
    assert await picture(pool, s, s.resident, s.staff) == before
    await ok(client, s.street_manager, "POST", f"/api/merchants/{s.merchant_id}/suspension",
             json={"suspended": False, "reason": "核查无误"})
    await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", json={"code": shown["code"]})


async def test_one_voucher_at_twenty_counters_at_once_is_redeemed_exactly_once(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    shown = await voucher(client, s)
    before = await points(pool, s.resident)
    counters = [s.staff, s.owner] * 10
    answers = await asyncio.gather(*[
        client.post(f"/api/merchants/{s.merchant_id}/redemptions", json={"code": shown["code"]}, headers=p.headers)
        for p in counters])
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 19, [r.text for r in answers if r.status_code not in (201, 409)]
    assert {r.json()["error"] for r in answers if r.status_code == 409} == {"already_used"}
    assert await points(pool, s.resident) == before - 200 and await merchant_points(pool, s.merchant_id) == 200
    assert await pool.fetchval("select count(*) from merchant_redemptions where partner_id = $1", s.merchant_id) == 1
    assert await world.ledger_problems() == {}


async def test_a_member_card_alone_is_for_residents_without_a_phone_with_a_daily_limit(client, world, pool):
    s = await build(world, client, stock=10)
    await approve(client, s)
    elder = await ok(client, s.b.manager, "POST", f"/api/communities/{s.b.id}/residents", json={"name": "孙奶奶"})
    elder_person = Person(elder["id"], "", "孙奶奶", "", "")
    await world.fund(elder_person, s.b, "points", 1000)
    card = await ok(client, s.b.manager, "POST", f"/api/communities/{s.b.id}/members/{elder['id']}/card")
    code = card["code"]
    done = await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions",
                    json={"card": code, "offer_id": s.offer_id})
    assert done["via"] == "card" and done["person"] == "孙*奶"
    # 200 of the card's 300 a day are used: another 200 today is over the limit.
    before = await picture(pool, s, elder_person, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 409, "limit_reached",
                  json={"card": code, "offer_id": s.offer_id})
    assert await picture(pool, s, elder_person, s.staff) == before
    # A resident with a phone shows a voucher: their card alone is refused.
    resident_card = (await ok(client, s.b.manager, "POST",
                              f"/api/communities/{s.b.id}/members/{s.resident.id}/card"))
    resident_code = resident_card["code"]
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 403, "forbidden",
                  json={"card": resident_code, "offer_id": s.offer_id})
    assert await picture(pool, s, s.resident, s.staff) == before


async def test_velocity_per_person_and_merchant_flags_the_street(client, world, pool, monkeypatch):
    s = await build(world, client, monthly_limit=5)
    await approve(client, s)
    monkeypatch.setattr(rules, "PERSON_DAILY_FLAG", 1)
    monkeypatch.setattr(rules, "MERCHANT_DAILY_FLAG", 1)
    for _ in range(2):
        await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions",
                 json={"code": (await voucher(client, s))["code"]})
    flags = await ok(client, s.street_manager, "GET", f"/api/manager-flags?community_id={s.a.id}")
    reasons = {(f["reason"], f["manager"]["id"]) for f in flags["items"]}
    assert ("person_velocity", s.resident.id) in reasons and ("merchant_velocity", s.staff.id) in reasons


async def test_only_the_parent_managers_invite_and_only_the_owner_publishes(client, world, pool):
    s = await build(world, client)
    body = {"parent_id": s.a.street_id, "name": "不该有的店", "address": "某路1号", "contact_phone": new_phone(),
            "owner_name": "某人", "category": "餐饮"}
    await refused(client, s.a.manager, "POST", "/api/merchants", 403, json=body)  # a community manager: not the street
    await refused(client, s.resident, "POST", "/api/merchants", 403, json=body)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/offers", 403, json={
        "name": "员工发布", "price_points": 10, "monthly_limit": 1, "stock": 1})
    # A community's own merchant serves it alone and settles with it.
    own = await ok(client, s.b.manager, "POST", "/api/merchants", json={
        "parent_id": s.b.id, "name": "社区小卖部", "address": "3栋", "contact_phone": new_phone(),
        "owner_name": "刘姐", "category": "百货"})
    assert own["communities"] == [s.b.id] and own["settles_with"] == s.b.id
    street_wide = await ok(client, s.street_manager, "POST", "/api/merchants", json={
        "parent_id": s.a.street_id, "name": "街道超市", "address": "主街1号", "contact_phone": new_phone(),
        "owner_name": "陈总", "category": "百货"})
    assert set(street_wide["communities"]) >= {s.a.id, s.b.id} and street_wide["settles_with"] == s.a.street_id


async def test_a_voucher_lasts_minutes_and_a_withdrawn_offer_or_closed_hours_redeem_nothing(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    late = await voucher(client, s)
    clock.advance(timedelta(minutes=rules.VOUCHER_MINUTES, seconds=1))
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 410, "code_expired",
                  json={"code": late["code"]})
    assert await picture(pool, s, s.resident, s.staff) == before
    # The offer's hours are 08:00-20:00 Shanghai: a voucher shown at 19:55 is refused at 20:01, and at
    # 21:00 none is given.
    clock.freeze(T0 + timedelta(hours=9, minutes=55))
    shown = await voucher(client, s)
    clock.advance(timedelta(minutes=6))
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 409, "outside_window",
                  json={"code": shown["code"]})
    clock.freeze(T0 + timedelta(hours=11))
    await refused(client, s.resident, "POST", f"/api/offers/{s.offer_id}/vouchers", 409, "outside_window")
    assert await picture(pool, s, s.resident, s.staff) == before
    clock.freeze(T0)
    shown = await voucher(client, s)
    # Withdrawn by the community: gone from residents, and a voucher already shown is refused.
    withdrawn = await ok(client, s.a.manager, "POST", f"/api/offers/{s.offer_id}/decision", json={"approve": False})
    assert withdrawn["state"] == "withdrawn"
    assert s.offer_id not in [o["id"] for o in await ok(client, s.resident, "GET", "/api/offers")]
    before = await picture(pool, s, s.resident, s.staff)
    await refused(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", 404,
                  json={"code": shown["code"]})
    assert await picture(pool, s, s.resident, s.staff) == before


async def test_the_ledger_check_reads_merchant_accounts(client, world, pool):
    """`linli ledger check` (domain/ledger/check.py) judges merchant accounts and redemptions: a
    redemption whose points the ledger does not hold is found (written here inside a transaction that
    is rolled back)."""
    from domain.ledger import check as ledger_check
    s = await build(world, client)
    await approve(client, s)
    await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions",
             json={"code": (await voucher(client, s))["code"]})
    async with pool.acquire() as conn:
        assert await ledger_check.check(conn) == {}
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(
                """insert into merchant_redemptions (partner_id, offer_id, offer_name, user_id, community_id, via,
                                                     points, staff_id, redeemed_at)
                   values ($1, $2, '理发一次', $3, $4, 'card', 200, $5, now())""",
                s.merchant_id, s.offer_id, s.resident.id, s.a.id, s.staff.id)
            found = await conn.fetch(ledger_check.CHECKS["merchant redemption differs from the ledger"])
            assert [r["points"] for r in found] == [200] and found[0]["amount"] is None
        finally:
            await tx.rollback()
