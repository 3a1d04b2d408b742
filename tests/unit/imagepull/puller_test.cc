#include "imagepull/puller.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/pull_backoff.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/flaky_store.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/imagepull/nodeimage_specs.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using specs::AddImage;
using specs::TagOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

const api::ImageTagStatus* FindTag(const api::NodeImage& node, const std::string& image,
                                   const std::string& tag) {
  for (const api::ImageStatus& i : node.status().images()) {
    if (i.name() != image) continue;
    for (const api::ImageTagStatus& t : i.tags()) {
      if (t.tag() == tag) return &t;
    }
  }
  return nullptr;
}

bool AllFinished(const api::NodeImage& node, int running) {
  return running == 0 &&
         node.status().succeeded() + node.status().failed() == node.status().desired();
}

class FailingPrecheck final : public PullPrecheck {
 public:
  absl::Status Check(const ImageReference&, const std::vector<RegistryCredential>&) override {
    return absl::ResourceExhaustedError("not enough disk space: need 2 GiB, 1 GiB free");
  }
};

class PullerTest : public ::testing::Test {
 protected:
  void MakePuller(PullerOptions options = {}, PullPrecheck* precheck = nullptr) {
    puller_.reset();
    ASSERT_OK_AND_ASSIGN(puller_, ImagePuller::Create(runtime_, clock_, store_, precheck, options));
  }

  // SetNodeImage at the current generation.
  api::NodeImage Set(const api::NodeImageSpec& spec) {
    api::SetNodeImageRequest request;
    *request.mutable_spec() = spec;
    request.set_expected_generation(puller_->GetNodeImage().metadata().generation());
    absl::StatusOr<api::NodeImage> result = puller_->SetNodeImage(request);
    EXPECT_THAT(result, IsOk());
    return result.ok() ? *result : api::NodeImage();
  }

  api::ImageTagStatus Tag(const std::string& image, const std::string& tag) {
    const api::NodeImage node = puller_->GetNodeImage();
    const api::ImageTagStatus* found = FindTag(node, image, tag);
    EXPECT_NE(found, nullptr) << image << ":" << tag;
    return found != nullptr ? *found : api::ImageTagStatus();
  }

