#!/usr/bin/env bash
# engine_headers.sh: the data-layer seam holds: no module but src/db*.c includes an
# engine's header (sqlite3.h, libpq-fe.h) or calls sqlite3_*/PQ* functions directly.
set -euo pipefail
src=${1:?usage: engine_headers.sh SRC_DIR}
bad=$(grep -lE '#include *[<"](sqlite3|libpq-fe)\.h|\bsqlite3_[a-z_]+\(|\bPQ[a-z]+\(' "$src"/*.c "$src"/*.h \
  | grep -vE '/db(_[a-z_]+)?\.[ch]$' || true)
if [ -n "$bad" ]; then
  echo "engine_headers: these files reach past the data layer (use db.h):"
  echo "$bad"
  exit 1
fi
echo "engine_headers: only src/db*.c touch an engine"
