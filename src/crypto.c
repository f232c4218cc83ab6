/* crypto.c: placeholder until written. */
#include "financebee.h"
