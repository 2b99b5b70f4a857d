/*
 * spec.c - a probe's definition: `<uri>#<options>`, or the same fields set one
 * by one from a WARDEN_CONFIG file. One table of options serves both.
 */
#include "probes/spec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "lib/duration.h"
#include "lib/text.h"

#define SPEC_SCHEME_CHARS     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
#define SPEC_KINDS_HINT       "want postgres, postgresql, redis, rediss, http, https or tcp"
#define SPEC_TIMEOUT_MIN_MS   10
#define SPEC_INTERVAL_MAX_MS  (3600LL * 1000)
#define SPEC_RISE_FALL_MAX    100
#define SPEC_STATUS_MIN       100
#define SPEC_STATUS_MAX       599
#define SPEC_SUGGEST_DISTANCE 2 /* edits at most, for "did you mean" */

#define KIND_BIT(kind) (1u << (kind))
#define KINDS_ALL      (KIND_BIT(PROBE_KIND_COUNT) - 1)

/* Defaults, as documented in probe.h and DESIGN.md. */
#define SPEC_DEFAULT_INTERVAL_MS 5000
#define SPEC_DEFAULT_TIMEOUT_MS  2000
#define SPEC_DEFAULT_RISE        2
#define SPEC_DEFAULT_FALL        3
#define SPEC_DEFAULT_STATUS_MIN  200
#define SPEC_DEFAULT_STATUS_MAX  399

/* ---- names and defaults ------------------------------------------------- */

