#include "cli/images_commands.h"

#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command_result.h"
#include "cli/exit_codes.h"
#include "cli/file_input.h"
#include "cli/images_spec.h"
#include "cli/images_view.h"
#include "cli/output_format.h"
#include "cli/progress_bar.h"
#include "cli/terminal.h"
#include "common/status_macros.h"

namespace inplaced::cli {
namespace {

using SelectPulls = std::function<std::vector<PullProgress>(const v1::NodeImage&, absl::Time)>;

// Follows the NodeImage stream and shows the pulls `select` picks. A ticker thread redraws between
// stream messages (elapsed time on a terminal, the periodic plain lines elsewhere): today's API
// only sends a message when a phase changes.
class PullFollower {
 public:
  PullFollower(SelectPulls select, bool terminal)
      : select_(std::move(select)),
        view_(std::cout, terminal, TerminalWidth(STDOUT_FILENO)),
        tick_(terminal ? absl::Milliseconds(500) : absl::Seconds(5)) {}

  // Until every selected pull finished (when `until_done`; at least one pull must be selected), or
  // the stream ends. Returns kExitFailed when a selected pull failed.
  absl::StatusOr<int> Run(DaemonClient& client, bool until_done, absl::Time deadline) {
    std::thread ticker([this] { Tick(); });
    int exit_code = kExitOk;
    const absl::Status status =
        client.WatchNodeImage(deadline, [&](const v1::NodeImage& node_image) {
          std::lock_guard<std::mutex> lock(mu_);
          latest_ = node_image;
          const std::vector<PullProgress> pulls = select_(node_image, absl::Now());
          view_.Update(pulls, absl::Now());
          if (!until_done || pulls.empty()) return true;
          bool failed = false;
          for (const PullProgress& pull : pulls) {
            if (!PullFinished(pull.phase)) return true;
            failed |= pull.phase == v1::IMAGE_PULL_PHASE_FAILED;
          }
          // Scripts read why on stderr: the runtime's gRPC code and message, as the daemon got them.
          for (const PullProgress& pull : pulls) {
            if (pull.phase != v1::IMAGE_PULL_PHASE_FAILED) continue;
            std::cerr << "inplacectl: pull of " << pull.reference << " failed: " << pull.message
                      << std::endl;
          }
          exit_code = failed ? kExitFailed : kExitOk;
          return false;
        });
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    ticker.join();
    if (status.code() == absl::StatusCode::kDeadlineExceeded && absl::Now() >= deadline) {
      std::cerr << "inplacectl: timed out before the pull finished\n";
      return kExitFailed;
    }
    if (!status.ok()) return status;
    return exit_code;
  }

 private:
  void Tick() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, absl::ToChronoMilliseconds(tick_), [this] { return stop_; })) {
      if (latest_) view_.Update(select_(*latest_, absl::Now()), absl::Now());
    }
  }

  SelectPulls select_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::optional<v1::NodeImage> latest_;
  ProgressView view_;
  absl::Duration tick_;
};

absl::Time DeadlineAfter(double seconds) {
  return seconds > 0 ? absl::Now() + absl::Seconds(seconds) : absl::InfiniteFuture();
}

// The docker config JSON documents of the --pull-secret-file flags (SECRET: never printed).
absl::StatusOr<std::vector<std::string>> ReadSecrets(const std::vector<std::string>& files) {
  std::vector<std::string> secrets;
  for (const std::string& file : files) {
    ASSIGN_OR_RETURN(std::string secret, ReadFileOrStdin(file, "--pull-secret-file"));
    secrets.push_back(std::move(secret));
  }
  return secrets;
}

void AddSecretFileOption(CLI::App& command, std::vector<std::string>* files) {
  command.add_option(
      "--pull-secret-file", *files,
      "A docker config JSON file ({\"auths\": ...}), sent as a pull secret; repeatable");
}

struct SetArgs {
  std::vector<std::string> references;
  std::vector<std::string> secret_files;
  std::string pull_policy;
  bool force = false;
};

absl::StatusOr<int> RunSet(const DaemonFlags& daemon, const SetArgs& args) {
  ASSIGN_OR_RETURN(v1::ImagePullPolicy policy, ParseImagePullPolicy(args.pull_policy));
  v1::SetNodeImageRequest request;
  ASSIGN_OR_RETURN(*request.mutable_spec(), NodeImageSpecOf(args.references, policy));
  ASSIGN_OR_RETURN(const std::vector<std::string> secrets, ReadSecrets(args.secret_files));
  for (v1::ImageSpec& image : *request.mutable_spec()->mutable_images()) {
    for (const std::string& secret : secrets) image.add_pull_secrets(secret);
  }
  DaemonClient client(daemon);
  if (args.force) {
    request.set_force(true);
  } else {
    ASSIGN_OR_RETURN(v1::NodeImage current, client.GetNodeImage());
    request.set_expected_generation(current.metadata().generation());
  }
  ASSIGN_OR_RETURN(v1::NodeImage updated, client.SetNodeImage(request));
  std::cout << "nodeimage configured: " << NodeImageSummary(updated) << std::endl;
  return kExitOk;
}

absl::StatusOr<int> RunGet(const DaemonFlags& daemon, const std::string& output) {
  ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(output));
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(v1::NodeImage node_image, client.GetNodeImage());
  switch (format) {
    case OutputFormat::kJson:
      std::cout << ToJson(node_image);
      break;
    case OutputFormat::kYaml:
      std::cout << ToYaml(node_image);
      break;
    default:
      std::cout << ImagesTable(node_image, format == OutputFormat::kWide, absl::Now());
  }
  return kExitOk;
}

