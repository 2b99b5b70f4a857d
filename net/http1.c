/*
 * http1.c - strict HTTP/1.1 head parser and chunked scanner (see http1.h).
 */
#include "net/http1.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "lib/text.h"

const char *http1_status_str(enum http1_status status)
{
	switch (status) {
	case HTTP1_OK: return "ok";
	case HTTP1_INCOMPLETE: return "incomplete";
	case HTTP1_BAD: return "bad";
	case HTTP1_HEAD_TOO_LARGE: return "head_too_large";
	case HTTP1_TOO_MANY_HEADERS: return "too_many_headers";
	case HTTP1_BAD_VERSION: return "bad_version";
	case HTTP1_NOT_IMPLEMENTED: return "not_implemented";
	}
	return "unknown";
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static enum http1_hid classify(const char *name, size_t len)
{
	switch (len) {
	case 2:
		if (name_is(name, len, "te"))
			return HTTP1_H_TE;
		break;
	case 4:
		if (name_is(name, len, "host"))
			return HTTP1_H_HOST;
		break;
	case 6:
		if (name_is(name, len, "expect"))
			return HTTP1_H_EXPECT;
		break;
	case 7:
		if (name_is(name, len, "upgrade"))
			return HTTP1_H_UPGRADE;
		break;
	case 10:
		if (name_is(name, len, "connection"))
			return HTTP1_H_CONNECTION;
		if (name_is(name, len, "keep-alive"))
			return HTTP1_H_KEEP_ALIVE;
		break;
	case 14:
		if (name_is(name, len, "content-length"))
			return HTTP1_H_CONTENT_LENGTH;
		if (name_is(name, len, "x-warden-epoch"))
			return HTTP1_H_X_WARDEN;
		break;
	case 15:
		if (name_is(name, len, "x-forwarded-for"))
			return HTTP1_H_X_FORWARDED_FOR;
		break;
	case 17:
		if (name_is(name, len, "transfer-encoding"))
			return HTTP1_H_TRANSFER_ENCODING;
		if (name_is(name, len, "x-forwarded-proto"))
			return HTTP1_H_X_FORWARDED_PROTO;
		if (name_is(name, len, "x-warden-writable"))
			return HTTP1_H_X_WARDEN;
		if (name_is(name, len, "x-warden-deadline"))
			return HTTP1_H_X_WARDEN;
		break;
	case 24:
		if (name_is(name, len, "x-warden-writable-for-ms"))
			return HTTP1_H_X_WARDEN;
		break;
	default: break;
	}
	if (len >= 6 && strncasecmp(name, "proxy-", 6) == 0)
		return HTTP1_H_PROXY;
	return HTTP1_H_OTHER;
}

static enum http1_method method_id(const char *method, size_t len)
{
	static const struct {
		const char *name;
		enum http1_method id;
	} methods[] = {
	        {"GET", HTTP1_M_GET},       {"HEAD", HTTP1_M_HEAD},   {"OPTIONS", HTTP1_M_OPTIONS},
	        {"POST", HTTP1_M_POST},     {"PUT", HTTP1_M_PUT},     {"PATCH", HTTP1_M_PATCH},
	        {"DELETE", HTTP1_M_DELETE}, {"TRACE", HTTP1_M_TRACE},
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strlen(methods[i].name) == len && memcmp(methods[i].name, method, len) == 0)
			return methods[i].id;
	}
	return HTTP1_M_OTHER;
}

#define HEAD_BARE_LF ((size_t)-1)

/*
 * Find the end of the head: the offset just past CRLF CRLF, 0 if not there
 * yet, or HEAD_BARE_LF on an LF without its CR (refused at once rather than
 * waiting for a CRLF CRLF that a bare-LF client never sends). *scanned
 * is where to resume (kept 3 bytes back so that a split CRLF CRLF is seen).
 */
