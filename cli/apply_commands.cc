#include "cli/apply_commands.h"

#include <iostream>
#include <memory>
#include <variant>

#include "absl/strings/str_cat.h"
#include "cli/command_result.h"
#include "cli/exit_codes.h"
#include "cli/file_input.h"
#include "cli/kruise_yaml.h"
#include "common/status_macros.h"

namespace inplaced::cli {
namespace {

absl::StatusOr<std::vector<KruiseObject>> ReadObjects(const std::string& file,
                                                      const std::string& ns) {
  ASSIGN_OR_RETURN(std::string text, ReadFileOrStdin(file, "-f"));
  ASSIGN_OR_RETURN(std::vector<KruiseObject> objects, ParseKruiseYaml(text, ns));
  int node_images = 0;
  for (const KruiseObject& object : objects)
    node_images += std::holds_alternative<KruiseNodeImage>(object.object);
  if (node_images > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": ", node_images, " NodeImage documents; a node has one NodeImage"));
  }
  return objects;
}

// Replaces the node's NodeImage spec, based on the current generation (ABORTED if it moves
// meanwhile).
absl::StatusOr<v1::NodeImage> ReplaceSpec(DaemonClient& client, const v1::NodeImageSpec& spec) {
  ASSIGN_OR_RETURN(v1::NodeImage current, client.GetNodeImage());
  v1::SetNodeImageRequest request;
  *request.mutable_spec() = spec;
  request.set_expected_generation(current.metadata().generation());
  return client.SetNodeImage(request);
}

absl::StatusOr<int> Apply(const DaemonFlags& daemon, const std::string& file,
                          const std::string& ns) {
  ASSIGN_OR_RETURN(std::vector<KruiseObject> objects, ReadObjects(file, ns));
  DaemonClient client(daemon);
  for (const KruiseObject& object : objects) {
    if (const auto* recreate = std::get_if<KruiseRecreate>(&object.object)) {
      const v1::CreateRecreateRequestRequest& create = recreate->create;
      ASSIGN_OR_RETURN(v1::CreateRecreateRequestResponse response, client.CreateRecreate(create));
      std::cout << "containerrecreaterequest " << create.namespace_() << "/" << create.name()
                << (response.created() ? " created" : " unchanged") << std::endl;
      if (recreate->unready_acquired_at) {
        RETURN_IF_ERROR(client
                            .AcknowledgeUnready(create.namespace_(), create.name(),
                                                *recreate->unready_acquired_at)
                            .status());
        std::cout << "containerrecreaterequest " << create.namespace_() << "/" << create.name()
                  << " unready acknowledged" << std::endl;
      }
    } else {
      const auto& node_image = std::get<KruiseNodeImage>(object.object);
      ASSIGN_OR_RETURN(v1::NodeImage updated, ReplaceSpec(client, node_image.spec));
      std::cout << "nodeimage " << node_image.node_name << " configured (generation "
                << updated.metadata().generation() << ")" << std::endl;
    }
  }
  return kExitOk;
}

}  // namespace

absl::StatusOr<int> DeleteFromFile(const DaemonFlags& daemon, const std::string& file,
                                   const std::string& default_namespace) {
  ASSIGN_OR_RETURN(std::vector<KruiseObject> objects, ReadObjects(file, default_namespace));
  DaemonClient client(daemon);
  for (const KruiseObject& object : objects) {
    if (const auto* recreate = std::get_if<KruiseRecreate>(&object.object)) {
      const v1::CreateRecreateRequestRequest& create = recreate->create;
      RETURN_IF_ERROR(
          client.DeleteRecreate(create.namespace_(), create.name(), /*allow_missing=*/false));
      std::cout << "containerrecreaterequest " << create.namespace_() << "/" << create.name()
                << " deleted" << std::endl;
    } else {
      const auto& node_image = std::get<KruiseNodeImage>(object.object);
      ASSIGN_OR_RETURN(v1::NodeImage updated, ReplaceSpec(client, v1::NodeImageSpec()));
      std::cout << "nodeimage " << node_image.node_name << " emptied (generation "
                << updated.metadata().generation() << ")" << std::endl;
    }
  }
  return kExitOk;
}

void AddApplyCommand(CLI::App& app, DaemonFlags* daemon, int* exit_code) {
  struct Args {
    std::string file;
    std::string pod_namespace = "default";
  };
  auto args = std::make_shared<Args>();
  CLI::App* apply = app.add_subcommand(
      "apply", "Send OpenKruise ContainerRecreateRequest / NodeImage YAML to inplaced");
  apply->group("Kruise YAML");
  apply
      ->add_option("-f,--filename", args->file, "YAML file (one or many documents), or - for stdin")
      ->required();
  apply
      ->add_option("-n,--namespace", args->pod_namespace,
                   "Namespace of a ContainerRecreateRequest without metadata.namespace")
      ->capture_default_str();
  apply->callback(RunCommand(
      exit_code, [daemon, args] { return Apply(*daemon, args->file, args->pod_namespace); }));
}

}  // namespace inplaced::cli
