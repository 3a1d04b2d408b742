#pragma once

// containerd's content store as inplaced reads it for the byte progress of pulls: the active
// ingests (one per blob being downloaded) and whether a blob is committed. This is containerd's
// native API on the same socket as CRI (api/containerd/services/content/v1/content.proto), not CRI:
// CRI-O and the fake CRI server without its content service answer UNIMPLEMENTED.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/containerd/services/content/v1/content.grpc.pb.h"

namespace inplaced::cri {

// The namespace CRI's images live in (the gRPC metadata key "containerd-namespace").
inline constexpr char kContainerdCriNamespace[] = "k8s.io";

// One active ingest.
struct Ingest {
  std::string ref;  // "layer-sha256:<hex>", "config-sha256:<hex>", ...
  int64_t offset = 0;
  int64_t total = 0;  // 0 when not known
};

// The seam the pull progress tracker reads. Thread-safe implementations.
class ContentStore {
 public:
  virtual ~ContentStore() = default;
  // Every active ingest of the namespace. UNIMPLEMENTED when the runtime has no content service.
  virtual absl::StatusOr<std::vector<Ingest>> ListIngests() = 0;
  // Whether the blob `digest` is committed. UNIMPLEMENTED as ListIngests.
  virtual absl::StatusOr<bool> HasBlob(const std::string& digest) = 0;
};

// ContentStore over containerd's gRPC content service on `channel` (CreateCriChannel: the CRI
// socket), in `name_space`, each call bounded by `timeout`. Errors carry the runtime's code and
// "<Call>: <message>". Thread-safe.
class GrpcContentStore final : public ContentStore {
 public:
  GrpcContentStore(std::shared_ptr<grpc::Channel> channel,
                   std::string name_space = kContainerdCriNamespace,
                   absl::Duration timeout = absl::Seconds(5));

  absl::StatusOr<std::vector<Ingest>> ListIngests() override;
  absl::StatusOr<bool> HasBlob(const std::string& digest) override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::containerd::services::content::v1::Content::Stub> stub_;
  const std::string namespace_;
  const absl::Duration timeout_;
};

}  // namespace inplaced::cri
