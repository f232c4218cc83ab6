/* t/hostile.h: decoding of t/data/hostile.tsv payloads (t/hostile.c). */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stddef.h>

/* A whole file, NUL-terminated; NULL when unreadable. */
char	*hostile_readfile(const char *, size_t *);
/* fixture:F (in fixdir), data:F (in datadir), inline:ESCAPED, gen:... */
char	*hostile_payload(const char *, const char *, const char *, size_t *);

#endif
