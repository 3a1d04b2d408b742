#pragma once

// The seam between the control API (daemon/server/) and the NodeImage engine (the puller): what
// NodeImageService needs, in the API's own messages. The puller implements it; the server maps
// gRPC to it and back, and is unit-tested against a mock.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "common/cancellation.h"
#include "common/watch_fanout.h"

namespace inplaced::imagepull {

// Every method validates its input (nodeimage_validation.h) and returns the API's errors as
// documented on each RPC in api/inplaced/v1/nodeimage.proto: INVALID_ARGUMENT naming the field,
// ABORTED (stale generation), RESOURCE_EXHAUSTED (ad hoc pulls), NOT_FOUND, UNAVAILABLE (shutting
// down). A method that returns OK after a change has made the change durable (persisted) first.
// Everything returned is redacted (no pull secret). Thread-safe.
class NodeImageManager {
 public:
  virtual ~NodeImageManager() = default;

  // SetNodeImage: replaces the desired spec; returns the new NodeImage.
  virtual absl::StatusOr<::inplaced::v1::NodeImage> SetNodeImage(
      const ::inplaced::v1::SetNodeImageRequest& request) = 0;
  // The current NodeImage.
  virtual ::inplaced::v1::NodeImage GetNodeImage() const = 0;
  // Starts an ad hoc pull (or returns the unfinished one of the same reference): its status at
  // acceptance.
  virtual absl::StatusOr<::inplaced::v1::AdHocPullStatus> PullImage(
      const ::inplaced::v1::PullImageRequest& request) = 0;
  // Blocks until the ad hoc pull of `image` (as given to PullImage) has finished and returns its
  // final status. NOT_FOUND when there is none; CANCELLED when `cancel` (may be null) fires first
  // (the pull goes on); UNAVAILABLE when the manager shuts down.
  virtual absl::StatusOr<::inplaced::v1::AdHocPullStatus> WaitAdHocPull(const std::string& image,
                                                                        Cancellation* cancel) = 0;
  // WatchNodeImage: the current NodeImage (unless request.skip_initial_state), then the NodeImage
  // after each change, as kAdded/kModified events of one object. A slow reader gets the newest
  // state, never an older one after a newer. The watch ends with UNAVAILABLE when the manager
  // shuts down.
  virtual absl::StatusOr<std::unique_ptr<::inplaced::Watch<::inplaced::v1::NodeImage>>> Watch(
      const ::inplaced::v1::WatchNodeImageRequest& request) = 0;
};

}  // namespace inplaced::imagepull
