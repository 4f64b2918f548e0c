#pragma once
// glibc malloc settings for mike's allocation pattern (many short-lived
// tensors and HDF5 buffers of 100 KB - 10 MB per edit).
namespace mike {

// With glibc's defaults the heap top is trimmed and regrown around every
// edit, and each regrowth page-faults fresh zeroed pages: on the default job
// with log.weights=false that was 0.57 s of a 1.9 s run (bench/run). Keeps a
// pad at the heap top, serves blocks under 32 MiB from the heap and trims
// only above 64 MiB free. Does nothing when the user set MALLOC_* or
// GLIBC_TUNABLES, or on another C library.
void tune_allocator();

}  // namespace mike
