# ruff: noqa: E501  (the printed table's format strings read best on one line)
"""Benchmark: the dashboard against MLflow's own registry server, same data, same machine, one run.

    .venv/bin/python -m bench                       # 300 models x 10 versions, SQLite, 4 workers each
    .venv/bin/python -m bench --quick               # about a minute: a smoke run, figures meaningless
    .venv/bin/python -m bench --no-mlflow --models 5000 --versions 20 \\
        --database-url postgres://postgres@127.0.0.1:5432/bench   # ours only, at scale

Both servers get the same registry: MLflow's through its own SQL store, ours through seed_bulk
(the same generator), then the MLflow-compatible API of ours is checked to answer with the same
content as MLflow. Every request the MLflow client makes is timed on MLflow, on our MLflow-
compatible API and on our /api/v1/, plus our HTML pages; requests of all servers interleave so
drift of a shared machine hits each alike. A new TCP connection per request is the main figure
(MLflow's server stalls ~40 ms on a reused connection), keep-alive the second. Prints one table
(p50/p95 and ratio ours/MLflow), 8-client throughput, the floors, and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from models_app.bulk_data import bulk_items, bulk_name
from tests.mlflow_server import MlflowServer, free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MODES = ("fresh", "keep")


# HTTP ---------------------------------------------------------------------------------------
class Target:
    """One server surface: where it is and what it sends with every request."""

    def __init__(self, key: str, label: str, port: int, headers: dict):
        self.key, self.label, self.port, self.headers = key, label, port, headers
        self.kept = None

    def call(self, method: str, path: str, body=None, keep: bool = False):
        """(status, body bytes, milliseconds), on a new connection or the kept one."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        if keep:
            if self.kept is None:
                self.kept = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            connection = self.kept
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except (http.client.HTTPException, OSError):
            connection.close()  # a dropped kept connection: retry once on a new one
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            content = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if not keep:
            connection.close()
        return response.status, content, elapsed

    def get_json(self, path: str):
        status, content, _ = self.call("GET", path)
        if status != 200:
            raise RuntimeError(f"{self.label} GET {path}: {status} {content[:300]!r}")
        return json.loads(content)


# Seeding ------------------------------------------------------------------------------------
def seed_mlflow(db: Path, models: int, versions: int, seed: int) -> None:
    """MLflow's registry through its own SQL store, from the generator seed_bulk uses."""
    from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}")
    for item in bulk_items(0, models, versions, random.Random(seed)):
        name = item["name"]
        store.create_registered_model(
            name,
            tags=[RegisteredModelTag(k, v) for k, v in item["tags"].items()],
            description=item["description"],
        )
        for number, version in enumerate(item["versions"], start=1):
            store.create_model_version(
                name,
                version["model_source_uri"],
                run_id=version["experiment_run_id"],
                tags=[ModelVersionTag(k, v) for k, v in version["tags"].items()],
            )
            if version["stage"] != "None":
                store.transition_model_version_stage(
                    name, str(number), version["stage"], archive_existing_versions=False
                )
        for alias, number in item["aliases"].items():
            store.set_registered_model_alias(name, alias, str(number))


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def ours_helper(env: dict, *args: str):
    result = subprocess.run(
        [PYTHON, "-m", "bench.ours", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"bench.ours {args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def ensure_postgres_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def seed_ours(
    env: dict, models: int, versions: int, seed: int, reuse: bool, progress: bool
) -> None:
    manage(env, "migrate", "--no-input", "-v0")
    # As deployed (README, "Deploy"): pages link to the hashed files collectstatic writes.
    manage(env, "collectstatic", "--no-input", "-v0")
    count = int(
        manage(
            env,
            "shell",
            "-v0",
            "-c",
            "from models_app.models import ModelRegistration as R; "
            "print(R.objects.filter(name__startswith='bulk-model-').count())",
        ).strip()
    )
    if reuse and count == models:
        print(f"  reusing the {count} models already seeded", flush=True)
        return
    if count:
        raise SystemExit(
            f"The dashboard's database already holds {count} bulk models: use an empty "
            "database, or --reuse with the same --models."
        )
    args = ["--registrations", str(models), "--versions", str(versions), "--seed", str(seed)]
    if not progress:
        args.append("--no-progress")
    subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "seed_bulk", *args], env=env, cwd=ROOT, check=True
    )


