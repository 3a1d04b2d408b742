#include "tests/fakes/memory_store.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "store/validation.h"

namespace inplaced::fakes {
absl::StatusOr<store::Record> MemoryStore::Get(absl::string_view kind, absl::string_view key) {
  RETURN_IF_ERROR(store::ValidateId(kind, key));
  absl::MutexLock lock(&mu_);
  auto it = records_.find({std::string(kind), std::string(key)});
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat(kind, " ", key, ": not found"));
  return it->second;
}

store::WriteResult MemoryStore::ApplyLocked(const store::Write& write) {
  RETURN_IF_ERROR(store::ValidateWrite(write));
  const std::pair<std::string, std::string> id{write.kind, write.key};
  auto it = records_.find(id);
  RETURN_IF_ERROR(store::CheckWrite(write, it == records_.end() ? 0 : it->second.revision));
  const int64_t revision = ++last_revision_;
  switch (write.op) {
    case store::Write::Op::kCreate:
      records_[id] = store::Record{write.kind, write.key, write.value, revision, revision};
      break;
    case store::Write::Op::kUpdate:
      it->second.value = write.value;
      it->second.revision = revision;
      break;
    case store::Write::Op::kDelete:
      records_.erase(it);
      break;
  }
  return revision;
}

absl::StatusOr<std::vector<store::WriteResult>> MemoryStore::Apply(
    const std::vector<store::Write>& writes) {
  absl::MutexLock lock(&mu_);
  ++batches_;
  std::vector<store::WriteResult> results;
  results.reserve(writes.size());
  for (const store::Write& write : writes) results.push_back(ApplyLocked(write));
  return results;
}

absl::StatusOr<store::ListPage> MemoryStore::List(absl::string_view kind,
                                                  const store::ListOptions& options) {
  RETURN_IF_ERROR(store::ValidateKind(kind));
  RETURN_IF_ERROR(store::ValidateListOptions(options));
  store::ListPage page;
  absl::MutexLock lock(&mu_);
  const std::string kind_string(kind);
  // Start at the first key >= prefix and > after_key.
  auto it = options.after_key < options.prefix
                ? records_.lower_bound({kind_string, options.prefix})
                : records_.upper_bound({kind_string, options.after_key});
  for (; it != records_.end() && it->first.first == kind_string; ++it) {
    const std::string& key = it->first.second;
    if (key.compare(0, options.prefix.size(), options.prefix) != 0) break;
    if (page.records.size() == static_cast<size_t>(options.limit)) {
      page.next_after_key = page.records.back().key;
      break;
    }
    page.records.push_back(it->second);
  }
  return page;
}

absl::StatusOr<std::vector<store::Record>> MemoryStore::ListAll(absl::string_view kind) {
  RETURN_IF_ERROR(store::ValidateKind(kind));
  std::vector<store::Record> records;
  absl::MutexLock lock(&mu_);
  const std::string kind_string(kind);
  for (auto it = records_.lower_bound({kind_string, ""});
       it != records_.end() && it->first.first == kind_string; ++it) {
    records.push_back(it->second);
  }
  return records;
}

absl::StatusOr<int64_t> MemoryStore::Count(absl::string_view kind) {
  RETURN_IF_ERROR(store::ValidateKind(kind));
  absl::MutexLock lock(&mu_);
  const std::string kind_string(kind);
  int64_t count = 0;
  for (auto it = records_.lower_bound({kind_string, ""});
       it != records_.end() && it->first.first == kind_string; ++it) {
    ++count;
  }
  return count;
}

absl::StatusOr<int64_t> MemoryStore::CurrentRevision() {
  absl::MutexLock lock(&mu_);
  return last_revision_;
}

}  // namespace inplaced::fakes
