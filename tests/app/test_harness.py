"""The test harness itself: a fixture that cannot do its job fails the test with the reason."""

import socket

import pytest
from litestar import Litestar

from api.app import create_app
from tests.conftest import start_uvicorn

# uvicorn ends its thread with SystemExit when it cannot start: that is the case under test.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def test_a_live_server_whose_port_is_taken_fails_loudly():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(pytest.fail.Exception, match=f"did not start on 127.0.0.1:{port}"):
            start_uvicorn(Litestar(route_handlers=[]), port, wait=20)


def test_a_live_server_without_its_database_fails_loudly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(pytest.fail.Exception, match="uvicorn stopped"):
        start_uvicorn(create_app("postgresql://nobody@127.0.0.1:1/none", run_sweeper=False), port, wait=20)
