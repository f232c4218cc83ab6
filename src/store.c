/* store.c: placeholder until written. */
#include "financebee.h"
