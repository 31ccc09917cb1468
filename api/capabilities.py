"""The capabilities Linli has, and what each one plugs in: the one place the application is
composed from. The app's routes (api/app.py), the scan resolver's tables (domain/checkin/scans.py),
the sweeper's list (domain/core/sweeper.py) and the demo's seeds are all built from CAPABILITIES;
no module registers itself by being imported.

A new capability: add its entry here. A new controller, scan kind or sweep of an existing one:
add it to that capability's CONTROLLERS / SCAN_ACTS / SCAN_PREVIEWS / SWEEPS (tests/app/
test_capabilities.py fails when something defined is not wired).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from litestar import Controller

from api.controllers import activities, auth, console, home, me, orgs, privacy
from api.controllers import areas as areas_api
from api.controllers import cases as cases_api
from api.controllers import certificates as certificates_api
from api.controllers import city as city_api
from api.controllers import clock as clock_api
from api.controllers import community_policy as community_policy_api
from api.controllers import corrections as corrections_api
from api.controllers import joining as joining_api
from api.controllers import ledger as ledger_api
from api.controllers import merchants as merchants_api
from api.controllers import micro as micro_api
from api.controllers import notify as notify_api
from api.controllers import oversight as oversight_api
from api.controllers import rankings as rankings_api
from api.controllers import reach as reach_api
from api.controllers import recognition as recognition_api
from api.controllers import records as records_api
from api.controllers import reports as reports_api
from api.controllers import scanning as scanning_api
from api.controllers import scans as scans_api
from api.controllers import signups as signups_api
from api.controllers import supermarket as supermarket_api
from api.controllers import timebank as timebank_api
from api.controllers import units as units_api
from domain import cases, checkin, ledger, notify, supermarket, timebank
from domain import demo as demos
from domain.checkin import scans
from domain.core import sweeper
from domain.people import auth as auth_domain
from domain.people import wechat
from domain.rankings import expiry
from domain.recognition import medals


@dataclass(frozen=True)
class Capability:
    name: str
    controllers: Sequence[type[Controller]]
    scan_acts: Mapping[str, scans.Act] = field(default_factory=dict)       # code kind -> what a scan does
    scan_previews: Mapping[str, scans.Look] = field(default_factory=dict)  # code kind -> what it shows first
    sweeps: Sequence[sweeper.Sweep] = ()                                    # periodic clean-up
    demo: demos.Seed | None = None                                          # its part of `linli demo`


CAPABILITIES: tuple[Capability, ...] = (
    Capability("people", [*auth.CONTROLLERS, *me.CONTROLLERS, *orgs.CONTROLLERS, *console.CONTROLLERS,
                          *privacy.CONTROLLERS, *clock_api.CONTROLLERS,
                          *community_policy_api.CONTROLLERS], sweeps=auth_domain.SWEEPS, demo=demos.people.seed_demo),
    Capability("ledger", [*ledger_api.CONTROLLERS, *areas_api.CONTROLLERS], sweeps=ledger.SWEEPS,
               demo=demos.areas.seed_demo),  # areas: 通兑 and settlement
    Capability("checkin", [*activities.CONTROLLERS, *scans_api.CONTROLLERS, *signups_api.CONTROLLERS,
                           *scanning_api.CONTROLLERS, *corrections_api.CONTROLLERS], scan_acts=checkin.SCAN_ACTS,
               scan_previews=checkin.SCAN_PREVIEWS, sweeps=checkin.SWEEPS, demo=demos.checkin.seed_demo),
    Capability("supermarket", supermarket_api.CONTROLLERS, scan_acts=supermarket.SCAN_ACTS,
               scan_previews=supermarket.SCAN_PREVIEWS, sweeps=supermarket.SWEEPS, demo=demos.supermarket.seed_demo),
    Capability("timebank", [*timebank_api.CONTROLLERS, *certificates_api.CONTROLLERS], sweeps=timebank.SWEEPS,
               demo=demos.timebank.seed_demo),
    Capability("reports", reports_api.CONTROLLERS, demo=demos.reports.seed_demo),
    Capability("rankings", [*rankings_api.CONTROLLERS, *home.CONTROLLERS], sweeps=expiry.SWEEPS, demo=demos.rankings.seed_demo),
    Capability("joining", joining_api.CONTROLLERS, demo=demos.joining.seed_demo),  # join requests, imports, cards
    Capability("units", [*units_api.CONTROLLERS, *city_api.CONTROLLERS, *micro_api.CONTROLLERS],
               demo=demos.units.seed_demo),  # 双报到, the city's lists, 微网格  # 双报到 and the levels above the community
    Capability("notify", notify_api.CONTROLLERS, sweeps=notify.SWEEPS),
    # the grid loop: cases, a street's categories, partner organisations and their staff
    Capability("cases", cases_api.CONTROLLERS, sweeps=cases.SWEEPS, demo=demos.cases.seed_demo),
    Capability("reach", reach_api.CONTROLLERS, sweeps=wechat.SWEEPS),  # WeChat sign-in, privacy notices and consent, real name
    Capability("records", records_api.CONTROLLERS),  # §19 records, their export and restore
    Capability("oversight", oversight_api.CONTROLLERS),  # what is held for a second person; flags
    Capability("merchants", merchants_api.CONTROLLERS, demo=demos.merchants.seed_demo),  # 爱心商家: offers, vouchers at the counter, statements
    Capability("recognition", recognition_api.CONTROLLERS, sweeps=medals.SWEEPS),  # rulebook, deductions, medals, selections
)


def controllers(capabilities: Sequence[Capability] = CAPABILITIES) -> list[type[Controller]]:
    return [c for capability in capabilities for c in capability.controllers]


def _merged(tables: list[tuple[str, Mapping[str, object]]]) -> dict[str, object]:
    merged: dict[str, object] = {}
    owner: dict[str, str] = {}
    for name, table in tables:
        for kind, handler in table.items():
            if kind in merged:
                raise ValueError(f"scan kind {kind!r} claimed by both {owner[kind]} and {name}")
            merged[kind], owner[kind] = handler, name
    return merged


def scan_acts(capabilities: Sequence[Capability] = CAPABILITIES) -> dict[str, scans.Act]:
    return _merged([(c.name, c.scan_acts) for c in capabilities])  # type: ignore[return-value]


def scan_previews(capabilities: Sequence[Capability] = CAPABILITIES) -> dict[str, scans.Look]:
    return _merged([(c.name, c.scan_previews) for c in capabilities])  # type: ignore[return-value]


def sweeps(capabilities: Sequence[Capability] = CAPABILITIES) -> list[sweeper.Sweep]:
    return [s for capability in capabilities for s in capability.sweeps]


def install(capabilities: Sequence[Capability] = CAPABILITIES) -> None:
    """Give the scan resolver and the sweeper their tables. The app calls this when it is built."""
    scans.install(scan_acts(capabilities), scan_previews(capabilities))
    sweeper.install(sweeps(capabilities))
