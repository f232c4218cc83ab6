/* crypto.c: placeholder until written. */
#include "financebee.h"
int crypto_init(void) { return -1; }
