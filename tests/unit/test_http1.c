/* test_http1.c - the proxy's HTTP/1.1 head parser and chunked scanner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http1.h"

static const struct http1_limits limits = {.max_head_bytes = 16384, .max_headers = 100};
static struct http1_header headers[HTTP1_HEADERS_MAX];

static enum http1_status req(const char *text, struct http1_msg *m)
{
	return http1_parse_request(text, strlen(text), &limits, headers, NULL, m);
}

static enum http1_status resp(const char *text, enum http1_method method, struct http1_msg *m)
{
	return http1_parse_response(text, strlen(text), method, &limits, headers, NULL, m);
}

static void assert_req(const char *text, enum http1_status want)
{
	struct http1_msg m;
	enum http1_status got = req(text, &m);

	if (got != want)
		fail_msg("%s: got %s (%s), want %s", text, http1_status_str(got), m.error,
		         http1_status_str(want));
}

static void test_simple_get(void **unused)
{
	struct http1_msg m;
	const char *text = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Warden-Epoch: 9\r\n"
	                   "X-Forwarded-For:  1.2.3.4  \r\n\r\nNEXT";

	(void)unused;
	assert_int_equal(req(text, &m), HTTP1_OK);
	assert_int_equal(m.head_len, strlen(text) - 4);
	assert_int_equal(m.method_id, HTTP1_M_GET);
	assert_int_equal(m.target_len, 6);
	assert_memory_equal(m.target, "/a?b=1", 6);
	assert_int_equal(m.minor, 1);
	assert_true(m.keep_alive);
	assert_int_equal(m.framing, HTTP1_BODY_NONE);
	assert_int_equal(m.header_count, 3);
	assert_int_equal(m.headers[0].hid, HTTP1_H_HOST);
	assert_int_equal(m.headers[1].hid, HTTP1_H_X_WARDEN);
	assert_int_equal(m.headers[2].hid, HTTP1_H_X_FORWARDED_FOR);
	assert_int_equal(m.headers[2].value_len, 7); /* OWS trimmed */
	assert_memory_equal(m.headers[2].value, "1.2.3.4", 7);

	/* every X-Warden header the proxy sets is recognised, in any case */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: x\r\nx-WARDEN-deadline: 1\r\n"
	                     "X-Warden-Writable-For-Ms: 2\r\nX-WARDEN-WRITABLE: 3\r\n"
	                     "X-Warden-Writable-For: 4\r\n\r\n",
	                     &m),
	                 HTTP1_OK);
	assert_int_equal(m.headers[1].hid, HTTP1_H_X_WARDEN);
	assert_int_equal(m.headers[2].hid, HTTP1_H_X_WARDEN);
	assert_int_equal(m.headers[3].hid, HTTP1_H_X_WARDEN);
	assert_int_equal(m.headers[4].hid, HTTP1_H_OTHER); /* not one of ours */
}

static void test_incremental(void **unused)
{
	const char *text = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
	size_t len = strlen(text);
	size_t scanned = 0;
	struct http1_msg m;

	(void)unused;
	for (size_t i = 1; i < len; i++)
		assert_int_equal(http1_parse_request(text, i, &limits, headers, &scanned, &m),
		                 HTTP1_INCOMPLETE);
	assert_int_equal(http1_parse_request(text, len, &limits, headers, &scanned, &m), HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_LENGTH);
	assert_int_equal(m.content_length, 5);
	assert_int_equal(m.method_id, HTTP1_M_POST);
}

static void test_connection_management(void **unused)
{
	struct http1_msg m;

	(void)unused;
	assert_int_equal(req("GET / HTTP/1.0\r\n\r\n", &m), HTTP1_OK);
	assert_false(m.keep_alive);
	assert_int_equal(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &m), HTTP1_OK);
	assert_true(m.keep_alive);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &m),
	                 HTTP1_OK);
	assert_false(m.keep_alive);
	assert_int_equal(req("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
	                     "Upgrade: websocket\r\nExpect: 100-continue\r\n\r\n",
	                     &m),
	                 HTTP1_OK);
	assert_true(m.conn_upgrade);
	assert_true(m.upgrade_websocket);
	assert_true(m.expect_continue);
	assert_true(m.keep_alive);
}