# Equal content --------------------------------------------------------------------------------
def _plain_tags(tags) -> dict:
    return {tag["key"]: tag["value"] for tag in tags or []}


def _plain_version(body: dict) -> dict:
    return {
        "name": body["name"],
        "version": str(body["version"]),
        "current_stage": body.get("current_stage", "None"),
        "description": body.get("description") or "",
        "source": body.get("source") or "",
        "run_id": body.get("run_id") or "",
        "tags": _plain_tags(body.get("tags")),
        "aliases": sorted(body.get("aliases") or []),
    }


def _plain_model(body: dict) -> dict:
    # MLflow leaves the aliases of latest_versions empty (its store does not load them there).
    latest = [{**v, "aliases": []} for v in body.get("latest_versions") or []]
    return {
        "name": body["name"],
        "description": body.get("description") or "",
        "tags": _plain_tags(body.get("tags")),
        "aliases": sorted((a["alias"], str(a["version"])) for a in body.get("aliases") or []),
        "latest_versions": sorted(
            (_plain_version(v) for v in latest),
            key=lambda v: int(v["version"]),
        ),
    }


def check_same_content(mlflow: Target, ours: Target, names: list[str], versions: int) -> int:
    """Fails unless our MLflow-compatible API answers with MLflow's content; returns checks made."""
    checks = []
    search = "/api/2.0/mlflow/registered-models/search?max_results=100"
    checks.append(
        (search, lambda body: [_plain_model(m) for m in body.get("registered_models", [])])
    )
    for name in names:
        checks.append(
            (
                f"/api/2.0/mlflow/registered-models/get?name={quote(name)}",
                lambda body: _plain_model(body["registered_model"]),
            )
        )
        checks.append(
            (
                "/api/2.0/mlflow/model-versions/search?"
                + urlencode({"filter": f"name='{name}'", "max_results": 1000}),
                # MLflow leaves aliases out of search results; get (below) carries them.
                lambda body: sorted(
                    ({**_plain_version(v), "aliases": []} for v in body.get("model_versions", [])),
                    key=lambda v: int(v["version"]),
                ),
            )
        )
        for number in range(1, versions + 1):
            checks.append(
                (
                    f"/api/2.0/mlflow/model-versions/get?name={quote(name)}&version={number}",
                    lambda body: _plain_version(body["model_version"]),
                )
            )
    for path, plain in checks:
        theirs, mine = plain(mlflow.get_json(path)), plain(ours.get_json(path))
        if theirs != mine:
            raise SystemExit(
                f"Content differs for {path}:\n MLflow {json.dumps(theirs)[:1500]}\n"
                f" ours   {json.dumps(mine)[:1500]}"
            )
    return len(checks)


# Operations -----------------------------------------------------------------------------------
def mlflow_page_token(offset: int) -> str:
    return quote(base64.b64encode(json.dumps({"offset": offset}).encode()).decode())


