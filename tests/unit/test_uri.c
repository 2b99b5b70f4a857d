/* test_uri.c - the strict probe-target parser and the redactor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/uri.h"

static struct wd_uri *parse_ok(const char *text)
{
	struct wd_uri *uri = calloc(1, sizeof(*uri));
	struct wd_err err = {0};

	assert_non_null(uri);
	if (uri_parse(text, uri, &err) != 0)
		fail_msg("'%s' rejected: %s", text, err.msg);
	return uri;
}

/* Rejected, with `needle` in the message and never `secret`. */
static void assert_rejects(const char *text, const char *needle, const char *secret)
{
	struct wd_uri *uri = calloc(1, sizeof(*uri));
	struct wd_err err = {0};

	assert_non_null(uri);
	assert_int_equal(uri_parse(text, uri, &err), -EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", text ? text : "(null)", err.msg, needle);
	if (secret != NULL && strstr(err.msg, secret) != NULL)
		fail_msg("'%s': message '%s' leaks '%s'", text, err.msg, secret);
	free(uri);
}

static void test_parse_full(void **unused)
{
	struct wd_uri *uri;

	(void)unused;
	uri = parse_ok("REDISS://app%40x:p%3Ass%2Fw0rd@cache.example.com:6380/2?timeout=1");
	assert_string_equal(uri->scheme, "rediss");
	assert_string_equal(uri->user, "app@x");
	assert_true(uri->has_password);
	assert_string_equal(uri->password, "p:ss/w0rd");
	assert_string_equal(uri->host, "cache.example.com");
	assert_int_equal(uri->port, 6380);
	assert_string_equal(uri->path, "/2");
	assert_string_equal(uri->query, "timeout=1");
	free(uri);
}

static void test_parse_minimal_forms(void **unused)
{
	struct wd_uri *uri;

	(void)unused;
	uri = parse_ok("tcp://db:5432");
	assert_string_equal(uri->scheme, "tcp");
	assert_string_equal(uri->user, "");
	assert_false(uri->has_password);
	assert_string_equal(uri->host, "db");
	assert_int_equal(uri->port, 5432);
	assert_string_equal(uri->path, "");
	assert_string_equal(uri->query, "");
	free(uri);

	uri = parse_ok("http://example.com");
	assert_int_equal(uri->port, 0);
	free(uri);

	uri = parse_ok("http://example.com/?");
	assert_string_equal(uri->path, "/");
	assert_string_equal(uri->query, "");
	free(uri);

	uri = parse_ok("redis://:secret@10.0.0.1:6379");
	assert_string_equal(uri->user, "");
	assert_true(uri->has_password);
	assert_string_equal(uri->password, "secret");
	assert_string_equal(uri->host, "10.0.0.1");
	free(uri);

	uri = parse_ok("redis://u:a%0Ab%7F@h");
	assert_string_equal(uri->password, "a\nb\x7f");
	free(uri);

	uri = parse_ok("redis://user@h");
	assert_string_equal(uri->user, "user");
	assert_false(uri->has_password);
	free(uri);

	uri = parse_ok("redis://user:@h");
	assert_true(uri->has_password);
	assert_string_equal(uri->password, "");
	free(uri);

	uri = parse_ok("http://h/a/b%20c;x=1/@me?q=a/b?c&d=%41");
	assert_string_equal(uri->path, "/a/b%20c;x=1/@me");
	assert_string_equal(uri->query, "q=a/b?c&d=%41");
	free(uri);
}

static void test_parse_ipv6(void **unused)
{
	struct wd_uri *uri;

	(void)unused;
	uri = parse_ok("http://[::1]:8080/livez");
	assert_string_equal(uri->host, "::1");
	assert_int_equal(uri->port, 8080);
	free(uri);

	uri = parse_ok("tcp://[2001:db8::7]:1");
	assert_string_equal(uri->host, "2001:db8::7");
	free(uri);

	uri = parse_ok("https://[fe80::1]");
	assert_int_equal(uri->port, 0);
	free(uri);

	assert_rejects("http://[::1", "closing ']'", NULL);
	assert_rejects("http://[::g]:80", "bad IPv6", NULL);
	assert_rejects("http://[]:80", "bad IPv6", NULL);
	assert_rejects("http://[v1.x]:80", "IPvFuture", NULL);
	assert_rejects("http://[fe80::1%25eth0]:80", "zone", NULL);
	assert_rejects("http://[::1]x:80", "after the IPv6", NULL);
	assert_rejects("http://::1:80/", "brackets", NULL);
}

static void test_parse_ports(void **unused)
{
	struct wd_uri *uri;

	(void)unused;
	uri = parse_ok("tcp://h:1");
	assert_int_equal(uri->port, 1);
	free(uri);
	uri = parse_ok("tcp://h:65535");
	assert_int_equal(uri->port, 65535);
	free(uri);
	assert_rejects("tcp://h:0", "out of range", NULL);
	assert_rejects("tcp://h:65536", "out of range", NULL);
	assert_rejects("tcp://h:000001", "out of range", NULL);
	assert_rejects("tcp://h:99999999999999999999", "out of range", NULL);
	assert_rejects("tcp://h:", "empty port", NULL);
	assert_rejects("tcp://h:-1", "not a number", NULL);
	assert_rejects("tcp://h:8o", "not a number", NULL);
}

static void test_parse_bad(void **unused)
{
	char long_uri[WD_URI_MAX + 32];
	char long_host[WD_HOST_MAX + 32];
	char long_password[WD_SECRET_MAX + 64];

	(void)unused;
	assert_rejects(NULL, "empty", NULL);
	assert_rejects("", "empty", NULL);
	assert_rejects("example.com:80", "want '//'", NULL);
	assert_rejects("hunter2", "no scheme", "hunter2");
	assert_rejects("://h", "no scheme", NULL);
	assert_rejects("1http://h", "no scheme", NULL);
	assert_rejects("http:h", "want '//'", NULL);
	assert_rejects("http:/h", "want '//'", NULL);
	assert_rejects("http://", "no host", NULL);
	assert_rejects("http:///path", "no host", NULL);
	assert_rejects("http://u:p@:80", "no host", NULL);
	assert_rejects("averyveryverylongscheme://h", "scheme longer", NULL);
	assert_rejects("http://h/a b", "space", NULL);
	assert_rejects("http://h/\x01", "control", NULL);
	assert_rejects("http://h/\xc3\xa9", "non-ASCII", NULL);
	assert_rejects("http://h/a#frag", "'#'", NULL);
	assert_rejects("http://h/%4", "percent escape in the path", NULL);
	assert_rejects("http://h/%zz", "percent escape in the path", NULL);
	assert_rejects("http://h/a{b}", "path", NULL);
	assert_rejects("http://h/?a=%g1", "query", NULL);
	assert_rejects("http://h/?a=[1]", "query", NULL);
	assert_rejects("http://h_^/", "bad character in the host", NULL);
	assert_rejects("postgres://h1:5432,h2:5433/db", "only allowed in postgres", NULL);

	memset(long_uri, 'a', sizeof(long_uri));
	memcpy(long_uri, "http://h/", 9);
	long_uri[WD_URI_MAX + 1] = '\0';
	assert_rejects(long_uri, "longer than 2048", NULL);

	memset(long_host, 'a', sizeof(long_host));
	memcpy(long_host, "http://", 7);
	long_host[7 + WD_HOST_MAX + 1] = '\0';
	assert_rejects(long_host, "host longer", NULL);

	memset(long_password, 'p', sizeof(long_password));
	memcpy(long_password, "redis://u:", 10);
	memcpy(long_password + 10 + WD_SECRET_MAX + 1, "@h", 3);
	assert_rejects(long_password, "password longer", "pppp");
}

static void test_errors_never_leak_password(void **unused)
{
	(void)unused;
	/* Unencoded delimiters in a password, mistyped escapes, stray '@'s. */
	assert_rejects("redis://us%0Aer:pw@h", "user name", NULL);
	assert_rejects("redis://us%7fer:pw@h", "user name", NULL);
	assert_rejects("redis://u:hunter2/x@h:6379", "percent-encode", "hunter2");
	assert_rejects("redis://u:hunter2?x@h:6379", "percent-encode", "hunter2");
	assert_rejects("redis://u:hun@ter2@h:6379", "more than one '@'", "hun");
	assert_rejects("redis://u:hunter%2@h:6379", "password", "hunter");
	assert_rejects("redis://u:hunter%00@h:6379", "password", "hunter");
	assert_rejects("redis://u:hunt[er]@h:6379", "password", "hunt");
	assert_rejects("redis://hunter2@h:6379x", "port", "hunter2");
	assert_rejects("redis://us%zzer:hunter2@h", "user name", "hunter2");
}

/* uri_redact(text) is exactly want. */
static void assert_redacts(const char *text, const char *want)
{
	char out[WD_URI_MAX + 64];

	uri_redact(text, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_redact_userinfo(void **unused)
{
	(void)unused;
	assert_redacts("redis://:pw@h:6379", "redis://:***@h:6379");
	assert_redacts("redis://user:pw@h:6379/0", "redis://user:***@h:6379/0");
	assert_redacts("rediss://lonepassword@h", "rediss://***@h");
	assert_redacts("http://user@h/x", "http://user@h/x");
	assert_redacts("http://u:@h/x", "http://u:***@h/x");
	assert_redacts("tcp://h:1", "tcp://h:1");
	assert_redacts("http://h/users/@me", "http://h/users/@me");
	assert_redacts("", "");
	/* Sloppy input: an unencoded '@', '/', '?' or '#' in the password. */
	assert_redacts("redis://u:p@ss@h:1/0", "redis://u:***@h:1/0");
	assert_redacts("redis://u:pa/ss@h:1/0", "redis://u:***@h:1/0");
	assert_redacts("redis://u:pa?ss@h:1/0", "redis://u:***@h:1/0");
	assert_redacts("redis://u:pa#ss@h:1/0", "redis://u:***@h:1/0");
	/* No scheme at all. */
	assert_redacts("u:pw@h", "u:***@h");
}

static void test_redact_postgres(void **unused)
{
	(void)unused;
	assert_redacts("postgresql://u:pw@h1:5432,h2:5433/db?sslmode=require&password=x",
	               "postgresql://u:***@h1:5432,h2:5433/db?sslmode=require&password=***");
	assert_redacts("postgres://app@[::1]:5432,[::2]:5432/db?PassWord=secret&application_name=w",
	               "postgres://app@[::1]:5432,[::2]:5432/db?PassWord=***&application_name=w");
	assert_redacts("postgresql:///db?host=/run/pg&sslpassword=k&sslkey=/k.pem",
	               "postgresql:///db?host=/run/pg&sslpassword=***&sslkey=***");
}

static void test_redact_query(void **unused)
{
	(void)unused;
	assert_redacts(
	        "https://h/x?api_key=1&token=2&access_token=3&X-Amz-Signature=4&deep=1",
	        "https://h/x?api_key=***&token=***&access_token=***&X-Amz-Signature=***&deep=1");
	assert_redacts("https://h/x?client_secret=a;Authorization=b&credentials=c&pwd=d",
	               "https://h/x?client_secret=***;Authorization=***&credentials=***&pwd=***");
	assert_redacts("https://h/x?pass%77ord=a&q", "https://h/x?pass%77ord=***&q");
	assert_redacts("https://h/x?a=1&&b=&password=", "https://h/x?a=1&&b=&password=***");
	assert_redacts("https://h/x?password=a#interval=5s",
	               "https://h/x?password=***#interval=5s");
	assert_redacts("https://h/x?a=1#x=password=1", "https://h/x?a=1#x=password=1");
}

static void test_redact_cuts_and_is_safe(void **unused)
{
	char out[16];
	char tiny[1];

	(void)unused;
	uri_redact("redis://user:supersecret@host:6379", out, sizeof(out));
	assert_string_equal(out, "redis://user:**");
	uri_redact("x", tiny, sizeof(tiny));
	assert_string_equal(tiny, "");
	uri_redact("x", out, 0);
	uri_redact(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	uri_redact("http://h/\n\x01", out, sizeof(out));
	assert_string_equal(out, "http://h/??");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_full),
	        cmocka_unit_test(test_parse_minimal_forms),
	        cmocka_unit_test(test_parse_ipv6),
	        cmocka_unit_test(test_parse_ports),
	        cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test(test_errors_never_leak_password),
	        cmocka_unit_test(test_redact_userinfo),
	        cmocka_unit_test(test_redact_postgres),
	        cmocka_unit_test(test_redact_query),
	        cmocka_unit_test(test_redact_cuts_and_is_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
