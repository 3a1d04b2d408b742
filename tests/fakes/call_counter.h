#pragma once

// CallCounter: how many RPCs of each method the fake CRI server received (counted when each call
// arrives, whatever its outcome), for benchmarks that judge a daemon by the calls it makes. The
// server counts through a gRPC server interceptor (InterceptorFactory), so only calls made over the
// socket are counted: the in-process kubelet stand-in's reads are not. Thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"

namespace inplaced::fakes {

class CallCounter {
 public:
  // Counts one call of `method` (the bare method name, e.g. "ListContainers").
  void Count(absl::string_view method);
  // Every method called so far with its count.
  std::map<std::string, int64_t> Counts() const;
  // "calls total=N ListContainers=N ..." (methods in name order): one line, no newline.
  std::string Line() const;

  // A factory for grpc::ServerBuilder::experimental().SetInterceptorCreators that counts every
  // call into this counter (which must outlive the server). It adds no interceptor to the call.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::fakes
