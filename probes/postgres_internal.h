/*
 * postgres_internal.h - postgres.c's pure helpers, for postgres.c and its
 * unit test (tests/unit/test_probe_pg.c) only. Not an API: the rest of
 * warden uses postgres.h (probe_pg_ops). Each helper's full contract is
 * above its definition in postgres.c; none blocks or allocates.
 */
#ifndef WARDEN_PROBES_POSTGRES_INTERNAL_H
#define WARDEN_PROBES_POSTGRES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probes/outcome.h"
#include "probes/probe.h"

#define PG_QUERY_MAX 1024 /* the role query text */

/* Which Aurora functions the server has (bits of pg_probe.aurora). */
enum {
	PG_AURORA_REPLICA_STATUS = 1 << 0,  /* aurora_replica_status() */
	PG_AURORA_GLOBAL_STATUS = 1 << 1,   /* aurora_global_db_status() */
	PG_AURORA_GLOBAL_INSTANCE = 1 << 2, /* aurora_global_db_instance_status() */
	PG_AURORA_INSTANCE_ID = 1 << 3,     /* aurora_db_instance_identifier() */
};

/* A duration as people write it in config: "5s", "1500ms", "2m". */
void pg_format_ms(int64_t ms, char *buf, size_t size);

/* The role query for a server with the PG_AURORA_* functions `aurora`. 0 or -ENOSPC. */
int pg_build_role_query(unsigned aurora, char *out, size_t size);

/* Judge role and lag against cfg's expectations, fill obs; returns the outcome. */
enum probe_outcome pg_judge(const struct probe_config *cfg, enum db_role role, bool has_lag,
                            double lag_seconds, struct probe_observation *obs);

#endif
