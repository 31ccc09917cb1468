"""Pure notification rules: texts in both languages, channel defaults, quiet hours, backoff."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.core import messages
from domain.notify import rules

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def test_texts_render_in_both_languages_with_the_community_name():
    params = {"reward": "大米 5kg", "points": 200, "community": "三苏社区"}
    title, body = rules.render("redemption_approved", params)
    assert title == "兑换已通过"
    assert body == "您兑换的「大米 5kg」已通过审核，扣除 200 积分。请凭兑换码到三苏社区领取。"
    title_en, body_en = rules.render("redemption_approved", params, "en")
    assert title_en == "Redemption approved" and "三苏社区" in body_en and "200 points" in body_en


def test_a_missing_parameter_shows_blank_never_a_placeholder():
    _, body = rules.render("report_verified", {"points": 5})
    assert "{" not in body and "5 积分" in body


def test_every_kind_has_both_languages_and_no_english_in_chinese_titles():
    for kind, spec in messages.KINDS.items():
        assert spec.title_zh and spec.title_en and spec.body_zh and spec.body_en, kind
        assert not any("a" <= ch.lower() <= "z" for ch in spec.title_zh), kind


def test_sms_text_has_the_brand_prefix():
    assert rules.sms_text("report_rejected", {"reason": "照片不清楚"}).startswith("【邻里】您的上报未通过核实：照片不清楚")


def test_money_moving_messages_go_by_sms_by_default_the_rest_stay_in_the_app():
    assert messages.default_channels("redemption_approved") == ("sms",)
    assert messages.default_channels("service_confirmed") == ("sms",)
    assert messages.default_channels("service_accepted") == ()
    assert messages.default_channels("manager_digest") == ()


def test_channels_are_limited_to_what_the_person_can_receive():
    assert messages.choose_channels("redemption_approved", None, has_phone=False, has_wechat=False) == ()
    assert messages.choose_channels("service_accepted", ("sms", "wechat"), has_phone=True, has_wechat=False) == ("sms",)
    assert messages.choose_channels("redemption_approved", (), has_phone=True, has_wechat=True) == ()


@pytest.mark.parametrize(("now", "expected"), [
    (at(20, 59), at(20, 59)),            # still allowed
    (at(21, 0), at(8, 0, day=3)),        # quiet from 21:00 ...
    (at(23, 30), at(8, 0, day=3)),
    (at(2, 0), at(8, 0)),                # ... until 08:00 the same morning
    (at(7, 59), at(8, 0)),
    (at(8, 0), at(8, 0)),
])
def test_quiet_hours_delay_until_eight(now, expected):
    assert messages.quiet_until(now, SHANGHAI) == expected


def test_quiet_hours_follow_the_given_zone():
    ten_pm_berlin = datetime(2026, 12, 2, 21, 0, tzinfo=timezone.utc)  # 22:00 in Berlin, 05:00 in Shanghai
    assert messages.quiet_until(ten_pm_berlin, ZoneInfo("Europe/Berlin")) == datetime(2026, 12, 3, 8, 0,
                                                                                   tzinfo=ZoneInfo("Europe/Berlin"))
    assert messages.quiet_until(ten_pm_berlin, SHANGHAI) == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI)


def test_retry_backoff_doubles_and_is_capped():
    assert [rules.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert rules.retry_delay(20) == timedelta(hours=1)


def test_finding_7_free_text_in_an_sms_has_no_links_numbers_or_signature():
    text = rules.sms_text("report_rejected", {"reason": "【银行】点击 https://a.b/c 或 www.x.cn 或 pay-now.com/q "
                                                        "致电 13800138000"})
    assert text.startswith("【邻里】") and text.count("【") == 1
    for leaked in ("https", "a.b/c", "www.x.cn", "pay-now.com", "13800138000"):
        assert leaked not in text
    assert rules.sms_safe("照片不清楚") == "照片不清楚"
    assert len(rules.sms_safe("很" * 100)) == 30
    # the in-app message is the manager's text as written
    assert "https://a.b/c" in rules.render("report_rejected", {"reason": "见 https://a.b/c"})[1]


def test_finding_7_an_sms_is_due_outside_quiet_hours_on_every_try():
    assert messages.due_at("sms", at(21, 0, day=2), SHANGHAI) == at(8, 0, day=3)
    assert messages.due_at("sms", at(12, 0), SHANGHAI) == at(12, 0)
    assert messages.due_at("wechat", at(23, 0), SHANGHAI) == at(23, 0)
