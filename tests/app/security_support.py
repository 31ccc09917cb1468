"""Shared pieces of the reliability and security suite (issue 11): a private app server on its own
database for tests that would otherwise litter the shared one (fuzzing, the authorisation matrix),
an event loop in a thread for sync tests that need async set-up, and a seeded pair of communities
A and B holding one resource of every kind, built through the public API like a real client."""

import asyncio
import io
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from PIL import Image

from api.app import create_app
from domain.core import clock, db
from tests.conftest import Community, Person, World, _free_port, _fresh_database, drop_database


class BackgroundLoop:
    """An asyncio loop in a daemon thread: sync tests (schemathesis, Playwright) run async set-up here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class ThreadServer:
    """The app over real HTTP (uvicorn in a thread) on a database of its own."""

    def __init__(self, database_url: str) -> None:
        import uvicorn
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(database_url, run_sweeper=False, pool_size=10),
                                                    host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "test server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class PrivateApp:
    """A fresh database, a pool on it (in a background loop) and the app serving it over HTTP."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.loop = BackgroundLoop()
        self.url = self.loop.run(_fresh_database(admin_url))
        self.pool = self.loop.run(db.create_pool(self.url, min_size=1, max_size=5))
        self.world = World(self.pool)
        self.server = ThreadServer(self.url)
        self.base = self.server.base

    def run(self, coro, timeout: float = 300):
        return self.loop.run(coro, timeout)

    def close(self) -> None:
        self.server.stop()
        self.loop.run(self.pool.close())
        self.loop.run(drop_database(self.admin_url, self.url))
        self.loop.close()


# ---- a pair of communities with one resource of each kind ------------------------------------



def jpeg(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 90, 40)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Side:
    """Community A or B and what lives in it. Only A's people act in the matrix; B's are the others."""
    name: str
    community: Community
    volunteer: Person
    courier: Person
    target: Person            # a member the managers act on (statements, grids, deactivation)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def manager(self) -> Person:
        return self.community.manager


async def _ok(client: httpx.AsyncClient, person: Person | None, method: str, path: str, *, status=(200, 201),
              **kwargs) -> dict:
    headers = {**(person.headers if person else {}), **kwargs.pop("headers", {})}
    r = await client.request(method, path, headers=headers, **kwargs)
    assert r.status_code in status, (method, path, r.status_code, r.text)
    return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else {}


async def ask_family_link(client: httpx.AsyncClient, asker: Person, asked: Person) -> dict:
    """`asker` asks `asked` by phone; the answer names nobody (issue 16), so the link is the newest
    one `asked` sees coming from `asker`."""
    await _ok(client, asker, "POST", "/api/family-links", json={"phone": asked.phone})
    links = (await _ok(client, asked, "GET", "/api/family-links"))["items"]
    return next(link for link in links if link["direction"] == "incoming" and link["other"]["id"] == asker.id)


