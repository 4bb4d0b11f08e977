#include <malloc.h>
#include "CNetShim.h"

int sy_malloc_trim(void) { return malloc_trim(0); }
