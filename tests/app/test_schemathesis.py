"""Schemathesis over the whole OpenAPI (issue 11): as admin, manager, volunteer and logged out, every
operation gets generated requests; no answer may be a 5xx and every answer must match the schema
(status code, content type, headers and body). A finding is fixed in the app, never in this file.

The app runs on a database of its own (tests/app/security_support.PrivateApp): fuzzing as admin creates,
moves and deactivates things at random, which must not leak into other tests. Half the requests get
real ids of community A in their path, query and body, so they get past "not found" into the rules.
Negative generation (wrong types, unknown fields, out of range values) must be refused with a 4xx.

Reproducible (issue 15): every run generates from one seed (FUZZ_SEED in tests/conftest.py, printed in
pytest's header): fixed under the "ci" Hypothesis profile, so two runs of one commit send the same
requests (`test_two_runs_generate_the_same_requests` checks it across processes); new on each run
under HYPOTHESIS_PROFILE=explore, and replayed with LINLI_FUZZ_SEED=<seed>. A failure is shrunk to
a smallest request. An operation that yields no example fails; only NOTHING_TO_BREAK, pinned by a
test, are left out of the negative run.

A longer hunt, with a summary of the statuses each operation answered:
    LINLI_FUZZ_EXAMPLES=admin:400,manager:150,volunteer:150,negative:100 LINLI_FUZZ_REPORT=1 \
        pytest tests/app/test_schemathesis.py -s
"""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from domain.core import clock, codes
from domain.people import auth, orgs
from tests.app.security_support import PrivateApp, seed
from tests.conftest import EXPLORING, FUZZ_SEED, T0, Person

# `hypothesis`: the marker Hypothesis gives its own tests, so `-m hypothesis` selects every generated test.
pytestmark = [pytest.mark.heavy, pytest.mark.hypothesis, pytest.mark.usefixtures("at_t0")]

SPEC = create_app("postgresql://unused@127.0.0.1/none").openapi_schema.to_schema()
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

# Examples per operation and role (admin reaches deepest: it passes every scope check), and of schema-
# breaking requests (as admin). CI sends every operation, as every role, a fixed-seed sample; the
# status of every request the whole suite makes is also checked against the document after the run
# (tests/status_contract.py). The full counts are for exploring (HYPOTHESIS_PROFILE=explore, README),
# four times over; LINLI_FUZZ_EXAMPLES=admin:200,manager:50 sets any count.
FULL = {"admin": 100, "manager": 25, "volunteer": 25, "anonymous": 10, "negative": 25}
EXAMPLES = {role: n * 4 for role, n in FULL.items()} if EXPLORING else {
    "admin": 30, "manager": 10, "volunteer": 10, "anonymous": 4, "negative": 10}
EXAMPLES |= {k: int(v) for k, v in (item.split(":") for item in os.environ.get("LINLI_FUZZ_EXAMPLES", "").split(",")
                                    if item)}

# Operations where no request can break the schema: no parameter or body at all, or one free-form path
# string (any code is a code). Negative generation yields nothing for them (Unsatisfiable, or every
# draw filtered), so they are left out of the negative run by name; every other operation must
# generate (`test_nothing_to_break_is_exactly_these`).
# No parameters at all, or one free-form path string (any text is a valid code that is just unknown).
NOTHING_TO_BREAK = {"GET /healthz", "GET /readyz", "GET /api/kiosk/code", "GET /api/scans/{code}",
                    "GET /api/join/{join_code}", "GET /api/verify/{code}",
                    "GET /api/auth/wechat", "GET /api/privacy/notices/{notice_kind}",  # these two: issue 36
                    "GET /api/periods/current"}
NEGATIVE_OPERATIONS = [op for op in OPERATIONS if op.label not in NOTHING_TO_BREAK]

# Health checks stay on (a schema Hypothesis cannot fill, or that it must filter too much, fails), except
# too_slow: it times how long generating takes on this machine, so on a loaded CI runner it would fail a
# run of a commit that passed before, the very nondeterminism this file removes.
SUPPRESSED = [HealthCheck.too_slow]

STATUSES: dict[tuple[str, str], list[int]] = {}  # what the answers were, for LINLI_FUZZ_REPORT=1

