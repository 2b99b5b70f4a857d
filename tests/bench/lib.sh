# shellcheck shell=bash
# lib.sh - what every benchmark script here needs, sourced after it has set
# TMP (its scratch directory) and PIDS (an array of the processes it starts).
#
#   log MSG...          a line on stderr
#   stop_pids           stop every process in PIDS (TERM; a second TERM cuts
#                       warden's drain short; KILL after 5 s), remove $TMP
#   free_port           a loopback TCP port that was free a moment ago
#   wait_http URL WHAT  wait up to 10 s for URL to answer 2xx, or exit 1

log() { printf '%s\n' "$*" >&2; }

stop_pids() {
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

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
	for _ in $(seq 100); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	log "$(basename "$0"): $2 did not answer at $1"
	exit 1
}