  void AwaitAllFinished() { puller_->AwaitState(AllFinished); }
  void AwaitIdle() {
    puller_->AwaitState([](const api::NodeImage&, int running) { return running == 0; });
  }
  void AwaitAttempts(const std::string& image, const std::string& tag, int attempts) {
    puller_->AwaitState([&](const api::NodeImage& node, int running) {
      const api::ImageTagStatus* t = FindTag(node, image, tag);
      return running == 0 && t != nullptr && t->attempts() == attempts;
    });
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_{clock_};
  fakes::MemoryStore store_;
  std::unique_ptr<ImagePuller> puller_;  // destroyed first: it cancels pulls on the runtime
};

TEST_F(PullerTest, RejectsABadConcurrencyLimit) {
  PullerOptions options;
  options.max_concurrent_pulls = 0;
  EXPECT_THAT(ImagePuller::Create(runtime_, clock_, store_, nullptr, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_concurrent_pulls")));
}

TEST_F(PullerTest, FiftyTagsNeverExceedTheDefaultLimitOfThree) {
  MakePuller();  // default limit: 3
  std::vector<std::string> tags;
  for (int i = 0; i < 50; ++i) {
    tags.push_back(absl::StrCat("t", i));
    fakes::PullScript script;
    script.duration = absl::Seconds(1);
    runtime_.SetPullScript(absl::StrCat("reg.io/app:t", i), script);
  }
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/app", tags);
  const api::NodeImage set = Set(spec);
  EXPECT_EQ(set.status().desired(), 50);
  EXPECT_EQ(set.status().pulling(), 3);
  EXPECT_EQ(set.status().waiting(), 47);
  // Tags waiting for a slot are woken by completions, not by time: the loop must not spin on them.
  EXPECT_EQ(puller_->NextWakeTime(), clock_.Now() + absl::Seconds(600));

  // Each round, the three pulls in flight finish and the next three start.
  for (int remaining = 50; remaining > 0; remaining -= 3) {
    clock_.WaitForSleepers(std::min(3, remaining));
    EXPECT_LE(runtime_.InFlightPulls(), 3);
    clock_.Advance(absl::Seconds(1));
  }
  AwaitAllFinished();
  EXPECT_EQ(runtime_.MaxConcurrentPulls(), 3);
  EXPECT_EQ(runtime_.Pulls().size(), 50u);
  EXPECT_EQ(puller_->GetNodeImage().status().succeeded(), 50);
}

TEST_F(PullerTest, ConfiguredLimitIsHonoured) {
  PullerOptions options;
  options.max_concurrent_pulls = 1;
  MakePuller(options);
  fakes::PullScript slow;
  slow.duration = absl::Seconds(1);
  runtime_.SetPullScript("reg.io/a:1", slow);
  runtime_.SetPullScript("reg.io/a:2", slow);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1", "2"});
  Set(spec);
  clock_.WaitForSleepers(1);
  EXPECT_EQ(Tag("reg.io/a", "2").phase(), api::IMAGE_PULL_PHASE_WAITING);
  clock_.Advance(absl::Seconds(1));
  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(1));
  AwaitAllFinished();
  EXPECT_EQ(runtime_.MaxConcurrentPulls(), 1);
}

TEST_F(PullerTest, SlotsGoRoundRobinAcrossImages) {
  PullerOptions options;
  options.max_concurrent_pulls = 1;
  MakePuller(options);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/big", {"1", "2", "3", "4"});
  AddImage(spec, "reg.io/mid", {"1", "2"});
  AddImage(spec, "reg.io/small", {"1"});
  Set(spec);
  AwaitAllFinished();
  std::vector<std::string> order;
  for (const fakes::PullRecord& pull : runtime_.Pulls()) order.push_back(pull.image);
  EXPECT_THAT(order, ElementsAre("reg.io/big:1", "reg.io/mid:1", "reg.io/small:1", "reg.io/big:2",
                                 "reg.io/mid:2", "reg.io/big:3", "reg.io/big:4"));
}

TEST_F(PullerTest, RetriesWithDoublingBackoffUpToTheLimit) {
  MakePuller();
  fakes::PullScript missing;
  missing.failure = absl::NotFoundError("manifest unknown");
  runtime_.SetPullScript("reg.io/gone:1", missing);
  api::NodeImageSpec spec;
  TagOptions options;
  options.backoff_limit = 3;
  AddImage(spec, "reg.io/gone", {"1"}, options);
  Set(spec);

  std::vector<int64_t> waits;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    AwaitAttempts("reg.io/gone", "1", attempt);
    const api::ImageTagStatus status = Tag("reg.io/gone", "1");
    EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_PULLING);  // stays PULLING between attempts
    EXPECT_THAT(status.message(), HasSubstr("NOT_FOUND"));
    const absl::Duration wait = puller_->NextWakeTime() - clock_.Now();
    waits.push_back(absl::ToInt64Seconds(wait));
    // Not a moment early.
    clock_.Advance(wait - absl::Milliseconds(1));
    puller_->Tick();
    EXPECT_EQ(runtime_.Pulls().size(), static_cast<size_t>(attempt));
    clock_.Advance(absl::Milliseconds(1));
    puller_->Tick();
  }
  AwaitAllFinished();
  EXPECT_THAT(waits, ElementsAre(1, 2, 4));
  const api::ImageTagStatus status = Tag("reg.io/gone", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_EQ(status.attempts(), 4);
  EXPECT_THAT(status.message(), StartsWith("failed after 4 attempts: NOT_FOUND"));
  EXPECT_TRUE(status.has_completion_time());
  EXPECT_EQ(runtime_.Pulls().size(), 4u);
  EXPECT_EQ(puller_->NextWakeTime(), absl::InfiniteFuture());
}

TEST_F(PullerTest, ARuntimeThatDoesNotAnswerDoesNotUseUpTheRetries) {
  MakePuller();
  // containerd restarting: the pull and the Version probe both find no runtime.
  runtime_.InjectError("PullImage", absl::UnavailableError("PullImage: connection refused"));
  runtime_.InjectError("Version", absl::UnavailableError("Version: connection refused"));
  api::NodeImageSpec spec;
  TagOptions once;
  once.backoff_limit = 0;
  AddImage(spec, "reg.io/app", {"1"}, once);
  Set(spec);

  AwaitAttempts("reg.io/app", "1", 1);
  api::ImageTagStatus status = Tag("reg.io/app", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_THAT(status.message(), HasSubstr("waiting for the container runtime"));
  EXPECT_EQ(puller_->NextWakeTime() - clock_.Now(), kRuntimeUnreachableRetry);

  clock_.Advance(kRuntimeUnreachableRetry);
  puller_->Tick();
  AwaitAllFinished();
  status = Tag("reg.io/app", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_SUCCEEDED) << status.DebugString();
  EXPECT_EQ(status.attempts(), 2);
}

TEST_F(PullerTest, UnavailableFromTheRegistryCountsAsAFailedAttempt) {
  MakePuller();
  // The runtime answers Version: the UNAVAILABLE came from behind it.
  runtime_.InjectError(
      "PullImage", absl::UnavailableError("failed to resolve reference: 503 Service Unavailable"));
  api::NodeImageSpec spec;
  TagOptions once;
  once.backoff_limit = 0;
  AddImage(spec, "reg.io/app", {"1"}, once);
  Set(spec);
  AwaitAllFinished();
  const api::ImageTagStatus status = Tag("reg.io/app", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(), HasSubstr("503 Service Unavailable"));
}

TEST_F(PullerTest, AttemptTimeoutCancelsTheCriCallAndRetries) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/stuck:1", hang);
  api::NodeImageSpec spec;
  TagOptions options;
  options.timeout_seconds = 10;
  options.backoff_limit = 1;
  AddImage(spec, "reg.io/stuck", {"1"}, options);
  Set(spec);

  clock_.WaitForSleepers(1);
  EXPECT_EQ(runtime_.InFlightPulls(), 1);
  clock_.Advance(absl::Seconds(9));
  puller_->Tick();
  EXPECT_EQ(runtime_.InFlightPulls(), 1);  // not yet
  clock_.Advance(absl::Seconds(1));
  puller_->Tick();
  AwaitIdle();  // the cancelled CRI call returned
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
  api::ImageTagStatus status = Tag("reg.io/stuck", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_THAT(status.message(), HasSubstr("timed out after 10s"));

  clock_.Advance(absl::Seconds(1));  // backoff
  puller_->Tick();
  clock_.WaitForSleepers(1);
  EXPECT_EQ(runtime_.Pulls().size(), 2u);
  clock_.Advance(absl::Seconds(10));
  puller_->Tick();
  AwaitAllFinished();
  status = Tag("reg.io/stuck", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(), HasSubstr("failed after 2 attempts: DEADLINE_EXCEEDED"));
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
}

TEST_F(PullerTest, ActiveDeadlineCancelsAHangingAttempt) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/stuck:1", hang);
  api::NodeImageSpec spec;
  TagOptions options;
  options.deadline_seconds = 30;  // shorter than the 600 s attempt timeout
  AddImage(spec, "reg.io/stuck", {"1"}, options);
  Set(spec);
  clock_.WaitForSleepers(1);
  EXPECT_EQ(puller_->NextWakeTime(), clock_.Now() + absl::Seconds(30));
  clock_.Advance(absl::Seconds(30));
  puller_->Tick();
  AwaitAllFinished();
  const api::ImageTagStatus status = Tag("reg.io/stuck", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(), HasSubstr("pull exceeded active_deadline_seconds (30s)"));
  EXPECT_EQ(status.attempts(), 1);
}

TEST_F(PullerTest, ActiveDeadlineSpansRetries) {
  MakePuller();
  fakes::PullScript failing;
  failing.failure = absl::UnavailableError("connection refused");
  runtime_.SetPullScript("reg.io/flaky:1", failing);
  api::NodeImageSpec spec;
  TagOptions options;
  options.backoff_limit = 10;
  options.deadline_seconds = 3;
  AddImage(spec, "reg.io/flaky", {"1"}, options);
  Set(spec);
  AwaitAttempts("reg.io/flaky", "1", 1);
  clock_.Advance(absl::Seconds(1));  // t=1: attempt 2
  puller_->Tick();
  AwaitAttempts("reg.io/flaky", "1", 2);
  clock_.Advance(absl::Seconds(2));  // t=3: the deadline, before attempt 3
  puller_->Tick();
  AwaitAllFinished();
  const api::ImageTagStatus status = Tag("reg.io/flaky", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(),
              StartsWith("pull exceeded active_deadline_seconds (3s); last error: UNAVAILABLE"));
  EXPECT_EQ(runtime_.Pulls().size(), 2u);
}

TEST_F(PullerTest, TtlRemovesAFinishedTagFromSpecAndStatus) {
  MakePuller();
  api::NodeImageSpec spec;
  TagOptions short_ttl;
  short_ttl.ttl_seconds = 60;
  AddImage(spec, "reg.io/a", {"1"}, short_ttl);
  AddImage(spec, "reg.io/b", {"1"});  // no TTL: kept
  const int64_t generation = Set(spec).metadata().generation();
  AwaitAllFinished();
  clock_.Advance(absl::Seconds(59));
  puller_->Tick();
  EXPECT_EQ(puller_->GetNodeImage().status().desired(), 2);
  clock_.Advance(absl::Seconds(1));
  puller_->Tick();
  const api::NodeImage node = puller_->GetNodeImage();
  EXPECT_EQ(node.status().desired(), 1);
  EXPECT_EQ(node.status().succeeded(), 1);
  ASSERT_EQ(node.spec().images_size(), 1);
  EXPECT_EQ(node.spec().images(0).name(), "reg.io/b");
  EXPECT_EQ(FindTag(node, "reg.io/a", "1"), nullptr);
  EXPECT_EQ(node.metadata().generation(), generation + 1);
}

TEST_F(PullerTest, NewVersionRestartsAnInFlightPull) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/app:1", hang);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/app", {"1"});
  Set(spec);
  clock_.WaitForSleepers(1);

  runtime_.SetPullScript("reg.io/app:1", fakes::PullScript());  // the next pull succeeds at once
  api::NodeImageSpec bumped;
  TagOptions v1;
  v1.version = 1;
  AddImage(bumped, "reg.io/app", {"1"}, v1);
  Set(bumped);
  AwaitAllFinished();
  const api::ImageTagStatus status = Tag("reg.io/app", "1");
  EXPECT_EQ(status.version(), 1);
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
  EXPECT_EQ(status.attempts(), 1);
  EXPECT_EQ(runtime_.Pulls().size(), 2u);
  EXPECT_EQ(runtime_.InFlightPulls(), 0);  // the first call was cancelled, not left running
}

