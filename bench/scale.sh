#!/usr/bin/env bash
# Growth runs (ours only): 2,000 / 20,000 / 100,000 versions on SQLite and PostgreSQL, and
# 1,000,000 on PostgreSQL; each writes bench-results/<database>-<versions>.json.
#   bench/scale.sh [postgres://postgres@127.0.0.1:5432]     (server URL without a database)
# Each PostgreSQL size gets its own database (bench_<versions>), dropped and seeded afresh,
# except bench_1000000, which is kept and reused once seeded (seeding it takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432}
out=bench-results
mkdir -p "$out"
run() { .venv/bin/python -m bench --no-mlflow --no-writes --versions 20 --requests 30 --seconds 3 "$@"; }
for models in 100 1000 5000; do
  versions=$((models * 20))
  run --models "$models" --json "$out/sqlite-$versions.json"
  psql "$server/postgres" -qc "DROP DATABASE IF EXISTS bench_$versions WITH (FORCE)"
  run --models "$models" --database-url "$server/bench_$versions" --json "$out/postgres-$versions.json"
done
run --models 50000 --reuse --database-url "$server/bench_1000000" --json "$out/postgres-1000000.json"
