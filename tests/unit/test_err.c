/* test_err.c - lib/err: the error setter and the one printable-text quoter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/err.h"

static void test_quote_fits(void **state)
{
	char out[8];

	(void)state;
	wd_err_quote("abc\x01\xff", out, sizeof(out));
	assert_string_equal(out, "abc??");
	/* Exactly size - 1 bytes fit: no cut. */
	wd_err_quote("abcdefg", out, sizeof(out));
	assert_string_equal(out, "abcdefg");
}

static void test_quote_cut(void **state)
{
	char out[8];

	(void)state;
	wd_err_quote("abcdefgh", out, sizeof(out));
	assert_string_equal(out, "abcd...");
	/* Stops at a NUL within len. */
	wd_err_quote_n("ab\0cdefghij", 11, out, sizeof(out));
	assert_string_equal(out, "ab");
}

static void test_set_marks_cut(void **state)
{
	struct wd_err err;
	char big[WD_ERR_MSG_MAX * 2];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(wd_err_set(&err, -EINVAL, "%s", big), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_string_equal(err.msg + sizeof(err.msg) - 4, "...");
}

static void test_format_marks_cut(void **state)
{
	char out[8];

	(void)state;
	assert_false(wd_err_format(out, sizeof(out), "%s", "abcdefg"));
	assert_string_equal(out, "abcdefg");
	assert_true(wd_err_format(out, sizeof(out), "%s-%d", "abcdefg", 1));
	assert_string_equal(out, "abcd...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_quote_fits),
	        cmocka_unit_test(test_quote_cut),
	        cmocka_unit_test(test_set_marks_cut),
	        cmocka_unit_test(test_format_marks_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
