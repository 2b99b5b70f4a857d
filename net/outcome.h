/*
 * outcome.h - how one network operation ended (resolve, connect, read,
 * write, one HTTP request), as one enum with one to-text function, and the
 * small status struct that carries it with a detail.
 *
 * The network layer has its own outcome so that it knows nothing of its
 * users: probes/ translates a net outcome into a probe outcome
 * (probe_fail_net), aws/ into an AWS outcome (aws_outcome_from_transfer).
 * The texts are the ones the probe outcomes of the same name use.
 */
#ifndef WARDEN_NET_OUTCOME_H
#define WARDEN_NET_OUTCOME_H

#include "lib/limits.h"

enum net_outcome {
	NET_OK,        /* "ok" */
	NET_TIMEOUT,   /* "timeout": the deadline passed first */
	NET_REFUSED,   /* "refused": connection refused */
	NET_DNS,       /* "dns": the host name did not resolve */
	NET_TLS,       /* "tls": handshake or certificate verification failed */
	NET_AUTH,      /* "auth": the peer refused the login (HTTP basic through curl) */
	NET_BAD_REPLY, /* "bad_reply": the peer spoke, but not the protocol */
	NET_NETWORK,   /* "network": reset, unreachable, closed mid-reply */
	NET_INTERNAL,  /* "internal": warden itself failed (out of memory, bad request...) */
	NET_OUTCOME_COUNT
};

/* The outcome's text; "unknown" for a value out of range. Never NULL. */
const char *net_outcome_str(enum net_outcome outcome);

/* What a failed network call saw. Plain data, caller-owned. */
struct net_status {
	enum net_outcome outcome;
	char detail[WD_ERR_MSG_MAX]; /* why, for people; no secret; "" when ok */
};

/*
 * Set status->outcome and format status->detail (cut to fit, ending in
 * "..."). Returns outcome.
 */
enum net_outcome net_fail(struct net_status *status, enum net_outcome outcome, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
