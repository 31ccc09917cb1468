"""Each notification test runs on a database of its own: delivering is a sweep over every due row of
the outbox, so a message another test left due would otherwise be delivered (and counted) here."""

import pytest

from tests.conftest import own_database, running_app


@pytest.fixture
async def database_url(admin_url):
    async with own_database(admin_url) as url:
        yield url


@pytest.fixture
async def app(database_url):
    async with running_app(database_url, pool_size=5) as application:
        yield application


@pytest.fixture
async def pool(app):
    return app.state.pool
