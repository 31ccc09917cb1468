"""Notifications end to end: the inbox, the transactional outbox, channels against a fake gateway on
127.0.0.1, exactly-once delivery across crashes and parallel senders, quiet hours, daily reminders."""

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain import notify, supermarket
from domain.core import clock
from domain.notify import channels, rules
from tests.notify.fake_gateway import FakeGateway
from tests.reports.test_reports import file_report
from tests.supermarket.test_supermarket import ask, new_reward, shop
from tests.timebank.test_timebank import new_request

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def gateway():
    with FakeGateway() as fake:
        yield fake


def sms_via(gateway: FakeGateway) -> dict[str, channels.Channel]:
    return {"sms": channels.SmsGateway(gateway.url + "/sms", "secret-key"), "wechat": channels.LogChannel("wechat")}


async def requested(client, world):
    community, volunteer = await shop(world)
    reward = await new_reward(client, community, name="食用油", cost_points=80)
    r = await ask(client, volunteer, reward["id"])
    assert r.status_code == 201, r.text
    return community, volunteer, r.json()["id"]


async def approve(client, community, redemption_id):
    r = await client.post(f"/api/redemptions/{redemption_id}/approve", headers=community.manager.headers)
    assert r.status_code == 200, r.text


async def inbox(client, person, lang="zh-CN"):
    r = await client.get("/api/me/messages", headers=person.headers | {"Accept-Language": lang})
    assert r.status_code == 200, r.text
    return r.json()


async def outbox_of(pool, user_id):
    return await pool.fetch(
        "select o.* from notification_outbox o join notifications n on n.id = o.notification_id "
        "where n.user_id = $1 order by o.id", user_id)


# ---- the acceptance scenarios ---------------------------------------------------------------------

async def test_an_approval_killed_before_the_sender_ran_is_delivered_once_after_restart(client, world, pool, gateway):
    clock.freeze(NOON)
    # Messages earlier tests of the session left in the outbox go out first, to a log: only ours remain.
    await notify.deliver_due(pool, clock.now(), using={"sms": channels.LogChannel("sms"),
                                                       "wechat": channels.LogChannel("wechat")})
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    # The process dies here: nothing was sent, but the message is in the outbox with the approval.
    [row] = await outbox_of(pool, volunteer.id)
    assert (row["channel"], row["state"], row["attempts"]) == ("sms", "pending", 0)
    # A new process starts and its sender runs (twice, as two sweeps would).
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 1
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0
    [sms] = gateway.posts("/sms")
    assert sms["json"] == {"to": volunteer.phone, "kind": "redemption_approved",
                           "text": "【邻里】您兑换的「食用油」已通过审核，扣除 80 积分。请凭兑换码到测试社区领取。"}
    assert sms["headers"]["Authorization"] == "Bearer secret-key"
    box = await inbox(client, volunteer)
    assert [(m["kind"], m["title"], m["read"]) for m in box["items"]] == [("redemption_approved", "兑换已通过", False)]
    assert box["items"][0]["link"] == f"/shop.html?tab=mine&redemption={redemption_id}" and box["unread"] == 1


async def test_a_sender_that_died_after_the_gateway_accepted_retries_with_the_same_key(client, world, pool, gateway):
    """The lease runs out, another sender delivers again with the same idempotency key: the gateway
    gets the request twice and delivers the message once."""
    clock.freeze(NOON)
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)

    class DiesAfterSending:
        name = "sms"

        async def send(self, message, http):
            await channels.SmsGateway(gateway.url + "/sms", None).send(message, http)
            raise asyncio.CancelledError  # killed before it could mark the row sent

    with pytest.raises(asyncio.CancelledError):
        await notify.deliver_due(pool, clock.now(), using={"sms": DiesAfterSending()})
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0  # leased: not yet
    clock.advance(rules.LEASE + timedelta(seconds=1))
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 1
    assert len(gateway.posts("/sms")) == 2 and len(gateway.delivered) == 1
    assert set(gateway.key_counts()) == {f"linli-{(await inbox(client, volunteer))['items'][0]['id']}-sms"}
    assert len((await inbox(client, volunteer))["items"]) == 1


