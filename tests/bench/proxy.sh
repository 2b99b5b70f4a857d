#!/usr/bin/env bash
# proxy.sh - warden's write-fencing proxy against HAProxy and nginx as reverse
# proxies in front of the same upstream, same machine, same run.
#
#   tests/bench/proxy.sh                       # builds build/warden if needed
#   WARDEN_BIN=build/warden BENCH_SECONDS=10 BENCH_ROUNDS=3 tests/bench/proxy.sh
#
# Upstream: nginx, worker_processes 1, access_log off, `return 200` of a small
# static body (13 bytes), keep-alive.
# Proxies (all keep-alive to the upstream, all with 2 threads/workers):
#   warden   `warden serve` with WARDEN_PROXY_LISTEN, WARDEN_PROXY_THREADS=2 and
#            a file: flag naming its region (every request asks the fence and
#            the role check, as in production)
#   HAProxy  nbthread 2, mode http, http-reuse always
#   nginx    worker_processes 2, proxy_pass to an upstream{} with keepalive 64,
#            proxy_http_version 1.1
# Load: wrk -t2 -c64 -d${BENCH_SECONDS:-10}s --latency, each after a 2 s
# warm-up; BENCH_ROUNDS rounds (default 3) of direct, warden, HAProxy, nginx,
# and the median round (by requests/s) of each is reported.
#
# Then one connection, one request at a time, for the latency each proxy adds.
# Prints requests/s, p50 and p99 for each, warden's added p99 over direct, and
# as the last line `ratio <warden rps / HAProxy rps>`. Every process started
# here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_LOAD=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP_SECONDS=2
TMP=$(mktemp -d /tmp/warden-proxy-bench.XXXXXX)
PIDS=()

. "$ROOT/tests/bench/lib.sh"

cleanup() { stop_pids; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wrk nginx haproxy curl python3; do
	command -v "$tool" >/dev/null || { log "proxy.sh: $tool is missing (make deps)"; exit 1; }
done

WARDEN_BIN=${WARDEN_BIN:-}
if [ -z "$WARDEN_BIN" ] || [ ! -x "$WARDEN_BIN" ]; then
	log "proxy.sh: building warden in $ROOT/build"
	cmake -S "$ROOT" -B "$ROOT/build" >/dev/null
	cmake --build "$ROOT/build" -j2 --target warden >/dev/null
	WARDEN_BIN="$ROOT/build/warden"
fi



nginx_conf() { # dir workers body
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<EOF
worker_processes $2;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $1/body;
	proxy_temp_path $1/proxy;
	fastcgi_temp_path $1/fastcgi;
	uwsgi_temp_path $1/uwsgi;
	scgi_temp_path $1/scgi;
$3
}
EOF
}

# --- upstream: nginx, 1 worker ------------------------------------------
UP_PORT=$(free_port)
nginx_conf "$TMP/upstream" 1 "	server {
		listen 127.0.0.1:$UP_PORT;
		keepalive_requests 1000000;
		location / { default_type text/plain; return 200 \"hello, world\n\"; }
	}"
nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" >"$TMP/upstream/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/" "upstream nginx"

# --- warden's proxy --------------------------------------------------------
echo us-east-1 >"$TMP/active-region"
WARDEN_PORT=$(free_port)
env -i PATH="$PATH" AWS_REGION=us-east-1 WARDEN_LOG_LEVEL=warn WARDEN_DRAIN_SECONDS=0 \
	WARDEN_LISTEN="127.0.0.1:$(free_port)" WARDEN_FLAG="file:$TMP/active-region" \
	WARDEN_PROXY_LISTEN="127.0.0.1:$WARDEN_PORT" WARDEN_PROXY_UPSTREAM="http://127.0.0.1:$UP_PORT" \
	WARDEN_PROXY_THREADS=2 "$WARDEN_BIN" serve >"$TMP/warden.out" 2>&1 &
WARDEN_PID=$!
PIDS+=($WARDEN_PID)
wait_http "http://127.0.0.1:$WARDEN_PORT/" "warden proxy"

# --- HAProxy: nbthread 2 ---------------------------------------------------
HAPROXY_PORT=$(free_port)
cat >"$TMP/haproxy.cfg" <<EOF
global
	nbthread 2
	maxconn 4096
defaults
	mode http
	option http-keep-alive
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s
frontend fe
	bind 127.0.0.1:$HAPROXY_PORT
	default_backend be
backend be
	http-reuse always
	server up 127.0.0.1:$UP_PORT
