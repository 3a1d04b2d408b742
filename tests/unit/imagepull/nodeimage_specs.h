#pragma once

// NodeImage specs for the puller's and the state machine's tests.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/inplaced/v1/nodeimage.pb.h"

namespace inplaced::imagepull::specs {

// Per-tag options (the defaults are the API's).
struct TagOptions {
  int64_t version = 0;
  int64_t timeout_seconds = 600;
  int32_t backoff_limit = 3;
  std::optional<int64_t> ttl_seconds;
  std::optional<int64_t> deadline_seconds;
  bool always = false;
};

// Adds image `name` with `tags` to `spec`, each with `options`.
inline ::inplaced::v1::ImageSpec* AddImage(::inplaced::v1::NodeImageSpec& spec,
                                           const std::string& name,
                                           const std::vector<std::string>& tags,
                                           const TagOptions& options = {}) {
  ::inplaced::v1::ImageSpec* image = spec.add_images();
  image->set_name(name);
  for (const std::string& tag : tags) {
    ::inplaced::v1::ImageTagSpec* t = image->add_tags();
    t->set_tag(tag);
    t->set_version(options.version);
    ::inplaced::v1::PullPolicy& policy = *t->mutable_pull_policy();
    policy.set_timeout_seconds(options.timeout_seconds);
    policy.set_backoff_limit(options.backoff_limit);
    if (options.ttl_seconds) policy.set_ttl_seconds_after_finished(*options.ttl_seconds);
    if (options.deadline_seconds) policy.set_active_deadline_seconds(*options.deadline_seconds);
    t->set_image_pull_policy(options.always ? ::inplaced::v1::IMAGE_PULL_POLICY_ALWAYS
                                            : ::inplaced::v1::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
  }
  return image;
}

}  // namespace inplaced::imagepull::specs
