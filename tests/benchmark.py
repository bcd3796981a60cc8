# ruff: noqa: E501  (the printed table's format strings read best on one line)
"""Benchmark: the dashboard against MLflow's own registry server, same data, same machine, one run.

    .venv/bin/python -m tests.benchmark                     # 1,000 models x 20 versions
    .venv/bin/python -m tests.benchmark --models 200 --versions 5 --seconds 5

Both servers get the same registry (MLflow seeded through its SQL store, the dashboard through
seed_bulk), 4 worker processes each, SQLite each. Prints p50/p95 latency of single requests,
requests per second with 8 concurrent clients, the ratio dashboard/MLflow for each, and the
time and peak memory of a full sync of MLflow's registry into the dashboard.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.mlflow_server import MlflowServer, free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def seed_mlflow(db: Path, models: int, versions: int) -> None:
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}")
    for m in range(models):
        name = f"bulk-model-{m:06d}"
        store.create_registered_model(name, description=f"Synthetic model {m} for load tests.")
        for v in range(1, versions + 1):
            store.create_model_version(
                name, f"s3://bulk-artifacts/{name}/{v}/model", run_id=f"{m:06d}{v:04d}"
            )
        store.transition_model_version_stage(
            name, str(versions), "Production", archive_existing_versions=False
        )


def manage(env: dict, *args: str, capture=False) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=capture,
        text=True,
    )
    return result.stdout if capture else ""


SYNC = """
import resource, runpy, sys
sys.argv = ["manage.py", "model_registry", "sync", "bench-mlflow", "--no-progress"]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def sync_with_peak_memory(env: dict) -> tuple[str, int]:
    result = subprocess.run([PYTHON, "-c", SYNC], env=env, cwd=ROOT, capture_output=True, text=True)
    peak = int(result.stderr.rsplit("PEAK_KB", 1)[1].split()[0])
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout.strip(), peak


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def latency(session: requests.Session, url: str, count: int) -> tuple[float, float]:
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        response = session.get(url, timeout=30)
        timings.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def throughput(headers: dict, url: str, clients: int, seconds: float) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def work(index):
        session = requests.Session()
        session.headers.update(headers)
        while time.monotonic() < stop:
            session.get(url, timeout=30).raise_for_status()
            done[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument(
        "--requests", type=int, default=60, help="sequential requests per measurement"
    )
    parser.add_argument("--seconds", type=float, default=10, help="duration of each throughput run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    print(
        f"Seeding {args.models} models x {args.versions} versions into both registries ({tmp})",
        flush=True,
    )
    start = time.perf_counter()
    (tmp / "mlflow").mkdir()
    seed_mlflow(tmp / "mlflow" / "mlflow.db", args.models, args.versions)
    print(f"  MLflow seeded in {time.perf_counter() - start:.0f} s", flush=True)

    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        },
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_SECRET_KEY": "benchmark-only-" + "x" * 40,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_HSTS_SECONDS": "0",
        "SQLITE_PATH": str(tmp / "dashboard.sqlite3"),
    }
    start = time.perf_counter()
    manage(env, "migrate", "-v0")
    manage(
        env,
        "seed_bulk",
        "--registrations",
        str(args.models),
        "--versions",
        str(args.versions),
        "--no-progress",
    )
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.create_user('bench')",
    )
    token = manage(env, "create_token", "bench", capture=True).strip()
    print(f"  dashboard seeded in {time.perf_counter() - start:.0f} s", flush=True)

    mlflow_server = MlflowServer(tmp / "mlflow")
    port = free_port()
    dashboard = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("gunicorn")),
            "registry_site.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        mlflow_server.start(workers=args.workers)
        ours = f"http://127.0.0.1:{port}"
        wait_for(f"{ours}/healthz")
        auth = {"Authorization": f"Bearer {token}"}
        name = f"bulk-model-{args.models // 2:06d}"
        cases = [
            (
                "first page of 100 models",
                f"{mlflow_server.url}/api/2.0/mlflow/registered-models/search?max_results=100",
                f"{ours}/api/v1/models/?page_size=100",
            ),
            (
                "the same, through our MLflow-compatible API",
                f"{mlflow_server.url}/api/2.0/mlflow/registered-models/search?max_results=100",
                f"{ours}/api/2.0/mlflow/registered-models/search?max_results=100",
            ),
            (
                "one version",
                f"{mlflow_server.url}/api/2.0/mlflow/model-versions/get?name={name}&version=3",
                f"{ours}/api/v1/models/default/{name}/versions/3/",
            ),
            (
                "versions of one model",
                f"{mlflow_server.url}/api/2.0/mlflow/model-versions/search?filter=name%3D%27{name}%27",
                f"{ours}/api/v1/models/default/{name}/versions/",
            ),
            (
                "latest Production version",
                f"{mlflow_server.url}/api/2.0/mlflow/registered-models/get-latest-versions?name={name}&stages=Production",
                f"{ours}/api/v1/models/default/{name}/versions/latest/?stage=Production",
            ),
        ]
        print(
            f"\n{'request':<46}{'MLflow p50':>11}{'ours p50':>10}{'speed-up':>10}"
            f"{'MLflow p95':>12}{'ours p95':>10}",
            flush=True,
        )
        theirs_session, ours_session = requests.Session(), requests.Session()
        ours_session.headers.update(auth)
        for label, their_url, our_url in cases:
            for session, url in ((theirs_session, their_url), (ours_session, our_url)):
                latency(session, url, 5)  # warm up
            m50, m95 = latency(theirs_session, their_url, args.requests)
            o50, o95 = latency(ours_session, our_url, args.requests)
            print(
                f"{label:<46}{m50:>9.1f}ms{o50:>8.1f}ms{m50 / o50:>9.1f}x{m95:>10.1f}ms{o95:>8.1f}ms",
                flush=True,
            )

        print(
            f"\nthroughput, {args.clients} clients x {args.seconds:.0f} s, first page of 100 models:",
            flush=True,
        )
        their_rps = throughput({}, cases[0][1], args.clients, args.seconds)
        our_rps = throughput(auth, cases[0][2], args.clients, args.seconds)
        print(
            f"  MLflow {their_rps:.1f} req/s, ours {our_rps:.1f} req/s ({our_rps / their_rps:.1f}x)",
            flush=True,
        )

        manage(
            env,
            "model_registry",
            "register",
            "bench-mlflow",
            "--flavor",
            "mlflow",
            "--tracking-uri",
            mlflow_server.url,
        )
        start = time.perf_counter()
        summary, peak_kb = sync_with_peak_memory(env)
        elapsed = time.perf_counter() - start
        print(
            f"\nsync of MLflow's registry into the dashboard: {elapsed:.1f} s, "
            f"peak memory of the sync process {peak_kb / 1024:.0f} MB\n  {summary}",
            flush=True,
        )
        start = time.perf_counter()
        again = manage(
            env, "model_registry", "sync", "bench-mlflow", "--no-progress", capture=True
        ).strip()
        print(
            f"second sync (nothing changed): {time.perf_counter() - start:.1f} s\n  {again}",
            flush=True,
        )
    finally:
        mlflow_server.stop()
        if dashboard.poll() is None:
            os.killpg(dashboard.pid, signal.SIGTERM)
            dashboard.wait(timeout=30)


if __name__ == "__main__":
    main()
