#pragma once

// Validation of the RecreateService RPC inputs (api/inplaced/v1/recreate.proto), and the spec
// comparison behind the idempotent Create.
//
// Every Validate* function returns OK or INVALID_ARGUMENT whose message starts with the path of the
// first offending field, in proto field names with list indexes, then says what is wrong:
//   spec.containers[1].name: duplicate container "app"
//   spec.active_deadline_seconds: must be at least 3, got 2
// Validation is purely syntactic: it does not look at the store or the runtime (whether the request
// exists, whether ReportReadiness names containers of the request, ... are the server's checks).
// Stateless and thread-safe.

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "api/inplaced/v1/recreate.pb.h"

namespace inplaced::daemon {

// Kruise's minimum activeDeadlineSeconds (minDeadlineSeconds in its webhook).
inline constexpr int64_t kMinActiveDeadlineSeconds = 3;
// The cap on every *_seconds field: 365 days. Longer is certainly a mistake (or an overflow waiting
// to happen in deadline arithmetic).
inline constexpr int64_t kMaxDurationSeconds = int64_t{365} * 24 * 60 * 60;
// ListRecreateRequests page size when the caller passes 0.
inline constexpr int kDefaultListPageSize = 100;

// Bounds the server enforces on inputs. The defaults are the documented API limits (README,
// "Limits"); the daemon's configuration may change max_containers. They keep every stored request
// small enough that a List page of them, a watch event and the store record stay far below gRPC's
// default 4 MiB message limit.
struct ValidationLimits {
  // Most containers in one request (spec.containers) or one ReportReadiness call.
  int max_containers = 64;
  // The whole encoded spec (checked after the per-field limits, which name the field).
  size_t max_spec_bytes = 256 * 1024;
  // A preStop exec command: all arguments together, each argument, the number of arguments.
  size_t max_command_bytes = 64 * 1024;
  size_t max_command_arg_bytes = 32 * 1024;
  int max_command_args = 1024;
  // A preStop httpGet: headers, each header's name and value, the path.
  int max_http_headers = 64;
  size_t max_header_name_bytes = 256;
  size_t max_header_value_bytes = 8 * 1024;
  size_t max_http_path_bytes = 8 * 1024;
  // Ports of one container.
  int max_ports = 128;
  // Largest accepted value of any *_seconds field.
  int64_t max_duration_seconds = kMaxDurationSeconds;
  // Largest ListRecreateRequestsRequest.page_size.
  int max_page_size = 1000;
  // A List page ends before the item that would make its encoded requests exceed this many bytes
  // (it always holds at least one): a client with gRPC's default 4 MiB receive limit reads every
  // page, whatever page_size asked for.
  size_t max_list_page_bytes = 1024 * 1024;
};

// CreateRecreateRequest: namespace (DNS-1123 label), name (DNS-1123 subdomain), and the whole spec
// (see the field comments in recreate.proto for each rule).
absl::Status ValidateCreateRecreateRequest(
    const ::inplaced::v1::CreateRecreateRequestRequest& request, const ValidationLimits& limits);

// The spec alone; paths start with `spec.`.
absl::Status ValidateRecreateSpec(const ::inplaced::v1::RecreateSpec& spec,
                                  const ValidationLimits& limits);

// GetRecreateRequest / DeleteRecreateRequest: namespace and name.
absl::Status ValidateGetRecreateRequest(const ::inplaced::v1::GetRecreateRequestRequest& request);
absl::Status ValidateDeleteRecreateRequest(
    const ::inplaced::v1::DeleteRecreateRequestRequest& request);

// ListRecreateRequests: filters (each optional, syntactically valid when set), page_size in
// [0, limits.max_page_size], page_token empty or issued for the same filters (daemon/page_token.h).
absl::Status ValidateListRecreateRequests(
    const ::inplaced::v1::ListRecreateRequestsRequest& request, const ValidationLimits& limits);

// The page size to use for a validated request: page_size, or kDefaultListPageSize for 0.
int EffectivePageSize(const ::inplaced::v1::ListRecreateRequestsRequest& request);

// WatchRecreateRequests: the optional filters.
absl::Status ValidateWatchRecreateRequests(
    const ::inplaced::v1::WatchRecreateRequestsRequest& request);

// AcknowledgeUnready: namespace, name, and unready_at present and a valid time after the Unix
// epoch.
absl::Status ValidateAcknowledgeUnready(const ::inplaced::v1::AcknowledgeUnreadyRequest& request);

// ReportReadiness: namespace, name, 1..limits.max_containers entries with unique valid container
// names and valid container IDs.
absl::Status ValidateReportReadiness(const ::inplaced::v1::ReportReadinessRequest& request,
                                     const ValidationLimits& limits);

// Fills the documented defaults into a spec, so that stored specs are explicit: an absent strategy
// becomes an empty one, UNSPECIFIED failure_policy becomes FAIL, readiness_source RUNTIME, port
// protocol TCP. Nothing else changes (optional fields stay unset: their fallbacks depend on the
// pod).
void ApplySpecDefaults(::inplaced::v1::RecreateSpec* spec);

// Whether two specs ask for the same thing: equal after ApplySpecDefaults on both (so UNSPECIFIED
// and its default compare equal). Presence matters for optional fields (an unset grace period
// differs from 0) and container order matters (ordered recreate). Used by the idempotent Create.
bool SameSpec(const ::inplaced::v1::RecreateSpec& a, const ::inplaced::v1::RecreateSpec& b);

}  // namespace inplaced::daemon
