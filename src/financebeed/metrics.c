/*
 * metrics.c: latency histograms and memory figures, for the bees' counters
 * and the master's reports.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"

uint64_t
metrics_hist_bound(unsigned int i)
{
	unsigned int	k, j;

	if (i >= METRICS_NBUCKETS - 1)
		return UINT64_MAX;
	if (i < 4)
		return i + 1;
	k = 2 + (i - 4) / 4;
	j = 5 + (i - 4) % 4;
	return ((uint64_t)1 << k) * j / 4;
}

/* Bucket i counts durations above bound(i - 1), at most bound(i). */
static unsigned int
metrics_hist_bucket(uint64_t us)
{
	unsigned int	k, j;

	if (us <= 4)
		return us == 0 ? 0 : (unsigned int)us - 1;
	/* k: the octave, 2^k < us <= 2^(k+1). */
	k = 63 - (unsigned int)__builtin_clzll(us - 1);
	if (k >= 25)
		return METRICS_NBUCKETS - 1;
	/* j in 1..4: us <= 2^k * (4 + j) / 4. */
	j = (unsigned int)(((us - 1 - ((uint64_t)1 << k)) * 4) >> k) + 1;
	return 4 + (k - 2) * 4 + (j - 1);
}

void
metrics_hist_add(struct metrics_hist *h, uint64_t us)
{
	h->buckets[metrics_hist_bucket(us)]++;
	h->count++;
	h->sum_us += us;
}

void
metrics_hist_merge(struct metrics_hist *dst, const struct metrics_hist *src)
{
	unsigned int	i;

	for (i = 0; i < METRICS_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum_us += src->sum_us;
}

/* Linear interpolation inside the bucket holding the q-th value, in us. */
uint64_t
metrics_hist_quantile(const struct metrics_hist *h, double q)
{
	uint64_t	total = 0, seen = 0, lo, hi;
	double		rank, frac;
	unsigned int	i;

	for (i = 0; i < METRICS_NBUCKETS; i++)
		total += h->buckets[i];
	if (total == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = q * (double)total;
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		if ((double)(seen + h->buckets[i]) >= rank) {
			lo = i == 0 ? 0 : metrics_hist_bound(i - 1);
			hi = i == METRICS_NBUCKETS - 1 ? lo * 2 :
			    metrics_hist_bound(i);
			frac = (rank - (double)seen) / (double)h->buckets[i];
			if (frac < 0)
				frac = 0;
			return lo + (uint64_t)(frac * (double)(hi - lo));
		}
		seen += h->buckets[i];
	}
	return metrics_hist_bound(METRICS_NBUCKETS - 2);
}

long
metrics_rss_kb(pid_t pid)
{
	char	path[64], buf[128];
	long	size, rss, pagekb;
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%ld/statm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &rss) != 2)
		return -1;
	pagekb = sysconf(_SC_PAGESIZE) / 1024;
	return rss * (pagekb > 0 ? pagekb : 4);
}

