#include "imagepull/pull_attempt.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/pull_backoff.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::Eventually;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class FailingPrecheck final : public PullPrecheck {
 public:
  absl::Status Check(const ImageReference& image,
                     const std::vector<RegistryCredential>& credentials) override {
    ++calls;
    seen_credentials = credentials.size();
    return absl::ResourceExhaustedError("image needs 2 GiB, 1 GiB free");
  }
  int calls = 0;
  size_t seen_credentials = 0;
};

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> ref = ImageReference::Parse(text);
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *ref;
}

RegistryCredential Credential(const std::string& server, const std::string& user,
                              const std::string& password) {
  RegistryCredential c;
  c.server_address = server;
  c.username = user;
  c.password = password;
  return c;
}

class PullAttemptTest : public ::testing::Test {
 protected:
  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_{clock_};
};

TEST_F(PullAttemptTest, IfNotPresentSkipsThePullOfAPresentImage) {
  runtime_.AddImage("reg.io/app:1");
  PullJob job{Ref("reg.io/app:1"), {}, /*always=*/false, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  EXPECT_TRUE(outcome.already_present);
  EXPECT_THAT(outcome.image_id, StartsWith("reg.io/app@sha256:"));
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

TEST_F(PullAttemptTest, AlwaysPullsAPresentImage) {
  runtime_.AddImage("reg.io/app:1");
  PullJob job{Ref("reg.io/app:1"), {}, /*always=*/true, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  EXPECT_FALSE(outcome.already_present);
  EXPECT_EQ(runtime_.CallCount("PullImage"), 1);
  EXPECT_EQ(runtime_.CallCount("ImageStatus"), 1);  // only the identity after the pull
}

TEST_F(PullAttemptTest, ImageIdIsTheRepoDigestOfTheReference) {
  PullJob job{Ref("busybox:1.36"), {}, false, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  EXPECT_THAT(outcome.image_id, StartsWith("docker.io/library/busybox@sha256:"));
}

TEST_F(PullAttemptTest, DigestReferencePullsByDigest) {
  const std::string digest = "sha256:" + std::string(64, 'b');
  PullJob job{Ref("reg.io/app:1@" + digest), {}, false, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  ASSERT_EQ(runtime_.Pulls().size(), 1u);
  EXPECT_EQ(runtime_.Pulls()[0].image, "reg.io/app@" + digest);
  EXPECT_EQ(outcome.image_id, "reg.io/app@" + digest);
}

TEST_F(PullAttemptTest, TriesEachCredentialInOrderThenAnonymous) {
  runtime_.InjectError("PullImage", absl::UnknownError("401 Unauthorized"));
  runtime_.InjectError("PullImage", absl::UnknownError("401 Unauthorized"));
  RegistryCredential tokens;
  tokens.server_address = "reg.io";
  tokens.identity_token = "id-token-value";
  tokens.registry_token = "registry-token-value";
  PullJob job{
      Ref("reg.io/team/app:1"), {Credential("reg.io/team", "alice", "pw-a"), tokens}, true, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  // The fake records only the calls that got past the injected errors: the anonymous one.
  EXPECT_EQ(runtime_.CallCount("PullImage"), 3);
  const std::vector<fakes::PullRecord> pulls = runtime_.Pulls();
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(pulls[0].auth.ByteSizeLong(), 0u);
}

TEST_F(PullAttemptTest, ForwardsEveryAuthFieldInOrder) {
  fakes::PullScript locked;
  locked.required_auth.emplace();
  locked.required_auth->set_registry_token("the-right-token");
  runtime_.SetPullScript("reg.io/team/app:1", locked);
  RegistryCredential tokens;
  tokens.server_address = "reg.io";
  tokens.identity_token = "id-token-value";
  tokens.registry_token = "the-right-token";
  PullJob job{
      Ref("reg.io/team/app:1"), {Credential("reg.io/team", "alice", "pw-a"), tokens}, true, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  const std::vector<fakes::PullRecord> pulls = runtime_.Pulls();
  ASSERT_EQ(pulls.size(), 2u);
  EXPECT_EQ(pulls[0].auth.username(), "alice");
  EXPECT_EQ(pulls[0].auth.password(), "pw-a");
  // Not forwarded: containerd would drop a credential whose server_address is not a matching URL.
  EXPECT_EQ(pulls[0].auth.server_address(), "");
  // Identity and registry tokens are forwarded (Kruise drops them).
  EXPECT_EQ(pulls[1].auth.identity_token(), "id-token-value");
  EXPECT_EQ(pulls[1].auth.registry_token(), "the-right-token");
}

TEST_F(PullAttemptTest, StopsAtTheFirstCredentialThatWorks) {
  fakes::PullScript script;
  script.required_auth.emplace();
  script.required_auth->set_username("bob");
  script.required_auth->set_password("pw-b");
  runtime_.SetPullScript("reg.io/app:1", script);
  PullJob job{Ref("reg.io/app:1"),
              {Credential("reg.io", "alice", "pw-a"), Credential("reg.io", "bob", "pw-b"),
               Credential("reg.io", "carol", "pw-c")},
              true,
              {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  ASSERT_THAT(outcome.status, IsOk());
  std::vector<std::string> users;
  for (const fakes::PullRecord& pull : runtime_.Pulls()) users.push_back(pull.auth.username());
  EXPECT_THAT(users, ElementsAre("alice", "bob"));
}

TEST_F(PullAttemptTest, AllFailingReportsEveryAttemptWithoutSecrets) {
  fakes::PullScript script;
  script.required_auth.emplace();
  script.required_auth->set_username("nobody");
  script.required_auth->set_password("never");
  runtime_.SetPullScript("reg.io/app:1", script);
  // A runtime that echoes what it was sent must not leak it either.
  runtime_.InjectError("PullImage", absl::UnknownError("bad credentials alice:pw-secret-a"));
  PullJob job{Ref("reg.io/app:1"), {Credential("reg.io", "alice", "pw-secret-a")}, true, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kUnknown, HasSubstr("401 Unauthorized")));
  const std::string message(outcome.status.message());
  EXPECT_THAT(message, HasSubstr("credential 1 of 1 (registry \"reg.io\")"));
  EXPECT_THAT(message, HasSubstr("anonymous pull:"));
  EXPECT_THAT(message, Not(HasSubstr("pw-secret-a")));
  EXPECT_THAT(message, HasSubstr("<redacted>"));
}

TEST_F(PullAttemptTest, UnavailableRuntimeIsReportedAndStopsTheCredentialLoop) {
  runtime_.InjectError("PullImage", absl::UnavailableError("PullImage: connection refused"));
  runtime_.InjectError("Version", absl::UnavailableError("Version: connection refused"));
  PullJob job{Ref("reg.io/app:1"),
              {Credential("reg.io", "a", "1"), Credential("reg.io", "b", "2")},
              /*always=*/true,
              {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(outcome.runtime_unreachable);
  EXPECT_EQ(runtime_.CallCount("PullImage"), 1);  // not once per credential
}

TEST_F(PullAttemptTest, UnavailableWhileTheRuntimeAnswersIsTheImagesFailure) {
  runtime_.InjectError("PullImage", absl::UnavailableError("503 Service Unavailable"));
  PullJob job{Ref("reg.io/app:1"), {}, /*always=*/false, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  EXPECT_FALSE(outcome.runtime_unreachable);
}

TEST_F(PullAttemptTest, UnavailableLookUpIsReportedAsAnUnreachableRuntime) {
  runtime_.InjectError("ImageStatus", absl::UnavailableError("ImageStatus: connection refused"));
  runtime_.InjectError("Version", absl::UnavailableError("Version: connection refused"));
  PullJob job{Ref("reg.io/app:1"), {}, /*always=*/false, {}};
  const PullOutcome outcome = RunPull(runtime_, job, nullptr, nullptr);
  EXPECT_TRUE(outcome.runtime_unreachable);
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

TEST_F(PullAttemptTest, PrecheckFailureStopsBeforeThePull) {
  FailingPrecheck precheck;
  PullJob job{Ref("reg.io/app:1"), {Credential("reg.io", "a", "b")}, false, {}};
  const PullOutcome outcome = RunPull(runtime_, job, &precheck, nullptr);
  EXPECT_THAT(outcome.status,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("1 GiB free")));
  EXPECT_EQ(precheck.calls, 1);
  EXPECT_EQ(precheck.seen_credentials, 1u);
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

TEST_F(PullAttemptTest, PrecheckIsNotCalledForAPresentImage) {
  FailingPrecheck precheck;
  runtime_.AddImage("reg.io/app:1");
  PullJob job{Ref("reg.io/app:1"), {}, false, {}};
  EXPECT_THAT(RunPull(runtime_, job, &precheck, nullptr).status, IsOk());
  EXPECT_EQ(precheck.calls, 0);
}

TEST_F(PullAttemptTest, CancelledBeforeStartPullsNothing) {
  Cancellation cancel;
  cancel.Cancel();
  PullJob job{Ref("reg.io/app:1"), {}, true, {}};
  EXPECT_THAT(RunPull(runtime_, job, nullptr, &cancel).status,
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

// Outcomes of StartPull, collected from whichever thread ran `done`.
class Outcomes {
 public:
  std::function<void(PullOutcome)> Collect() {
    return [this](PullOutcome outcome) {
      absl::MutexLock lock(&mu_);
      outcomes_.push_back(std::move(outcome));
    };
  }
  std::vector<PullOutcome> Await(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcomes_.size() >= count; };
    mu_.Await(absl::Condition(&enough));
    return outcomes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<PullOutcome> outcomes_ ABSL_GUARDED_BY(mu_);
};

TEST_F(PullAttemptTest, PullsInFlightHoldNoThreadOfTheSteps) {
  fakes::PullScript hang;
  hang.hang = true;
  ThreadPoolExecutor steps(1);
  Outcomes outcomes;
  std::vector<Cancellation> cancels(3);
  for (int i = 0; i < 3; ++i) {
    const std::string image = absl::StrCat("reg.io/app:", i);
    runtime_.SetPullScript(image, hang);
    StartPull(runtime_, PullJob{Ref(image), {}, /*always=*/true, {}}, nullptr, &cancels[i], {},
              steps, outcomes.Collect());
  }
  // One worker, three pulls at the runtime at once: none of them holds it.
  EXPECT_TRUE(Eventually([&] { return runtime_.InFlightPulls() == 3; }));
  steps.WaitIdle();
  EXPECT_EQ(steps.Workers(), 1u);

  for (Cancellation& cancel : cancels) cancel.Cancel();
  for (const PullOutcome& outcome : outcomes.Await(3)) {
    EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kCancelled));
  }
}

TEST_F(PullAttemptTest, AStepRefusedByAShutDownExecutorEndsThePullCancelled) {
  ThreadPoolExecutor steps(1);
  steps.Shutdown();
  Outcomes outcomes;
  StartPull(runtime_, PullJob{Ref("reg.io/app:1"), {}, true, {}}, nullptr, nullptr, {}, steps,
            outcomes.Collect());
  const std::vector<PullOutcome> ended = outcomes.Await(1);
  EXPECT_THAT(ended[0].status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("shutting down")));
  EXPECT_EQ(runtime_.CallCount("PullImage"), 0);
}

TEST_F(PullAttemptTest, SandboxConfigCarriesPodAndAnnotation) {
  ::inplaced::v1::SandboxConfig config;
  config.set_pod_name("web-0");
  config.set_pod_namespace("prod");
  config.set_pod_uid("uid-1");
  (*config.mutable_labels())["app"] = "web";
  const ::runtime::v1::PodSandboxConfig cri = ToCriSandboxConfig(config);
  EXPECT_EQ(cri.metadata().name(), "web-0");
  EXPECT_EQ(cri.metadata().namespace_(), "prod");
  EXPECT_EQ(cri.metadata().uid(), "uid-1");
  EXPECT_EQ(cri.labels().at("app"), "web");
  EXPECT_EQ(cri.annotations().at(kPullingImageByAnnotation), "inplaced");
}

TEST(PullBackoffTest, DoublesFromOneSecondUpToThirty) {
  std::vector<int64_t> got;
  for (int failures = 1; failures <= 8; ++failures)
    got.push_back(absl::ToInt64Seconds(PullBackoff(failures)));
  EXPECT_THAT(got, ElementsAre(1, 2, 4, 8, 16, 30, 30, 30));
  EXPECT_EQ(PullBackoff(1000000), absl::Seconds(30));
  EXPECT_EQ(PullBackoff(0), absl::Seconds(1));
}

}  // namespace
}  // namespace inplaced::imagepull