TEST_F(PullerTest, NewVersionPullsAFinishedTagAgain) {
  MakePuller();
  api::NodeImageSpec spec;
  TagOptions always;
  always.always = true;
  AddImage(spec, "reg.io/app", {"latest"}, always);
  Set(spec);
  AwaitAllFinished();
  // The same spec again changes nothing.
  Set(spec);
  AwaitAllFinished();
  EXPECT_EQ(runtime_.Pulls().size(), 1u);
  spec.mutable_images(0)->mutable_tags(0)->set_version(1);
  Set(spec);
  AwaitAllFinished();
  EXPECT_EQ(runtime_.Pulls().size(), 2u);
  EXPECT_EQ(Tag("reg.io/app", "latest").version(), 1);
}

TEST_F(PullerTest, RemovingATagCancelsItsInFlightPull) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/app:1", hang);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/app", {"1"});
  AddImage(spec, "reg.io/other", {"1"});
  Set(spec);
  clock_.WaitForSleepers(1);
  puller_->AwaitState([](const api::NodeImage& node, int running) {
    return node.status().succeeded() == 1 && running == 1;
  });

  api::NodeImageSpec remaining;
  AddImage(remaining, "reg.io/other", {"1"});
  const api::NodeImage node = Set(remaining);
  EXPECT_EQ(node.status().desired(), 1);
  EXPECT_EQ(FindTag(node, "reg.io/app", "1"), nullptr);
  AwaitIdle();  // would never return if the hanging CRI call were not cancelled
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
  EXPECT_EQ(runtime_.Pulls().size(), 2u);
}

