#include "imagepull/nodeimage_validation.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kSecretPassword = "s3cr3t-Passw0rd";

api::SetNodeImageRequest ValidRequest() {
  api::SetNodeImageRequest request;
  api::ImageSpec* image = request.mutable_spec()->add_images();
  image->set_name("reg.example.com:5000/team/app");
  image->add_pull_secrets(absl::StrCat(R"({"auths":{"reg.example.com:5000":{"auth":")",
                                       absl::Base64Escape("alice:" + kSecretPassword), R"("}}})"));
  image->add_tags()->set_tag("1.2");
  image->add_tags()->set_tag(kDigest);
  image->add_tags()->set_tag("1.3@" + kDigest);
  api::ImageSpec* busybox = request.mutable_spec()->add_images();
  busybox->set_name("busybox");
  api::ImageTagSpec* tag = busybox->add_tags();
  tag->set_tag("latest");
  tag->set_version(4);
  tag->mutable_pull_policy()->set_timeout_seconds(30);
  tag->mutable_pull_policy()->set_backoff_limit(0);
  tag->mutable_pull_policy()->set_ttl_seconds_after_finished(0);
  tag->mutable_pull_policy()->set_active_deadline_seconds(100);
  tag->set_image_pull_policy(api::IMAGE_PULL_POLICY_ALWAYS);
  busybox->mutable_sandbox_config()->set_pod_name("web-0");
  (*busybox->mutable_sandbox_config()->mutable_labels())["app"] = "web";
  return request;
}

struct InvalidCase {
  std::string description;
  std::function<void(api::SetNodeImageRequest&)> mutate;
  std::string want_prefix;  // the field path the message must start with
};

TEST(NodeImageValidationTest, AcceptsAValidSpec) {
  EXPECT_THAT(ValidateSetNodeImage(ValidRequest(), {}), IsOk());
}

TEST(NodeImageValidationTest, AcceptsAnEmptySpec) {
  EXPECT_THAT(ValidateSetNodeImage(api::SetNodeImageRequest(), {}), IsOk());
}

