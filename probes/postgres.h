/*
 * postgres.h - the postgres probe kind (see probe.h for the contract of each op).
 */
#ifndef WARDEN_PROBES_POSTGRES_H
#define WARDEN_PROBES_POSTGRES_H

#include "probes/probe.h"

extern const struct probe_ops probe_pg_ops;

#endif