static void test_framing(void **unused)
{
	struct http1_msg m;

	(void)unused;
	assert_int_equal(req("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &m),
	                 HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_CHUNKED);
	assert_int_equal(req("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", &m),
	                 HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_CHUNKED);
	assert_int_equal(req("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &m),
	                 HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_NONE);
	assert_int_equal(req("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n"
	                     "Content-Length: 7\r\n\r\n",
	                     &m),
	                 HTTP1_OK);
	assert_int_equal(m.content_length, 7);
	assert_true(m.length_folded); /* two equal lines: forwarded as one */
	assert_int_equal(req("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n", &m),
	                 HTTP1_OK);
	assert_int_equal(m.content_length, 7);
	assert_true(m.length_folded); /* an equal list: forwarded as one plain value */
	assert_int_equal(req("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n", &m),
	                 HTTP1_OK);
	assert_false(m.length_folded); /* plain: forwarded as it came */
	assert_req("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n",
	           HTTP1_OK);
}

static void test_smuggling(void **unused)
{
	(void)unused;
	/* CL.TE / TE.CL */
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
	           "Transfer-Encoding: chunked\r\n\r\n",
	           HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	           "Content-Length: 4\r\n\r\n",
	           HTTP1_BAD);
	/* differing or malformed lengths */
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
	           HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x4\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4 4\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n",
	           HTTP1_BAD);
	/* transfer codings */
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	           HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	           HTTP1_NOT_IMPLEMENTED);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	           "Transfer-Encoding: chunked\r\n\r\n",
	           HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
	           HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_BAD);
	/* line and field syntax */
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
	           HTTP1_BAD); /* obs-fold */
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", HTTP1_BAD);
	assert_req("POST / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.1\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", HTTP1_BAD);
	{
		static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
		struct http1_msg m;

		assert_int_equal(
		        http1_parse_request(nul, sizeof(nul) - 1, &limits, headers, NULL, &m),
		        HTTP1_BAD);
	}
	/* Host */
	assert_req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.1\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.0\r\n\r\n", HTTP1_OK);
}

static void test_request_line(void **unused)
{
	(void)unused;
	assert_req("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HTTP1_BAD_VERSION);
	assert_req("GET / HTTP/1.2\r\nHost: a\r\n\r\n", HTTP1_BAD_VERSION);
	assert_req("GET / HTTX/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("GET /\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_NOT_IMPLEMENTED);
	assert_req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_OK);
	assert_req("GET * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD);
	assert_req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD); /* the proxy skips these */
	{
		struct http1_msg m;

		assert_int_equal(req("get / HTTP/1.1\r\nHost: a\r\n\r\n", &m), HTTP1_OK);
		assert_int_equal(m.method_id, HTTP1_M_OTHER); /* methods are case-sensitive */
	}
}

static void test_limits(void **unused)
{
	struct http1_limits small = {.max_head_bytes = 64, .max_headers = 3};
	struct http1_msg m;
	char big[200];
	const char *many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";

	(void)unused;
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	assert_int_equal(http1_parse_request(big, sizeof(big), &small, headers, NULL, &m),
	                 HTTP1_HEAD_TOO_LARGE);
	assert_int_equal(http1_parse_request(big, 63, &small, headers, NULL, &m), HTTP1_INCOMPLETE);
	assert_int_equal(http1_parse_request(many, strlen(many), &small, headers, NULL, &m),
	                 HTTP1_TOO_MANY_HEADERS);
	small.max_headers = 4;
	assert_int_equal(http1_parse_request(many, strlen(many), &small, headers, NULL, &m),
	                 HTTP1_OK);
}

