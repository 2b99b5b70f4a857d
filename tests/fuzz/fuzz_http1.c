/*
 * fuzz_http1.c - the proxy's HTTP/1.1 parser on arbitrary bytes. The first
 * byte picks the limits and the split points; the rest is parsed as a
 * request head, a response head, a chunked body in every mode and an
 * allow-list path. Checks: no read beyond the input (ASan), parsed fields lie
 * inside the input, an incremental parse (byte by byte with `scanned`)
 * agrees with a one-shot parse, a chunked body gives the same output for any
 * split, and de-chunked output never exceeds its input. Corpus:
 * corpus/http1/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http1_header headers_a[HTTP1_HEADERS_MAX];
static struct http1_header headers_b[HTTP1_HEADERS_MAX];

static int inside(const char *buf, size_t len, const char *p, size_t n)
{
	return p >= buf && p + n <= buf + len;
}

static void check_msg(const char *buf, size_t len, const struct http1_msg *m, int request)
{
	if (m->head_len > len || m->header_count > HTTP1_HEADERS_MAX)
		__builtin_trap();
	if (request && (!inside(buf, m->head_len, m->method, m->method_len) ||
	                !inside(buf, m->head_len, m->target, m->target_len) || m->target_len == 0))
		__builtin_trap();
	if (!request && (m->status < 100 || m->status > 599))
		__builtin_trap();
	for (size_t i = 0; i < m->header_count; i++) {
		const struct http1_header *h = &m->headers[i];

		if (!inside(buf, m->head_len, h->name, h->name_len) ||
		    !inside(buf, m->head_len, h->value, h->value_len) || h->name_len == 0)
			__builtin_trap();
		for (size_t j = 0; j < h->value_len; j++) {
			unsigned char c = (unsigned char)h->value[j];

			if (c == '\r' || c == '\n' || c == 0)
				__builtin_trap();
		}
	}
	if (m->framing == HTTP1_BODY_CHUNKED && m->content_length != 0)
		__builtin_trap();
}

/* Parse heads one-shot and incrementally; the two must agree. */
static void fuzz_heads(const char *buf, size_t len, uint8_t knob)
{
	struct http1_limits lim = {.max_head_bytes = 64 + (size_t)(knob & 0x3f) * 256,
	                           .max_headers = 1 + (knob >> 4) * 8};
	struct http1_msg one;
	struct http1_msg inc;
	enum http1_status st;
	enum http1_status st2 = HTTP1_INCOMPLETE;
	size_t scanned = 0;
	size_t step = 1 + (knob & 7);

	st = http1_parse_request(buf, len, &lim, headers_a, NULL, &one);
	if (st == HTTP1_OK)
		check_msg(buf, len, &one, 1);
	for (size_t at = step; st2 == HTTP1_INCOMPLETE; at += step) {
		size_t n = at < len ? at : len;

		st2 = http1_parse_request(buf, n, &lim, headers_b, &scanned, &inc);
		if (n == len)
			break;
	}
	if (st2 != st || (st == HTTP1_OK && inc.head_len != one.head_len))
		__builtin_trap();
	if (one.error == NULL || inc.error == NULL)
		__builtin_trap();

	st = http1_parse_response(buf, len, (knob & 1) ? HTTP1_M_HEAD : HTTP1_M_GET, &lim,
	                          headers_a, NULL, &one);
	if (st == HTTP1_OK) {
		check_msg(buf, len, &one, 0);
		if ((knob & 1) && one.framing != HTTP1_BODY_NONE)
			__builtin_trap();
	}
}

/* Scan as a chunked body in one go and in pieces; outputs must match. */
static void fuzz_chunked(const char *buf, size_t len, uint8_t knob)
{
	enum http1_chunk_mode mode = (enum http1_chunk_mode)(knob % 3);
	char *whole = malloc(len + 1);
	char *parts = malloc(len + 1);
	char *out = malloc(len + 1);
	struct http1_chunked ck;
	size_t whole_out = 0;
	size_t parts_out = 0;
	ssize_t whole_used;
	ssize_t parts_used = 0;
	size_t step = 1 + (knob >> 2) % 13;
	int parts_failed = 0;

	if (whole == NULL || parts == NULL || out == NULL)
		goto out;
	memcpy(whole, buf, len);
	memcpy(parts, buf, len);
	http1_chunked_init(&ck, mode);
	whole_used = http1_chunked_feed(&ck, whole, whole, len, &whole_out);
	if (whole_used >= 0 && (whole_out > (size_t)whole_used || (size_t)whole_used > len))
		__builtin_trap();
	if (whole_used >= 0 && (size_t)whole_used < len && !ck.done)
		__builtin_trap(); /* stops early only at the end of the body */

	http1_chunked_init(&ck, mode);
	for (size_t at = 0; at < len && !ck.done;) {
		size_t n = len - at < step ? len - at : step;
		size_t produced = 0;
		ssize_t used = http1_chunked_feed(&ck, parts + at, parts + at, n, &produced);

		if (used < 0) {
			parts_failed = 1;
			break;
		}
		if (produced > (size_t)used)
			__builtin_trap();
		memcpy(out + parts_out, parts + at, produced);
		parts_out += produced;
		at += (size_t)used;
		parts_used = (ssize_t)at;
	}
	if ((whole_used < 0) != parts_failed)
		__builtin_trap();
	if (whole_used >= 0 && (whole_used != parts_used || whole_out != parts_out ||
	                        memcmp(whole, out, whole_out) != 0))
		__builtin_trap();
out:
	free(whole);
	free(parts);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf;
	char *path;
	uint8_t knob;

	if (size < 1)
		return 0;
	knob = data[0];
	buf = (const char *)data + 1;
	size--;
	fuzz_heads(buf, size, knob);
	fuzz_chunked(buf, size, knob);
	path = malloc(size + 1);
	if (path) {
		memcpy(path, buf, size);
		path[size] = '\0';
		(void)http1_path_allowed(buf, size, "/health/");
		(void)http1_path_allowed(buf, size, "/h");
		(void)http1_prefix_valid(path);
		free(path);
	}
	return 0;
}
