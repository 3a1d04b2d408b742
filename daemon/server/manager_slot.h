#pragma once

// A RecreateManager that forwards to one set later. The control server starts before the engine has
// loaded its state (so that health answers NOT_SERVING and calls UNAVAILABLE meanwhile, instead of
// "connection refused"); RecreateService is built over this slot, and the engine is put in it before
// the daemon turns SERVING.

#include <atomic>
#include <memory>

#include "daemon/recreate/recreate_manager.h"

namespace inplaced::daemon {

// Thread-safe. Set() once; the target must outlive the slot's use.
class ManagerSlot final : public RecreateManager {
 public:
  void Set(RecreateManager* target) { target_.store(target, std::memory_order_release); }

  absl::StatusOr<::inplaced::v1::CreateRecreateRequestResponse> Create(
      const ::inplaced::v1::CreateRecreateRequestRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->Create(request);
    return Unset();
  }
  absl::StatusOr<::inplaced::v1::RecreateRequest> Get(
      const ::inplaced::v1::GetRecreateRequestRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->Get(request);
    return Unset();
  }
  absl::StatusOr<::inplaced::v1::ListRecreateRequestsResponse> List(
      const ::inplaced::v1::ListRecreateRequestsRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->List(request);
    return Unset();
  }
  absl::Status Delete(const ::inplaced::v1::DeleteRecreateRequestRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->Delete(request);
    return Unset();
  }
  absl::StatusOr<::inplaced::v1::RecreateRequest> AcknowledgeUnready(
      const ::inplaced::v1::AcknowledgeUnreadyRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->AcknowledgeUnready(request);
    return Unset();
  }
  absl::StatusOr<::inplaced::v1::RecreateRequest> ReportReadiness(
      const ::inplaced::v1::ReportReadinessRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->ReportReadiness(request);
    return Unset();
  }
  absl::StatusOr<std::unique_ptr<RecreateWatch>> Watch(
      const ::inplaced::v1::WatchRecreateRequestsRequest& request) override {
    if (RecreateManager* target = target_or_null()) return target->Watch(request);
    return Unset();
  }

 private:
  RecreateManager* target_or_null() const { return target_.load(std::memory_order_acquire); }
  static absl::Status Unset() { return absl::UnavailableError("inplaced is starting: retry"); }

  std::atomic<RecreateManager*> target_{nullptr};
};

}  // namespace inplaced::daemon