# Parameter and body field names -> which of community A's ids replaces the generated value.
PIN = {"activity_id": "activity", "reward_id": "reward", "redemption_id": "redemption", "report_id": "report",
       "request_id": "request", "community_id": "community", "org_id": "community", "team_id": "team",
       "attendance_id": "attendance", "transfer_id": "transfer", "link_id": "link", "user_id": "target",
       "to_user_id": "target", "for_user_id": "target", "grid_id": "grid", "parent_id": "street",
       "code": "poster_code", "member_code": "card_code", "user_ids": "target_list"}


def _pin(case, ids: dict) -> None:
    for part in (case.path_parameters, case.query, case.body):
        if isinstance(part, dict):
            for name in part.keys() & PIN.keys():
                part[name] = ids[PIN[name]]


class Fuzz:
    """The private app, community A's resources, and one working person per role."""

    def __init__(self, admin_url: str) -> None:
        self.app = PrivateApp(admin_url)
        self.base = self.app.base

        async def build():
            async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
                return await seed(client, self.app.world)
        self.a, self.b = self.app.run(build())
        self.ids = dict(self.a.ids, target=self.a.target.id, target_list=[self.a.target.id],
                        **self.app.run(self._codes()))
        self.people: dict[str, Person] = {"admin": self.app.run(self.app.world.admin()),
                                          "manager": self.a.manager, "volunteer": self.a.volunteer}

    async def _codes(self) -> dict[str, str]:
        async with self.app.pool.acquire() as conn:
            poster = await conn.fetchval("select code from codes where kind = 'poster' and target_id = $1",
                                         self.a.ids["activity"])
            card = await codes.member_card(conn, self.a.target.id)
        return {"poster_code": poster, "card_code": card.code}

    def headers(self, role: str) -> dict[str, str]:
        """A fresh session for the role's person; a new person when fuzzing took the role away
        (an admin may deactivate anyone, dismiss managers ...: that is the API working)."""
        if role == "anonymous":
            return {}
        self.people[role] = person = self.app.run(self._ensure(role, self.people[role]))
        return person.headers

    async def _ensure(self, role: str, person: Person) -> Person:
        world, community = self.app.world, self.a.community
        async with self.app.pool.acquire() as conn:
            actor = await orgs.load_actor(conn, person.id) if await conn.fetchval(
                "select active from users where id = $1", person.id) else None
            member = await conn.fetchval("select 1 from org_members where user_id = $1 and org_id = $2",
                                         person.id, community.id)
            intact = actor is not None and {"admin": actor.is_admin, "manager": community.id in actor.manages,
                                            "volunteer": bool(member)}[role]
            if intact:
                login = await auth._new_session(conn, person.id)
                return Person(person.id, person.phone, person.name, login.token, login.csrf)
        if role == "admin":
            return await world.person("管理员", admin=True)
        if role == "volunteer":
            return await world.member(community, "志愿者")
        manager = await world.person("社区管理员")
        async with self.app.pool.acquire() as conn:
            await orgs.appoint_manager(conn, await world.actor(await world.admin()), community.id, manager.id)
        return manager


def _read_leniently(case) -> bool:
    """Query values Litestar's non-strict decoding accepts by design (docs/decisions.md), which
    negative generation counts as invalid: `?x=null` for an optional x reads as "no x", and a number
    for a date-time reads as a Unix timestamp."""
    timestamps = {p.name for p in case.operation.query if "date-time" in str(p.definition)}
    for name, value in (case.query or {}).items():
        for v in value if isinstance(value, list) else [value]:
            if v == "null":
                return True
            if name in timestamps:
                try:
                    float(v)
                    return True
                except (TypeError, ValueError):
                    pass
    return False


@pytest.fixture(scope="module")
def fuzz(admin_url):
    clock.freeze(T0)  # seeded at T0, and every request of the fuzzing is answered there (at_t0)
    f = Fuzz(admin_url)
    yield f
    f.app.close()


def generated(operation, examples: int, mode=None):
    """Hypothesis' decorators for one operation's requests: the seed, the settings, the strategy.
    The run below and the reproducibility test use exactly these."""
    strategy = operation.as_strategy(generation_mode=mode or GenerationMode.POSITIVE)

    def decorate(test):
        test = hypothesis.given(case=strategy, pin=st.booleans())(test)
        test = settings(max_examples=examples, deadline=None, database=None, derandomize=True, print_blob=True,
                        phases=[Phase.generate, Phase.shrink], suppress_health_check=SUPPRESSED,
                        report_multiple_bugs=False)(test)
        return hypothesis.seed(FUZZ_SEED)(test)
    return decorate


