/* test_outcome.c - every probe outcome has its one text, and texts are unique. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "probes/outcome.h"
#include "probes/probe.h"

static void test_texts(void **unused)
{
	(void)unused;
	assert_string_equal(probe_outcome_str(PROBE_OK), "ok");
	assert_string_equal(probe_outcome_str(PROBE_TIMEOUT), "timeout");
	assert_string_equal(probe_outcome_str(PROBE_REFUSED), "refused");
	assert_string_equal(probe_outcome_str(PROBE_DNS), "dns");
	assert_string_equal(probe_outcome_str(PROBE_TLS), "tls");
	assert_string_equal(probe_outcome_str(PROBE_AUTH), "auth");
	assert_string_equal(probe_outcome_str(PROBE_BAD_REPLY), "bad_reply");
	assert_string_equal(probe_outcome_str(PROBE_UNEXPECTED_ROLE), "unexpected_role");
	assert_string_equal(probe_outcome_str(PROBE_LAGGING), "lagging");
	assert_string_equal(probe_outcome_str(PROBE_HTTP_STATUS), "http_status");
	assert_string_equal(probe_outcome_str(PROBE_SERVER_ERROR), "server_error");
	assert_string_equal(probe_outcome_str(PROBE_NETWORK), "network");
	assert_string_equal(probe_outcome_str(PROBE_INTERNAL), "internal");
	assert_string_equal(probe_outcome_str(PROBE_OUTCOME_COUNT), "unknown");
	assert_string_equal(probe_outcome_str((enum probe_outcome) - 1), "unknown");
}

static void test_texts_are_unique_and_label_safe(void **unused)
{
	(void)unused;
	for (int i = 0; i < PROBE_OUTCOME_COUNT; i++) {
		const char *a = probe_outcome_str((enum probe_outcome)i);

		assert_true(strspn(a, "abcdefghijklmnopqrstuvwxyz_") == strlen(a));
		for (int j = i + 1; j < PROBE_OUTCOME_COUNT; j++)
			assert_string_not_equal(a, probe_outcome_str((enum probe_outcome)j));
	}
}

static void test_probe_fail_cuts_long_detail(void **unused)
{
	struct probe_observation obs = {0};
	char long_text[400];

	(void)unused;
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_int_equal(probe_fail(&obs, PROBE_NETWORK, "%s", long_text), PROBE_NETWORK);
	assert_int_equal(obs.outcome, PROBE_NETWORK);
	assert_int_equal(strlen(obs.detail), sizeof(obs.detail) - 1);
	assert_string_equal(obs.detail + sizeof(obs.detail) - 4, "...");
}

/* A network outcome becomes the probe outcome of the same text; detail is kept. */
static void test_net_outcomes_translate(void **unused)
{
	struct net_status status = {0};
	struct probe_observation obs = {0};

	(void)unused;
	for (int i = 0; i < NET_OUTCOME_COUNT; i++) {
		enum probe_outcome got = probe_outcome_from_net((enum net_outcome)i);

		assert_string_equal(probe_outcome_str(got), net_outcome_str((enum net_outcome)i));
	}
	assert_int_equal(probe_outcome_from_net(NET_OUTCOME_COUNT), PROBE_INTERNAL);
	net_fail(&status, NET_REFUSED, "connect to %s: connection refused", "127.0.0.1:1");
	assert_int_equal(probe_fail_net(&obs, &status), PROBE_REFUSED);
	assert_int_equal(obs.outcome, PROBE_REFUSED);
	assert_string_equal(obs.detail, "connect to 127.0.0.1:1: connection refused");
}

static void test_kind_and_role_texts(void **unused)
{
	(void)unused;
	assert_string_equal(probe_kind_str(PROBE_KIND_POSTGRES), "postgres");
	assert_string_equal(probe_kind_str(PROBE_KIND_REDIS), "redis");
	assert_string_equal(probe_kind_str(PROBE_KIND_HTTP), "http");
	assert_string_equal(probe_kind_str(PROBE_KIND_TCP), "tcp");
	assert_string_equal(probe_kind_str(PROBE_KIND_COUNT), "unknown");
	assert_string_equal(db_role_str(DB_ROLE_WRITER), "writer");
	assert_string_equal(db_role_str(DB_ROLE_READER), "reader");
	assert_string_equal(db_role_str(DB_ROLE_UNKNOWN), "unknown");
	assert_string_equal(probe_expect_role_str(EXPECT_ROLE_WRITER_WHEN_ACTIVE),
	                    "writer-when-active");
	for (int k = 0; k < PROBE_KIND_COUNT; k++)
		assert_int_equal(probe_ops_for((enum probe_kind)k)->kind, k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_texts),
	        cmocka_unit_test(test_texts_are_unique_and_label_safe),
	        cmocka_unit_test(test_probe_fail_cuts_long_detail),
	        cmocka_unit_test(test_net_outcomes_translate),
	        cmocka_unit_test(test_kind_and_role_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
