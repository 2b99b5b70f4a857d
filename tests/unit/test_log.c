/*
 * test_log.c - log lines are one valid JSON object each, escaped, bounded,
 * and filtered by level.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static FILE *capture;

static int setup(void **unused)
{
	(void)unused;
	capture = tmpfile();
	log_set_fd(fileno(capture));
	log_set_level(LOG_INFO);
	return 0;
}

static int teardown(void **unused)
{
	(void)unused;
	log_set_fd(1);
	fclose(capture);
	return 0;
}

/* The captured lines, parsed; each must be a JSON object on one line. */
static json_t *captured_lines(void)
{
	json_t *lines = json_array();
	char line[WD_LOG_LINE_MAX + 2];

	rewind(capture);
	while (fgets(line, sizeof(line), capture)) {
		json_error_t error;
		json_t *obj;

		assert_non_null(strchr(line, '\n'));
		obj = json_loads(line, 0, &error);
		if (obj == NULL)
			fail_msg("not JSON: %s (%s)", line, error.text);
		json_array_append_new(lines, obj);
	}
	return lines;
}

static void test_fields_and_escaping(void **unused)
{
	struct log_line line;
	json_t *lines;
	json_t *obj;

	(void)unused;
	log_begin(&line, LOG_WARN, "probe.transition");
	log_str(&line, "probe", "db");
	log_str(&line, "detail", "quote \" backslash \\ newline \n ctl \x01");
	log_int(&line, "epoch", 42);
	log_bool(&line, "critical", true);
	log_double(&line, "lag", 1.5);
	log_str(&line, "none", NULL);
	log_end(&line, "probe %s is %s", "db", "down");

	lines = captured_lines();
	assert_int_equal(json_array_size(lines), 1);
	obj = json_array_get(lines, 0);
	assert_string_equal(json_string_value(json_object_get(obj, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(obj, "event")), "probe.transition");
	assert_string_equal(json_string_value(json_object_get(obj, "msg")), "probe db is down");
	assert_string_equal(json_string_value(json_object_get(obj, "detail")),
	                    "quote \" backslash \\ newline \n ctl \x01");
	assert_int_equal(json_integer_value(json_object_get(obj, "epoch")), 42);
	assert_true(json_is_true(json_object_get(obj, "critical")));
	assert_true(json_is_null(json_object_get(obj, "none")));
	assert_non_null(json_object_get(obj, "ts"));
	json_decref(lines);
}

static void test_level_filter(void **unused)
{
	json_t *lines;

	(void)unused;
	log_msg(LOG_DEBUG, "x.debug", "hidden");
	log_set_level(LOG_ERROR);
	log_msg(LOG_WARN, "x.warn", "hidden too");
	log_msg(LOG_ERROR, "x.error", "shown");
	lines = captured_lines();
	assert_int_equal(json_array_size(lines), 1);
	json_decref(lines);
}

static void test_oversized_fields_are_dropped_not_split(void **unused)
{
	struct log_line line;
	char *big = malloc(3 * WD_LOG_LINE_MAX);
	json_t *lines;
	json_t *obj;

	(void)unused;
	memset(big, 'a', 3 * WD_LOG_LINE_MAX - 1);
	big[3 * WD_LOG_LINE_MAX - 1] = '\0';
	log_begin(&line, LOG_INFO, "x.big");
	log_str(&line, "small", "kept");
	log_str(&line, "big", big);
	log_end(&line, "%s", big);
	lines = captured_lines();
	assert_int_equal(json_array_size(lines), 1);
	obj = json_array_get(lines, 0);
	assert_string_equal(json_string_value(json_object_get(obj, "small")), "kept");
	assert_null(json_object_get(obj, "big"));
	assert_true(json_is_true(json_object_get(obj, "truncated")));
	json_decref(lines);
	free(big);
}

static void test_level_names(void **unused)
{
	enum log_level level;

	(void)unused;
	assert_int_equal(log_level_parse("debug", &level), 0);
	assert_int_equal(level, LOG_DEBUG);
	assert_int_equal(log_level_parse("error", &level), 0);
	assert_int_equal(level, LOG_ERROR);
	assert_true(log_level_parse("verbose", &level) < 0);
	assert_string_equal(log_level_str(LOG_WARN), "warn");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_fields_and_escaping, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_oversized_fields_are_dropped_not_split, setup,
	                                        teardown),
	        cmocka_unit_test(test_level_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