def _run(fuzz, operation, role: str, examples: int, mode=None, checks=CHECKS) -> None:
    headers = fuzz.headers(role)
    session = requests.Session()

    @generated(operation, examples, mode)
    def check(case, pin):
        if pin and mode is None:
            _pin(case, fuzz.ids)
        used = checks
        if mode is GenerationMode.NEGATIVE and _read_leniently(case):
            used = [c for c in checks if c is not negative_data_rejection]
        response = case.call_and_validate(base_url=fuzz.base, session=session, headers=headers, checks=used,
                                          timeout=30)
        STATUSES.setdefault((role, operation.label), []).append(response.status_code)

    check()


@pytest.mark.parametrize("role", ["admin", "manager", "volunteer", "anonymous"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_fuzz(fuzz, operation, role):
    _run(fuzz, operation, role, EXAMPLES[role])


@pytest.mark.parametrize("operation", NEGATIVE_OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_fuzz_negative(fuzz, operation):
    """Requests that break the schema (wrong types, unknown fields, out of range) are refused with a 4xx."""
    _run(fuzz, operation, "admin", EXAMPLES["negative"], mode=GenerationMode.NEGATIVE,
         checks=CHECKS + [negative_data_rejection])


def _nothing_generated(operation) -> bool:
    @settings(max_examples=5, deadline=None, database=None, derandomize=True, phases=[Phase.generate])
    @hypothesis.given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def draw(case):
        pass
    try:
        draw()
    except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck):
        return True
    return False


def test_nothing_to_break_is_exactly_these():
    """The operations left out of the negative run are those that really yield nothing, and only those
    (an operation that gains a parameter must leave the list; one that loses all must join it)."""
    assert {op.label for op in OPERATIONS if _nothing_generated(op)} == NOTHING_TO_BREAK


# ---- the same requests on every run of a commit ---------------------------------------------------

SAMPLED = ["GET /api/audit", "POST /api/adjustments", "PATCH /api/rewards/{reward_id}"]


def requests_digest(labels: list[str], examples: int = 10) -> str:
    """A digest of every request the fuzzing would send for these operations (positive and negative),
    drawn with the same decorators as the run, without sending anything."""
    seen = []
    by_label = {op.label: op for op in OPERATIONS}
    for label in labels:
        for mode in (None, GenerationMode.NEGATIVE):
            @generated(by_label[label], examples, mode)
            def record(case, pin):
                seen.append([label, str(mode), pin, case.path_parameters, case.query, case.headers, case.body])
            record()

    def plain(value) -> str:  # schemathesis' NotSet (no body) and bytes bodies, without memory addresses
        return re.sub(r" at 0x[0-9a-f]+", "", repr(value))
    return hashlib.sha256(json.dumps(seen, sort_keys=True, default=plain, ensure_ascii=False).encode()).hexdigest()


def _loaded_project_modules(root: Path) -> list[str]:
    """The project's own modules this process has imported (not the virtualenv's)."""
    return sorted(name for name, module in list(sys.modules.items())
                  if (path := getattr(module, "__file__", None)) and path.startswith(str(root))
                  and "/site-packages/" not in path and name != "__main__")


def test_two_runs_generate_the_same_requests():
    """Two processes (with different hash seeds, as two CI runs have) draw the very same requests as
    this one. Hypothesis also draws on the constants in the project's loaded modules, so the other
    processes first import the same ones: same code and same seed, same requests (a run of a subset
    of the suite may load fewer modules and draw other requests; replay a failure with the same command)."""
    root = Path(__file__).resolve().parents[2]
    script = ("import importlib, sys\n"
              "for name in sys.argv[1:]:\n"
              "    importlib.import_module(name)\n"
              "from tests.app.test_schemathesis import requests_digest, SAMPLED\n"
              "print(requests_digest(SAMPLED))")
    modules = _loaded_project_modules(root)
    here = requests_digest(SAMPLED)
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "LINLI_FUZZ_SEED": str(FUZZ_SEED)}
        out = subprocess.run([sys.executable, "-c", script, *modules], env=env, cwd=root, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        digests.add(out.stdout.strip().splitlines()[-1])
    assert digests == {here}


def teardown_module():
    if os.environ.get("LINLI_FUZZ_REPORT"):
        from collections import Counter
        for (role, label), answers in sorted(STATUSES.items()):
            print(f"{role:9} {label:60} {len(answers):4} {dict(Counter(answers))}")
