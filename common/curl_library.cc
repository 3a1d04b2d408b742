#include "common/curl_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace inplaced {
namespace {

constexpr char kLibcurl[] = "libcurl.so.4";

// Resolves `name` into `*fn`; false (with the reason in `error`) when the library lacks it.
template <typename Fn>
bool Resolve(void* library, const char* soname, const char* name, Fn* fn, std::string* error) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    *error = absl::StrCat(soname, " has no ", name, " (not libcurl?)");
    return false;
  }
  *fn = reinterpret_cast<Fn>(symbol);
  return true;
}

}  // namespace

absl::StatusOr<CurlLibrary> CurlLibrary::Open(const char* soname) {
  void* library = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* reason = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load ", soname, " (Debian's libcurl4 provides libcurl.so.4): ",
                     reason != nullptr ? reason : "unknown error"));
  }
  CurlLibrary lib{};
  std::string error;
  CURLcode (*global_init)(long) = nullptr;
  const bool resolved =
      Resolve(library, soname, "curl_global_init", &global_init, &error) &&
      Resolve(library, soname, "curl_easy_init", &lib.easy_init, &error) &&
      Resolve(library, soname, "curl_easy_cleanup", &lib.easy_cleanup, &error) &&
      Resolve(library, soname, "curl_easy_setopt", &lib.easy_setopt, &error) &&
      Resolve(library, soname, "curl_easy_perform", &lib.easy_perform, &error) &&
      Resolve(library, soname, "curl_easy_getinfo", &lib.easy_getinfo, &error) &&
      Resolve(library, soname, "curl_easy_strerror", &lib.easy_strerror, &error) &&
      Resolve(library, soname, "curl_slist_append", &lib.slist_append, &error) &&
      Resolve(library, soname, "curl_slist_free_all", &lib.slist_free_all, &error) &&
      Resolve(library, soname, "curl_url", &lib.url, &error) &&
      Resolve(library, soname, "curl_url_cleanup", &lib.url_cleanup, &error) &&
      Resolve(library, soname, "curl_url_set", &lib.url_set, &error) &&
      Resolve(library, soname, "curl_url_get", &lib.url_get, &error) &&
      Resolve(library, soname, "curl_free", &lib.free, &error);
  if (!resolved) {
    dlclose(library);
    return absl::FailedPreconditionError(error);
  }
  // Before the first easy handle: the implicit init is not thread-safe in older releases.
  if (const CURLcode code = global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("curl_global_init failed: ", lib.easy_strerror(code)));
  }
  return lib;
}

namespace {

// Loaded once per process: libcurl's global state is process-wide anyway.
const absl::StatusOr<CurlLibrary>& Instance() {
  static const absl::StatusOr<CurlLibrary>* const loaded =
      new absl::StatusOr<CurlLibrary>(CurlLibrary::Open(kLibcurl));
  return *loaded;
}

}  // namespace

absl::StatusOr<const CurlLibrary*> CurlLibrary::Get() {
  const absl::StatusOr<CurlLibrary>& loaded = Instance();
  if (!loaded.ok()) return loaded.status();
  return &*loaded;
}

const CurlLibrary& CurlLibrary::Loaded() {
  const absl::StatusOr<CurlLibrary>& loaded = Instance();
  if (!loaded.ok()) std::abort();  // a handle without a loaded library: a bug
  return *loaded;
}

}  // namespace inplaced
