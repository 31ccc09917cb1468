"""A small believable demo city, so a visitor sees every page populated.

The city (domain/demo/city.py) comes first; then each capability seeds its own believable data,
one module per capability here, in SEEDS' order (people last: its invitations would otherwise
turn the check-in demo's refused scan into a welcome one). Each capability lists its seed in
api/capabilities.py too; a test keeps the two in step.

Running it twice changes nothing: it stops when the demo admin already exists.
"""

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from domain.demo import (
    areas,
    cases,
    checkin,
    joining,
    merchants,
    people,
    rankings,
    reports,
    supermarket,
    timebank,
    units,
)
from domain.demo.city import LOGINS, PASSWORD, City, build

__all__ = ["LOGINS", "PASSWORD", "SEEDS", "City", "Seed", "seed"]

Seed = Callable[[asyncpg.Connection, City], Awaitable[None]]

SEEDS: tuple[Seed, ...] = (checkin.seed_demo, supermarket.seed_demo, areas.seed_demo, timebank.seed_demo,
                           reports.seed_demo, rankings.seed_demo, people.seed_demo, joining.seed_demo,
                           units.seed_demo, cases.seed_demo, merchants.seed_demo)


async def seed(conn: asyncpg.Connection, seeds: Sequence[Seed] = SEEDS) -> City | None:
    city = await build(conn)
    if city is None:
        return None
    for seed_capability in seeds:
        await seed_capability(conn, city)
    return city
