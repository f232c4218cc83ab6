/* master.c: placeholder until written. */
#include "financebee.h"