static size_t head_end(const char *buf, size_t len, size_t *scanned)
{
	size_t at = scanned ? *scanned : 0;

	if (at > len || at < 1)
		at = 1;
	while (at < len) {
		const char *lf = memchr(buf + at, '\n', len - at);
		size_t pos;

		if (lf == NULL)
			break;
		pos = (size_t)(lf - buf);
		if (buf[pos - 1] != '\r')
			return HEAD_BARE_LF;
		if (pos + 2 >= len)
			break;
		if (buf[pos + 1] == '\r' && buf[pos + 2] == '\n')
			return pos + 3;
		at = pos + 1;
	}
	/* Every LF before len - 2 has been looked at with its two successors. */
	if (scanned)
		*scanned = len > 3 ? len - 2 : 1;
	return 0;
}

bool http1_list_has(const char *value, size_t value_len, const char *token, size_t token_len)
{
	size_t at = 0;

	while (at < value_len) {
		size_t start;
		size_t end;

		while (at < value_len &&
		       (value[at] == ' ' || value[at] == '\t' || value[at] == ','))
			at++;
		start = at;
		while (at < value_len && value[at] != ',')
			at++;
		end = at;
		while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
			end--;
		/* "websocket/13" names the protocol websocket */
		for (size_t i = start; i < end; i++) {
			if (value[i] == '/' || value[i] == ';') {
				end = i;
				break;
			}
		}
		if (end - start == token_len && strncasecmp(value + start, token, token_len) == 0)
			return true;
	}
	return false;
}

/* Parse one Content-Length value ("5", "5, 5"); 0 or -1. All members must agree. */
static int parse_content_length(const char *value, size_t len, uint64_t *out)
{
	size_t at = 0;
	bool have = false;
	uint64_t first = 0;

	for (;;) {
		uint64_t n = 0;
		size_t digits = 0;

		while (at < len && (value[at] == ' ' || value[at] == '\t'))
			at++;
		while (at < len && value[at] >= '0' && value[at] <= '9') {
			if (++digits > 18)
				return -1;
			n = n * 10 + (uint64_t)(value[at] - '0');
			at++;
		}
		if (digits == 0)
			return -1;
		while (at < len && (value[at] == ' ' || value[at] == '\t'))
			at++;
		if (have && n != first)
			return -1;
		first = n;
		have = true;
		if (at == len)
			break;
		if (value[at] != ',')
			return -1;
		at++;
	}
	*out = first;
	return 0;
}

/*
 * Walk the Transfer-Encoding list: sets *codings (elements seen),
 * *chunked_last, and *chunked_before (chunked not last). -1 on an empty or
 * non-token element.
 */
static int scan_te(const char *value, size_t len, unsigned *codings, bool *chunked_last,
                   bool *chunked_before)
{
	size_t at = 0;

	for (;;) {
		size_t start;
		size_t end;

		while (at < len && (value[at] == ' ' || value[at] == '\t'))
			at++;
		start = at;
		while (at < len && text_is_tchar((unsigned char)value[at]))
			at++;
		end = at;
		if (end == start)
			return -1;
		while (at < len && (value[at] == ' ' || value[at] == '\t'))
			at++;
		if (*chunked_last)
			*chunked_before = true;
		*chunked_last = (end - start == 7 && strncasecmp(value + start, "chunked", 7) == 0);
		(*codings)++;
		if (at == len)
			return 0;
		if (value[at] != ',')
			return -1;
		at++;
	}
}

static enum http1_status fail(struct http1_msg *out, enum http1_status status, const char *why)
{
	out->error = why;
	return status;
}

/*
 * Parse the header lines in buf[at..end) (end is just past CRLF CRLF), then
 * the framing shared by requests and responses.
 */
static enum http1_status parse_fields(const char *buf, size_t at, size_t end,
                                      const struct http1_limits *lim, bool is_request,
                                      struct http1_msg *out)
{
	unsigned codings = 0;
	bool chunked_last = false;
	bool chunked_before = false;
	bool have_length = false;
	unsigned hosts = 0;
	uint64_t length = 0;

