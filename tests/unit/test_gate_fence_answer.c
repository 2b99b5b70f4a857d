/* test_gate_fence_answer.c - `warden gate`: /fence answers (gate/fence_answer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/gate.h"

/* ------------------------------------------------------------ /fence JSON */

static int fence(const char *text, const char *singleton, struct gate_fence *out)
{
	struct wd_err err = {0};
	int rc = gate_fence_parse(text, strlen(text), singleton, out, &err);

	if (rc < 0)
		assert_true(err.msg[0] != '\0');
	return rc;
}

static void test_fence_full_answer(void **unused)
{
	static const char *full =
	        "{\"writable\": true, \"state\": \"active\", \"region\": \"us-east-1\","
	        " \"active_region\": \"us-east-1\", \"epoch\": 42,"
	        " \"writable_until\": \"2026-11-26T05:30:00.000Z\", \"writable_for_ms\": 23000,"
	        " \"ttl_ms\": 30000, \"typical_fence_ms\": 8000,"
	        " \"reason\": \"this region is active\","
	        " \"since\": \"2026-11-26T05:00:00.000Z\", \"leases\": {\"cron\": {\"held\": true,"
	        " \"generation\": 7, \"holder\": \"task-1\", \"expires_in_ms\": 9000}}}";
	struct gate_fence f;

	(void)unused;
	assert_int_equal(fence(full, "cron", &f), 0);
	assert_true(f.writable);
	assert_int_equal(f.epoch, 42);
	assert_int_equal(f.writable_for_ms, 23000);
	assert_int_equal(f.ttl_ms, 30000);
	assert_int_equal(f.typical_fence_ms, 8000);
	assert_string_equal(f.state, "active");
	assert_true(f.lease_found);
	assert_true(f.lease_held);
	assert_int_equal(f.lease_generation, 7);
	assert_int_equal(f.lease_expires_in_ms, 9000);

	/* Without --singleton the leases are not looked at. */
	assert_int_equal(fence(full, NULL, &f), 0);
	assert_false(f.lease_found);
	/* Another lease name: not found, so not held. */
	assert_int_equal(fence(full, "billing", &f), 0);
	assert_false(f.lease_found);
	assert_false(f.lease_held);
}

static void test_fence_not_writable(void **unused)
{
	struct gate_fence f;

	(void)unused;
	assert_int_equal(fence("{\"writable\":false,\"state\":\"passive\",\"epoch\":3,"
	                       "\"writable_until\":null,\"writable_for_ms\":0,\"leases\":{}}",
	                       "cron", &f),
	                 0);
	assert_false(f.writable);
	assert_int_equal(f.epoch, 3);
	assert_false(f.lease_found);
	/* Not writable: writable_for_ms may be absent, and is 0 whatever it says. */
	assert_int_equal(fence("{\"writable\":false,\"epoch\":0}", NULL, &f), 0);
	assert_int_equal(
	        fence("{\"writable\":false,\"epoch\":0,\"writable_for_ms\":500}", NULL, &f), 0);
	assert_int_equal(f.writable_for_ms, 0);
	/* A lease not held needs no generation. */
	assert_int_equal(fence("{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	                       "\"leases\":{\"cron\":{\"held\":false}}}",
	                       "cron", &f),
	                 0);
	assert_true(f.lease_found);
	assert_false(f.lease_held);
	/* Negative expires_in_ms means already expired. */
	assert_int_equal(fence("{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	                       "\"leases\":{\"cron\":{\"held\":true,\"generation\":1,"
	                       "\"expires_in_ms\":-20}}}",
	                       "cron", &f),
	                 0);
	assert_int_equal(f.lease_expires_in_ms, 0);
}

static void test_fence_hostile(void **unused)
{
	static const char *const bad[] = {
	        "",
	        "null",
	        "[]",
	        "\"writable\"",
	        "{}",
	        "{\"writable\":true}",
	        "{\"writable\":\"true\",\"epoch\":1,\"writable_for_ms\":5}",
	        "{\"writable\":1,\"epoch\":1,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":1}",                          /* no writable_for_ms */
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":null}", /* ...null is absent */
	        "{\"writable\":true,\"epoch\":-1,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":1.5,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":\"1\",\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":9007199254740992,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":99999999999999999999999,\"writable_for_ms\":5}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":-5}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5.0}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"ttl_ms\":0}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"ttl_ms\":\"30s\"}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"typical_fence_ms\":-1}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"typical_fence_ms\":\"8s\"}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"state\":7}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"state\":\"activeactiveactiveactive\"}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"state\":\"a\\u0000b\"}",
	        "{\"writable\":true,\"writable\":false,\"epoch\":1,\"writable_for_ms\":5}",
	        "{\"writable\":false,\"epoch\":1,\"writable_for_ms\":5,\"leases\":[]}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"leases\":{\"cron\":true}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,\"leases\":{\"cron\":{}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true,\"generation\":1}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true,\"generation\":-1,\"expires_in_ms\":5}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":\"yes\",\"generation\":1,\"expires_in_ms\":5}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	        "\"leases\":{\"cron\":{\"held\":true},\"cron\":{\"held\":false}}}",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5} trailing",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5",
	        "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5}{}",
	};
	struct gate_fence f;

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0x5a, sizeof(f));
		if (fence(bad[i], "cron", &f) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		/* A refused answer leaves nothing that looks writable. */
		assert_false(f.writable);
		assert_false(f.lease_held);
	}
}

static void test_fence_bounds(void **unused)
{
	size_t size = GATE_FENCE_BODY_MAX + 64;
	char *big = malloc(size);
	char *deep = malloc(8192);
	struct gate_fence f;
	struct wd_err err;
	size_t len;

	(void)unused;
	assert_non_null(big);
	assert_non_null(deep);
	/* Past the cap: refused, even though it is valid JSON. */
	len = (size_t)snprintf(big, size,
	                       "{\"writable\":true,\"epoch\":1,\"writable_for_ms\":5,"
	                       "\"reason\":\"");
	memset(big + len, 'x', size - len - 3);
	memcpy(big + size - 3, "\"}", 3);
	assert_int_equal(gate_fence_parse(big, strlen(big), NULL, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer"));
	/* Not NUL-terminated input: only len bytes are read. */
	memcpy(big, "{\"writable\":false,\"epoch\":2}XXXX", 32);
	assert_int_equal(gate_fence_parse(big, 28, NULL, &f, &err), 0);
	assert_int_equal(f.epoch, 2);
	/* Deep nesting in an ignored key: refused or accepted, never a crash. */
	len = 0;
	len += (size_t)snprintf(deep, 8192, "{\"writable\":false,\"epoch\":2,\"x\":");
	for (int i = 0; i < 3000; i++)
		deep[len++] = '[';
	for (int i = 0; i < 3000; i++)
		deep[len++] = ']';
	deep[len++] = '}';
	(void)gate_fence_parse(deep, len, NULL, &f, &err);
	/* Largest values. */
	assert_int_equal(fence("{\"writable\":true,\"epoch\":9007199254740991,"
	                       "\"writable_for_ms\":9007199254740991,\"ttl_ms\":9007199254740991}",
	                       NULL, &f),
	                 0);
	assert_int_equal(f.epoch, 9007199254740991ULL);
	free(big);
	free(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fence_full_answer),
	        cmocka_unit_test(test_fence_not_writable),
	        cmocka_unit_test(test_fence_hostile),
	        cmocka_unit_test(test_fence_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
