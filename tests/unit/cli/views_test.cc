// What inplacectl prints: tables, watch lines, outcomes, progress bars, completion.

#include <sstream>
#include <string>
#include <vector>

#include "cli/completion.h"
#include "cli/images_spec.h"
#include "cli/output_format.h"
#include "cli/progress_bar.h"
#include "cli/recreate_view.h"
#include "cli/recreate_watch.h"
#include "cli/table.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cli {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1796454000);

v1::RecreateRequest Request(const std::string& name, v1::RecreatePhase phase,
                            std::vector<v1::ContainerRecreatePhase> containers) {
  v1::RecreateRequest request;
  request.mutable_metadata()->set_namespace_("demo");
  request.mutable_metadata()->set_name(name);
  *request.mutable_metadata()->mutable_creation_time() = ToProtoTime(kNow - absl::Seconds(75));
  request.mutable_spec()->set_pod_name("web");
  request.mutable_status()->set_phase(phase);
  for (size_t i = 0; i < containers.size(); ++i) {
    v1::ContainerRecreateState* state = request.mutable_status()->add_container_states();
    state->set_name(i == 0 ? "app" : "sidecar");
    state->set_phase(containers[i]);
  }
  return request;
}

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table table({"NAME", "AGE"});
  table.AddRow({"a-long-name", "5s"});
  table.AddRow({"b", ""});
  EXPECT_EQ(table.Render(), "NAME          AGE\na-long-name   5s\nb\n");
}