async def test_a_rolled_back_approval_produces_no_message(client, world, pool):
    community, volunteer, redemption_id = await requested(client, world)
    manager = await world.actor(community.manager)

    class Abort(Exception):
        pass

    async with pool.acquire() as conn:
        with pytest.raises(Abort):
            async with conn.transaction():
                await supermarket.approve(conn, manager, redemption_id)
                assert await conn.fetchval("select count(*) from notifications where user_id = $1", volunteer.id) == 1
                raise Abort
    assert await pool.fetchval("select count(*) from notifications where user_id = $1", volunteer.id) == 0
    assert await outbox_of(pool, volunteer.id) == []
    assert await pool.fetchval("select state from redemptions where id = $1", redemption_id) == "requested"


async def test_two_sender_processes_deliver_a_thousand_messages_exactly_once(pool, world, gateway, database_url):
    """Exactly once is what the gateway saw: one delivery per idempotency key. The senders run in two
    processes on this test's own database, on a clock that stands at a daytime moment (SMS due in
    quiet hours, 21:00-08:00 local, would wait until the morning)."""
    person = await world.person("收信人")
    clock.freeze(datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI))
    async with pool.acquire() as conn, conn.transaction():
        for n in range(1000):
            await notify.send(conn, person.id, "report_verified", community_id=None, params={"points": n})
    keys = {rules.idempotency_key(r["notification_id"], "sms") for r in await outbox_of(pool, person.id)}
    script = ("import asyncio, sys\n"
              "from domain import notify\nfrom domain.core import clock, db\nfrom domain.notify import channels\n"
              "async def main():\n"
              "    pool = await db.create_pool(sys.argv[1], min_size=1, max_size=2)\n"
              "    using = {'sms': channels.SmsGateway(sys.argv[2] + '/sms', None)}\n"
              "    print(await notify.deliver_due(pool, clock.now(), batch=25, using=using))\n"
              "    await pool.close()\n"
              "asyncio.run(main())\n")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"LINLI_CLOCK_AT": clock.now().isoformat()}
    senders = [subprocess.Popen([sys.executable, "-c", script, database_url, gateway.url], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [s.communicate(timeout=120) for s in senders]
    assert all(s.returncode == 0 for s in senders), [err for _, err in results]
    assert min(int(out.strip()) for out, _ in results) > 0  # both senders took part
    assert set(gateway.delivered) == keys and len(keys) == 1000
    assert set(gateway.key_counts()) == keys and max(gateway.key_counts().values()) == 1
    assert [r["state"] for r in await outbox_of(pool, person.id)] == ["sent"] * 1000


async def test_a_sender_whose_lease_ran_out_mid_send_delivers_nothing_twice(pool, world, gateway):
    """A sender stalls in the middle of a send for longer than its lease; a second sender takes the
    row over and delivers it. When the first one wakes and sends too, the gateway sees the same
    idempotency key and delivers once: exactly once holds at the gateway, where it matters."""
    person = await world.person("收信人")
    clock.freeze(NOON)
    async with pool.acquire() as conn, conn.transaction():
        await notify.send(conn, person.id, "report_verified", community_id=None, params={"points": 5})
    [row] = await outbox_of(pool, person.id)
    key = rules.idempotency_key(row["notification_id"], "sms")
    real = channels.SmsGateway(gateway.url + "/sms", None)
    sending, wake = asyncio.Event(), asyncio.Event()

    class Stalling:
        async def send(self, message, http):
            sending.set()
            await wake.wait()  # longer than the lease: the other sender runs meanwhile
            await real.send(message, http)

    first = asyncio.create_task(notify.deliver_due(pool, clock.now(), using={"sms": Stalling()}))
    await sending.wait()
    assert gateway.posts("/sms") == []
    assert await notify.deliver_due(pool, clock.now(), using={"sms": real}) == 0  # the lease still holds
    later = clock.now() + rules.LEASE + timedelta(seconds=1)
    assert await notify.deliver_due(pool, later, using={"sms": real}) == 1  # the lease ran out: taken over
    wake.set()
    assert await first == 1
    assert gateway.key_counts() == {key: 2}  # two sends of one message ...
    assert list(gateway.delivered) == [key]  # ... delivered once
    [row] = await outbox_of(pool, person.id)
    assert (row["state"], row["attempts"]) == ("sent", 2)


async def test_quiet_hours_hold_an_sms_due_at_ten_pm_until_eight(client, world, pool, gateway):
    clock.freeze(datetime(2026, 12, 2, 22, 0, tzinfo=SHANGHAI))
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0
    assert len((await inbox(client, volunteer))["items"]) == 1  # the inbox does not wait
    clock.freeze(datetime(2026, 12, 3, 7, 59, tzinfo=SHANGHAI))
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0
    clock.freeze(datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI))
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 1
    assert len(gateway.posts("/sms")) == 1


async def test_a_failing_gateway_is_retried_with_backoff_then_given_up(client, world, pool, gateway):
    clock.freeze(NOON)
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    gateway.fail_with = 503
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0
    [row] = await outbox_of(pool, volunteer.id)
    assert (row["state"], row["attempts"], row["not_before"]) == ("pending", 1, NOON + timedelta(seconds=30))
    assert row["last_error"] == "sms gateway answered 503"
    # The product's number, written down (issue 30 item 8: a limit changed from 8 to 2 survived a
    # test that read its expectation from the code): 8 tries, the 7 after the first an hour apart.
    for attempt in range(2, 8 + 1):
        clock.advance(timedelta(hours=1))
        await notify.deliver_due(pool, clock.now(), using=sms_via(gateway))
        [row] = await outbox_of(pool, volunteer.id)
        assert (row["state"], row["attempts"]) == ("failed" if attempt == 8 else "pending", attempt)
    clock.advance(timedelta(hours=1))
    await notify.deliver_due(pool, clock.now(), using=sms_via(gateway))  # given up: no ninth try
    [row] = await outbox_of(pool, volunteer.id)
    assert (row["state"], row["attempts"]) == ("failed", 8)
    assert len(gateway.posts("/sms")) == 8


async def test_finding_7_a_retry_waits_out_quiet_hours_too(client, world, pool, gateway):
    """Issue 30 finding 7: a failed SMS at 20:59:50 was retried 30 s later, at 21:00:20, in the night."""
    clock.freeze(NOON)
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    gateway.fail_with = 503
    clock.freeze(datetime(2026, 12, 2, 20, 59, 50, tzinfo=SHANGHAI))
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0
    [row] = await outbox_of(pool, volunteer.id)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["not_before"] == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI)  # not 21:00:20
    gateway.fail_with = None
    clock.freeze(datetime(2026, 12, 2, 21, 0, 30, tzinfo=SHANGHAI))
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 0
    assert len(gateway.posts("/sms")) == 1  # only the failed try
    clock.freeze(datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI))  # the morning: sent (and nothing left pending)
    await notify.deliver_due(pool, clock.now(), using=sms_via(gateway))
    [row] = await outbox_of(pool, volunteer.id)
    assert (row["state"], row["attempts"]) == ("sent", 2)


