/*
 * head.c - the bytes the proxy writes itself (see head.h): rewritten heads
 * and answers of its own, built into the caller's bounded buffer.
 */
#include "proxy/head.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/clock.h"
#include "lib/log.h"

/* Small appender into a bounded buffer; `over` records an overflow. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
	bool over;
};

static void out_mem(struct out *o, const char *data, size_t n)
{
	if (o->over || o->cap - o->len < n) {
		o->over = true;
		return;
	}
	memcpy(o->buf + o->len, data, n);
	o->len += n;
}

static void out_str(struct out *o, const char *text)
{
	out_mem(o, text, strlen(text));
}

static void out_u64(struct out *o, uint64_t value)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, value);

	out_mem(o, digits, (size_t)n);
}

static void out_json_str(struct out *o, const char *text)
{
	char escaped[512];
	size_t len = 0;

	escaped[0] = '\0';
	if (log_json_escape(escaped, sizeof(escaped), &len, text) < 0) {
		out_str(o, "null");
		return;
	}
	out_str(o, "\"");
	out_mem(o, escaped, len);
	out_str(o, "\"");
}

static void out_header(struct out *o, const struct http1_header *h)
{
	out_mem(o, h->name, h->name_len);
	out_mem(o, ": ", 2);
	out_mem(o, h->value, h->value_len);
	out_mem(o, "\r\n", 2);
}

static size_t out_done(const struct out *o)
{
	return o->over ? 0 : o->len;
}

/* Is the header name listed in a Connection header (hop-by-hop by name)? */
static bool listed_in_connection(const struct http1_msg *m, const struct http1_header *h)
{
	for (size_t i = 0; i < m->header_count; i++) {
		const struct http1_header *conn = &m->headers[i];

		if (conn->hid == HTTP1_H_CONNECTION &&
		    http1_list_has(conn->value, conn->value_len, h->name, h->name_len))
			return true;
	}
	return false;
}

/* Does any Connection header name more than close / keep-alive / upgrade? */
static bool connection_lists_names(const struct http1_msg *m)
{
	for (size_t i = 0; i < m->header_count; i++) {
		const struct http1_header *h = &m->headers[i];
		size_t at = 0;

		if (h->hid != HTTP1_H_CONNECTION)
			continue;
		while (at < h->value_len) {
			size_t start;

			while (at < h->value_len &&
			       (h->value[at] == ',' || h->value[at] == ' ' || h->value[at] == '\t'))
				at++;
			start = at;
			while (at < h->value_len && h->value[at] != ',' && h->value[at] != ' ' &&
			       h->value[at] != '\t')
				at++;
			if (at == start)
				continue;
			if (!((at - start == 5 && strncasecmp(h->value + start, "close", 5) == 0) ||
			      (at - start == 10 &&
			       strncasecmp(h->value + start, "keep-alive", 10) == 0) ||
			      (at - start == 7 &&
			       strncasecmp(h->value + start, "upgrade", 7) == 0)))
				return true;
		}
	}
	return false;
}

/*
 * Hop-by-hop (RFC 9110 §7.6.1), never forwarded either way: Connection,
 * Keep-Alive, Proxy-*, TE, and any other header named in a Connection
 * header. The framing headers and Host are never "other": naming them in
 * Connection does not strip them (a smuggling trick). check_listed is
 * connection_lists_names(m), computed once per head.
 */
static bool hop_by_hop(const struct http1_msg *m, const struct http1_header *h, bool check_listed)
{
	switch (h->hid) {
	case HTTP1_H_CONNECTION:
	case HTTP1_H_KEEP_ALIVE:
	case HTTP1_H_PROXY:
	case HTTP1_H_TE: return true;
	case HTTP1_H_OTHER: return check_listed && listed_in_connection(m, h);
	default: return false;
	}
}

/* Wall-clock ms as RFC 3339 UTC with milliseconds; the second is formatted once. */
static void out_wall_ms(struct out *o, struct head_wall *wall, int64_t wall_ms)
{
	struct head_wall local = {0};
	int64_t sec = wall_ms / 1000;
	char ms[8];
	size_t len;

	if (wall == NULL)
		wall = &local;
	if (sec != wall->sec || wall->text[0] == '\0') {
		clock_format_rfc3339(sec * 1000, wall->text, sizeof(wall->text));
		wall->sec = sec;
	}
	len = strlen(wall->text); /* "...T04:12:04.000Z": keep up to the '.' */
	if (len < 5) {
		o->over = true;
		return;
	}
	snprintf(ms, sizeof(ms), "%03d", (int)(wall_ms % 1000));
	out_mem(o, wall->text, len - 4);
	out_mem(o, ms, 3);
	out_str(o, "Z");
}

static void out_deadline(struct out *o, const struct head_facts *f)
{
	int64_t left;

	if (!f->writable) {
		out_str(o, "X-Warden-Writable-For-Ms: 0\r\n");
		return;
	}
	if (f->writable_until == INT64_MAX)
		return;
	left = f->writable_until - f->now_mono_ms;
	if (left < 0)
		left = 0;
	out_str(o, "X-Warden-Deadline: ");
	out_wall_ms(o, f->wall, f->now_wall_ms + left);
	out_str(o, "\r\nX-Warden-Writable-For-Ms: ");
	out_u64(o, (uint64_t)left);
	out_str(o, "\r\n");
}

size_t head_deadline(const struct head_facts *facts, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	out_deadline(&o, facts);
	return out_done(&o);
}

