// The Store contract (daemon/store/store.h), written once and run against every implementation:
// MemoryStore, SqliteStore in memory and SqliteStore on a real file.

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace inplaced::store {
namespace {

using ::inplaced::fakes::MemoryStore;

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

struct MemoryStoreFactory {
  static std::unique_ptr<Store> Make(const testing::TempDir&) {
    return std::make_unique<MemoryStore>();
  }
};

struct SqliteInMemoryFactory {
  static std::unique_ptr<Store> Make(const testing::TempDir&) {
    auto store = SqliteStore::Open(":memory:");
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(store).value() : nullptr;
  }
};

struct SqliteFileFactory {
  static std::unique_ptr<Store> Make(const testing::TempDir& dir) {
    auto store = SqliteStore::Open(dir.Join("state.db"));
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(store).value() : nullptr;
  }
};

template <typename Factory>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Factory::Make(dir_);
    ASSERT_NE(store_, nullptr);
  }

  std::vector<std::string> Keys(const std::vector<Record>& records) {
    std::vector<std::string> keys;
    for (const Record& record : records) keys.push_back(record.key);
    return keys;
  }

  // Every key of `kind` with `prefix`, fetched in pages of `limit`.
  std::vector<std::string> PagedKeys(const std::string& kind, const std::string& prefix, int limit,
                                     int* pages) {
    std::vector<std::string> keys;
    ListOptions options{prefix, "", limit};
    *pages = 0;
    while (true) {
      auto page = store_->List(kind, options);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) break;
      ++*pages;
      EXPECT_LE(page->records.size(), static_cast<size_t>(limit));
      for (const Record& record : page->records) keys.push_back(record.key);
      if (page->next_after_key.empty()) break;
      EXPECT_EQ(page->next_after_key, page->records.back().key);
      options.after_key = page->next_after_key;
      if (*pages > 1000) break;
    }
    return keys;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

using Factories = ::testing::Types<MemoryStoreFactory, SqliteInMemoryFactory, SqliteFileFactory>;

class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryStoreFactory>) return "Memory";
    if (std::is_same_v<T, SqliteInMemoryFactory>) return "SqliteInMemory";
    return "SqliteFile";
  }
};
TYPED_TEST_SUITE(StoreContractTest, Factories, FactoryNames);

TYPED_TEST(StoreContractTest, GetOfMissingRecordIsNotFound) {
  EXPECT_THAT(this->store_->Get("recreate", "default/a"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("default/a")));
}

TYPED_TEST(StoreContractTest, CreateThenGetReturnsValueAndRevisions) {
  ASSERT_OK_AND_ASSIGN(const int64_t revision, this->store_->Create("recreate", "default/a", "v1"));
  EXPECT_GT(revision, 0);
  ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", "default/a"));
  EXPECT_EQ(record, (Record{"recreate", "default/a", "v1", revision, revision}));
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(revision));
}

TYPED_TEST(StoreContractTest, NewStoreIsAtRevisionZero) {
  ASSERT_OK_AND_ASSIGN(const int64_t revision, this->store_->CurrentRevision());
  EXPECT_EQ(revision, 0);
  EXPECT_THAT(this->store_->Count("recreate"), IsOkAndHolds(0));
}

TYPED_TEST(StoreContractTest, CreateOfExistingRecordIsAlreadyExistsAndKeepsIt) {
  ASSERT_OK_AND_ASSIGN(const int64_t revision, this->store_->Create("recreate", "default/a", "v1"));
  EXPECT_THAT(this->store_->Create("recreate", "default/a", "v2"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("default/a")));
  ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", "default/a"));
  EXPECT_EQ(record.value, "v1");
  EXPECT_EQ(record.revision, revision);
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(revision));
}

