"""The members and audit exports stream page by page without a cap (issue 37): every row arrives,
in order, with one header and one byte-order mark, whatever the number of pages; a refusal is still
a JSON error before the first byte."""

import csv
import io

from domain.core import audit
from domain.people import members


async def test_members_csv_streams_every_page(client, world, monkeypatch):
    monkeypatch.setattr(members, "CSV_PAGE", 2)  # five people: three pages
    c = await world.community("分页导出社区")
    people = [await world.member(c, f"分页{i}") for i in range(5)]
    r = await client.get(f"/api/communities/{c.id}/members.csv", headers=c.manager.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode()) and r.content.count("\ufeff".encode()) == 1
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and sum(1 for row in rows if row[0] == "编号") == 1
    ids = [int(row[0]) for row in rows[1:]]
    assert ids == sorted(ids) and set(ids) == {p.id for p in people}
    outsider = await world.person()
    r = await client.get(f"/api/communities/{c.id}/members.csv", headers=outsider.headers)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


async def test_audit_csv_streams_every_page(client, world, monkeypatch):
    monkeypatch.setattr(audit, "CSV_PAGE", 2)
    c = await world.community("分页审计社区")
    for i in range(5):
        await world.member(c, f"审计{i}")  # each member added by the manager leaves an audit row
    expected = await client.get("/api/audit", params={"community_id": c.id, "limit": 100}, headers=c.manager.headers)
    want = [e["id"] for e in expected.json()["items"]]
    assert len(want) >= 3
    r = await client.get("/api/audit.csv", params={"community_id": c.id}, headers=c.manager.headers)
    assert r.status_code == 200 and r.content.count("\ufeff".encode()) == 1
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == audit.CSV_HEADER and len(rows) - 1 == len(want)
    r = await client.get("/api/audit.csv", params={"community_id": c.id}, headers=(await world.person()).headers)
    assert r.status_code == 403
