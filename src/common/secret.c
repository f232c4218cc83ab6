/*
 * secret.c: memory for key material and other secrets.  Each allocation
 * has pages of its own, mapped privately, excluded from core dumps
 * (MADV_DONTDUMP), kept out of swap where the limit allows (mlock, best
 * effort) and wiped with explicit_bzero() when freed.  Secrets are few and
 * small (keys, a seed, a conninfo, webhook secrets), so a page each is
 * cheap; the page count is the price of never sharing a page with data
 * that a core dump would keep.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

struct secret_hdr {
	size_t		maplen;
	uint64_t	magic;
};
#define SECRET_MAGIC	0x66627365637265ULL	/* "fbsecre" */

static size_t
secret_maplen(size_t len)
{
	size_t	pg = (size_t)sysconf(_SC_PAGESIZE);

	if (pg == 0 || pg == (size_t)-1)
		pg = 4096;
	return (sizeof(struct secret_hdr) + len + pg - 1) / pg * pg;
}

void *
secret_alloc(size_t len)
{
	struct secret_hdr	*h;
	size_t			 maplen;

	if (len > SIZE_MAX / 2)
		return NULL;
	maplen = secret_maplen(len);
	h = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	(void)madvise(h, maplen, MADV_DONTDUMP);
	(void)mlock(h, maplen);
	h->maplen = maplen;
	h->magic = SECRET_MAGIC;
	return h + 1;
}

char *
secret_strdup(const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p;

	if ((p = secret_alloc(n)) != NULL)
		memcpy(p, s, n);
	return p;
}

void
secret_free(void *p)
{
	struct secret_hdr	*h;
	size_t			 maplen;

	if (p == NULL)
		return;
	h = (struct secret_hdr *)p - 1;
	if (h->magic != SECRET_MAGIC)
		fatalx("secret_free: not a secret allocation");
	maplen = h->maplen;
	explicit_bzero(h, maplen);
	(void)munlock(h, maplen);
	munmap(h, maplen);
}

