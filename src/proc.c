/* proc.c: placeholder until written. */
#include "financebee.h"
