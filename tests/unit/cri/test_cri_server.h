#pragma once

// A tiny CRI gRPC server for cri/ unit tests: only the methods the tests call, each recording the
// deadline the client sent. Behaviour is chosen by magic ids ("missing" answers NOT_FOUND, "hang"
// blocks until the client cancels).

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.grpc.pb.h"
#include "gtest/gtest.h"

namespace inplaced::cri::testing {

namespace criv1 = ::runtime::v1;
using TimePoint = std::chrono::system_clock::time_point;

// Shared between the services: recorded deadlines and hang/cancel notifications.
class ServerLog {
 public:
  void Record(const std::string& method, const grpc::ServerContext* context) {
    absl::MutexLock lock(&mu_);
    deadlines_[method] = context->deadline();
  }
  bool Called(const std::string& method) {
    absl::MutexLock lock(&mu_);
    return deadlines_.count(method) > 0;
  }
  TimePoint Deadline(const std::string& method) {
    absl::MutexLock lock(&mu_);
    return deadlines_.at(method);
  }

  // Blocks a handler until the client cancels (bounded so a broken test cannot hang the suite).
  // Several handlers may hang at once: the notifications fire for the first.
  grpc::Status HangUntilCancelled(grpc::ServerContext* context) {
    {
      absl::MutexLock lock(&mu_);
      ++hanging_;
      if (!hang_started.HasBeenNotified()) hang_started.Notify();
    }
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (!context->IsCancelled() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(2));
    absl::MutexLock lock(&mu_);
    if (context->IsCancelled()) {
      ++cancelled_;
      if (!saw_cancel.HasBeenNotified()) saw_cancel.Notify();
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }
  // Blocks until `n` handlers have started hanging (bounded by `timeout`); whether they had.
  bool WaitHanging(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return hanging_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }
  // Hanging handlers that saw their call cancelled.
  int CancelledHangs() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  absl::Notification hang_started;
  absl::Notification saw_cancel;

 private:
  absl::Mutex mu_;
  std::map<std::string, TimePoint> deadlines_ ABSL_GUARDED_BY(mu_);
  int hanging_ ABSL_GUARDED_BY(mu_) = 0;
  int cancelled_ ABSL_GUARDED_BY(mu_) = 0;
};

// Slack for converting between the client's absolute deadline, the grpc-timeout header and the
// server's clock; far below the differences the tests tell apart (30 s and more).
inline constexpr std::chrono::seconds kDeadlineSlack(2);

// Checks that the deadline `log` recorded for `method` lies in [before + expected, after +
// expected] (with slack), `before` and `after` bracketing the call.
inline void ExpectDeadline(ServerLog& log, const std::string& method, TimePoint before,
                           TimePoint after, std::chrono::seconds expected) {
  ASSERT_TRUE(log.Called(method)) << method;
  const TimePoint deadline = log.Deadline(method);
  ASSERT_NE(deadline, TimePoint::max()) << method << " has no deadline";
  EXPECT_GE(deadline, before + expected - kDeadlineSlack) << method;
  EXPECT_LE(deadline, after + expected + kDeadlineSlack) << method;
}

class TestRuntimeService final : public criv1::RuntimeService::Service {
 public:
  enum class EventsMode { kTwoEventsThenOk, kHang, kUnimplemented };

  TestRuntimeService(ServerLog* log, criv1::VersionResponse version, EventsMode events_mode)
      : log_(log), version_(std::move(version)), events_mode_(events_mode) {}

