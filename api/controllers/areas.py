"""Spending areas (通兑范围) of a street or district, and their monthly settlement."""

from datetime import date
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.params import Parameter

from api.deps import client_ip
from domain.core.actor import Actor
from domain.ledger import areas, settlement


class PolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unit: Literal["points", "minutes"]
    enabled: bool
    starts_on: date | None = None   # today when left out; never in the past


class AreasController(Controller):
    path = "/api/orgs/{org_id:int}"
    tags = ["areas"]

    @get("/spending-area")
    async def get_policy(self, actor: Actor, pool: asyncpg.Pool, org_id: int) -> areas.Policies:
        """The street's or district's 通兑 policy for points and minutes, with its history."""
        async with pool.acquire() as conn:
            return await areas.policies(conn, actor, org_id)

    @put("/spending-area")
    async def set_policy(self, request: Request, actor: Actor, pool: asyncpg.Pool, org_id: int,
                         data: PolicyIn) -> areas.Policies:
        """Open or close the level's communities as one spending area from a date (admins and the
        level's managers; audited as `area_policy`)."""
        async with pool.acquire() as conn:
            return await areas.set_policy(conn, actor, org_id, unit=data.unit, enabled=data.enabled,
                                          starts_on=data.starts_on, ip=client_ip(request))

    @get("/settlement")
    async def monthly(self, actor: Actor, pool: asyncpg.Pool, org_id: int,
                      month: Annotated[str | None, Parameter(max_length=7)] = None,
                      format: Literal["json", "csv"] = "json") -> Response[settlement.Settlement]:
        """Per pair of communities: what one issued and the other took in, in a local month
        (format=csv: UTF-8 with BOM, Chinese header)."""
        async with pool.acquire() as conn:
            report = await settlement.monthly(conn, actor, org_id, month)
        if format == "csv":
            # Response[Settlement] documents the JSON body in OpenAPI; format=csv sends bytes instead.
            return Response(settlement.to_csv(report), media_type="text/csv", headers={  # type: ignore[arg-type]
                "content-disposition": f'attachment; filename="settlement-{org_id}-{report.month}.csv"',
                "cache-control": "no-store"})
        return Response(report)


CONTROLLERS = (AreasController,)  # listed in api/capabilities.py
