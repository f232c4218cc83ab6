/* config.c: placeholder until written. */
#include "financebee.h"
