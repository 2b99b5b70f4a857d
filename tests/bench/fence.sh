#!/usr/bin/env bash
# fence.sh - time from a flag write to refused writes (file: source), against
# the contract in DESIGN.md: <= interval x 1.2 + 100 ms.
#
#   tests/bench/fence.sh                                   # builds build/warden if needed
#   WARDEN_BIN=build/warden BENCH_FLIPS=20 BENCH_INTERVAL_MS=1000 tests/bench/fence.sh
#
# One warden with WARDEN_FLAG=file:<tmp>/active-region, WARDEN_FLAG_INTERVAL=1s
# (BENCH_INTERVAL_MS), AWS_REGION=us-east-1. BENCH_FLIPS times (default 20):
# wait a random offset within the interval, write us-west-2 (a temp file
# renamed into place; the clock starts just before the rename) and poll
# /activez in a tight loop on one keep-alive connection until it answers 503;
# then flip back to us-east-1 the same way (timed until 200, reported apart:
# the contract is about refused writes).
#
# Prints every sample, p50 / p99 / max of each direction, and as the LAST line
# `ratio <fence p99 / (interval x 1.2 + 100 ms)>` (<= 1.00 meets the contract).
# Every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FLIPS=${BENCH_FLIPS:-20}
INTERVAL_MS=${BENCH_INTERVAL_MS:-1000}
TMP=$(mktemp -d /tmp/warden-fence-bench.XXXXXX)
WARDEN_PID=""

log() { printf '%s\n' "$*" >&2; }

cleanup() {
	set +e
	if [ -n "$WARDEN_PID" ]; then
		kill -TERM "$WARDEN_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$WARDEN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$WARDEN_PID" 2>/dev/null
		wait "$WARDEN_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3) || { log "fence.sh: python3 is missing"; exit 1; }

if [ -z "${WARDEN_BIN:-}" ]; then
	if [ ! -f "$ROOT/build/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
	cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null
	WARDEN_BIN=$ROOT/build/warden
fi

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FLAG=$TMP/active-region
printf 'us-east-1\n' >"$FLAG"

env -i PATH="$PATH" AWS_REGION=us-east-1 WARDEN_LISTEN="127.0.0.1:$PORT" \
	WARDEN_DRAIN_SECONDS=0 WARDEN_LOG_LEVEL=warn WARDEN_FLAG="file:$FLAG" \
	WARDEN_FLAG_INTERVAL="${INTERVAL_MS}ms" WARDEN_FLAG_TIMEOUT=100ms \
	WARDEN_FLAG_TTL=30s "$WARDEN_BIN" >"$TMP/warden.log" 2>&1 &
WARDEN_PID=$!

"$PYTHON" - "$PORT" "$FLAG" "$FLIPS" "$INTERVAL_MS" <<'EOF'
import http.client
import os
import random
import sys
import time

port, flag, flips, interval_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
interval = interval_ms / 1000.0
conn = None


def activez():
    """/activez's status on one keep-alive connection (reconnect on error)."""
    global conn
    for _ in range(2):
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/activez")
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
    return None


def write(region):
    tmp = flag + ".tmp"
    with open(tmp, "w") as f:
        f.write(region + "\n")
    t = time.monotonic()
    os.rename(tmp, flag)
    return t


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


start = time.monotonic()
while activez() != 200:
    if time.monotonic() - start > 15:
        sys.exit("fence.sh: warden never became writable (see its log)")
    time.sleep(0.02)

limit = 5 * interval + 1
fence, unfence, polls = [], [], []
for i in range(flips):
    for region, code, out in (("us-west-2", 503, fence), ("us-east-1", 200, unfence)):
        time.sleep(random.uniform(0, interval))
        t = write(region)
        took, n = None, 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            n += 1
            if activez() == code:
                took = time.monotonic() - t
                break
        if took is None:
            sys.exit("fence.sh: /activez never answered %d after writing %s" % (code, region))
        out.append(took * 1000)
        polls.append(n)
    print("flip %2d: fenced after %7.1f ms, writable again after %7.1f ms"
          % (i + 1, fence[-1], unfence[-1]))

bound = interval_ms * 1.2 + 100
print("polls of /activez per flip: median %d (one keep-alive connection, back to back)"
      % sorted(polls)[len(polls) // 2])
for name, v in (("fence (write -> 503)", fence), ("unfence (write -> 200)", unfence)):
    print("%-22s n=%d p50 %.1f ms  p99 %.1f ms  max %.1f ms" % (name, len(v), pct(v, 50),
                                                                pct(v, 99), max(v)))
print("contract: interval x 1.2 + 100 ms = %.0f ms (interval %d ms)" % (bound, interval_ms))
print("ratio %.2f" % (pct(fence, 99) / bound))
EOF