def operations(models: int, versions: int, seed: int) -> list[dict]:
    """Each operation: a label, its group and, per surface, a function of the repetition
    number giving (method, path, body). Writes go to one model that no read looks at."""
    # The generator is sequential: run it up to the middle model for that model's real tags.
    *_, middle = bulk_items(0, models // 2 + 1, versions, random.Random(seed))
    name = middle["name"]
    commit = middle["versions"][min(2, versions - 1)]["tags"]["git_commit"]
    writer = bulk_name(models - 1)
    q_name, q_writer = quote(name), quote(writer)
    number = min(3, versions)
    size = min(100, max(1, models // 3))  # a middle page exists even in a small run
    mid_offset = max(size, (models // 2 // size) * size)
    model = f"/api/v1/models/default/{q_name}"
    mine = f"/api/v1/models/default/{q_writer}"
    mlflow = "/api/2.0/mlflow"
    stages = ("Staging", "None")

    def fixed(method, path, body=None):
        return lambda i: (method, path, body)

    def both(path):  # the same request to MLflow and to our MLflow-compatible API
        return {"mlflow": fixed("GET", path), "compat": fixed("GET", path)}

    def both_post(path, body_of):
        call = lambda i: ("POST", path, body_of(i))  # noqa: E731
        return {"mlflow": call, "compat": call}

    name_like = f"name LIKE '{name[:-1]}%'"
    return [
        {
            "label": "search models, first page of 100",
            "group": "read",
            **both(f"{mlflow}/registered-models/search?max_results=100"),
            "v1": fixed("GET", "/api/v1/models/?page_size=100"),
        },
        {
            "label": "search models, a middle page of 100",
            "group": "read",
            **both(
                f"{mlflow}/registered-models/search?max_results={size}&page_token={mlflow_page_token(mid_offset)}"
            ),
            "v1": fixed("GET", f"/api/v1/models/?page_size={size}&page={mid_offset // size + 1}"),
        },
        {
            "label": "search models by name (prefix)",
            "group": "read",
            **both(
                f"{mlflow}/registered-models/search?"
                + urlencode({"filter": name_like, "max_results": 100})
            ),
            "v1": fixed("GET", f"/api/v1/models/?name_contains={quote(name[:-1])}&page_size=100"),
        },
        {
            "label": "get model (with latest versions)",
            "group": "read",
            **both(f"{mlflow}/registered-models/get?name={q_name}"),
            "v1": fixed("GET", f"{model}/"),
        },
        {
            "label": "versions of one model",
            "group": "read",
            **both(f"{mlflow}/model-versions/search?" + urlencode({"filter": f"name='{name}'"})),
            "v1": fixed("GET", f"{model}/versions/?page_size=100"),
        },
        {
            "label": "versions by tag (one match)",
            "group": "read",
            **both(
                f"{mlflow}/model-versions/search?"
                + urlencode({"filter": f"tags.git_commit='{commit}'", "max_results": 100})
            ),
            "v1": fixed("GET", f"/api/v1/versions/?tag=git_commit:{commit}&page_size=100"),
        },
        {
            "label": "versions by text search (q)",
            "group": "read",
            "v1": fixed("GET", f"/api/v1/versions/?q={q_name}&page_size=100"),
        },
        {
            "label": "get version",
            "group": "read",
            **both(f"{mlflow}/model-versions/get?name={q_name}&version={number}"),
            "v1": fixed("GET", f"{model}/versions/{number}/"),
        },
        {
            "label": "latest Production version",
            "group": "read",
            **both(
                f"{mlflow}/registered-models/get-latest-versions?name={q_name}&stages=Production"
            ),
            "v1": fixed("GET", f"{model}/versions/latest/?stage=Production"),
        },
        {
            "label": "version by alias",
            "group": "read",
            **both(f"{mlflow}/registered-models/alias?name={q_name}&alias=champion"),
            "v1": fixed("GET", f"{model}/aliases/champion/"),
        },
        {
            "label": "download URI",
            "group": "read",
            **both(f"{mlflow}/model-versions/get-download-uri?name={q_name}&version={number}"),
        },
        {
            "label": "transition stage",
            "group": "write",
            **both_post(
                f"{mlflow}/model-versions/transition-stage",
                lambda i: {
                    "name": writer,
                    "version": "1",
                    "stage": stages[i % 2],
                    "archive_existing_versions": False,
                },
            ),
            "v1": lambda i: ("POST", f"{mine}/versions/1/transition/", {"stage": stages[i % 2]}),
        },
        {
            "label": "set alias",
            "group": "write",
            **both_post(
                f"{mlflow}/registered-models/alias",
                lambda i: {"name": writer, "alias": "bench", "version": str(1 + i % 2)},
            ),
            "v1": lambda i: ("PUT", f"{mine}/aliases/bench/", {"version": 1 + i % 2}),
        },
        {
            "label": "set version tag",
            "group": "write",
            **both_post(
                f"{mlflow}/model-versions/set-tag",
                lambda i: {"name": writer, "version": "1", "key": "bench", "value": str(i)},
            ),
            "v1": lambda i: ("PATCH", f"{mine}/versions/1/", {"tags": {"bench": str(i)}}),
        },
        {
            "label": "create version",
            "group": "write",
            **both_post(
                f"{mlflow}/model-versions/create",
                lambda i: {"name": writer, "source": f"s3://bench/{writer}/{i}"},
            ),
            "v1": lambda i: (
                "POST",
                f"{mine}/versions/",
                {"model_source_uri": f"s3://bench/{writer}/v1-{i}"},
            ),
        },
        {"label": "page: dashboard", "group": "page", "page": fixed("GET", "/")},
        {"label": "page: model list", "group": "page", "page": fixed("GET", "/models/")},
        {
            "label": "page: model",
            "group": "page",
            "page": fixed("GET", f"/models/default/{q_name}/"),
        },
        {
            "label": "page: version",
            "group": "page",
            "page": fixed("GET", f"/models/default/{q_name}/versions/{number}/"),
        },
        {
            "label": "trivial request (floor)",
            "group": "floor",
            "mlflow": fixed("GET", "/health"),
            "compat": fixed("GET", "/healthz"),
        },
    ]


def latest_path(name: str) -> str:
    return f"/api/2.0/mlflow/registered-models/get-latest-versions?name={name}&stages=Production"


def versions_path(name: str) -> str:
    return "/api/2.0/mlflow/model-versions/search?" + urlencode({"filter": f"name='{name}'"})


def percentile(timings: list[float], fraction: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure(operation: dict, targets: dict[str, Target], count: int, warmup: int, counter) -> dict:
    """p50/p95 per surface and connection mode; the surfaces take turns request by request."""
    surfaces = [key for key in targets if key in operation]
    results = {key: {} for key in surfaces}
    for mode in MODES:
        keep = mode == "keep"
        timings = {key: [] for key in surfaces}
        for repetition in range(warmup + count):
            for key in surfaces:
                method, path, body = operation[key](next(counter))
                status, content, elapsed = targets[key].call(method, path, body, keep=keep)
                if status >= 300:
                    raise RuntimeError(
                        f"{operation['label']} on {targets[key].label}: {method} {path} "
                        f"answered {status}: {content[:300]!r}"
                    )
                if repetition >= warmup:
                    timings[key].append(elapsed)
        for key in surfaces:
            if targets[key].kept is not None:
                targets[key].kept.close()
                targets[key].kept = None
            results[key][mode] = {
                "p50": statistics.median(timings[key]),
                "p95": percentile(timings[key], 0.95),
            }
    return results


def throughput(target: Target, path: str, clients: int, seconds: float) -> float:
    """Requests per second from `clients` threads, each on new connections."""
    done = [0] * clients
    failed = []
    stop = time.monotonic() + seconds

    def work(index):
        while time.monotonic() < stop:
            status, _, _ = target.call("GET", path)
            if status != 200:
                failed.append(status)
                return
            done[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise RuntimeError(f"throughput on {target.label}: status {failed[0]}")
    return sum(done) / (time.monotonic() - start)


def _children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return found + [grandchild for child in found for grandchild in _children(child)]


def process_memory(pid: int) -> list[dict]:
    """RSS and PSS (shared pages split between processes) of a server and its descendants."""
    out = []
    for process in [pid, *_children(pid)]:
        try:
            rollup = Path(f"/proc/{process}/smaps_rollup").read_text().splitlines()
            command = Path(f"/proc/{process}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        values = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if ":" in line}
        out.append(
            {
                "pid": process,
                "command": command.decode(errors="replace")[:120],
                "rss_mb": round(values["Rss"] / 1024, 1),
                "pss_mb": round(values["Pss"] / 1024, 1),
            }
        )
    return out


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


# Output ---------------------------------------------------------------------------------------
def _cell(value):
    return f"{value:8.1f}" if value is not None else "       -"


def _ratio(ours, theirs):
    return f"{ours / theirs:6.2f}" if ours is not None and theirs else "     -"


def print_table(results: dict, floors: dict, rates: dict) -> None:
    def get(row, key, mode, stat):
        return row.get(key, {}).get(mode, {}).get(stat)

    print(
        "\nms; fresh = a new TCP connection per request (main figure), keep = one kept connection;"
        " ratio = ours p50 / MLflow p50 (fresh)"
    )
    print(
        f"{'request':<38}{'MLflow':>17}{'keep':>9} |{'ours, MLflow API':>18}{'keep':>9}{'ratio':>7} |{'ours, /api/v1/ or page':>24}{'keep':>9}{'ratio':>7}"
    )
    print(
        f"{'':<38}{'p50':>8}{'p95':>9}{'p50':>9} |{'p50':>9}{'p95':>9}{'p50':>9}{'':>7} |{'p50':>15}{'p95':>9}{'p50':>9}"
    )
    group = None
    for label, row in results.items():
        if row["group"] != group:
            group = row["group"]
            print(f"-- {group}")
        mine = "v1" if "v1" in row else "page"
        m50 = get(row, "mlflow", "fresh", "p50")
        print(
            f"{label:<38}{_cell(m50)}{_cell(get(row, 'mlflow', 'fresh', 'p95')).rjust(9)}{_cell(get(row, 'mlflow', 'keep', 'p50')).rjust(9)} |"
            f"{_cell(get(row, 'compat', 'fresh', 'p50')).rjust(9)}{_cell(get(row, 'compat', 'fresh', 'p95')).rjust(9)}{_cell(get(row, 'compat', 'keep', 'p50')).rjust(9)}{_ratio(get(row, 'compat', 'fresh', 'p50'), m50).rjust(7)} |"
            f"{_cell(get(row, mine, 'fresh', 'p50')).rjust(15)}{_cell(get(row, mine, 'fresh', 'p95')).rjust(9)}{_cell(get(row, mine, 'keep', 'p50')).rjust(9)}{_ratio(get(row, mine, 'fresh', 'p50'), m50).rjust(7)}"
        )
    if rates:
        print("\nthroughput, req/s (new connection per request); ratio = ours / MLflow")
        for label, row in rates.items():
            m = row.get("mlflow")
            cells = "  ".join(
                f"{key} {value:7.1f}" + (f" ({value / m:.1f}x)" if m and key != "mlflow" else "")
                for key, value in row.items()
            )
            print(f"  {label:<36}{cells}")
    if floors:
        print(
            "\nin-process (no HTTP), ms: whole request / its CPU time / its SQL re-run / SQL + rows to JSON (queries)"
        )
        for path, row in floors.items():
            print(
                f"  {path[:80]:<82}{row['in_process_ms']:7.2f}{row['cpu_ms']:7.2f}{row['sql_ms']:7.2f}{row['sql_json_ms']:7.2f}  ({row['queries']})"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument(
        "--requests", type=int, default=100, help="timed requests per surface and mode"
    )
    parser.add_argument("--seconds", type=float, default=8, help="duration of each throughput run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url",
        help="ours on this PostgreSQL database (created if missing) instead of a temporary SQLite file",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep data already seeded in --database-url"
    )
    parser.add_argument("--no-mlflow", action="store_true", help="measure ours only (scale runs)")
    parser.add_argument("--no-writes", action="store_true", help="skip the write requests")
    parser.add_argument(
        "--json", type=Path, help="where to write the results (default: in the temporary folder)"
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (about a minute)")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.versions, args.requests = min(args.models, 30), min(args.versions, 3), 4
        args.seconds, args.workers = 1.0, 2
    warmup = 1 if args.quick else max(3, 2 * args.workers)

    # A plain SIGTERM would skip the clean-up below and leave both servers running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    started = datetime.datetime.now(datetime.UTC)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC: {args.models} models x {args.versions} versions ({tmp})",
        flush=True,
    )
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        },
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        # Production settings: not the checkout's `.env` (DEBUG on) that `make run` writes.
        "DJANGO_ENV_FILE": "",
        "DJANGO_SECRET_KEY": "benchmark-only-" + "x" * 40,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_HSTS_SECONDS": "0",
        "SQLITE_PATH": str(tmp / "dashboard.sqlite3"),
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        # Measure the service, not its rate limits.
        "API_RATE_LIMIT": "off",
        "API_ANON_RATE_LIMIT": "off",
    }
    if args.database_url:
        ensure_postgres_database(args.database_url)
        env["DATABASE_URL"] = args.database_url

    mlflow_server = None if args.no_mlflow else MlflowServer(tmp / "mlflow")
    dashboard = None
    started_mlflow = []
    try:
        # Ours seeds in a thread (its own processes) while MLflow's store is filled here.
        seeded = []

        def seed_dashboard():
            start = time.perf_counter()
            seed_ours(env, args.models, args.versions, args.seed, args.reuse, not args.quick)
            seeded.append(ours_helper(env, "prepare"))
            print(f"  dashboard seeded in {time.perf_counter() - start:.0f} s", flush=True)

        seeder = threading.Thread(target=seed_dashboard)
        seeder.start()
        if mlflow_server:
            start = time.perf_counter()
            (tmp / "mlflow").mkdir()
            seed_mlflow(tmp / "mlflow" / "mlflow.db", args.models, args.versions, args.seed)
            print(f"  MLflow seeded in {time.perf_counter() - start:.0f} s", flush=True)
            starter = threading.Thread(
                target=lambda: started_mlflow.append(mlflow_server.start(workers=args.workers))
            )
            starter.start()
        seeder.join()
        if not seeded:
            raise RuntimeError("seeding the dashboard failed (see above)")
        credentials = seeded[0]

        port = free_port()
        server_log = open(tmp / "dashboard.log", "w")
        dashboard = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "registry_site.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                "1",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            # Its access log is written as deployed, to a file (as MLflow's server's output).
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        bearer = {"Authorization": f"Bearer {credentials['token']}"}
        targets = {
            "compat": Target("compat", "ours (MLflow API)", port, bearer),
            "v1": Target("v1", "ours (/api/v1/)", port, bearer),
            "page": Target(
                "page", "ours (pages)", port, {"Cookie": f"sessionid={credentials['session']}"}
            ),
        }
        deadline = time.monotonic() + 60
        while True:
            try:
                if targets["compat"].call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or dashboard.poll() is not None:
                raise RuntimeError(f"the dashboard did not start (see {tmp / 'dashboard.log'})")
            time.sleep(0.2)
        if mlflow_server:
            starter.join()
            if not started_mlflow:
                raise RuntimeError("MLflow's server did not start")
            targets = {"mlflow": Target("mlflow", "MLflow", mlflow_server.port, {}), **targets}
            sample = [bulk_name(i) for i in sorted({0, 1, args.models // 2, args.models - 2})]
            checked = check_same_content(
                targets["mlflow"], targets["compat"], sample, args.versions
            )
            print(f"  same content on both MLflow APIs ({checked} responses compared)", flush=True)

        results = {}
        counter = iter(range(10**9))
        for operation in operations(args.models, args.versions, args.seed):
            if args.no_writes and operation["group"] == "write":
                continue
            active = {k: t for k, t in targets.items() if k in operation}
            if not active:
                continue
            results[operation["label"]] = {
                "group": operation["group"],
                **measure(operation, active, args.requests, warmup, counter),
            }
            print(f"  measured: {operation['label']}", flush=True)

        name = bulk_name(args.models // 2)
        rates = {}
        for label, paths in {
            "search models, first page of 100": {
                "mlflow": "/api/2.0/mlflow/registered-models/search?max_results=100",
                "compat": "/api/2.0/mlflow/registered-models/search?max_results=100",
                "v1": "/api/v1/models/?page_size=100",
            },
            "get version": {
                "mlflow": f"/api/2.0/mlflow/model-versions/get?name={name}&version=1",
                "compat": f"/api/2.0/mlflow/model-versions/get?name={name}&version=1",
                "v1": f"/api/v1/models/default/{name}/versions/1/",
            },
            "get model": {
                "mlflow": f"/api/2.0/mlflow/registered-models/get?name={name}",
                "compat": f"/api/2.0/mlflow/registered-models/get?name={name}",
                "v1": f"/api/v1/models/default/{name}/",
            },
            "latest Production version": {
                "mlflow": latest_path(name),
                "compat": latest_path(name),
                "v1": f"/api/v1/models/default/{name}/versions/latest/?stage=Production",
            },
            "versions of one model": {
                "mlflow": versions_path(name),
                "compat": versions_path(name),
                "v1": f"/api/v1/models/default/{name}/versions/?page_size=100",
            },
        }.items():
            rates[label] = {
                key: throughput(targets[key], path, args.clients, args.seconds)
                for key, path in paths.items()
                if key in targets
            }
            print(f"  measured: throughput of {label}", flush=True)

        floors = ours_helper(
            env,
            "floor",
            credentials["token"],
            credentials["session"],
            str(20 if not args.quick else 3),
            "/api/v1/models/?page_size=100",
            "/api/2.0/mlflow/registered-models/search?max_results=100",
            f"/api/v1/models/default/{name}/versions/1/",
            f"/api/2.0/mlflow/model-versions/get?name={name}&version=1",
            "/models/",
            f"/models/default/{name}/",
        )
        memory = {"ours": process_memory(dashboard.pid)}
        if mlflow_server:
            memory["mlflow"] = process_memory(mlflow_server.process.pid)

        print_table(results, floors, rates)
        print("\nmemory after the run, MB (RSS / PSS per process, PSS total):")
        for server, rows in memory.items():
            print(
                f"  {server}: "
                + ", ".join(f"{r['rss_mb']:.0f}/{r['pss_mb']:.0f}" for r in rows)
                + f"; total PSS {sum(r['pss_mb'] for r in rows):.0f}"
            )
        report = {
            "date": started.isoformat(timespec="seconds"),
            "command": " ".join(
                [Path(PYTHON).name, "-m", "bench", *(argv if argv is not None else sys.argv[1:])]
            ),
            "machine": machine(),
            "mlflow_version": _mlflow_version(),
            "database": "postgresql" if args.database_url else "sqlite",
            "arguments": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in vars(args).items()
                if k != "database_url"
            },
            "results": results,
            "throughput": rates,
            "floors": floors,
            "memory": memory,
        }
        destination = args.json or tmp / "results.json"
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(json.dumps(report, indent=2))
        print(f"\nJSON: {destination}", flush=True)
    finally:
        if mlflow_server:
            mlflow_server.stop()
        if dashboard is not None and dashboard.poll() is None:
            os.killpg(dashboard.pid, signal.SIGTERM)
            try:
                dashboard.wait(timeout=10)
            except subprocess.TimeoutExpired:  # workers still holding kept connections
                os.killpg(dashboard.pid, signal.SIGKILL)
                dashboard.wait(timeout=10)


def _mlflow_version() -> str:
    try:
        from importlib.metadata import version

        return version("mlflow")
    except Exception:
        return "not installed"


if __name__ == "__main__":
    main()
