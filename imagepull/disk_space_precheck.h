#pragma once

// The puller's disk-space precheck (a PullPrecheck): the image's download size from its registry
// manifest (ImageResolver) against the free space of the runtime's image filesystem (CRI
// ImageFsInfo's mountpoint, statvfs'ed by FreeSpaceCheck).

#include <vector>

#include "cri/runtime.h"
#include "imagepull/free_space_check.h"
#include "imagepull/pull_precheck.h"
#include "imagepull/registry/registry_client.h"

namespace inplaced::imagepull {

struct DiskSpacePrecheckOptions {
  // When the manifest cannot be resolved (registry unreachable from the daemon, a mirror or CA only
  // the runtime knows, 401...): false lets the pull go ahead (the runtime reports its own error,
  // and a registry the daemon cannot reach must not block pulls the runtime can do); true fails the
  // attempt with the resolve error.
  bool fail_on_resolve_error = false;
};

// Thread-safe (the resolver, runtime and disk check are; this keeps no state). Does not own its
// dependencies; they must outlive it.
class DiskSpacePrecheck : public PullPrecheck {
 public:
  DiskSpacePrecheck(ImageResolver& resolver, cri::Runtime& runtime, const FreeSpaceCheck& disk,
                    DiskSpacePrecheckOptions options = {});

  // RESOURCE_EXHAUSTED "not enough space on the image filesystem <path>: need X, Y free (reserve
  // Z)" when the image does not fit; the resolve error when fail_on_resolve_error; OK otherwise.
  // The mountpoint is ImageFsInfo's first image filesystem; when ImageFsInfo fails or names none,
  // the FreeSpaceCheck's default path.
  absl::Status Check(const ImageReference& image,
                     const std::vector<RegistryCredential>& credentials) override;

 private:
  ImageResolver& resolver_;
  cri::Runtime& runtime_;
  const FreeSpaceCheck& disk_;
  const DiskSpacePrecheckOptions options_;
};

}  // namespace inplaced::imagepull
