/* bee.c: placeholder until written. */
#include "financebee.h"
int bee_main(const char *p, unsigned int s, unsigned int g, int fd) { (void)p; (void)s; (void)g; (void)fd; return FB_EX_SOFTWARE; }
