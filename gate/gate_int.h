/*
 * gate_int.h - what the gate's modules share, private to gate/. Nothing
 * outside gate/ includes it; the command's API is gate.h.
 *
 *   args.c          gate_parse_args, gate_check_grace: the command line
 *   fence_answer.c  gate_fence_parse: one /fence answer
 *   decide.c        gate_decide and the rest of the pure policy
 *   supervisor.c    gate_run: the loop, the sidecar poll, signals, the child
 *   spawn.c         starting the child in its own process group
 */
#ifndef WARDEN_GATE_GATE_INT_H
#define WARDEN_GATE_GATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gate/gate.h"

static inline int64_t gate_min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * The running child's deadline: the last answer's if that answer is still a
 * verdict for this very child (writable, same epoch and token), else the
 * deadline of the last one that was (view->child_until_ms). Pure.
 */
int64_t gate_decide_child_deadline(const struct gate_view *view);

#define GATE_KEEP_FDS_MAX 64 /* inherited descriptors (>= 3) passed on to the child */

/*
 * Descriptors >= 3 the gate inherited, sorted: the child gets these and 0-2,
 * never what the gate opened itself (curl's sockets, the signalfd). Plain data.
 */
struct gate_spawn_fds {
	int keep[GATE_KEEP_FDS_MAX];
	size_t count;
	bool keep_all;  /* too many or unknown, so nothing is closed */
	unsigned limit; /* RLIMIT_NOFILE, for when close_range(2) is missing */
};

/*
 * Fill *inherited from /proc/self/fd: call it first thing, before the gate
 * opens anything. Never fails: when /proc is unreadable or more than
 * GATE_KEEP_FDS_MAX are open, keep_all is set. Does not block.
 */
void gate_spawn_fds_snapshot(struct gate_spawn_fds *inherited);

/*
 * Start argv (argv[0] looked up on PATH as execvp would, before fork) in a
 * new process group led by it, with WARDEN_EPOCH=epoch,
 * WARDEN_FENCING_TOKEN=token and WARDEN_DEADLINE = the wall-clock time of
 * monotonic `until`, PR_SET_PDEATHSIG SIGKILL, default signal handling, and
 * only 0-2 and `inherited` open. Returns 0 with *pid (also the group id)
 * once execve has succeeded, or -errno (ENOENT, EACCES, ... of the lookup
 * or the execve; nothing runs then, a failed child is reaped). Blocks only
 * until the execve is done or failed. argv is borrowed.
 */
int gate_spawn(char **argv, uint64_t epoch, uint64_t token, int64_t until,
               const struct gate_spawn_fds *inherited, pid_t *pid);

#endif
