#include "lib/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static int64_t read_clock(clockid_t id, int64_t div)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * (1000000000 / div) + ts.tv_nsec / div;
}

int64_t clock_mono_ms(void)
{
	return read_clock(CLOCK_MONOTONIC, 1000000);
}

int64_t clock_mono_us(void)
{
	return read_clock(CLOCK_MONOTONIC, 1000);
}

int64_t clock_wall_ms(void)
{
	return read_clock(CLOCK_REALTIME, 1000000);
}

void clock_format_rfc3339(int64_t wall_ms, char *buf, size_t size)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

void clock_sleep_until(int64_t deadline_mono_ms)
{
	struct timespec until = {.tv_sec = deadline_mono_ms / 1000,
	                         .tv_nsec = (deadline_mono_ms % 1000) * 1000000L};

	if (deadline_mono_ms <= 0)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

void clock_sleep_ms(int64_t ms)
{
	if (ms > 0)
		clock_sleep_until(clock_mono_ms() + ms);
}

int clock_ms_until(int64_t deadline_mono_ms)
{
	int64_t left = deadline_mono_ms - clock_mono_ms();

	if (left < 0)
		return 0;
	if (left > INT32_MAX)
		return INT32_MAX;
	return (int)left;
}

int clock_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc;

	rc = pthread_condattr_init(&attr);
	if (rc != 0)
		return rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

bool clock_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t deadline_mono_ms)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_mono_ms / 1000),
	                      .tv_nsec = (long)(deadline_mono_ms % 1000) * 1000000L};

	return pthread_cond_timedwait(cond, mutex, &ts) == ETIMEDOUT ||
	       clock_mono_ms() >= deadline_mono_ms;
}
