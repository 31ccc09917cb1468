"""A community's policy: the rules its managers decide (daily cap, kiosk codes, offline window, fraud
review, kiosk pairing, redemption times), each its own value or the deployment's default."""

import asyncpg
import msgspec
from litestar import Controller, get, put

from domain.core.actor import Actor
from domain.people import community_policy
from domain.people.community_policy import CommunityPolicy

Value = int | None | msgspec.UnsetType  # absent: unchanged; null: back to the deployment's default


class CommunityPolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    daily_points_cap: Value = msgspec.UNSET           # points, 0 to 100000 (LINLI_DAILY_CHECKIN_POINTS_CAP)
    rotation_seconds: Value = msgspec.UNSET           # seconds, 2 to 300 (LINLI_ROTATION_SECONDS)
    rotation_grace_seconds: Value = msgspec.UNSET     # seconds, 0 to 300 (LINLI_ROTATION_GRACE_SECONDS)
    offline_max_delay_seconds: Value = msgspec.UNSET  # seconds, 0 to 604800 (LINLI_OFFLINE_MAX_DELAY_SECONDS)
    fraud_max_speed_kmh: Value = msgspec.UNSET        # km/h, 10 to 1000 (LINLI_FRAUD_MAX_SPEED_KMH)
    fraud_burst_minutes: Value = msgspec.UNSET        # minutes, 1 to 1440 (LINLI_FRAUD_BURST_MINUTES)
    fraud_burst_per_device: Value = msgspec.UNSET     # people, 1 to 1000 (LINLI_FRAUD_BURST_PER_DEVICE)
    fraud_burst_per_address: Value = msgspec.UNSET    # people, 1 to 10000 (LINLI_FRAUD_BURST_PER_ADDRESS)
    kiosk_pairing_minutes: Value = msgspec.UNSET      # minutes, 1 to 60 (LINLI_KIOSK_PAIRING_MINUTES)
    redemption_request_days: Value = msgspec.UNSET    # days, 1 to 90 (LINLI_REDEMPTION_REQUEST_DAYS)
    redemption_voucher_days: Value = msgspec.UNSET    # days, 1 to 365 (LINLI_REDEMPTION_VOUCHER_DAYS)


class CommunityPolicyController(Controller):
    path = "/api/communities/{community_id:int}/policy"
    tags = ["orgs"]

    @get("/")
    async def read(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> CommunityPolicy:
        """The community's policy (a manager of it): each value its own (named in `own`) or the
        deployment's default (`defaults`, from the environment), with what may be set (`limits`)."""
        async with pool.acquire() as conn:
            return await community_policy.read(conn, actor, community_id)

    @put("/")
    async def write(self, actor: Actor, pool: asyncpg.Pool, community_id: int,
                    data: CommunityPolicyIn) -> CommunityPolicy:
        """Change the values named (a manager of the community; audited as `community_policy`); the
        others stay. null gives a value back to the deployment's default. A value outside its `limits`
        is refused (422 validation_failed, `details.field` naming it) and nothing changes. The daily cap
        and the rotation apply to activities created afterwards; the rest at once."""
        changes = {name: value for name in community_policy.FIELDS
                   if (value := getattr(data, name)) is not msgspec.UNSET}
        async with pool.acquire() as conn:
            return await community_policy.update(conn, actor, community_id, changes)


CONTROLLERS = (CommunityPolicyController,)  # listed in api/capabilities.py
