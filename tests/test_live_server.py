"""The live server the browser and client tests use leaves no database session behind,
so the PostgreSQL test database can be dropped at the end of the run."""

import time

import pytest
import requests
from django.db import connection


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_kept_alive_connection_holds_no_database_session(live_server):
    if connection.vendor != "postgresql":
        pytest.skip("database sessions are counted on PostgreSQL")
    before = _other_sessions()
    with requests.Session() as http:  # keep-alive: the server's handler thread stays up
        response = http.get(
            f"{live_server.url}/api/v1/models/",
            headers={"Authorization": f"Bearer mr_00000000_{'x' * 43}"},
        )
        assert response.status_code == 401  # the token lookup opened a database connection
        # The server closes it as the request finishes, which may come just after the client
        # has read the answer: wait a little for that, never for a session held on to.
        deadline = time.monotonic() + 5
        while _other_sessions() != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _other_sessions() == before