EOF
haproxy -W -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$HAPROXY_PORT/" "haproxy"

# --- nginx as a proxy: 2 workers, upstream keepalive ----------------------
NGINXP_PORT=$(free_port)
nginx_conf "$TMP/nginxp" 2 "	upstream app {
		server 127.0.0.1:$UP_PORT;
		keepalive 64;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:$NGINXP_PORT;
		keepalive_requests 1000000;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}
	}"
nginx -p "$TMP/nginxp" -c "$TMP/nginxp/nginx.conf" >"$TMP/nginxp/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$NGINXP_PORT/" "nginx proxy"

# --- load --------------------------------------------------------------------
to_ms() { # "1.23ms" / "850.00us" / "1.02s" -> milliseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
		printf "%.3f", n }'
}

# Prints "<requests/s> <p50 ms> <p99 ms>" for url.
load() {
	local out
	wrk -t2 -c64 -d"${WARMUP_SECONDS}s" "$1" >/dev/null
	out=$(wrk -t2 -c64 -d"${SECONDS_LOAD}s" --latency "$1")
	if grep -q -e "Non-2xx" -e "Socket errors" <<<"$out"; then
		log "proxy.sh: errors from $1:"
		log "$out"
	fi
	printf '%s %s %s\n' "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" \
		"$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" \
		"$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
}

declare -A RESULTS
NAMES=(direct warden haproxy nginx)
declare -A URLS=(
	[direct]="http://127.0.0.1:$UP_PORT/"
	[warden]="http://127.0.0.1:$WARDEN_PORT/"
	[haproxy]="http://127.0.0.1:$HAPROXY_PORT/"
	[nginx]="http://127.0.0.1:$NGINXP_PORT/"
)
for round in $(seq "$ROUNDS"); do
	for name in "${NAMES[@]}"; do
		read -r rps p50 p99 < <(load "${URLS[$name]}")
		RESULTS[$name]+="$rps $p50 $p99"$'\n'
		printf 'round %d %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n' "$round" "$name" \
			"$rps" "$p50" "$p99"
	done
done

median() { # lines "rps p50 p99" -> the line with the median rps
	printf '%s' "$1" | sort -n -k1,1 | awk 'NF {a[++n] = $0} END {print a[int((n + 1) / 2)]}'
}

echo "--- median of $ROUNDS rounds (wrk -t2 -c64 -d${SECONDS_LOAD}s, 2 cores shared by all)"
declare -A RPS P50 P99
for name in "${NAMES[@]}"; do
	read -r rps p50 p99 <<<"$(median "${RESULTS[$name]}")"
	RPS[$name]=$rps
	P50[$name]=$p50
	P99[$name]=$p99
	printf '%-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n' "$name" "$rps" "$p50" "$p99"
done
RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$WARDEN_PID/status")
printf 'warden peak RSS: %s KiB\n' "$RSS_KB"
awk -v w="${P99[warden]}" -v d="${P99[direct]}" \
	'BEGIN { printf "warden added p99 over direct at -c64: %.3f ms (both cores saturated: see below)\n", w - d }'

# Added latency, the way a user feels it: one connection, one request at a
# time, so that queueing behind a saturated CPU does not hide what the proxy
# itself adds. DESIGN.md's target: added p99 <= 0.5 ms.
latency() { # url -> "p50 p99" in ms
	local out
	out=$(wrk -t1 -c1 -d"${SECONDS_LOAD}s" --latency "$1")
	printf '%s %s\n' "$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" \
		"$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
}
echo "--- one connection, one request at a time (wrk -t1 -c1 -d${SECONDS_LOAD}s)"
declare -A L50 L99
for name in "${NAMES[@]}"; do
	read -r p50 p99 < <(latency "${URLS[$name]}")
	L50[$name]=$p50
	L99[$name]=$p99
	printf '%-8s p50 %7.3f ms  p99 %7.3f ms\n' "$name" "$p50" "$p99"
done
for name in warden haproxy nginx; do
	awk -v n="$name" -v p="${L99[$name]}" -v d="${L99[direct]}" \
		'BEGIN { printf "%s added p99 over direct: %.3f ms\n", n, p - d }'
done
awk -v w="${RPS[warden]}" -v n="${RPS[nginx]}" \
	'BEGIN { printf "warden / nginx: %.2f\n", w / n }'
awk -v w="${RPS[warden]}" -v h="${RPS[haproxy]}" 'BEGIN { printf "ratio %.2f\n", w / h }'
