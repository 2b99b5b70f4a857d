/*
 * uri.c - a strict RFC 3986 parser for probe targets, and the redactor.
 *
 *   URI       = scheme "://" authority path-abempty [ "?" query ]
 *   authority = [ userinfo "@" ] host [ ":" port ]
 *
 * No fragment (the caller splits at '#'), no relative references, no
 * IPvFuture, no IPv6 zone ids. Error messages never quote anything after
 * "://": a mistyped userinfo would otherwise put a password in a log line.
 */
#include "net/uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/text.h"

#define URI_ENCODE_HINT "percent-encode '/', '?', '#', '@' and ':' in a password"

static bool uri_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool uri_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool uri_is_unreserved(unsigned char c)
{
	return uri_is_alpha(c) || uri_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool uri_is_sub_delim(unsigned char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static bool uri_is_pchar(unsigned char c)
{
	return uri_is_unreserved(c) || uri_is_sub_delim(c) || c == ':' || c == '@';
}

/* True when s[0..2] is a valid "%XX" escape. */
static bool uri_is_escape(const char *s, const char *end)
{
	return end - s >= 3 && s[0] == '%' && text_hex_digit((unsigned char)s[1]) >= 0 &&
	       text_hex_digit((unsigned char)s[2]) >= 0;
}

/*
 * Check that [s, end) is made of pchar (plus the extra characters allowed)
 * and valid percent escapes. Returns 0 or -EINVAL.
 */
static int uri_check_component(const char *s, const char *end, const char *extra)
{
	while (s < end) {
		unsigned char c = (unsigned char)*s;

		if (c == '%') {
			if (!uri_is_escape(s, end))
				return -EINVAL;
			s += 3;
			continue;
		}
		if (!uri_is_pchar(c) && strchr(extra, c) == NULL)
			return -EINVAL;
		s++;
	}
	return 0;
}

/*
 * Percent-decode the userinfo part [s, end) into out[size]. Returns 0, or
 * -EINVAL for a character userinfo may not hold, a bad escape, %00 (or any
 * control character unless allow_control: a user name is shown in messages,
 * a password never is), or -ENAMETOOLONG when the decoded text does not fit.
 */
static int uri_decode_userinfo(const char *s, const char *end, char *out, size_t size,
                               bool allow_control)
{
	ssize_t n;

	for (const char *p = s; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c != '%' && !uri_is_unreserved(c) && !uri_is_sub_delim(c) && c != ':')
			return -EINVAL;
	}
	n = text_percent_decode(s, (size_t)(end - s), out, size,
	                        allow_control ? TEXT_PCT_NO_NUL : TEXT_PCT_NO_CONTROL);
	return n < 0 ? (int)n : 0;
}

static int uri_parse_userinfo(const char *s, const char *end, struct wd_uri *out,
                              struct wd_err *err)
{
	const char *colon = memchr(s, ':', (size_t)(end - s));
	const char *user_end = colon ? colon : end;
	int rc;

	rc = uri_decode_userinfo(s, user_end, out->user, sizeof(out->user), false);
	if (rc == -ENAMETOOLONG)
		return wd_err_set(err, -EINVAL, "user name longer than %zu bytes",
		                  sizeof(out->user) - 1);
	if (rc < 0)
		return wd_err_set(err, -EINVAL,
		                  "bad character or percent escape in the user name (%s)",
		                  URI_ENCODE_HINT);
	if (colon == NULL)
		return 0;
	out->has_password = true;
	rc = uri_decode_userinfo(colon + 1, end, out->password, sizeof(out->password), true);
	if (rc == -ENAMETOOLONG)
		return wd_err_set(err, -EINVAL, "password longer than %d bytes", WD_SECRET_MAX);
	if (rc < 0)
		return wd_err_set(err, -EINVAL,
		                  "bad character or percent escape in the password (%s)",
		                  URI_ENCODE_HINT);
	return 0;
}

static int uri_parse_port(const char *s, const char *end, struct wd_uri *out, struct wd_err *err)
{
	long port = 0;

	if (s == end)
		return wd_err_set(err, -EINVAL, "empty port after ':'");
	for (const char *p = s; p < end; p++) {
		if (!uri_is_digit((unsigned char)*p))
			return wd_err_set(err, -EINVAL, "port is not a number (%s)",
			                  URI_ENCODE_HINT);
		if (p - s >= 5)
			return wd_err_set(err, -EINVAL, "port out of range (want 1..65535)");
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return wd_err_set(err, -EINVAL, "port out of range (want 1..65535)");
	out->port = (int)port;
	return 0;
}

/* host [ ":" port ] in [s, end). */
static int uri_parse_hostport(const char *s, const char *end, struct wd_uri *out,
                              struct wd_err *err)
{
	const char *host_end;
	size_t len;

	if (s < end && *s == '[') {
		char addr[INET6_ADDRSTRLEN];
		unsigned char bin[16];
		const char *close = memchr(s, ']', (size_t)(end - s));

		if (close == NULL)
			return wd_err_set(err, -EINVAL, "IPv6 address without its closing ']'");
		len = (size_t)(close - s - 1);
		if (len > 0 && (s[1] == 'v' || s[1] == 'V'))
			return wd_err_set(err, -EINVAL, "IPvFuture addresses are not supported");
		if (memchr(s + 1, '%', len) != NULL)
			return wd_err_set(err, -EINVAL, "IPv6 zone ids are not supported");
		if (len == 0 || len >= sizeof(addr))
			return wd_err_set(err, -EINVAL, "bad IPv6 address");
		memcpy(addr, s + 1, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return wd_err_set(err, -EINVAL, "bad IPv6 address");
		memcpy(out->host, addr, len + 1);
		host_end = close + 1;
		if (host_end < end && *host_end != ':')
			return wd_err_set(err, -EINVAL, "unexpected text after the IPv6 address");
	} else {
		if (memchr(s, ',', (size_t)(end - s)) != NULL)
			return wd_err_set(err, -EINVAL,
			                  "several hosts are only allowed in postgres URIs");
		host_end = memchr(s, ':', (size_t)(end - s));
		if (host_end != NULL && memchr(host_end + 1, ':', (size_t)(end - host_end - 1)))
			return wd_err_set(err, -EINVAL,
			                  "more than one ':' after the host (IPv6 addresses go in "
			                  "brackets: [::1]; %s)",
			                  URI_ENCODE_HINT);
		if (host_end == NULL)
			host_end = end;
		len = (size_t)(host_end - s);
		if (len == 0)
			return wd_err_set(err, -EINVAL, "no host");
		if (len > WD_HOST_MAX)
			return wd_err_set(err, -EINVAL, "host longer than %d bytes", WD_HOST_MAX);
		for (const char *p = s; p < host_end; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == ',')
				return wd_err_set(
				        err, -EINVAL,
				        "several hosts are only allowed in postgres URIs");
			if (!uri_is_unreserved(c))
				return wd_err_set(
				        err, -EINVAL,
				        "bad character in the host (want letters, digits, "
				        "'-', '.', '_'; IPv6 in brackets)");
		}
		memcpy(out->host, s, len);
		out->host[len] = '\0';
	}
	if (host_end < end)
		return uri_parse_port(host_end + 1, end, out, err);
	return 0;
}

int uri_parse(const char *text, struct wd_uri *out, struct wd_err *err)
{
	const char *p;
	const char *authority;
	const char *authority_end;
	const char *at = NULL;
	const char *query;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (text == NULL || text[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty URI");
	len = strnlen(text, WD_URI_MAX + 1);
	if (len > WD_URI_MAX)
		return wd_err_set(err, -EINVAL, "URI longer than %d bytes", WD_URI_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= 0x20 || c >= 0x7f)
			return wd_err_set(err, -EINVAL,
			                  "URI has a space, control character or non-ASCII byte "
			                  "at offset %zu (percent-encode it)",
			                  i);
		if (c == '#')
			return wd_err_set(err, -EINVAL,
			                  "URI has a '#' at offset %zu (percent-encode it as %%23)",
			                  i);
	}

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	p = text;
	if (!uri_is_alpha((unsigned char)*p))
		return wd_err_set(err, -EINVAL, "no scheme (want scheme://host...)");
	while (uri_is_alpha((unsigned char)*p) || uri_is_digit((unsigned char)*p) || *p == '+' ||
	       *p == '-' || *p == '.')
		p++;
	if (*p != ':')
		return wd_err_set(err, -EINVAL, "no scheme (want scheme://host...)");
	if ((size_t)(p - text) >= sizeof(out->scheme))
		return wd_err_set(err, -EINVAL, "scheme longer than %zu bytes",
		                  sizeof(out->scheme) - 1);
	for (size_t i = 0; i < (size_t)(p - text); i++) {
		char c = text[i];

		out->scheme[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	if (strncmp(p, "://", 3) != 0)
		return wd_err_set(err, -EINVAL, "want '//' and a host after '%s:'", out->scheme);

	authority = p + 3;
	authority_end = authority + strcspn(authority, "/?");
	for (const char *s = authority; s < authority_end; s++) {
		if (*s != '@')
			continue;
		if (at != NULL)
			return wd_err_set(err, -EINVAL, "more than one '@' (%s)", URI_ENCODE_HINT);
		at = s;
	}
	if (at != NULL) {
		rc = uri_parse_userinfo(authority, at, out, err);
		if (rc < 0)
			return rc;
	}
	rc = uri_parse_hostport(at ? at + 1 : authority, authority_end, out, err);
	if (rc < 0)
		return rc;

	query = authority_end + strcspn(authority_end, "?");
	if (uri_check_component(authority_end, query, "/") < 0)
		return wd_err_set(err, -EINVAL, "bad character or percent escape in the path");
	memcpy(out->path, authority_end, (size_t)(query - authority_end));
	out->path[query - authority_end] = '\0';
	if (*query == '?') {
		query++;
		if (uri_check_component(query, text + len, "/?") < 0)
			return wd_err_set(err, -EINVAL,
			                  "bad character or percent escape in the query");
		memcpy(out->query, query, (size_t)(text + len - query));
		out->query[text + len - query] = '\0';
	}
	return 0;
}

/* ---- redaction ---------------------------------------------------------- */

struct redact_out {
	char *buf;
	size_t size;
	size_t len;
};

/* Append [s, end), control bytes as '?', stopping (cut) when full. */
static void redact_put(struct redact_out *o, const char *s, const char *end)
{
	for (; s < end && o->len + 1 < o->size; s++) {
		unsigned char c = (unsigned char)*s;

		o->buf[o->len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	o->buf[o->len] = '\0';
}

static void redact_puts(struct redact_out *o, const char *s)
{
	redact_put(o, s, s + strlen(s));
}

/*
 * True when a query parameter [s, end) names a credential: its name,
 * percent-decoded and lowercased, contains one of the words below.
 */
static bool redact_is_secret_name(const char *s, const char *end)
{
	static const char *const words[] = {"pass", "pwd",  "secret",     "token",
	                                    "key",  "auth", "credential", "sig"};
	char name[128];
	ssize_t len =
	        text_percent_decode(s, (size_t)(end - s), name, sizeof(name), TEXT_PCT_LENIENT);

	if (len < 0)
		return true; /* a name too long to check: hide its value */
	for (ssize_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 'A' && c <= 'Z')
			name[i] = (char)(c - 'A' + 'a');
		else if (c == '\0')
			name[i] = '?';
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strstr(name, words[i]) != NULL)
			return true;
	}
	return false;
}

/*
 * An authority without '@' whose "port" is not a number ("u:pa" of
 * "redis://u:pa/ss@host") is most likely a userinfo cut short by a
 * password with an unencoded '/', '?' or '#'.
 */
static bool redact_authority_suspicious(const char *s, const char *end)
{
	while (s < end) {
		const char *element_end = memchr(s, ',', (size_t)(end - s));
		const char *colon;

		if (element_end == NULL)
			element_end = end;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(element_end - s));

			s = close ? close + 1 : element_end;
		}
		colon = memchr(s, ':', (size_t)(element_end - s));
		if (colon != NULL) {
			for (const char *p = colon + 1; p < element_end; p++) {
				if (!uri_is_digit((unsigned char)*p))
					return true;
			}
		}
		s = element_end < end ? element_end + 1 : end;
	}
	return false;
}

static const char *redact_last(const char *s, const char *end, char c)
{
	const char *found = NULL;

	for (; s < end; s++) {
		if (*s == c)
			found = s;
	}
	return found;
}

void uri_redact(const char *text, char *out, size_t size)
{
	struct redact_out o = {out, size, 0};
	const char *start = text;
	const char *authority_end;
	const char *at;
	const char *p;
	bool redis = false;

	if (size == 0)
		return;
	out[0] = '\0';
	if (text == NULL)
		return;

	/* The scheme, if any: everything up to "://". */
	for (p = text; uri_is_alpha((unsigned char)*p) || uri_is_digit((unsigned char)*p) ||
	               *p == '+' || *p == '-' || *p == '.';
	     p++)
		;
	if (p > text && strncmp(p, "://", 3) == 0) {
		start = p + 3;
		redis = (p - text == 5 && strncasecmp(text, "redis", 5) == 0) ||
		        (p - text == 6 && strncasecmp(text, "rediss", 6) == 0);
	}
	redact_put(&o, text, start);

	/* The userinfo: everything before the last '@' of the authority. */
	authority_end = start + strcspn(start, "/?#");
	at = redact_last(start, authority_end, '@');
	if (at == NULL && redact_authority_suspicious(start, authority_end))
		at = redact_last(start, start + strlen(start), '@');
	if (at != NULL) {
		const char *colon = memchr(start, ':', (size_t)(at - start));

		if (colon != NULL) {
			redact_put(&o, start, colon + 1);
			redact_puts(&o, "***");
		} else if (redis) {
			/* Redis clients read a lone userinfo as a password. */
			redact_puts(&o, "***");
		} else {
			redact_put(&o, start, at);
		}
		start = at;
		authority_end = at + strcspn(at, "/?#");
	}

	/* Host(s), port(s) and path, verbatim. */
	p = authority_end + strcspn(authority_end, "?#");
	redact_put(&o, start, p);

	/* The query: the value of every parameter that names a credential. */
	if (*p == '?') {
		const char *query_end = p + strcspn(p, "#");

		redact_put(&o, p, p + 1);
		p++;
		while (p <= query_end) {
			const char *param_end = p + strcspn(p, "&;#");
			const char *eq;

			if (param_end > query_end)
				param_end = query_end;
			eq = memchr(p, '=', (size_t)(param_end - p));
			if (eq != NULL && redact_is_secret_name(p, eq)) {
				redact_put(&o, p, eq + 1);
				redact_puts(&o, "***");
			} else {
				redact_put(&o, p, param_end);
			}
			if (param_end == query_end)
				break;
			redact_put(&o, param_end, param_end + 1);
			p = param_end + 1;
		}
		p = query_end;
	}

	/* The fragment (warden's own options), verbatim. */
	redact_puts(&o, p);
}
