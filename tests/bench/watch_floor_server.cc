// watch_floor_server: the floor of daemon_bench's part d. A gRPC server with nothing but
// inplaced.v1.RecreateService/WatchRecreateRequests on gRPC's callback API: each stream is written
// one SYNCED event and then held until the client cancels it. What its RSS grows by with 2,000
// streams open is what gRPC itself keeps per open stream (the call's arena: its filters, HTTP/2
// stream and metadata), measured in the same run as the daemon so that the daemon's own per-stream
// cost can be told from it.
//
//   watch_floor_server --socket PATH   prints "ready" on stdout once serving; SIGTERM stops it.

#include <signal.h>

#include <iostream>
#include <memory>
#include <string>

#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "common/process_setup.h"
#include "grpcpp/grpcpp.h"

namespace {

namespace api = ::inplaced::v1;

// One open stream: SYNCED written once, then nothing until the client goes.
class HeldStream final : public grpc::ServerWriteReactor<api::WatchRecreateRequestsResponse> {
 public:
  HeldStream() {
    synced_.set_type(api::WATCH_EVENT_TYPE_SYNCED);
    StartWrite(&synced_);
  }
  void OnWriteDone(bool) override {}
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }

 private:
  api::WatchRecreateRequestsResponse synced_;
};

class FloorService final : public api::RecreateService::CallbackService {
  grpc::ServerWriteReactor<api::WatchRecreateRequestsResponse>* WatchRecreateRequests(
      grpc::CallbackServerContext*, const api::WatchRecreateRequestsRequest*) override {
    return new HeldStream();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--socket") {
    std::cerr << "usage: watch_floor_server --socket PATH" << std::endl;
    return 2;
  }
  // The daemon's process settings (malloc arenas), so that both count the same way.
  inplaced::ApplyProcessSettings();
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FloorService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("unix:") + argv[2], grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::cerr << "cannot serve on " << argv[2] << std::endl;
    return 1;
  }
  std::cout << "ready" << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  server->Shutdown();
  return 0;
}
