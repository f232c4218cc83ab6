/*
 * metrics.c: latency histograms and memory figures, for the bees' counters
 * and the master's reports.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"

/* Bucket i counts durations of at most 2^i us; the last one is open. */
void
metrics_hist_add(struct metrics_hist *h, uint64_t us)
{
	unsigned int	i = 0;

	while (i < METRICS_NBUCKETS - 1 && us > ((uint64_t)1 << i))
		i++;
	h->buckets[i]++;
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
			lo = i == 0 ? 0 : (uint64_t)1 << (i - 1);
			hi = (uint64_t)1 << i;
			frac = (rank - (double)seen) / (double)h->buckets[i];
			if (frac < 0)
				frac = 0;
			return lo + (uint64_t)(frac * (double)(hi - lo));
		}
		seen += h->buckets[i];
	}
	return (uint64_t)1 << (METRICS_NBUCKETS - 1);
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

