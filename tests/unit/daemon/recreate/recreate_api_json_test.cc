// Pins the JSON shape of the control API as grpcurl / `buf curl` users type it (the README's manual
// recreate), and what the JSON parser already refuses before validation runs.

#include <string>

#include "api/inplaced/v1/recreate.pb.h"
#include "daemon/recreate/recreate_validation.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Status ParseCreate(const std::string& json, api::CreateRecreateRequestRequest* request) {
  auto status = google::protobuf::util::JsonStringToMessage(json, request);
  if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
  return absl::OkStatus();
}

TEST(RecreateApiJsonTest, ManualRecreateBodyParsesAndValidates) {
  const std::string json = R"({
    "namespace": "default",
    "name": "restart-web-0",
    "spec": {
      "podName": "web-0",
      "containers": [
        {"name": "app", "preStop": {"exec": {"command": ["sh", "-c", "touch /tmp/bye"]}}},
        {"name": "proxy", "statusContext": {"containerId": "containerd://0123abcd", "restartCount": 1},
         "preStop": {"httpGet": {"path": "/drain", "portName": "admin", "scheme": "HTTP",
                                 "httpHeaders": [{"name": "X-Reason", "value": "recreate"}]}},
         "ports": [{"name": "admin", "containerPort": 9901}]}
      ],
      "strategy": {"failurePolicy": "FAILURE_POLICY_IGNORE", "orderedRecreate": true,
                   "terminationGracePeriodSeconds": "10", "minStartedSeconds": "5"},
      "activeDeadlineSeconds": "300",
      "ttlSecondsAfterFinished": "600",
      "readinessSource": "READINESS_SOURCE_RUNTIME"
    }
  })";
  api::CreateRecreateRequestRequest request;
  ASSERT_OK(ParseCreate(json, &request));
  EXPECT_OK(ValidateCreateRecreateRequest(request, ValidationLimits{}));
  EXPECT_EQ(request.spec().containers(1).pre_stop().http_get().port_name(), "admin");
  EXPECT_TRUE(request.spec().strategy().has_termination_grace_period_seconds());
  EXPECT_EQ(request.spec().strategy().termination_grace_period_seconds(), 10);
  EXPECT_FALSE(request.spec().strategy().has_unready_grace_period_seconds());
  EXPECT_EQ(request.spec().active_deadline_seconds(), 300);
}

TEST(RecreateApiJsonTest, TwoPreStopActionsDoNotParse) {
  // The "several handlers" case of the API is refused by the JSON parser (a oneof set twice); on
  // the binary wire the last action wins, so validation only has to refuse an empty handler.
  api::CreateRecreateRequestRequest request;
  EXPECT_THAT(ParseCreate(R"({"spec": {"containers": [{"name": "app", "preStop":
                 {"exec": {"command": ["true"]}, "sleep": {"seconds": "1"}}}]}})",
                          &request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("oneof field 'action' is already set")));
}

TEST(RecreateApiJsonTest, UnknownEnumNameDoesNotParse) {
  api::CreateRecreateRequestRequest request;
  EXPECT_THAT(ParseCreate(R"({"spec": {"strategy": {"failurePolicy": "RETRY"}}})", &request),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RecreateApiJsonTest, UnknownEnumNumberParsesAndValidationRejectsIt) {
  // Proto3 enums are open: a number the daemon does not know survives parsing, hence the *_IsValid
  // checks in validation.
  api::CreateRecreateRequestRequest request;
  ASSERT_OK(ParseCreate(R"({"namespace": "default", "name": "r1", "spec": {"podName": "web-0",
                            "containers": [{"name": "app"}], "readinessSource": 7}})",
                        &request));
  EXPECT_THAT(ValidateCreateRecreateRequest(request, ValidationLimits{}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("spec.readiness_source: unknown value 7")));
}

}  // namespace
}  // namespace inplaced::daemon
