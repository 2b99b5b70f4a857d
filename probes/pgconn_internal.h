/*
 * pgconn_internal.h - pgconn.c's pure helpers, for pgconn.c and its unit
 * test (tests/unit/test_probe_pg.c) only. Not an API: the rest of warden
 * uses pgconn.h. Each helper's full contract is above its definition in
 * pgconn.c; none blocks or allocates.
 */
#ifndef WARDEN_PROBES_PGCONN_INTERNAL_H
#define WARDEN_PROBES_PGCONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "probes/outcome.h"

#define PGCONN_HOSTS_MAX 8 /* hosts in one multi-host URI (validate rejects more) */

/* A libpq message as a one-line detail in out[size]: hints dropped, one part per host. */
void pgconn_tidy_message(const char *in, char *out, size_t size);

/* Replace every occurrence of secret in text[size] by "***" (cut to fit). */
void pgconn_redact_secret(char *text, size_t size, const char *secret);

/* Replace every double-quoted token of text[size] not in `shown` by "***". */
void pgconn_redact_quoted(char *text, size_t size, const char *shown);

/* The outcome of a connection-level libpq error text (NULL: network). */
enum probe_outcome pgconn_classify_message(const char *msg);

/* The outcome of a server error by SQLSTATE (NULL or "": server_error). */
enum probe_outcome pgconn_classify_sqlstate(const char *sqlstate);

/* The pause before connect attempt n+1 after n consecutive failures. */
int64_t pgconn_backoff_ms(unsigned failures);

/* Split a comma-separated list into at most max items: the count, or -ENOSPC / -ENAMETOOLONG. */
int pgconn_split_list(const char *list, char (*items)[WD_HOST_MAX + 1], int max);

/* Append item as entry `index` of the comma-separated list[size] of length *len. 0 or -ENOSPC. */
int pgconn_list_add(char *list, size_t size, size_t *len, int index, const char *item);

/* True for a host libpq takes as a unix socket directory (or the default). */
bool pgconn_host_is_socket(const char *host);

/* Count the entries of a comma-separated list ("" is one entry). */
int pgconn_list_count(const char *list);

#endif
