"""Courier reports over the API: filing with photos, refusals that store nothing, idempotent uploads,
verification with points on the ledger, the daily cap, farming flags, and community scope."""

import asyncio
import io
import struct
import uuid
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from PIL import ExifTags, Image

from domain.core import clock
from tests.snapshot import unchanged

pytestmark = pytest.mark.asyncio(loop_scope="session")


# ---- helpers --------------------------------------------------------------------------------

def camera_jpeg(size=(3000, 2000), color=(90, 140, 60)) -> bytes:
    """A phone-like photo that carries its GPS position in EXIF."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Courier Phone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 2.0, 31.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (103.0, 49.0, 53.0)
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_bomb(width=30000, height=30000) -> bytes:
    """A tiny PNG whose header claims a huge size: decoding it would take gigabytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def form(photo: bytes | None = None, filename: str = "photo.jpg", **fields) -> dict:
    """A multipart body (httpx sends multipart only when there are files, so fields go there too)."""
    files = {name: (None, str(value)) for name, value in fields.items()}
    if photo is not None:
        files["photo"] = (filename, photo, "image/jpeg")
    return files


async def file_report(client, person, *, kind="hazard", text="消防通道被占用", photo=None, key=None, **fields):
    headers = dict(person.headers)
    if key:
        headers["Idempotency-Key"] = key
    if kind == "hazard" and photo is None:
        photo = camera_jpeg((800, 600))
    return await client.post("/api/reports", headers=headers,
                             files=form(photo if photo is not False else None, kind=kind, text=text, **fields))


async def counts(pool) -> tuple[int, int]:
    return (await pool.fetchval("select count(*) from reports"),
            await pool.fetchval("select count(*) from report_photos"))


async def balance(client, person) -> int:
    return (await client.get("/api/me/balances", headers=person.headers)).json()["points"]["available"]


# ---- filing, verifying, the statement ---------------------------------------------------------

async def test_hazard_photo_is_stripped_verified_once_and_shows_on_the_statement(client, world, pool):
    community = await world.community("三苏社区")
    courier = await world.member(community, "马骏", role="courier")
    original = camera_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the upload has GPS

    filed = await file_report(client, courier, text="北门消防通道被面包车占用", photo=original,
                              place="北门消防通道", lat="30.0421", lng="103.8313")

    assert filed.status_code == 201, filed.text
    report = filed.json()
    assert report["state"] == "pending" and report["kind"] == "hazard"
    assert report["grid"]["id"] == community.grid_id and report["community_id"] == community.id
    assert report["map_url"].startswith("https://uri.amap.com/marker?position=103.831300%2C30.042100")
    stored = await pool.fetchval("select jpeg from report_photos where report_id = $1", report["id"])
    assert b"Exif" not in stored and stored != original

    served = await client.get(report["photo_url"], headers=community.manager.headers)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert "max-age" in served.headers["cache-control"] and "private" in served.headers["cache-control"]
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "JPEG" and max(image.size) <= 1600
    assert len(image.getexif()) == 0 and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert (await client.get(report["photo_url"], headers=courier.headers)).status_code == 200  # the filer

    verified = await client.post(f"/api/reports/{report['id']}/verify", headers=community.manager.headers)

    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified" and verified.json()["points"] == 10
    assert verified.json()["reviewed_by"]["id"] == community.manager.id
    assert await balance(client, courier) == 10
    line = (await client.get("/api/me/statement?unit=points", headers=courier.headers)).json()["items"][0]
    assert line["amount"] == 10 and line["kind"] == "award"
    assert line["cause"] == {"type": "report", "id": report["id"], "label": "隐患排查上报"}

    again = await client.post(f"/api/reports/{report['id']}/verify", headers=community.manager.headers)
    assert again.status_code == 409 and again.json()["error"] == "invalid_state"
    assert await balance(client, courier) == 10
    assert await world.ledger_problems() == {}


async def test_hazard_needs_a_photo_other_kinds_do_not(client, world, pool):
    community = await world.community()
    courier = await world.member(community, role="courier")
    before = await counts(pool)

    missing = await file_report(client, courier, kind="hazard", photo=False)

    assert missing.status_code == 422
    assert missing.json()["error"] == "validation_failed" and missing.json()["details"]["field"] == "photo"
    assert await counts(pool) == before
    civility = await file_report(client, courier, kind="civility", text="劝导路边乱扔垃圾")
    assert civility.status_code == 201 and civility.json()["photo_url"] is None


