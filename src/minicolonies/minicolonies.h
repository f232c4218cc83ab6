/*
 * minicolonies.h: internal interfaces between the minicolonies files
 * (server, CLI, Go-compatible JSON).  Not part of financebee proper.
 */
#ifndef MINICOLONIES_H
#define MINICOLONIES_H

#include <stdio.h>

#include <jansson.h>

/* A growable string buffer, always NUL-terminated. */
struct sb {
	char	*s;
	size_t	 len;
	size_t	 cap;
};
void	 sb_grow(struct sb *, size_t);
void	 sb_add(struct sb *, const char *, size_t);
void	 sb_adds(struct sb *, const char *);
void	 sb_addc(struct sb *, char);
void	 sb_printf(struct sb *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	 sb_indent(struct sb *, int);
void	 sb_free(struct sb *);
void	 sb_gostr(struct sb *, const char *, size_t);
void	 sb_gofloat(struct sb *, double);
void	 sb_gojson(struct sb *, json_t *, int);
int	 mc_strptrcmp(const void *, const void *);
int	 mc_go_syntax(const char *, size_t, char *, size_t);

/* minicolonies.c */
int	 mc_serve_main(int, char **);

/* minicolonies-cli.c */
int	 mc_cli_main(int, char **);
void	 mc_usage(FILE *);

#endif /* MINICOLONIES_H */