static void test_responses(void **unused)
{
	struct http1_msg m;

	(void)unused;
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", HTTP1_M_GET, &m),
	                 HTTP1_OK);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.framing, HTTP1_BODY_LENGTH);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", HTTP1_M_HEAD, &m),
	                 HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_NONE);
	assert_int_equal(
	        resp("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", HTTP1_M_GET, &m),
	        HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 304 Not Modified\r\n\r\n", HTTP1_M_GET, &m), HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\n\r\n", HTTP1_M_GET, &m), HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_CLOSE);
	assert_int_equal(
	        resp("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_M_GET, &m),
	        HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_CHUNKED);
	assert_int_equal(m.reason_len, 0);
	assert_int_equal(
	        resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP1_M_GET, &m),
	        HTTP1_OK);
	assert_int_equal(m.framing, HTTP1_BODY_CLOSE);
	assert_int_equal(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                      "Connection: Upgrade\r\n\r\n",
	                      HTTP1_M_GET, &m),
	                 HTTP1_OK);
	assert_int_equal(m.status, 101);
	assert_int_equal(m.framing, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", HTTP1_M_GET, &m),
	                 HTTP1_OK);
	assert_false(m.keep_alive);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: "
	                      "chunked\r\n\r\n",
	                      HTTP1_M_GET, &m),
	                 HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 2000 OK\r\n\r\n", HTTP1_M_GET, &m), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 099 OK\r\n\r\n", HTTP1_M_GET, &m), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP1_M_GET, &m), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	                      HTTP1_M_GET, &m),
	                 HTTP1_BAD);
}

/* Feed `in` in pieces of `step` bytes; the output and the consumed length. */
static ssize_t chunk_all(const char *in, size_t len, enum http1_chunk_mode mode, size_t step,
                         char *out, size_t *out_len, bool *done)
{
	struct http1_chunked ck;
	char *copy = malloc(len + 1);
	size_t at = 0;

	memcpy(copy, in, len);
	*out_len = 0;
	http1_chunked_init(&ck, mode);
	while (at < len && !ck.done) {
		size_t n = len - at < step ? len - at : step;
		size_t produced = 0;
		ssize_t used = http1_chunked_feed(&ck, copy + at, copy + at, n, &produced);

		if (used < 0) {
			free(copy);
			return -1;
		}
		memcpy(out + *out_len, copy + at, produced);
		*out_len += produced;
		at += (size_t)used;
		if ((size_t)used < n)
			break;
	}
	*done = ck.done;
	free(copy);
	return (ssize_t)at;
}

static void test_chunked(void **unused)
{
	const char *body = "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nGET /next";
	size_t body_len = strlen(body) - strlen("GET /next");
	char out[256];
	size_t out_len;
	bool done;

	(void)unused;
	for (size_t step = 1; step <= strlen(body); step++) {
		assert_int_equal(
		        chunk_all(body, strlen(body), HTTP1_CHUNK_DATA, step, out, &out_len, &done),
		        body_len);
		assert_true(done);
		assert_int_equal(out_len, 15);
		assert_memory_equal(out, "hello0123456789", 15);

		assert_int_equal(
		        chunk_all(body, strlen(body), HTTP1_CHUNK_PASS, step, out, &out_len, &done),
		        body_len);
		assert_int_equal(out_len, body_len);
		assert_memory_equal(out, body, body_len);

		assert_int_equal(chunk_all(body, strlen(body), HTTP1_CHUNK_PASS_NO_TRAILERS, step,
		                           out, &out_len, &done),
		                 body_len);
		assert_int_equal(out_len, body_len - strlen("X-T: 1\r\n"));
		assert_memory_equal(out, "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\n\r\n",
		                    out_len);
	}
}

static void assert_chunk_bad(const char *body)
{
	char *out = malloc(strlen(body) + 1);
	size_t out_len;
	bool done;
	ssize_t got = chunk_all(body, strlen(body), HTTP1_CHUNK_PASS, 1, out, &out_len, &done);

	free(out);
	if (got != -1)
		fail_msg("chunked body accepted: %.60s", body);
}