class Builder:
    """Makes resources of a side through the API; `fresh(kind, side)` gives a new one for tests that
    use a resource up (approve, cancel, delete ...)."""

    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client, self.world = client, world

    async def side(self, name: str, street_id: int | None = None) -> Side:
        community = await self.world.community(f"社区{name}", street_id=street_id)
        volunteer = await self.world.member(community, f"志愿者{name}")
        courier = await self.world.member(community, f"骑手{name}", role="courier")
        target = await self.world.member(community, f"居民{name}")
        for person in (volunteer, target):
            await self.world.fund(person, community, "points", 10_000)
            await self.world.fund(person, community, "minutes", 10_000)
        side = Side(name, community, volunteer, courier, target)
        ids = side.ids
        ids["community"], ids["grid"], ids["street"] = community.id, community.grid_id, community.street_id
        ids["district"] = community.district_id
        ids["activity"] = (await self.activity(side))["id"]
        ids["reward"] = (await self.reward(side))["id"]
        ids["redemption"] = (await self.redemption(side))["id"]
        ids["report"] = (await self.report(side))["id"]
        ids["request"] = (await self.service_request(side))["id"]
        ids["team"] = (await _ok(self.client, side.manager, "POST", "/api/teams",
                                 json={"name": f"团队{name}", "community_id": community.id}))["id"]
        ids["attendance"] = (await self.attendance(side))
        ids["transfer"] = (await self.transfer(side))["id"]
        ids["link"] = (await self.family_link(side))["id"]
        return side

    async def activity(self, side: Side, *, publish: bool = True, title: str | None = None) -> dict:
        now = clock.now().replace(microsecond=0)  # open around the test's "now": frozen or real
        body = {"community_id": side.community.id, "title": title or f"清扫楼道{side.name}", "place": "3栋",
                "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
                "points": 5}
        activity = await _ok(self.client, side.manager, "POST", "/api/activities", json=body)
        if publish:
            activity = await _ok(self.client, side.manager, "POST", f"/api/activities/{activity['id']}/publish")
        return activity

    async def reward(self, side: Side, name: str | None = None) -> dict:
        return await _ok(self.client, side.manager, "POST", "/api/rewards", json={
            "community_id": side.community.id, "name": name or f"大米{side.name}", "cost_points": 1,
            "stock": 100_000})

    async def redemption(self, side: Side, person: Person | None = None, approve: bool = False) -> dict:
        redemption = await _ok(self.client, person or side.volunteer, "POST", "/api/redemptions",
                               json={"reward_id": side.ids["reward"], "quantity": 1})
        if approve:
            redemption = await _ok(self.client, side.manager, "POST", f"/api/redemptions/{redemption['id']}/approve")
        return redemption

    async def report(self, side: Side, text: str | None = None) -> dict:
        return await _ok(self.client, side.courier, "POST", "/api/reports", files={
            "kind": (None, "hazard"), "text": (None, text or f"消防通道堵塞{side.name}"), "place": (None, "5栋"),
            "photo": ("p.jpg", jpeg(), "image/jpeg")})

    async def service_request(self, side: Side, person: Person | None = None, title: str | None = None) -> dict:
        return await _ok(self.client, person or side.volunteer, "POST", "/api/timebank/requests", json={
            "title": title or f"陪老人买菜{side.name}", "minutes_estimate": 30, "place": "2栋"})

    async def accepted_request(self, side: Side, completed: bool = False) -> dict:
        req = await self.service_request(side, side.target)
        req = await _ok(self.client, side.volunteer, "POST", f"/api/timebank/requests/{req['id']}/accept")
        if completed:
            req = await _ok(self.client, side.volunteer, "POST", f"/api/timebank/requests/{req['id']}/complete")
        return req

    async def attendance(self, side: Side) -> int:
        result = await _ok(self.client, side.manager, "POST", f"/api/activities/{side.ids['activity']}/attendance/mark",
                           json={"user_ids": [side.target.id], "reason": "忘带手机", "minutes": 30})
        if result["marked"]:
            return result["marked"][0]
        page = await _ok(self.client, side.manager, "GET", f"/api/activities/{side.ids['activity']}/attendance")
        return next(row["id"] for row in page["items"] if row["user_id"] == side.target.id)

    async def transfer(self, side: Side) -> dict:
        return await _ok(self.client, side.manager, "POST", "/api/adjustments", json={
            "user_id": side.target.id, "unit": "points", "amount": 3, "reason": "补录"})

    async def family_link(self, side: Side) -> dict:
        """The target asks to link the volunteer (pending until the volunteer approves)."""
        return await ask_family_link(self.client, side.target, side.volunteer)

    async def member(self, side: Side, role: str = "volunteer") -> Person:
        return await self.world.member(side.community, f"新成员{side.name}", role=role)


async def seed(client: httpx.AsyncClient, world: World) -> tuple[Side, Side]:
    builder = Builder(client, world)
    a = await builder.side("A")
    b = await builder.side("B", street_id=a.community.street_id)  # same street: street-level reads differ
    return a, b


# ---- `linli serve` as a subprocess ----------------------------------------------------------------

class Serve:
    """`linli serve` in a subprocess on a given database, output to a temporary file (a pipe nobody
    reads would fill up and stall the server)."""

    def __init__(self, database_url: str, port: int | None = None, **env: str) -> None:
        import os
        import subprocess
        import sys
        import tempfile
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="linli-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "linli", "serve", "--port", str(self.port), "--log-level", "warning"],
            env={**os.environ, "DATABASE_URL": database_url, "LINLI_PUBLIC_URL": self.base, **env},
            stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"linli serve did not become healthy:\n{self.output()}")

    def kill(self) -> None:
        """kill -9: no shutdown, no flushing, connections cut mid-request."""
        self.proc.kill()
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        import os
        import subprocess
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()
        os.unlink(self.log.name)