	for (;;) {
		const char *line = buf + at;
		const char *lf = memchr(line, '\n', end - at);
		size_t line_len;
		size_t name_len = 0;
		size_t v;
		size_t v_end;
		struct http1_header *h;

		if (lf == NULL || lf == line || lf[-1] != '\r')
			return fail(out, HTTP1_BAD, "a header line does not end in CRLF");
		line_len = (size_t)(lf - line) - 1;
		at += line_len + 2;
		if (line_len == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return fail(out, HTTP1_BAD, "obs-fold (a folded header line)");
		while (name_len < line_len && text_is_tchar((unsigned char)line[name_len]))
			name_len++;
		if (name_len == 0 || name_len == line_len || line[name_len] != ':')
			return fail(out, HTTP1_BAD, "a header name is not a token followed by ':'");
		v = name_len + 1;
		while (v < line_len && (line[v] == ' ' || line[v] == '\t'))
			v++;
		v_end = line_len;
		for (size_t i = v; i < line_len; i++) {
			if (!text_is_field_value_byte((unsigned char)line[i]))
				return fail(out, HTTP1_BAD,
				            "a control byte (NUL, CR, LF) in a header value");
		}
		while (v_end > v && (line[v_end - 1] == ' ' || line[v_end - 1] == '\t'))
			v_end--;
		if (out->header_count >= lim->max_headers)
			return fail(out, HTTP1_TOO_MANY_HEADERS, "too many header fields");
		h = &out->headers[out->header_count++];
		h->name = line;
		h->name_len = (uint32_t)name_len;
		h->value = line + v;
		h->value_len = (uint32_t)(v_end - v);
		h->hid = classify(line, name_len);
		switch (h->hid) {
		case HTTP1_H_CONTENT_LENGTH: {
			uint64_t n;

			if (parse_content_length(h->value, h->value_len, &n) < 0)
				return fail(out, HTTP1_BAD, "a bad Content-Length");
			if (have_length && n != length)
				return fail(out, HTTP1_BAD, "differing Content-Length values");
			if (have_length || memchr(h->value, ',', h->value_len) != NULL)
				out->length_folded = true;
			have_length = true;
			length = n;
			break;
		}
		case HTTP1_H_TRANSFER_ENCODING:
			out->has_te = true;
			if (scan_te(h->value, h->value_len, &codings, &chunked_last,
			            &chunked_before) < 0)
				return fail(out, HTTP1_BAD, "a bad Transfer-Encoding list");
			break;
		case HTTP1_H_CONNECTION:
			if (http1_list_has(h->value, h->value_len, "close", 5))
				out->conn_close = true;
			if (http1_list_has(h->value, h->value_len, "keep-alive", 10))
				out->keep_alive = true; /* provisional, settled below */
			if (http1_list_has(h->value, h->value_len, "upgrade", 7))
				out->conn_upgrade = true;
			break;
		case HTTP1_H_UPGRADE:
			if (http1_list_has(h->value, h->value_len, "websocket", 9))
				out->upgrade_websocket = true;
			break;
		case HTTP1_H_EXPECT:
			if (h->value_len == 12 && strncasecmp(h->value, "100-continue", 12) == 0)
				out->expect_continue = true;
			break;
		case HTTP1_H_HOST: hosts++; break;
		default: break;
		}
	}
	if (at != end)
		return fail(out, HTTP1_BAD, "bytes after the end of the head");

	/* Connection management: 1.1 persists unless close; 1.0 only if asked. */
	if (out->minor == 1)
		out->keep_alive = !out->conn_close;
	else
		out->keep_alive = out->keep_alive && !out->conn_close;

	if (is_request) {
		if (hosts > 1)
			return fail(out, HTTP1_BAD, "more than one Host");
		if (hosts == 0 && out->minor == 1)
			return fail(out, HTTP1_BAD, "an HTTP/1.1 request without Host");
	}
	if (out->has_te) {
		if (have_length)
			return fail(out, HTTP1_BAD, "both Content-Length and Transfer-Encoding");
		if (out->minor == 0)
			return fail(out, HTTP1_BAD, "Transfer-Encoding in an HTTP/1.0 message");
		if (chunked_before)
			return fail(out, HTTP1_BAD, "chunked is not the final transfer coding");
		if (is_request) {
			if (!chunked_last)
				return fail(out, HTTP1_BAD,
				            "the final transfer coding is not chunked");
			if (codings > 1)
				return fail(out, HTTP1_NOT_IMPLEMENTED,
				            "a transfer coding other than chunked");
		}
		out->framing = chunked_last ? HTTP1_BODY_CHUNKED : HTTP1_BODY_CLOSE;
	} else if (have_length) {
		out->framing = length > 0 ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
		out->content_length = length;
	} else {
		out->framing = is_request ? HTTP1_BODY_NONE : HTTP1_BODY_CLOSE;
	}
	return HTTP1_OK;
}

/* "HTTP/1.1" / "HTTP/1.0" at p (8 bytes available). */
static enum http1_status parse_version(const char *p, struct http1_msg *out)
{
	if (memcmp(p, "HTTP/1.", 7) == 0 && (p[7] == '0' || p[7] == '1')) {
		out->minor = p[7] - '0';
		return HTTP1_OK;
	}
	if (memcmp(p, "HTTP/", 5) == 0 && p[5] >= '0' && p[5] <= '9' && p[6] == '.' &&
	    p[7] >= '0' && p[7] <= '9')
		return fail(out, HTTP1_BAD_VERSION, "an HTTP version other than 1.0 and 1.1");
	return fail(out, HTTP1_BAD, "a bad HTTP version");
}

static enum http1_status begin(const char *buf, size_t len, const struct http1_limits *lim,
                               struct http1_header *headers, size_t *scanned, struct http1_msg *out,
                               size_t *end)
{
	memset(out, 0, sizeof(*out));
	out->headers = headers;
	out->error = "ok";
	if (len > 0 && buf[0] == '\n')
		return fail(out, HTTP1_BAD, "a bare LF");
	*end = head_end(buf, len < lim->max_head_bytes ? len : lim->max_head_bytes, scanned);
	if (*end == HEAD_BARE_LF)
		return fail(out, HTTP1_BAD, "a bare LF");
	if (*end == 0) {
		if (len >= lim->max_head_bytes)
			return fail(out, HTTP1_HEAD_TOO_LARGE, "the head is larger than the limit");
		return fail(out, HTTP1_INCOMPLETE, "incomplete");
	}
	out->head_len = *end;
	return HTTP1_OK;
}

enum http1_status http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                                      struct http1_header *headers, size_t *scanned,
                                      struct http1_msg *out)
{
	enum http1_status st;
	size_t end;
	size_t at = 0;
	const char *lf;
	size_t line_len;
	size_t sp;