  grpc::Status Version(grpc::ServerContext* c, const criv1::VersionRequest*,
                       criv1::VersionResponse* response) override {
    log_->Record("Version", c);
    *response = version_;
    return grpc::Status::OK;
  }
  grpc::Status RunPodSandbox(grpc::ServerContext* c, const criv1::RunPodSandboxRequest*,
                             criv1::RunPodSandboxResponse* response) override {
    log_->Record("RunPodSandbox", c);
    response->set_pod_sandbox_id("sb-1");
    return grpc::Status::OK;
  }
  grpc::Status ListContainers(grpc::ServerContext* c, const criv1::ListContainersRequest* request,
                              criv1::ListContainersResponse* response) override {
    log_->Record("ListContainers", c);
    criv1::Container* container = response->add_containers();
    container->set_id("c1");
    // A big answer on demand, to test the receive limit.
    if (request->filter().id() == "big") {
      (*container->mutable_labels())["big"] = std::string(64 * 1024, 'x');
    }
    return grpc::Status::OK;
  }
  grpc::Status StopContainer(grpc::ServerContext* c, const criv1::StopContainerRequest* request,
                             criv1::StopContainerResponse*) override {
    log_->Record("StopContainer", c);
    if (request->container_id() == "hang") return log_->HangUntilCancelled(c);
    return Lookup(request->container_id());
  }
  grpc::Status StartContainer(grpc::ServerContext* c, const criv1::StartContainerRequest* request,
                              criv1::StartContainerResponse*) override {
    log_->Record("StartContainer", c);
    return Lookup(request->container_id());
  }
  grpc::Status RemoveContainer(grpc::ServerContext* c, const criv1::RemoveContainerRequest* request,
                               criv1::RemoveContainerResponse*) override {
    log_->Record("RemoveContainer", c);
    return Lookup(request->container_id());
  }
  grpc::Status ContainerStatus(grpc::ServerContext* c, const criv1::ContainerStatusRequest* request,
                               criv1::ContainerStatusResponse* response) override {
    log_->Record("ContainerStatus", c);
    grpc::Status status = Lookup(request->container_id());
    if (status.ok()) response->mutable_status()->set_id(request->container_id());
    return status;
  }
  grpc::Status ExecSync(grpc::ServerContext* c, const criv1::ExecSyncRequest* request,
                        criv1::ExecSyncResponse* response) override {
    log_->Record("ExecSync", c);
    if (request->container_id() == "hang") return log_->HangUntilCancelled(c);
    if (request->container_id() == "missing") return Lookup(request->container_id());
    response->set_stdout("hi");
    response->set_exit_code(3);
    return grpc::Status::OK;
  }
  grpc::Status GetContainerEvents(
      grpc::ServerContext* c, const criv1::GetEventsRequest*,
      grpc::ServerWriter<criv1::ContainerEventResponse>* writer) override {
    log_->Record("GetContainerEvents", c);
    switch (events_mode_) {
      case EventsMode::kUnimplemented:
        return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not implemented yet");
      case EventsMode::kHang:
        return log_->HangUntilCancelled(c);
      case EventsMode::kTwoEventsThenOk:
        break;
    }
    criv1::ContainerEventResponse event;
    event.set_container_id("c1");
    event.set_container_event_type(criv1::CONTAINER_STOPPED_EVENT);
    writer->Write(event);
    event.set_container_id("c2");
    event.set_container_event_type(criv1::CONTAINER_STARTED_EVENT);
    writer->Write(event);
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Lookup(const std::string& id) {
    if (id == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "container \"missing\" not found");
    }
    return grpc::Status::OK;
  }

  ServerLog* log_;
  const criv1::VersionResponse version_;
  const EventsMode events_mode_;
};

class TestImageService final : public criv1::ImageService::Service {
 public:
  explicit TestImageService(ServerLog* log) : log_(log) {}

  grpc::Status PullImage(grpc::ServerContext* c, const criv1::PullImageRequest* request,
                         criv1::PullImageResponse* response) override {
    log_->Record("PullImage", c);
    if (request->image().image() == "hang") return log_->HangUntilCancelled(c);
    response->set_image_ref("sha256:" + request->image().image());
    return grpc::Status::OK;
  }

 private:
  ServerLog* log_;
};

struct TestServerOptions {
  bool serve_runtime_service = true;  // false: like containerd with the CRI plugin disabled
  std::string api_version = "v1";
  std::string runtime_version = "1.6.20~ds1";
  TestRuntimeService::EventsMode events_mode = TestRuntimeService::EventsMode::kTwoEventsThenOk;
};

// Serves the test services on a unix socket until destroyed.
class TestCriServer {
 public:
  TestCriServer(const std::string& socket_path, const TestServerOptions& options)
      : runtime_service_(&log, MakeVersion(options), options.events_mode), image_service_(&log) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_path, grpc::InsecureServerCredentials());
    if (options.serve_runtime_service) builder.RegisterService(&runtime_service_);
    builder.RegisterService(&image_service_);
    server_ = builder.BuildAndStart();
  }
  ~TestCriServer() {
    // An immediate deadline cancels in-flight calls, so hanging handlers return.
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  bool ok() const { return server_ != nullptr; }

  ServerLog log;

 private:
  static criv1::VersionResponse MakeVersion(const TestServerOptions& options) {
    criv1::VersionResponse version;
    version.set_version("0.1.0");
    version.set_runtime_name("containerd");
    version.set_runtime_version(options.runtime_version);
    version.set_runtime_api_version(options.api_version);
    return version;
  }

  TestRuntimeService runtime_service_;
  TestImageService image_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace inplaced::cri::testing
