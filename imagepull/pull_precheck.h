#pragma once

// A check run before every pull attempt (not before the IF_NOT_PRESENT presence check, which needs
// no download): the disk-space precheck plugs in here (registry manifest size vs image-filesystem
// free space). A non-OK status fails the attempt with its message (counted like any failed attempt,
// so it is retried within backoff_limit); its code is kept in the tag's message.

#include <vector>

#include "absl/status/status.h"
#include "imagepull/registry/docker_config.h"
#include "imagepull/registry/image_reference.h"

namespace inplaced::imagepull {

class PullPrecheck {
 public:
  virtual ~PullPrecheck() = default;

  // Whether `image` may be pulled now. `credentials` are those the pull will try, in order (the
  // registry client may need them to read the manifest); never log or return them. Called on a
  // puller worker thread, possibly concurrently for different images: implementations must be
  // thread-safe. The message of an error becomes the tag's status message: it must not contain a
  // secret.
  virtual absl::Status Check(const ImageReference& image,
                             const std::vector<RegistryCredential>& credentials) = 0;
};

}  // namespace inplaced::imagepull