@pytest.mark.parametrize(("name", "photo", "filename", "status", "code"), [
    ("text renamed .jpg", "这不是图片，只是一段文字。\n".encode() * 50, "photo.jpg", 415, "unsupported_media"),
    ("20 MB file", b"\xff\xd8\xff\xe0" + b"\0" * (20 * 1024 * 1024), "big.jpg", 413, "too_large"),
    ("decompression bomb", png_bomb(), "bomb.png", 413, "too_large"),
    ("truncated jpeg", camera_jpeg((400, 300))[:600], "cut.jpg", 415, "unsupported_media"),
])
async def test_bad_photos_are_refused_and_nothing_is_stored(client, world, pool, name, photo, filename, status, code):
    community = await world.community()
    courier = await world.member(community, role="courier")
    before = await counts(pool)

    refused = await file_report(client, courier, photo=photo, key=str(uuid.uuid4()))

    assert refused.status_code == status, (name, refused.text)
    assert refused.json()["error"] == code
    assert await counts(pool) == before
    health = await client.get("/readyz")  # the app and its database still answer
    assert health.status_code == 200 and health.json()["status"] == "ok"


async def test_malformed_or_incomplete_forms_are_4xx_json(client, world, pool):
    community = await world.community()
    courier = await world.member(community, role="courier")
    before = await counts(pool)
    bodies = [
        (b"--xyz\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nhazard", "multipart/form-data; boundary=xyz"),
        (b"not multipart at all", "multipart/form-data; boundary=xyz"),
        (b"kind=civility&text=hi", "application/x-www-form-urlencoded"),
        (b'{"kind": "civility", "text": "hi"}', "application/json"),
    ]
    for body, content_type in bodies:
        answer = await client.post("/api/reports", content=body,
                                   headers={**courier.headers, "content-type": content_type})
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.json()["error"] == "validation_failed"
    for fields, field in [({"text": "hi"}, "kind"), ({"kind": "party", "text": "hi"}, "kind"),
                          ({"kind": "civility", "text": ""}, "text"), ({"kind": "civility", "text": "x" * 501}, "text"),
                          ({"kind": "civility", "text": "hi", "lat": "91", "lng": "100"}, "lat"),
                          ({"kind": "civility", "text": "hi", "lat": "30.1"}, "lng"),
                          ({"kind": "civility", "text": "   "}, "text")]:
        answer = await client.post("/api/reports", headers=courier.headers, files=form(**fields))
        assert answer.status_code == 422, (fields, answer.text)
        assert answer.json()["details"]["field"] == field
    assert await counts(pool) == before
    assert (await client.get("/readyz")).status_code == 200


async def test_a_photo_just_under_10_mb_is_accepted(client, world):
    """The route's own body limit is above the app's 1 MB default."""
    community = await world.community()
    courier = await world.member(community, role="courier")
    padded = camera_jpeg((1200, 900)) + b"\0" * (9 * 1024 * 1024)  # decoders ignore bytes after the image

    filed = await file_report(client, courier, photo=padded)

    assert filed.status_code == 201, filed.text


async def test_only_couriers_of_a_grid_file_reports(client, world, pool):
    community = await world.community()
    volunteer = await world.member(community, role="volunteer")
    async with unchanged(pool, people=[volunteer.id], communities=[community.id]):
        answer = await file_report(client, volunteer, kind="civility")
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert await pool.fetchval("select count(*) from reports where courier_id = $1", volunteer.id) == 0
    unauthenticated = await client.post("/api/reports", files=form(kind="civility", text="hi"))
    assert unauthenticated.status_code == 401


# ---- idempotent uploads -----------------------------------------------------------------------

