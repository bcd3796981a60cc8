"""The dashboard's side of the benchmark, run in its own process with the benchmark's settings.

python -m bench.ours prepare          # a superuser, a token and a signed-in session (JSON)
python -m bench.ours floor PATH...    # in-process time, SQL floor, SQL+JSON floor per PATH
python -m bench.ours calls TOKEN PATH...   # Python function calls per request (deterministic)
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import django


def prepare() -> dict:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from models_app import services

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench")
    _, secret = services.token_create(owner=user, name="benchmark", user=user)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {"token": secret, "session": session.session_key}


def _median_ms(function, repeat: int, clock=time.perf_counter) -> float:
    timings = []
    for _ in range(repeat):
        start = clock()
        function()
        timings.append((clock() - start) * 1000)
    return statistics.median(timings)


def floor(paths: list[str], token: str, session: str, repeat: int) -> dict:
    """Per path: the whole request in-process (no HTTP; wall and CPU time), the SQL it runs
    (re-executed as plain SQL, rows fetched), and that SQL plus turning the rows into JSON: what
    no framework beats. On SQLite the CPU time includes the database's work."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    client.cookies["sessionid"] = session
    results = {}
    for path in paths:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        with CaptureQueriesContext(connection) as captured:
            client.get(path)
        queries = [q["sql"] for q in captured.captured_queries]

        def run_sql(queries=queries):
            out = []
            with connection.cursor() as cursor:
                for sql in queries:
                    cursor.execute(sql)
                    names = [column[0] for column in cursor.description or ()]
                    out.append([dict(zip(names, row)) for row in cursor.fetchall()])
            return out

        def sql_and_json():
            return json.dumps(run_sql(), default=str)

        results[path] = {
            "queries": len(queries),
            "in_process_ms": _median_ms(lambda path=path: client.get(path), repeat),
            # CPU time of this process only: what one worker spends, whatever the machine's load
            "cpu_ms": _median_ms(lambda path=path: client.get(path), repeat, time.process_time),
            "sql_ms": _median_ms(run_sql, repeat),
            "sql_json_ms": _median_ms(sql_and_json, repeat),
        }
    return results


def calls(paths: list[str], token: str, repeat: int = 20) -> dict:
    """Python function calls per request through the WSGI handler: unlike a time, the same on a
    busy machine as on a quiet one, so a change's effect shows without noise."""
    import cProfile
    import io
    import pstats

    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def call(path):
        route, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "HTTP_AUTHORIZATION": f"Bearer {token}",
        }
        status = []
        body = handler(environ, lambda line, headers, exc_info=None: status.append(line))
        b"".join(body)
        body.close()
        if not status[0].startswith("200"):
            raise SystemExit(f"{path} answered {status[0]}")

    results = {}
    for path in paths:
        for _ in range(5):  # first requests compile and cache
            call(path)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(repeat):
            call(path)
        profile.disable()
        results[path] = pstats.Stats(profile).total_calls // repeat
    return results


def main() -> None:
    django.setup()
    command, *args = sys.argv[1:]
    if command == "prepare":
        print(json.dumps(prepare()))
    elif command == "floor":
        token, session, repeat, *paths = args
        print(json.dumps(floor(paths, token, session, int(repeat))))
    elif command == "calls":
        token, *paths = args
        for path, count in calls(paths, token).items():
            print(f"{count:>8}  {path}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
