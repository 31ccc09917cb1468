"""One SMS channel for phone codes and notifications (domain/core/sms.py): one configuration
(LINLI_SMS_API_URL / LINLI_SMS_API_KEY), one request shape ({to, text, kind}, bearer key), an
idempotency key on every send, quiet hours for everything but codes; the old variables are refused."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain import notify
from domain.core import clock, sms
from domain.core.settings import REPLACED, SettingsError, from_environ
from domain.notify import channels
from tests.conftest import new_phone
from tests.notify.fake_gateway import FakeGateway
from tests.notify.test_notify import approve, requested
from tests.people.test_phone_codes import send

pytestmark = pytest.mark.sql

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def gateway(setenv):
    with FakeGateway() as fake:
        setenv("LINLI_SMS_API_URL", fake.url + "/sms")
        setenv("LINLI_SMS_API_KEY", "one-key")
        yield fake


@pytest.mark.parametrize("old", ["LINLI_SMS_SENDER", "LINLI_SMS_URL", "LINLI_SMS_KEY", "LINLI_SMS_GATEWAY_URL",
                                 "LINLI_SMS_GATEWAY_KEY"])
def test_a_start_with_an_old_variable_set_is_refused_naming_the_new_ones(old):
    with pytest.raises(SettingsError) as refused:
        from_environ({old: "http://gateway.example/sms"})
    assert old in str(refused.value) and "LINLI_SMS_API_URL" in str(refused.value)
    assert "LINLI_SMS_API_KEY" in str(refused.value)
    assert from_environ({old: ""}).sms_api_url is None  # set but empty is not set
    assert old in REPLACED


async def test_codes_and_notifications_go_through_one_gateway_in_one_shape(client, world, pool, gateway):
    clock.freeze(datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI))  # daytime: no quiet hours
    # A phone code: sent at once.
    phone = new_phone()
    r = await send(client, phone)
    assert r.status_code == 202, r.text
    # A notification: through the outbox, to the configured channel.
    await notify.deliver_due(pool, clock.now(), using={"sms": channels.LogChannel("sms"),
                                                       "wechat": channels.LogChannel("wechat")})
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    assert await notify.deliver_due(pool, clock.now(), using=channels.configured()) >= 1
    posts = gateway.posts("/sms")
    code_post = next(p for p in posts if p["json"]["to"] == phone)
    note_post = next(p for p in posts if p["json"]["to"] == volunteer.phone)
    for post in (code_post, note_post):
        assert set(post["json"]) == {"to", "text", "kind"}
        assert post["headers"]["Authorization"] == "Bearer one-key"
        assert post["headers"]["Idempotency-Key"]
    assert code_post["json"]["kind"] == sms.CODE_KIND and note_post["json"]["kind"] == "redemption_approved"
    assert code_post["headers"]["Idempotency-Key"] != note_post["headers"]["Idempotency-Key"]


async def test_a_code_is_sent_in_quiet_hours_a_notification_waits(client, world, pool, gateway):
    clock.freeze(datetime(2026, 12, 2, 22, 30, tzinfo=SHANGHAI))  # quiet hours: 21:00-08:00
    phone = new_phone()
    assert (await send(client, phone)).status_code == 202
    assert [p["json"]["kind"] for p in gateway.posts("/sms") if p["json"]["to"] == phone] == [sms.CODE_KIND]
    community, volunteer, redemption_id = await requested(client, world)
    await approve(client, community, redemption_id)
    await notify.deliver_due(pool, clock.now(), using=channels.configured())
    assert [p for p in gateway.posts("/sms") if p["json"]["to"] == volunteer.phone] == []  # held until 08:00
    clock.freeze(datetime(2026, 12, 3, 8, 1, tzinfo=SHANGHAI))
    await notify.deliver_due(pool, clock.now(), using=channels.configured())
    assert [p["json"]["kind"] for p in gateway.posts("/sms") if p["json"]["to"] == volunteer.phone] == \
        ["redemption_approved"]


async def test_a_gateway_refusing_a_code_is_a_503_and_nothing_leaks(client, gateway):
    gateway.fail_with = 500
    r = await send(client, new_phone())
    assert r.status_code == 503 and r.json()["error"] == "unavailable"


def test_linli_refuses_to_start_with_an_old_variable_and_names_the_new_ones():
    import os
    import subprocess
    import sys
    env = {**os.environ, "LINLI_SMS_SENDER": "http"}
    done = subprocess.run([sys.executable, "-m", "linli", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "LINLI_SMS_SENDER is no longer read" in done.stderr and "LINLI_SMS_API_URL" in done.stderr
    assert "Traceback" not in done.stderr
