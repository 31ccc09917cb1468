"""The accessibility survey (tests/browser/survey.py) as residents, couriers, partners (a handler, a
merchant) and the levels above a community (a street manager, a unit administrator) read the pages.
The community manager's and the admin's half runs in another worker
(test_accessibility_managers_browser.py)."""

import pytest

from tests.browser.survey import (  # noqa: F401  (the checks are collected here, on this file's survey)
    check_large_text_switch,
    city,
    own_server,
    survey,
    test_chinese_pages_have_no_english_words_or_field_names,
    test_no_serious_or_critical_axe_violation_on_any_page,
    test_no_words_spill_out_of_their_box,
    test_phones_in_large_text_never_scroll_sideways_and_controls_are_big_enough,
    test_text_is_large_enough_and_spaced,
)

# Minutes of visits: `heavy`, so it starts first; `python -m tests` runs a file whole in one worker
# (`--dist loadfile`), so the city and the visits are built once.
ROLES = ("volunteer", "courier", "party_member", "neighbourhood_head", "handler", "merchant", "street_manager",
         "unit_admin")

pytestmark = [pytest.mark.browser, pytest.mark.heavy, pytest.mark.timeout(600)]


def test_large_text_switch_grows_the_page_and_is_remembered(own_server, browser, city):  # noqa: F811 (fixtures)
    check_large_text_switch(browser, own_server[0], city["volunteer"])