async def test_finding_7_a_managers_reason_reaches_the_sms_only_made_safe(client, world, pool, gateway):
    """A reject reason with a URL and a fake 【银行】 went into the SMS verbatim; the inbox keeps it whole."""
    clock.freeze(NOON)
    community, volunteer, redemption_id = await requested(client, world)
    reason = "【银行】您的账户异常，请登录 http://evil.example.cn/pay 或致电 400-800-8888 处理"
    r = await client.post(f"/api/redemptions/{redemption_id}/reject", json={"reason": reason},
                          headers=community.manager.headers)
    assert r.status_code == 200, r.text
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) == 1
    [sent] = gateway.posts("/sms")
    text = sent["json"]["text"]
    assert text.startswith("【邻里】") and text.count("【") == 1
    for leaked in ("http", "evil.example.cn", "400-800-8888", "【银行】"):
        assert leaked not in text, text
    assert "您的账户异常" in text


async def test_wechat_subscription_messages_use_a_token_and_the_template(client, world, pool, gateway):
    clock.freeze(NOON)
    community, volunteer, redemption_id = await requested(client, world)
    async with pool.acquire() as conn:  # as WeChat sign-in binds it, from a code the server exchanged (issue 36)
        await notify.bind_wechat(conn, volunteer.id, f"o-abc-{volunteer.id}")
    r = await client.get("/api/me/messages/settings", headers=volunteer.headers)
    assert r.status_code == 200 and r.json()["can_wechat"] is True
    r = await client.put("/api/me/messages/settings/redemption_approved", json={"channels": ["wechat"]},
                         headers=volunteer.headers)
    assert r.status_code == 200, r.text
    await approve(client, community, redemption_id)
    assert [row["channel"] for row in await outbox_of(pool, volunteer.id)] == ["wechat"]
    wechat = channels.WeChatSubscription(gateway.url, "wx-app", "wx-secret", "TPL-1")
    assert await notify.deliver_due(pool, clock.now(), using={"wechat": wechat}) == 1
    token = [q for q in gateway.requests if q["path"] == "/cgi-bin/token"][0]
    assert token["query"] == {"grant_type": ["client_credential"], "appid": ["wx-app"], "secret": ["wx-secret"]}
    [sent] = gateway.posts("/cgi-bin/message/subscribe/send")
    assert sent["query"] == {"access_token": ["TOKEN-1"]}
    assert sent["json"]["touser"] == f"o-abc-{volunteer.id}" and sent["json"]["template_id"] == "TPL-1"
    assert sent["json"]["data"]["thing1"] == {"value": "兑换已通过"}
    assert sent["json"]["page"] == f"/shop.html?tab=mine&redemption={redemption_id}"


