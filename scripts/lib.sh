# scripts/lib.sh - shared by scripts/run, scripts/test and bench/compare.
# Installs missing Debian packages and manages a private Postgres cluster.
# shellcheck shell=bash

LX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

lx_say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
lx_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

LX_PKGS_BUILD="gcc meson ninja-build pkg-config libevhtp-dev libevent-dev libonig-dev libnghttp2-dev
  libcurl4-openssl-dev libpq-dev libssl-dev libjansson-dev libcmocka-dev python3"
LX_PKGS_RUN="postgresql curl"
LX_PKGS_TEST="postgresql postgresql-client curl openssl prometheus nghttp2-client"
# chromium: the admin UI browser tests (test/browser); lx_need_chromium installs it
# apart, so a machine where it cannot be installed only skips those tests
LX_PKGS_BENCH="nginx-light wrk gnuplot-nox valgrind linux-perf"

# lx_need PKG... : apt-get installs the packages that are not installed yet.
lx_need() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || lx_die "missing packages (${missing[*]}); run as root or install them"
    lx_say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || lx_die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        lx_die "apt-get install ${missing[*]} failed"
}

# lx_need_node : node and npm for the SDK tests. A machine may already have a
# newer Node.js (with its own npm) than Debian's; only install when absent.
lx_need_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    lx_need nodejs npm
}

# lx_need_chromium : Debian's chromium for the admin UI browser tests
# (test/browser). A machine where it cannot be installed only warns: those
# tests then report themselves skipped, saying why.
lx_need_chromium() {
    command -v chromium >/dev/null && return 0
    if [ "$(id -u)" -ne 0 ]; then
        lx_say "chromium is missing (not root): the browser tests will be skipped"
        return 0
    fi
    lx_say "installing chromium (browser tests)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 ||
        lx_say "chromium could not be installed: the browser tests will be skipped"
}

# lx_build DIR MESON_ARGS... : configures (once) and builds a tree.
lx_build() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$LX_ROOT" "$@" >"$LX_ROOT/.meson-setup.log" 2>&1 ||
            { cat "$LX_ROOT/.meson-setup.log" >&2; lx_die "meson setup failed"; }
        rm -f "$LX_ROOT/.meson-setup.log"
    fi
    ninja -C "$dir" >/dev/null || { ninja -C "$dir" >&2; lx_die "build failed"; }
}

lx_pg_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && echo "$d"; done | sort -V | tail -1
}

# lx_pg_start DIR PORT : a private cluster in DIR (created on first use) on a
# unix socket in DIR/run and 127.0.0.1:PORT. Prints the conninfo for the
# database "llmux". Postgres refuses to run as root, so the cluster belongs to
# the postgres user; if it cannot reach DIR (a checkout under /root, say),
# the data lives under /var/lib/llmux and DIR links to it.
lx_pg_start() {
    local dir=$1 port=$2 bin; bin=$(lx_pg_bin)
    [ -n "$bin" ] || lx_die "PostgreSQL server binaries not found"
    mkdir -p "$(dirname "$dir")"
    if [ ! -e "$dir" ]; then
        local parent; parent=$(cd "$(dirname "$dir")" && pwd)
        if runuser -u postgres -- test -x "$parent" 2>/dev/null; then
            mkdir -p "$dir"
        else
            local real="/var/lib/llmux/pg-$(echo "$dir" | md5sum | cut -c1-12)"
            mkdir -p "$real"
            ln -s "$real" "$dir"
        fi
    fi
    local real; real=$(readlink -f "$dir")
    mkdir -p "$real/run"; chown -R postgres "$real"
    if [ ! -f "$real/data/PG_VERSION" ]; then
        runuser -u postgres -- "$bin/initdb" -D "$real/data" -U postgres -A trust -E UTF8 \
            >"$real/initdb.log" 2>&1 || { cat "$real/initdb.log" >&2; lx_die "initdb failed"; }
    fi
    if ! runuser -u postgres -- "$bin/pg_ctl" -D "$real/data" status >/dev/null 2>&1; then
        runuser -u postgres -- "$bin/pg_ctl" -D "$real/data" -l "$real/postgres.log" -w -t 60 \
            -o "-k $real/run -p $port -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off" \
            start >/dev/null || { tail -20 "$real/postgres.log" >&2; lx_die "postgres did not start"; }
    fi
    local i
    for i in $(seq 1 50); do
        "$bin/pg_isready" -h "$real/run" -p "$port" -q && break
        sleep 0.2
    done
    "$bin/psql" -h "$real/run" -p "$port" -U postgres -Atq -c \
        "SELECT 1 FROM pg_database WHERE datname='llmux'" postgres | grep -q 1 ||
        "$bin/psql" -h "$real/run" -p "$port" -U postgres -q -c "CREATE DATABASE llmux" postgres
    echo "host=$real/run port=$port user=postgres dbname=llmux"
}

lx_pg_stop() {
    local dir=$1 bin; bin=$(lx_pg_bin)
    local real; real=$(readlink -f "$dir" 2>/dev/null) || return 0
    [ -f "$real/data/PG_VERSION" ] || return 0
    runuser -u postgres -- "$bin/pg_ctl" -D "$real/data" -m fast -w stop >/dev/null 2>&1 || true
}

# lx_port_busy HOST:PORT : true when something accepts connections there.
lx_port_busy() {
    local hp=$1 host port
    host=${hp%:*}; port=${hp##*:}; host=${host#[}; host=${host%]}
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# lx_pg_running DIR : true when the private cluster in DIR is running.
lx_pg_running() {
    local dir=$1 bin real; bin=$(lx_pg_bin)
    real=$(readlink -f "$dir" 2>/dev/null) || return 1
    [ -n "$bin" ] && [ -f "$real/data/PG_VERSION" ] &&
        runuser -u postgres -- "$bin/pg_ctl" -D "$real/data" status >/dev/null 2>&1
}

# lx_secret FILE : prints the secret in FILE, creating it (0600) if missing.
lx_secret() {
    local f=$1 kind=$2
    if [ ! -s "$f" ]; then
        umask 077
        if [ "$kind" = master ]; then head -c 32 /dev/urandom | base64 >"$f"
        else echo "lx-admin-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)" >"$f"; fi
    fi
    cat "$f"
}
