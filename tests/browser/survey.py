"""Reading comfort and words on every page (issues 22, 28 and 33), in Chromium: the survey.

Every frontend/*.html page is opened logged in as each role of the demo city (`linli demo`: the world
a visitor meets, with an open time-bank request, a redemption, a courier's report, a 报到, a case and a
merchant waiting), with more on top: unread messages for everyone, a join request waiting, a full
activity with a waiting list, an adjustment held for a second manager. Each role visits each page in
its layouts: a 360 px phone in large text (大字模式, the tightest layout) for everyone, a 1280 px desktop
in normal text for the roles that work at a desk. A visit waits for the page's own ready marker
(<html data-ready>, set by ui.js when its requests have answered and rendered), never for network
idleness or a sleep. On each:
- axe-core (vendored under tests/vendor/axe-core, never served to residents) finds no serious or
  critical violation (contrast at least 4.5:1, names, labels, landmarks...), checked once per layout
  that differs (the page's elements and classes);
- no visible text is smaller than 14 px (chart axis numbers: 12 px), the body text is at least 16 px,
  line spacing at least 1.3; nothing scrolls sideways on the phone; controls are at least 44 px;
- in Chinese, the visible text holds no English words and no raw field names (snake_case), apart
  from the brand, units and codes.

The roles are split between two test files (managers, residents) so the two halves run in two workers;
each file builds its own city on a database and server of its own and imports the checks below.
"""

import contextlib
import http.server
import re
import threading
from pathlib import Path

import pytest

from api.app import create_app
from domain.core import db
from tests.conftest import (
    Login,
    _free_port,
    _fresh_database,
    _ledger_problems,
    drop_database,
    in_thread,
    new_phone,
    screenshot,
    start_uvicorn,
)

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
PAGES = sorted(p.name for p in (ROOT / "frontend").glob("*.html"))
# Panels that only show after a tap: opened through their address so their words are read too.
EXTRA = {"manager": ["console.html?tab=audit", "console.html?tab=members"],
         "admin": ["console.html?tab=audit", "console.html?tab=people"]}
PHONE, DESKTOP = (360, True), (1280, False)  # (width, large text)
# Each role of the demo city (domain/demo/city.py LOGINS) by its phone, the layouts it is read in, and
# its pages. The four first roles open every page (what a page shows someone who may not use it is read
# there); each other role reads the pages its own work opens, where its data differs: elsewhere it meets
# the layout one of the four already had read.
EVERY_PAGE = None
ROLES = {
    "volunteer": ("13900000001", (PHONE, DESKTOP), EVERY_PAGE),
    "courier": ("13700000001", (PHONE,), EVERY_PAGE),
    "manager": ("13800000001", (PHONE, DESKTOP), EVERY_PAGE),
    "admin": ("13800000000", (PHONE, DESKTOP), EVERY_PAGE),
    "party_member": ("13900000002", (PHONE,), ["index.html", "baodao.html", "units.html", "card.html",
                                                 "certificate.html", "statement.html", "messages.html"]),
    "neighbourhood_head": ("13900000003", (PHONE,), ["index.html", "micro.html", "messages.html"]),
    "handler": ("13700000009", (PHONE,), ["index.html", "cases.html", "messages.html"]),
    "merchant": ("13700000010", (PHONE,), ["index.html", "merchant.html", "messages.html"]),
    "street_manager": ("13800000003", (PHONE, DESKTOP),
                       ["index.html", "levels.html", "units.html", "held.html", "settlement.html", "dashboard.html",
                        "rankings.html", "cases.html", "merchants.html", "city.html", "console.html", "rulebook.html",
                        "deductions.html", "selection.html", "tools.html"]),
    "unit_admin": ("13800000004", (PHONE,), ["index.html", "units.html", "baodao.html", "messages.html"]),
}

# Latin text a Chinese reader may see: the brand, the language switch, units and short codes.
ALLOWED_LATIN = {"linli", "en", "kg", "g", "ml", "l", "km", "m", "cm", "ip", "id", "qr", "app", "h", "min",
                 "am", "pm", "wifi", "pdf", "csv", "excel", "xlsx"}


