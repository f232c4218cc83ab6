/*
 * clock.c: the one monotonic clock every program reads, and the jitter
 * that desynchronises retries and respawns.
 */
#include <sys/random.h>

#include <time.h>

#include "common.h"

int64_t
clock_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_wall_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long
clock_jitter(long ms)
{
	unsigned int	r = 0;

	if (ms <= 1)
		return ms;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned int)clock_now_us();
	return ms / 2 + (long)(r % (unsigned int)(ms / 2 + 1));
}