async def test_wechat_errcode_counts_as_a_failure(client, world, pool, gateway):
    clock.freeze(NOON)
    person = await world.person()
    async with pool.acquire() as conn, conn.transaction():
        await notify.bind_wechat(conn, person.id, f"o-x-{person.id}")
        await notify.set_preference(conn, person.id, "report_verified", ["wechat"])
        await notify.send(conn, person.id, "report_verified", community_id=None, params={"points": 3})
    gateway.wechat_errcode = 43101  # the person has not subscribed
    wechat = channels.WeChatSubscription(gateway.url, "wx-app", "wx-secret", "TPL-1")
    assert await notify.deliver_due(pool, clock.now(), using={"wechat": wechat}) == 0
    [row] = await outbox_of(pool, person.id)
    assert row["state"] == "pending" and "43101" in row["last_error"]


async def test_a_person_who_turns_sms_off_gets_only_the_inbox(client, world, pool):
    community, volunteer, redemption_id = await requested(client, world)
    r = await client.put("/api/me/messages/settings/redemption_approved", json={"channels": []}, headers=volunteer.headers)
    assert r.status_code == 200
    choice = {p["kind"]: (p["channels"], p["default"]) for p in r.json()["items"]}
    assert choice["redemption_approved"] == ([], False) and choice["report_verified"] == (["sms"], True)
    assert "manager_digest" not in choice  # not a manager
    await approve(client, community, redemption_id)
    assert await outbox_of(pool, volunteer.id) == []
    assert len((await inbox(client, volunteer))["items"]) == 1


