/*
 * gate.h - `warden gate [--singleton NAME] [--grace 30s] [--sidecar URL] --
 * CMD ARGS...`: run a worker or cron process only while the sidecar says this
 * task may write (and, with --singleton, while the sidecar holds that lease).
 *
 * It polls the sidecar's GET /fence (see DESIGN.md for the JSON), starts CMD
 * when allowed, sends SIGTERM then SIGKILL after --grace when not, restarts it
 * when allowed again (with backoff if it keeps crashing), stops it if the
 * sidecar is unreachable for the TTL it last reported, or as soon as the
 * writable_for_ms of its last good answer runs out, and forwards
 * SIGTERM/SIGINT to the child, exiting with its status.
 */
#ifndef WARDEN_FENCING_GATE_H
#define WARDEN_FENCING_GATE_H

#include <stdint.h>

#include "agent/err.h"
#include "agent/limits.h"

#define GATE_NAME_MAX 64

struct gate_options {
	char singleton[GATE_NAME_MAX + 1];    /* "" = no lease needed */
	int64_t grace_ms;                     /* --grace, default 30s */
	char sidecar_url[WD_LISTEN_MAX + 64]; /* --sidecar, default http://127.0.0.1:8089 */
	int64_t poll_ms;                      /* how often /fence is asked, default 1s */
	char **argv;                          /* CMD ARGS..., NULL-terminated, borrowed */
};

/*
 * Parse `warden gate` arguments (argv[0] is "gate"). Returns 0, or -EINVAL
 * with err naming the bad argument.
 */
int gate_parse_args(int argc, char **argv, struct gate_options *out, struct wd_err *err);

/* Run until the child is done for good or a signal stops us; returns the exit status. */
int gate_run(const struct gate_options *opts);

#endif
