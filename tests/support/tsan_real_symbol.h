#pragma once

// For the ThreadSanitizer build's interposers (tsan_absl_sync.cc, tsan_grpc_sync.cc): the real
// definition of a function they replace, found in the next object after the executable.

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace inplaced::testing {

// The function named `symbol` (its linker name) in the objects after this executable, as `Function`
// (a function pointer type); aborts when it is missing (the interposer would have nothing to call).
template <typename Function>
Function RealSymbol(const char* symbol) {
  void* address = dlsym(RTLD_NEXT, symbol);
  if (address == nullptr) {
    std::fprintf(stderr, "tsan interposer: %s not found: %s\n", symbol, dlerror());
    std::abort();
  }
  Function function;
  static_assert(sizeof(function) == sizeof(address));
  std::memcpy(&function, &address, sizeof(address));
  return function;
}

}  // namespace inplaced::testing
