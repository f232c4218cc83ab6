/*
 * test-arena: jansson values parsed into the bump arena (src/arena.c) are
 * the values jansson itself parses, stay intact while referenced however
 * many parses follow, and give their memory back once released.  Every
 * shared Stripe fixture is parsed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "colonies.h"
#include "tap.h"
#include "fixtures.h"

#define MAXFILES	64

static char	*texts[MAXFILES];
static size_t	 lens[MAXFILES];
static int	 ntexts;

/* The fast parser through the arena, or jansson, as a bee does. */
static json_t *
parse(int i)
{
	json_t	*j;

	if ((j = colonies_fast_json(texts[i], lens[i], 64)) == NULL)
		j = json_loadb(texts[i], lens[i], JSON_REJECT_DUPLICATES, NULL);
	return j;
}

/*
 * -u: read a string of a freed tree.  Under AddressSanitizer this must be
 * reported (the arena poisons what it takes back); -a says if it is on.
 */
static int
use_after_free(void)
{
	json_t		*j;
	const char	*id;
	volatile char	 c;

	arena_init();
	if ((j = parse(0)) == NULL)
		return 2;
	id = json_string_value(json_object_get(j, "id"));
	if (id == NULL)
		return 2;
	json_decref(j);
	c = id[0];
	(void)c;
	return 0;
}

int
main(int argc, char **argv)
{
	json_t		*kept[MAXFILES * 4], *j, *ref, *pin;
	char		*pintext;
	size_t		 live0;
	int		 i, k, on, same, fast = 0;

	ntexts = fixtures_load(texts, lens, MAXFILES);
	if (argc == 2 && strcmp(argv[1], "-a") == 0) {
#ifdef __SANITIZE_ADDRESS__
		puts("asan");
#else
		puts("plain");
#endif
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "-u") == 0)
		return use_after_free();
	ok(ntexts >= 20, "%d Stripe fixtures loaded", ntexts);

	/* Before init, nothing goes to the arena. */
	ok(arena_inuse(&on) == 0 && !on, "arena off before arena_init");
	arena_init();
	(void)arena_inuse(&on);
	ok(on, "arena on after arena_init");

	/* Same values as jansson, for every fixture. */
	same = 1;
	for (i = 0; i < ntexts; i++) {
		j = parse(i);
		if ((ref = colonies_fast_json(texts[i], lens[i], 64)) !=
		    NULL) {
			fast++;
			json_decref(ref);
		}
		ref = json_loadb(texts[i], lens[i], 0, NULL);
		if (j == NULL || ref == NULL || !json_equal(j, ref)) {
			same = 0;
			printf("# fixture %d differs\n", i);
		}
		json_decref(j);
		json_decref(ref);
	}
	ok(same, "every fixture parses to jansson's value");
	live0 = arena_inuse(NULL);
	ok(live0 == 0, "nothing alive after all were freed (%zu)", live0);

	/* One value kept while hundreds of parses reuse the arena. */
	j = parse(0);
	ok(arena_inuse(NULL) > 0, "a parsed tree lives in the arena (%zu "
	    "blocks)", arena_inuse(NULL));
	pin = json_object_get(j, "data");
	json_incref(pin);
	pintext = json_dumps(pin, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	for (k = 0; k < 300; k++) {
		j = parse(k % ntexts);
		/* Replace a parsed member by a malloc'd one, and drop it. */
		json_object_set_new(j, "id", json_string("evt_replaced"));
		json_object_del(j, "data");
		json_decref(j);
	}
	j = NULL;
	{
		char *now = json_dumps(pin, JSON_COMPACT | JSON_SORT_KEYS);

		ok(pintext != NULL && now != NULL && strcmp(pintext, now) == 0,
		    "a kept value is intact after 300 more parses");
		free(now);
	}
	json_decref(pin);
	free(pintext);
	ok(arena_inuse(NULL) == live0, "every block released (%zu alive, "
	    "%zu before)", arena_inuse(NULL), live0);

	/* Keep many trees alive at once: past the arena, malloc takes over. */
	for (k = 0; k < MAXFILES * 4; k++)
		kept[k] = parse(k % ntexts);
	same = 1;
	for (k = 0; k < MAXFILES * 4; k++) {
		ref = json_loadb(texts[k % ntexts], lens[k % ntexts], 0, NULL);
		if (kept[k] == NULL || !json_equal(kept[k], ref))
			same = 0;
		json_decref(ref);
	}
	ok(same, "%d trees alive at once are all intact", MAXFILES * 4);
	for (k = 0; k < MAXFILES * 4; k++)
		json_decref(kept[k]);
	ok(arena_inuse(NULL) == live0, "all released again");
	ok(fast > ntexts / 2, "the fast parser took %d of %d fixtures", fast,
	    ntexts);

	for (i = 0; i < ntexts; i++)
		free(texts[i]);
	return tap_done();
}
