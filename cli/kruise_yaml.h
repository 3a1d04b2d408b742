#pragma once

// OpenKruise YAML onto the inplaced.v1 API: ContainerRecreateRequest (apps.kruise.io/v1alpha1 and
// v1beta1) and NodeImage (v1alpha1, v1beta1), one or many documents per file. Every field Kruise
// defines is either mapped or refused with a message naming it (README "Kruise YAML mapping"); an
// unknown field is refused too. Pure: no I/O, no gRPC; yaml-cpp's exceptions stop here.

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "api/inplaced/v1/recreate.pb.h"

namespace inplaced::cli {

// A ContainerRecreateRequest: the Create call, and the AcknowledgeUnready time to send after it
// when the annotation crr.apps.kruise.io/unready-acquired is set.
struct KruiseRecreate {
  v1::CreateRecreateRequestRequest create;
  std::optional<absl::Time> unready_acquired_at;
};

// A NodeImage: its name (the node's) and the spec for SetNodeImage.
struct KruiseNodeImage {
  std::string node_name;
  v1::NodeImageSpec spec;
};

struct KruiseObject {
  // "document 2 (ContainerRecreateRequest default/web-restart)": for messages.
  std::string source;
  std::variant<KruiseRecreate, KruiseNodeImage> object;
};

// The objects of `text` in document order; empty documents are skipped. `default_namespace` applies
// to a ContainerRecreateRequest without metadata.namespace. INVALID_ARGUMENT listing every refused
// or invalid field of every document ("document N (...): <field path>: <why>", one per line) when
// any is.
absl::StatusOr<std::vector<KruiseObject>> ParseKruiseYaml(absl::string_view text,
                                                          const std::string& default_namespace);

}  // namespace inplaced::cli
