/* test_text.c - lib/text: the shared decoders and character tests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/text.h"

static ssize_t decode(const char *in, char *out, size_t size, unsigned flags)
{
	return text_percent_decode(in, strlen(in), out, size, flags);
}

static void test_percent_decode_plain(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(decode("a%41b+%2f", out, sizeof(out), 0), 5);
	assert_string_equal(out, "aAb+/");
	assert_int_equal(decode("", out, sizeof(out), 0), 0);
	assert_string_equal(out, "");
}

static void test_percent_decode_bad_escape(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(decode("%4", out, sizeof(out), 0), -EINVAL);
	assert_int_equal(decode("%zz", out, sizeof(out), 0), -EINVAL);
	assert_int_equal(decode("a%", out, sizeof(out), 0), -EINVAL);
	assert_int_equal(decode("a%zz%41", out, sizeof(out), TEXT_PCT_LENIENT), 5);
	assert_string_equal(out, "a%zzA");
}

static void test_percent_decode_refused_bytes(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(decode("a%00", out, sizeof(out), 0), 2);
	assert_int_equal(decode("a%00", out, sizeof(out), TEXT_PCT_NO_NUL), -EINVAL);
	assert_int_equal(decode("a%0a", out, sizeof(out), TEXT_PCT_NO_NUL), 2);
	assert_int_equal(decode("a%0a", out, sizeof(out), TEXT_PCT_NO_CONTROL), -EINVAL);
	assert_int_equal(decode("a\x7f", out, sizeof(out), TEXT_PCT_NO_CONTROL), -EINVAL);
	assert_int_equal(decode("a/b", out, sizeof(out), TEXT_PCT_SEGMENT), 3);
	assert_int_equal(decode("a%2Fb", out, sizeof(out), TEXT_PCT_SEGMENT), -EINVAL);
	assert_int_equal(decode("a\\b", out, sizeof(out), TEXT_PCT_SEGMENT), -EINVAL);
	assert_int_equal(decode("a%5cb", out, sizeof(out), TEXT_PCT_SEGMENT), -EINVAL);
}

static void test_percent_decode_bounds(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(decode("abc", out, sizeof(out), 0), 3);
	assert_int_equal(decode("%41%42%43", out, sizeof(out), 0), 3);
	assert_int_equal(decode("abcd", out, sizeof(out), 0), -ENAMETOOLONG);
	/* A bad byte anywhere wins over the length. */
	assert_int_equal(decode("abcd%zz", out, sizeof(out), 0), -EINVAL);
	/* Without a buffer: only check and count. */
	assert_int_equal(decode("abcd%41", NULL, 0, 0), 5);
	assert_int_equal(decode("ab%0a", NULL, 0, TEXT_PCT_NO_CONTROL), -EINVAL);
}

static void test_tchar_and_field_value(void **state)
{
	(void)state;
	assert_true(text_is_tchar('a') && text_is_tchar('~') && text_is_tchar('!'));
	assert_false(text_is_tchar(' ') || text_is_tchar(':') || text_is_tchar('"') ||
	             text_is_tchar(0x80) || text_is_tchar(0));
	assert_true(text_is_field_value("a b\tc\x80", 6));
	assert_false(text_is_field_value("a\r\nb", 4));
	assert_false(text_is_field_value("a\x7f", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_percent_decode_plain),
	        cmocka_unit_test(test_percent_decode_bad_escape),
	        cmocka_unit_test(test_percent_decode_refused_bytes),
	        cmocka_unit_test(test_percent_decode_bounds),
	        cmocka_unit_test(test_tchar_and_field_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
