#include "tests/fakes/call_counter.h"

#include "absl/strings/str_cat.h"

namespace inplaced::fakes {
namespace {

class CountingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(CallCounter& counter) : counter_(counter) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // "/runtime.v1.RuntimeService/ListContainers" -> "ListContainers".
    absl::string_view method = info->method() == nullptr ? "" : info->method();
    if (const size_t slash = method.rfind('/'); slash != absl::string_view::npos) {
      method.remove_prefix(slash + 1);
    }
    counter_.Count(method);
    return nullptr;  // nothing to intercept: counting at creation is all
  }

 private:
  CallCounter& counter_;
};

}  // namespace

void CallCounter::Count(absl::string_view method) {
  absl::MutexLock lock(&mu_);
  ++counts_[std::string(method)];
}

std::map<std::string, int64_t> CallCounter::Counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

std::string CallCounter::Line() const {
  const std::map<std::string, int64_t> counts = Counts();
  int64_t total = 0;
  std::string methods;
  for (const auto& [method, count] : counts) {
    total += count;
    absl::StrAppend(&methods, " ", method, "=", count);
  }
  return absl::StrCat("calls total=", total, methods);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallCounter::InterceptorFactory() {
  return std::make_unique<CountingFactory>(*this);
}

}  // namespace inplaced::fakes
