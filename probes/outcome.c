#include "probes/outcome.h"

static const char *const outcome_names[PROBE_OUTCOME_COUNT] = {
        [PROBE_OK] = "ok",
        [PROBE_TIMEOUT] = "timeout",
        [PROBE_REFUSED] = "refused",
        [PROBE_DNS] = "dns",
        [PROBE_TLS] = "tls",
        [PROBE_AUTH] = "auth",
        [PROBE_BAD_REPLY] = "bad_reply",
        [PROBE_UNEXPECTED_ROLE] = "unexpected_role",
        [PROBE_LAGGING] = "lagging",
        [PROBE_HTTP_STATUS] = "http_status",
        [PROBE_SERVER_ERROR] = "server_error",
        [PROBE_NETWORK] = "network",
        [PROBE_INTERNAL] = "internal",
};

const char *probe_outcome_str(enum probe_outcome outcome)
{
	if ((unsigned)outcome >= PROBE_OUTCOME_COUNT)
		return "unknown";
	return outcome_names[outcome];
}

enum probe_outcome probe_outcome_from_net(enum net_outcome outcome)
{
	switch (outcome) {
	case NET_OK: return PROBE_OK;
	case NET_TIMEOUT: return PROBE_TIMEOUT;
	case NET_REFUSED: return PROBE_REFUSED;
	case NET_DNS: return PROBE_DNS;
	case NET_TLS: return PROBE_TLS;
	case NET_AUTH: return PROBE_AUTH;
	case NET_BAD_REPLY: return PROBE_BAD_REPLY;
	case NET_NETWORK: return PROBE_NETWORK;
	case NET_INTERNAL:
	case NET_OUTCOME_COUNT: break;
	}
	return PROBE_INTERNAL;
}