async def test_bad_preferences_are_refused_naming_the_field(client, world):
    person = await world.person()
    r = await client.put("/api/me/messages/settings/redemption_approved", json={"channels": ["fax"]},
                         headers=person.headers)
    assert r.status_code == 422 and r.json()["details"]["field"] == "channels"
    r = await client.put("/api/me/messages/settings/no_such_kind", json={"channels": []}, headers=person.headers)
    assert r.status_code == 422 and r.json()["details"]["field"] == "kind"


# ---- the inbox --------------------------------------------------------------------------------

async def test_the_inbox_reads_in_the_readers_language_and_marks_read(client, world, pool):
    community, volunteer, redemption_id = await requested(client, world)
    r = await client.post(f"/api/redemptions/{redemption_id}/reject", json={"reason": "库存核对有误"},
                          headers=community.manager.headers)
    assert r.status_code == 200, r.text
    [message] = (await inbox(client, volunteer, "en"))["items"]
    assert message["title"] == "Redemption declined" and "库存核对有误" in message["text"]
    assert (await client.get("/api/me/messages/unread", headers=volunteer.headers)).json() == {"unread": 1}
    stranger = await world.person()
    assert (await client.post(f"/api/me/messages/{message['id']}/read", headers=stranger.headers)).status_code == 404
    assert (await client.post(f"/api/me/messages/{message['id']}/read", headers=volunteer.headers)).status_code == 204
    assert (await client.get("/api/me/messages/unread", headers=volunteer.headers)).json() == {"unread": 0}
    assert (await inbox(client, volunteer))["items"][0]["read"] is True


async def test_the_inbox_pages_with_a_cursor(client, world, pool):
    person = await world.person()
    async with pool.acquire() as conn, conn.transaction():
        for n in range(25):
            await notify.send(conn, person.id, "report_verified", community_id=None, params={"points": n})
    first = (await client.get("/api/me/messages?limit=20", headers=person.headers)).json()
    second = (await client.get(f"/api/me/messages?limit=20&cursor={first['next_cursor']}", headers=person.headers)).json()
    texts = [m["text"] for m in first["items"] + second["items"]]
    assert len(texts) == 25 and texts[0].endswith("获得 24 积分。感谢您！") and second["next_cursor"] is None
    r = await client.post("/api/me/messages/read-all", headers=person.headers)
    assert r.json() == {"marked": 25}


# ---- every event reaches the right person -----------------------------------------------------------

async def kinds_of(pool, user_id):
    return [r["kind"] for r in await pool.fetch("select kind from notifications where user_id = $1 order by id", user_id)]


async def test_courier_hears_about_verified_and_rejected_reports(client, world, pool):
    community = await world.community()
    courier = await world.member(community, "快递员", role="courier")
    ids = []
    for text in ("楼道堆放杂物", "路灯坏了"):
        r = await file_report(client, courier, text=text)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert (await client.post(f"/api/reports/{ids[0]}/verify", headers=community.manager.headers)).status_code == 200
    r = await client.post(f"/api/reports/{ids[1]}/reject", json={"reason": "位置不清楚"}, headers=community.manager.headers)
    assert r.status_code == 200, r.text
    assert await kinds_of(pool, courier.id) == ["report_verified", "report_rejected"]
    texts = [m["text"] for m in (await inbox(client, courier))["items"]]
    assert texts[0] == "您的上报未通过核实：位置不清楚。您可以补充后重新上报。"
    assert texts[1].startswith("您的上报已由测试社区核实，获得 ") and "积分" in texts[1]


async def test_time_bank_steps_reach_requester_and_volunteer(client, world, pool):
    community = await world.community()
    elder, helper = await world.member(community, "王奶奶"), await world.member(community, "小李")
    await world.fund(elder, community, "minutes", 120)
    request_id = (await new_request(client, elder, 60, title="陪同就医"))["id"]
    for who, step, body in ((helper, "accept", None), (helper, "complete", None), (elder, "confirm", {"minutes": 60})):
        r = await client.post(f"/api/timebank/requests/{request_id}/{step}", json=body, headers=who.headers)
        assert r.status_code == 200, (step, r.text)
    assert await kinds_of(pool, elder.id) == ["service_accepted", "service_completed"]
    assert await kinds_of(pool, helper.id) == ["service_confirmed"]
    [confirmed] = (await inbox(client, helper))["items"]
    assert confirmed["text"] == "「陪同就医」已确认，60 分钟已存入您的时间银行。"


