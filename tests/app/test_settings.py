"""Configuration: one typed settings object, every variable documented, bad values named."""

import re
from pathlib import Path

import pytest

from domain.core import settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_names_exactly_the_variables_linli_reads():
    """The configuration section names each variable once: what an operator sets in its table, the
    defaults of a community's policy and the test clock in the paragraph above it."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))
    assert documented == set(settings.VARIABLES)


def test_only_the_settings_module_reads_the_environment():
    root = README.parent
    readers = {str(p.relative_to(root)) for d in ("api", "domain") for p in (root / d).rglob("*.py")
               if re.search(r"os\.environ|os\.getenv", p.read_text())}
    assert readers == {"domain/core/settings.py"}


@pytest.mark.parametrize(("name", "value"), [("LINLI_TZ", "Mars/Olympus"), ("LINLI_POOL_SIZE", "0"),
                                             ("LINLI_SCAN_RATE_PER_MINUTE", "-1"), ("PORT", "eighty"),
                                             ("LINLI_PUBLIC_URL", "linli.example.cn"), ("LINLI_LOG_FORMAT", "xml")])
def test_a_bad_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(settings.SettingsError, match=name):
        settings.from_environ({name: value})


def test_defaults_are_the_documented_ones():
    config = settings.from_environ({})
    assert (config.tz.key, config.pool_size, config.scan_rate_per_minute, config.rotation_seconds,
            config.redemption_request_days, config.redemption_voucher_days, config.trusted_proxies) == (
        "Asia/Shanghai", 10, 60, 30, 7, 30, frozenset())
