/*
 * args.c - the command line of `warden gate`: gate_parse_args, and
 * gate_check_grace, which judges --grace against the sidecar's numbers at
 * its first good answer. Pure but for getenv("WARDEN_LISTEN").
 */
#include "gate/gate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"
#include "fencing/lease.h"

#define GATE_QUOTE_MAX 48 /* user text quoted in an error message */

/* Copy user text for an error message: cut, control bytes as '?'. */
static void quote(const char *text, char *buf, size_t size)
{
	size_t i;

	for (i = 0; text[i] != '\0' && i + 1 < size; i++)
		buf[i] = iscntrl((unsigned char)text[i]) ? '?' : text[i];
	buf[i] = '\0';
	if (text[i] != '\0' && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/* The lease names the sidecar can hold: one rule, lease_name_check's. */
_Static_assert(GATE_NAME_MAX == LEASE_NAME_MAX, "--singleton and lease names differ in length");

static int parse_singleton(const char *value, struct gate_options *out, struct wd_err *err)
{
	if (lease_name_check(value, err) < 0) {
		wd_err_prefix(err, "--singleton");
		return -EINVAL;
	}
	memcpy(out->singleton, value, strlen(value) + 1);
	return 0;
}

static int parse_duration_option(const char *name, const char *value, int64_t min_ms,
                                 int64_t max_ms, int64_t *out, struct wd_err *err)
{
	char quoted[GATE_QUOTE_MAX];
	int64_t ms;

	if (duration_parse(value, &ms, err) < 0) {
		wd_err_prefix(err, "%s", name);
		return -EINVAL;
	}
	if (ms < min_ms || ms > max_ms) {
		char lo[32];
		char hi[32];

		quote(value, quoted, sizeof(quoted));
		duration_format(min_ms, lo, sizeof(lo));
		duration_format(max_ms, hi, sizeof(hi));
		return wd_err_set(err, -EINVAL, "%s '%s': want %s to %s", name, quoted, lo, hi);
	}
	*out = ms;
	return 0;
}

static int parse_sidecar(const char *value, struct gate_options *out, struct wd_err *err)
{
	char quoted[GATE_QUOTE_MAX];
	size_t len = strlen(value);

	quote(value, quoted, sizeof(quoted));
	if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
		return wd_err_set(err, -EINVAL, "--sidecar '%s': want an http:// or https:// URL",
		                  quoted);
	if (len + sizeof("/fence") > sizeof(out->sidecar_url))
		return wd_err_set(err, -EINVAL, "--sidecar '%s': longer than %zu bytes", quoted,
		                  sizeof(out->sidecar_url) - sizeof("/fence"));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c <= ' ' || c >= 0x7f || c == '?' || c == '#')
			return wd_err_set(
			        err, -EINVAL,
			        "--sidecar '%s': spaces, controls, '?' and '#' not allowed",
			        quoted);
	}
	while (len > 0 && value[len - 1] == '/')
		len--;
	if (len > 6 && strncmp(value + len - 6, "/fence", 6) == 0)
		len -= 6; /* the whole /fence URL given: keep its base */
	if (len <= (value[4] == 's' ? strlen("https://") : strlen("http://")))
		return wd_err_set(err, -EINVAL, "--sidecar '%s': no host", quoted);
	memcpy(out->sidecar_url, value, len);
	out->sidecar_url[len] = '\0';
	return 0;
}

/* The default sidecar: loopback (or WARDEN_LISTEN's host) at WARDEN_LISTEN's port. */
static int default_sidecar(gate_parse_listen_fn *parse_listen, struct gate_options *out,
                           struct wd_err *err)
{
	const char *listen = getenv("WARDEN_LISTEN");
	char host[WD_HOST_MAX + 1];
	int port;

	if (listen == NULL || listen[0] == '\0') {
		snprintf(out->sidecar_url, sizeof(out->sidecar_url), "%s", GATE_DEFAULT_SIDECAR);
		return 0;
	}
	if (parse_listen(listen, host, sizeof(host), &port, err) < 0) {
		wd_err_prefix(err, "WARDEN_LISTEN (give --sidecar)");
		return -EINVAL;
	}
	if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		snprintf(out->sidecar_url, sizeof(out->sidecar_url), "http://127.0.0.1:%d", port);
	else if (strcmp(host, "::") == 0)
		snprintf(out->sidecar_url, sizeof(out->sidecar_url), "http://[::1]:%d", port);
	else if (strchr(host, ':') != NULL)
		snprintf(out->sidecar_url, sizeof(out->sidecar_url), "http://[%s]:%d", host, port);
	else
		snprintf(out->sidecar_url, sizeof(out->sidecar_url), "http://%s:%d", host, port);
	return 0;
}

