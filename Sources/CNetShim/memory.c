#include <malloc.h>
#include "CNetShim.h"

int sy_malloc_trim(void) { return malloc_trim(0); }

/* A fixed threshold turns off glibc's dynamic one, which rises to the size of each large
   block freed (up to 32 MiB): after the first reload freed a zone, the next zone's arrays
   would come from the heap, where freed space stays in the process. Mapped on their own,
   they go back to the system as soon as they are freed. */
int sy_malloc_map_large(void) { return mallopt(M_MMAP_THRESHOLD, 1 << 20); }
