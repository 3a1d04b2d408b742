#pragma once

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "imagepull/nodeimage_manager.h"

namespace inplaced::imagepull {

class MockNodeImageManager : public NodeImageManager {
 public:
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::NodeImage>, SetNodeImage,
              (const ::inplaced::v1::SetNodeImageRequest&), (override));
  MOCK_METHOD(::inplaced::v1::NodeImage, GetNodeImage, (), (const, override));
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::AdHocPullStatus>, PullImage,
              (const ::inplaced::v1::PullImageRequest&), (override));
  MOCK_METHOD(absl::StatusOr<::inplaced::v1::AdHocPullStatus>, WaitAdHocPull,
              (const std::string&, Cancellation*), (override));
  MOCK_METHOD(absl::StatusOr<std::unique_ptr<::inplaced::Watch<::inplaced::v1::NodeImage>>>, Watch,
              (const ::inplaced::v1::WatchNodeImageRequest&), (override));
};

}  // namespace inplaced::imagepull
