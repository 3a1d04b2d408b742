#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::fakes {

// How GetContainerEvents behaves (cri-reference.md §4.2, §4.4).
enum class EventsMode {
  kUnimplemented,    // containerd 1.6: UNIMPLEMENTED.
  kEndsImmediately,  // CRI-O without enable_pod_events: the stream ends at once with OK.
  kSharedChannel,  // containerd 1.7: one buffered channel (1000) that all subscribers compete for.
  kBroadcast,      // containerd 2.x, CRI-O with pod events: every subscriber sees every event.
  kSilent,         // a stream that stays open and delivers nothing: containerd 1.7 when another
                   // subscriber (kubelet's evented PLEG) drains the shared channel first.
};

// What ExecSync answers when the command outlives its timeout (cri-reference.md §4.5).
enum class ExecTimeoutStyle {
  kDeadlineExceeded,  // containerd: DEADLINE_EXCEEDED.
  kExitCodeMinusOne,  // CRI-O: OK with exit_code -1.
};

// What PullImageResponse.image_ref holds (cri-reference.md §4.7).
enum class PullImageRefStyle {
  kImageId,     // containerd: the config digest "sha256:...".
  kRepoDigest,  // CRI-O before 1.36: "repo@sha256:...".
};

// The observable behaviour of one runtime version, in one place. FakeRuntime reads only this struct
// to decide between runtime-specific answers; tests may start from a factory and change single
// fields.
struct RuntimeProfile {
  std::string runtime_name;
  std::string runtime_version;
  // The runtime's default CRI socket (informational; the fake server listens where it is told).
  std::string socket_path;
  EventsMode events = EventsMode::kBroadcast;
  // StopContainer of an unknown id: NOT_FOUND (containerd 1.6.0–1.6.34, 1.7.0–1.7.20) or OK.
  bool stop_unknown_is_not_found = false;
  // StopContainer with timeout 0 still sends the stop signal before SIGKILL (CRI-O).
  bool stop_signal_on_zero_timeout = false;
  ExecTimeoutStyle exec_timeout = ExecTimeoutStyle::kDeadlineExceeded;
  // ExecSync in a container that is not running: NOT_FOUND "container is not created or running"
  // (CRI-O) or UNKNOWN "failed to exec in container: container is in CONTAINER_EXITED state"
  // (containerd).
  bool exec_not_running_is_not_found = false;
  // ListImages returns every image whatever the filter (containerd).
  bool list_images_ignores_filter = true;
  PullImageRefStyle pull_image_ref = PullImageRefStyle::kImageId;

  // Debian bookworm's containerd 1.6.20~ds1.
  static RuntimeProfile Containerd16();
  // containerd 1.7.24: idempotent stop, shared event channel.
  static RuntimeProfile Containerd17();
  // containerd 2.x: idempotent stop, broadcast events.
  static RuntimeProfile Containerd20();
  // CRI-O 1.32 with pod events enabled.
  static RuntimeProfile CriO();

  // "containerd-1.6", "containerd-1.7", "containerd-2.0" or "cri-o"; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<RuntimeProfile> ByName(absl::string_view name);
};

}  // namespace inplaced::fakes