TYPED_TEST(StoreContractTest, RevisionsIncreaseAcrossKindsAndKeys) {
  int64_t previous = 0;
  for (const auto& [kind, key] : std::vector<std::pair<std::string, std::string>>{
           {"recreate", "ns/b"}, {"nodeimage", "node"}, {"recreate", "ns/a"}}) {
    ASSERT_OK_AND_ASSIGN(const int64_t revision, this->store_->Create(kind, key, "v"));
    EXPECT_GT(revision, previous);
    previous = revision;
  }
  ASSERT_OK_AND_ASSIGN(const int64_t updated,
                       this->store_->Update("recreate", "ns/b", "w", kAnyRevision));
  EXPECT_GT(updated, previous);
}

TYPED_TEST(StoreContractTest, UpdateWithCurrentRevisionReplacesValueAndKeepsCreateRevision) {
  ASSERT_OK_AND_ASSIGN(const int64_t created, this->store_->Create("recreate", "ns/a", "v1"));
  ASSERT_OK_AND_ASSIGN(const int64_t updated,
                       this->store_->Update("recreate", "ns/a", "v2", created));
  EXPECT_GT(updated, created);
  ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", "ns/a"));
  EXPECT_EQ(record, (Record{"recreate", "ns/a", "v2", updated, created}));
}

TYPED_TEST(StoreContractTest, UpdateWithStaleRevisionIsAbortedAndWritesNothing) {
  ASSERT_OK_AND_ASSIGN(const int64_t created, this->store_->Create("recreate", "ns/a", "v1"));
  ASSERT_OK_AND_ASSIGN(const int64_t updated,
                       this->store_->Update("recreate", "ns/a", "v2", created));
  EXPECT_THAT(this->store_->Update("recreate", "ns/a", "v3", created),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr(absl::StrCat("revision is ", updated, ", expected ", created))));
  ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", "ns/a"));
  EXPECT_EQ(record.value, "v2");
  EXPECT_EQ(record.revision, updated);
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(updated));
}

TYPED_TEST(StoreContractTest, UpdateWithAnyRevisionIsUnconditional) {
  ASSERT_OK(this->store_->Create("recreate", "ns/a", "v1").status());
  ASSERT_OK(this->store_->Update("recreate", "ns/a", "v2", kAnyRevision).status());
  ASSERT_OK(this->store_->Update("recreate", "ns/a", "v3", kAnyRevision).status());
  ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", "ns/a"));
  EXPECT_EQ(record.value, "v3");
}

