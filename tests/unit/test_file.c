/* test_file.c - lib/file: the one small-file reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/file.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_read_small(void **state)
{
	char dir[] = "/tmp/test_file_XXXXXX";
	char path[64];
	char buf[5];
	struct wd_err err = {0};
	size_t len = 99;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);

	assert_int_equal(file_read_small(path, "'f'", buf, sizeof(buf), &len, &err), -ENOENT);
	assert_string_equal(err.msg, "cannot open 'f': No such file or directory");
	assert_int_equal(len, 0);

	write_file(path, "abcd");
	assert_int_equal(file_read_small(path, "'f'", buf, sizeof(buf), &len, &err), 0);
	assert_string_equal(buf, "abcd");
	assert_int_equal(len, 4);

	write_file(path, "abcde");
	assert_int_equal(file_read_small(path, "'f'", buf, sizeof(buf), &len, &err), -EFBIG);
	assert_string_equal(err.msg, "'f' is larger than 4 bytes");
	assert_int_equal(buf[0], '\0'); /* wiped */

	assert_int_equal(file_read_small(dir, "the dir", buf, sizeof(buf), &len, &err), -EINVAL);
	assert_string_equal(err.msg, "the dir is not a regular file");
	unlink(path);

	/* A FIFO with no writer: refused at once, never blocks. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(file_read_small(path, "the fifo", buf, sizeof(buf), &len, &err), -EINVAL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_read_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
