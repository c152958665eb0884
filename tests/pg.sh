#!/usr/bin/env bash
# tests/pg.sh: a throw-away PostgreSQL 15 cluster for the tests, on 127.0.0.1 at a free port
# in a mktemp directory (so runs in other worktrees never clash); recipe from ../shared/pg_up.sh.
#   eval "$(bash tests/pg.sh start)"   sets EVITRACK_PG_DIR and EVITRACK_TEST_DB (a server URL
#                                      whose database is "evitrack"; tests create their own)
#   bash tests/pg.sh stop DIR          stops it and removes DIR
# Exit 77 when PostgreSQL 15 is not installed. CI runs as root: postgres then runs as the
# postgres user (runuser), which refuses root.
set -euo pipefail
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}
case "${1:-}" in
start)
    [ -x "$BIN/postgres" ] || { echo "pg.sh: PostgreSQL 15 is not installed ($BIN)" >&2; exit 77; }
    dir=$(mktemp -d "${TMPDIR:-/tmp}/evitrack-pg-XXXXXX")
    AS=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$dir"
        chmod 755 "$dir"
        AS=(runuser -u postgres --)
    fi
    "${AS[@]}" "$BIN/initdb" --no-sync -D "$dir/data" -U evitrack --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # Tests do not need their commits to survive a power cut; EVITRACK_PG_DURABLE=1 (the
    # benchmarks' --durable) keeps PostgreSQL's defaults, so commits flush as in production.
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${EVITRACK_PG_DURABLE:-0}" = 1 ] && durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
    # A free port: ask the OS, then start; retry if another run took it meanwhile.
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if "${AS[@]}" "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=128MB $durability" \
            start >/dev/null 2>&1; then
            echo "export EVITRACK_PG_DIR=$dir"
            echo "export EVITRACK_TEST_DB=postgres://evitrack@127.0.0.1:$port/evitrack"
            "${AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$port" -U evitrack evitrack >&2
            exit 0
        fi
    done
    echo "pg.sh: PostgreSQL would not start; see $dir/log" >&2
    exit 1
    ;;
stop)
    dir=${2:?usage: pg.sh stop DIR}
    AS=()
    [ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
    "${AS[@]}" "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg.sh start | stop DIR" >&2
    exit 2
    ;;
esac
