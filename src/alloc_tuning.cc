#include "alloc_tuning.h"

#include <malloc.h>

void tune_allocator() {
  // A fixed mmap threshold stops glibc's dynamic threshold from moving
  // buffer-sized blocks between mmap and the heap; the trim threshold keeps
  // a few MiB of freed heap for the next read instead of returning it.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}