TEST_F(PullerTest, IfNotPresentSucceedsWithoutPullingAPresentImage) {
  MakePuller();
  runtime_.AddImage("reg.io/app:1");
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/app", {"1"});
  Set(spec);
  AwaitAllFinished();
  const api::ImageTagStatus status = Tag("reg.io/app", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
  EXPECT_EQ(status.progress(), 100);
  EXPECT_EQ(status.message(), "image already present");
  EXPECT_THAT(status.image_id(), StartsWith("reg.io/app@sha256:"));
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

TEST_F(PullerTest, DuplicateReferencesPullOnce) {
  MakePuller();
  fakes::PullScript slow;
  slow.duration = absl::Seconds(5);
  runtime_.SetPullScript("nginx:1.25", slow);
  api::NodeImageSpec spec;
  AddImage(spec, "nginx", {"1.25"});
  AddImage(spec, "docker.io/library/nginx", {"1.25"});
  const api::NodeImage set = Set(spec);
  EXPECT_EQ(set.status().pulling(), 2);
  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(5));
  AwaitAllFinished();
  EXPECT_EQ(runtime_.Pulls().size(), 1u);
  EXPECT_EQ(puller_->GetNodeImage().status().succeeded(), 2);
  EXPECT_EQ(Tag("nginx", "1.25").image_id(), Tag("docker.io/library/nginx", "1.25").image_id());
}

TEST_F(PullerTest, SharedPullSurvivesTheRemovalOfOneOfItsTags) {
  MakePuller();
  fakes::PullScript slow;
  slow.duration = absl::Seconds(5);
  runtime_.SetPullScript("nginx:1.25", slow);
  api::NodeImageSpec spec;
  AddImage(spec, "nginx", {"1.25"});
  AddImage(spec, "docker.io/library/nginx", {"1.25"});
  Set(spec);
  clock_.WaitForSleepers(1);
  api::NodeImageSpec one;
  AddImage(one, "docker.io/library/nginx", {"1.25"});
  Set(one);
  clock_.Advance(absl::Seconds(5));
  AwaitAllFinished();
  EXPECT_EQ(runtime_.Pulls().size(), 1u);
  EXPECT_EQ(Tag("docker.io/library/nginx", "1.25").phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
}

TEST_F(PullerTest, CredentialsAreTriedMostSpecificFirstThenAnonymous) {
  MakePuller();
  // Nobody has the credential the registry wants: every credential, then anonymous, gets a 401.
  fakes::PullScript locked;
  locked.required_auth.emplace();
  locked.required_auth->set_username("root");
  locked.required_auth->set_password("unknown");
  runtime_.SetPullScript("reg.io/team/app:1", locked);
  api::NodeImageSpec spec;
  TagOptions always;
  always.backoff_limit = 0;
  always.always = true;
  api::ImageSpec* image = AddImage(spec, "reg.io/team/app", {"1"}, always);
  image->add_pull_secrets(
      absl::StrCat(R"({"auths":{"reg.io":{"username":"wide","password":"pw1"}}})"));
  image->add_pull_secrets(
      absl::StrCat(R"({"auths":{"reg.io/team":{"username":"narrow","password":"pw2"},)",
                   R"("other.io":{"username":"unrelated","password":"pw3"}}})"));
  Set(spec);
  AwaitAllFinished();
  std::vector<std::string> users;
  for (const fakes::PullRecord& pull : runtime_.Pulls()) users.push_back(pull.auth.username());
  EXPECT_THAT(users, ElementsAre("narrow", "wide", ""));
  const api::ImageTagStatus status = Tag("reg.io/team/app", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(), HasSubstr("credential 1 of 2 (registry \"reg.io/team\")"));
  EXPECT_THAT(status.message(), HasSubstr("anonymous pull:"));
}

TEST_F(PullerTest, SecretsNeverAppearInStatusMessagesOrNotifications) {
  MakePuller();
  const std::string password = "pw-very-secret-123";
  const std::string auth = absl::Base64Escape("alice:" + password);
  fakes::PullScript locked;
  locked.required_auth.emplace();
  locked.required_auth->set_username("root");
  locked.required_auth->set_password("other");
  runtime_.SetPullScript("reg.io/private:1", locked);
  // A runtime echoing the credential in its error.
  runtime_.InjectError(
      "PullImage", absl::PermissionDeniedError(absl::StrCat("denied for ", auth, " / ", password)));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch<api::NodeImage>> watch,
                       puller_->Watch(api::WatchNodeImageRequest()));
  api::NodeImageSpec spec;
  TagOptions once;
  once.backoff_limit = 0;
  api::ImageSpec* image = AddImage(spec, "reg.io/private", {"1"}, once);
  image->add_pull_secrets(absl::StrCat(R"({"auths":{"reg.io":{"auth":")", auth, R"("}}})"));
  const api::NodeImage set = Set(spec);
  AwaitAllFinished();
  // What the watch got, up to the final state.
  std::vector<std::string> notified;
  WatchEvent<api::NodeImage> event;
  while (watch->Next(&event)) {
    notified.push_back(event.object->DebugString());
    if (event.object->status().failed() == 1) break;
  }

  const api::NodeImage node = puller_->GetNodeImage();
  const api::ImageTagStatus status = Tag("reg.io/private", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(), HasSubstr("401 Unauthorized"));
  EXPECT_THAT(status.message(), HasSubstr("<redacted>"));
  EXPECT_EQ(node.spec().images(0).pull_secrets_size(), 0);
  EXPECT_EQ(node.spec().images(0).pull_secret_count(), 1);
  for (const std::string& text : {node.DebugString(), set.DebugString()}) {
    EXPECT_THAT(text, Not(HasSubstr(password)));
    EXPECT_THAT(text, Not(HasSubstr(auth)));
  }
  ASSERT_FALSE(notified.empty());
  for (const std::string& text : notified) {
    EXPECT_THAT(text, Not(HasSubstr(password)));
    EXPECT_THAT(text, Not(HasSubstr(auth)));
  }
}

TEST_F(PullerTest, StaleSetNodeImageIsAborted) {
  MakePuller();
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1"});
  api::SetNodeImageRequest request;
  *request.mutable_spec() = spec;
  request.set_expected_generation(0);
  ASSERT_OK_AND_ASSIGN(const api::NodeImage first, puller_->SetNodeImage(request));
  EXPECT_EQ(first.metadata().generation(), 1);
  // A second writer that also read generation 0.
  EXPECT_THAT(puller_->SetNodeImage(request),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("generation 1, got 0")));
  request.set_force(true);
  ASSERT_OK_AND_ASSIGN(const api::NodeImage forced, puller_->SetNodeImage(request));
  EXPECT_EQ(forced.metadata().generation(), 2);
  request.set_force(false);
  request.set_expected_generation(2);
  EXPECT_THAT(puller_->SetNodeImage(request), IsOk());
}

