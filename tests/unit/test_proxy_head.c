/*
 * test_proxy_head.c - the heads the proxy rewrites (proxy/head.c): hop-by-hop
 * and Connection-listed headers, the smuggling rules that live in the
 * rewrite, X-Forwarded-*, the X-Warden-* stamps and the deadline's format,
 * and the answers of its own. Each case compares the whole head.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/head.h"

#define WALL_MS 1700000000123LL /* 2023-11-14T22:13:20.123Z */
#define MONO_MS 5000000LL

static const struct http1_limits limits = {.max_head_bytes = 16384, .max_headers = 100};
static struct http1_header headers[HTTP1_HEADERS_MAX];
static char out[16384];

/* The facts of a request forwarded while writable, with 1500 ms left. */
static struct head_facts writable_facts(void)
{
	struct head_facts f = {.writable = true,
	                       .epoch = 7,
	                       .writable_until = MONO_MS + 1500,
	                       .now_mono_ms = MONO_MS,
	                       .now_wall_ms = WALL_MS,
	                       .client_ip = "10.0.0.9",
	                       .upstream_authority = "app:8080"};
	return f;
}

#define STAMPS_WRITABLE                                                                            \
	"X-Warden-Writable: true\r\nX-Warden-Epoch: 7\r\n"                                         \
	"X-Warden-Deadline: 2023-11-14T22:13:21.623Z\r\nX-Warden-Writable-For-Ms: 1500\r\n"

static void parse_request(const char *text, struct http1_msg *m)
{
	enum http1_status st = http1_parse_request(text, strlen(text), &limits, headers, NULL, m);

	if (st != HTTP1_OK)
		fail_msg("%s: %s (%s)", text, http1_status_str(st), m->error);
}

/* Rewrite the request in text with facts f; the result must be want, whole. */
static void assert_request(const char *text, const struct head_facts *f, const char *want)
{
	struct http1_msg m;
	size_t len;

	parse_request(text, &m);
	len = head_request(&m, f, out, sizeof(out));
	assert_int_not_equal(len, 0);
	out[len] = '\0';
	assert_string_equal(out, want);
}

static void assert_response(const char *text, enum http1_method method, bool dechunk, bool close,
                            int minor, const char *want)
{
	struct http1_msg m;
	size_t len;
	enum http1_status st =
	        http1_parse_response(text, strlen(text), method, &limits, headers, NULL, &m);

	if (st != HTTP1_OK)
		fail_msg("%s: %s (%s)", text, http1_status_str(st), m.error);
	len = head_response(&m, dechunk, close, minor, out, sizeof(out));
	assert_int_not_equal(len, 0);
	out[len] = '\0';
	assert_string_equal(out, want);
}

static void test_plain_get(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	assert_request("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &f,
	               "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n" STAMPS_WRITABLE
	               "\r\n");
}

static void test_hop_by_hop_removed(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	assert_request("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\n"
	               "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: close\r\n"
	               "Proxy-Authorization: Basic eA==\r\nUpgrade: h2c\r\nX-Secret: 1\r\n"
	               "X-Kept: 2\r\n\r\n",
	               &f,
	               "GET / HTTP/1.1\r\nHost: x\r\nX-Kept: 2\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n" STAMPS_WRITABLE
	               "\r\n");
}

/* Naming framing headers or Host in Connection must not strip them (smuggling). */
static void test_connection_cannot_strip_framing(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	assert_request("POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	               "Connection: Content-Length, Host, Transfer-Encoding, X-Forwarded-Proto\r\n"
	               "X-Forwarded-Proto: https\r\n\r\nabc",
	               &f,
	               "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	               "X-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.9\r\n" STAMPS_WRITABLE
	               "\r\n");
	assert_request("POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	               "Connection: transfer-encoding\r\n\r\n",
	               &f,
	               "POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n" STAMPS_WRITABLE
	               "\r\n");
}

/* Equal Content-Length values ("3, 3" or two lines) go upstream as one line. */
static void test_folded_content_length(void **unused)
{
	struct head_facts f = writable_facts();
	const char *want =
	        "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	        "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n" STAMPS_WRITABLE "\r\n";

	(void)unused;
	assert_request("POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", &f, want);
	assert_request(
	        "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &f,
	        want);
}

/*
 * Whatever the client says about the fence is removed, in any case, and set
 * from the verdict (an X-Warden header the proxy does not set passes).
 */
