"""Volunteer records (志愿服务条例 §19): training, commendations, evaluations, insurance,
activity requirements; the person's own records; the export per community, street or district and
period; and its restore into an empty instance (one admin asks, a second approves)."""

from datetime import date
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter

from domain import records
from domain.core.actor import Actor
from domain.records import export, restore

Title = Annotated[str, msgspec.Meta(max_length=100)]


class TrainingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    title: Title
    topic: Annotated[str, msgspec.Meta(max_length=50)] = ""
    held_on: date
    minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)]


class AttendanceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_ids: Annotated[list[int], msgspec.Meta(min_length=1, max_length=500)]


class CommendationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    user_id: int
    title: Title
    awarded_on: date
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class EvaluationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    user_id: int
    activity_id: int | None = None
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class PolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    user_id: int | None = None
    activity_id: int | None = None
    policy_number: Annotated[str, msgspec.Meta(max_length=64)]
    insurer: Annotated[str, msgspec.Meta(max_length=100)] = ""
    starts_on: date
    ends_on: date


class RequirementsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    requires_training: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    requires_insurance: bool = False


class RestoreForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: UploadFile


class RecordsController(Controller):
    path = "/api"
    tags = ["records"]

    @post("/trainings", status_code=201)
    async def create_training(self, actor: Actor, data: TrainingIn, pool: asyncpg.Pool) -> records.Training:
        async with pool.acquire() as conn:
            return await records.create_training(conn, actor, community_id=data.community_id, title=data.title,
                                                 topic=data.topic, held_on=data.held_on, minutes=data.minutes)

    @post("/trainings/{training_id:int}/attendance", status_code=200)
    async def training_attendance(self, actor: Actor, training_id: int, data: AttendanceIn,
                                  pool: asyncpg.Pool) -> records.Training:
        """Members of the training's community who attended; recording someone twice changes nothing."""
        async with pool.acquire() as conn:
            return await records.record_attendance(conn, actor, training_id, data.user_ids)

    @post("/commendations", status_code=201)
    async def add_commendation(self, actor: Actor, data: CommendationIn, pool: asyncpg.Pool) -> records.Commendation:
        async with pool.acquire() as conn:
            return await records.add_commendation(conn, actor, community_id=data.community_id, user_id=data.user_id,
                                                  title=data.title, awarded_on=data.awarded_on, note=data.note)

    @post("/evaluations", status_code=201)
    async def add_evaluation(self, actor: Actor, data: EvaluationIn, pool: asyncpg.Pool) -> records.Evaluation:
        """An organiser rates a volunteer's service (after an activity they attended, or in general)."""
        async with pool.acquire() as conn:
            return await records.add_evaluation(conn, actor, community_id=data.community_id, user_id=data.user_id,
                                                activity_id=data.activity_id, rating=data.rating,
                                                comment=data.comment)

    @post("/insurance", status_code=201)
    async def add_policy(self, actor: Actor, data: PolicyIn, pool: asyncpg.Pool) -> records.Policy:
        """A policy covering one member (`user_id`) or every volunteer of one activity (`activity_id`)."""
        async with pool.acquire() as conn:
            return await records.add_policy(conn, actor, community_id=data.community_id, user_id=data.user_id,
                                            activity_id=data.activity_id, policy_number=data.policy_number,
                                            insurer=data.insurer, starts_on=data.starts_on, ends_on=data.ends_on)

    @put("/activities/{activity_id:int}/requirements")
    async def set_requirements(self, actor: Actor, activity_id: int, data: RequirementsIn,
                               pool: asyncpg.Pool) -> records.Requirements:
        """A training topic to have attended and/or insurance in force, before a volunteer checks in."""
        async with pool.acquire() as conn:
            return await records.set_requirements(conn, actor, activity_id, requires_training=data.requires_training,
                                                  requires_insurance=data.requires_insurance)

    @get("/me/records")
    async def my_records(self, actor: Actor, pool: asyncpg.Pool) -> records.MyRecords:
        """The person's training, commendations, evaluations and insurance."""
        async with pool.acquire() as conn:
            return await records.mine(conn, actor.id)

    @get("/orgs/{org_id:int}/records-export")
    async def records_export(self, actor: Actor, org_id: int, pool: asyncpg.Pool,
                             format: Literal["csv", "xlsx"] = "xlsx",
                             group: Literal["people", "service", "training", "commendations", "evaluations"]
                             | None = None,
                             from_: Annotated[date | None, QueryParameter(name="from")] = None,
                             to: date | None = None,
                             id: Literal["masked", "omit"] = "masked") -> Response[bytes]:
        """The five §19 groups of a community, street or district for a period (docs/records-export.md):
        .xlsx with a sheet per group, or one group (`group`) as CSV. The ID number masked or left out."""
        async with pool.acquire() as conn:
            body, media = await export.export(conn, actor, org_id, fmt=format, group=group, start=from_, end=to,
                                              id_mode=id)
        name = f"linli-records-{org_id}" + (f"-{group or 'people'}.csv" if format == "csv" else ".xlsx")
        return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"',
                                                         "cache-control": "no-store"})

    @post("/records/restores", status_code=200, request_max_body_size=restore.MAX_BYTES + 64 * 1024)
    async def request_restore(self, actor: Actor, pool: asyncpg.Pool,
                              data: Annotated[RestoreForm, Body(media_type=RequestEncodingType.MULTI_PART)]
                              ) -> restore.Restore:
        """An admin hands in a record export (.xlsx). Into an empty instance it waits for a second admin
        (`mode: pending`); on an instance with communities nothing is written and the differences are
        answered (`mode: differences`)."""
        try:
            content = await data.file.read()
        finally:
            await data.file.close()
        async with pool.acquire() as conn:
            return await restore.request(conn, actor, content)

    @post("/records/restores/{restore_id:int}/approve", status_code=200)
    async def approve_restore(self, actor: Actor, restore_id: int, pool: asyncpg.Pool) -> restore.Restore:
        """A second admin applies a pending restore (refused to its requester, and once the instance holds data)."""
        async with pool.acquire() as conn:
            return await restore.approve(conn, actor, restore_id)


CONTROLLERS = (RecordsController,)  # listed in api/capabilities.py
