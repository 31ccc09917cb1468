"""Who is acting, and the one answer to "does this person manage that community?".

Every manager rule asks `actor.can_manage(community_id)`: an admin manages everywhere, a manager
only the communities they were appointed to. Kept in core (not people.orgs) because the audit log
and every capability need it without importing the organisation tree.
"""

import msgspec


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


class PersonRef(msgspec.Struct, frozen=True):
    """A person as other records show them: id and display name."""
    id: int
    name: str


class OrgRef(msgspec.Struct, frozen=True):
    """An organisation (community, grid, ...) as other records show it."""
    id: int
    name: str
