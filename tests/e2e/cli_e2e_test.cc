// inplacectl end to end: the real `inplacectl` binary, run as a process, against the real inplaced
// daemon on the e2e environment's containerd (fixture: tests/e2e/recreate_fixture.h, with the
// kubelet stand-in restarting killed containers). `recreate --wait` and `apply -f` of a Kruise
// ContainerRecreateRequest must really recreate the container (a new container id, restart count
// 1); `images pull` pulls from the local registry (exit 0) or fails with the runtime's error on
// stderr (exit 1); `version` reports this containerd and its event stream.

#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "cri/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/recreate_fixture.h"
#include "tests/integration/cli_runner.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace cri_v1 = ::runtime::v1;
using ::inplaced::testing::CliResult;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Describe(const CliResult& r) {
  return absl::StrCat("exit=", r.exit_code, "\n--- stdout\n", r.out, "--- stderr\n", r.err);
}

class CliE2eTest : public RecreateE2eTest {
 protected:
  CliResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", socket_});
    return ::inplaced::testing::RunCli(INPLACECTL_PATH, args, "", absl::Seconds(150));
  }

  // The pod's container "app" now, and checks that it is a new instance of `old`: another id,
  // restarted once, running.
  void ExpectReallyRecreated(const cri::ContainerInfo& old) {
    std::optional<cri::ContainerInfo> now = Current("app");
    ASSERT_TRUE(now.has_value());
    EXPECT_NE(now->id, old.id);
    EXPECT_EQ(now->attempt, old.attempt + 1);
    EXPECT_EQ(now->state, cri_v1::CONTAINER_RUNNING);
    std::optional<cri::ContainerInfo> killed = Instance(old.id);
    ASSERT_TRUE(killed.has_value());
    EXPECT_EQ(killed->state, cri_v1::CONTAINER_EXITED);
  }

  // Whether the runtime has `image` (CRI ImageStatus).
  bool HasImage(const std::string& image) {
    cri_v1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    absl::StatusOr<cri_v1::ImageStatusResponse> status = runtime().ImageStatus(request);
    return status.ok() && status->has_image();
  }
};

TEST_F(CliE2eTest, RecreateWaitRecreatesTheContainer) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  const CliResult r = Ctl({"recreate", pod_name_, "-n", kRecreateNamespace, "-c", "app", "--name",
                           "cli-recreate", "--grace", "2", "--wait", "--timeout", "90"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, AllOf(HasSubstr("recreaterequest e2e/cli-recreate created"),
                           HasSubstr("e2e/cli-recreate: Completed, 1/1 containers Succeeded")));
  ASSERT_NO_FATAL_FAILURE(ExpectReallyRecreated(*old));
  std::optional<::inplaced::v1::RecreateRequest> done = Get("cli-recreate");
  ASSERT_TRUE(done.has_value());
  ExpectAllRecreatedOnce(*done, {old->id});
}

TEST_F(CliE2eTest, ApplyOfAKruiseContainerRecreateRequestRecreatesTheContainer) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  const std::string yaml = absl::StrCat(R"(apiVersion: apps.kruise.io/v1alpha1
kind: ContainerRecreateRequest
metadata:
  namespace: e2e
  name: cli-crr
spec:
  podName: )",
                                        pod_name_, R"(
  containers:
  - name: app
  strategy:
    failurePolicy: Fail
    terminationGracePeriodSeconds: 2
  activeDeadlineSeconds: 120
  ttlSecondsAfterFinished: 600
)");
  const std::string file = dir_ + "/crr.yaml";
  std::ofstream(file) << yaml;
  const CliResult apply = Ctl({"apply", "-f", file});
  ASSERT_EQ(apply.exit_code, 0) << Describe(apply);
  EXPECT_THAT(apply.out, HasSubstr("containerrecreaterequest e2e/cli-crr created"));

  const CliResult watch =
      Ctl({"watch", "cli-crr", "-n", kRecreateNamespace, "--until-done", "--timeout", "90"});
  ASSERT_EQ(watch.exit_code, 0) << Describe(watch);
  ASSERT_NO_FATAL_FAILURE(ExpectReallyRecreated(*old));
  std::optional<::inplaced::v1::RecreateRequest> done = Get("cli-crr");
  ASSERT_TRUE(done.has_value());
  ExpectAllRecreatedOnce(*done, {old->id});
  EXPECT_EQ(done->spec().ttl_seconds_after_finished(), 600);
}

TEST_F(CliE2eTest, ImagesPullFromTheLocalRegistryAndAFailedPullExitsOne) {
  // Always: a real pull from the registry (the image's content is also the pods' busybox, which no
  // suite removes).
  const CliResult pulled = Ctl({"images", "pull", env_.registry_busybox_image, "--pull-policy",
                                "Always", "--retries", "0", "--timeout", "120"});
  ASSERT_EQ(pulled.exit_code, 0) << Describe(pulled);
  EXPECT_THAT(pulled.out, HasSubstr(env_.registry_busybox_image + " succeeded 100%"));
  EXPECT_TRUE(HasImage(env_.registry_busybox_image));

  const std::string missing =
      absl::StrCat(env_.registry, "/busybox:no-such-tag-", static_cast<int>(::getpid()));
  const CliResult failed = Ctl({"images", "pull", missing, "--retries", "0", "--timeout", "120"});
  EXPECT_EQ(failed.exit_code, 1) << Describe(failed);
  // containerd's own words, with the code the daemon got from it.
  EXPECT_THAT(failed.err, AllOf(HasSubstr(absl::StrCat("pull of ", missing, " failed: ")),
                                HasSubstr("not found")))
      << Describe(failed);
  EXPECT_FALSE(HasImage(missing));
}

TEST_F(CliE2eTest, VersionReportsThisContainerdAndItsEventStream) {
  const CliResult version = Ctl({"version"});
  ASSERT_EQ(version.exit_code, 0) << Describe(version);
  EXPECT_THAT(
      version.out,
      AllOf(HasSubstr("daemon:  inplaced "),
            HasSubstr(absl::StrCat("runtime: runtime=containerd version=", runtime_version(),
                                   " api=v1 endpoint=", env_.containerd_endpoint)),
            // containerd serves its content service on the CRI socket: pulls report bytes.
            HasSubstr("byte-progress=yes")));
  if (env_.differences.streams_container_events) {
    // Subscribed until the first container event; a pod's start gives one.
    ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
    EXPECT_TRUE(::inplaced::testing::Eventually([&] {
      return absl::StrContains(Ctl({"version"}).out, "event-stream=streaming");
    })) << Ctl({"version"}).out;
  } else {
    EXPECT_TRUE(::inplaced::testing::Eventually([&] {
      return absl::StrContains(Ctl({"version"}).out, "event-stream=unsupported");
    })) << Ctl({"version"}).out;
  }
}

}  // namespace
}  // namespace inplaced::e2e
