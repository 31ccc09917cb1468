"""The accessibility survey (tests/browser/survey.py) as a community's manager and the admin read every
page, on a phone in large text and on a 1280 px desktop. The other roles' half runs in another worker
(test_accessibility_residents_browser.py)."""

import pytest

from tests.browser.survey import (  # noqa: F401  (the checks are collected here, on this file's survey)
    city,
    own_server,
    survey,
    test_chinese_pages_have_no_english_words_or_field_names,
    test_managers_read_audit_entries_as_sentences,
    test_no_serious_or_critical_axe_violation_on_any_page,
    test_no_words_spill_out_of_their_box,
    test_phones_in_large_text_never_scroll_sideways_and_controls_are_big_enough,
    test_text_is_large_enough_and_spaced,
    test_the_word_checker_catches_english_and_field_names,
)

# Minutes of visits: `heavy`, so it starts first; `python -m tests` runs a file whole in one worker
# (`--dist loadfile`), so the city and the visits are built once.
ROLES = ("manager", "admin")

pytestmark = [pytest.mark.browser, pytest.mark.heavy, pytest.mark.timeout(600)]

