#pragma once

// A cri::ContentStore whose ingests and committed blobs the test sets: containerd's content store
// as a pull sees it, or a runtime without one (SetUnimplemented: CRI-O). Thread-safe.

#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cri/content_store.h"

namespace inplaced::fakes {

class FakeContentStore final : public cri::ContentStore {
 public:
  absl::StatusOr<std::vector<cri::Ingest>> ListIngests() override;
  absl::StatusOr<bool> HasBlob(const std::string& digest) override;

  // The active ingests from now on.
  void SetIngests(std::vector<cri::Ingest> ingests);
  // Commits `digest` (HasBlob answers true).
  void Commit(const std::string& digest);
  // Every call answers UNIMPLEMENTED, as a runtime without containerd's content service.
  void SetUnimplemented(bool unimplemented);
  // ListIngests calls so far.
  int ListCalls() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<cri::Ingest> ingests_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> committed_ ABSL_GUARDED_BY(mu_);
  bool unimplemented_ ABSL_GUARDED_BY(mu_) = false;
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace inplaced::fakes
