/* oneshot.c: placeholder until written. */
#include "financebee.h"
int oneshot_migrate(const struct fb_config *c) { (void)c; return FB_EX_SOFTWARE; }
int oneshot_apply(const struct fb_config *c, const char *f, int d, const char *s) { (void)c; (void)f; (void)d; (void)s; return FB_EX_SOFTWARE; }
int oneshot_prune(const struct fb_config *c) { (void)c; return FB_EX_SOFTWARE; }
