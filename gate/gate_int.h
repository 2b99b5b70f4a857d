/*
 * gate_int.h - what the gate's modules share, private to gate/. Nothing
 * outside gate/ includes it; the command's API is gate.h.
 *
 *   args.c          gate_parse_args, gate_check_grace: the command line
 *   fence_answer.c  gate_fence_parse: one /fence answer
 *   decide.c        gate_decide and the rest of the pure policy
 *   supervisor.c    gate_run: the loop, the sidecar poll, signals, the child
 */
#ifndef WARDEN_GATE_GATE_INT_H
#define WARDEN_GATE_GATE_INT_H

#include <stdint.h>

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

#endif
