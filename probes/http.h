/*
 * http.h - the http probe kind (see probe.h for the contract of each op).
 */
#ifndef WARDEN_PROBES_HTTP_H
#define WARDEN_PROBES_HTTP_H

#include "probes/probe.h"

extern const struct probe_ops probe_http_ops;

#endif
