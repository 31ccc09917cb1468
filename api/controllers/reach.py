"""Reach: sign in with WeChat, the privacy notice and consents, the person's real name
and volunteer number, and minors registered by a guardian."""

import hmac
import secrets
from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import Cookie
from litestar.params import QueryParameter
from litestar.response import Redirect

from api.controllers.auth import LoginOut, with_cookies
from api.deps import client_ip
from domain.core.actor import Actor
from domain.core.errors import DomainError
from domain.people import consent, identity, minors, privacy, wechat
from domain.recognition import rulebook

STATE_COOKIE = "linli_wechat_state"
TICKET_COOKIE = "linli_wechat"
Kind = Literal["privacy", "id_number", "guardian"]


class WeChatConfig(msgspec.Struct):
    enabled: bool  # the page shows 微信登录 only when configured, and only inside WeChat's browser


class WeChatBindIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]
    code: Annotated[str, msgspec.Meta(max_length=12)]   # SMS code, purpose "register"
    name: Annotated[str, msgspec.Meta(max_length=50)] | None = None          # for a new account
    consent: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None  # for a new account


class NoticeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Kind
    body: Annotated[str, msgspec.Meta(max_length=20000)]


class ConsentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Kind
    version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class IdentityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id_number: Annotated[str, msgspec.Meta(max_length=40)] | None = None   # "" removes it
    volunteer_number: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    consent_version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None  # the id_number notice


class MinorIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=50)]
    birth_date: date
    guardian_consent: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    consent: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


def _short_cookie(request: Request, key: str, value: str, max_age: int) -> Cookie:
    return Cookie(key=key, value=value, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                  max_age=max_age, path="/api/auth/wechat")


class WeChatController(Controller):
    path = "/api/auth/wechat"
    tags = ["auth"]

    @get("/")
    async def config(self) -> WeChatConfig:
        return WeChatConfig(wechat.enabled())

    @get("/start", include_in_schema=False)
    async def start(self, request: Request) -> Redirect:
        """To WeChat's authorize page, with a state the callback checks against this browser's cookie."""
        state = secrets.token_urlsafe(16)
        return Redirect(wechat.authorize_url(state), status_code=302,
                        cookies=[_short_cookie(request, STATE_COOKIE, state, 600)])

    @get("/callback", include_in_schema=False)
    async def callback(self, request: Request, pool: asyncpg.Pool, code: str | None = None,
                       oauth_state: Annotated[str | None, QueryParameter(name="state")] = None) -> Response[Any]:
        """WeChat's return: exchange the code for an openid (server to server), then sign in or ask for
        the phone once. Nothing else reaches an openid: no code, no sign-in."""
        expected = request.cookies.get(STATE_COOKIE, "")
        state = oauth_state
        if not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
            raise DomainError("unauthenticated", field="state", details={"problem": "start the WeChat sign-in again"})
        if not code or len(code) > 256:
            raise DomainError("unauthenticated", field="code", details={"problem": "WeChat sent no code"})
        openid = await wechat.exchange(code)
        async with pool.acquire() as conn:
            login, ticket = await wechat.sign_in_or_ticket(conn, openid)
            due = await consent.due(conn, login.user_id) if login is not None else None
        if login is not None:
            signed = with_cookies(request, login, 200)
            # A new notice version is asked at this sign-in too, before the person goes on.
            response: Response[Any] = Redirect("/login.html#consent" if due else "/", status_code=302,
                                               cookies=list(signed.cookies))
        else:
            response = Redirect("/login.html#wechat", status_code=302,
                                cookies=[_short_cookie(request, TICKET_COOKIE, ticket or "", 600)])
        response.delete_cookie(STATE_COOKIE, path="/api/auth/wechat")
        return response

    @post("/bind", status_code=200, opt={"errors": {401: "No WeChat sign-in ticket from this browser"}})
    async def bind(self, request: Request, data: WeChatBindIn, pool: asyncpg.Pool) -> Response[LoginOut]:
        """Prove the phone once (SMS code, purpose register) to bind the WeChat this browser came back
        with (its ticket cookie) to that phone's account; a new phone opens an account (name, consent)."""
        async with pool.acquire() as conn:
            login = await wechat.bind(conn, ticket=request.cookies.get(TICKET_COOKIE), phone=data.phone,
                                      code=data.code, ip=client_ip(request), name=data.name,
                                      consent_version=data.consent)
            due = await consent.due(conn, login.user_id)
        response = with_cookies(request, login, 200, due)
        response.delete_cookie(TICKET_COOKIE, path="/api/auth/wechat")
        return response


