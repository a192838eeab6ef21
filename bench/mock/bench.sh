#!/usr/bin/env bash
# bench.sh - llmux-mock throughput next to nginx serving the same reply.
#
#   bench/mock/bench.sh path/to/llmux-mock [seconds] [connections]
#
# Starts the mock (--no-record) and a private nginx (2 workers, access_log off)
# on free loopback ports, then runs wrk -t2 against:
#   mock         POST /v1/chat/completions (bench/mock/wrk_chat.lua)
#   nginx-file   POST to a static JSON file holding the same reply bytes
#   nginx-return POST answered by `return 200 '<same bytes>'` (nginx's fastest path)
# Needs wrk and nginx. Everything lives in a temporary directory.
set -u

BIN=${1:?usage: bench.sh path/to/llmux-mock [seconds] [connections]}
SECS=${2:-5}
CONNS=${3:-64}
HERE=$(cd "$(dirname "$0")" && pwd)
LUA="$HERE/wrk_chat.lua"
WORK=$(mktemp -d /tmp/llmux-mock-bench.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)
NPORT=$(free_port)
MPID=

cleanup() {
    [ -n "$MPID" ] && kill -TERM "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill -QUIT "$(cat "$WORK/nginx.pid")" 2>/dev/null
    sleep 0.2
    rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK" # nginx workers run as an unprivileged user

"$BIN" --listen "127.0.0.1:$MPORT" --no-record >"$WORK/mock.out" 2>"$WORK/mock.err" &
MPID=$!
for _ in $(seq 1 100); do grep -q ready "$WORK/mock.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$WORK/mock.out" || { echo "mock did not start" >&2; exit 1; }

# The static reply: exactly what the mock answers to the benchmark request.
mkdir -p "$WORK/html" "$WORK/logs"
BODY=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$LUA")
curl -s -H 'Content-Type: application/json' --data-binary "$BODY" \
    "http://127.0.0.1:$MPORT/v1/chat/completions" >"$WORK/html/chat.json"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    tcp_nodelay on;
    default_type application/json;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    server {
        listen 127.0.0.1:$NPORT reuseport;
        root $WORK/html;
        location = /return/v1/chat/completions { return 200 '$(cat "$WORK/html/chat.json")'; }
        # POST to a static file is 405 in nginx: answer it with the file anyway.
        location / { error_page 405 =200 \$uri; try_files /chat.json =404; }
    }
}
EOF
nginx -c "$WORK/nginx.conf" -p "$WORK" || { echo "nginx did not start" >&2; exit 1; }
sleep 0.3

run() {
    local name=$1 url=$2
    local out
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$LUA" "$url")
    printf '%-13s %10s req/s   latency avg %s   %s\n' "$name" \
        "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
        "$(echo "$out" | awk '/Latency/ {print $2}')" \
        "$(echo "$out" | grep -E 'Non-2xx|errors' | tr -s ' ' | tr '\n' ' ')"
}
echo "wrk -t2 -c$CONNS -d${SECS}s, $(nproc) CPUs, reply $(wc -c <"$WORK/html/chat.json") bytes"
run mock "http://127.0.0.1:$MPORT/v1/chat/completions"
run nginx-file "http://127.0.0.1:$NPORT/v1/chat/completions"
run nginx-return "http://127.0.0.1:$NPORT/return/v1/chat/completions"
