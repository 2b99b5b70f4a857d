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
# warden wrote during the flood). Every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${1:-health}
SECONDS_CPU=${BENCH_SECONDS:-10}
FLOOD=${FLOOD:-500}
NOFILE=${NOFILE:-64}
TMP=$(mktemp -d /tmp/warden-emfile.XXXXXX)
PIDS=()

log() { printf '%s\n' "$*" >&2; }

cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	sleep 0.2
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

case "$MODE" in health | proxy | both) ;; *) log "usage: emfile.sh [health|proxy|both]"; exit 2 ;; esac
for tool in curl python3 prlimit; do
	command -v "$tool" >/dev/null || { log "emfile.sh: $tool is missing"; exit 1; }
done
WARDEN_BIN=${WARDEN_BIN:-$ROOT/build/warden}
[ -x "$WARDEN_BIN" ] || { log "emfile.sh: no $WARDEN_BIN (build first)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

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
if [ "$NOFILE" = inuse ]; then
	NOFILE=$(ls "/proc/$PID/fd" | wc -l)
fi
prlimit --pid "$PID" --nofile="$NOFILE:$HARD"
LINES_BEFORE=$(wc -l <"$TMP/warden.log")

python3 - "$PID" "$HEALTH_PORT" "$SECONDS_CPU" "$FLOOD" "$HARD" "${PORTS[@]}" <<'PY'
import os, socket, subprocess, sys, time
pid, health, seconds, flood, hard = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                     int(sys.argv[4]), sys.argv[5])
ports = [int(p) for p in sys.argv[6:]]
import resource
soft_h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft_h, 65536), soft_h))

def ticks():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

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
subprocess.run(["prlimit", "--pid", str(pid), "--nofile=%s:%s" % (hard, hard)], check=True)
t1 = time.monotonic()
answered = None
while time.monotonic() - t1 < 30:
    try:
        with socket.create_connection(("127.0.0.1", health), timeout=1) as s:
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                answered = (time.monotonic() - t1) * 1000
                break
    except OSError:
        pass
    time.sleep(0.05)
print("cpu_percent %.1f livez_after_ms %s" % (cpu, "%.0f" % answered if answered is not None
                                              else "never"), end=" ")
PY
printf 'log_lines %d\n' "$(($(wc -l <"$TMP/warden.log") - LINES_BEFORE))"
printf 'mode %s flood %d per port, soft RLIMIT_NOFILE %s; target: cpu_percent <= 5 and /livez answering\n' "$MODE" "$FLOOD" "$NOFILE"
