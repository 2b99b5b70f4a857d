/*
 * outcome.h - what one probe run found, as one enum with one to-text
 * function. The same text appears in logs, /status, health bodies and the
 * `result` label of warden_probe_checks_total.
 */
#ifndef WARDEN_PROBES_OUTCOME_H
#define WARDEN_PROBES_OUTCOME_H

#include "net/outcome.h"

enum probe_outcome {
	PROBE_OK,              /* "ok" */
	PROBE_TIMEOUT,         /* "timeout": no answer before the probe's timeout */
	PROBE_REFUSED,         /* "refused": connection refused */
	PROBE_DNS,             /* "dns": the host name did not resolve */
	PROBE_TLS,             /* "tls": handshake or certificate verification failed */
	PROBE_AUTH,            /* "auth": credentials rejected */
	PROBE_BAD_REPLY,       /* "bad_reply": the peer spoke, but not the protocol */
	PROBE_UNEXPECTED_ROLE, /* "unexpected_role": writer/reader is not what `expect` wants */
	PROBE_LAGGING,         /* "lagging": replica lag above max_lag */
	PROBE_HTTP_STATUS,     /* "http_status": status outside the `expect` range */
	PROBE_SERVER_ERROR,    /* "server_error": the server answered with an error */
	PROBE_NETWORK,         /* "network": reset, unreachable, closed mid-reply */
	PROBE_INTERNAL,        /* "internal": warden itself failed (out of memory...) */
	PROBE_OUTCOME_COUNT
};

/* The outcome's text; "unknown" for a value out of range. Never NULL. */
const char *probe_outcome_str(enum probe_outcome outcome);

/* The probe outcome of a network outcome: the one of the same name. */
enum probe_outcome probe_outcome_from_net(enum net_outcome outcome);

#endif
