/* test_buf.c - the bounded buffer refuses, never cuts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

static void test_append_within_cap(void **unused)
{
	struct wd_buf buf;

	(void)unused;
	wd_buf_init(&buf, 16);
	assert_int_equal(wd_buf_puts(&buf, "0123456789"), 0);
	assert_int_equal(wd_buf_printf(&buf, "%d", 12345), 0);
	assert_string_equal(buf.data, "012345678912345");
	assert_int_equal(wd_buf_puts(&buf, "ab"), -E2BIG);
	assert_string_equal(buf.data, "012345678912345");
	assert_int_equal(wd_buf_puts(&buf, "a"), 0);
	assert_int_equal(buf.len, 16);
	wd_buf_free(&buf);
	assert_null(buf.data);
}

static void test_json_string(void **unused)
{
	struct wd_buf buf;
	char *text;

	(void)unused;
	wd_buf_init(&buf, 1024);
	assert_int_equal(wd_buf_json_str(&buf, "a\"b\\c\n\x02"), 0);
	text = wd_buf_take(&buf);
	assert_string_equal(text, "\"a\\\"b\\\\c\\n\\u0002\"");
	free(text);
	assert_null(buf.data);
	text = wd_buf_take(&buf);
	assert_string_equal(text, "");
	free(text);
}

static void test_json_string_over_cap(void **unused)
{
	struct wd_buf buf;

	(void)unused;
	wd_buf_init(&buf, 8);
	assert_int_equal(wd_buf_json_str(&buf, "too long for eight"), -E2BIG);
	assert_int_equal(buf.len, 0);
	/* Exactly at the cap fits: the escaped length is counted, not guessed. */
	assert_int_equal(wd_buf_json_str(&buf, "a\\bcd"), 0);
	assert_string_equal(buf.data, "\"a\\\\bcd\"");
	wd_buf_free(&buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_within_cap),
	        cmocka_unit_test(test_json_string),
	        cmocka_unit_test(test_json_string_over_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
