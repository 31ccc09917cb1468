"""Residents without phones and their printed cards (issue 18): a manager creates a member with no
phone, prints cards in batches (A4 PDF, 10 a page) whose QR codes are working member codes; the
card earns at a station scan and redeems on the spot; a reissued card revokes the old code."""

import io
import json
import re

import zxingcpp
from PIL import Image

from tests.conftest import appoint
from tests.snapshot import unchanged
from tests.people.test_joining import activity


def pdf_pages(pdf: bytes) -> list[Image.Image]:
    """The page images inside a PDF written by Pillow (one JPEG image per page)."""
    assert pdf.startswith(b"%PDF")
    images = []
    for match in re.finditer(rb"/Filter\s*/DCTDecode.*?stream\r?\n", pdf, re.S):
        start = match.end()
        end = pdf.index(b"\xff\xd9", start) + 2  # a JPEG ends with EOI
        images.append(Image.open(io.BytesIO(pdf[start:end])).convert("L"))
    return images


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


async def test_a_member_without_a_phone_earns_at_a_station_and_redeems_by_card(client, world, pool):
    c = await world.community("三苏社区")
    r = await client.post(f"/api/communities/{c.id}/residents", headers=c.manager.headers,
                          json={"name": "王秀兰", "household": "3栋2单元501", "id_hint": "1234"})
    assert r.status_code == 201, r.text
    elder = r.json()
    assert await pool.fetchval("select phone from users where id = $1", elder["id"]) is None
    # A double tap with the same Idempotency-Key adds her once.
    for _ in range(2):
        again = await client.post(f"/api/communities/{c.id}/residents", json={"name": "李桂英"},
                                  headers={**c.manager.headers, "Idempotency-Key": "add-li-1"})
        assert again.status_code == 201
    assert await pool.fetchval("select count(*) from users where name = '李桂英'") == 1
    assert elder["card_url"].endswith(f"/s/{elder['card_code']}")
    rows = await pool.fetch("select * from audit_log where act = 'member_create' and target_id = $1", elder["id"])
    assert len(rows) == 1 and rows[0]["community_id"] == c.id
    listed = (await client.get(f"/api/communities/{c.id}/residents", headers=c.manager.headers)).json()
    assert [p["name"] for p in listed] == ["王秀兰", "李桂英"]

    made = await activity(client, c, points=30)
    r = await client.post(f"/api/activities/{made['id']}/station-scans", headers=c.manager.headers,
                          json={"code": elder["card_url"]})
    assert r.status_code == 200 and r.json()["action"] == "checked_in" and r.json()["points"] == 30
    reward = await client.post("/api/rewards", headers=c.manager.headers,
                               json={"community_id": c.id, "name": "肥皂", "cost_points": 20, "stock": 5})
    # The manager who added her and credited her at the station redeems for her: held for another
    # manager (issue 30, finding 1c), who approves; her points are spent then.
    r = await client.post("/api/redemptions/on-the-spot", headers={**c.manager.headers, "Idempotency-Key": "elder-1"},
                          json={"member_code": elder["card_code"], "reward_id": reward.json()["id"]})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "requested"
    assert await pool.fetchval("select balance from accounts where user_id = $1 and unit = 'points'", elder["id"]) == 30
    deputy = await world.person("副主任")
    assert (await appoint(client, await world.admin(), c.id, deputy)).status_code == 200
    r = await client.post(f"/api/held/redemption/{r.json()['id']}/approve", headers=deputy.headers, json={})
    assert r.status_code == 200, r.text
    assert await pool.fetchval("select balance from accounts where user_id = $1 and unit = 'points'", elder["id"]) == 10

    # A lost card: the new one works, the old one is refused.
    r = await client.post(f"/api/communities/{c.id}/members/{elder['id']}/card", headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["code"] != elder["card_code"]
    new_code = r.json()["code"]
    r = await client.post("/api/redemptions/on-the-spot", headers={**c.manager.headers, "Idempotency-Key": "elder-2"},
                          json={"member_code": elder["card_code"], "reward_id": reward.json()["id"]})
    assert r.status_code == 410 and r.json()["error"] == "code_revoked"
    r = await client.post(f"/api/activities/{made['id']}/station-scans", headers=c.manager.headers,
                          json={"code": new_code})
    # the same person (a check-out needs a few minutes inside: this answer proves the card is theirs)
    assert r.status_code == 200 and r.json()["action"] == "already_checked_in"
    assert r.json()["details"]["user_id"] == elder["id"]
    assert len(await pool.fetch("select 1 from audit_log where act = 'card_reissue' and target_id = $1",
                                elder["id"])) == 1


async def test_a_batch_of_thirty_cards_prints_on_three_pages_whose_qr_codes_work(client, world, pool):
    c = await world.community("三苏社区")
    ids = []
    for i in range(25):
        r = await client.post(f"/api/communities/{c.id}/residents", headers=c.manager.headers,
                              json={"name": f"居民{i:02d}", "household": f"{i}栋"})
        ids.append(r.json()["id"])
    ids += [(await world.member(c, f"志愿者{i}")).id for i in range(5)]  # members with phones print too
    r = await client.get(f"/api/communities/{c.id}/member-cards.pdf", headers=c.manager.headers,
                         params={"user_ids": ",".join(map(str, ids))})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/pdf")
    pdf = r.content
    assert page_count(pdf) == 3
    pages = pdf_pages(pdf)
    assert len(pages) == 3 and all(p.size == (1654, 2339) for p in pages)  # A4 at 200 dpi
    decoded = [found.text for page in pages for found in zxingcpp.read_barcodes(page)
               if found.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(decoded) == 30
    live = {row["target_id"]: row["code"] for row in await pool.fetch(
        "select target_id, code from codes where kind = 'member' and revoked_at is null and target_id = any($1)", ids)}
    assert sorted(url.rsplit("/s/", 1)[1] for url in decoded) == sorted(live[i] for i in ids)
    # Each decoded QR is a working member code: the scan page recognises it as that member's card.
    for url in decoded[:3]:
        preview = await client.get(f"/api/scans/{url.rsplit('/s/', 1)[1]}", headers=c.manager.headers)
        assert preview.status_code == 200 and preview.json()["kind"] == "member"


async def test_cards_only_for_members_of_the_managers_community(client, world, pool):
    a, b = await world.community("A"), await world.community("B")
    outsider = await world.member(b, "外人")
    cards = "select code, revoked_at from codes where kind = 'member' and target_id = $1 order by code"
    before = [tuple(x) for x in await pool.fetch(cards, outsider.id)]
    residents = "select count(*) from resident_profiles where community_id = $1"
    async with unchanged(pool, people=[outsider.id, a.manager.id, b.manager.id], communities=[a.id, b.id]):
        r = await client.get(f"/api/communities/{a.id}/member-cards.pdf", headers=a.manager.headers,
                             params={"user_ids": str(outsider.id)})
        assert r.status_code == 403
        r = await client.get(f"/api/communities/{a.id}/member-cards.pdf", headers=a.manager.headers,
                             params={"user_ids": "1,x"})
        assert r.status_code == 422
        r = await client.post(f"/api/communities/{a.id}/members/{outsider.id}/card", headers=a.manager.headers)
        assert r.status_code == 403
        r = await client.post(f"/api/communities/{a.id}/residents", headers=b.manager.headers, json={"name": "王"})
        assert r.status_code == 403
    assert [tuple(x) for x in await pool.fetch(cards, outsider.id)] == before  # no card issued or revoked
    assert await pool.fetchval(residents, a.id) == 0


async def test_finding_7_printing_cards_is_audited_says_what_it_issued_and_renders_off_the_loop(
        client, world, pool, monkeypatch):
    """Issue 30 finding 7: printing issued new card codes silently (no audit row), and 300 cards
    rendered on the event loop stalled every request for 2 s."""
    import threading
    from domain.core import cards
    c = await world.community()
    r = await client.post(f"/api/communities/{c.id}/residents", headers=c.manager.headers, json={"name": "周秀英"})
    elder = r.json()["id"]                     # created with a card
    member = (await world.member(c, "有手机的")).id  # no card yet: printing issues one
    on_loop = []
    real = cards.cards_pdf

    def spy(printed):
        on_loop.append(threading.current_thread() is threading.main_thread())
        return real(printed)
    monkeypatch.setattr(cards, "cards_pdf", spy)
    r = await client.get(f"/api/communities/{c.id}/member-cards.pdf", headers=c.manager.headers,
                         params={"user_ids": f"{elder},{member}"})
    assert r.status_code == 200 and r.headers["x-cards-issued"] == "1"
    assert on_loop == [False]
    [row] = await pool.fetch("select * from audit_log where act = 'cards_print' and community_id = $1", c.id)
    assert row["actor_id"] == c.manager.id and (row["target_type"], row["target_id"]) == ("org", c.id)
    after = json.loads(row["after"]) if isinstance(row["after"], str) else row["after"]
    assert after == {"user_ids": [elder, member], "issued": [member]}
    # printed again: the same cards, nothing issued, audited again
    r = await client.get(f"/api/communities/{c.id}/member-cards.pdf", headers=c.manager.headers,
                         params={"user_ids": f"{elder},{member}"})
    assert r.headers["x-cards-issued"] == "0"
    assert await pool.fetchval("select count(*) from audit_log where act = 'cards_print' and community_id = $1",
                               c.id) == 2