TYPED_TEST(StoreContractTest, UpdateOfMissingRecordIsNotFound) {
  EXPECT_THAT(this->store_->Update("recreate", "ns/a", "v", kAnyRevision),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ns/a")));
  EXPECT_THAT(this->store_->Update("recreate", "ns/a", "v", 7),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(this->store_->Get("recreate", "ns/a"), StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(StoreContractTest, DeleteRemovesRecordAndTakesARevision) {
  ASSERT_OK_AND_ASSIGN(const int64_t created, this->store_->Create("recreate", "ns/a", "v"));
  ASSERT_OK_AND_ASSIGN(const int64_t deleted, this->store_->Delete("recreate", "ns/a", created));
  EXPECT_GT(deleted, created);
  EXPECT_THAT(this->store_->Get("recreate", "ns/a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(deleted));
  EXPECT_THAT(this->store_->Delete("recreate", "ns/a", kAnyRevision),
              StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(StoreContractTest, DeleteWithStaleRevisionIsAbortedAndKeepsRecord) {
  ASSERT_OK_AND_ASSIGN(const int64_t created, this->store_->Create("recreate", "ns/a", "v1"));
  ASSERT_OK(this->store_->Update("recreate", "ns/a", "v2", created).status());
  EXPECT_THAT(this->store_->Delete("recreate", "ns/a", created),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(this->store_->Get("recreate", "ns/a"), IsOk());
  EXPECT_THAT(this->store_->Delete("recreate", "ns/a", kAnyRevision), IsOk());
}

TYPED_TEST(StoreContractTest, RevisionNeverGoesBackAfterDeletingTheLatestRecord) {
  ASSERT_OK(this->store_->Create("recreate", "ns/a", "v").status());
  ASSERT_OK_AND_ASSIGN(const int64_t latest, this->store_->Create("recreate", "ns/b", "v"));
  ASSERT_OK_AND_ASSIGN(const int64_t deleted, this->store_->Delete("recreate", "ns/b", latest));
  ASSERT_OK_AND_ASSIGN(const int64_t recreated, this->store_->Create("recreate", "ns/b", "v"));
  EXPECT_GT(recreated, deleted);
  ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", "ns/b"));
  EXPECT_EQ(record.create_revision, recreated);
}

TYPED_TEST(StoreContractTest, KindsAreSeparateNamespaces) {
  ASSERT_OK(this->store_->Create("recreate", "same", "r").status());
  ASSERT_OK(this->store_->Create("nodeimage", "same", "n").status());
  ASSERT_OK(this->store_->Create("nodeimage", "other", "n").status());
  EXPECT_THAT(this->store_->Get("recreate", "same"),
              IsOkAndHolds(::testing::Field(&Record::value, "r")));
  EXPECT_THAT(this->store_->Count("recreate"), IsOkAndHolds(1));
  EXPECT_THAT(this->store_->Count("nodeimage"), IsOkAndHolds(2));
  ASSERT_OK_AND_ASSIGN(const auto all, this->store_->ListAll("nodeimage"));
  EXPECT_THAT(this->Keys(all), ElementsAre("other", "same"));
  for (const Record& record : all) EXPECT_EQ(record.kind, "nodeimage");
  ASSERT_OK(this->store_->Delete("recreate", "same", kAnyRevision).status());
  EXPECT_THAT(this->store_->Get("nodeimage", "same"), IsOk());
}

TYPED_TEST(StoreContractTest, ValuesRoundTripByteForByte) {
  const std::string binary("\0\x01\xff\xfe text \0", 12);
  const std::vector<std::string> values = {"", binary, std::string(kMaxValueBytes, 'x')};
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("value #", i, " of ", values[i].size(), " bytes"));
    const std::string key = absl::StrCat("k", i);
    ASSERT_OK(this->store_->Create("recreate", key, values[i]).status());
    ASSERT_OK_AND_ASSIGN(const Record record, this->store_->Get("recreate", key));
    EXPECT_TRUE(record.value == values[i]);
    ASSERT_OK(this->store_->Update("recreate", key, values[i], kAnyRevision).status());
    ASSERT_OK_AND_ASSIGN(const auto page, this->store_->List("recreate", {key, "", 1}));
    ASSERT_EQ(page.records.size(), 1u);
    EXPECT_TRUE(page.records[0].value == values[i]);
  }
}

TYPED_TEST(StoreContractTest, ValueOverTheLimitIsInvalidArgument) {
  const std::string too_big(kMaxValueBytes + 1, 'x');
  EXPECT_THAT(this->store_->Create("recreate", "ns/a", too_big),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("value: 4194305 bytes")));
  ASSERT_OK(this->store_->Create("recreate", "ns/a", "v").status());
  EXPECT_THAT(this->store_->Update("recreate", "ns/a", too_big, kAnyRevision),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("value: ")));
  EXPECT_THAT(this->store_->Get("recreate", "ns/a"),
              IsOkAndHolds(::testing::Field(&Record::value, "v")));
}

struct BadInput {
  std::string description;
  std::string kind;
  std::string key;
  std::string message_prefix;
};

TYPED_TEST(StoreContractTest, BadKindOrKeyIsInvalidArgumentNamingTheFieldInEveryMethod) {
  const std::vector<BadInput> cases = {
      {"empty kind", "", "ns/a", "kind: empty"},
      {"upper-case kind", "Recreate", "ns/a", "kind: \"Recreate\" may only contain"},
      {"kind with a slash", "a/b", "ns/a", "kind: "},
      {"long kind", std::string(kMaxKindBytes + 1, 'k'), "ns/a", "kind: 65 bytes"},
      {"empty key", "recreate", "", "key: empty"},
      {"key with NUL", "recreate", std::string("a\0b", 3), "key: contains a NUL byte"},
      {"key not UTF-8", "recreate", "a\xff", "key: not valid UTF-8"},
      {"key overlong UTF-8", "recreate", "\xc0\xaf", "key: not valid UTF-8"},
      {"key truncated UTF-8", "recreate", "caf\xc3", "key: not valid UTF-8"},
      {"key with a surrogate", "recreate", "\xed\xa0\x80", "key: not valid UTF-8"},
      {"long key", "recreate", std::string(kMaxKeyBytes + 1, 'k'), "key: 1025 bytes"},
  };
  for (const BadInput& bad : cases) {
    SCOPED_TRACE(bad.description);
    const auto matcher =
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(bad.message_prefix));
    EXPECT_THAT(this->store_->Get(bad.kind, bad.key), matcher);
    EXPECT_THAT(this->store_->Create(bad.kind, bad.key, "v"), matcher);
    EXPECT_THAT(this->store_->Update(bad.kind, bad.key, "v", kAnyRevision), matcher);
    EXPECT_THAT(this->store_->Delete(bad.kind, bad.key, kAnyRevision), matcher);
    if (bad.message_prefix.rfind("kind", 0) == 0) {
      EXPECT_THAT(this->store_->List(bad.kind, {}), matcher);
      EXPECT_THAT(this->store_->ListAll(bad.kind), matcher);
      EXPECT_THAT(this->store_->Count(bad.kind), matcher);
    }
  }
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(0));
}

TYPED_TEST(StoreContractTest, ValidNonAsciiKeysAndLongestKeyAreAccepted) {
  for (const std::string& key : std::vector<std::string>{"ns/caf\xc3\xa9", "\xf0\x9f\x9a\x80",
                                                         std::string(kMaxKeyBytes, 'k')}) {
    EXPECT_THAT(this->store_->Create("recreate", key, "v"), IsOk());
  }
  EXPECT_THAT(this->store_->Create(std::string(kMaxKindBytes, 'k'), "a", "v"), IsOk());
}

TYPED_TEST(StoreContractTest, NegativeExpectedRevisionIsInvalidArgument) {
  ASSERT_OK(this->store_->Create("recreate", "ns/a", "v").status());
  EXPECT_THAT(this->store_->Update("recreate", "ns/a", "w", -1),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("expected_revision: ")));
  EXPECT_THAT(this->store_->Delete("recreate", "ns/a", -1),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("expected_revision: ")));
}

TYPED_TEST(StoreContractTest, BadListOptionsAreInvalidArgumentNamingTheField) {
  const std::vector<std::pair<ListOptions, std::string>> cases = {
      {{"", "", 0}, "limit: must be in [1, 10000], got 0"},
      {{"", "", -3}, "limit: "},
      {{"", "", kMaxListLimit + 1}, "limit: "},
      {{"a\xff", "", 10}, "prefix: not valid UTF-8"},
      {{"", std::string("a\0", 2), 10}, "after_key: contains a NUL byte"},
      {{"", std::string(kMaxKeyBytes + 1, 'k'), 10}, "after_key: 1025 bytes"},
  };
  for (const auto& [options, prefix] : cases) {
    SCOPED_TRACE(prefix);
    EXPECT_THAT(this->store_->List("recreate", options),
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(prefix)));
  }
}

