#!/usr/bin/env bash
# scripts/demo.sh: the README's first command: installs what is missing (Debian 12, as
# root), builds build/evitrack, and serves the demo centre on http://127.0.0.1:8080
# (embedded SQLite in demo.db, evidence in demo-data/). Ctrl-C stops it.
#   bash scripts/demo.sh [--port N] [--fresh]   (--fresh: start from an empty demo database)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT=8080
FRESH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    *) echo "demo: unknown argument $1 (use --port N or --fresh)" >&2; exit 2 ;;
  esac
done
bash scripts/install-deps.sh --runtime
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target evitrack
if [ "$FRESH" = 1 ]; then
  rm -rf demo.db demo.db-wal demo.db-shm demo-data
fi
exec build/evitrack serve --demo --db demo.db --data demo-data --port "$PORT"
