#include "tests/fakes/memory_store.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "store/validation.h"

namespace inplaced::fakes {
namespace {

absl::Status NotFound(absl::string_view kind, absl::string_view key) {
  return absl::NotFoundError(absl::StrCat(kind, " ", key, ": not found"));
}

absl::Status Stale(absl::string_view kind, absl::string_view key, int64_t expected,
                   int64_t actual) {
  return absl::AbortedError(
      absl::StrCat(kind, " ", key, ": revision is ", actual, ", expected ", expected));
}

}  // namespace

absl::StatusOr<store::Record> MemoryStore::Get(absl::string_view kind, absl::string_view key) {
  RETURN_IF_ERROR(store::ValidateId(kind, key));
  absl::MutexLock lock(&mu_);
  auto it = records_.find({std::string(kind), std::string(key)});
  if (it == records_.end()) return NotFound(kind, key);
  return it->second;
}

absl::StatusOr<int64_t> MemoryStore::Create(absl::string_view kind, absl::string_view key,
                                            absl::string_view value) {
  RETURN_IF_ERROR(store::ValidateId(kind, key));
  RETURN_IF_ERROR(store::ValidateValue(value));
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = records_.try_emplace({std::string(kind), std::string(key)});
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat(kind, " ", key, ": already exists"));
  const int64_t revision = ++last_revision_;
  it->second =
      store::Record{std::string(kind), std::string(key), std::string(value), revision, revision};
  return revision;
}

absl::StatusOr<int64_t> MemoryStore::Update(absl::string_view kind, absl::string_view key,
                                            absl::string_view value, int64_t expected_revision) {
  RETURN_IF_ERROR(store::ValidateId(kind, key));
  RETURN_IF_ERROR(store::ValidateValue(value));
  RETURN_IF_ERROR(store::ValidateExpectedRevision(expected_revision));
  absl::MutexLock lock(&mu_);
  auto it = records_.find({std::string(kind), std::string(key)});
  if (it == records_.end()) return NotFound(kind, key);
  store::Record& record = it->second;
  if (expected_revision != store::kAnyRevision && record.revision != expected_revision) {
    return Stale(kind, key, expected_revision, record.revision);
  }
  record.value = std::string(value);
  record.revision = ++last_revision_;
  return record.revision;
}

absl::StatusOr<int64_t> MemoryStore::Delete(absl::string_view kind, absl::string_view key,
                                            int64_t expected_revision) {
  RETURN_IF_ERROR(store::ValidateId(kind, key));
  RETURN_IF_ERROR(store::ValidateExpectedRevision(expected_revision));
  absl::MutexLock lock(&mu_);
  auto it = records_.find({std::string(kind), std::string(key)});
  if (it == records_.end()) return NotFound(kind, key);
  if (expected_revision != store::kAnyRevision && it->second.revision != expected_revision) {
    return Stale(kind, key, expected_revision, it->second.revision);
  }
  records_.erase(it);
  return ++last_revision_;
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