TEST(NodeImageValidationTest, RejectsBadInputNamingTheField) {
  const std::vector<InvalidCase> cases = {
      {"negative expected generation", [](auto& r) { r.set_expected_generation(-1); },
       "expected_generation:"},
      {"too many images",
       [](auto& r) {
         for (int i = 0; i < 256; ++i) {
           api::ImageSpec* image = r.mutable_spec()->add_images();
           image->set_name(absl::StrCat("img", i));
           image->add_tags()->set_tag("1");
         }
       },
       "spec.images: at most 256 images"},
      {"empty name", [](auto& r) { r.mutable_spec()->mutable_images(0)->clear_name(); },
       "spec.images[0].name: required"},
      {"uppercase name",
       [](auto& r) { r.mutable_spec()->mutable_images(1)->set_name("reg.io/App"); },
       "spec.images[1].name:"},
      {"name with tag", [](auto& r) { r.mutable_spec()->mutable_images(1)->set_name("busybox:1"); },
       "spec.images[1].name: must be a repository without tag or digest"},
      {"name with digest",
       [](auto& r) { r.mutable_spec()->mutable_images(1)->set_name("busybox@" + kDigest); },
       "spec.images[1].name: must be a repository"},
      {"duplicate image", [](auto& r) { *r.mutable_spec()->add_images() = r.spec().images(1); },
       "spec.images[2].name: duplicate image \"busybox\""},
      {"no tags", [](auto& r) { r.mutable_spec()->mutable_images(1)->clear_tags(); },
       "spec.images[1].tags: at least one tag"},
      {"empty tag",
       [](auto& r) { r.mutable_spec()->mutable_images(0)->mutable_tags(1)->clear_tag(); },
       "spec.images[0].tags[1].tag: required"},
      {"bad tag characters",
       [](auto& r) { r.mutable_spec()->mutable_images(0)->mutable_tags(0)->set_tag("a/b"); },
       "spec.images[0].tags[0].tag: invalid tag"},
      {"tag starting with a dot",
       [](auto& r) { r.mutable_spec()->mutable_images(0)->mutable_tags(0)->set_tag(".x"); },
       "spec.images[0].tags[0].tag:"},
      {"short digest",
       [](auto& r) { r.mutable_spec()->mutable_images(0)->mutable_tags(1)->set_tag("sha256:abc"); },
       "spec.images[0].tags[1].tag:"},
      {"bad digest after tag",
       [](auto& r) {
         r.mutable_spec()->mutable_images(0)->mutable_tags(2)->set_tag("1@sha256:xyz");
       },
       "spec.images[0].tags[2].tag:"},
      {"duplicate tag",
       [](auto& r) { r.mutable_spec()->mutable_images(0)->mutable_tags(2)->set_tag("1.2"); },
       "spec.images[0].tags[2].tag: duplicate tag \"1.2\""},
      {"negative version",
       [](auto& r) { r.mutable_spec()->mutable_images(1)->mutable_tags(0)->set_version(-1); },
       "spec.images[1].tags[0].version: must not be negative"},
      {"zero timeout",
       [](auto& r) {
         r.mutable_spec()
             ->mutable_images(1)
             ->mutable_tags(0)
             ->mutable_pull_policy()
             ->set_timeout_seconds(0);
       },
       "spec.images[1].tags[0].pull_policy.timeout_seconds: must be at least 1"},
      {"absurd timeout",
       [](auto& r) {
         r.mutable_spec()
             ->mutable_images(1)
             ->mutable_tags(0)
             ->mutable_pull_policy()
             ->set_timeout_seconds(int64_t{1} << 40);
       },
       "spec.images[1].tags[0].pull_policy.timeout_seconds: must be at most"},
      {"negative backoff limit",
       [](auto& r) {
         r.mutable_spec()
             ->mutable_images(1)
             ->mutable_tags(0)
             ->mutable_pull_policy()
             ->set_backoff_limit(-1);
       },
       "spec.images[1].tags[0].pull_policy.backoff_limit: must be in 0-100"},
      {"absurd backoff limit",
       [](auto& r) {
         r.mutable_spec()
             ->mutable_images(1)
             ->mutable_tags(0)
             ->mutable_pull_policy()
             ->set_backoff_limit(1000);
       },
       "spec.images[1].tags[0].pull_policy.backoff_limit:"},
      {"negative ttl",
       [](auto& r) {
         r.mutable_spec()
             ->mutable_images(1)
             ->mutable_tags(0)
             ->mutable_pull_policy()
             ->set_ttl_seconds_after_finished(-5);
       },
       "spec.images[1].tags[0].pull_policy.ttl_seconds_after_finished: must not be negative"},
      {"zero deadline",
       [](auto& r) {
         r.mutable_spec()
             ->mutable_images(1)
             ->mutable_tags(0)
             ->mutable_pull_policy()
             ->set_active_deadline_seconds(0);
       },
       "spec.images[1].tags[0].pull_policy.active_deadline_seconds:"},
      {"unknown pull policy enum",
       [](auto& r) {
         r.mutable_spec()->mutable_images(1)->mutable_tags(0)->set_image_pull_policy(
             static_cast<api::ImagePullPolicy>(7));
       },
       "spec.images[1].tags[0].image_pull_policy: unknown value 7"},
      {"bad created_at",
       [](auto& r) {
         r.mutable_spec()->mutable_images(1)->mutable_tags(0)->mutable_created_at()->set_nanos(-1);
       },
       "spec.images[1].tags[0].created_at:"},
      {"pull secret not JSON",
       [](auto& r) {
         r.mutable_spec()->mutable_images(0)->add_pull_secrets("{not json " + kSecretPassword);
       },
       "spec.images[0].pull_secrets[1]: invalid docker config JSON"},
      {"pull secret with bad auth",
       [](auto& r) {
         r.mutable_spec()->mutable_images(0)->set_pull_secrets(
             0, absl::StrCat(R"({"auths":{"reg.io":{"auth":")", kSecretPassword, R"("}}})"));
       },
       "spec.images[0].pull_secrets[0]: invalid docker config JSON"},
      {"too many pull secrets",
       [](auto& r) {
         for (int i = 0; i < 16; ++i) r.mutable_spec()->mutable_images(0)->add_pull_secrets("{}");
       },
       "spec.images[0].pull_secrets: at most 16"},
      {"empty sandbox label key",
       [](auto& r) {
         (*r.mutable_spec()->mutable_images(1)->mutable_sandbox_config()->mutable_labels())[""] =
             "x";
       },
       "spec.images[1].sandbox_config.labels: keys must not be empty"},
      {"long sandbox namespace",
       [](auto& r) {
         r.mutable_spec()->mutable_images(1)->mutable_sandbox_config()->set_pod_namespace(
             std::string(64, 'a'));
       },
       "spec.images[1].sandbox_config.pod_namespace:"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.description);
    api::SetNodeImageRequest request = ValidRequest();
    c.mutate(request);
    const absl::Status status = ValidateSetNodeImage(request, {});
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.want_prefix)));
    // No secret ever reaches a message, whatever the field.
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kSecretPassword)));
    EXPECT_THAT(std::string(status.message()),
                Not(HasSubstr(absl::Base64Escape("alice:" + kSecretPassword))));
  }
}

TEST(NodeImageValidationTest, TagReferenceComposesTagsAndDigests) {
  struct Case {
    std::string tag;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"1.2", "docker.io/library/nginx:1.2"},
      {kDigest, "docker.io/library/nginx@" + kDigest},
      {"1.2@" + kDigest, "docker.io/library/nginx@" + kDigest},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.tag);
    ASSERT_OK_AND_ASSIGN(const ImageReference ref, TagReference("nginx", c.tag));
    EXPECT_EQ(ref.PullReference(), c.want);
  }
}

