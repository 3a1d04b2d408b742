#pragma once

#include <memory>

#include "daemon/recreate/recreate_manager.h"
#include "gmock/gmock.h"

namespace inplaced::daemon {

class MockRecreateManager : public RecreateManager {
 public:
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::CreateRecreateRequestResponse>, Create,
              (const ::inplaced::v1::CreateRecreateRequestRequest&), (override));
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::RecreateRequest>, Get,
              (const ::inplaced::v1::GetRecreateRequestRequest&), (override));
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::ListRecreateRequestsResponse>, List,
              (const ::inplaced::v1::ListRecreateRequestsRequest&), (override));
  MOCK_METHOD(absl::Status, Delete, (const ::inplaced::v1::DeleteRecreateRequestRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::RecreateRequest>, AcknowledgeUnready,
              (const ::inplaced::v1::AcknowledgeUnreadyRequest&), (override));
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::RecreateRequest>, ReportReadiness,
              (const ::inplaced::v1::ReportReadinessRequest&), (override));
  MOCK_METHOD(absl::StatusOr<std::unique_ptr<RecreateWatch>>, Watch,
              (const ::inplaced::v1::WatchRecreateRequestsRequest&), (override));
};

}  // namespace inplaced::daemon