static void test_client_stamps_removed(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	f.writable = false;
	f.epoch = 3;
	assert_request("DELETE /x HTTP/1.1\r\nHost: x\r\nx-warden-writable: true\r\n"
	               "X-WARDEN-EPOCH: 99\r\nX-Warden-Deadline: 2999-01-01T00:00:00.000Z\r\n"
	               "x-Warden-Writable-For-Ms: 999999\r\nX-Warden-Other: 1\r\n\r\n",
	               &f,
	               "DELETE /x HTTP/1.1\r\nHost: x\r\nX-Warden-Other: 1\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n"
	               "X-Warden-Writable: false\r\nX-Warden-Epoch: 3\r\n"
	               "X-Warden-Writable-For-Ms: 0\r\n\r\n");
}

static void test_forwarded_for_joined(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	assert_request("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\n"
	               "X-Forwarded-For:\r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n"
	               "X-Forwarded-Proto: https\r\n\r\n",
	               &f,
	               "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n"
	               "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9\r\n" STAMPS_WRITABLE
	               "\r\n");
}

static void test_host_for_http10(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	assert_request("GET / HTTP/1.0\r\n\r\n", &f,
	               "GET / HTTP/1.1\r\nHost: app:8080\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n" STAMPS_WRITABLE
	               "\r\n");
}

static void test_upgrade_kept_when_upgrading(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	f.upgrade = true;
	assert_request("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
	               &f,
	               "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	               "Sec-WebSocket-Version: 13\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n" STAMPS_WRITABLE
	               "Connection: Upgrade\r\n\r\n");
}

static void assert_deadline(const struct head_facts *f, const char *want)
{
	size_t len = head_deadline(f, out, sizeof(out));

	out[len] = '\0';
	assert_string_equal(out, want);
}

/* The deadline: RFC 3339 UTC, three digits of ms; writable-for clamped at 0. */
static void test_deadline_format(void **unused)
{
	struct head_facts f = writable_facts();
	struct head_wall wall = {0};

	(void)unused;
	f.now_wall_ms = 1700000000000LL;
	f.writable_until = MONO_MS + 5;
	f.wall = &wall;
	assert_deadline(&f, "X-Warden-Deadline: 2023-11-14T22:13:20.005Z\r\n"
	                    "X-Warden-Writable-For-Ms: 5\r\n");
	/* the cached second is reused, and replaced when the second changes */
	f.writable_until = MONO_MS + 999;
	assert_deadline(&f, "X-Warden-Deadline: 2023-11-14T22:13:20.999Z\r\n"
	                    "X-Warden-Writable-For-Ms: 999\r\n");
	f.writable_until = MONO_MS + 61000;
	assert_deadline(&f, "X-Warden-Deadline: 2023-11-14T22:14:21.000Z\r\n"
	                    "X-Warden-Writable-For-Ms: 61000\r\n");
	/* already past: no time left, the deadline is now */
	f.writable_until = MONO_MS - 250;
	assert_deadline(&f, "X-Warden-Deadline: 2023-11-14T22:13:20.000Z\r\n"
	                    "X-Warden-Writable-For-Ms: 0\r\n");
	/* not writable: 0 and no deadline */
	f.writable = false;
	assert_deadline(&f, "X-Warden-Writable-For-Ms: 0\r\n");
	/* WARDEN_ON_STALE=hold: no bound, neither line */
	f.writable = true;
	f.writable_until = INT64_MAX;
	assert_deadline(&f, "");
}

static void test_hold_sends_no_deadline(void **unused)
{
	struct head_facts f = writable_facts();

	(void)unused;
	f.writable_until = INT64_MAX;
	assert_request("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &f,
	               "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
	               "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n"
	               "X-Warden-Writable: true\r\nX-Warden-Epoch: 7\r\n\r\n");
}

/* A head that does not fit is refused whole (0), never cut. */
static void test_request_too_large(void **unused)
{
	struct head_facts f = writable_facts();
	struct http1_msg m;
	size_t full;

	(void)unused;
	parse_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &m);
	full = head_request(&m, &f, out, sizeof(out));
	assert_int_not_equal(full, 0);
	assert_int_equal(head_request(&m, &f, out, full), full);
	assert_int_equal(head_request(&m, &f, out, full - 1), 0);
}

