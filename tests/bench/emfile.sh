#!/usr/bin/env bash
# emfile.sh - CPU of warden's proxy and of nginx when out of file descriptors.
#
#   WARDEN_BIN=build/warden tests/bench/emfile.sh
#   FLOOD=300 NOFILE=64 SAMPLE_SECONDS=3 tests/bench/emfile.sh
#
# Each proxy runs under `ulimit -n $NOFILE` (default 64) in front of the same
# upstream (nginx, return 200). $FLOOD connections (default 300) are opened
# and held: the proxy runs out of descriptors with connections still waiting
# in its backlog. Its CPU (utime + stime of every process, /proc/PID/stat) is
# sampled over SAMPLE_SECONDS; then the flood is closed and one request must
# be served again. A proxy that spins on EMFILE (its level-triggered
# listener firing at once, forever) shows ~100 % per thread. Prints each
# proxy's CPU % of one core and, as the last line, `ratio <warden / nginx>`.
# Every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NOFILE=${NOFILE:-64}
FLOOD=${FLOOD:-300}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-3}
TMP=$(mktemp -d /tmp/warden-emfile-bench.XXXXXX)
PIDS=()

log() { printf '%s\n' "$*" >&2; }

cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in nginx curl python3; do
	command -v "$tool" >/dev/null || { log "emfile.sh: $tool is missing (make deps)"; exit 1; }
done
WARDEN_BIN=${WARDEN_BIN:-$ROOT/build/warden}
[ -x "$WARDEN_BIN" ] || { log "emfile.sh: no warden at $WARDEN_BIN (build it first)"; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url name
	for _ in $(seq 100); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	log "emfile.sh: $2 did not come up at $1"
	exit 1
}

nginx_conf() { # dir workers body
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<CONF
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
CONF
}

# flood PORT PIDS...: hold FLOOD connections, print CPU % of one core over
# SAMPLE_SECONDS (all PIDS and their children), close, check one request.
flood() {
	python3 - "$FLOOD" "$SAMPLE_SECONDS" "$@" <<'PY'
import os, socket, subprocess, sys, time
flood, seconds, port, pids = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]

def tree(pid):
    out = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        kids = ""
    for k in kids.split():
        out += tree(int(k))
    return out

def cpu(all_pids):
    total = 0
    for p in all_pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")

procs = [q for p in pids for q in tree(int(p))]
socks = []
for _ in range(flood):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
time.sleep(0.5)
c0, t0 = cpu(procs), time.monotonic()
time.sleep(seconds)
share = (cpu(procs) - c0) / (time.monotonic() - t0)
for s in socks:
    s.close()
served = False
deadline = time.monotonic() + 10
while not served and time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            served = s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        time.sleep(0.1)
print("%.1f %d %s" % (100 * share, len(socks), "served" if served else "NOT-served"))
PY
}

# --- upstream: nginx, 1 worker ----------------------------------------------
UP_PORT=$(free_port)
nginx_conf "$TMP/upstream" 1 "	server {
		listen 127.0.0.1:$UP_PORT;
		location / { default_type text/plain; return 200 \"hello, world\n\"; }
	}"
nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" >"$TMP/upstream/stdout.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/" "upstream nginx"

# --- warden's proxy, 2 threads, ulimit -n $NOFILE ----------------------------
echo us-east-1 >"$TMP/active-region"
WARDEN_PORT=$(free_port)
(
	ulimit -n "$NOFILE"
	exec env -i PATH="$PATH" AWS_REGION=us-east-1 WARDEN_LOG_LEVEL=warn WARDEN_DRAIN_SECONDS=0 \
		WARDEN_LISTEN="127.0.0.1:$(free_port)" WARDEN_FLAG="file:$TMP/active-region" \
		WARDEN_PROXY_LISTEN="127.0.0.1:$WARDEN_PORT" \
		WARDEN_PROXY_UPSTREAM="http://127.0.0.1:$UP_PORT" WARDEN_PROXY_THREADS=2 \
		"$WARDEN_BIN" serve
) >"$TMP/warden.out" 2>&1 &
WARDEN_PID=$!
PIDS+=($WARDEN_PID)
wait_http "http://127.0.0.1:$WARDEN_PORT/" "warden proxy"
read -r WARDEN_CPU WARDEN_HELD WARDEN_SERVED < <(flood "$WARDEN_PORT" "$WARDEN_PID")

# --- nginx as the proxy, 2 workers, ulimit -n $NOFILE ------------------------
NGINX_PORT=$(free_port)
nginx_conf "$TMP/proxy" 2 "	upstream app { server 127.0.0.1:$UP_PORT; keepalive 16; }
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / { proxy_pass http://app; proxy_http_version 1.1;
		             proxy_set_header Connection \"\"; }
	}"
(
	ulimit -n "$NOFILE"
	exec nginx -p "$TMP/proxy" -c "$TMP/proxy/nginx.conf"
) >"$TMP/proxy/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=($NGINX_PID)
wait_http "http://127.0.0.1:$NGINX_PORT/" "nginx proxy"
read -r NGINX_CPU NGINX_HELD NGINX_SERVED < <(flood "$NGINX_PORT" "$NGINX_PID")

echo "--- ulimit -n $NOFILE, $FLOOD connections held, CPU over ${SAMPLE_SECONDS}s (% of one core)"
printf 'warden  %6s %%  (%s connected, afterwards %s)\n' "$WARDEN_CPU" "$WARDEN_HELD" "$WARDEN_SERVED"
printf 'nginx   %6s %%  (%s connected, afterwards %s)\n' "$NGINX_CPU" "$NGINX_HELD" "$NGINX_SERVED"
echo "warden accept_paused lines: $(grep -c proxy.accept_paused "$TMP/warden.out" || true)"
python3 -c "import sys; w, n = float(sys.argv[1]), float(sys.argv[2]); print('ratio %.2f' % (w / n) if n > 0 else 'ratio n/a (nginx used no measurable CPU; warden %.1f %%)' % w)" "$WARDEN_CPU" "$NGINX_CPU"