class PrivacyNoticeController(Controller):
    path = "/api/privacy/notices"
    tags = ["privacy"]

    @get("/{notice_kind:str}")
    async def notice(self, notice_kind: str, pool: asyncpg.Pool) -> consent.Notice:
        """The current version of a notice: `privacy`, `id_number` or `guardian`."""
        async with pool.acquire() as conn:
            return await consent.current(conn, notice_kind)

    @post("/", status_code=201)
    async def publish(self, actor: Actor, data: NoticeIn, pool: asyncpg.Pool) -> consent.Notice:
        """A new version (admins): everyone is asked again at their next sign-in."""
        async with pool.acquire() as conn:
            return await consent.publish(conn, actor, data.kind, data.body)


class IdentityController(Controller):
    path = "/api/me"
    tags = ["me"]

    @post("/consents", status_code=200)
    async def give_consent(self, actor: Actor, data: ConsentIn, pool: asyncpg.Pool) -> list[consent.Consent]:
        """Agree to the current version of a notice; answers the person's consent history."""
        async with pool.acquire() as conn:
            return await consent.give(conn, actor.id, data.kind, data.version)

    @get("/identity")
    async def my_identity(self, actor: Actor, pool: asyncpg.Pool) -> Response[identity.Identity]:
        """The person's own view: the one place their full ID number is shown."""
        async with pool.acquire() as conn:
            return Response(await identity.own(conn, actor.id), headers={"cache-control": "no-store"})

    @put("/identity")
    async def set_identity(self, actor: Actor, data: IdentityIn, pool: asyncpg.Pool) -> Response[identity.Identity]:
        """Add the ID number (checked; its own consent, `consent_version` of the id_number notice) or the
        national volunteer number."""
        async with pool.acquire() as conn:
            out = await identity.set_identity(conn, actor.id, id_number=data.id_number,
                                              volunteer_number=data.volunteer_number,
                                              consent_version=data.consent_version)
        return Response(out, headers={"cache-control": "no-store"})

    @post("/minors", status_code=201)
    async def register_minor(self, actor: Actor, data: MinorIn, pool: asyncpg.Pool) -> minors.Minor:
        """A guardian registers a volunteer under 18 (guardian consent and privacy consent on their behalf)."""
        async with pool.acquire() as conn:
            return await minors.register(conn, actor, name=data.name, birth_date=data.birth_date,
                                         guardian_consent=data.guardian_consent, privacy_consent=data.consent)

    @get("/minors")
    async def list_minors(self, actor: Actor, pool: asyncpg.Pool) -> list[minors.Minor]:
        async with pool.acquire() as conn:
            return await minors.list_minors(conn, actor)

    @get("/minors/{minor_id:int}/export")
    async def export_minor(self, actor: Actor, minor_id: int, pool: asyncpg.Pool) -> Response[dict[str, Any]]:
        """The minor's data, for their guardian (who manages the account)."""
        async with pool.acquire() as conn:
            await minors.require_guardian(conn, actor, minor_id)
            data = await privacy.export(conn, minor_id, rules_of=rulebook.rules_of)
        return Response(data, headers={"cache-control": "no-store"})


CONTROLLERS = (WeChatController, PrivacyNoticeController, IdentityController)  # listed in api/capabilities.py