async def the_world_people_meet(conn, logins: dict) -> None:
    """On top of the demo: unread messages for everyone surveyed, a join request waiting for the
    manager, a full activity with the volunteer on its waiting list, a +15 adjustment (its audit row
    is read as a sentence) and one held for a second manager."""
    from datetime import timedelta

    from domain import notify
    from domain.checkin import activities, signups
    from domain.core import clock
    from domain.oversight import adjustments
    from domain.people import auth, orgs
    community_id = await conn.fetchval("select id from orgs where name = '三苏社区'")
    manager = await orgs.load_actor(conn, logins["manager"].id)
    volunteer = await orgs.load_actor(conn, logins["volunteer"].id)
    first = await auth.create_user(conn, phone=new_phone(), password=None, name="张秀英", is_admin=False)
    await orgs.add_member(conn, await orgs.load_actor(conn, logins["admin"].id), community_id, first, "volunteer")
    start = clock.now() + timedelta(days=1)
    full = await activities.create(conn, manager, community_id=community_id, title="重阳节敬老活动", place="社区活动室",
                                   starts_at=start, ends_at=start + timedelta(hours=2), points=10, capacity=1)
    await activities.publish(conn, manager, full.id)
    await signups.sign_up(conn, await orgs.load_actor(conn, first), full.id)
    await signups.sign_up(conn, volunteer, full.id)  # on the waiting list
    await adjustments.adjust(conn, manager, user_id=volunteer.id, unit="points", amount=15, reason="补录纸质记录")
    await adjustments.adjust(conn, manager, user_id=volunteer.id, unit="points", amount=5000,
                             reason="补录纸质记录")  # above the threshold: held for a second manager
    stranger = await auth.create_user(conn, phone=new_phone(), password=None, name="陈静", is_admin=False)
    await conn.execute("insert into join_requests (community_id, user_id, state, created_at) values ($1, $2, 'pending', $3)",
                       community_id, stranger, clock.now())
    async with conn.transaction():
        for login in logins.values():
            for _ in range(4):
                await notify.send(conn, login.id, "checkout_zero", community_id=community_id,
                                  params={"title": "重阳节敬老活动", "minutes": 0}, link=f"/activity.html?id={full.id}")
        await notify.send_to_managers(conn, community_id, "manager_digest",
                                      params={"redemptions": 1, "reports": 1, "appeals": 0})


def build_city(database_url: str) -> dict:
    """The demo city and the states above; a session for every role of ROLES."""
    import asyncpg

    from domain import demo
    from domain.people import auth
    result: dict = {}

    async def build():
        conn = await asyncpg.connect(database_url)
        await db._init_connection(conn)  # the app's codecs (jsonb) for the messages
        try:
            assert await demo.seed(conn) is not None
            logins = {}
            for role, (phone, _, _) in ROLES.items():
                user = await conn.fetchrow("select id, name from users where phone = $1", phone)
                logins[role] = Login(await auth._new_session(conn, user["id"]), user["name"], phone)
            await the_world_people_meet(conn, logins)
            result.update(logins)
        finally:
            await conn.close()

    in_thread(build)
    assert "volunteer" in result, "building the city failed"
    return result


def own_server_for(admin_url):
    """The app over HTTP on a database of the survey's own: an admin sees every community's activities
    and requests, so rows other tests left in a shared database (an XSS test's `<img onerror>` titles)
    would otherwise be read as English words or overflow the pages. Yields (base address, database
    URL); the ledger check runs on it before it is dropped."""
    url = in_thread(lambda: _fresh_database(admin_url))
    port = _free_port()
    server, thread = start_uvicorn(create_app(url, run_sweeper=False), port)
    try:
        yield f"http://127.0.0.1:{port}", url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        problems = in_thread(lambda: _ledger_problems(url))
        in_thread(lambda: drop_database(admin_url, url))
    assert not problems, f"`linli ledger check` after the survey: {problems}"