	st = begin(buf, len, lim, headers, scanned, out, &end);
	if (st != HTTP1_OK)
		return st;
	lf = memchr(buf, '\n', end);
	if (lf == buf || lf[-1] != '\r')
		return fail(out, HTTP1_BAD, "the request line does not end in CRLF");
	line_len = (size_t)(lf - buf) - 1;

	/* method SP request-target SP HTTP-version */
	while (at < line_len && text_is_tchar((unsigned char)buf[at]))
		at++;
	if (at == 0 || at == line_len || buf[at] != ' ')
		return fail(out, HTTP1_BAD, "a bad method");
	out->method = buf;
	out->method_len = at;
	out->method_id = method_id(buf, at);
	sp = ++at;
	while (at < line_len) {
		unsigned char c = (unsigned char)buf[at];

		if (c == ' ')
			break;
		if (c < 0x21 || c == 0x7f || c == '#')
			return fail(out, HTTP1_BAD, "a control byte, space or '#' in the target");
		at++;
	}
	if (at == sp || at == line_len)
		return fail(out, HTTP1_BAD, "a bad request-target");
	out->target = buf + sp;
	out->target_len = at - sp;
	at++;
	if (line_len - at != 8)
		return fail(out, HTTP1_BAD, "a bad HTTP version");
	st = parse_version(buf + at, out);
	if (st != HTTP1_OK)
		return st;
	if (out->method_len == 7 && memcmp(out->method, "CONNECT", 7) == 0)
		return fail(out, HTTP1_NOT_IMPLEMENTED, "CONNECT");
	if (out->target[0] != '/' &&
	    !(out->target_len == 1 && out->target[0] == '*' && out->method_id == HTTP1_M_OPTIONS))
		return fail(out, HTTP1_BAD, "the request-target is not in origin-form");
	return parse_fields(buf, line_len + 2, end, lim, true, out);
}