static void test_chunked_bad(void **unused)
{
	char long_ext[HTTP1_CHUNK_LINE_MAX + 16];

	(void)unused;
	assert_chunk_bad("g\r\n");
	assert_chunk_bad("\r\n");
	assert_chunk_bad(" 5\r\nhello\r\n");
	assert_chunk_bad("5 x\r\nhello\r\n");
	assert_chunk_bad("-5\r\n");
	assert_chunk_bad("0x5\r\nhello\r\n");
	assert_chunk_bad("5\nhello\r\n");
	assert_chunk_bad("5\r\nhelloXX");
	assert_chunk_bad("5\r\nhello\n");
	assert_chunk_bad("1000000000000000\r\n"); /* 16 hex digits */
	assert_chunk_bad("0\r\n bad: fold\r\n\r\n");
	assert_chunk_bad("0\r\nX: a\x01\r\n\r\n");
	assert_chunk_bad("0\r\n\rX");
	assert_chunk_bad("5;a=\x01\r\n");
	memset(long_ext, 'a', sizeof(long_ext) - 1);
	memcpy(long_ext, "1;", 2);
	long_ext[sizeof(long_ext) - 1] = '\0';
	assert_chunk_bad(long_ext);
	{
		char out[64];
		size_t out_len;
		bool done;

		assert_int_equal(chunk_all("5 ;x\r\nhello\r\n0\r\n\r\n", 18, HTTP1_CHUNK_DATA, 1,
		                           out, &out_len, &done),
		                 18);
		assert_true(done);
		assert_int_equal(chunk_all("fffffffffffffff\r\nab", 19, HTTP1_CHUNK_DATA, 4, out,
		                           &out_len, &done),
		                 19);
		assert_false(done);
	}
}

static void test_paths(void **unused)
{
	(void)unused;
	assert_true(http1_path_allowed("/health", 7, "/health"));
	assert_true(http1_path_allowed("/health/x?y=../z", 16, "/health"));
	assert_true(http1_path_allowed("/health/x", 9, "/health/"));
	assert_true(http1_path_allowed("/health?x", 9, "/health"));
	assert_false(http1_path_allowed("/healthz", 8, "/health"));
	assert_false(http1_path_allowed("/health", 7, "/health/"));
	assert_false(http1_path_allowed("/admin", 6, "/health"));
	assert_false(http1_path_allowed("/health/../admin", 16, "/health/"));
	assert_false(http1_path_allowed("/health/./x", 11, "/health/"));
	assert_false(http1_path_allowed("/health/%2e%2e/admin", 20, "/health/"));
	assert_false(http1_path_allowed("/health/%2E./admin", 18, "/health/"));
	assert_false(http1_path_allowed("/health/..%2fadmin", 18, "/health/"));
	assert_false(http1_path_allowed("/health/..;/admin", 17, "/health/"));
	assert_false(http1_path_allowed("/health/..\\admin", 16, "/health/"));
	assert_false(http1_path_allowed("/health/%5c..", 13, "/health/"));
	assert_false(http1_path_allowed("/health/%zz", 11, "/health/"));
	assert_false(http1_path_allowed("/health/%2", 10, "/health/"));
	assert_false(http1_path_allowed("/health/%00", 11, "/health/"));
	assert_true(http1_path_allowed("/health/%41", 11, "/health/"));
	assert_true(http1_path_allowed("/health/...", 11, "/health/"));
	assert_true(http1_path_allowed("/health/.well-known", 19, "/health/"));

	assert_true(http1_prefix_valid("/health"));
	assert_true(http1_prefix_valid("/"));
	assert_false(http1_prefix_valid("health"));
	assert_false(http1_prefix_valid("/a/../b"));
	assert_false(http1_prefix_valid("/a%2f"));
	assert_false(http1_prefix_valid("/a b"));
	assert_false(http1_prefix_valid(""));
}

static void test_list(void **unused)
{
	(void)unused;
	assert_true(http1_list_has("keep-alive, Upgrade", 19, "upgrade", 7));
	assert_true(http1_list_has("websocket/13", 12, "websocket", 9));
	assert_false(http1_list_has("upgraded", 8, "upgrade", 7));
	assert_false(http1_list_has("", 0, "close", 5));
	assert_true(http1_list_has(" ,, close ,", 11, "close", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_simple_get),
	        cmocka_unit_test(test_incremental),
	        cmocka_unit_test(test_connection_management),
	        cmocka_unit_test(test_framing),
	        cmocka_unit_test(test_smuggling),
	        cmocka_unit_test(test_request_line),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_responses),
	        cmocka_unit_test(test_chunked),
	        cmocka_unit_test(test_chunked_bad),
	        cmocka_unit_test(test_paths),
	        cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