# The page's structure without its words: the set of its kinds of element (tag, classes, role, whether
# named, hidden). Two visits with the same set (a volunteer's and a courier's privacy page; a refusal on
# any page; a list of three rows and one of four) are one layout, checked by axe once: colours, names
# and landmarks follow the elements and classes. The words and sizes are measured on every visit.
SHAPE = """() => {
  const kinds = new Set();
  for (const el of document.body.querySelectorAll("*")) {
    kinds.add(`${el.tagName}.${el.className}.${el.getAttribute("role")}.${el.getAttribute("aria-label") ? 1 : 0}` +
      `${el.hidden ? "h" : ""}`);
  }
  let hash = 0;
  for (const char of [...kinds].sort().join("|")) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return `${kinds.size}:${hash}`;
}"""


# Everything measured on one page, in the page: axe's serious/critical violations, text under 12 px,
# the body's font size and line height, and the visible text.
MEASURE = """async (runAxe) => {
  const result = runAxe ? await axe.run(document, { resultTypes: ["violations"] }) : { violations: [] };
  const violations = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " " +
      (n.failureSummary || "").split("\\n").slice(1, 2).join("")).join(" | ")}`);
  const small = [];
  const tight = [];
  const spills = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest("[hidden], .visually-hidden, script, style")) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || !el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    // Secondary text is at least 14 px; only chart axis numbers (SVG) may go down to 12 px.
    if (size < 12 || size < 14 && !(el instanceof SVGElement)) small.push(`${el.tagName.toLowerCase()}.${el.className} "${node.textContent.trim().slice(0, 20)}" ${size}px`);
    const line = style.lineHeight === "normal" ? size * 1.3 : parseFloat(style.lineHeight);
    // Multi-line text needs room between lines; one-line controls (buttons, pills) are centred instead.
    if (line < size * 1.3 - 0.01 && box.height > line * 1.5) tight.push(`${el.tagName.toLowerCase()}.${el.className} ${size}/${line}`);
    // Words wider than their box run into the next one (a six-character label in a quarter of a
    // phone read as one phrase with its neighbour's).
    const range = document.createRange();
    range.selectNodeContents(node);
    const words = range.getBoundingClientRect();
    for (const outer of [el, el.parentElement]) {  // the text's box, and the box that holds it (a tile, a cell)
      if (!outer || outer === document.body || ["absolute", "fixed"].includes(getComputedStyle(outer).position)) break;
      const edge = outer.getBoundingClientRect();
      if (getComputedStyle(outer).overflowX !== "visible") break;  // it scrolls or clips on purpose
      if (words.left < edge.left - 1 || words.right > edge.right + 1) {
        spills.push(`${outer.tagName.toLowerCase()}.${outer.className} "${node.textContent.trim().slice(0, 20)}" ${Math.round(words.width)}>${Math.round(edge.width)}px`);
        break;
      }
    }
  }
  const body = getComputedStyle(document.body);
  // The words a reader sees, leaving out what is marked not to translate (codes, the bilingual
  // language-switch label).
  const copy = document.body.cloneNode(true);
  const live = [...document.body.querySelectorAll("*")];
  [...copy.querySelectorAll("*")].forEach((el, i) => {
    if (live[i].matches("[translate=no]") || !live[i].checkVisibility()) el.replaceChildren();
  });
  // Controls a finger must hit: at least 44 px high (a link inside a sentence excepted).
  const tiny = [...document.querySelectorAll("button, a.btn, input, select, textarea, [role=tab], .nav a")]
    .filter((el) => el.checkVisibility() && !el.closest("[hidden], .visually-hidden") && el.type !== "hidden"
      && getComputedStyle(el).display !== "inline" && !el.matches("[data-inline]"))  // a name inside a line of text, like a link in a sentence
    .map((el) => [el, el.getBoundingClientRect()])
    .filter(([el, box]) => box.width && Math.min(box.height, ["checkbox", "radio"].includes(el.type) ? box.width * 2 : box.height) < 44
      && !(["checkbox", "radio"].includes(el.type) && box.height >= 24))
    .map(([el, box]) => `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent || el.name || "").trim().slice(0, 12)}" ${Math.round(box.height)}px`);
  return { violations, small, tight, spills, tiny, sideways: document.documentElement.scrollWidth > innerWidth,
           body: parseFloat(body.fontSize), text: copy.textContent };
}"""


