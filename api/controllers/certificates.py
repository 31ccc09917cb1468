"""Certificates of service hours: asked for, issued, revoked, and verified in public (/v/<code>)."""

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, get, post

from api.deps import client_ip
from domain.core.actor import Actor
from domain.timebank import certificates


class CertificateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int


class IssueIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    contact: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class RevokeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)]


class CertificatesController(Controller):
    path = "/api/certificates"
    tags = ["timebank"]

    @post("/", status_code=201)
    async def ask(self, actor: Actor, pool: asyncpg.Pool, data: CertificateIn) -> certificates.Certificate:
        """申请: ask a community one belongs to for a certificate of one's hours."""
        async with pool.acquire() as conn:
            return await certificates.request(conn, actor, data.community_id)

    @get("/")
    async def listing(self, actor: Actor, pool: asyncpg.Pool,
                      community_id: int | None = None) -> certificates.CertificatePage:
        """Mine; with community_id, that community's (its managers)."""
        async with pool.acquire() as conn:
            return await certificates.listing(conn, actor, community_id)

    @post("/{certificate_id:int}/issue", status_code=200)
    async def issue(self, request: Request, actor: Actor, pool: asyncpg.Pool, certificate_id: int,
                    data: IssueIn) -> certificates.Certificate:
        """开具: a manager of the community (not the person) numbers and archives it (audited)."""
        async with pool.acquire() as conn:
            return await certificates.issue(conn, actor, certificate_id, data.contact, ip=client_ip(request))

    @post("/{certificate_id:int}/revoke", status_code=200)
    async def revoke(self, request: Request, actor: Actor, pool: asyncpg.Pool, certificate_id: int,
                     data: RevokeIn) -> certificates.Certificate:
        async with pool.acquire() as conn:
            return await certificates.revoke(conn, actor, certificate_id, data.reason, ip=client_ip(request))


class CorrectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    request: Annotated[str, msgspec.Meta(max_length=1000)]


class AnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    accepted: bool
    answer: Annotated[str, msgspec.Meta(max_length=1000)]


class CorrectionsController(Controller):
    path = "/api/corrections"
    tags = ["timebank"]

    @post("/", status_code=201)
    async def ask(self, actor: Actor, pool: asyncpg.Pool, data: CorrectionIn) -> certificates.Correction:
        """Ask a community one belongs to for a correction of one's record."""
        async with pool.acquire() as conn:
            return await certificates.ask_correction(conn, actor, data.community_id, data.request)

    @get("/")
    async def listing(self, actor: Actor, pool: asyncpg.Pool,
                      community_id: int | None = None) -> certificates.CorrectionPage:
        async with pool.acquire() as conn:
            return await certificates.corrections(conn, actor, community_id)

    @post("/{correction_id:int}/answer", status_code=200)
    async def answer(self, request: Request, actor: Actor, pool: asyncpg.Pool, correction_id: int,
                     data: AnswerIn) -> certificates.Correction:
        """A manager of the community answers once (audited)."""
        async with pool.acquire() as conn:
            return await certificates.answer_correction(conn, actor, correction_id, accepted=data.accepted,
                                                        answer=data.answer, ip=client_ip(request))


class VerifyController(Controller):
    path = "/api/verify"
    tags = ["timebank"]

    @get("/{code:str}")
    async def verify(self, pool: asyncpg.Pool, code: str) -> certificates.Verification:
        """Public: the masked name, hours, issuer and date of a certificate, or code_unknown."""
        async with pool.acquire() as conn:
            return await certificates.verify(conn, code)


CONTROLLERS = (CertificatesController, CorrectionsController, VerifyController)  # listed in api/capabilities.py