TEST_F(PullerTest, InvalidSpecChangesNothing) {
  MakePuller();
  api::SetNodeImageRequest request;
  AddImage(*request.mutable_spec(), "reg.io/a", {"1", "1"});
  EXPECT_THAT(puller_->SetNodeImage(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("spec.images[0].tags[1].tag: duplicate")));
  EXPECT_EQ(puller_->GetNodeImage().metadata().generation(), 0);
}

TEST_F(PullerTest, DefaultsAreStoredExplicitly) {
  MakePuller();
  api::SetNodeImageRequest request;
  api::ImageSpec* image = request.mutable_spec()->add_images();
  image->set_name("reg.io/a");
  image->add_tags()->set_tag("1");
  ASSERT_OK_AND_ASSIGN(const api::NodeImage node, puller_->SetNodeImage(request));
  const api::ImageTagSpec& tag = node.spec().images(0).tags(0);
  EXPECT_EQ(tag.pull_policy().timeout_seconds(), 600);
  EXPECT_EQ(tag.pull_policy().backoff_limit(), 3);
  EXPECT_EQ(tag.image_pull_policy(), api::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
  EXPECT_EQ(tag.created_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
}

TEST_F(PullerTest, ResumesUnfinishedPullsAfterARestart) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/slow:1", hang);
  api::NodeImageSpec spec;
  TagOptions always;
  always.always = true;
  AddImage(spec, "reg.io/fast", {"1"}, always);
  AddImage(spec, "reg.io/slow", {"1"}, always);
  Set(spec);
  clock_.WaitForSleepers(1);
  puller_->AwaitState(
      [](const api::NodeImage& node, int) { return node.status().succeeded() == 1; });
  const api::ImageTagStatus fast_before = Tag("reg.io/fast", "1");

  puller_.reset();  // the daemon stops; the hanging pull is cancelled
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
  runtime_.SetPullScript("reg.io/slow:1", fakes::PullScript());
  MakePuller();
  AwaitAllFinished();
  const api::NodeImage node = puller_->GetNodeImage();
  EXPECT_EQ(node.metadata().generation(), 1);
  EXPECT_EQ(node.status().succeeded(), 2);
  // The finished tag is kept as it was, not pulled again; the unfinished one started over.
  EXPECT_EQ(Tag("reg.io/fast", "1").completion_time().seconds(),
            fast_before.completion_time().seconds());
  int fast_pulls = 0;
  int slow_pulls = 0;
  for (const fakes::PullRecord& pull : runtime_.Pulls()) {
    fast_pulls += pull.image == "reg.io/fast:1";
    slow_pulls += pull.image == "reg.io/slow:1";
  }
  EXPECT_EQ(fast_pulls, 1);
  EXPECT_EQ(slow_pulls, 2);
  EXPECT_EQ(Tag("reg.io/slow", "1").attempts(), 1);
}

TEST_F(PullerTest, AnAcceptedAdHocPullSurvivesARestart) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/adhoc:1", hang);
  api::PullImageRequest request;
  request.set_image("reg.io/adhoc:1");
  request.set_image_pull_policy(api::IMAGE_PULL_POLICY_ALWAYS);
  request.add_pull_secrets(R"({"auths":{"reg.io":{"username":"u","password":"hunter2"}}})");
  ASSERT_OK(puller_->PullImage(request).status());
  // Durable before PullImage answered: the request, secrets included, is in the store.
  ASSERT_OK_AND_ASSIGN(const store::Record stored,
                       store_.Get(kAdHocPullStoreKind, "reg.io/adhoc:1"));
  api::PullImageRequest stored_request;
  ASSERT_TRUE(stored_request.ParseFromString(stored.value));
  EXPECT_EQ(stored_request.pull_secrets_size(), 1);
  clock_.WaitForSleepers(1);  // the CRI pull is in flight

  puller_.reset();  // the daemon stops; the hanging pull is cancelled
  runtime_.SetPullScript("reg.io/adhoc:1", fakes::PullScript());
  MakePuller();
  puller_->AwaitState([](const api::NodeImage& node, int running) {
    return running == 0 && node.status().ad_hoc_pulls_size() == 1 &&
           node.status().ad_hoc_pulls(0).status().phase() == api::IMAGE_PULL_PHASE_SUCCEEDED;
  });
  ASSERT_OK_AND_ASSIGN(const api::AdHocPullStatus after, puller_->GetAdHocPull("reg.io/adhoc:1"));
  EXPECT_EQ(after.status().attempts(), 1) << "started again after the restart";
  const std::vector<fakes::PullRecord> pulls = runtime_.Pulls();
  ASSERT_EQ(pulls.size(), 2u);
  EXPECT_EQ(pulls[1].image, "reg.io/adhoc:1");
  EXPECT_EQ(pulls[1].auth.password(), "hunter2") << "with the stored secret";
  // Finished: the request record is gone, the final status stays in the NodeImage record, and a
  // second restart pulls nothing.
  puller_->FlushWrites();
  EXPECT_THAT(store_.Get(kAdHocPullStoreKind, "reg.io/adhoc:1"),
              StatusIs(absl::StatusCode::kNotFound));
  MakePuller();
  AwaitIdle();
  EXPECT_EQ(runtime_.Pulls().size(), 2u);
  ASSERT_OK_AND_ASSIGN(const api::AdHocPullStatus again, puller_->GetAdHocPull("reg.io/adhoc:1"));
  EXPECT_EQ(again.status().phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
}

TEST_F(PullerTest, PrecheckFailureFailsTheTagWithItsMessage) {
  FailingPrecheck precheck;
  MakePuller({}, &precheck);
  api::NodeImageSpec spec;
  TagOptions once;
  once.backoff_limit = 0;
  AddImage(spec, "reg.io/huge", {"1"}, once);
  Set(spec);
  AwaitAllFinished();
  const api::ImageTagStatus status = Tag("reg.io/huge", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status.message(), HasSubstr("RESOURCE_EXHAUSTED: not enough disk space"));
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

TEST_F(PullerTest, AdHocPullIsReportedOutsideTheCounts) {
  MakePuller();
  fakes::PullScript slow;
  slow.duration = absl::Seconds(2);
  runtime_.SetPullScript("busybox:1.36", slow);
  api::PullImageRequest request;
  request.set_image("busybox:1.36");
  ASSERT_OK_AND_ASSIGN(const api::AdHocPullStatus started, puller_->PullImage(request));
  EXPECT_EQ(started.status().tag(), "1.36");
  EXPECT_EQ(started.status().phase(), api::IMAGE_PULL_PHASE_PULLING);
  clock_.WaitForSleepers(1);
  // A second request for the same reference joins the first.
  ASSERT_OK_AND_ASSIGN(const api::AdHocPullStatus again, puller_->PullImage(request));
  EXPECT_EQ(again.status().phase(), api::IMAGE_PULL_PHASE_PULLING);
  clock_.Advance(absl::Seconds(2));
  puller_->AwaitState([](const api::NodeImage& node, int running) {
    return running == 0 && node.status().ad_hoc_pulls_size() == 1 &&
           node.status().ad_hoc_pulls(0).status().phase() == api::IMAGE_PULL_PHASE_SUCCEEDED;
  });
  EXPECT_EQ(runtime_.Pulls().size(), 1u);
  EXPECT_EQ(puller_->GetNodeImage().status().desired(), 0);
  ASSERT_OK_AND_ASSIGN(const api::AdHocPullStatus done, puller_->GetAdHocPull("busybox:1.36"));
  EXPECT_THAT(done.status().image_id(), StartsWith("docker.io/library/busybox@sha256:"));
  // Dropped after its TTL (default 3600 s).
  clock_.Advance(absl::Seconds(3600));
  puller_->Tick();
  EXPECT_THAT(puller_->GetAdHocPull("busybox:1.36"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PullerTest, WatchersSeeIncreasingResourceVersionsUntilThePullerGoes) {
  MakePuller();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch<api::NodeImage>> watch,
                       puller_->Watch(api::WatchNodeImageRequest()));
  WatchEvent<api::NodeImage> event;
  ASSERT_TRUE(watch->Next(&event));  // the initial state
  std::vector<uint64_t> versions = {event.object->metadata().resource_version()};
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1"});
  Set(spec);
  // The changes after it (coalesced for a slow reader), up to the one that reports the success.
  bool saw_success = false;
  while (!saw_success && watch->Next(&event)) {
    versions.push_back(event.object->metadata().resource_version());
    saw_success = event.object->status().succeeded() == 1;
  }
  ASSERT_GE(versions.size(), 2u);  // the initial state, then the success
  for (size_t i = 1; i < versions.size(); ++i) EXPECT_LT(versions[i - 1], versions[i]);

  puller_.reset();
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(PullerTest, BackgroundLoopRunsTheTimeDrivenSteps) {
  PullerOptions options;
  options.max_tick_interval = absl::Milliseconds(5);  // the loop re-reads the fake time this often
  MakePuller(options);
  fakes::PullScript failing;
  failing.failure = absl::UnavailableError("connection refused");
  runtime_.SetPullScript("reg.io/flaky:1", failing);
  api::NodeImageSpec spec;
  TagOptions options_once;
  options_once.backoff_limit = 1;
  AddImage(spec, "reg.io/flaky", {"1"}, options_once);
  puller_->Start();
  puller_->Start();  // idempotent
  Set(spec);
  AwaitAttempts("reg.io/flaky", "1", 1);
  clock_.Advance(absl::Seconds(1));  // no Tick() here: the loop starts the retry
  AwaitAllFinished();
  EXPECT_EQ(Tag("reg.io/flaky", "1").attempts(), 2);
  puller_->Shutdown();
  puller_->Shutdown();  // idempotent
}

TEST_F(PullerTest, ShutdownCancelsPullsEndsWaitsAndWatchesAndRefusesLaterCalls) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("reg.io/a:1", hang);
  api::PullImageRequest request;
  request.set_image("reg.io/a:1");
  ASSERT_THAT(puller_->PullImage(request), IsOk());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch<api::NodeImage>> watch,
                       puller_->Watch(api::WatchNodeImageRequest()));
  absl::StatusOr<api::AdHocPullStatus> waited;
  std::thread waiter([&] { waited = puller_->WaitAdHocPull("reg.io/a:1", nullptr); });

  puller_->Shutdown();
  waiter.join();
  EXPECT_THAT(waited, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(runtime_.InFlightPulls(), 0) << "the hanging pull was cancelled and waited for";
  WatchEvent<api::NodeImage> event;
  while (watch->Next(&event)) {
  }
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(puller_->PullImage(request), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(puller_->SetNodeImage(api::SetNodeImageRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
}

// A puller over a store whose writes can be made to fail, answering after 50 ms without them.
class PullerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PullerOptions options;
    options.store_write_timeout = absl::Milliseconds(50);
    ASSERT_OK_AND_ASSIGN(puller_, ImagePuller::Create(runtime_, clock_, store_, nullptr, options));
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_{clock_};
  fakes::FlakyStore store_;
  std::unique_ptr<ImagePuller> puller_;
};

TEST_F(PullerStoreTest, ASpecIsPulledOnlyOnceDurableAndAFailingStoreLosesNothing) {
  api::SetNodeImageRequest request;
  TagOptions always;  // so that a second pull after the restart would show
  always.always = true;
  AddImage(*request.mutable_spec(), "reg.io/a", {"1"}, always);
  store_.fail_writes = true;
  EXPECT_THAT(puller_->SetNodeImage(request),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("it is retried")));
  // Kept in memory and retried, but nothing acts on it before it is durable.
  EXPECT_EQ(puller_->GetNodeImage().metadata().generation(), 1);
  absl::SleepFor(absl::Milliseconds(100));  // the committer retries meanwhile
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);

  store_.fail_writes = false;
  puller_->AwaitState(AllFinished);
  EXPECT_EQ(runtime_.CallCount("PullImage"), 1);
  // The record holds the final status, so a restart does not pull again.
  puller_.reset();
  ASSERT_OK_AND_ASSIGN(puller_, ImagePuller::Create(runtime_, clock_, store_, nullptr));
  puller_->AwaitState(AllFinished);
  EXPECT_EQ(puller_->GetNodeImage().metadata().generation(), 1);
  EXPECT_EQ(puller_->GetNodeImage().status().succeeded(), 1);
  EXPECT_EQ(runtime_.CallCount("PullImage"), 1);
}

TEST_F(PullerStoreTest,
       AnAdHocPullStartsOnlyOnceItsRequestIsDurableAndItsRecordGoesOnceItFinished) {
  api::PullImageRequest request;
  request.set_image("reg.io/adhoc:1");
  store_.fail_writes = true;
  EXPECT_THAT(puller_->PullImage(request), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
  store_.fail_writes = false;
  puller_->AwaitState([](const api::NodeImage& node, int running) {
    return running == 0 && node.status().ad_hoc_pulls_size() == 1 &&
           node.status().ad_hoc_pulls(0).status().phase() == api::IMAGE_PULL_PHASE_SUCCEEDED;
  });
  puller_->FlushWrites();
  EXPECT_EQ(runtime_.CallCount("PullImage"), 1);
  // The request record: written, then deleted once the final status was written.
  EXPECT_THAT(store_.ValuesWritten("reg.io/adhoc:1"), ElementsAre(Not(IsEmpty()), IsEmpty()));
  EXPECT_THAT(store_.Get(kAdHocPullStoreKind, "reg.io/adhoc:1"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PullerTest, WaitAdHocPullReturnsTheFinalStatusOrStopsOnCancel) {
  MakePuller();
  fakes::PullScript slow;
  slow.duration = absl::Seconds(3);
  runtime_.SetPullScript("reg.io/a:1", slow);
  EXPECT_THAT(puller_->WaitAdHocPull("reg.io/a:1", nullptr), StatusIs(absl::StatusCode::kNotFound));
  api::PullImageRequest request;
  request.set_image("reg.io/a:1");
  ASSERT_THAT(puller_->PullImage(request), IsOk());

  Cancellation already;
  already.Cancel();
  EXPECT_THAT(puller_->WaitAdHocPull("reg.io/a:1", &already),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("the pull goes on")));

  absl::StatusOr<api::AdHocPullStatus> waited;
  std::thread waiter([&] { waited = puller_->WaitAdHocPull("reg.io/a:1", nullptr); });
  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(3));
  waiter.join();
  ASSERT_THAT(waited, IsOk());
  EXPECT_EQ(waited->status().phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);

  // A wait cancelled from another thread while the pull is still running.
  runtime_.SetPullScript("reg.io/b:1", slow);
  request.set_image("reg.io/b:1");
  ASSERT_THAT(puller_->PullImage(request), IsOk());
  clock_.WaitForSleepers(1);
  Cancellation cancel;
  absl::StatusOr<api::AdHocPullStatus> cancelled_wait;
  std::thread cancelled_waiter(
      [&] { cancelled_wait = puller_->WaitAdHocPull("reg.io/b:1", &cancel); });
  cancel.Cancel();
  cancelled_waiter.join();
  // The pull cannot finish first: it sleeps on the fake clock, which the test does not advance.
  EXPECT_THAT(cancelled_wait, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(runtime_.InFlightPulls(), 1);  // the pull itself goes on
}

}  // namespace
}  // namespace inplaced::imagepull
