#pragma once

// The seam between the control API (daemon/server/) and the recreate engine (daemon/recreate/):
// what RecreateService needs, in the API's own messages. The engine implements it; the server maps
// gRPC to it and back, and is unit-tested against a mock.

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "common/watch_fanout.h"

namespace inplaced::daemon {

// A subscription to changes of recreate requests (WatchRecreateRequests), read either blocking
// (Next) or polled (TryNext, told when to poll again by the ready callback: no thread per reader).
// Every method may be called from any thread; Next()/TryNext() from one thread at a time.
class RecreateWatch {
 public:
  virtual ~RecreateWatch() = default;
  // Blocks until the next event and returns true, or returns false once the watch ended: Cancel()
  // was called, or the manager shut down (then Status() is UNAVAILABLE).
  virtual bool Next(::inplaced::v1::WatchRecreateRequestsResponse* event) = 0;
  // Takes the next event if one is queued (kEvent), else kEmpty while open or kEnded. Never blocks.
  virtual WatchPoll TryNext(::inplaced::v1::WatchRecreateRequestsResponse* event) = 0;
  // `ready` runs whenever an event becomes available or the watch ends (and right away if one is
  // or it has), as Watch::SetReadyCallback: on the publisher's thread, never under the watch's own
  // lock, so it may call TryNext.
  virtual void SetReadyCallback(std::function<void()> ready) = 0;
  // Why the watch ended: OK after Cancel(), UNAVAILABLE on shutdown.
  virtual absl::Status Status() = 0;
  // Ends the watch; a blocked Next() returns false, the ready callback runs. Idempotent.
  virtual void Cancel() = 0;
};

// Every method validates its input (daemon/recreate_validation.h) and returns the API's errors as
// documented on each RPC in api/inplaced/v1/recreate.proto: INVALID_ARGUMENT naming the field,
// NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED (cap on open requests),
// UNAVAILABLE (not ready yet, or shutting down). A method that returns OK after a change has made
// the change durable (persisted) first. Thread-safe.
class RecreateManager {
 public:
  virtual ~RecreateManager() = default;

  virtual absl::StatusOr<::inplaced::v1::CreateRecreateRequestResponse> Create(
      const ::inplaced::v1::CreateRecreateRequestRequest& request) = 0;
  // Create without holding the caller's thread until the request is durable: `done` runs exactly
  // once with what Create would return, on any thread (the caller's when answered at once), so the
  // server's handler returns at once. This default answers inline with Create().
  using CreateDone =
      std::function<void(absl::StatusOr<::inplaced::v1::CreateRecreateRequestResponse>)>;
  virtual void CreateAsync(const ::inplaced::v1::CreateRecreateRequestRequest& request,
                           CreateDone done) {
    done(Create(request));
  }
  virtual absl::StatusOr<::inplaced::v1::RecreateRequest> Get(
      const ::inplaced::v1::GetRecreateRequestRequest& request) = 0;
  virtual absl::StatusOr<::inplaced::v1::ListRecreateRequestsResponse> List(
      const ::inplaced::v1::ListRecreateRequestsRequest& request) = 0;
  virtual absl::Status Delete(const ::inplaced::v1::DeleteRecreateRequestRequest& request) = 0;
  virtual absl::StatusOr<::inplaced::v1::RecreateRequest> AcknowledgeUnready(
      const ::inplaced::v1::AcknowledgeUnreadyRequest& request) = 0;
  virtual absl::StatusOr<::inplaced::v1::RecreateRequest> ReportReadiness(
      const ::inplaced::v1::ReportReadinessRequest& request) = 0;
  virtual absl::StatusOr<std::unique_ptr<RecreateWatch>> Watch(
      const ::inplaced::v1::WatchRecreateRequestsRequest& request) = 0;
};

}  // namespace inplaced::daemon
