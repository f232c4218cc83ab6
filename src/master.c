/* master.c: placeholder until written. */
#include "financebee.h"
int master_main(const char *p, struct fb_config *c, int f) { (void)p; (void)c; (void)f; return FB_EX_SOFTWARE; }