TEST(TableTest, AgesReadLikeKubectl) {
  EXPECT_EQ(FormatAge(absl::Seconds(45)), "45s");
  EXPECT_EQ(FormatAge(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(FormatAge(absl::Minutes(17)), "17m");
  EXPECT_EQ(FormatAge(absl::Hours(5) + absl::Minutes(4)), "5h4m");
  EXPECT_EQ(FormatAge(absl::Hours(24 * 12)), "12d");
  EXPECT_EQ(FormatAge(-absl::Seconds(3)), "0s");
}

TEST(RecreateViewTest, TableShowsPhaseContainersAndAge) {
  const std::string table = RecreateTable(
      {Request("r1", v1::RECREATE_PHASE_RECREATING,
               {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED, v1::CONTAINER_RECREATE_PHASE_RECREATING})},
      /*show_namespace=*/false, /*wide=*/false, kNow);
  EXPECT_EQ(table,
            "NAME   POD   PHASE        CONTAINERS   AGE\n"
            "r1     web   Recreating   1/2          75s\n");
}

TEST(RecreateViewTest, WideTableAddsStatesAndMessage) {
  v1::RecreateRequest request =
      Request("r1", v1::RECREATE_PHASE_COMPLETED,
              {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED, v1::CONTAINER_RECREATE_PHASE_FAILED});
  request.mutable_status()->set_message("pod has gone");
  const std::string table = RecreateTable({request}, true, true, kNow);
  EXPECT_THAT(
      table,
      HasSubstr("NAMESPACE   NAME   POD   PHASE       CONTAINERS       AGE   POD-UID   STATES"));
  EXPECT_THAT(table, HasSubstr("1/2 (1 failed)"));
  EXPECT_THAT(table, HasSubstr("app=Succeeded,sidecar=Failed   pod has gone"));
}

TEST(RecreateViewTest, OutcomeIsSucceededOnlyWhenEveryContainerSucceeded) {
  EXPECT_EQ(OutcomeOf(Request("r", v1::RECREATE_PHASE_RECREATING,
                              {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED})),
            RecreateOutcome::kRunning);
  EXPECT_EQ(OutcomeOf(Request("r", v1::RECREATE_PHASE_COMPLETED,
                              {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED})),
            RecreateOutcome::kSucceeded);
  EXPECT_EQ(OutcomeOf(Request(
                "r", v1::RECREATE_PHASE_COMPLETED,
                {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED, v1::CONTAINER_RECREATE_PHASE_FAILED})),
            RecreateOutcome::kFailed);
  // Ended early (deadline, pod gone): a container still Pending is not a success.
  EXPECT_EQ(
      OutcomeOf(Request("r", v1::RECREATE_PHASE_COMPLETED, {v1::CONTAINER_RECREATE_PHASE_PENDING})),
      RecreateOutcome::kFailed);
}

TEST(RecreateViewTest, WatchLineAndOutcomeLineNameEveryContainer) {
  v1::RecreateRequest request =
      Request("r1", v1::RECREATE_PHASE_COMPLETED,
              {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED, v1::CONTAINER_RECREATE_PHASE_FAILED});
  request.mutable_status()->mutable_container_states(1)->set_message("kill container error: boom");
  EXPECT_EQ(WatchEventLine(v1::WATCH_EVENT_TYPE_MODIFIED, request),
            "MODIFIED demo/r1 pod=web phase=Completed app=Succeeded sidecar=Failed");
  EXPECT_EQ(OutcomeLine(request), "demo/r1: Completed; sidecar Failed: kill container error: boom");
  EXPECT_EQ(OutcomeLine(Request("r2", v1::RECREATE_PHASE_COMPLETED,
                                {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED})),
            "demo/r2: Completed, 1/1 containers Succeeded");
}

v1::WatchRecreateRequestsResponse Event(v1::WatchEventType type,
                                        const v1::RecreateRequest& request = {}) {
  v1::WatchRecreateRequestsResponse event;
  event.set_type(type);
  if (type != v1::WATCH_EVENT_TYPE_SYNCED) *event.mutable_recreate_request() = request;
  return event;
}

TEST(RecreateTrackerTest, DoneOnlyAfterSyncAndWhenEveryRequestCompleted) {
  RecreateTracker tracker;
  tracker.Apply(
      Event(v1::WATCH_EVENT_TYPE_ADDED,
            Request("r1", v1::RECREATE_PHASE_COMPLETED, {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED})));
  EXPECT_FALSE(tracker.AllDone());  // more may come before SYNCED
  tracker.Apply(Event(v1::WATCH_EVENT_TYPE_ADDED, Request("r2", v1::RECREATE_PHASE_PENDING,
                                                          {v1::CONTAINER_RECREATE_PHASE_PENDING})));
  tracker.Apply(Event(v1::WATCH_EVENT_TYPE_SYNCED));
  EXPECT_FALSE(tracker.AllDone());
  tracker.Apply(
      Event(v1::WATCH_EVENT_TYPE_MODIFIED,
            Request("r2", v1::RECREATE_PHASE_COMPLETED, {v1::CONTAINER_RECREATE_PHASE_SUCCEEDED})));
  EXPECT_TRUE(tracker.AllDone());
  EXPECT_EQ(tracker.ExitCode(), 0);
}

TEST(RecreateTrackerTest, NothingSeenIsNotDoneAndAFailureOrEarlyDeleteExitsOne) {
  RecreateTracker tracker;
  tracker.Apply(Event(v1::WATCH_EVENT_TYPE_SYNCED));
  EXPECT_FALSE(tracker.AllDone());
  tracker.Apply(Event(
      v1::WATCH_EVENT_TYPE_ADDED,
      Request("r1", v1::RECREATE_PHASE_RECREATING, {v1::CONTAINER_RECREATE_PHASE_RECREATING})));
  tracker.Apply(Event(
      v1::WATCH_EVENT_TYPE_DELETED,
      Request("r1", v1::RECREATE_PHASE_RECREATING, {v1::CONTAINER_RECREATE_PHASE_RECREATING})));
  EXPECT_TRUE(tracker.AllDone());
  EXPECT_EQ(tracker.ExitCode(), 1);
}

TEST(ProgressBarTest, BarFillsToThePercent) {
  EXPECT_EQ(Bar(0, 10), "[>         ]");
  EXPECT_EQ(Bar(45, 10), "[====>     ]");
  EXPECT_EQ(Bar(100, 10), "[==========]");
  EXPECT_EQ(Bar(250, 4), "[====]");
}

PullProgress Pull(const std::string& ref, v1::ImagePullPhase phase, int percent) {
  PullProgress pull;
  pull.reference = ref;
  pull.phase = phase;
  pull.percent = percent;
  pull.attempts = 1;
  pull.elapsed = absl::Seconds(12);
  return pull;
}

TEST(ProgressBarTest, LineShowsBytesSpeedAndEtaOnceTheDaemonReportsThem) {
  PullProgress pull = Pull("nginx:1.25", v1::IMAGE_PULL_PHASE_PULLING, 25);
  EXPECT_EQ(ProgressLine(pull, 12, 10),
            "nginx:1.25    [==>       ]  25%  pulling    attempt 1  12s");
  pull.done_bytes = 10 * 1024 * 1024;
  pull.total_bytes = 40 * 1024 * 1024;
  pull.bytes_per_second = 2 * 1024 * 1024;
  EXPECT_THAT(ProgressLine(pull, 12, 10), HasSubstr("10.0MiB/40.0MiB  2.0MiB/s  ETA 15s"));
  EXPECT_THAT(PlainProgressLine(pull), HasSubstr("bytes=10485760/41943040"));
}

TEST(ProgressBarTest, PlainViewPrintsOnChangeAndPeriodicallyWhilePulling) {
  std::ostringstream out;
  ProgressView view(out, /*terminal=*/false, 100, absl::Seconds(5));
  view.Update({Pull("a:1", v1::IMAGE_PULL_PHASE_PULLING, 0)}, kNow);
  view.Update({Pull("a:1", v1::IMAGE_PULL_PHASE_PULLING, 0)},
              kNow + absl::Seconds(1));  // unchanged
  view.Update({Pull("a:1", v1::IMAGE_PULL_PHASE_PULLING, 0)}, kNow + absl::Seconds(6));  // periodic
  view.Update({Pull("a:1", v1::IMAGE_PULL_PHASE_SUCCEEDED, 100)}, kNow + absl::Seconds(7));
  view.Update({Pull("a:1", v1::IMAGE_PULL_PHASE_SUCCEEDED, 100)},
              kNow + absl::Seconds(20));  // finished
  EXPECT_EQ(out.str(),
            "a:1 pulling 0% attempt=1 elapsed=12s\n"
            "a:1 pulling 0% attempt=1 elapsed=12s\n"
            "a:1 succeeded 100% attempt=1 elapsed=12s\n");
  EXPECT_THAT(out.str(), Not(HasSubstr("\x1b[")));
}

TEST(ProgressBarTest, TerminalViewRedrawsTheBlockInPlace) {
  std::ostringstream out;
  ProgressView view(out, /*terminal=*/true, 80);
  view.Update(
      {Pull("a:1", v1::IMAGE_PULL_PHASE_PULLING, 0), Pull("b:2", v1::IMAGE_PULL_PHASE_WAITING, 0)},
      kNow);
  const size_t first = out.str().size();
  view.Update({Pull("a:1", v1::IMAGE_PULL_PHASE_SUCCEEDED, 100),
               Pull("b:2", v1::IMAGE_PULL_PHASE_PULLING, 0)},
              kNow);
  const std::string second = out.str().substr(first);
  EXPECT_EQ(second.substr(0, 4), "\x1b[2A");  // back over the two lines drawn before
  EXPECT_THAT(second, HasSubstr("a:1  [====================] 100%  succeeded"));
}

TEST(ProgressBarTest, ProgressComesFromSpecTagsThenAdHocPulls) {
  v1::NodeImage node_image;
  v1::ImageStatus* image = node_image.mutable_status()->add_images();
  image->set_name("reg/app");
  v1::ImageTagStatus* tag = image->add_tags();
  tag->set_tag("1.0");
  tag->set_phase(v1::IMAGE_PULL_PHASE_SUCCEEDED);
  tag->set_progress(100);
  *tag->mutable_start_time() = ToProtoTime(kNow - absl::Seconds(10));
  *tag->mutable_completion_time() = ToProtoTime(kNow - absl::Seconds(4));
  image->add_tags()->set_tag("sha256:abc");
  v1::AdHocPullStatus* ad_hoc = node_image.mutable_status()->add_ad_hoc_pulls();
  ad_hoc->set_image("busybox:1");
  ad_hoc->mutable_status()->set_phase(v1::IMAGE_PULL_PHASE_PULLING);
  const std::vector<PullProgress> pulls = PullsFromNodeImage(node_image, kNow);
  ASSERT_EQ(pulls.size(), 3u);
  EXPECT_EQ(pulls[0].reference, "reg/app:1.0");
  EXPECT_EQ(pulls[0].elapsed, absl::Seconds(6));
  EXPECT_EQ(pulls[1].reference, "reg/app@sha256:abc");
  EXPECT_EQ(pulls[1].phase, v1::IMAGE_PULL_PHASE_WAITING);
  EXPECT_TRUE(pulls[2].ad_hoc);
  EXPECT_FALSE(pulls[2].done_bytes.has_value());  // today's API has no byte progress
}

TEST(ProgressBarTest, ByteProgressFillsBytesRateAndLayers) {
  v1::AdHocPullStatus ad_hoc;
  ad_hoc.set_image("reg/app:2");
  v1::ImageTagStatus& status = *ad_hoc.mutable_status();
  status.set_phase(v1::IMAGE_PULL_PHASE_PULLING);
  status.set_progress(37);
  status.set_attempts(1);
  v1::PullProgress& bytes = *status.mutable_pull_progress();
  bytes.set_source(v1::PROGRESS_SOURCE_BYTES);
  bytes.set_bytes_done(15 * 1024 * 1024);
  bytes.set_bytes_total(40 * 1024 * 1024);
  bytes.set_bytes_per_second(5 * 1024 * 1024);
  const struct {
    const char* digest;
    int64_t offset;
    int64_t size;
    v1::LayerState state;
  } layers[] = {
      {"sha256:aaaaaaaaaaaaaaaaaaaa", 10 << 20, 10 << 20, v1::LAYER_STATE_ALREADY_PRESENT},
      {"sha256:bbbbbbbbbbbbbbbbbbbb", 5 << 20, 20 << 20, v1::LAYER_STATE_DOWNLOADING},
      {"sha256:cccccccccccccccccccc", 0, 10 << 20, v1::LAYER_STATE_WAITING}};
  for (const auto& l : layers) {
    v1::LayerProgress& layer = *bytes.add_layers();
    layer.set_digest(l.digest);
    layer.set_offset(l.offset);
    layer.set_size(l.size);
    layer.set_state(l.state);
  }
  const PullProgress pull = PullFromAdHoc(ad_hoc, kNow);
  EXPECT_EQ(pull.done_bytes, 15 * 1024 * 1024);
  EXPECT_EQ(pull.total_bytes, 40 * 1024 * 1024);
  ASSERT_EQ(pull.layers.size(), 3u);
  EXPECT_EQ(pull.layers[0].state, "exists");
  EXPECT_EQ(pull.layers[1].state, "downloading");
  EXPECT_EQ(pull.layers[2].state, "waiting");
  EXPECT_EQ(PlainProgressLine(pull),
            "reg/app:2 pulling 37% attempt=1 elapsed=0s bytes=15728640/41943040 rate=5242880B/s");

  std::ostringstream out;
  ProgressView view(out, /*terminal=*/true, 100);
  view.Update({pull}, kNow);
  EXPECT_THAT(out.str(), HasSubstr("15.0MiB/40.0MiB  5.0MiB/s  ETA 5s"));
  EXPECT_THAT(out.str(),
              HasSubstr("sha256:bbbbbbbbbbbb [===>        ]  25%  5.0MiB/20.0MiB  downloading"));
  EXPECT_THAT(out.str(), HasSubstr("exists"));
}

TEST(ProgressBarTest, PlainViewPrintsMovingBytesOnlyPeriodically) {
  std::ostringstream out;
  ProgressView view(out, /*terminal=*/false, 100, absl::Seconds(5));
  PullProgress pull = Pull("a:1", v1::IMAGE_PULL_PHASE_PULLING, 10);
  pull.total_bytes = 1000;
  for (int i = 1; i <= 5; ++i) {  // a sample every second: one line, then one after 5 s
    pull.done_bytes = i * 100;
    pull.percent = i * 10;
    view.Update({pull}, kNow + absl::Seconds(i));
  }
  pull.done_bytes = 600;
  view.Update({pull}, kNow + absl::Seconds(6));
  EXPECT_EQ(out.str(),
            "a:1 pulling 10% attempt=1 elapsed=12s bytes=100/1000\n"
            "a:1 pulling 50% attempt=1 elapsed=12s bytes=600/1000\n");
}

TEST(ProgressBarTest, PhaseOnlyPullsSaySo) {
  v1::AdHocPullStatus ad_hoc;
  ad_hoc.set_image("reg/app:2");
  ad_hoc.mutable_status()->set_phase(v1::IMAGE_PULL_PHASE_PULLING);
  ad_hoc.mutable_status()->mutable_pull_progress()->set_source(v1::PROGRESS_SOURCE_PHASE_ONLY);
  ad_hoc.mutable_status()->mutable_pull_progress()->set_note("no content service");
  const PullProgress pull = PullFromAdHoc(ad_hoc, kNow);
  EXPECT_FALSE(pull.done_bytes.has_value());
  EXPECT_THAT(PlainProgressLine(pull), HasSubstr("progress=phase-only"));
  EXPECT_THAT(ProgressLine(pull, 10, 10), HasSubstr("(no byte progress)"));
}

TEST(ImagesSpecTest, SplitsReferencesAtTagAndDigest) {
  ASSERT_OK_AND_ASSIGN(ImageName a, SplitImageReference("reg.example.com:5000/team/app:1.2"));
  EXPECT_EQ(a.repository, "reg.example.com:5000/team/app");
  EXPECT_EQ(a.tag, "1.2");
  ASSERT_OK_AND_ASSIGN(ImageName b, SplitImageReference("reg.example.com:5000/team/app"));
  EXPECT_EQ(b.tag, "latest");
  ASSERT_OK_AND_ASSIGN(ImageName c, SplitImageReference("nginx@sha256:abc"));
  EXPECT_EQ(c.repository, "nginx");
  EXPECT_EQ(c.tag, "sha256:abc");
  ASSERT_OK_AND_ASSIGN(ImageName d, SplitImageReference("nginx:1.25@sha256:abc"));
  EXPECT_EQ(d.tag, "1.25@sha256:abc");
  EXPECT_THAT(SplitImageReference(":1").status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ImagesSpecTest, GroupsTagsByRepository) {
  ASSERT_OK_AND_ASSIGN(v1::NodeImageSpec spec,
                       NodeImageSpecOf({"a:1", "b:1", "a:2"}, v1::IMAGE_PULL_POLICY_ALWAYS));
  ASSERT_EQ(spec.images_size(), 2);
  EXPECT_EQ(spec.images(0).tags_size(), 2);
  EXPECT_EQ(spec.images(0).tags(1).tag(), "2");
  EXPECT_EQ(spec.images(0).tags(1).image_pull_policy(), v1::IMAGE_PULL_POLICY_ALWAYS);
  EXPECT_THAT(ParseImagePullPolicy("Never").status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(OutputFormatTest, RejectsUnknownFormatsAndWritesYaml) {
  EXPECT_THAT(ParseOutputFormat("xml").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-o")));
  const std::string yaml = ToYaml(Request("r1", v1::RECREATE_PHASE_PENDING, {}));
  EXPECT_THAT(yaml, HasSubstr("name: r1"));
  EXPECT_THAT(yaml, HasSubstr("phase: RECREATE_PHASE_PENDING"));
}

TEST(CompletionTest, ScriptFollowsTheCommandTree) {
  CLI::App app{"test", "tool"};
  std::string socket;
  app.add_option("--socket", socket);
  CLI::App* images = app.add_subcommand("images");
  CLI::App* pull = images->add_subcommand("pull");
  bool detach = false;
  pull->add_flag("--detach", detach);
  std::string file;
  app.add_subcommand("apply")->add_option("-f,--filename", file);
  const std::string script = BashCompletion(app, "tool");
  EXPECT_THAT(script, HasSubstr("root:images) node=root_images ;;"));
  EXPECT_THAT(script, HasSubstr("root_images:pull) node=root_images_pull ;;"));
  EXPECT_THAT(
      script,
      HasSubstr(
          "root_images_pull) words=\"-h --help --socket --detach\""));  // parent flags fall through
  EXPECT_THAT(script, HasSubstr("--filename|--socket|-f) ((i++))"));    // valued flags skip a word
  EXPECT_THAT(script, HasSubstr("complete -F _tool tool"));
}

}  // namespace
}  // namespace inplaced::cli
