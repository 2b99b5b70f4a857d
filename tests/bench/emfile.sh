#!/usr/bin/env bash
# emfile.sh - warden's CPU while every descriptor is in use (EMFILE), and
# whether /livez answers again once descriptors free (DESIGN.md, "Numbers it
# must reach": no spin, <= 5 % of a core).
#
#   WARDEN_BIN=build/warden tests/bench/emfile.sh [health|proxy|both]
#   BENCH_SECONDS=10 (CPU measuring window), FLOOD=500 (connections per port)
#   NOFILE=64 (the soft limit set under the running process; `inuse`: exactly
#   the descriptors open at that moment, so that the very first accept fails,
#   as when the proxy or a probe took the last descriptors)
#
# warden starts with its defaults (the start-up check refuses `ulimit -n 64`
# outright since the caps need more), so the limit is lowered under the
# running process instead: its soft RLIMIT_NOFILE drops to 64 (prlimit), and
# FLOOD connections are opened to the chosen listener(s) and held: the health
# port (default), the proxy port, or both. CPU is utime + stime from
# /proc/<pid>/stat over BENCH_SECONDS. Then the flood closes, the limit goes
# back up, and the time until /livez answers is measured.
#
# Prints `cpu_percent <x> livez_after_ms <x> log_lines <n>` (log_lines: what
# warden wrote during the flood). Then, in the same run, nginx (one worker,
# `return 200`) gets the same flood under the same soft limit on its worker,
# printed the same way (`nginx cpu_percent ...`), and the ratio of the two
# CPU figures last. NGINX=0 skips the peer. Every process started here is
# stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${1:-health}
SECONDS_CPU=${BENCH_SECONDS:-10}
FLOOD=${FLOOD:-500}
NOFILE=${NOFILE:-64}
TMP=$(mktemp -d /tmp/warden-emfile.XXXXXX)
PIDS=()

. "$ROOT/tests/bench/lib.sh"

cleanup() { stop_pids; }
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$MODE" in health | proxy | both) ;; *) log "usage: emfile.sh [health|proxy|both]"; exit 2 ;; esac
for tool in curl python3 prlimit; do
	command -v "$tool" >/dev/null || { log "emfile.sh: $tool is missing"; exit 1; }
done
WARDEN_BIN=${WARDEN_BIN:-$ROOT/build/warden}
[ -x "$WARDEN_BIN" ] || { log "emfile.sh: no $WARDEN_BIN (build first)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true


HEALTH_PORT=$(free_port)
PROXY_PORT=$(free_port)
ENV=(PATH="$PATH" WARDEN_LISTEN="127.0.0.1:$HEALTH_PORT" WARDEN_DRAIN_SECONDS=0 WARDEN_LOG_LEVEL=info)
if [ "$MODE" != health ]; then
	printf 'us-east-1' >"$TMP/flag"
	ENV+=(AWS_REGION=us-east-1 WARDEN_FLAG="file:$TMP/flag"
		WARDEN_PROXY_LISTEN="127.0.0.1:$PROXY_PORT"
		WARDEN_PROXY_UPSTREAM="http://127.0.0.1:$(free_port)")
fi
env -i "${ENV[@]}" "$WARDEN_BIN" serve >"$TMP/warden.log" 2>&1 &
PID=$!
PIDS+=("$PID")
for _ in $(seq 100); do
	curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$HEALTH_PORT/livez" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || { log "emfile.sh: warden exited:"; cat "$TMP/warden.log" >&2; exit 1; }
	sleep 0.1
done

PORTS=()
case "$MODE" in
health) PORTS=("$HEALTH_PORT") ;;
proxy) PORTS=("$PROXY_PORT") ;;
both) PORTS=("$HEALTH_PORT" "$PROXY_PORT") ;;
esac

HARD=$(prlimit --pid "$PID" --nofile --raw --noheadings | awk '{print $3}')
NOFILE_ASKED=$NOFILE
if [ "$NOFILE" = inuse ]; then
	NOFILE=$(ls "/proc/$PID/fd" | wc -l)
fi
prlimit --pid "$PID" --nofile="$NOFILE:$HARD"
LINES_BEFORE=$(wc -l <"$TMP/warden.log")

