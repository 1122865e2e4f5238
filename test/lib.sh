# Shared by test/run.sh, the demo and the benchmarks: a private PostgreSQL root with pg_billing
# installed, and a throwaway cluster in it. Nothing here touches the system's PostgreSQL.
# shellcheck shell=bash

PGB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# One runtime directory per checkout, outside it: the server user must be able to read and write it.
PGB_RT=${PGB_RT:-/tmp/pg_billing-$(printf '%s' "$PGB_SRC" | md5sum | cut -c1-10)}
PGB_ROOT=$PGB_RT/pgroot
# pg_config as the Makefile chooses it: PG_CONFIG, else the one on PATH, else PostgreSQL 15's on Debian.
PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)}
PG_SYS_BIN=$("$PG_CONFIG" --bindir) || exit 1
# libpq-dev's pg_config alone names /usr/bin: the server must be there, or the private root would copy /usr.
if [ ! -x "$PG_SYS_BIN/postgres" ]; then
    echo "pg_billing: $PG_CONFIG names no PostgreSQL server ($PG_SYS_BIN/postgres): run make deps, or set PG_CONFIG" >&2
    exit 1
fi
PG_BIN=$PGB_ROOT$PG_SYS_BIN
PG_PKGLIB=$("$PG_CONFIG" --pkglibdir)
PG_SHARE=$("$PG_CONFIG" --sharedir)
# ../shared holds the vendors' specs and the revenue vectors; CI has it beside the checkout.
PGB_SHARED=${PGB_SHARED:-$(cd "$PGB_SRC/.." && pwd)/shared}
PGB_RUN_USER=${PGB_RUN_USER:-$( [ "$(id -u)" -eq 0 ] && echo postgres || id -un )}

pgb_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the unprivileged user the cluster belongs to (initdb refuses root).
pgb_as_user() {
    if [ "$(id -un)" = "$PGB_RUN_USER" ]; then "$@"; else runuser -u "$PGB_RUN_USER" -- "$@"; fi
}

# A copy of the PostgreSQL installation with this build of pg_billing installed into it.
pgb_make_root() {
    mkdir -p "$PGB_RT"
    if [ ! -x "$PG_BIN/postgres" ]; then
        rm -rf "$PGB_ROOT"
        mkdir -p "$PGB_ROOT$(dirname "$PG_SYS_BIN")" "$PGB_ROOT$(dirname "$PG_SHARE")"
        cp -a "$(dirname "$PG_SYS_BIN")/." "$PGB_ROOT$(dirname "$PG_SYS_BIN")/"
        cp -a "$PG_SHARE" "$PGB_ROOT$(dirname "$PG_SHARE")/"
    fi
    make -s -C "$PGB_SRC" install DESTDIR="$PGB_ROOT" PG_CONFIG="$PG_CONFIG" >/dev/null
    chown -R "$PGB_RUN_USER" "$PGB_RT" 2>/dev/null || true
}

# Starts a cluster in $PGB_RT/$1 on a free port; extra postgresql.conf lines on stdin.
pgb_start_cluster() {
    local name=$1 data=$PGB_RT/$1
    PGB_PORT=$(pgb_free_port)
    PGB_HOST=$PGB_RT
    pgb_stop_cluster "$name"
    rm -rf "$data"
    pgb_as_user "$PG_BIN/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
    {
        echo "port = $PGB_PORT"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$PGB_RT'"
        echo "shared_preload_libraries = '${PGB_PRELOAD:-pg_billing}'"
        echo "fsync = off"
        echo "max_connections = 50"
        echo "logging_collector = off"
        cat
    } >> "$data/postgresql.conf"
    chown "$PGB_RUN_USER" "$data/postgresql.conf"
    pgb_as_user "$PG_BIN/pg_ctl" -D "$data" -l "$PGB_RT/$name.log" -w -t 60 start >/dev/null
    export PGHOST=$PGB_HOST PGPORT=$PGB_PORT PGUSER=postgres
}

pgb_stop_cluster() {
    local data=$PGB_RT/$1
    if [ -f "$data/postmaster.pid" ]; then
        pgb_as_user "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
}

pgb_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# Starts the fake vendor API (test/fake/maxio_fake.py) with the given arguments, its output in $1,
# and waits for it: sets PGB_FAKE_PID and PGB_FAKE_PORTS (good,plain,selfsigned,wrongname,expired).
# It binds ports the kernel chooses and prints them, so two servers can never be handed one port.
pgb_start_fake() {
    local out=$1
    shift
    python3 "$PGB_SRC/test/fake/maxio_fake.py" "$@" > "$out" 2>&1 &
    PGB_FAKE_PID=$!
    PGB_FAKE_PORTS=
    for _ in $(seq 600); do
        PGB_FAKE_PORTS=$(sed -n 's/^ready //p' "$out" 2>/dev/null)
        [ -n "$PGB_FAKE_PORTS" ] && return 0
        kill -0 "$PGB_FAKE_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$PGB_FAKE_PID" 2>/dev/null
    echo "pg_billing: the fake vendor API did not start; its output ($out):" >&2
    cat "$out" >&2
    return 1
}
