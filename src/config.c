/* config.c: placeholder until written. */
#include <stdio.h>
#include "financebee.h"
int config_load(const char *p, struct fb_config *c, char *cause, size_t len) { (void)p; (void)c; snprintf(cause, len, "not implemented"); return -1; }
void config_free(struct fb_config *c) { (void)c; }