cat >"$TMP/measure.py" <<'PY'
import os, socket, subprocess, sys, time
# argv: the pids whose CPU counts and whose limit goes back up (comma-
# separated), the port and path that must answer 200 afterwards, seconds,
# the flood per port, the hard limit, then the ports to flood.
pids = [int(p) for p in sys.argv[1].split(",")]
health, path, seconds, flood, hard = (int(sys.argv[2]), sys.argv[3], float(sys.argv[4]),
                                      int(sys.argv[5]), sys.argv[6])
ports = [int(p) for p in sys.argv[7:]]
import resource
soft_h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft_h, 65536), soft_h))

def ticks():
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total

socks = []
for port in ports:
    for i in range(flood):
        s = socket.socket()
        s.bind(("127.0.0.%d" % (2 + i % 10), 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks.append(s)
time.sleep(1.0)
hz = os.sysconf("SC_CLK_TCK")
t0, c0 = time.monotonic(), ticks()
time.sleep(seconds)
cpu = (ticks() - c0) / hz / (time.monotonic() - t0) * 100
for s in socks:
    s.close()
for pid in pids:
    # (nginx's worker runs as another user and set its own limit: leave it)
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=%s:%s" % (hard, hard)],
                   stderr=subprocess.DEVNULL)
t1 = time.monotonic()
answered = None
while time.monotonic() - t1 < 30:
    try:
        with socket.create_connection(("127.0.0.1", health), timeout=1) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" % path.encode())
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                answered = (time.monotonic() - t1) * 1000
                break
    except OSError:
        pass
    time.sleep(0.05)
print("cpu_percent %.1f livez_after_ms %s" % (cpu, "%.0f" % answered if answered is not None
                                              else "never"), end=" ")
PY
python3 "$TMP/measure.py" "$PID" "$HEALTH_PORT" /livez "$SECONDS_CPU" "$FLOOD" "$HARD" "${PORTS[@]}" |
	tee "$TMP/warden.result"
printf 'log_lines %d\n' "$(($(wc -l <"$TMP/warden.log") - LINES_BEFORE))"
printf 'mode %s flood %d per port, soft RLIMIT_NOFILE %s; target: cpu_percent <= 5 and /livez answering\n' "$MODE" "$FLOOD" "$NOFILE"

# The peer, in the same run: nginx with one worker under the same soft limit.
[ "${NGINX:-1}" = 0 ] && exit 0
command -v nginx >/dev/null || { log "emfile.sh: nginx is missing: no peer figure"; exit 0; }
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
# nginx's worker runs as another user: it takes the limit itself.
NGINX_NOFILE=$NOFILE_ASKED
[ "$NGINX_NOFILE" = inuse ] && NGINX_NOFILE=32
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NGINX_NOFILE;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log crit;
events { worker_connections 65536; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx;
	proxy_temp_path $TMP/nginx;
	fastcgi_temp_path $TMP/nginx;
	uwsgi_temp_path $TMP/nginx;
	scgi_temp_path $TMP/nginx;
	server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "ok"; } }
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/start.log" &
NGINX_MASTER=$!
PIDS+=("$NGINX_MASTER")
WORKER=
for _ in $(seq 100); do
	WORKER=$(pgrep -P "$NGINX_MASTER" | head -1 || true)
	[ -n "$WORKER" ] && curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null && break
	sleep 0.1
done
[ -n "$WORKER" ] || { log "emfile.sh: nginx did not start"; cat "$TMP/nginx/start.log" >&2; exit 1; }
printf 'nginx '
python3 "$TMP/measure.py" "$WORKER" "$NGINX_PORT" / "$SECONDS_CPU" "$FLOOD" "$HARD" "$NGINX_PORT" |
	tee "$TMP/nginx.result"
printf '\n'
python3 - "$TMP/warden.result" "$TMP/nginx.result" <<'PY'
import sys
cpu = [float(open(p).read().split()[1]) for p in sys.argv[1:3]]
print("ratio warden/nginx cpu: %s" % ("%.2f" % (cpu[0] / cpu[1]) if cpu[1] > 0 else
                                     "n/a (nginx used no measurable CPU; warden %.1f %%)" % cpu[0]))
PY
