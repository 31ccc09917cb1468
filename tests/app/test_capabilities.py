"""Linli is composed in one place, api/capabilities.py (issue 15): the routes, the scan resolver's
tables, the sweeps and the demo come from its list, so a capability left out of it (or a handler
left out of a capability) fails here instead of silently losing a scan kind or a clean-up."""

import importlib
import inspect
import pkgutil

import pytest
from litestar import Controller

from api import capabilities, controllers
from api.app import create_app
from domain import cases, checkin, demo, ledger, notify, supermarket, timebank
from domain.checkin import activities, offline, scans
from domain.core import sweeper
from domain.people import auth, wechat
from domain.rankings import expiry
from domain.recognition import medals

# What the product promises, written down: which codes a scan acts on, which a phone may preview
# (a member card only shows what it is: a station acts on it), and the clean-ups that must run.
EXPECTED_ACTS = {"poster": checkin.scan_activity_code, "rotating": checkin.scan_activity_code,
                 "voucher": supermarket.scan_voucher}
EXPECTED_PREVIEWS = {"poster": checkin.preview_activity_code, "rotating": checkin.preview_activity_code,
                     "member": checkin.preview_member_card, "voucher": supermarket.preview_voucher}
EXPECTED_SWEEPS = {ledger.expire_holds, checkin.check_out_at_window_end, activities.prune_rotating_codes,
                   supermarket.expire_redemptions, expiry.sweep, notify.sweep_outbox, notify.remind,
                   offline.prune_scan_nonces,  # scan nonces past the longest accepted delay (issue 21)
                   timebank.lapse_accepted_services, auth.forget_old_tries,
                   timebank.confirm_unconfirmed_services,  # completed services left unconfirmed (issue 33)
                   cases.sweep_escalations,
                   wechat.forget_old_tickets,  # overdue cases escalate (issue 32); WeChat sign-in tickets (issue 36)
                   medals.sweep_daily}  # medals by rule, once a day per community (issue 34)
EXPECTED_CAPABILITIES = ["people", "ledger", "checkin", "supermarket", "timebank", "reports", "rankings", "joining", "units", "notify", "cases",
                         "reach", "records", "oversight", "merchants", "recognition"]


def test_the_list_names_every_capability_once():
    assert [c.name for c in capabilities.CAPABILITIES] == EXPECTED_CAPABILITIES


def test_the_app_installs_every_scan_kind_and_sweep():
    create_app("postgresql://unused@127.0.0.1/none")
    assert scans.ACTIONS == EXPECTED_ACTS
    assert scans.PREVIEWS == EXPECTED_PREVIEWS
    assert set(sweeper.SWEEPS) == EXPECTED_SWEEPS and len(sweeper.SWEEPS) == len(EXPECTED_SWEEPS)


@pytest.mark.parametrize("dropped", EXPECTED_CAPABILITIES)
def test_dropping_a_capability_loses_what_it_brought(dropped):
    """What each capability brings is missed when it is left out: the expectations above would fail."""
    rest = [c for c in capabilities.CAPABILITIES if c.name != dropped]
    gone = next(c for c in capabilities.CAPABILITIES if c.name == dropped)
    assert gone.controllers, f"{dropped} serves no route"
    assert not set(gone.controllers) & set(capabilities.controllers(rest))
    if gone.scan_acts or gone.scan_previews or gone.sweeps:
        assert (capabilities.scan_acts(rest) != EXPECTED_ACTS or capabilities.scan_previews(rest) != EXPECTED_PREVIEWS
                or set(capabilities.sweeps(rest)) != EXPECTED_SWEEPS)
    if gone.demo is not None:
        assert {c.demo for c in rest} != set(demo.SEEDS)


def test_two_capabilities_cannot_claim_one_kind():
    twin = capabilities.Capability("twin", [], scan_acts={"voucher": checkin.scan_activity_code})
    with pytest.raises(ValueError, match="voucher"):
        capabilities.scan_acts([*capabilities.CAPABILITIES, twin])


def test_every_controller_defined_is_routed_once():
    defined = []
    for info in pkgutil.iter_modules(controllers.__path__):
        module = importlib.import_module(f"{controllers.__name__}.{info.name}")
        defined += [obj for obj in vars(module).values()
                    if inspect.isclass(obj) and issubclass(obj, Controller) and obj.__module__ == module.__name__]
    routed = capabilities.controllers()
    assert len(routed) == len(set(routed))
    assert set(routed) == set(defined)


def test_every_exported_handler_and_sweep_is_listed():
    """A capability module that exports scan handlers or sweeps must be wired by the list."""
    import domain
    listed_acts = set(capabilities.scan_acts().values())
    listed_previews = set(capabilities.scan_previews().values())
    listed_sweeps = set(capabilities.sweeps())
    for info in pkgutil.walk_packages(domain.__path__, "domain."):
        module = importlib.import_module(info.name)
        assert set(getattr(module, "SCAN_ACTS", {}).values()) <= listed_acts, info.name
        assert set(getattr(module, "SCAN_PREVIEWS", {}).values()) <= listed_previews, info.name
        assert set(getattr(module, "SWEEPS", ())) <= listed_sweeps, info.name


def test_the_demo_seeds_are_the_capabilities_seeds():
    assert {c.demo for c in capabilities.CAPABILITIES if c.demo} == set(demo.SEEDS)
    assert len(demo.SEEDS) == len(set(demo.SEEDS)) == 11  # every capability but notify shows demo data