enum http1_status http1_parse_response(const char *buf, size_t len, enum http1_method req_method,
                                       const struct http1_limits *lim, struct http1_header *headers,
                                       size_t *scanned, struct http1_msg *out)
{
	enum http1_status st;
	size_t end;
	const char *lf;
	size_t line_len;

	st = begin(buf, len, lim, headers, scanned, out, &end);
	if (st != HTTP1_OK)
		return st;
	lf = memchr(buf, '\n', end);
	if (lf == buf || lf[-1] != '\r')
		return fail(out, HTTP1_BAD, "the status line does not end in CRLF");
	line_len = (size_t)(lf - buf) - 1;
	/* HTTP-version SP 3DIGIT [SP reason-phrase] */
	if (line_len < 12 || buf[8] != ' ')
		return fail(out, HTTP1_BAD, "a bad status line");
	st = parse_version(buf, out);
	if (st != HTTP1_OK)
		return st;
	if (buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
	    buf[11] > '9')
		return fail(out, HTTP1_BAD, "a bad status code");
	out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (line_len > 12) {
		if (buf[12] != ' ')
			return fail(out, HTTP1_BAD, "a bad status line");
		for (size_t i = 13; i < line_len; i++) {
			if (!text_is_field_value_byte((unsigned char)buf[i]))
				return fail(out, HTTP1_BAD, "a control byte in the reason phrase");
		}
		out->reason = buf + 13;
		out->reason_len = line_len - 13;
	} else {
		out->reason = buf + line_len;
	}
	st = parse_fields(buf, line_len + 2, end, lim, false, out);
	if (st != HTTP1_OK)
		return st;
	if (req_method == HTTP1_M_HEAD || out->status < 200 || out->status == 204 ||
	    out->status == 304) {
		out->framing = HTTP1_BODY_NONE;
		out->content_length = 0;
	}
	return HTTP1_OK;
}

/* ---- chunked bodies ---- */

enum {
	CK_SIZE,          /* hex digits */
	CK_SIZE_WS,       /* BWS after the size: only before ';' */
	CK_EXT,           /* chunk extensions, to CR */
	CK_SIZE_LF,       /* LF after the size line */
	CK_DATA,          /* chunk data */
	CK_DATA_CR,       /* CR after data */
	CK_DATA_LF,       /* LF after data */
	CK_TRAILER_START, /* a trailer line, or the final CRLF */
	CK_TRAILER,       /* inside a trailer line */
	CK_TRAILER_LF,    /* LF ending a trailer line */
	CK_FINAL_LF,      /* LF of the final CRLF */
	CK_DONE,
};

void http1_chunked_init(struct http1_chunked *ck, enum http1_chunk_mode mode)
{
	memset(ck, 0, sizeof(*ck));
	ck->state = CK_SIZE;
	ck->mode = mode;
}