TYPED_TEST(StoreContractTest, ListPagesThroughEveryRecordInKeyOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 25; ++i) keys.push_back(absl::StrCat("ns/pod-", 100 + i));
  std::vector<std::string> shuffled = keys;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
  for (const std::string& key : shuffled)
    ASSERT_OK(this->store_->Create("recreate", key, key).status());
  ASSERT_OK(this->store_->Create("other", "ns/pod-0", "x").status());

  int pages = 0;
  EXPECT_THAT(this->PagedKeys("recreate", "", 10, &pages), ElementsAreArray(keys));
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(this->PagedKeys("recreate", "", 25, &pages), ElementsAreArray(keys));
  EXPECT_EQ(pages, 1) << "a page that holds exactly the rest has no next page";
  EXPECT_THAT(this->PagedKeys("recreate", "", 1, &pages), ElementsAreArray(keys));
  EXPECT_EQ(pages, 25);
  ASSERT_OK_AND_ASSIGN(const auto all, this->store_->ListAll("recreate"));
  EXPECT_THAT(this->Keys(all), ElementsAreArray(keys));
  for (const Record& record : all) EXPECT_EQ(record.value, record.key);
}

TYPED_TEST(StoreContractTest, ListWithPrefixReturnsOnlyMatchingKeys) {
  for (const std::string key : {"a/1", "a/2", "a/3", "a", "ab/1", "b/1", "a0"}) {
    ASSERT_OK(this->store_->Create("recreate", key, "v").status());
  }
  int pages = 0;
  EXPECT_THAT(this->PagedKeys("recreate", "a/", 2, &pages), ElementsAre("a/1", "a/2", "a/3"));
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(this->PagedKeys("recreate", "a", 100, &pages),
              ElementsAre("a", "a/1", "a/2", "a/3", "a0", "ab/1"));
  EXPECT_THAT(this->PagedKeys("recreate", "c/", 100, &pages), IsEmpty());
  EXPECT_THAT(this->PagedKeys("recreate", "b/1", 100, &pages), ElementsAre("b/1"));
}

