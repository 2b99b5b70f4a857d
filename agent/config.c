/* STUB: replaced by the real config loader. */
#include "agent/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

const char *expose_details_str(enum expose_details expose)
{
	switch (expose) {
	case EXPOSE_LOOPBACK: return "loopback";
	case EXPOSE_ALWAYS: return "always";
	case EXPOSE_NEVER: return "never";
	}
	return "unknown";
}

int config_parse_listen(const char *text, char *host, size_t host_size, int *port,
			struct wd_err *err)
{
	(void)err;
	snprintf(host, host_size, "0.0.0.0");
	*port = atoi(strchr(text, ':') ? strchr(text, ':') + 1 : text);
	return 0;
}

int config_load(struct wd_config *cfg, char *const *envp, struct wd_err *err)
{
	(void)envp;
	(void)err;
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen, sizeof(cfg->listen), "0.0.0.0:8089");
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
	cfg->listen_port = 8089;
	cfg->log_level = LOG_INFO;
	cfg->drain_ms = 10000;
	cfg->http_threads = 2;
	cfg->http_max_connections = 1024;
	cfg->http_max_connections_per_ip = 128;
	cfg->http_idle_timeout_ms = 10000;
	return 0;
}

char *config_to_json(const struct wd_config *cfg)
{
	(void)cfg;
	return strdup("{}");
}
