/* guardian.c: placeholder until written. */
#include "financebee.h"
