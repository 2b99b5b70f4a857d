/* test_net_outcome.c - every network outcome has its one text; net_fail cuts long details. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/outcome.h"

static void test_texts(void **unused)
{
	(void)unused;
	assert_string_equal(net_outcome_str(NET_OK), "ok");
	assert_string_equal(net_outcome_str(NET_TIMEOUT), "timeout");
	assert_string_equal(net_outcome_str(NET_REFUSED), "refused");
	assert_string_equal(net_outcome_str(NET_DNS), "dns");
	assert_string_equal(net_outcome_str(NET_TLS), "tls");
	assert_string_equal(net_outcome_str(NET_AUTH), "auth");
	assert_string_equal(net_outcome_str(NET_BAD_REPLY), "bad_reply");
	assert_string_equal(net_outcome_str(NET_NETWORK), "network");
	assert_string_equal(net_outcome_str(NET_INTERNAL), "internal");
	assert_string_equal(net_outcome_str(NET_OUTCOME_COUNT), "unknown");
	assert_string_equal(net_outcome_str((enum net_outcome) - 1), "unknown");
	for (int i = 0; i < NET_OUTCOME_COUNT; i++)
		for (int j = i + 1; j < NET_OUTCOME_COUNT; j++)
			assert_string_not_equal(net_outcome_str((enum net_outcome)i),
			                        net_outcome_str((enum net_outcome)j));
}

static void test_net_fail_cuts_long_detail(void **unused)
{
	struct net_status status = {0};
	char long_text[400];

	(void)unused;
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_int_equal(net_fail(&status, NET_NETWORK, "%s", long_text), NET_NETWORK);
	assert_int_equal(status.outcome, NET_NETWORK);
	assert_int_equal(strlen(status.detail), sizeof(status.detail) - 1);
	assert_string_equal(status.detail + sizeof(status.detail) - 4, "...");
	net_fail(&status, NET_DNS, "%s: no such host", "db.invalid");
	assert_string_equal(status.detail, "db.invalid: no such host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_texts),
	        cmocka_unit_test(test_net_fail_cuts_long_detail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
