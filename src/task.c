/* task.c: placeholder until written. */
#include "financebee.h"
