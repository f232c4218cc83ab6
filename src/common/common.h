/*
 * common.h: what every financebee program uses: sysexits, logging, the
 * monotonic clock and jittered backoff, the arena allocator and the
 * read-only JSON tree.  Depends on nothing else of the project.
 */
#ifndef FB_COMMON_H
#define FB_COMMON_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#define FB_NAME			"financebee"

/* sysexits(3) values that carry meaning between processes. */
#define FB_EX_OK		0
#define FB_EX_USAGE		64
#define FB_EX_DATAERR		65	/* permanent failure of an event */
#define FB_EX_SOFTWARE		70
#define FB_EX_TEMPFAIL		75	/* a dependency is down: retry later */
#define FB_EX_CONFIG		78	/* configuration: never respawn */

#define FB_CAUSE_MAX		512

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/*
 * FB_ASAN: built with AddressSanitizer, GCC's way or clang's (which only
 * has __has_feature): caches that reuse memory (arena.c, fbj.c) stay off
 * so that every buffer is checked.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FB_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FB_ASAN	1
#endif
#endif

/* log.c */
enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};
/* target: "stderr", "syslog" or an absolute file path. 0 or -1 + cause. */
int	 log_init(const char *procname, enum log_level, const char *target,
	    char *cause, size_t causelen);
void	 log_procname(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_setlevel(enum log_level);
void	 log_stderr_mirror(int on);	/* warnings to stderr too */
int	 log_reopen(void);	/* SIGUSR1: reopen a file target */
int	 log_level_parse(const char *, enum log_level *);
void	 log_warn(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
__dead void fatal(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
__dead void fatalx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));

/* The value of one hex digit, either case; or -1. */
static inline int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* clock.c */
int64_t	 clock_now_ms(void);	/* CLOCK_MONOTONIC, milliseconds */
int64_t	 clock_now_us(void);	/* CLOCK_MONOTONIC, microseconds */
int64_t	 clock_wall_us(void);	/* CLOCK_REALTIME, Unix microseconds */
/* Uniform in [ms/2, ms]: desynchronises peers that collided. */
long	 clock_jitter(long ms);

/*
 * secret.c: secrets on pages of their own, left out of core dumps
 * (MADV_DONTDUMP), locked if allowed, wiped when freed.  NULL: no memory.
 */
void	*secret_alloc(size_t);
char	*secret_strdup(const char *);
void	 secret_free(void *);	/* only what secret_alloc() returned */

/* arena.c: jansson values of one parse, bump-allocated (bees). */
void	 arena_init(void);
void	 arena_enter(void);
void	 arena_leave(void);
size_t	 arena_inuse(int *);

/*
 * fbj.c: a read-only JSON tree for the event text, built in one pass and
 * freed in one call.  The nodes of a value sit in pre-order in one
 * array: a container's first child follows it, and v + v->skip is the
 * next sibling.  Accessors take NULL and values of the wrong type as
 * jansson's do (NULL, 0, false), so the code reading an event reads like
 * jansson code, without a hash table, a key copy or a free per value.
 */
enum fbj_type {
	FBJ_OBJECT, FBJ_ARRAY, FBJ_STRING, FBJ_INTEGER, FBJ_REAL, FBJ_TRUE,
	FBJ_FALSE, FBJ_NULL
};
struct fbj {		/* 32 bytes: two to a cache line */
	const char	*key;	/* a member's key, NUL-terminated, or NULL */
	union {
		const char *s;	/* a string's value, NUL-terminated */
		int64_t	 i;
		double	 r;
	}		 u;
	uint32_t	 len;	/* a string's length; a container's children */
	uint32_t	 skip;	/* nodes in this subtree, itself included */
	uint32_t	 klen;
	uint8_t		 type;	/* enum fbj_type */
};
struct fbj_doc;
/*
 * The text as json_loadb(s, len, JSON_REJECT_DUPLICATES) would load it,
 * or NULL: unsure (non-ASCII, a real, \u0000, nesting past maxdepth, any
 * error); jansson then decides, and fbj_from_json() takes its answer.
 */
struct fbj_doc	*fbj_parse(const char *, size_t, int maxdepth);
struct fbj_doc	*fbj_from_json(json_t *);	/* holds its own reference */
const struct fbj	*fbj_root(const struct fbj_doc *);
void		 fbj_free(struct fbj_doc *);
json_t		*fbj_to_json(const struct fbj *);	/* a deep copy */
const char	*fbj_typename(const struct fbj *);	/* "an object", "null"... */

static inline int fbj_is(const struct fbj *v, int t) { return v != NULL && v->type == t; }
#define fbj_is_object(v)	fbj_is((v), FBJ_OBJECT)
#define fbj_is_array(v)		fbj_is((v), FBJ_ARRAY)
#define fbj_is_string(v)	fbj_is((v), FBJ_STRING)
#define fbj_is_integer(v)	fbj_is((v), FBJ_INTEGER)
#define fbj_is_true(v)		fbj_is((v), FBJ_TRUE)
#define fbj_is_null(v)		fbj_is((v), FBJ_NULL)
#define fbj_is_boolean(v)	(fbj_is((v), FBJ_TRUE) || fbj_is((v), FBJ_FALSE))

static inline const char *
fbj_string_value(const struct fbj *v)
{
	return fbj_is_string(v) ? v->u.s : NULL;
}

static inline size_t
fbj_string_length(const struct fbj *v)
{
	return fbj_is_string(v) ? v->len : 0;
}

static inline int64_t
fbj_integer_value(const struct fbj *v)
{
	return fbj_is_integer(v) ? v->u.i : 0;
}

static inline size_t
fbj_array_size(const struct fbj *a)
{
	return fbj_is_array(a) ? a->len : 0;
}

/* A member by key (a linear scan: events have tens of keys), or NULL. */
static inline const struct fbj *
fbj_object_get(const struct fbj *o, const char *key)
{
	const struct fbj	*c;
	size_t		 i, n;

	if (!fbj_is_object(o))
		return NULL;
	n = strlen(key);
	for (i = 0, c = o + 1; i < o->len; i++, c += c->skip)
		if (c->klen == n && memcmp(c->key, key, n) == 0)
			return c;
	return NULL;
}

/* As json_array_foreach; nothing for a value that is not an array. */
#define fbj_array_foreach(a, i, v)					\
	for ((i) = 0, (v) = (a) != NULL ? (a) + 1 : NULL;		\
	    (i) < fbj_array_size(a);					\
	    (i)++, (v) += (v)->skip)


#endif /* FB_COMMON_H */