struct PullArgs {
  std::string reference;
  std::vector<std::string> secret_files;
  std::string pull_policy;
  bool detach = false;
  double timeout_seconds = 0;
  int retries = -1;  // PullPolicy.backoff_limit; -1: the daemon's default
};

absl::StatusOr<int> RunPull(const DaemonFlags& daemon, const PullArgs& args) {
  ASSIGN_OR_RETURN(v1::ImagePullPolicy policy, ParseImagePullPolicy(args.pull_policy));
  v1::PullImageRequest request;
  request.set_image(args.reference);
  request.set_image_pull_policy(policy);
  if (args.retries >= 0) request.mutable_pull_policy()->set_backoff_limit(args.retries);
  ASSIGN_OR_RETURN(const std::vector<std::string> secrets, ReadSecrets(args.secret_files));
  for (const std::string& secret : secrets) request.add_pull_secrets(secret);
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(v1::AdHocPullStatus started, client.PullImage(request));
  if (args.detach) {
    std::cout << PlainProgressLine(PullFromAdHoc(started, absl::Now())) << std::endl;
    return kExitOk;
  }
  // The newest ad hoc pull of this reference is ours (a finished one of it starts a new entry).
  const std::string reference = args.reference;
  PullFollower follower(
      [reference](const v1::NodeImage& node_image, absl::Time now) {
        std::vector<PullProgress> pulls;
        const auto& ad_hoc = node_image.status().ad_hoc_pulls();
        for (auto it = ad_hoc.rbegin(); it != ad_hoc.rend(); ++it) {
          if (it->image() == reference) {
            pulls.push_back(PullFromAdHoc(*it, now));
            break;
          }
        }
        return pulls;
      },
      IsTerminal(STDOUT_FILENO));
  return follower.Run(client, /*until_done=*/true, DeadlineAfter(args.timeout_seconds));
}

absl::StatusOr<int> RunWatch(const DaemonFlags& daemon, bool until_done, double timeout_seconds) {
  DaemonClient client(daemon);
  PullFollower follower(PullsFromNodeImage, IsTerminal(STDOUT_FILENO));
  return follower.Run(client, until_done, DeadlineAfter(timeout_seconds));
}

}  // namespace

void AddImagesCommands(CLI::App& app, DaemonFlags* daemon, int* exit_code) {
  CLI::App* images = app.add_subcommand("images", "Pre-pull images (inplaced.v1.NodeImageService)");
  images->group("Pre-pull images");
  images->require_subcommand(1);

  auto set_args = std::make_shared<SetArgs>();
  CLI::App* set =
      images->add_subcommand("set", "Replace the node's NodeImage spec with these images");
  set->add_option("references", set_args->references,
                  "Image references (repo:tag, repo@sha256:...)")
      ->required();
  set->add_option("--pull-policy", set_args->pull_policy,
                  "Always or IfNotPresent (default: IfNotPresent)");
  AddSecretFileOption(*set, &set_args->secret_files);
  set->add_flag("--force", set_args->force, "Replace whatever the current generation is");
  set->callback(RunCommand(exit_code, [daemon, set_args] { return RunSet(*daemon, *set_args); }));

  auto output = std::make_shared<std::string>();
  CLI::App* get =
      images->add_subcommand("get", "Show the node's NodeImage: every tag and ad hoc pull");
  get->add_option("-o,--output", *output, "table, wide, json or yaml");
  get->callback(RunCommand(exit_code, [daemon, output] { return RunGet(*daemon, *output); }));

  auto pull_args = std::make_shared<PullArgs>();
  CLI::App* pull = images->add_subcommand("pull",
                                          "Pull one image through inplaced and show its progress; "
                                          "exit 0 when it succeeded, 1 when it failed");
  pull->add_option("reference", pull_args->reference, "Image reference")->required();
  pull->add_option("--pull-policy", pull_args->pull_policy,
                   "Always or IfNotPresent (default: IfNotPresent)");
  AddSecretFileOption(*pull, &pull_args->secret_files);
  pull->add_flag("--detach", pull_args->detach, "Start the pull and return");
  pull->add_option("--retries", pull_args->retries,
                   "Attempts after a failed one (the pull policy's backoff_limit, 0-100; default: "
                   "the daemon's, 3)")
      ->check(CLI::Range(0, 100));
  pull->add_option("--timeout", pull_args->timeout_seconds,
                   "Stop following after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  pull->callback(
      RunCommand(exit_code, [daemon, pull_args] { return RunPull(*daemon, *pull_args); }));

  struct WatchArgs {
    bool until_done = false;
    double timeout_seconds = 0;
  };
  auto watch_args = std::make_shared<WatchArgs>();
  CLI::App* watch =
      images->add_subcommand("watch", "Show the progress of every pull as it changes");
  watch->add_flag("--until-done", watch_args->until_done,
                  "Exit once no pull is waiting or pulling: 0 if none failed, else 1");
  watch
      ->add_option("--timeout", watch_args->timeout_seconds,
                   "Stop after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  watch->callback(RunCommand(exit_code, [daemon, watch_args] {
    return RunWatch(*daemon, watch_args->until_done, watch_args->timeout_seconds);
  }));
}

}  // namespace inplaced::cli