TEST(NodeImageValidationTest, DefaultsAreFilledInExplicitly) {
  api::NodeImageSpec spec;
  api::ImageSpec* image = spec.add_images();
  image->set_name("nginx");
  image->set_pull_secret_count(9);
  image->add_tags()->set_tag("1");
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  ApplyNodeImageDefaults(&spec, now);
  const api::ImageTagSpec& tag = spec.images(0).tags(0);
  EXPECT_EQ(tag.created_at().seconds(), 1700000000);
  EXPECT_EQ(tag.pull_policy().timeout_seconds(), 600);
  EXPECT_EQ(tag.pull_policy().backoff_limit(), 3);
  EXPECT_FALSE(tag.pull_policy().has_ttl_seconds_after_finished());
  EXPECT_FALSE(tag.pull_policy().has_active_deadline_seconds());
  EXPECT_EQ(tag.image_pull_policy(), api::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
  EXPECT_EQ(spec.images(0).pull_secret_count(), 0);
}

TEST(NodeImageValidationTest, RedactSpecDropsSecretsAndCountsThem) {
  const api::SetNodeImageRequest request = ValidRequest();
  const api::NodeImageSpec redacted = RedactSpec(request.spec());
  EXPECT_EQ(redacted.images(0).pull_secrets_size(), 0);
  EXPECT_EQ(redacted.images(0).pull_secret_count(), 1);
  EXPECT_THAT(redacted.DebugString(),
              Not(HasSubstr(absl::Base64Escape("alice:" + kSecretPassword))));
}

TEST(NodeImageValidationTest, PullImageRequestRules) {
  api::PullImageRequest request;
  EXPECT_THAT(ValidatePullImage(request, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("image: required")));
  request.set_image("Bad Ref");
  EXPECT_THAT(ValidatePullImage(request, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("image:")));
  request.set_image("reg.io/app@" + kDigest);
  EXPECT_THAT(ValidatePullImage(request, {}), IsOk());
  request.mutable_pull_policy()->set_timeout_seconds(-1);
  EXPECT_THAT(ValidatePullImage(request, {}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                       StartsWith("pull_policy.timeout_seconds:")));
  request.clear_pull_policy();
  request.add_pull_secrets("[]");
  EXPECT_THAT(ValidatePullImage(request, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("pull_secrets[0]:")));
  request.clear_pull_secrets();
  ApplyPullImageDefaults(&request);
  EXPECT_EQ(request.pull_policy().ttl_seconds_after_finished(), 3600);
  EXPECT_EQ(request.image_pull_policy(), api::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
}

TEST(NodeImageValidationTest, SizeLimitsNameTheFieldAndTheLimit) {
  const NodeImageLimits limits;
  api::PullImageRequest pull;
  pull.set_image("reg.io/" + std::string(600, 'a') + ":1");
  EXPECT_THAT(
      ValidatePullImage(pull, limits),
      StatusIs(absl::StatusCode::kInvalidArgument, "image: 609 bytes exceeds the 512 bytes limit"));
  for (int i = 0; i < 17; ++i) pull.add_pull_secrets("{}");
  pull.set_image("reg.io/app:1");
  EXPECT_THAT(ValidatePullImage(pull, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "pull_secrets: at most 16 pull secrets, got 17"));

  api::SetNodeImageRequest request = ValidRequest();
  request.mutable_spec()->mutable_images(1)->set_name("reg.io/" + std::string(600, 'b'));
  EXPECT_THAT(ValidateSetNodeImage(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.images[1].name: 607 bytes exceeds the 512 bytes limit"));

  request = ValidRequest();
  request.mutable_spec()->mutable_images(1)->mutable_tags(0)->set_tag(std::string(300, 't'));
  EXPECT_THAT(ValidateSetNodeImage(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.images[1].tags[0].tag: 300 bytes exceeds the 256 bytes limit"));

  request = ValidRequest();
  for (int i = 0; i < 257; ++i) {
    api::ImageSpec* image = request.mutable_spec()->add_images();
    image->set_name(absl::StrCat("img", i));
    image->add_tags()->set_tag("1");
  }
  EXPECT_THAT(ValidateSetNodeImage(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("spec.images: at most 256 images, got 259")));

  // Every field within its limit, the spec over 1 MiB (pull secrets are the bulk): the spec is
  // named.
  request = ValidRequest();
  const std::string secret =
      absl::StrCat(R"({"auths":{"reg.io":{"auth":")",
                   absl::Base64Escape("alice:" + std::string(45000, 'p')), R"("}}})");
  for (int i = 0; i < 20; ++i) {
    api::ImageSpec* image = request.mutable_spec()->add_images();
    image->set_name(absl::StrCat("img", i));
    image->add_tags()->set_tag("1");
    image->add_pull_secrets(secret);
  }
  EXPECT_THAT(ValidateSetNodeImage(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::MatchesRegex("spec: 1\\.[0-9] MiB exceeds the 1 MiB limit")));
}

}  // namespace
}  // namespace inplaced::imagepull
