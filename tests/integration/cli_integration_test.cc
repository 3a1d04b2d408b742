// inplacectl as the daemon's client: every subcommand run as a process against the inplaced binary
// and fake_cri_server over real unix sockets, with the exit codes scripts rely on (0 done, 1
// failed, 2 usage or connection), and terminal (pty) versus pipe output.
//
// Image names use a loopback registry that is not listening (127.0.0.1:9), as in the NodeImage
// suite: the daemon's disk precheck cannot resolve them and lets the pull go ahead, and the fake
// runtime "pulls" any reference.

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::CliResult;
using ::inplaced::testing::DaemonHarness;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRepo[] = "127.0.0.1:9/team/app";
// The fake runtime fails every pull of this reference (fake_cri_server --fail-pull).
constexpr char kBrokenRef[] = "127.0.0.1:9/team/app:broken";

std::string Describe(const CliResult& r) {
  return absl::StrCat("exit=", r.exit_code, "\n--- stdout\n", r.out, "--- stderr\n", r.err);
}

class CliIntegrationTest : public DaemonHarness {
 protected:
  // The fake's pre-created pods: namespace "bulk", pods "pod-00000"..., containers "c0", "c1"; an
  // exited container comes back after 200 ms, as kubelet would restart it.
  std::vector<std::string> FakeRuntimeFlags() const override {
    return {"--pods",
            "4",
            "--containers-per-pod",
            "2",
            "--restart-backoff-ms",
            "200",
            "--fail-pull",
            absl::StrCat(kBrokenRef, "=NOT_FOUND:no such manifest")};
  }
  std::vector<std::string> DaemonFlags() const override {
    return {"--fast-poll-ms",         "50", "--slow-poll-ms",  "200",
            "--max-concurrent-pulls", "2",  "--image-fs-path", dir_.path()};
  }
  void MakeStubs() override {}

  void SetUp() override {
    DaemonHarness::SetUp();
    StartFakeRuntime();
    StartDaemon();
  }