TYPED_TEST(StoreContractTest, ListStartsStrictlyAfterAfterKeyEvenWhenItIsGone) {
  for (const std::string key : {"a", "b", "c", "d"})
    ASSERT_OK(this->store_->Create("recreate", key, "v").status());
  ASSERT_OK_AND_ASSIGN(auto page, this->store_->List("recreate", {"", "b", 10}));
  EXPECT_THAT(this->Keys(page.records), ElementsAre("c", "d"));
  ASSERT_OK(this->store_->Delete("recreate", "c", kAnyRevision).status());
  ASSERT_OK_AND_ASSIGN(page, this->store_->List("recreate", {"", "bz", 10}));
  EXPECT_THAT(this->Keys(page.records), ElementsAre("d"));
  ASSERT_OK_AND_ASSIGN(page, this->store_->List("recreate", {"", "d", 10}));
  EXPECT_THAT(page.records, IsEmpty());
  EXPECT_EQ(page.next_after_key, "");
  // after_key before the prefix range: the prefix wins.
  ASSERT_OK_AND_ASSIGN(page, this->store_->List("recreate", {"d", "a", 10}));
  EXPECT_THAT(this->Keys(page.records), ElementsAre("d"));
}

TYPED_TEST(StoreContractTest, KeysSortBytewiseSoNonAsciiComesAfterAscii) {
  for (const std::string key : {"\xc3\xa9t\xc3\xa9", "z", "Z", "a"}) {
    ASSERT_OK(this->store_->Create("recreate", key, "v").status());
  }
  ASSERT_OK_AND_ASSIGN(const auto all, this->store_->ListAll("recreate"));
  EXPECT_THAT(this->Keys(all), ElementsAre("Z", "a", "z", "\xc3\xa9t\xc3\xa9"));
  int pages = 0;
  EXPECT_THAT(this->PagedKeys("recreate", "", 1, &pages),
              ElementsAre("Z", "a", "z", "\xc3\xa9t\xc3\xa9"));
}