static void test_response_hop_by_hop(void **unused)
{
	(void)unused;
	assert_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\n"
	                "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nUpgrade: h2c\r\nTE: x\r\n"
	                "Proxy-Authenticate: Basic\r\nX-Kept: 2\r\n\r\n",
	                HTTP1_M_GET, false, false, 1,
	                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Kept: 2\r\n\r\n");
	/* the app cannot strip framing by naming it in Connection */
	assert_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	                "Connection: Transfer-Encoding, Content-Length\r\n\r\n",
	                HTTP1_M_GET, false, false, 1,
	                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void test_response_connection(void **unused)
{
	(void)unused;
	/* an HTTP/1.0 client: de-chunked, close-delimited */
	assert_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n",
	                HTTP1_M_GET, true, true, 0,
	                "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n");
	/* a keep-alive HTTP/1.0 client is told so */
	assert_response("HTTP/1.0 204 No Content\r\n\r\n", HTTP1_M_GET, false, false, 0,
	                "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
	/* interim answers carry no Connection */
	assert_response("HTTP/1.1 100 Continue\r\n\r\n", HTTP1_M_POST, false, true, 1,
	                "HTTP/1.1 100 Continue\r\n\r\n");
	/* 101 keeps Upgrade and says Connection: Upgrade */
	assert_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                "Connection: upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n",
	                HTTP1_M_GET, false, false, 1,
	                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                "Sec-WebSocket-Accept: x\r\nConnection: Upgrade\r\n\r\n");
}

static void test_local_answers(void **unused)
{
	char body[512];
	size_t body_len = head_problem(400, "bad \"x\"", body, sizeof(body));
	size_t len;

	(void)unused;
	body[body_len] = '\0';
	assert_string_equal(body, "{\"type\":\"about:blank\",\"title\":\"Bad Request\","
	                          "\"status\":400,\"detail\":\"bad \\\"x\\\"\"}");
	len = head_local(503, "{}", 2, 5, false, true, 1, out, sizeof(out));
	out[len] = '\0';
	assert_string_equal(out, "HTTP/1.1 503 Service Unavailable\r\n"
	                         "Content-Type: application/problem+json\r\n"
	                         "Cache-Control: no-store\r\nRetry-After: 5\r\n"
	                         "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
	/* HEAD: the length of the body that is not sent */
	len = head_local(504, "{}", 2, -1, true, false, 0, out, sizeof(out));
	out[len] = '\0';
	assert_string_equal(out, "HTTP/1.1 504 Gateway Timeout\r\n"
	                         "Content-Type: application/problem+json\r\n"
	                         "Cache-Control: no-store\r\n"
	                         "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(head_local(503, "{}", 2, 5, false, true, 1, out, 20), 0);
}

static void test_fenced_problem(void **unused)
{
	struct fence_verdict v = {.epoch = 12, .state = FENCE_PASSIVE};
	size_t len;

	(void)unused;
	snprintf(v.active_region, sizeof(v.active_region), "%s", "eu-west-1");
	len = head_fenced_problem(&v, "us-east-1", "POST is refused", out, sizeof(out));
	out[len] = '\0';
	assert_non_null(strstr(out, "\"type\":\"urn:warden:problem:fenced\""));
	assert_non_null(strstr(out, "\"status\":503,\"detail\":\"POST is refused\""));
	assert_non_null(strstr(out, "\"region\":\"us-east-1\",\"active_region\":\"eu-west-1\""));
	assert_non_null(strstr(out, "\"epoch\":12,\"state\":\""));
	v.active_region[0] = '\0';
	len = head_fenced_problem(&v, "us-east-1", "x", out, sizeof(out));
	out[len] = '\0';
	assert_non_null(strstr(out, "\"active_region\":null"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_get),
	        cmocka_unit_test(test_hop_by_hop_removed),
	        cmocka_unit_test(test_connection_cannot_strip_framing),
	        cmocka_unit_test(test_folded_content_length),
	        cmocka_unit_test(test_client_stamps_removed),
	        cmocka_unit_test(test_forwarded_for_joined),
	        cmocka_unit_test(test_host_for_http10),
	        cmocka_unit_test(test_upgrade_kept_when_upgrading),
	        cmocka_unit_test(test_deadline_format),
	        cmocka_unit_test(test_hold_sends_no_deadline),
	        cmocka_unit_test(test_request_too_large),
	        cmocka_unit_test(test_response_hop_by_hop),
	        cmocka_unit_test(test_response_connection),
	        cmocka_unit_test(test_local_answers),
	        cmocka_unit_test(test_fenced_problem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
