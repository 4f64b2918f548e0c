#include "system/allocator_tuning.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
extern char** environ;
#endif

namespace mike {

void tune_allocator() {
#if defined(__GLIBC__)
  for (char** env = environ; env && *env; ++env)
    if (std::strncmp(*env, "MALLOC_", 7) == 0 || std::strncmp(*env, "GLIBC_TUNABLES=", 15) == 0) return;
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

}  // namespace mike
