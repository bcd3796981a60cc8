"""The benchmark runs end to end (`python -m bench --quick`): both servers start, hold the same
content, answer every timed request, and the JSON names every figure. Timings are not judged."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURFACES = {"read": {"compat", "v1"}, "write": {"mlflow", "compat", "v1"}, "page": {"page"}}


def test_quick_benchmark_measures_every_request(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "same content on both MLflow APIs" in result.stdout
    report = json.loads(out.read_text())
    results = report["results"]
    for label in (
        "search models, first page of 100",
        "get model (with latest versions)",
        "versions of one model",
        "versions by tag (one match)",
        "get version",
        "latest Production version",
        "transition stage",
        "set alias",
        "create version",
    ):
        assert {"mlflow", "compat", "v1"} <= results[label].keys(), label
    for label, row in results.items():
        for surface in SURFACES.get(row["group"], set()) & row.keys():
            for mode in ("fresh", "keep"):
                figures = row[surface][mode]
                assert 0 < figures["p50"] <= figures["p95"], (label, surface, mode)
    assert {"page: model list", "page: model", "trivial request (floor)"} <= results.keys()
    for rates in report["throughput"].values():
        assert rates.keys() == {"mlflow", "compat", "v1"} and min(rates.values()) > 0
    list_floor = report["floors"]["/api/v1/models/?page_size=100"]
    assert list_floor["queries"] >= 1 and list_floor["sql_json_ms"] > 0
    assert report["memory"]["ours"] and report["memory"]["mlflow"]
    assert report["machine"]["cores"] >= 1