ssize_t http1_chunked_feed(struct http1_chunked *ck, char *out, const char *in, size_t in_len,
                           size_t *out_len)
{
	size_t i = 0;
	size_t o = 0;
	bool keep_meta = ck->mode != HTTP1_CHUNK_DATA;
	bool keep_trailers = ck->mode == HTTP1_CHUNK_PASS;

	while (i < in_len && ck->state != CK_DONE) {
		unsigned char c = (unsigned char)in[i];
		bool emit = keep_meta;

		switch (ck->state) {
		case CK_DATA: {
			size_t n = in_len - i;

			if (n > ck->size)
				n = (size_t)ck->size;
			if (out + o != in + i)
				memmove(out + o, in + i, n);
			o += n;
			i += n;
			ck->size -= n;
			if (ck->size == 0)
				ck->state = CK_DATA_CR;
			continue;
		}
		case CK_SIZE: {
			int v = text_hex_digit(c);

			if (v >= 0) {
				if (++ck->digits > HTTP1_CHUNK_DIGITS_MAX)
					return -1;
				ck->size = ck->size * 16 + (uint64_t)v;
			} else if (ck->digits == 0) {
				return -1;
			} else if (c == ';') {
				ck->state = CK_EXT;
			} else if (c == ' ' || c == '\t') {
				ck->state = CK_SIZE_WS;
			} else if (c == '\r') {
				ck->state = CK_SIZE_LF;
			} else {
				return -1;
			}
			break;
		}
		case CK_SIZE_WS:
			if (c == ';')
				ck->state = CK_EXT;
			else if (c != ' ' && c != '\t')
				return -1;
			break;
		case CK_EXT:
			if (c == '\r')
				ck->state = CK_SIZE_LF;
			else if (!text_is_field_value_byte(c))
				return -1;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				return -1;
			ck->digits = 0;
			ck->line_len = 0;
			ck->state = ck->size == 0 ? CK_TRAILER_START : CK_DATA;
			break;
		case CK_DATA_CR:
			if (c != '\r')
				return -1;
			ck->state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				return -1;
			ck->state = CK_SIZE;
			ck->size = 0;
			ck->line_len = 0;
			break;
		case CK_TRAILER_START:
			if (c == '\r') {
				ck->state = CK_FINAL_LF;
				break;
			}
			if (!text_is_tchar(c))
				return -1; /* obs-fold or junk */
			ck->state = CK_TRAILER;
			emit = keep_trailers;
			break;
		case CK_TRAILER:
			emit = keep_trailers;
			if (c == '\r')
				ck->state = CK_TRAILER_LF;
			else if (!text_is_field_value_byte(c))
				return -1;
			break;
		case CK_TRAILER_LF:
			emit = keep_trailers;
			if (c != '\n')
				return -1;
			ck->state = CK_TRAILER_START;
			break;
		case CK_FINAL_LF:
			if (c != '\n')
				return -1;
			ck->state = CK_DONE;
			ck->done = true;
			break;
		default: return -1;
		}
		if (ck->state == CK_TRAILER || ck->state == CK_TRAILER_LF ||
		    ck->state == CK_TRAILER_START) {
			if (++ck->trailer_len > HTTP1_TRAILER_MAX)
				return -1;
		} else if (++ck->line_len > HTTP1_CHUNK_LINE_MAX) {
			return -1;
		}
		if (emit) {
			out[o] = (char)c;
			o++;
		}
		i++;
	}
	*out_len = o;
	return (ssize_t)i;
}

/* ---- allow-list paths ---- */

/* Is the segment seg[0..len) (decoded) a dot-segment, "..;x" included? */
static bool dot_segment(const char *seg, size_t len)
{
	const char *semi = memchr(seg, ';', len);

	if (semi)
		len = (size_t)(semi - seg);
	return (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.');
}

/* Is path[0..len) clean: decodes, and no dot-segment, '\\', NUL or encoded '/'. */
static bool path_clean(const char *path, size_t len)
{
	size_t start = 1;

	if (len == 0 || path[0] != '/')
		return false;
	for (size_t i = 1; i <= len; i++) {
		char seg[257]; /* a longer segment cannot be a dot-segment */
		ssize_t seg_len;

		if (i < len && path[i] != '/')
			continue;
		seg_len = text_percent_decode(path + start, i - start, seg, sizeof(seg),
		                              TEXT_PCT_NO_NUL | TEXT_PCT_SEGMENT);
		if (seg_len == -EINVAL || (seg_len >= 0 && dot_segment(seg, (size_t)seg_len)))
			return false;
		start = i + 1;
	}
	return true;
}

bool http1_path_allowed(const char *target, size_t target_len, const char *prefix)
{
	const char *q = memchr(target, '?', target_len);
	size_t len = q ? (size_t)(q - target) : target_len;
	size_t plen = strlen(prefix);

	if (plen == 0 || len < plen || memcmp(target, prefix, plen) != 0)
		return false;
	if (len > plen && prefix[plen - 1] != '/' && target[plen] != '/')
		return false;
	return path_clean(target, len);
}

bool http1_prefix_valid(const char *prefix)
{
	size_t len = strlen(prefix);

	if (len == 0 || prefix[0] != '/' || strchr(prefix, '%') || strchr(prefix, '?'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)prefix[i] <= 0x20 || (unsigned char)prefix[i] >= 0x7f)
			return false;
	}
	return path_clean(prefix, len);
}
