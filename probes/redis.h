/*
 * redis.h - the redis probe kind (see probe.h for the contract of each op).
 */
#ifndef WARDEN_PROBES_REDIS_H
#define WARDEN_PROBES_REDIS_H

#include "probes/probe.h"

extern const struct probe_ops probe_redis_ops;

#endif