def latin_problems(text: str) -> list[str]:
    """English words and snake_case field names in Chinese text (brand, units and codes allowed)."""
    found = []
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_]*", text):
        if "_" in token:
            found.append(token)  # a raw field name such as transfer_id
        elif re.search(r"\d", token) or token.isupper() and len(token) <= 4:
            continue  # a code (A3F9, QR) or a unit with a number glued on
        elif token.lower() not in ALLOWED_LATIN:
            found.append(token)
    return found


def visit_every_page(live_server: str, browser, city: dict, roles: tuple[str, ...]) -> dict:
    """Visit every page as each of `roles` in its layouts once; return what each check reads."""
    assert AXE.exists(), f"axe-core is vendored at {AXE} (see tests/vendor/axe-core/README.md)"
    with axe_server() as axe:
        return _visit_every_page(live_server, browser, city, roles, axe)


@contextlib.contextmanager
def axe_server():
    """axe-core at an address of its own, cacheable: loaded by URL, Chromium compiles it once and
    reuses the code (injected as text it was parsed anew on each of ~250 visits, 40 s of the survey)."""
    body = AXE.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Cache-Control", "max-age=86400, immutable")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/axe.min.js"
    finally:
        server.shutdown()


def _visit_every_page(live_server: str, browser, city: dict, roles: tuple[str, ...], axe: str) -> dict:
    visits = {}
    checked: dict[str, list[str]] = {}  # layout shape → axe's findings there
    for role in roles:
        _, layouts, pages = ROLES[role]
        for width, large in layouts:
            # bypass_csp: the pages' CSP rightly refuses the injected axe script; it changes nothing else.
            context = browser.new_context(viewport={"width": width, "height": 800}, device_scale_factor=1,
                                          bypass_csp=True)
            context.add_cookies(city[role].cookies(live_server))
            context.add_init_script(f"localStorage.setItem('linli.large_text', '{'on' if large else 'off'}')")
            page = context.new_page()
            for name in (PAGES if pages is EVERY_PAGE else pages) + EXTRA.get(role, []):
                page.goto(f"{live_server}/{name}", wait_until="commit")  # returns when the page is ready
                shape = f"{width}:{page.evaluate(SHAPE)}"
                if shape not in checked:
                    page.add_script_tag(url=axe)  # only where axe runs: half the pages share a layout
                seen = page.evaluate(MEASURE, shape not in checked)
                if shape in checked:
                    seen["violations"] = checked[shape]  # the same layout another role already had checked
                checked[shape] = seen["violations"]
                visits[(role, name, width)] = seen
                if role in ("volunteer", "manager") and name in ("index.html", "shop.html", "statement.html",
                                                                  "timebank.html", "console.html?tab=audit"):
                    screenshot(page, f"a11y-{role}-{name.split('.')[0]}-{name.partition('tab=')[2] or 'page'}-{width}")
            context.close()
    print(f"survey: {len(visits)} visits, {len(checked)} layouts checked by axe")
    return visits


@pytest.fixture(scope="module")
def own_server(admin_url):
    yield from own_server_for(admin_url)


@pytest.fixture(scope="module")
def city(own_server):
    return build_city(own_server[1])


@pytest.fixture(scope="module")
def survey(own_server, browser, city, request):
    """Each importing file's own survey (module scope), of the roles its ROLES names."""
    return visit_every_page(own_server[0], browser, city, request.module.ROLES)


def test_no_serious_or_critical_axe_violation_on_any_page(survey):
    failures = [f"{role} {name} @{width}px: {v}" for (role, name, width), seen in survey.items()
                for v in seen["violations"]]
    assert not failures, "\n".join(failures)


def test_text_is_large_enough_and_spaced(survey):
    failures = []
    for (role, name, width), seen in survey.items():
        if seen["body"] < 16:
            failures.append(f"{role} {name} @{width}px: body text {seen['body']}px")
        failures += [f"{role} {name} @{width}px: too small: {s}" for s in seen["small"]]
        failures += [f"{role} {name} @{width}px: line spacing under 1.3: {s}" for s in seen["tight"]]
    assert not failures, "\n".join(sorted(set(failures)))


