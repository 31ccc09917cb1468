"""Register, log in, log out: sessions as an HttpOnly cookie for pages and a bearer token for clients."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie

from api.deps import CSRF_COOKIE, SESSION_COOKIE, client_ip
from domain.core.actor import Actor
from domain.people import auth, consent, phones
from domain.people.auth import SESSION_DAYS


class RegisterIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]
    password: Annotated[str, msgspec.Meta(max_length=256)]  # longer than the rule: the rule's refusal names it
    name: Annotated[str, msgspec.Meta(max_length=50)]
    code: Annotated[str, msgspec.Meta(max_length=12)]  # the SMS code from POST /api/auth/phone-codes
    # The version of the privacy notice (GET /api/privacy/notices/privacy) the person ticked; no tick, no account.
    consent: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


class PhoneCodeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]
    purpose: Literal["register", "reset"]


class ResetIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]
    code: Annotated[str, msgspec.Meta(max_length=12)]
    new_password: Annotated[str, msgspec.Meta(max_length=256)]


class LoginIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]
    password: Annotated[str, msgspec.Meta(max_length=128)]


class PasswordIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    old_password: Annotated[str, msgspec.Meta(max_length=128)]
    new_password: Annotated[str, msgspec.Meta(max_length=256)]


class LoginOut(msgspec.Struct):
    token: str
    csrf: str
    user_id: int
    consent_due: int | None = None  # a privacy notice version not yet agreed to: ask before going on


def with_cookies(request: Request, login: auth.Login, status: int, due: int | None = None) -> Response[LoginOut]:
    """The session cookies for pages, and the token for clients (also used by WeChat sign-in)."""
    return _with_cookies(request, login, status, due)


def _with_cookies(request: Request, login: auth.Login, status: int, due: int | None = None) -> Response[LoginOut]:
    secure = request.url.scheme == "https"
    age = SESSION_DAYS * 86400
    return Response(
        LoginOut(login.token, login.csrf, login.user_id, due), status_code=status,
        cookies=[Cookie(key=SESSION_COOKIE, value=login.token, httponly=True, samesite="lax", secure=secure,
                        max_age=age, path="/"),
                 Cookie(key=CSRF_COOKIE, value=login.csrf, httponly=False, samesite="lax", secure=secure,
                        max_age=age, path="/")])


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", status_code=201)
    async def register(self, request: Request, data: RegisterIn, pool: asyncpg.Pool) -> Response[LoginOut]:
        async with pool.acquire() as conn:
            login = await auth.register(conn, phone=data.phone, password=data.password, name=data.name,
                                        code=data.code, ip=client_ip(request), consent_version=data.consent)
        return _with_cookies(request, login, 201)

    @post("/phone-codes", status_code=202)
    async def phone_code(self, request: Request, data: PhoneCodeIn, pool: asyncpg.Pool) -> phones.Sent:
        """Send a 6-digit code (valid 5 minutes) to the phone, for `register` (also claims an invited
        account) or `reset`. The same answer whether or not the phone has an account; 429 when sent
        too often or after too many wrong codes. `demo_code` only in `serve --demo`."""
        async with pool.acquire() as conn:
            return await phones.send_code(conn, phone=data.phone, purpose=data.purpose, ip=client_ip(request))

    @post("/password-reset", status_code=200)
    async def reset_password(self, request: Request, data: ResetIn, pool: asyncpg.Pool) -> Response[LoginOut]:
        """A new password for the phone proven by its `reset` code; ends every other session."""
        async with pool.acquire() as conn:
            login = await auth.reset_password(conn, phone=data.phone, code=data.code, password=data.new_password,
                                              ip=client_ip(request))
            due = await consent.due(conn, login.user_id)
        return _with_cookies(request, login, 200, due)

    @post("/login", status_code=200, opt={"errors": {401: "Wrong phone number or password"}})
    async def login(self, request: Request, data: LoginIn, pool: asyncpg.Pool) -> Response[LoginOut]:
        # No transaction around it: a failed attempt must still count towards the rate limit.
        async with pool.acquire() as conn:
            login = await auth.login(conn, phone=data.phone, password=data.password, ip=client_ip(request))
            due = await consent.due(conn, login.user_id)  # a new notice version asks again at sign-in
        return _with_cookies(request, login, 200, due)

    @post("/logout", status_code=204)
    async def logout(self, request: Request, actor: Actor, pool: asyncpg.Pool) -> Response[None]:
        async with pool.acquire() as conn:
            # Set by provide_actor (an ASGI extension key Litestar's scope TypedDict does not declare).
            await auth.logout(conn, request.scope["linli_session"].token_hash)  # type: ignore[typeddict-item]
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        return response

    @post("/password", status_code=200)
    async def change_password(self, request: Request, actor: Actor, data: PasswordIn,
                              pool: asyncpg.Pool) -> Response[LoginOut]:
        async with pool.acquire() as conn:
            login = await auth.change_password(conn, actor.id, data.old_password, data.new_password)
        return _with_cookies(request, login, 200)


CONTROLLERS = (AuthController,)  # listed in api/capabilities.py
