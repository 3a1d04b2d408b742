#pragma once

// The harness of the integration suites that run the inplaced binary against the fake_cri_server
// binary over real unix sockets: a temp directory, both processes (owned by PID, stopped in
// TearDown at the latest) and a channel to the daemon. Each suite adds its own flags and makes the
// stubs of its own service; the binaries' paths come from the compile definitions
// FAKE_CRI_SERVER_PATH and INPLACED_PATH.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace inplaced::testing {

// A 30 s deadline: a daemon that stops answering fails the call, not the whole test by its timeout.
void SetDeadline(grpc::ClientContext* context);

class DaemonHarness : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The suite's own flags, after the shared ones (fake_cri_server: --socket; inplaced:
  // --runtime-endpoint, --socket, --state-dir).
  virtual std::vector<std::string> FakeRuntimeFlags() const { return {}; }
  virtual std::vector<std::string> DaemonFlags() const { return {}; }
  // Extra environment of the daemon ("NAME=value"), set through env(1) (same PID).
  virtual std::vector<std::string> DaemonEnvironment() const { return {}; }
  // Makes the suite's stubs on channel_; called for every daemon launched.
  virtual void MakeStubs() = 0;

  // Starts fake_cri_server on cri_socket_ (the suite's flags, then `extra_flags`) and waits until
  // ready.
  void StartFakeRuntime(std::vector<std::string> extra_flags = {});

  // LaunchDaemon, then WaitDaemonReady.
  void StartDaemon(std::vector<std::string> extra_flags = {});
  // Starts the daemon (the suite's flags, then `extra_flags`) without waiting for it to be ready;
  // the stubs are usable once the socket exists.
  void LaunchDaemon(std::vector<std::string> extra_flags = {});
  // Waits for the daemon's "inplaced ready" line, which must name socket_.
  void WaitDaemonReady();
  // SIGTERM: the daemon must exit 0.
  void StopDaemon();

  TempDir dir_;
  std::string cri_socket_;
  std::string socket_;
  std::unique_ptr<ChildProcess> fake_;
  std::unique_ptr<ChildProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace inplaced::testing