async def test_the_same_upload_twice_with_one_key_files_one_report(client, world, pool):
    community = await world.community()
    courier = await world.member(community, role="courier")
    key = str(uuid.uuid4())
    photo = camera_jpeg((1000, 800))

    first = await file_report(client, courier, photo=photo, key=key, place="南门")
    second = await file_report(client, courier, photo=photo, key=key, place="南门")

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert await pool.fetchval("select count(*) from reports where courier_id = $1", courier.id) == 1

    racing_key = str(uuid.uuid4())
    answers = await asyncio.gather(*[file_report(client, courier, photo=photo, key=racing_key) for _ in range(4)])
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await pool.fetchval("select count(*) from reports where courier_id = $1", courier.id) == 2

    changed = await file_report(client, courier, photo=photo, key=key, place="南门", text="另一件事")
    assert changed.status_code == 409 and changed.json()["error"] == "idempotency_conflict"


# ---- reject, the daily cap, flags -------------------------------------------------------------

async def test_reject_needs_a_reason_the_courier_sees(client, world):
    community = await world.community()
    courier = await world.member(community, role="courier")
    report = (await file_report(client, courier, kind="service", text="帮老人搬东西")).json()
    manager = community.manager.headers

    blank = await client.post(f"/api/reports/{report['id']}/reject", headers=manager, json={"reason": "  "})
    assert blank.status_code == 422 and blank.json()["details"]["field"] == "reason"
    rejected = await client.post(f"/api/reports/{report['id']}/reject", headers=manager, json={"reason": "照片看不清"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"

    mine = (await client.get("/api/reports?mine=true", headers=courier.headers)).json()["items"]
    assert [(r["id"], r["state"], r["reject_reason"]) for r in mine] == [(report["id"], "rejected", "照片看不清")]
    late = await client.post(f"/api/reports/{report['id']}/verify", headers=manager)
    assert late.status_code == 409 and late.json()["error"] == "invalid_state"
    assert await balance(client, courier) == 0


async def test_beyond_the_daily_cap_a_report_is_verified_with_what_is_left(client, world):
    """Documented choice: verifying past the cap confirms the report with partial or 0 points and says why."""
    community = await world.community()
    courier = await world.member(community, role="courier")
    manager = community.manager.headers
    settings = await client.put(f"/api/communities/{community.id}/report-settings", headers=manager,
                                json={"daily_cap": 25})
    assert settings.status_code == 200 and settings.json()["daily_cap"] == 25
    morning = datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
    ids = []
    for i in range(4):
        clock.freeze(morning + timedelta(hours=i))  # an hour apart: not duplicates of each other
        ids.append((await file_report(client, courier, text=f"隐患 {i}")).json()["id"])
    clock.freeze(morning + timedelta(hours=15))  # 00:00 on 2 June in Shanghai: a new day
    next_day = (await file_report(client, courier, text="第二天的隐患")).json()["id"]

    results = []
    for report_id in ids:
        if report_id == ids[2]:  # the queue warns before the manager verifies the one that hits the cap
            queue = (await client.get(f"/api/reports?state=pending&grid_id={community.grid_id}",
                                      headers=manager)).json()["items"]
            flags = {r["id"]: r["flags"] for r in queue}
            assert {"code": "over_cap", "report_ids": [], "points_left": 5} in flags[ids[2]]
        results.append((await client.post(f"/api/reports/{report_id}/verify", headers=manager)).json())

    assert [r["points"] for r in results] == [10, 10, 5, 0]
    assert [r["points_withheld"] for r in results] == [0, 0, 5, 10]
    assert [r["withheld_reason"] for r in results] == [None, None, "daily_cap_reached", "daily_cap_reached"]
    assert all(r["state"] == "verified" for r in results)
    assert await balance(client, courier) == 25
    fresh = (await client.post(f"/api/reports/{next_day}/verify", headers=manager)).json()
    assert fresh["points"] == 10 and fresh["points_withheld"] == 0
    assert await balance(client, courier) == 35
    assert await world.ledger_problems() == {}


async def test_queue_flags_a_likely_duplicate_and_shows_the_couriers_history(client, world):
    community = await world.community()
    courier = await world.member(community, role="courier")
    clock.freeze(datetime(2026, 7, 1, 3, 0, tzinfo=timezone.utc))
    first = (await file_report(client, courier, lat="30.04210", lng="103.83130")).json()
    clock.advance(timedelta(minutes=4))
    second = (await file_report(client, courier, lat="30.04230", lng="103.83140")).json()  # ~25 m away
    clock.advance(timedelta(minutes=2))
    elsewhere = (await file_report(client, courier, lat="30.05000", lng="103.83130")).json()

    queue = (await client.get(f"/api/reports?community_id={community.id}&state=pending",
                              headers=community.manager.headers)).json()["items"]

    by_id = {r["id"]: r for r in queue}
    assert by_id[second["id"]]["flags"] == [{"code": "duplicate", "report_ids": [first["id"]], "points_left": None}]
    assert by_id[first["id"]]["flags"] == [] and by_id[elsewhere["id"]]["flags"] == []
    assert by_id[first["id"]]["history"] == {"verified": 0, "rejected": 0, "pending": 3, "points": 0}
    assert [r["id"] for r in queue] == [elsewhere["id"], second["id"], first["id"]]  # newest first
    one = (await client.get(f"/api/reports?community_id={community.id}&limit=1",
                            headers=community.manager.headers)).json()
    assert len(one["items"]) == 1 and one["next_cursor"]
    rest = (await client.get(f"/api/reports?community_id={community.id}&limit=5&cursor={one['next_cursor']}",
                             headers=community.manager.headers)).json()
    assert [r["id"] for r in rest["items"]] == [second["id"], first["id"]] and rest["next_cursor"] is None
    # The courier's own list carries no reviewer aids.
    assert all(r["flags"] == [] and r["history"] is None
               for r in (await client.get("/api/reports?mine=true", headers=courier.headers)).json()["items"])


# ---- scope ------------------------------------------------------------------------------------

async def test_a_manager_of_another_community_cannot_see_or_review(client, world, pool):
    """Single reports outside your communities are 404 (as if absent); lists filtered by them are 403."""
    ours = await world.community("三苏社区")
    theirs = await world.community("诗书社区")
    courier = await world.member(ours, role="courier")
    report = (await file_report(client, courier)).json()
    other = theirs.manager.headers

    assert (await client.get(f"/api/reports/{report['id']}", headers=other)).status_code == 404
    assert (await client.get(report["photo_url"], headers=other)).status_code == 404
    verify = await client.post(f"/api/reports/{report['id']}/verify", headers=other)
    assert verify.status_code == 404 and verify.json()["error"] == "not_found"
    reject = await client.post(f"/api/reports/{report['id']}/reject", headers=other, json={"reason": "不是真的"})
    assert reject.status_code == 404
    listed = await client.get(f"/api/reports?grid_id={ours.grid_id}", headers=other)
    assert listed.status_code == 403 and listed.json()["error"] == "forbidden"
    assert (await client.get(f"/api/reports?community_id={ours.id}", headers=other)).status_code == 403
    own_queue = (await client.get("/api/reports", headers=other)).json()["items"]
    assert report["id"] not in [r["id"] for r in own_queue]
    stranger = await world.person()
    assert (await client.get(report["photo_url"], headers=stranger.headers)).status_code == 404
    assert (await client.get("/api/reports", headers=stranger.headers)).status_code == 403
    assert (await client.put(f"/api/communities/{ours.id}/report-settings", headers=other,
                             json={"daily_cap": 1})).status_code == 403

    assert await pool.fetchval("select state from reports where id = $1", report["id"]) == "pending"
    assert await balance(client, courier) == 0


async def test_nobody_reviews_their_own_report(client, world, pool):
    community = await world.community()
    manager_as_courier = community.manager
    admin = await world.actor(await world.admin())
    from domain.people import orgs
    async with world.pool.acquire() as conn:
        await orgs.add_member(conn, admin, community.grid_id, manager_as_courier.id, "courier")
    report = (await file_report(client, manager_as_courier, kind="civility")).json()
    async with unchanged(pool, people=[manager_as_courier.id], communities=[community.id]):  # no points
        answer = await client.post(f"/api/reports/{report['id']}/verify", headers=manager_as_courier.headers)
        assert answer.status_code == 403
    assert await pool.fetchval("select state from reports where id = $1", report["id"]) == "pending"


# ---- the courier's own summary ------------------------------------------------------------------

async def test_courier_summary_shows_points_rank_today_and_recent_reports(client, world):
    community = await world.community()
    leader = await world.member(community, "孙浩", role="courier")
    me = await world.member(community, "马骏", role="courier")
    third = await world.member(community, "王磊", role="courier")  # noqa: F841 (ranks last with 0)
    manager = community.manager.headers
    for person, kind in ((leader, "hazard"), (leader, "service"), (me, "hazard")):
        report = (await file_report(client, person, kind=kind, text=f"{person.name} 的上报")).json()
        assert (await client.post(f"/api/reports/{report['id']}/verify", headers=manager)).status_code == 200
    pending = (await file_report(client, me, kind="civility", text="还没审核")).json()

    summary = (await client.get("/api/couriers/me", headers=me.headers)).json()

    assert summary["grid"]["id"] == community.grid_id
    assert summary["points"]["available"] == 10
    assert summary["rank"]["position"] == 2 and summary["rank"]["of"] == 3 and summary["rank"]["points"] == 10
    assert summary["rank"]["quarter"][:4].isdigit() and "Q" in summary["rank"]["quarter"]
    assert summary["today"] == {"points": 10, "daily_cap": 30}
    assert summary["kinds"] == {"civility": 5, "hazard": 10, "service": 5}
    assert [r["id"] for r in summary["recent"]][0] == pending["id"]
    assert [r["state"] for r in summary["recent"]] == ["pending", "verified"]

    outsider = await world.person()
    nobody = (await client.get("/api/couriers/me", headers=outsider.headers)).json()
    assert nobody["grid"] is None and nobody["rank"] is None and nobody["recent"] == []


async def test_concurrent_verifications_cannot_both_pass_the_daily_cap(client, world):
    community = await world.community()
    courier = await world.member(community, role="courier")
    second_manager = await world.person("第二位管理员")
    admin = await world.actor(await world.admin())
    from domain.people import orgs
    async with world.pool.acquire() as conn:
        await orgs.appoint_manager(conn, admin, community.id, second_manager.id)
    await client.put(f"/api/communities/{community.id}/report-settings", headers=community.manager.headers,
                     json={"daily_cap": 10})
    ids = [(await file_report(client, courier, text=f"隐患 {i}", place=f"{i} 号楼")).json()["id"] for i in range(8)]
    managers = [community.manager.headers, second_manager.headers]

    answers = await asyncio.gather(*[client.post(f"/api/reports/{report_id}/verify", headers=managers[i % 2])
                                     for i, report_id in enumerate(ids)])

    assert [a.status_code for a in answers] == [200] * 8
    assert sorted(a.json()["points"] for a in answers) == [0] * 7 + [10]
    assert await balance(client, courier) == 10
    assert await world.ledger_problems() == {}


async def test_a_verify_retried_with_its_idempotency_key_replays_the_first_answer(client, world):
    community = await world.community()
    courier = await world.member(community, role="courier")
    report = (await file_report(client, courier, kind="service", text="帮忙取药")).json()
    headers = {**community.manager.headers, "Idempotency-Key": str(uuid.uuid4())}

    first = await client.post(f"/api/reports/{report['id']}/verify", headers=headers)
    again = await client.post(f"/api/reports/{report['id']}/verify", headers=headers)

    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert await balance(client, courier) == 5


async def test_seed_demo_files_verified_pending_and_rejected_reports(client, world, pool):
    from domain import demo
    from domain.demo import reports
    community = await world.community("三苏社区")
    courier = await world.member(community, "马骏", role="courier")
    city = demo.City(admin=(await world.admin()).id, managers={"李晓梅": community.manager.id}, volunteers={},
                     couriers={"马骏": courier.id}, communities={"三苏社区": community.id},
                     grids={"三苏社区第一网格": community.grid_id}, streets={}, team=0)
    async with pool.acquire() as conn:
        await reports.seed_demo(conn, city)
        await reports.seed_demo(conn, city)  # a second run adds nothing

    mine = (await client.get("/api/reports?mine=true", headers=courier.headers)).json()["items"]
    assert sorted(r["state"] for r in mine) == ["pending", "rejected", "verified"]
    pending = next(r for r in mine if r["state"] == "pending")
    assert pending["kind"] == "hazard" and pending["photo_url"]
    assert (await client.get(pending["photo_url"], headers=community.manager.headers)).status_code == 200
    assert await balance(client, courier) == 5
    assert await world.ledger_problems() == {}
