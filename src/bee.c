/* bee.c: placeholder until written. */
#include "financebee.h"
