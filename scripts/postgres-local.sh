#!/usr/bin/env bash
# A PostgreSQL server on this machine, from Debian's packages, for searches shared by several
# sweeper processes (tests/e2e/test_shared_search.py; docs/tuning.md).
#
#   bash scripts/postgres-local.sh start    # install what is missing, make the cluster, start it
#   bash scripts/postgres-local.sh status   # exit 0 only where the server answers
#   bash scripts/postgres-local.sh url      # the storage URL for hydra.sweeper.storage
#   bash scripts/postgres-local.sh stop
#
# Its own cluster, not Debian's default one: data in $CNN_STUDY_PG_DIR (default
# /var/lib/cnn-study-postgres), port $CNN_STUDY_PG_PORT (default 5433), listening on 127.0.0.1
# only, with trust authentication there (a test server: never expose it). There is no systemd
# in the containers this project runs in, so pg_ctl runs the server directly.
set -euo pipefail

DATA_DIR=${CNN_STUDY_PG_DIR:-/var/lib/cnn-study-postgres}
PORT=${CNN_STUDY_PG_PORT:-5433}
DATABASE=cnn_study
PACKAGES=(postgresql)
WAIT_S=${CNN_STUDY_PG_WAIT_S:-60}

say() { echo "postgres-local: $*"; }
die() { echo "postgres-local: $*" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
    [[ ${#missing[@]} -eq 0 ]] && return
    command -v apt-get >/dev/null || die "apt-get not found: this script sets up PostgreSQL from Debian's packages only"
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $dir ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
    echo "$dir"
}

as_postgres() { runuser -u postgres -- "$@"; }

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DATABASE"; }

answers() { "$(bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; }

cmd_start() {
    [[ $EUID -eq 0 ]] || die "must run as root (it installs packages and runs the server as postgres)"
    install_packages
    local bin
    bin=$(bin_dir)
    if answers; then
        say "already running on port $PORT"
    else
        if [[ ! -s $DATA_DIR/PG_VERSION ]]; then
            mkdir -p "$DATA_DIR"
            chown postgres:postgres "$DATA_DIR"
            chmod 700 "$DATA_DIR"
            as_postgres "$bin/initdb" -D "$DATA_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
        fi
        as_postgres "$bin/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w -t "$WAIT_S" \
            -o "-c listen_addresses=127.0.0.1 -c port=$PORT -k /tmp" start >/dev/null \
            || die "the server did not start: see $DATA_DIR/server.log"
    fi
    if ! as_postgres psql -h 127.0.0.1 -p "$PORT" -tAc \
        "select 1 from pg_database where datname = '$DATABASE'" | grep -q 1; then
        as_postgres createdb -h 127.0.0.1 -p "$PORT" "$DATABASE"
    fi
    say "ready: $(url)"
}

cmd_stop() {
    if [[ -s $DATA_DIR/postmaster.pid ]]; then
        as_postgres "$(bin_dir)/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

cmd_status() {
    if answers; then say "up: $(url)"; else say "down (start it: bash $0 start)"; exit 1; fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) url ;;
    *) die "usage: bash $0 start|stop|status|url" ;;
esac
