#include "tests/fakes/fake_content_store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace inplaced::fakes {
namespace {

absl::Status Unimplemented(absl::string_view call) {
  return absl::UnimplementedError(
      absl::StrCat(call, ": unknown service containerd.services.content.v1.Content"));
}

}  // namespace

absl::StatusOr<std::vector<cri::Ingest>> FakeContentStore::ListIngests() {
  absl::MutexLock lock(&mu_);
  ++list_calls_;
  if (unimplemented_) return Unimplemented("ListStatuses");
  return ingests_;
}

absl::StatusOr<bool> FakeContentStore::HasBlob(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  if (unimplemented_) return Unimplemented("Info");
  return committed_.count(digest) > 0;
}

void FakeContentStore::SetIngests(std::vector<cri::Ingest> ingests) {
  absl::MutexLock lock(&mu_);
  ingests_ = std::move(ingests);
}

void FakeContentStore::Commit(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  committed_.insert(digest);
}

void FakeContentStore::SetUnimplemented(bool unimplemented) {
  absl::MutexLock lock(&mu_);
  unimplemented_ = unimplemented;
}

int FakeContentStore::ListCalls() const {
  absl::MutexLock lock(&mu_);
  return list_calls_;
}

}  // namespace inplaced::fakes