  std::vector<std::string> WithSocket(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--socket", socket_});
    return args;
  }
  CliResult Ctl(std::vector<std::string> args, const std::string& input = "") {
    return testing::RunCli(INPLACECTL_PATH, WithSocket(std::move(args)), input);
  }
  CliResult CtlOnTerminal(std::vector<std::string> args) {
    return testing::RunCliOnTerminal(INPLACECTL_PATH, WithSocket(std::move(args)));
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_.Join(name);
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(CliIntegrationTest, RecreateWaitExitsZeroWhenEveryContainerSucceeded) {
  const CliResult r =
      Ctl({"recreate", "pod-00000", "-n", "bulk", "-c", "c0", "--name", "r1", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("recreaterequest bulk/r1 created"));
  // Not a terminal: one line per change, no escape sequences.
  EXPECT_THAT(r.out, HasSubstr("ADDED bulk/r1 pod=pod-00000"));
  EXPECT_THAT(r.out, HasSubstr("bulk/r1: Completed, 1/1 containers Succeeded"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));
}

TEST_F(CliIntegrationTest, RecreateWaitExitsOneWhenTheRequestEndsWithoutSuccess) {
  // A container the pod does not have: the daemon fails it, and the request completes without
  // success.
  const CliResult r =
      Ctl({"recreate", "pod-00000", "-n", "bulk", "-c", "nope", "--name", "r2", "--wait"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("bulk/r2: Completed; nope Failed: not found container on Node"));
}

TEST_F(CliIntegrationTest, RecreateAllReadsTheContainersFromTheRuntime) {
  const CliResult r = Ctl({"recreate", "pod-00001", "-n", "bulk", "--all", "--name", "all",
                           "--runtime-endpoint", "unix://" + cri_socket_, "--wait"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  const CliResult get = Ctl({"get", "all", "-n", "bulk", "-o", "json"});
  EXPECT_THAT(get.out, AllOf(HasSubstr("\"name\": \"c0\""), HasSubstr("\"name\": \"c1\"")));

  const CliResult missing = Ctl({"recreate", "no-such-pod", "-n", "bulk", "--all",
                                 "--runtime-endpoint", "unix://" + cri_socket_});
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
  EXPECT_THAT(missing.err,
              HasSubstr("NOT_FOUND: --all reads the pod's containers from the runtime: the runtime "
                        "has no pod bulk/no-such-pod (or name them with -c)"));
}

TEST_F(CliIntegrationTest, GetListAndDelete) {
  ASSERT_EQ(Ctl({"recreate", "pod-00002", "-n", "bulk", "-c", "c0,c1", "--ordered", "--name", "r3",
                 "--wait"})
                .exit_code,
            0);
  const CliResult list = Ctl({"list", "-n", "bulk"});
  EXPECT_EQ(list.exit_code, 0) << Describe(list);
  EXPECT_THAT(
      list.out,
      HasSubstr(
          "NAME   POD         PHASE       CONTAINERS   AGE\nr3     pod-00002   Completed   2/2"));
  const CliResult all = Ctl({"list", "-A", "-o", "wide"});
  EXPECT_THAT(all.out, AllOf(HasSubstr("NAMESPACE"), HasSubstr("c0=Succeeded,c1=Succeeded")));
  const CliResult yaml = Ctl({"get", "r3", "-n", "bulk", "-o", "yaml"});
  EXPECT_THAT(yaml.out, AllOf(HasSubstr("podName: pod-00002"), HasSubstr("orderedRecreate: true")));

  const CliResult del = Ctl({"delete", "r3", "-n", "bulk"});
  EXPECT_EQ(del.exit_code, 0) << Describe(del);
  EXPECT_THAT(del.out, HasSubstr("recreaterequest bulk/r3 deleted"));
  const CliResult gone = Ctl({"get", "r3", "-n", "bulk"});
  EXPECT_EQ(gone.exit_code, 1) << Describe(gone);
  EXPECT_THAT(gone.err, HasSubstr("inplacectl: NOT_FOUND: "));
  EXPECT_EQ(Ctl({"delete", "r3", "-n", "bulk", "--ignore-not-found"}).exit_code, 0);
  const CliResult empty = Ctl({"list", "-n", "bulk"});
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_THAT(empty.err, HasSubstr("No recreate requests found."));
}

TEST_F(CliIntegrationTest, UsageAndConnectionErrorsExitTwo) {
  const CliResult no_pod = Ctl({"recreate", "-c", "c0"});
  EXPECT_EQ(no_pod.exit_code, 2) << Describe(no_pod);
  const CliResult both = Ctl({"recreate", "p", "-c", "c0", "--all"});
  EXPECT_EQ(both.exit_code, 2) << Describe(both);
  // The daemon's own validation: its INVALID_ARGUMENT and message, naming the field.
  const CliResult bad = Ctl({"recreate", "Bad_Pod", "-c", "c0", "--name", "r"});
  EXPECT_EQ(bad.exit_code, 2) << Describe(bad);
  EXPECT_THAT(bad.err, AllOf(HasSubstr("inplacectl: INVALID_ARGUMENT: "), HasSubstr("pod_name")));
  const CliResult away =
      testing::RunCli(INPLACECTL_PATH, {"--socket", dir_.Join("none.sock"), "list"});
  EXPECT_EQ(away.exit_code, 2) << Describe(away);
  EXPECT_THAT(away.err,
              HasSubstr("inplacectl: UNAVAILABLE: inplaced at unix:" + dir_.Join("none.sock")));
  // INPLACED_SOCKET is not set in this environment: the default socket is what was tried.
  const CliResult by_default = testing::RunCli(INPLACECTL_PATH, {"health"});
  EXPECT_EQ(by_default.exit_code, 2) << Describe(by_default);
}

TEST_F(CliIntegrationTest, WatchUntilDonePrintsOneLinePerChangeOnAPipe) {
  ASSERT_EQ(Ctl({"recreate", "pod-00003", "-n", "bulk", "-c", "c1", "--name", "w1"}).exit_code, 0);
  const CliResult r = Ctl({"watch", "w1", "-n", "bulk", "--until-done"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  for (const absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "ADDED ") || absl::StartsWith(line, "MODIFIED ") ||
                absl::StartsWith(line, "bulk/w1: Completed"))
        << line;
  }
}

TEST_F(CliIntegrationTest, WatchOnATerminalRedrawsTheTable) {
  ASSERT_EQ(Ctl({"recreate", "pod-00003", "-n", "bulk", "-c", "c0", "--name", "w2"}).exit_code, 0);
  const CliResult r = CtlOnTerminal({"watch", "w2", "-n", "bulk", "--until-done"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, AllOf(HasSubstr("\x1b[J"), HasSubstr("NAME   POD"), HasSubstr("Completed")));
  EXPECT_THAT(r.out, Not(HasSubstr("MODIFIED")));
}

TEST_F(CliIntegrationTest, LongRunningWatchShowsRequestsAsTheyCome) {
  ASSERT_OK_AND_ASSIGN(ChildProcess watch,
                       ChildProcess::Start({INPLACECTL_PATH, "--socket", socket_, "watch", "-A"}));
  ASSERT_EQ(Ctl({"recreate", "pod-00000", "-n", "bulk", "-c", "c1", "--name", "live"}).exit_code,
            0);
  EXPECT_THAT(watch.WaitForLine("ADDED bulk/live", absl::Seconds(60)), testing::IsOk());
  EXPECT_THAT(watch.WaitForLine("bulk/live pod=pod-00000 phase=Completed", absl::Seconds(60)),
              testing::IsOk());
}

TEST_F(CliIntegrationTest, AckUnreadyAndReportReady) {
  ASSERT_EQ(Ctl({"recreate", "pod-00001", "-n", "bulk", "-c", "c0", "--unready-grace", "0",
                 "--name", "u1"})
                .exit_code,
            0);
  const CliResult ready = Ctl({"report-ready", "u1", "-n", "bulk", "c0=containerd://abc"});
  EXPECT_EQ(ready.exit_code, 0) << Describe(ready);
  EXPECT_THAT(ready.out, HasSubstr("recreaterequest bulk/u1 readiness reported (ready)"));
  const CliResult bad = Ctl({"report-ready", "u1", "-n", "bulk", "c0"});
  EXPECT_EQ(bad.exit_code, 2) << Describe(bad);
  EXPECT_THAT(bad.err, HasSubstr("\"c0\" is not CONTAINER=CONTAINER_ID"));

  const CliResult ack = Ctl({"ack-unready", "u1", "-n", "bulk", "--at", "2026-01-02T03:04:05Z"});
  EXPECT_EQ(ack.exit_code, 0) << Describe(ack);
  EXPECT_THAT(ack.out, HasSubstr("unready acknowledged at 2026-01-02T03:04:05Z"));
  EXPECT_EQ(Ctl({"watch", "u1", "-n", "bulk", "--until-done"}).exit_code, 0);
  // Completed: the daemon refuses further acknowledgements, and the CLI passes its code on.
  const CliResult late = Ctl({"ack-unready", "u1", "-n", "bulk"});
  EXPECT_EQ(late.exit_code, 1) << Describe(late);
  EXPECT_THAT(late.err, HasSubstr("inplacectl: FAILED_PRECONDITION: "));
}

constexpr char kCrrYaml[] = R"(apiVersion: apps.kruise.io/v1alpha1
kind: ContainerRecreateRequest
metadata:
  namespace: bulk
  name: from-kruise
spec:
  podName: pod-00002
  containers:
  - name: c1
  strategy:
    failurePolicy: Fail
    terminationGracePeriodSeconds: 5
  ttlSecondsAfterFinished: 600
---
apiVersion: apps.kruise.io/v1beta1
kind: NodeImage
metadata:
  name: node-1
spec:
  images:
    127.0.0.1:9/team/app:
      tags:
      - tag: "1"
        imagePullPolicy: IfNotPresent
)";

TEST_F(CliIntegrationTest, ApplyAndDeleteKruiseYaml) {
  const std::string file = WriteFile("kruise.yaml", kCrrYaml);
  const CliResult apply = Ctl({"apply", "-f", file});
  EXPECT_EQ(apply.exit_code, 0) << Describe(apply);
  EXPECT_THAT(apply.out, HasSubstr("containerrecreaterequest bulk/from-kruise created\n"
                                   "nodeimage node-1 configured (generation 1)"));
  EXPECT_EQ(Ctl({"watch", "from-kruise", "-n", "bulk", "--until-done"}).exit_code, 0);
  // Applying the same file again: the request exists with the same spec.
  const CliResult again = Ctl({"apply", "-f", "-"}, kCrrYaml);
  EXPECT_THAT(again.out, HasSubstr("containerrecreaterequest bulk/from-kruise unchanged"));
  EXPECT_THAT(Ctl({"images", "get"}).out, HasSubstr(kRepo));

  const CliResult del = Ctl({"delete", "-f", file});
  EXPECT_EQ(del.exit_code, 0) << Describe(del);
  EXPECT_THAT(del.out, AllOf(HasSubstr("containerrecreaterequest bulk/from-kruise deleted"),
                             HasSubstr("nodeimage node-1 emptied")));
  EXPECT_THAT(Ctl({"images", "get"}).out, Not(HasSubstr(kRepo)));
}

TEST_F(CliIntegrationTest, ApplyRefusesTheWholeFileNamingTheField) {
  const std::string yaml = std::string(kCrrYaml) + R"(---
apiVersion: apps.kruise.io/v1alpha1
kind: ContainerRecreateRequest
metadata: {name: second, namespace: bulk, finalizers: [x]}
spec: {podName: pod-00000, containers: [{name: c0}]}
)";
  const CliResult r = Ctl({"apply", "-f", "-"}, yaml);
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(
      r.err,
      HasSubstr("inplacectl: INVALID_ARGUMENT: document 3 (ContainerRecreateRequest bulk/second): "
                "metadata.finalizers: refused"));
  // Nothing of the file was sent.
  EXPECT_THAT(Ctl({"list", "-A"}).out, Not(HasSubstr("from-kruise")));
}

TEST_F(CliIntegrationTest, ImagesSetGetAndWatch) {
  const std::string one = absl::StrCat(kRepo, ":1");
  const std::string two = absl::StrCat(kRepo, ":2");
  const CliResult set = Ctl({"images", "set", one, two});
  EXPECT_EQ(set.exit_code, 0) << Describe(set);
  EXPECT_THAT(set.out, HasSubstr("nodeimage configured: generation 1: 2 desired"));
  const CliResult watch = Ctl({"images", "watch", "--until-done"});
  EXPECT_EQ(watch.exit_code, 0) << Describe(watch);
  EXPECT_THAT(watch.out,
              AllOf(HasSubstr(one + " succeeded 100%"), HasSubstr(two + " succeeded 100%")));
  const CliResult get = Ctl({"images", "get", "-o", "wide"});
  EXPECT_THAT(get.out, AllOf(HasSubstr("IMAGE"), HasSubstr("spec"), HasSubstr("succeeded"),
                             HasSubstr("100%")));
  EXPECT_THAT(Ctl({"images", "get", "-o", "json"}).out, HasSubstr("\"generation\": \"1\""));
  // Set reads the current generation first, so a second set applies too; the secret is sent, never
  // shown.
  const std::string secret =
      WriteFile("auth.json", R"({"auths":{"127.0.0.1:9":{"auth":"dTpzM2NyZXQ="}}})");
  EXPECT_EQ(Ctl({"images", "set", one, "--pull-secret-file", secret}).exit_code, 0);
  const CliResult with_secret = Ctl({"images", "get", "-o", "yaml"});
  EXPECT_THAT(with_secret.out,
              AllOf(HasSubstr("pullSecretCount: 1"), Not(HasSubstr("dTpzM2NyZXQ="))));
  EXPECT_THAT(Ctl({"images", "set", "--pull-policy", "Never", one}).err,
              HasSubstr("--pull-policy"));
}

TEST_F(CliIntegrationTest, ImagesPullShowsPlainLinesOnAPipeAndABarOnATerminal) {
  const std::string ref = absl::StrCat(kRepo, ":pipe");
  const CliResult pipe = Ctl({"images", "pull", ref});
  EXPECT_EQ(pipe.exit_code, 0) << Describe(pipe);
  EXPECT_THAT(pipe.out, HasSubstr(ref + " succeeded 100% attempt="));
  EXPECT_THAT(pipe.out, Not(HasSubstr("\x1b[")));

  const std::string tty_ref = absl::StrCat(kRepo, ":tty");
  const CliResult tty = CtlOnTerminal({"images", "pull", tty_ref});
  EXPECT_EQ(tty.exit_code, 0) << Describe(tty);
  EXPECT_THAT(tty.out,
              AllOf(HasSubstr("\x1b[J"), HasSubstr(tty_ref), HasSubstr("=====] 100%  succeeded")));

  const CliResult detach = Ctl({"images", "pull", absl::StrCat(kRepo, ":bg"), "--detach"});
  EXPECT_EQ(detach.exit_code, 0) << Describe(detach);
  EXPECT_THAT(Ctl({"images", "get"}).out, HasSubstr("ad-hoc"));
}

TEST_F(CliIntegrationTest, ImagesPullExitsOneOnAFailedPullWithTheCodeOnStderr) {
  const CliResult failed = Ctl({"images", "pull", kBrokenRef, "--retries", "0"});
  EXPECT_EQ(failed.exit_code, 1) << Describe(failed);
  EXPECT_THAT(failed.err, AllOf(HasSubstr(absl::StrCat("pull of ", kBrokenRef, " failed: ")),
                                HasSubstr("NOT_FOUND"), HasSubstr("no such manifest")))
      << Describe(failed);
  EXPECT_THAT(failed.out, HasSubstr(absl::StrCat(kBrokenRef, " failed")));

  const CliResult ok = Ctl({"images", "pull", absl::StrCat(kRepo, ":fine"), "--retries", "0"});
  EXPECT_EQ(ok.exit_code, 0) << Describe(ok);
  EXPECT_EQ(ok.err, "") << Describe(ok);

  const CliResult bad_flag = Ctl({"images", "pull", kBrokenRef, "--retries", "101"});
  EXPECT_EQ(bad_flag.exit_code, 2) << Describe(bad_flag);
  EXPECT_THAT(bad_flag.err, HasSubstr("--retries"));
}

TEST_F(CliIntegrationTest, VersionShowsTheClientTheDaemonAndTheRuntimeFromTheDaemon) {
  const CliResult version = Ctl({"version"});
  EXPECT_EQ(version.exit_code, 0) << Describe(version);
  const std::vector<std::string> lines = absl::StrSplit(version.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << Describe(version);
  EXPECT_THAT(lines[0], ::testing::StartsWith("client:  inplacectl 0."));
  EXPECT_THAT(lines[1], AllOf(::testing::StartsWith("daemon:  inplaced 0."), HasSubstr(" api=v1 "),
                              HasSubstr(" node="), HasSubstr("unix:" + socket_)));
  EXPECT_EQ(lines[2], absl::StrCat("runtime: runtime=containerd version=1.6.20~ds1 api=v1 "
                                   "endpoint=unix://",
                                   cri_socket_));
  EXPECT_THAT(lines[3], AllOf(::testing::StartsWith("node:    event-stream="),
                              HasSubstr(" image-pinning=no byte-progress=no")));
  // containerd 1.6 has no event stream: the daemon finds out within one round trip.
  EXPECT_TRUE(::inplaced::testing::Eventually(
      [&] { return absl::StrContains(Ctl({"version"}).out, "event-stream=unsupported"); }));
}

TEST_F(CliIntegrationTest, VersionAsksTheRuntimeItselfWhenTheDaemonIsUnreachable) {
  StopDaemon();
  const CliResult version = Ctl({"version", "--runtime-endpoint", "unix://" + cri_socket_});
  EXPECT_EQ(version.exit_code, 2) << Describe(version);
  EXPECT_THAT(
      version.out,
      AllOf(HasSubstr("client:  inplacectl "), HasSubstr("daemon:  unreachable: UNAVAILABLE"),
            HasSubstr("runtime: runtime=containerd"), HasSubstr("(asked directly)")));
}

TEST_F(CliIntegrationTest, VersionAndHealth) {
  const CliResult health = Ctl({"health"});
  EXPECT_EQ(health.exit_code, 0) << Describe(health);
  EXPECT_EQ(health.out, "SERVING\n");
  EXPECT_EQ(Ctl({"health", "--service", "inplaced.v1.NodeImageService"}).exit_code, 0);
  EXPECT_EQ(Ctl({"health", "--service", "inplaced.v1.NodeService"}).exit_code, 0);
  const CliResult verbose = Ctl({"health", "--node-info"});
  EXPECT_EQ(verbose.exit_code, 0) << Describe(verbose);
  EXPECT_THAT(verbose.out, AllOf(::testing::StartsWith("SERVING\ndaemon:  inplaced "),
                                 HasSubstr("\nruntime: runtime=containerd"),
                                 HasSubstr("\nnode:    event-stream=")));
}

TEST_F(CliIntegrationTest, BashCompletionCompletesFromTheCommandTree) {
  const CliResult script = Ctl({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << Describe(script);
  const std::string path = WriteFile("completion.bash", script.out);
  const CliResult completed = testing::RunCli(
      "/bin/bash",
      {"-c", "source " + path +
                 "; COMP_WORDS=(inplacectl --socket /x images p); COMP_CWORD=4; _inplacectl; "
                 "echo \"${COMPREPLY[@]}\"; COMP_WORDS=(inplacectl recreate --); COMP_CWORD=2; "
                 "_inplacectl; echo \"${COMPREPLY[@]}\""});
  EXPECT_EQ(completed.exit_code, 0) << Describe(completed);
  const std::vector<std::string> lines = absl::StrSplit(completed.out, '\n');
  ASSERT_GE(lines.size(), 2u) << completed.out;
  EXPECT_EQ(lines[0], "pull");
  EXPECT_THAT(lines[1],
              AllOf(HasSubstr("--ordered"), HasSubstr("--unready-grace"), HasSubstr("--socket")));
}

}  // namespace
}  // namespace inplaced
