#pragma once

// `inplacectl recreate POD ...`: its flags and their translation into a CreateRecreateRequest. Kept
// apart from the RPC so that parsing and mapping are unit-tested without a daemon.

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.pb.h"

namespace inplaced::cli {

// A seconds flag that was not given.
inline constexpr int64_t kUnsetSeconds = -1;

struct RecreateArgs {
  std::string pod;
  std::string pod_namespace = "default";
  std::string name;                     // empty: DefaultRequestName
  std::vector<std::string> containers;  // -c a,b
  bool all_containers = false;          // --all: every container the runtime shows for the pod
  bool ordered = false;
  bool force = false;
  bool fail = false;    // --fail (the default policy)
  bool ignore = false;  // --ignore
  int64_t grace_seconds = kUnsetSeconds;
  int64_t unready_grace_seconds = kUnsetSeconds;
  int64_t min_started_seconds = 0;
  int64_t deadline_seconds = kUnsetSeconds;
  int64_t ttl_seconds = kUnsetSeconds;
  bool wait = false;
  double timeout_seconds = 0;  // --wait's limit; 0 = none
};

// Adds the flags of `recreate` to `command`; values land in *args. Mutually exclusive pairs
// (-c/--all,
// --fail/--ignore) are refused by CLI11 at parse time; negative seconds are refused by the checks.
void AddRecreateFlags(CLI::App& command, RecreateArgs* args);

// "<pod>-<yyyymmdd-hhmmss>" (UTC), cut so that it stays a DNS-1123 subdomain of at most 253
// characters.
std::string DefaultRequestName(const std::string& pod, absl::Time now);

// The request for `args`. `containers` are the names to recreate: args.containers, or with --all
// the pod's containers as the runtime lists them. INVALID_ARGUMENT when there is none.
absl::StatusOr<v1::CreateRecreateRequestRequest> BuildRecreateRequest(
    const RecreateArgs& args, const std::vector<std::string>& containers, absl::Time now);

}  // namespace inplaced::cli
