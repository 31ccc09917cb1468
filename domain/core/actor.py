"""Who is acting, and the one answer to "does this person manage that community?".

Every manager rule asks `actor.can_manage(community_id)`: an admin manages everywhere, a manager
only the communities they were appointed to. Kept in core (not people.orgs) because the audit log
and every capability need it without importing the organisation tree.
"""

import asyncpg
import msgspec

from domain.core import queries
from domain.core.errors import forbidden

Q = queries.load("core")


class Actor(msgspec.Struct, frozen=True):
    """Who is acting: loaded once per request by the API."""
    id: int
    name: str
    is_admin: bool
    manages: frozenset[int]  # community ids: full manager rights there
    # Communities under the streets and districts this person manages: read-only (dashboards,
    # rankings, summaries); no write inside a community unless also in `manages`.
    oversees: frozenset[int] = frozenset()

    def can_manage(self, community_id: int | None) -> bool:
        return self.is_admin or (community_id is not None and community_id in self.manages)

    def reads(self, community_id: int | None) -> bool:
        """May see a community's aggregate figures: an admin, its manager, or a street/district manager above it."""
        return self.can_manage(community_id) or (community_id is not None and community_id in self.oversees)


# What an Actor's `manages` and `oversees` are made of, as two columns of a query over `users u`:
# the one definition behind a request's session (people.auth) and load_actor (people.orgs). The
# communities overseen are a managed org's children and grandchildren, each found by parent (written
# as one join with `parent_id = m.org_id or parent_id in (...)`, every request of every manager read
# the city's whole orgs table: 1.9 ms of PostgreSQL CPU a request at Meishan's 2,900 orgs).
ACTOR_SCOPE_COLUMNS = """
    array(select m.org_id from org_managers m join orgs o on o.id = m.org_id
          where m.user_id = u.id and o.kind = 'community') as manages,
    array(select c.id from org_managers m join orgs c on c.parent_id = m.org_id and c.kind = 'community'
           where m.user_id = u.id
          union
          select c.id from org_managers m join orgs s on s.parent_id = m.org_id
            join orgs c on c.parent_id = s.id and c.kind = 'community'
           where m.user_id = u.id) as oversees"""


class PersonRef(msgspec.Struct, frozen=True):
    """A person as other records show them: id and display name."""
    id: int
    name: str


class OrgRef(msgspec.Struct, frozen=True):
    """An organisation (community, grid, ...) as other records show it."""
    id: int
    name: str


# ---- who may act: the checks every capability (and the ledger) makes on an Actor ------------------

def require_manager(actor: Actor, community_id: int | None) -> None:
    if not actor.can_manage(community_id):
        raise forbidden("not a manager of this community")


def require_reader(actor: Actor, community_id: int | None) -> None:
    """Read-only access to a community's figures (see Actor.reads)."""
    if not actor.reads(community_id):
        raise forbidden("not a manager of this community or above it")


async def require_level_manager(conn: asyncpg.Connection, actor: Actor, org_id: int) -> None:
    """A manager of this street or district (or of one above it), or an admin."""
    if actor.is_admin:
        return
    above = await conn.fetchval(
        Q.manages_org_or_its_parent, org_id, actor.id)
    if not above:
        raise forbidden("not a manager of this street or district")


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise forbidden("admins only")
