/*
 * tcp.c - the tcp probe: `tcp://host:port` is up when a TCP connection to it
 * can be made before the deadline (resolve + connect through net/net.c,
 * then close at once). Nothing is sent; no connection is kept.
 */
#include "probes/tcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"

struct tcp_probe {
	char host[WD_HOST_MAX + 1];
	int port;
};

static int tcp_validate(const struct probe_config *cfg, struct wd_err *err)
{
	const struct wd_uri *uri = &cfg->parsed;

	if (strcmp(uri->scheme, "tcp") != 0)
		return wd_err_set(err, -EINVAL, "tcp probe: scheme must be tcp://, not %s://",
		                  uri->scheme);
	if (uri->host[0] == '\0')
		return wd_err_set(err, -EINVAL, "tcp probe: the URI has no host");
	if (uri->port == 0)
		return wd_err_set(err, -EINVAL,
		                  "tcp probe: the URI has no port (write tcp://host:port)");
	if (uri->user[0] != '\0' || uri->has_password)
		return wd_err_set(err, -EINVAL,
		                  "tcp probe: the URI must not have a user or "
		                  "password (tcp sends nothing)");
	if (cfg->password[0] != '\0')
		return wd_err_set(err, -EINVAL,
		                  "tcp probe: a password is set, but tcp sends "
		                  "nothing");
	if (uri->path[0] != '\0')
		return wd_err_set(err, -EINVAL, "tcp probe: the URI must not have a path");
	if (uri->query[0] != '\0')
		return wd_err_set(err, -EINVAL, "tcp probe: the URI must not have a query");
	return 0;
}

static void *tcp_create(const struct probe_config *cfg, struct wd_err *err)
{
	struct tcp_probe *tcp;

	if (tcp_validate(cfg, err) != 0)
		return NULL;
	tcp = calloc(1, sizeof(*tcp));
	if (tcp == NULL) {
		wd_err_set(err, -ENOMEM, "tcp probe: out of memory");
		return NULL;
	}
	snprintf(tcp->host, sizeof(tcp->host), "%s", cfg->parsed.host);
	tcp->port = cfg->parsed.port;
	return tcp;
}

static void tcp_run(void *ctx, int64_t deadline_mono_ms, struct probe_observation *obs)
{
	struct tcp_probe *tcp = ctx;
	struct net_addr addrs[NET_ADDRS_MAX];
	struct net_status status = {.outcome = NET_OK};
	int count;
	int fd;

	count = net_resolve(tcp->host, tcp->port, deadline_mono_ms, addrs, &status);
	if (count <= 0) {
		probe_fail_net(obs, &status);
		return;
	}
	fd = net_connect(addrs, count, deadline_mono_ms, &status);
	if (fd < 0) {
		probe_fail_net(obs, &status);
		return;
	}
	close(fd);
	obs->outcome = PROBE_OK;
	obs->detail[0] = '\0';
}

static void tcp_destroy(void *ctx)
{
	free(ctx);
}

const struct probe_ops probe_tcp_ops = {
        .kind = PROBE_KIND_TCP,
        .validate = tcp_validate,
        .create = tcp_create,
        .run = tcp_run,
        .destroy = tcp_destroy,
};
