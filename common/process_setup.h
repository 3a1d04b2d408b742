#pragma once

namespace inplaced {

// The process-wide settings of a long-running inplaced process: the daemon, and the servers the
// benchmarks measure beside it (fake_cri_server, watch_floor_server), so that all count alike. Call
// first thing in main(), before any thread starts.
//   - At most 2 glibc malloc arenas instead of 8 per core: the daemon is not allocation-bound, and
//     every extra arena keeps free pages of its own (bench: 1,000 open requests 45 -> 41 MiB, 2,000
//     watch streams +33 -> +26 MiB). An operator's MALLOC_ARENA_MAX wins.
//   - No absl::Mutex deadlock detection: Debian builds abseil without NDEBUG, so every Mutex
//     acquisition would also update the process-wide lock-order graph under one global spin lock
//     (a few percent of the daemon's CPU in a burst of Creates). The test suites keep the check.
void ApplyProcessSettings();

}  // namespace inplaced
