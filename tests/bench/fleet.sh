#!/usr/bin/env bash
# fleet.sh - a fleet of wardens on one machine against three rate-limited fake
# SSM regions: steady-state read and throttle rates per region, and the time
# from a confirmed `warden flag set` to every old-region task being fenced,
# with all regions up and with the old region's SSM degraded (issue 11).
#
#   tests/bench/fleet.sh                         # 200 tasks; builds build/warden if needed
#   BENCH_TASKS=50 BENCH_FAULT=stop tests/bench/fleet.sh
#
# Settings (environment):
#   WARDEN_BIN       the binary (default: build/warden, built if missing)
#   BENCH_TASKS      wardens to run (200); half AWS_REGION=us-east-1, half us-west-2
#   BENCH_INTERVAL / BENCH_TIMEOUT / BENCH_TTL   flag timing (5s / 2s / 30s, the
#                    defaults and the runbook's: 200 tasks / 5 s = 40 reads/s per region)
#   BENCH_RATE       GetParameter/s each fake allows (40, SSM's default quota)
#   BENCH_STEADY     seconds of steady state measured (25)
#   BENCH_FAULT      what happens to us-east-1's SSM during the third flip:
#                    throttle (get_rate_limit BENCH_FAULT_RATE, default 1/s),
#                    stop (its fake SIGSTOPped: a black hole), stall (requests
#                    read and never answered)
#
# Three fake_aws.py processes (us-east-1 primary, us-west-2 standby, us-east-2
# witness), each with a GetParameter token bucket of BENCH_RATE/s; every
# warden has WARDEN_FLAG = the three as ssm: sources (?region=&endpoint=),
# quorum majority, static credentials, no probe, WARDEN_HTTP_THREADS=1 and
# WARDEN_HTTP_MAX_CONNECTIONS=16 (86 descriptors needed per task). The work is
# in fleet.py (its docstring describes the phases). Prints one table (stdout);
# exits 1 if a task of the old region was not fenced within worst_case (= ttl)
# or a flip did not confirm. About 2-3 minutes; every process started is
# stopped on exit.
# shellcheck disable=SC2317  # ours and cleanup run from the EXIT trap
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/warden-fleet-bench.XXXXXX)
PIDFILE=$TMP/pids
HELPER_PID=""
: >"$PIDFILE"

log() { printf '%s\n' "$*" >&2; }

# A pid the helper started is ours while it is still a warden or a fake_aws.py
# (a pid of a process that exited may have been reused since).
ours() {
	local cmd
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	case "$cmd" in
	"$WARDEN_BIN serve"*|*/fake_aws.py*) return 0 ;;
	*) return 1 ;;
	esac
}

cleanup() {
	set +e
	if [ -n "$HELPER_PID" ]; then
		kill -TERM "$HELPER_PID" 2>/dev/null
		for _ in $(seq 150); do kill -0 "$HELPER_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	# Whatever the helper left running (it was killed, or died before its
	# own cleanup wrote "stopped"): by id only.
	if ! grep -qx stopped "$PIDFILE"; then
		while read -r pid; do
			case "$pid" in '' | stopped) continue ;; esac
			if ours "$pid"; then
				kill -CONT "$pid" 2>/dev/null
				kill -KILL "$pid" 2>/dev/null
			fi
		done <"$PIDFILE"
	fi
	[ -n "${BENCH_KEEP:-}" ] && { log "fleet.sh: logs kept in $TMP"; return; }
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || { log "fleet.sh: /usr/bin/python3 is missing"; exit 1; }
"$PYTHON" -c 'import botocore' 2>/dev/null || { log "fleet.sh: python3-botocore is missing (the fake needs it)"; exit 1; }

if [ -z "${WARDEN_BIN:-}" ]; then
	if [ ! -f "$ROOT/build/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
	cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null
	WARDEN_BIN=$ROOT/build/warden
fi

WARDEN_BIN=$(realpath "$WARDEN_BIN")
TASKS=${BENCH_TASKS:-200}
# Each warden needs 86 descriptors (16 connections + 64 + 2 x 3 sources) and this
# shell's children share nothing, but the fakes hold one connection per task and
# source; the sweep of /fence opens up to 32 at a time.
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((TASKS * 2 + 256)) ]; then
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

"$PYTHON" "$ROOT/tests/bench/fleet.py" --warden "$WARDEN_BIN" --tmp "$TMP" --pidfile "$PIDFILE" \
	--tasks "$TASKS" --interval "${BENCH_INTERVAL:-5s}" --timeout "${BENCH_TIMEOUT:-2s}" \
	--ttl "${BENCH_TTL:-30s}" --rate "${BENCH_RATE:-40}" --steady "${BENCH_STEADY:-25}" \
	--fault "${BENCH_FAULT:-throttle}" --fault-rate "${BENCH_FAULT_RATE:-1}" &
HELPER_PID=$!
set +e
wait "$HELPER_PID"
rc=$?
set -e
HELPER_PID=""
exit "$rc"
