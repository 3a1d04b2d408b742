#include "tests/fakes/daemonset_pod.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace inplaced::fakes {
namespace {

absl::Status Invalid(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("deploy manifest: ", field, ": ", problem));
}

// The one document of `kind` named `name` ("" = the only one of that kind).
std::optional<YAML::Node> FindDocument(const std::vector<YAML::Node>& docs, const std::string& kind,
                                       const std::string& name) {
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap() || doc["kind"].as<std::string>("") != kind) continue;
    if (name.empty() || doc["metadata"]["name"].as<std::string>("") == name) return doc;
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<HttpProbe>> ReadProbe(const YAML::Node& probe,
                                                   const std::string& field, int port_override) {
  if (!probe) return std::optional<HttpProbe>();
  const YAML::Node get = probe["httpGet"];
  if (!get) return Invalid(field, "only httpGet probes are run by this test");
  HttpProbe out;
  out.host = get["host"].as<std::string>("127.0.0.1");
  out.path = get["path"].as<std::string>("/");
  out.port = get["port"].as<int>(0);
  if (out.port <= 0) return Invalid(field + ".httpGet.port", "a number is expected");
  if (port_override > 0) out.port = port_override;
  return std::optional<HttpProbe>(out);
}

absl::Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DaemonSetPod> ReadDaemonSetPod(const std::string& manifest_path,
                                              const DaemonSetNode& node) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(manifest_path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": ", e.what()));
  }
  const std::optional<YAML::Node> daemonset = FindDocument(docs, "DaemonSet", "");
  if (!daemonset.has_value()) return Invalid("kind", "no DaemonSet in " + manifest_path);

  try {
    const YAML::Node pod = (*daemonset)["spec"]["template"];
    const YAML::Node spec = pod["spec"];
    const YAML::Node containers = spec["containers"];
    if (!containers.IsSequence() || containers.size() != 1) {
      return Invalid("spec.template.spec.containers", "exactly one container is expected");
    }
    const YAML::Node container = containers[0];

    DaemonSetPod out;
    out.spec.namespace_ = (*daemonset)["metadata"]["namespace"].as<std::string>("default");
    out.spec.name =
        absl::StrCat((*daemonset)["metadata"]["name"].as<std::string>(), "-", node.node_name);
    out.spec.uid = absl::StrCat("uid-", out.spec.name);
    for (const auto& label : pod["metadata"]["labels"]) {
      out.spec.labels[label.first.as<std::string>()] = label.second.as<std::string>();
    }
    out.spec.host_network = spec["hostNetwork"].as<bool>(false);
    if (spec["terminationGracePeriodSeconds"]) {
      out.spec.termination_grace_period_seconds =
          spec["terminationGracePeriodSeconds"].as<int64_t>();
    }

    ContainerSpec c;
    c.name = container["name"].as<std::string>();
    c.image = container["image"].as<std::string>();
    for (const auto& part : container["command"]) c.command.push_back(part.as<std::string>());
    for (const auto& part : container["args"]) c.args.push_back(part.as<std::string>());
    for (const auto& env : container["env"]) {
      const std::string name = env["name"].as<std::string>();
      if (env["value"]) {
        c.envs.emplace_back(name, env["value"].as<std::string>());
      } else if (env["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>("") == "spec.nodeName") {
        c.envs.emplace_back(name, node.node_name);
      } else {
        return Invalid("env[" + name + "]", "only value and fieldRef spec.nodeName are mapped");
      }
    }

    // Volumes by name: a hostPath (mapped onto this node) or a ConfigMap (written out here).
    std::map<std::string, std::string> volume_paths;
    for (const auto& volume : spec["volumes"]) {
      const std::string name = volume["name"].as<std::string>();
      if (volume["hostPath"]) {
        const std::string path = volume["hostPath"]["path"].as<std::string>();
        const auto mapped = node.host_paths.find(path);
        if (mapped == node.host_paths.end()) {
          return Invalid("volumes[" + name + "].hostPath.path", path + " has no place on the node");
        }
        volume_paths[name] = mapped->second;
      } else if (volume["configMap"]) {
        const std::string map_name = volume["configMap"]["name"].as<std::string>();
        const std::optional<YAML::Node> config_map = FindDocument(docs, "ConfigMap", map_name);
        if (!config_map.has_value()) {
          return Invalid("volumes[" + name + "].configMap.name", "no ConfigMap " + map_name);
        }
        const std::filesystem::path dir = std::filesystem::path(node.config_map_dir) / name;
        for (const auto& entry : (*config_map)["data"]) {
          std::string text = entry.second.as<std::string>();
          const std::string key = entry.first.as<std::string>();
          if (key == "config.yaml") text += node.config_yaml_suffix;
          if (absl::Status written = WriteFile(dir / key, text); !written.ok()) return written;
        }
        volume_paths[name] = dir.string();
      } else if (volume["secret"]) {
        const std::string secret = volume["secret"]["secretName"].as<std::string>();
        const auto dir = node.secret_dirs.find(secret);
        if (dir != node.secret_dirs.end()) {
          volume_paths[name] = dir->second;
        } else if (volume["secret"]["optional"].as<bool>(false)) {
          const std::filesystem::path empty = std::filesystem::path(node.config_map_dir) / name;
          std::error_code error;
          std::filesystem::create_directories(empty, error);
          if (error) return absl::InternalError("cannot create " + empty.string());
          volume_paths[name] = empty.string();
        } else {
          return Invalid("volumes[" + name + "].secret.secretName", "no Secret " + secret);
        }
      } else {
        return Invalid("volumes[" + name + "]",
                       "only hostPath, configMap and secret volumes are mapped");
      }
    }
    for (const auto& mount : container["volumeMounts"]) {
      const std::string name = mount["name"].as<std::string>();
      const auto path = volume_paths.find(name);
      if (path == volume_paths.end())
        return Invalid("volumeMounts[" + name + "]", "no such volume");
      c.mounts.push_back(
          {path->second, mount["mountPath"].as<std::string>(), mount["readOnly"].as<bool>(false)});
    }

    absl::StatusOr<std::optional<HttpProbe>> readiness =
        ReadProbe(container["readinessProbe"], "readinessProbe", node.probe_port);
    if (!readiness.ok()) return readiness.status();
    absl::StatusOr<std::optional<HttpProbe>> liveness =
        ReadProbe(container["livenessProbe"], "livenessProbe", node.probe_port);
    if (!liveness.ok()) return liveness.status();
    out.readiness = *readiness;
    out.liveness = *liveness;
    out.spec.containers.push_back(std::move(c));
    return out;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": ", e.what()));
  }
}

}  // namespace inplaced::fakes