TYPED_TEST(StoreContractTest, ListOfKindWithoutRecordsIsEmpty) {
  ASSERT_OK_AND_ASSIGN(const auto page, this->store_->List("recreate", {}));
  EXPECT_THAT(page.records, IsEmpty());
  EXPECT_EQ(page.next_after_key, "");
  EXPECT_THAT(this->store_->ListAll("recreate"), IsOkAndHolds(IsEmpty()));
}

TYPED_TEST(StoreContractTest, ApplyWritesABatchInOrderWithConsecutiveRevisions) {
  ASSERT_OK_AND_ASSIGN(const int64_t first, this->store_->Create("recreate", "default/a", "v1"));
  ASSERT_OK_AND_ASSIGN(
      std::vector<WriteResult> results,
      this->store_->Apply({Write::Create("recreate", "default/b", "b1"),
                           Write::Update("recreate", "default/a", "v2", first),
                           Write::Update("recreate", "default/b", "b2"),  // sees the create above
                           Write::Delete("recreate", "default/a")}));
  ASSERT_EQ(results.size(), 4u);
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_THAT(results[i], IsOkAndHolds(first + 1 + static_cast<int64_t>(i))) << i;
  }
  EXPECT_THAT(this->store_->Get("recreate", "default/a"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(const Record b, this->store_->Get("recreate", "default/b"));
  EXPECT_EQ(b, (Record{"recreate", "default/b", "b2", first + 3, first + 1}));
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(first + 4));
}

TYPED_TEST(StoreContractTest, ApplyRefusesEachBadWriteAloneAndKeepsTheOthers) {
  ASSERT_OK_AND_ASSIGN(const int64_t first, this->store_->Create("recreate", "default/a", "v1"));
  ASSERT_OK_AND_ASSIGN(
      std::vector<WriteResult> results,
      this->store_->Apply({Write::Create("recreate", "default/a", "again"),
                           Write::Update("recreate", "default/a", "stale", first + 7),
                           Write::Update("recreate", "default/missing", "x"),
                           Write::Create("recreate", "", "empty key"),
                           Write::Update("recreate", "default/a", "v2")}));
  ASSERT_EQ(results.size(), 5u);
  EXPECT_THAT(results[0], StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("default/a")));
  EXPECT_THAT(results[1], StatusIs(absl::StatusCode::kAborted, HasSubstr("expected")));
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kNotFound, HasSubstr("default/missing")));
  EXPECT_THAT(results[3], StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("key")));
  // Refused writes take no revision.
  EXPECT_THAT(results[4], IsOkAndHolds(first + 1));
  ASSERT_OK_AND_ASSIGN(const Record a, this->store_->Get("recreate", "default/a"));
  EXPECT_EQ(a.value, "v2");
  EXPECT_THAT(this->store_->Count("recreate"), IsOkAndHolds(1));
}

TYPED_TEST(StoreContractTest, ApplyOfNoWritesChangesNothing) {
  ASSERT_OK_AND_ASSIGN(std::vector<WriteResult> results, this->store_->Apply({}));
  EXPECT_THAT(results, IsEmpty());
  EXPECT_THAT(this->store_->CurrentRevision(), IsOkAndHolds(0));
}

TYPED_TEST(StoreContractTest, ConcurrentReadModifyWriteWithRevisionsLosesNoIncrement) {
  ASSERT_OK(this->store_->Create("counter", "c", "0").status());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 15;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kIncrements;) {
        auto record = this->store_->Get("counter", "c");
        ASSERT_THAT(record, IsOk());
        const std::string next = std::to_string(std::stoi(record->value) + 1);
        auto updated = this->store_->Update("counter", "c", next, record->revision);
        if (updated.ok()) {
          ++i;
        } else {
          ASSERT_THAT(updated, StatusIs(absl::StatusCode::kAborted));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(
      this->store_->Get("counter", "c"),
      IsOkAndHolds(::testing::Field(&Record::value, std::to_string(kThreads * kIncrements))));
}

}  // namespace
}  // namespace inplaced::store
