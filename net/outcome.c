#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "net/outcome.h"

static const char *const outcome_names[NET_OUTCOME_COUNT] = {
        [NET_OK] = "ok",
        [NET_TIMEOUT] = "timeout",
        [NET_REFUSED] = "refused",
        [NET_DNS] = "dns",
        [NET_TLS] = "tls",
        [NET_AUTH] = "auth",
        [NET_BAD_REPLY] = "bad_reply",
        [NET_NETWORK] = "network",
        [NET_INTERNAL] = "internal",
};

const char *net_outcome_str(enum net_outcome outcome)
{
	if ((unsigned)outcome >= NET_OUTCOME_COUNT)
		return "unknown";
	return outcome_names[outcome];
}

enum net_outcome net_fail(struct net_status *status, enum net_outcome outcome, const char *fmt, ...)
{
	status->outcome = outcome;
	WD_ERR_FORMAT_ARGS(status->detail, sizeof(status->detail), fmt);
	return outcome;
}