enum gate_opt { OPT_SINGLETON, OPT_GRACE, OPT_SIDECAR, OPT_POLL, OPT_ONCE, OPT_COUNT };

static const char *const opt_names[OPT_COUNT] = {
        [OPT_SINGLETON] = "--singleton", [OPT_GRACE] = "--grace", [OPT_SIDECAR] = "--sidecar",
        [OPT_POLL] = "--poll",           [OPT_ONCE] = "--once",
};

static int apply_option(enum gate_opt opt, const char *value, struct gate_options *out,
                        struct wd_err *err)
{
	switch (opt) {
	case OPT_SINGLETON: return parse_singleton(value, out, err);
	case OPT_GRACE:
		return parse_duration_option("--grace", value, 0, DURATION_MAX_MS, &out->grace_ms,
		                             err);
	case OPT_SIDECAR: return parse_sidecar(value, out, err);
	case OPT_POLL:
		return parse_duration_option("--poll", value, GATE_POLL_MIN_MS, GATE_POLL_MAX_MS,
		                             &out->poll_ms, err);
	case OPT_ONCE: out->once = true; return 0;
	case OPT_COUNT: break;
	}
	return wd_err_set(err, -EINVAL, "internal: bad option");
}

int gate_parse_args(int argc, char **argv, gate_parse_listen_fn *parse_listen,
                    struct gate_options *out, struct wd_err *err)
{
	bool seen[OPT_COUNT] = {false};
	char quoted[GATE_QUOTE_MAX];
	int i;

	memset(out, 0, sizeof(*out));
	out->grace_ms = GATE_DEFAULT_GRACE_MS;
	out->poll_ms = GATE_DEFAULT_POLL_MS;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq;
		const char *value;
		size_t name_len;
		int opt;

		if (strcmp(arg, "--") == 0)
			break;
		quote(arg, quoted, sizeof(quoted));
		if (strncmp(arg, "--", 2) != 0)
			return wd_err_set(err, -EINVAL,
			                  "unexpected argument '%s' (put '--' before CMD)", quoted);
		eq = strchr(arg, '=');
		name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		for (opt = 0; opt < OPT_COUNT; opt++) {
			if (strlen(opt_names[opt]) == name_len &&
			    strncmp(arg, opt_names[opt], name_len) == 0)
				break;
		}
		if (opt == OPT_COUNT)
			return wd_err_set(err, -EINVAL, "unknown option '%s'", quoted);
		if (seen[opt])
			return wd_err_set(err, -EINVAL, "%s given twice", opt_names[opt]);
		seen[opt] = true;
		if (opt == OPT_ONCE) {
			if (eq != NULL)
				return wd_err_set(err, -EINVAL, "--once takes no value");
			out->once = true;
			continue;
		}
		if (eq != NULL) {
			value = eq + 1;
		} else {
			if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)
				return wd_err_set(err, -EINVAL, "%s needs a value", opt_names[opt]);
			value = argv[++i];
		}
		if (value[0] == '\0')
			return wd_err_set(err, -EINVAL, "%s: empty value", opt_names[opt]);
		if (apply_option((enum gate_opt)opt, value, out, err) < 0)
			return -EINVAL;
	}
	if (i >= argc)
		return wd_err_set(err, -EINVAL, "missing '--' before CMD");
	if (i + 1 >= argc || argv[i + 1] == NULL || argv[i + 1][0] == '\0')
		return wd_err_set(err, -EINVAL, "missing CMD after '--'");
	out->argv = &argv[i + 1];
	if (!seen[OPT_SIDECAR])
		return default_sidecar(parse_listen, out, err);
	return 0;
}

int gate_check_grace(int64_t grace_ms, const struct gate_fence *answer, struct wd_err *err)
{
	int64_t room = answer->ttl_ms - answer->typical_fence_ms;
	char grace[32];
	char ttl[32];
	char typical[32];
	char left[32];

	if (answer->ttl_ms <= 0 || grace_ms < room)
		return 0;
	duration_format(grace_ms, grace, sizeof(grace));
	duration_format(answer->ttl_ms, ttl, sizeof(ttl));
	duration_format(answer->typical_fence_ms, typical, sizeof(typical));
	duration_format(room > 0 ? room : 0, left, sizeof(left));
	return wd_err_set(err, -EINVAL,
	                  "--grace %s leaves no room: it must be below the sidecar's ttl %s - "
	                  "typical fence time %s = %s (the child must be dead by writable_until)",
	                  grace, ttl, typical, left);
}
