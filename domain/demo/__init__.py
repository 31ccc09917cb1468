"""A small believable demo city, so a visitor sees every page populated.

The code is in `seeding.py` (and the package's other modules); this file only re-exports it, so
`from domain.demo import x` keeps working."""


from domain.demo.city import LOGINS, PASSWORD, City  # noqa: F401
from domain.demo.seeding import (  # noqa: F401
    SEEDS,
    Seed,
    seed,
)
