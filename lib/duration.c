/*
 * duration.c - "250ms", "5s", "2m", "1h": an integer and a unit, nothing else.
 */
#include "lib/duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DURATION_HINT "(want an integer and a unit: 250ms, 5s, 2m)"

struct duration_unit {
	const char *name;
	int64_t ms;
};

/* Largest first: duration_format picks the first unit that divides exactly. */
static const struct duration_unit duration_units[] = {
        {"h", 3600 * 1000},
        {"m", 60 * 1000},
        {"s", 1000},
        {"ms", 1},
};

#define DURATION_UNIT_COUNT (sizeof(duration_units) / sizeof(duration_units[0]))

static bool duration_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int duration_parse(const char *text, int64_t *ms, struct wd_err *err)
{
	char quoted[WD_QUOTE_MAX + 4];
	char unit[16];
	const char *p = text;
	int64_t number = 0;
	bool too_big = false;

	*ms = 0;
	if (text == NULL || text[0] == '\0')
		return wd_err_set(err, -EINVAL, "empty duration %s", DURATION_HINT);
	wd_err_quote(text, quoted, sizeof(quoted));
	for (const char *s = text; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
			return wd_err_set(err, -EINVAL, "bad duration '%s': no spaces allowed %s",
			                  quoted, DURATION_HINT);
	}
	if (*p == '+' || *p == '-')
		return wd_err_set(err, -EINVAL, "bad duration '%s': no sign allowed %s", quoted,
		                  DURATION_HINT);
	if (!duration_is_digit(*p))
		return wd_err_set(err, -EINVAL, "bad duration '%s' %s", quoted, DURATION_HINT);
	for (; duration_is_digit(*p); p++) {
		if (number > (INT64_MAX - 9) / 10)
			too_big = true;
		else
			number = number * 10 + (*p - '0');
	}
	if (*p == '.' || *p == ',')
		return wd_err_set(err, -EINVAL,
		                  "bad duration '%s': no fractions, use a smaller unit (1500ms, "
		                  "90s)",
		                  quoted);
	if (*p == '\0')
		return wd_err_set(err, -EINVAL, "bad duration '%s': missing unit (ms, s, m or h)",
		                  quoted);
	for (size_t i = 0; i < DURATION_UNIT_COUNT; i++) {
		if (strcmp(p, duration_units[i].name) != 0)
			continue;
		if (too_big || number > DURATION_MAX_MS / duration_units[i].ms)
			return wd_err_set(err, -EINVAL, "bad duration '%s': more than 24h", quoted);
		*ms = number * duration_units[i].ms;
		return 0;
	}
	wd_err_quote(p, unit, sizeof(unit));
	return wd_err_set(err, -EINVAL, "bad duration '%s': unknown unit '%s' (want ms, s, m or h)",
	                  quoted, unit);
}

void duration_format(int64_t ms, char *buf, size_t size)
{
	if (size == 0)
		return;
	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (ms > 0) {
		for (size_t i = 0; i < DURATION_UNIT_COUNT; i++) {
			if (ms % duration_units[i].ms == 0) {
				snprintf(buf, size, "%lld%s",
				         (long long)(ms / duration_units[i].ms),
				         duration_units[i].name);
				return;
			}
		}
	}
	snprintf(buf, size, "%lldms", (long long)ms);
}