int probe_name_check(const char *name, struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	size_t len;

	if (name == NULL || name[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty probe name");
	wd_err_quote(name, quoted, sizeof(quoted));
	len = strlen(name);
	if (len > WD_PROBE_NAME_MAX)
		return wd_err_set(err, -EINVAL, "probe name '%s' longer than %d characters", quoted,
		                  WD_PROBE_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return wd_err_set(err, -EINVAL,
			                  "bad probe name '%s' (want a-z, 0-9 and _ only)", quoted);
	}
	return 0;
}

void probe_config_defaults(struct probe_config *cfg, const char *name)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", name ? name : "");
	cfg->kind = PROBE_KIND_COUNT; /* unknown until probe_config_set_uri */
	cfg->critical = true;
	cfg->interval_ms = SPEC_DEFAULT_INTERVAL_MS;
	cfg->timeout_ms = SPEC_DEFAULT_TIMEOUT_MS;
	cfg->start_period_ms = 0;
	cfg->rise = SPEC_DEFAULT_RISE;
	cfg->fall = SPEC_DEFAULT_FALL;
	cfg->expect_role = EXPECT_ROLE_WRITER_WHEN_ACTIVE;
	cfg->expect_status_min = SPEC_DEFAULT_STATUS_MIN;
	cfg->expect_status_max = SPEC_DEFAULT_STATUS_MAX;
	cfg->max_lag_ms = -1;
}

/* ---- the target --------------------------------------------------------- */

static const struct {
	const char *scheme;
	enum probe_kind kind;
} spec_schemes[] = {
        {"postgres", PROBE_KIND_POSTGRES}, {"postgresql", PROBE_KIND_POSTGRES},
        {"redis", PROBE_KIND_REDIS},       {"rediss", PROBE_KIND_REDIS},
        {"http", PROBE_KIND_HTTP},         {"https", PROBE_KIND_HTTP},
        {"tcp", PROBE_KIND_TCP},
};

/*
 * Copy libpq's error message into buf, first line only, with every quoted
 * piece of the URI replaced by "...": libpq quotes whole URIs and
 * percent-encoded tokens, which may hold the password. Kept: the name of an
 * unknown query parameter, and single punctuation characters.
 */
static void spec_pq_message(const char *msg, char *buf, size_t size)
{
	bool keep_names = strncmp(msg, "invalid URI query parameter", 27) == 0;
	size_t len = 0;

	while (*msg != '\0' && *msg != '\n' && len + 1 < size) {
		const char *quoted = msg + 1;
		const char *close;
		const char *piece;
		size_t quoted_len;
		size_t piece_len;
		bool keep;

		if (*msg != '"') {
			unsigned char c = (unsigned char)*msg++;

			buf[len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
			continue;
		}
		close = strchr(quoted, '"');
		if (close == NULL)
			break;
		quoted_len = (size_t)(close - quoted);
		keep = quoted_len == 1 && strchr("]:/=", quoted[0]) != NULL;
		if (keep_names && quoted_len > 0 && quoted_len <= WD_QUOTE_MAX) {
			keep = true;
			for (size_t i = 0; i < quoted_len; i++) {
				if (!((quoted[i] >= 'a' && quoted[i] <= 'z') || quoted[i] == '_'))
					keep = false;
			}
		}
		piece = keep ? quoted : "...";
		piece_len = keep ? quoted_len : 3;
		if (len + piece_len + 2 >= size)
			break;
		buf[len++] = '"';
		memcpy(buf + len, piece, piece_len);
		len += piece_len;
		buf[len++] = '"';
		msg = close + 1;
	}
	buf[len] = '\0';
}

static int spec_check_postgres(const char *uri, struct wd_err *err)
{
	char message[WD_ERR_MSG_MAX];
	char *pq_error = NULL;
	PQconninfoOption *options;
	ssize_t bad;

	if (strncmp(uri, "postgres://", 11) != 0 && strncmp(uri, "postgresql://", 13) != 0)
		return wd_err_set(err, -EINVAL,
		                  "bad URI: want postgres:// or postgresql:// (lowercase, with "
		                  "'//'; keyword=value strings are not accepted)");
	bad = text_find_unprintable(uri, strlen(uri));
	if (bad >= 0)
		return wd_err_set(err, -EINVAL,
		                  "bad URI: a space, control character or non-ASCII byte at offset "
		                  "%zd (percent-encode it)",
		                  bad);
	options = PQconninfoParse(uri, &pq_error);
	if (options == NULL) {
		if (pq_error == NULL)
			return wd_err_set(err, -ENOMEM, "bad URI: out of memory");
		spec_pq_message(pq_error, message, sizeof(message));
		PQfreemem(pq_error);
		return wd_err_set(err, -EINVAL, "bad URI: %s", message);
	}
	PQconninfoFree(options);
	return 0;
}

int probe_config_set_uri(struct probe_config *cfg, const char *uri, struct wd_err *err)
{
	char scheme[16];
	char quoted[WD_QUOTE_MAX + 4];
	size_t scheme_len;
	size_t len;
	bool found = false;
	enum probe_kind kind = PROBE_KIND_COUNT;
	int rc;

	if (uri == NULL || uri[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty URI");
	len = strnlen(uri, WD_URI_MAX + 1);
	if (len > WD_URI_MAX)
		return wd_err_set(err, -EINVAL, "URI longer than %d bytes", WD_URI_MAX);
	if (strchr(uri, '#') != NULL)
		return wd_err_set(err, -EINVAL,
		                  "bad URI: it has a '#' (options go in their own keys; "
		                  "percent-encode '#' in a password as %%23)");
	scheme_len = strspn(uri, SPEC_SCHEME_CHARS);
	if (scheme_len == 0 || uri[scheme_len] != ':')
		return wd_err_set(err, -EINVAL, "bad URI: no scheme (%s)", SPEC_KINDS_HINT);
	if (scheme_len < sizeof(scheme)) {
		for (size_t i = 0; i < scheme_len; i++) {
			char c = uri[i];

			scheme[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		scheme[scheme_len] = '\0';
		for (size_t i = 0; i < sizeof(spec_schemes) / sizeof(spec_schemes[0]); i++) {
			if (strcmp(scheme, spec_schemes[i].scheme) == 0) {
				kind = spec_schemes[i].kind;
				found = true;
				break;
			}
		}
	}
	/*
	 * Quoted only when URI-shaped with a scheme of letters ("mysql://"):
	 * anything else ("S3cr3t:v@lue") may be a secret in the wrong variable.
	 */
	if (!found &&
	    (strncmp(uri + scheme_len, "://", 3) != 0 ||
	     strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != scheme_len))
		return wd_err_set(err, -EINVAL, "not a probe URI (want <kind>://...; %s)",
		                  SPEC_KINDS_HINT);
	if (!found) {
		char scheme_text[sizeof(scheme)];

		snprintf(scheme_text, sizeof(scheme_text), "%.*s", (int)scheme_len, uri);
		wd_err_quote(scheme_text, quoted, sizeof(quoted));
		return wd_err_set(err, -EINVAL, "unknown probe kind '%s%s' (%s)", quoted,
		                  scheme_len >= sizeof(scheme) ? "..." : "", SPEC_KINDS_HINT);
	}
	if (kind == PROBE_KIND_POSTGRES) {
		rc = spec_check_postgres(uri, err);
		if (rc < 0)
			return rc;
		memset(&cfg->parsed, 0, sizeof(cfg->parsed));
	} else {
		rc = uri_parse(uri, &cfg->parsed, err);
		if (rc < 0) {
			wd_err_prefix(err, "bad URI");
			return rc;
		}
	}
	cfg->kind = kind;
	memcpy(cfg->uri, uri, len + 1);
	uri_redact(uri, cfg->target, sizeof(cfg->target));
	return 0;
}

/* ---- options ------------------------------------------------------------ */

/* Parse 1..100 (rise, fall): digits only. */
static int spec_parse_count(const char *value, unsigned *out)
{
	unsigned number = 0;

	if (value[0] == '\0')
		return -EINVAL;
	for (const char *p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		number = number * 10 + (unsigned)(*p - '0');
		if (number > SPEC_RISE_FALL_MAX)
			return -ERANGE;
	}
	if (number < 1)
		return -ERANGE;
	*out = number;
	return 0;
}

/* Three digits, 100..599. Returns the length used (3) or -EINVAL. */
static int spec_parse_status(const char *p, int *out)
{
	int status = 0;

	for (int i = 0; i < 3; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		status = status * 10 + (p[i] - '0');
	}
	if (status < SPEC_STATUS_MIN || status > SPEC_STATUS_MAX)
		return -EINVAL;
	*out = status;
	return 3;
}

static int spec_set_critical(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	if (strcmp(value, "true") == 0)
		cfg->critical = true;
	else if (strcmp(value, "false") == 0)
		cfg->critical = false;
	else
		return wd_err_set(err, -EINVAL, "want true or false");
	return 0;
}

static int spec_set_duration(int64_t *field, const char *value, struct wd_err *err)
{
	int64_t ms;
	int rc = duration_parse(value, &ms, err);

	if (rc < 0)
		return rc;
	*field = ms;
	return 0;
}

static int spec_set_interval(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	return spec_set_duration(&cfg->interval_ms, value, err);
}

static int spec_set_timeout(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	return spec_set_duration(&cfg->timeout_ms, value, err);
}

static int spec_set_start_period(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	return spec_set_duration(&cfg->start_period_ms, value, err);
}

static int spec_set_max_lag(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	return spec_set_duration(&cfg->max_lag_ms, value, err);
}

static int spec_set_count(unsigned *field, const char *value, struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];

	if (spec_parse_count(value, field) < 0) {
		wd_err_quote(value, quoted, sizeof(quoted));
		return wd_err_set(err, -EINVAL, "want an integer from 1 to %d, got '%s'",
		                  SPEC_RISE_FALL_MAX, quoted);
	}
	return 0;
}

static int spec_set_rise(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	return spec_set_count(&cfg->rise, value, err);
}

static int spec_set_fall(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	return spec_set_count(&cfg->fall, value, err);
}

static int spec_set_expect(struct probe_config *cfg, const char *value, struct wd_err *err)
{
	static const enum probe_expect_role roles[] = {
	        EXPECT_ROLE_WRITER_WHEN_ACTIVE,
	        EXPECT_ROLE_WRITER,
	        EXPECT_ROLE_READER,
	        EXPECT_ROLE_ANY,
	};
	char quoted[WD_QUOTE_MAX + 4];
	int min;
	int max;
	int n;

	wd_err_quote(value, quoted, sizeof(quoted));
	if (cfg->kind == PROBE_KIND_POSTGRES) {
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
			if (strcmp(value, probe_expect_role_str(roles[i])) == 0) {
				cfg->expect_role = roles[i];
				return 0;
			}
		}
		return wd_err_set(err, -EINVAL,
		                  "bad role '%s' (want writer, reader, any or writer-when-active)",
		                  quoted);
	}
	/* http: NNN or NNN-NNN */
	n = spec_parse_status(value, &min);
	if (n < 0)
		goto bad_status;
	max = min;
	if (value[n] == '-') {
		int m = spec_parse_status(value + n + 1, &max);

		if (m < 0)
			goto bad_status;
		n += 1 + m;
	}
	if (value[n] != '\0')
		goto bad_status;
	if (min > max)
		return wd_err_set(err, -EINVAL, "bad status range '%s': %d is more than %d", quoted,
		                  min, max);
	cfg->expect_status_min = min;
	cfg->expect_status_max = max;
	return 0;
bad_status:
	return wd_err_set(err, -EINVAL,
	                  "bad status range '%s' (want NNN or NNN-NNN within 100..599, e.g. "
	                  "200-299)",
	                  quoted);
}

struct spec_option {
	const char *name;
	enum probe_option_form form;
	unsigned kinds; /* KIND_BIT()s of the kinds it applies to */
	int (*set)(struct probe_config *cfg, const char *value, struct wd_err *err);
};

static const struct spec_option spec_options[] = {
        {"critical", PROBE_OPTION_BOOL, KINDS_ALL, spec_set_critical},
        {"interval", PROBE_OPTION_STRING, KINDS_ALL, spec_set_interval},
        {"timeout", PROBE_OPTION_STRING, KINDS_ALL, spec_set_timeout},
        {"start_period", PROBE_OPTION_STRING, KINDS_ALL, spec_set_start_period},
        {"rise", PROBE_OPTION_INTEGER, KINDS_ALL, spec_set_rise},
        {"fall", PROBE_OPTION_INTEGER, KINDS_ALL, spec_set_fall},
        {"expect", PROBE_OPTION_STRING, KIND_BIT(PROBE_KIND_POSTGRES) | KIND_BIT(PROBE_KIND_HTTP),
         spec_set_expect},
        {"max_lag", PROBE_OPTION_STRING, KIND_BIT(PROBE_KIND_POSTGRES), spec_set_max_lag},
};

#define SPEC_OPTION_COUNT (sizeof(spec_options) / sizeof(spec_options[0]))

static const struct spec_option *spec_option_find(const char *key)
{
	for (size_t i = 0; i < SPEC_OPTION_COUNT; i++) {
		if (strcmp(key, spec_options[i].name) == 0)
			return &spec_options[i];
	}
	return NULL;
}

/* "postgres", "http" or "postgres and http": the kinds an option applies to. */
static const char *spec_option_kinds(const struct spec_option *option)
{
	if (option->kinds == KIND_BIT(PROBE_KIND_POSTGRES))
		return "postgres";
	return "postgres and http";
}

enum probe_option_form probe_option_form(const char *key)
{
	const struct spec_option *option = spec_option_find(key);

	return option ? option->form : PROBE_OPTION_UNKNOWN;
}

const char *probe_option_nearest(const char *key)
{
	const char *best = NULL;
	size_t best_distance = SPEC_SUGGEST_DISTANCE + 1;

	for (size_t i = 0; i < SPEC_OPTION_COUNT; i++) {
		size_t d = text_edit_distance(key, strlen(key), spec_options[i].name,
		                              strlen(spec_options[i].name));

		if (d < best_distance) {
			best = spec_options[i].name;
			best_distance = d;
		}
	}
	return best;
}

const char *probe_option_name(size_t index)
{
	return index < SPEC_OPTION_COUNT ? spec_options[index].name : NULL;
}

int probe_config_set_option(struct probe_config *cfg, const char *key, const char *value,
                            struct wd_err *err)
{
	const struct spec_option *option = spec_option_find(key);
	char quoted[WD_QUOTE_MAX + 4];
	int rc;

	if (option == NULL) {
		wd_err_quote(key, quoted, sizeof(quoted));
		return wd_err_set(err, -EINVAL,
		                  "unknown option '%s' (want critical, interval, timeout, "
		                  "start_period, rise, fall, expect or max_lag)",
		                  quoted);
	}
	if (option->kinds != KINDS_ALL) {
		if ((unsigned)cfg->kind >= PROBE_KIND_COUNT)
			return wd_err_set(err, -EINVAL, "option %s: set the URI first",
			                  option->name);
		if ((option->kinds & KIND_BIT(cfg->kind)) == 0)
			return wd_err_set(
			        err, -EINVAL, "option %s does not apply to %s probes (only to %s)",
			        option->name, probe_kind_str(cfg->kind), spec_option_kinds(option));
	}
	if (value == NULL || value[0] == '\0')
		return wd_err_set(err, -EINVAL, "option %s: empty value", option->name);
	rc = option->set(cfg, value, err);
	if (rc < 0)
		wd_err_prefix(err, "option %s", option->name);
	return rc;
}

int probe_config_option_text(const struct probe_config *cfg, const char *key, char *buf,
                             size_t size)
{
	const struct spec_option *option = spec_option_find(key);

	if (size > 0)
		buf[0] = '\0';
	if (option == NULL || (unsigned)cfg->kind >= PROBE_KIND_COUNT ||
	    (option->kinds & KIND_BIT(cfg->kind)) == 0)
		return -ENOENT;
	if (option->set == spec_set_critical) {
		snprintf(buf, size, "%s", cfg->critical ? "true" : "false");
	} else if (option->set == spec_set_interval) {
		duration_format(cfg->interval_ms, buf, size);
	} else if (option->set == spec_set_timeout) {
		duration_format(cfg->timeout_ms, buf, size);
	} else if (option->set == spec_set_start_period) {
		duration_format(cfg->start_period_ms, buf, size);
	} else if (option->set == spec_set_max_lag) {
		if (cfg->max_lag_ms < 0)
			return -ENOENT;
		duration_format(cfg->max_lag_ms, buf, size);
	} else if (option->set == spec_set_rise) {
		snprintf(buf, size, "%u", cfg->rise);
	} else if (option->set == spec_set_fall) {
		snprintf(buf, size, "%u", cfg->fall);
	} else if (cfg->kind == PROBE_KIND_POSTGRES) {
		snprintf(buf, size, "%s", probe_expect_role_str(cfg->expect_role));
	} else if (cfg->expect_status_min == cfg->expect_status_max) {
		snprintf(buf, size, "%d", cfg->expect_status_min);
	} else {
		snprintf(buf, size, "%d-%d", cfg->expect_status_min, cfg->expect_status_max);
	}
	return 0;
}

/* ---- the whole spec ----------------------------------------------------- */

int probe_spec_parse(struct probe_config *cfg, const char *name, const char *spec,
                     struct wd_err *err)
{
	char uri[WD_URI_MAX + 1];
	char fragment[WD_FRAGMENT_MAX + 1];
	unsigned seen = 0;
	const char *hash;
	size_t uri_len;
	char *item;
	int rc;

	probe_config_defaults(cfg, name);
	rc = probe_name_check(name, err);
	if (rc < 0)
		return rc;
	if (spec == NULL || spec[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty probe definition (want <uri>#<options>)");
	hash = strchr(spec, '#');
	uri_len = hash ? (size_t)(hash - spec) : strnlen(spec, WD_URI_MAX + 1);
	if (uri_len > WD_URI_MAX)
		return wd_err_set(err, -EINVAL, "URI longer than %d bytes", WD_URI_MAX);
	memcpy(uri, spec, uri_len);
	uri[uri_len] = '\0';
	fragment[0] = '\0';
	if (hash != NULL) {
		size_t fragment_len = strnlen(hash + 1, WD_FRAGMENT_MAX + 1);

		if (fragment_len > WD_FRAGMENT_MAX)
			return wd_err_set(err, -EINVAL, "options longer than %d bytes",
			                  WD_FRAGMENT_MAX);
		/* No option holds an '@': this is a password with a raw '#'. */
		if (memchr(hash + 1, '@', fragment_len) != NULL)
			return wd_err_set(err, -EINVAL,
			                  "bad URI: '#' in a password must be percent-encoded as "
			                  "%%23 (the first '#' starts the options)");
		memcpy(fragment, hash + 1, fragment_len + 1);
	}
	rc = probe_config_set_uri(cfg, uri, err);
	if (rc < 0)
		return rc;
	if (hash == NULL || fragment[0] == '\0')
		return 0;

	/*
	 * The fragment may be the tail of a password with a raw '#': an unknown
	 * name or a piece without '=' is never quoted, only numbered.
	 */
	item = fragment;
	for (size_t number = 1;; number++) {
		char *next = strchr(item, '&');
		char *eq;
		const struct spec_option *option;
		size_t index;

		if (next != NULL)
			*next = '\0';
		if (item[0] == '\0')
			return wd_err_set(err, -EINVAL, "empty option (a stray '&'?)");
		eq = strchr(item, '=');
		if (eq == NULL)
			return wd_err_set(err, -EINVAL, "option %zu: want key=value", number);
		*eq = '\0';
		option = spec_option_find(item);
		if (option == NULL) {
			const char *near = probe_option_nearest(item);

			if (near != NULL)
				return wd_err_set(err, -EINVAL,
				                  "option %zu: unknown option (did you mean %s?)",
				                  number, near);
			return wd_err_set(err, -EINVAL,
			                  "option %zu: unknown option (want critical, interval, "
			                  "timeout, start_period, rise, fall, expect or max_lag)",
			                  number);
		}
		index = (size_t)(option - spec_options);
		if (seen & (1u << index))
			return wd_err_set(err, -EINVAL, "option %s given twice", option->name);
		seen |= 1u << index;
		rc = probe_config_set_option(cfg, item, eq + 1, err);
		if (rc < 0)
			return rc;
		if (next == NULL)
			break;
		item = next + 1;
	}
	return 0;
}

/* ---- cross-field checks ------------------------------------------------- */

int probe_config_validate(const struct probe_config *cfg, struct wd_err *err)
{
	const struct probe_ops *ops;
	char timeout[32];
	char interval[32];

	if ((unsigned)cfg->kind >= PROBE_KIND_COUNT)
		return wd_err_set(err, -EINVAL, "no URI");
	duration_format(cfg->timeout_ms, timeout, sizeof(timeout));
	duration_format(cfg->interval_ms, interval, sizeof(interval));
	if (cfg->timeout_ms >= cfg->interval_ms)
		return wd_err_set(err, -EINVAL, "timeout %s must be less than interval %s", timeout,
		                  interval);
	if (cfg->timeout_ms < SPEC_TIMEOUT_MIN_MS)
		return wd_err_set(err, -EINVAL, "timeout %s is too short (at least %dms)", timeout,
		                  SPEC_TIMEOUT_MIN_MS);
	if (cfg->interval_ms > SPEC_INTERVAL_MAX_MS)
		return wd_err_set(err, -EINVAL, "interval %s is too long (at most 1h)", interval);
	if (cfg->rise < 1 || cfg->rise > SPEC_RISE_FALL_MAX)
		return wd_err_set(err, -EINVAL, "rise %u out of range (want 1 to %d)", cfg->rise,
		                  SPEC_RISE_FALL_MAX);
	if (cfg->fall < 1 || cfg->fall > SPEC_RISE_FALL_MAX)
		return wd_err_set(err, -EINVAL, "fall %u out of range (want 1 to %d)", cfg->fall,
		                  SPEC_RISE_FALL_MAX);
	if (cfg->start_period_ms < 0 || cfg->start_period_ms > DURATION_MAX_MS)
		return wd_err_set(err, -EINVAL, "start_period out of range");
	if (cfg->kind != PROBE_KIND_POSTGRES) {
		if (cfg->max_lag_ms != -1)
			return wd_err_set(err, -EINVAL,
			                  "option max_lag does not apply to %s probes (only to "
			                  "postgres)",
			                  probe_kind_str(cfg->kind));
		if (cfg->expect_role != EXPECT_ROLE_WRITER_WHEN_ACTIVE)
			return wd_err_set(err, -EINVAL,
			                  "option expect=%s does not apply to %s probes (only to "
			                  "postgres)",
			                  probe_expect_role_str(cfg->expect_role),
			                  probe_kind_str(cfg->kind));
	} else if (cfg->max_lag_ms < -1 || cfg->max_lag_ms > DURATION_MAX_MS) {
		return wd_err_set(err, -EINVAL, "max_lag out of range");
	}
	if (cfg->kind != PROBE_KIND_HTTP) {
		if (cfg->expect_status_min != SPEC_DEFAULT_STATUS_MIN ||
		    cfg->expect_status_max != SPEC_DEFAULT_STATUS_MAX)
			return wd_err_set(err, -EINVAL,
			                  "a status range does not apply to %s probes (only to "
			                  "http)",
			                  probe_kind_str(cfg->kind));
	} else if (cfg->expect_status_min < SPEC_STATUS_MIN ||
	           cfg->expect_status_max > SPEC_STATUS_MAX ||
	           cfg->expect_status_min > cfg->expect_status_max) {
		return wd_err_set(err, -EINVAL, "status range %d-%d out of range (want 100..599)",
		                  cfg->expect_status_min, cfg->expect_status_max);
	}
	ops = probe_ops_for(cfg->kind);
	if (ops == NULL || ops->validate == NULL)
		return 0;
	return ops->validate(cfg, err);
}