size_t head_request(const struct http1_msg *m, const struct head_facts *f, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	bool check_listed = connection_lists_names(m);
	bool have_xfp = false;
	bool have_xff = false;
	bool have_host = false;

	out_mem(&o, m->method, m->method_len);
	out_mem(&o, " ", 1);
	out_mem(&o, m->target, m->target_len);
	out_str(&o, " HTTP/1.1\r\n");
	for (size_t i = 0; i < m->header_count; i++) {
		const struct http1_header *h = &m->headers[i];

		if (hop_by_hop(m, h, check_listed))
			continue;
		switch (h->hid) {
		case HTTP1_H_X_WARDEN:
		case HTTP1_H_X_FORWARDED_FOR: continue;
		case HTTP1_H_UPGRADE:
			if (!f->upgrade)
				continue;
			break;
		case HTTP1_H_X_FORWARDED_PROTO: have_xfp = true; break;
		case HTTP1_H_HOST: have_host = true; break;
		case HTTP1_H_CONTENT_LENGTH:
			if (m->length_folded)
				continue; /* "3, 3" or two lines: one plain line below */
			break;
		default: break;
		}
		out_header(&o, h);
	}
	if (m->length_folded) {
		out_str(&o, "Content-Length: ");
		out_u64(&o, m->content_length);
		out_str(&o, "\r\n");
	}
	if (!have_host) { /* HTTP/1.0 without Host: name the upstream, as nginx does */
		out_str(&o, "Host: ");
		out_str(&o, f->upstream_authority);
		out_str(&o, "\r\n");
	}
	out_str(&o, "X-Forwarded-For: ");
	for (size_t i = 0; i < m->header_count; i++) {
		const struct http1_header *h = &m->headers[i];

		if (h->hid != HTTP1_H_X_FORWARDED_FOR || h->value_len == 0)
			continue;
		if (have_xff)
			out_str(&o, ", ");
		out_mem(&o, h->value, h->value_len);
		have_xff = true;
	}
	if (have_xff)
		out_str(&o, ", ");
	out_str(&o, f->client_ip);
	out_str(&o, "\r\n");
	if (!have_xfp)
		out_str(&o, "X-Forwarded-Proto: http\r\n");
	out_str(&o, f->writable ? "X-Warden-Writable: true\r\nX-Warden-Epoch: "
	                        : "X-Warden-Writable: false\r\nX-Warden-Epoch: ");
	out_u64(&o, f->epoch);
	out_str(&o, "\r\n");
	out_deadline(&o, f);
	if (f->upgrade)
		out_str(&o, "Connection: Upgrade\r\n");
	out_str(&o, "\r\n");
	return out_done(&o);
}

/* The Connection line of a final answer to the client. */
static void out_connection(struct out *o, bool close, int client_minor)
{
	if (close)
		out_str(o, "Connection: close\r\n");
	else if (client_minor == 0)
		out_str(o, "Connection: keep-alive\r\n");
}

size_t head_response(const struct http1_msg *m, bool dechunk, bool close, int client_minor,
                     char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	bool check_listed = connection_lists_names(m);
	bool interim = m->status < 200;
	bool switching = m->status == 101;

	out_str(&o, "HTTP/1.1 ");
	out_u64(&o, (uint64_t)m->status);
	out_str(&o, " ");
	out_mem(&o, m->reason, m->reason_len);
	out_str(&o, "\r\n");
	for (size_t i = 0; i < m->header_count; i++) {
		const struct http1_header *h = &m->headers[i];

		if (hop_by_hop(m, h, check_listed))
			continue;
		switch (h->hid) {
		case HTTP1_H_UPGRADE:
			if (!switching)
				continue;
			break;
		case HTTP1_H_TRANSFER_ENCODING:
			if (dechunk)
				continue;
			break;
		default: break;
		}
		out_header(&o, h);
	}
	if (switching)
		out_str(&o, "Connection: Upgrade\r\n");
	else if (!interim)
		out_connection(&o, close, client_minor);
	out_str(&o, "\r\n");
	return out_done(&o);
}

static const char *status_title(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

size_t head_local(int status, const char *body, size_t body_len, int64_t retry_after,
                  bool head_only, bool close, int client_minor, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	out_str(&o, "HTTP/1.1 ");
	out_u64(&o, (uint64_t)status);
	out_str(&o, " ");
	out_str(&o, status_title(status));
	out_str(&o, "\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\n");
	if (retry_after >= 0) {
		out_str(&o, "Retry-After: ");
		out_u64(&o, (uint64_t)retry_after);
		out_str(&o, "\r\n");
	}
	out_str(&o, "Content-Length: ");
	out_u64(&o, body_len);
	out_str(&o, "\r\n");
	out_connection(&o, close, client_minor);
	out_str(&o, "\r\n");
	if (!head_only)
		out_mem(&o, body, body_len);
	return out_done(&o);
}

size_t head_problem(int status, const char *detail, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	out_str(&o, "{\"type\":\"about:blank\",\"title\":\"");
	out_str(&o, status_title(status));
	out_str(&o, "\",\"status\":");
	out_u64(&o, (uint64_t)status);
	out_str(&o, ",\"detail\":");
	out_json_str(&o, detail);
	out_str(&o, "}");
	return out_done(&o);
}

size_t head_fenced_problem(const struct fence_verdict *v, const char *region, const char *detail,
                           char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	out_str(&o, "{\"type\":\"urn:warden:problem:fenced\","
	            "\"title\":\"Writes are fenced in this region\",\"status\":503,\"detail\":");
	out_json_str(&o, detail);
	out_str(&o, ",\"region\":");
	out_json_str(&o, region);
	out_str(&o, ",\"active_region\":");
	if (v->active_region[0])
		out_json_str(&o, v->active_region);
	else
		out_str(&o, "null");
	out_str(&o, ",\"epoch\":");
	out_u64(&o, v->epoch);
	out_str(&o, ",\"state\":");
	out_json_str(&o, fence_state_str(v->state));
	out_str(&o, "}");
	return out_done(&o);
}