async def test_daily_reminders_run_once_a_day_from_eight(client, world, pool):
    clock.freeze(datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))
    community, volunteer, redemption_id = await requested(client, world)
    manager = community.manager
    assert await notify.remind(pool, datetime(2026, 12, 4, 7, 0, tzinfo=SHANGHAI)) == 0  # before 08:00
    clock.freeze(datetime(2026, 12, 4, 8, 30, tzinfo=SHANGHAI))  # the request has waited 47.5 hours
    await notify.remind(pool, clock.now())
    assert await kinds_of(pool, manager.id) == ["manager_digest"]
    assert await notify.remind(pool, clock.now() + timedelta(hours=3)) == 0  # same day: already ran
    digest = (await inbox(client, manager))["items"][0]
    assert digest["text"] == "测试社区待处理：兑换 1 件，上报 0 件，申诉 0 件。"
    clock.freeze(datetime(2026, 12, 5, 8, 30, tzinfo=SHANGHAI))
    await notify.remind(pool, clock.now())
    assert await kinds_of(pool, manager.id) == ["manager_digest", "manager_digest", "queue_overdue"]


async def test_a_voucher_about_to_expire_is_announced_once(client, world, pool):
    clock.freeze(NOON)
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    expires_at = await pool.fetchval("select expires_at from redemptions where id = $1", redemption_id)
    day_before = (expires_at - timedelta(days=2)).astimezone(SHANGHAI).replace(hour=9)
    await notify.remind(pool, day_before)
    await notify.remind(pool, day_before + timedelta(days=1))
    assert await kinds_of(pool, volunteer.id) == ["redemption_approved", "redemption_expiring"]


async def test_a_message_whose_sending_crashes_does_not_stop_the_others(client, world, pool, gateway):
    """A bug while sending one message (issue 16 finding 6: every sweep isolates its rows) is logged
    and counted; the other messages of the round go out, and the failed one goes out once its lease lapses."""
    from domain.core import sweeper
    clock.freeze(NOON)
    community, first, first_id = await requested(client, world)
    second = await world.member(community, "王强")
    await world.fund(second, community, "points", 100)
    reward = await new_reward(client, community, name="毛巾", cost_points=10)
    r = await ask(client, second, reward["id"])
    assert r.status_code == 201, r.text
    # Messages other tests left in this session's outbox go out first, to a log: only ours remain.
    await notify.deliver_due(pool, clock.now(), using={"sms": channels.LogChannel("sms"),
                                                       "wechat": channels.LogChannel("wechat")})
    await approve(client, community, first_id)
    await approve(client, community, r.json()["id"])
    real = sms_via(gateway)["sms"]

    class BrokenForTheFirst:
        name = "sms"

        async def send(self, message, http):
            if message.address == first.phone:
                raise RuntimeError("a bug in this one message")
            await real.send(message, http)

    before = sweeper.failures["sweep_outbox"]
    assert await notify.deliver_due(pool, clock.now(), using={"sms": BrokenForTheFirst()}) == 1
    assert sweeper.failures["sweep_outbox"] == before + 1
    assert [p["json"]["to"] for p in gateway.posts("/sms")] == [second.phone]
    clock.advance(rules.LEASE + timedelta(seconds=1))  # (other tests' retries may fall due too: only ours are counted)
    assert await notify.deliver_due(pool, clock.now(), using=sms_via(gateway)) >= 1
    ours = [p["json"]["to"] for p in gateway.posts("/sms") if p["json"]["to"] in (first.phone, second.phone)]
    assert ours == [second.phone, first.phone]
