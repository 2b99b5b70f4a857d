/*
 * tcp.h - the tcp probe kind (see probe.h for the contract of each op).
 */
#ifndef WARDEN_PROBES_TCP_H
#define WARDEN_PROBES_TCP_H

#include "probes/probe.h"

extern const struct probe_ops probe_tcp_ops;

#endif
