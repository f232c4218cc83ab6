/* fbeectl.c: placeholder until written. */
#include "financebee.h"
int main(void);
int main(void) { return 1; }
