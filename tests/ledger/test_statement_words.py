"""Statements speak the reader's language (issue 22): no English glued to Chinese labels, for new
postings and for the ones written before (transfers are append-only, so old labels are read in words)."""

import re

from domain import ledger

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


async def test_a_manual_adjustment_has_no_english_label(client, world):
    a = await world.community()
    m = await world.member(a, "刘芳")
    r = await client.post("/api/adjustments", headers=a.manager.headers,
                          json={"user_id": m.id, "unit": "points", "amount": 15, "reason": "补录纸质记录"})
    assert r.status_code == 201
    line = (await client.get("/api/me/statement", headers=m.headers)).json()["items"][0]
    # The page names it by its cause ("人工调整" / "Manual adjustment"); the label adds nothing.
    assert line["cause"] == {"type": "adjustment", "id": a.id, "label": None}
    assert line["reason"] == "补录纸质记录"


async def test_labels_written_before_are_read_without_their_english(client, world, pool):
    a = await world.community()
    m = await world.member(a, "陈伟")
    async with pool.acquire() as conn:
        issuing = await ledger.org_account(conn, a.id, "issuing", "points")
        mine = await ledger.user_account(conn, m.id, "points", a.id)
        for memo in ("调整 adjustment", "纸质记录迁移 migrated paper records",
                     "2025年积分到期 points earned in 2025 expired", "敬老院陪护"):
            async with conn.transaction():
                await ledger.post(conn, unit="points", debit=issuing, credit=mine, amount=5, kind="adjustment",
                                  cause=("adjustment", a.id), memo=memo)
    items = (await client.get("/api/me/statement", headers=m.headers)).json()["items"]
    assert [i["cause"]["label"] for i in items] == ["敬老院陪护", "2025年积分到期", "纸质记录迁移", None]
    assert not any(LATIN_WORD.search(i["cause"]["label"] or "") for i in items)