def test_no_words_spill_out_of_their_box(survey):
    failures = [f"{role} {name} @{width}px: {s}" for (role, name, width), seen in survey.items()
                for s in seen["spills"]]
    assert not failures, "\n".join(sorted(set(failures)))


def test_phones_in_large_text_never_scroll_sideways_and_controls_are_big_enough(survey):
    failures = [f"{role} {name}: scrolls sideways" for (role, name, width), seen in survey.items()
                if width == 360 and seen["sideways"]]
    failures += [f"{role} {name} @{width}px: control under 44 px: {c}" for (role, name, width), seen in survey.items()
                 for c in seen["tiny"]]
    assert not failures, "\n".join(sorted(set(failures)))


def test_chinese_pages_have_no_english_words_or_field_names(survey):
    failures = []
    for (role, name, width), seen in survey.items():
        if width != 360:
            continue
        bad = latin_problems(seen["text"])
        if bad:
            failures.append(f"{role} {name}: {sorted(set(bad))}")
    assert not failures, "\n".join(failures)


def test_managers_read_audit_entries_as_sentences(survey):
    for role in ("manager", "admin"):
        text = survey[(role, "console.html?tab=audit", 360)]["text"]
        assert "李晓梅 给 刘芳 调整 +15 积分：补录纸质记录" in text
        assert not re.search(r"transfer_id|org_id|unit: |role: ", text)


def test_the_word_checker_catches_english_and_field_names():
    assert latin_problems("调整 adjustment") == ["adjustment"]
    assert latin_problems("unit: points；amount: 15；transfer_id: 95") == ["unit", "points", "amount", "transfer_id"]
    assert latin_problems("邻里 Linli · 中文 / EN · 大米 5kg · 核销码 A3F9 · IP 10.0.0.1") == []


def check_large_text_switch(browser, live_server: str, volunteer) -> None:
    """On, the whole page grows; it stays on across reloads and pages; off, it shrinks back."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    context.add_cookies(volunteer.cookies(live_server))
    page = context.new_page()
    try:
        page.goto(f"{live_server}/shop.html")
        switch = page.get_by_role("button", name="大字模式")
        switch.wait_for()
        size = lambda selector: page.eval_on_selector(selector, "(el) => parseFloat(getComputedStyle(el).fontSize)")  # noqa: E731
        assert switch.get_attribute("aria-pressed") == "false"
        assert size("body") == 16
        screenshot(page, "a11y-large-text-off-shop-360")
        switch.click()
        assert switch.get_attribute("aria-pressed") == "true"
        assert size("body") == 20  # the whole page follows the root size
        assert size("h1") > 22 * 1.2
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # still no sideways scrolling
        screenshot(page, "a11y-large-text-on-shop-360")
        page.reload()
        page.get_by_role("button", name="大字模式").wait_for()
        assert size("body") == 20, "large text is remembered after a reload"
        page.goto(f"{live_server}/statement.html")
        page.get_by_role("button", name="大字模式", pressed=True).wait_for()
        assert size("body") == 20, "and on the other pages"
        for name in ("index.html", "timebank.html", "scan.html", "card.html", "privacy.html"):
            page.goto(f"{live_server}/{name}", wait_until="networkidle")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, f"{name} scrolls sideways in large text"
        screenshot(page, "a11y-large-text-on-privacy-360")
        # The header stays on one line in both languages (brand, large text, language pill).
        for switch_name in ("大字模式", "Big text"):
            page.get_by_role("button", name=switch_name).wait_for()
            assert page.eval_on_selector(".header-bar", "(el) => el.getBoundingClientRect().height") <= 64
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            if switch_name == "大字模式":
                page.click(".lang-switch")  # to English, and back below
        screenshot(page, "a11y-large-text-on-privacy-en-360")
        page.click(".lang-switch")
        page.get_by_role("button", name="大字模式").click()
        assert size("body") == 16
    finally:
        context.close()
