#include "cri/content_store.h"

#include <utility>

#include <grpcpp/client_context.h>

#include "cri/errors.h"

namespace inplaced::cri {
namespace {

namespace content = ::containerd::services::content::v1;

// The metadata key containerd reads the namespace of a call from.
constexpr char kNamespaceMetadataKey[] = "containerd-namespace";

}  // namespace

GrpcContentStore::GrpcContentStore(std::shared_ptr<grpc::Channel> channel, std::string name_space,
                                   absl::Duration timeout)
    : channel_(std::move(channel)),
      stub_(content::Content::NewStub(channel_)),
      namespace_(std::move(name_space)),
      timeout_(timeout) {}

absl::StatusOr<std::vector<Ingest>> GrpcContentStore::ListIngests() {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  context.AddMetadata(kNamespaceMetadataKey, namespace_);
  content::ListStatusesResponse response;
  const grpc::Status status =
      stub_->ListStatuses(&context, content::ListStatusesRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status, "ListStatuses");
  std::vector<Ingest> ingests;
  ingests.reserve(response.statuses_size());
  for (const content::Status& s : response.statuses()) {
    ingests.push_back(Ingest{s.ref(), s.offset(), s.total()});
  }
  return ingests;
}

absl::StatusOr<bool> GrpcContentStore::HasBlob(const std::string& digest) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  context.AddMetadata(kNamespaceMetadataKey, namespace_);
  content::InfoRequest request;
  request.set_digest(digest);
  content::InfoResponse response;
  const grpc::Status status = stub_->Info(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  if (!status.ok()) return FromGrpcStatus(status, "Info");
  return true;
}

}  // namespace inplaced::cri
