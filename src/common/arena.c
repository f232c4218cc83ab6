/*
 * arena.c: the jansson values of one parse, bump-allocated.
 *
 * A bee parses two JSON texts per task (the assign reply and the Stripe
 * event, ~5 KB each) into a few hundred jansson values and frees them a
 * moment later.  Through malloc that is ~30% of the instructions of a task
 * (malloc, free, consolidation); here an allocation is a pointer bump and
 * a free is a range check and a decrement.
 *
 * The arena is a few 64 KB chunks.  Each counts its live blocks; a chunk
 * is bumped until full, and reused only once its count is back to zero,
 * so nothing is handed out twice while alive, and a value kept for long
 * pins its chunk only.  When no chunk is free, it is malloc.
 *
 * jansson allocates through arena_malloc/arena_free once arena_init() ran;
 * only inside arena_enter/arena_leave (colonies_fast_json) does the arena
 * hand out memory, elsewhere it is malloc.  arena_free tells the two apart
 * by address, so a value may be freed anywhere, at any time.
 * Single-threaded processes only (a bee).  Under AddressSanitizer the
 * arena stays on, and every byte of it not handed out is poisoned: each
 * block carries a poisoned header with its size, and is poisoned again
 * when freed, so a use after free or an overrun is reported as it would
 * be through malloc.
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "common.h"

#define ARENA_CHUNK	(64 * 1024)
#define ARENA_NCHUNKS	16		/* 1 MB, touched only when used */
#define ARENA_ALIGN	16
#define ARENA_MAXBLOCK	(ARENA_CHUNK / 2)

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_HDR	ARENA_ALIGN	/* the block's size, poisoned */
#else
#define ASAN_POISON_MEMORY_REGION(a, n)		((void)(a), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(a, n)	((void)(a), (void)(n))
#define ARENA_HDR	0
#endif

static char	*arena_base;
static int	 arena_active;
static size_t	 arena_cur;		/* the chunk being bumped */
static size_t	 arena_used;		/* bytes of it handed out */
static uint32_t	 arena_live[ARENA_NCHUNKS];	/* blocks alive per chunk */

static void *
arena_malloc(size_t want)
{
	size_t	 i, n;
	char	*p;

	if (!arena_active || want > ARENA_MAXBLOCK)
		return malloc(want);
	n = (want + ARENA_HDR + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (arena_used + n > ARENA_CHUNK) {
		for (i = 0; i < ARENA_NCHUNKS; i++)
			if (i != arena_cur && arena_live[i] == 0)
				break;
		if (i == ARENA_NCHUNKS)
			return malloc(n);	/* all pinned */
		arena_cur = i;
		arena_used = 0;
	}
	p = arena_base + arena_cur * ARENA_CHUNK + arena_used;
	arena_used += n;
	arena_live[arena_cur]++;
#if ARENA_HDR > 0
	ASAN_UNPOISON_MEMORY_REGION(p, ARENA_HDR);
	*(size_t *)(void *)p = want;
	ASAN_POISON_MEMORY_REGION(p, ARENA_HDR);
	p += ARENA_HDR;
#endif
	ASAN_UNPOISON_MEMORY_REGION(p, want);
	return p;
}

static void
arena_free(void *p)
{
	size_t	i;

	if (p == NULL)
		return;
	if (arena_base == NULL || (uintptr_t)p < (uintptr_t)arena_base ||
	    (uintptr_t)p >= (uintptr_t)arena_base + ARENA_NCHUNKS *
	    ARENA_CHUNK) {
		free(p);
		return;
	}
	i = (size_t)((char *)p - arena_base) / ARENA_CHUNK;
#if ARENA_HDR > 0
	{
		char	*h = (char *)p - ARENA_HDR;
		size_t	 want;

		ASAN_UNPOISON_MEMORY_REGION(h, ARENA_HDR);
		want = *(size_t *)(void *)h;
		ASAN_POISON_MEMORY_REGION(h, ARENA_HDR + want);
	}
#endif
	if (--arena_live[i] == 0 && i == arena_cur)
		arena_used = 0;
}

/* Route jansson's allocations through the arena.  Call before any. */
void
arena_init(void)
{
	void	*p;

	if (arena_base != NULL)
		return;
	p = mmap(NULL, ARENA_NCHUNKS * ARENA_CHUNK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;		/* malloc it is */
	arena_base = p;
	ASAN_POISON_MEMORY_REGION(p, ARENA_NCHUNKS * ARENA_CHUNK);
	json_set_alloc_funcs(arena_malloc, arena_free);
}

void
arena_enter(void)
{
	if (arena_base != NULL)
		arena_active = 1;
}

void
arena_leave(void)
{
	arena_active = 0;
}

/* For tests: blocks alive in the arena; *enabled says if it is on. */
size_t
arena_inuse(int *enabled)
{
	size_t	i, n = 0;

	if (enabled != NULL)
		*enabled = arena_base != NULL;
	for (i = 0; i < ARENA_NCHUNKS; i++)
		n += arena_live[i];
	return n;
}
