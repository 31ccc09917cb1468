"""Certificates of service hours others can trust (issue 19): asked for by the person, issued by a
manager of the community (never themself) with a number, a verification code and the hours archived,
revocable, and verified by anyone at /api/verify/<code> (the page /v/<code>)."""

from tests.snapshot import unchanged


async def ok(client, person, method, path, body=None, status=200):
    r = await client.request(method, path, json=body, headers=person.headers if person else {})
    assert r.status_code == status, (path, r.text)
    return r.json()


async def test_ask_issue_verify_revoke(client, world, pool):
    c = await world.community("安宁社区")
    person = await world.member(c, "陈小红")
    await world.fund(person, c, "minutes", 90)     # an adjustment: 1.5 hours
    asked = await ok(client, person, "POST", "/api/certificates", {"community_id": c.id}, 201)
    assert asked["state"] == "requested" and asked["number"] is None and asked["code"] is None
    outsider = await world.community("别处社区")
    r = await client.post(f"/api/certificates/{asked['id']}/issue", json={}, headers=outsider.manager.headers)
    assert r.status_code == 403
    issued = await ok(client, c.manager, "POST", f"/api/certificates/{asked['id']}/issue",
                      {"contact": "居委会 028-12345678"})
    assert issued["state"] == "issued" and issued["number"].endswith(f"{asked['id']:06d}")
    assert issued["hours"]["total_minutes"] == 90 and issued["verify_url"].endswith(f"/v/{issued['code']}")
    assert issued["qr_svg"].startswith("<svg") and issued["issued_by_name"] == c.manager.name
    assert (await client.post(f"/api/certificates/{asked['id']}/issue", json={},
                              headers=c.manager.headers)).status_code == 409   # once
    # anyone may verify: masked name, hours, issuer, date; later hours do not change it (archived)
    await world.fund(person, c, "minutes", 60)
    seen = await ok(client, None, "GET", f"/api/verify/{issued['code']}")
    assert (seen["state"], seen["number"], seen["masked_name"], seen["hours"]["total_minutes"],
            seen["community_name"]) == ("issued", issued["number"], "陈**", 90, "安宁社区")
    r = await client.get("/api/verify/nosuchcode")
    assert r.status_code == 404 and r.json()["error"] == "code_unknown"
    page = await client.get(f"/v/{issued['code']}")
    assert page.status_code == 200 and "verify.js" in page.text
    # revoked with a reason (audited); the public page says so
    await ok(client, c.manager, "POST", f"/api/certificates/{asked['id']}/revoke", {"reason": "时长登记有误"})
    assert (await ok(client, None, "GET", f"/api/verify/{issued['code']}"))["state"] == "revoked"
    acts = [r["act"] for r in await pool.fetch(
        "select act from audit_log where act like 'certificate_%' and target_id = $1 order by id", person.id)]
    assert acts == ["certificate_issue", "certificate_revoke"]
    mine = await ok(client, person, "GET", "/api/certificates")
    assert [x["state"] for x in mine["items"]] == ["revoked"]


async def test_nobody_certifies_their_own_hours(client, world, pool):
    c = await world.community("自证社区")
    async with world.pool.acquire() as conn:
        from domain.people import orgs
        await orgs.add_member(conn, await world.actor(await world.admin()), c.id, c.manager.id, "volunteer")
    asked = await ok(client, c.manager, "POST", "/api/certificates", {"community_id": c.id}, 201)
    stranger = await world.person("路人")
    certificates = "select id, state, issued_by from service_certificates where user_id = any($1::bigint[]) order by id"
    before = [tuple(x) for x in await pool.fetch(certificates, [c.manager.id, stranger.id])]
    async with unchanged(pool, people=[c.manager.id, stranger.id], communities=[c.id]):
        r = await client.post(f"/api/certificates/{asked['id']}/issue", json={}, headers=c.manager.headers)
        assert r.status_code == 403
        r = await client.post("/api/certificates", json={"community_id": c.id}, headers=stranger.headers)
        assert r.status_code == 403 and r.json()["error"] == "not_member"
    assert [tuple(x) for x in await pool.fetch(certificates, [c.manager.id, stranger.id])] == before


async def test_a_person_asks_for_a_correction_and_the_answer_is_audited(client, world, pool):
    c = await world.community("更正社区")
    person = await world.member(c, "郑好")
    asked = await ok(client, person, "POST", "/api/corrections",
                     {"community_id": c.id, "request": "11月3日义诊签退漏记，实际服务2小时"}, 201)
    assert asked["state"] == "open"
    queue = await ok(client, c.manager, "GET", f"/api/corrections?community_id={c.id}")
    assert [x["id"] for x in queue["items"]] == [asked["id"]]
    other = await world.community("别的更正社区")
    r = await client.post(f"/api/corrections/{asked['id']}/answer", json={"accepted": True, "answer": "好"},
                          headers=other.manager.headers)
    assert r.status_code == 403
    answered = await ok(client, c.manager, "POST", f"/api/corrections/{asked['id']}/answer",
                        {"accepted": True, "answer": "已核实，已补记120分钟"})
    assert answered["state"] == "accepted" and answered["answer"] == "已核实，已补记120分钟"
    r = await client.post(f"/api/corrections/{asked['id']}/answer", json={"accepted": False, "answer": "再答"},
                          headers=c.manager.headers)
    assert r.status_code == 409   # answered once
    audit = await pool.fetchrow("select act, actor_id, target_id, after from audit_log where act = 'correction_answer' "
                                "and target_id = $1", person.id)
    assert (audit["act"], audit["actor_id"]) == ("correction_answer", c.manager.id)
    assert [x["state"] for x in (await ok(client, person, "GET", "/api/corrections"))["items"]] == ["accepted"]


async def test_the_certificates_rows_add_up_to_its_total(client, world, pool):
    """Issue 33 finding 7: hours credited without an attendance (adjustments, imported history) had
    no row, so the rows said 7.7 h under a total of 19.7 h. Every source has a row now."""
    from domain import ledger
    c = await world.community("安宁社区")
    person = await world.member(c, "陈小红")
    await world.fund(person, c, "minutes", 90)                  # a manager's adjustment
    async with pool.acquire() as conn, conn.transaction():      # imported history: an award with no attendance
        await ledger.post(conn, unit="minutes", debit=await ledger.org_account(conn, c.id, "issuing", "minutes"),
                          credit=await ledger.user_account(conn, person.id, "minutes", c.id), amount=720,
                          kind="award", cause=("adjustment", c.id), reason="导入历史时长")
    cert = await ok(client, person, "GET", "/api/timebank/certificate")
    rows = ([s["minutes"] for s in cert["services"]] + [a["minutes"] for a in cert["activities"]]
            + [cert["hours"]["adjustment_minutes"], cert["other_minutes"]])
    assert cert["hours"]["total_minutes"] == 810
    assert sum(rows) == 810 and cert["other_minutes"] == 720
