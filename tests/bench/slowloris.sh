#!/usr/bin/env bash
# slowloris.sh - /livez latency for a new client while 1,000 connections from
# 10 other loopback addresses (127.0.0.2-11) trickle a request head one byte
# every 3 s; warden and nginx (static 200, client_header_timeout 10s) under
# the same attack, in the same run (DESIGN.md, "Numbers it must reach":
# p99 <= 10 ms; no connection lives longer than WARDEN_HTTP_HEADER_TIMEOUT,
# default 10s, without a whole request head).
#
#   WARDEN_BIN=build/warden tests/bench/slowloris.sh
#   BENCH_SECONDS=30 (attack length per server, at least 2 x the header timeout)
#
# Prints for each server: p99 and p50 of /livez (a fresh connection per
# request, 20 a second), how many answered, the longest an attacking
# connection lived without a whole head, and how many the server closed.
# The last line is `ratio_p99 <warden/nginx>`. Every process started here is
# stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_ATTACK=${BENCH_SECONDS:-30}
TMP=$(mktemp -d /tmp/warden-slowloris.XXXXXX)
PIDS=()

. "$ROOT/tests/bench/lib.sh"

cleanup() { stop_pids; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in nginx curl python3; do
	command -v "$tool" >/dev/null || { log "slowloris.sh: $tool is missing"; exit 1; }
done
WARDEN_BIN=${WARDEN_BIN:-$ROOT/build/warden}
[ -x "$WARDEN_BIN" ] || { log "slowloris.sh: no $WARDEN_BIN (build first)"; exit 1; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- nginx ----------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 2;
worker_rlimit_nofile 8192;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_header_timeout 10s;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / { return 200 "ok\n"; }
	}
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/livez" nginx

# --- warden (defaults: 1024 connections, 128 per address, 10s header timeout)
WARDEN_PORT=$(free_port)
env -i PATH="$PATH" WARDEN_LISTEN="127.0.0.1:$WARDEN_PORT" WARDEN_DRAIN_SECONDS=0 \
	WARDEN_LOG_LEVEL=warn "$WARDEN_BIN" serve >"$TMP/warden.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$WARDEN_PORT/livez" warden

log "slowloris.sh: ${SECONDS_ATTACK}s of attack on nginx, then on warden"
NGINX_OUT=$(python3 "$ROOT/tests/bench/slowloris_client.py" "$NGINX_PORT" "$SECONDS_ATTACK")
WARDEN_OUT=$(python3 "$ROOT/tests/bench/slowloris_client.py" "$WARDEN_PORT" "$SECONDS_ATTACK")
printf 'nginx  (client_header_timeout 10s): %s\n' "$NGINX_OUT"
printf 'warden (WARDEN_HTTP_HEADER_TIMEOUT 10s): %s\n' "$WARDEN_OUT"
printf 'target: p99 <= 10 ms; max_headless_s <= 10 (+ the 3 s drip granularity of the check)\n'
awk -v w="$(echo "$WARDEN_OUT" | awk '{print $2}')" -v n="$(echo "$NGINX_OUT" | awk '{print $2}')" \
	'BEGIN {printf "ratio_p99 %.2f\n", (n > 0 ? w / n : 0)}'
