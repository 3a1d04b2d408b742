#include "cli/kruise_yaml.h"

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "yaml-cpp/yaml.h"

namespace inplaced::cli {
namespace {

constexpr char kGroup[] = "apps.kruise.io/";
constexpr char kApiServerField[] =
    "written by the Kubernetes API server, which inplaced does not have (remove it: a `kubectl get "
    "-o yaml` copy needs cleaning)";
constexpr char kStatusField[] =
    "status is written by Kruise's daemon and manager; inplaced keeps its own";
constexpr char kPodUidLabel[] = "crr.apps.kruise.io/pod-uid";
constexpr char kUnreadyAnnotation[] = "crr.apps.kruise.io/unready-acquired";

using Handler =
    std::function<void(const std::string& key, const YAML::Node& value, const std::string& path)>;

// Walks one document and collects every problem instead of stopping at the first, so that a user
// fixes a file in one go. Field paths are Kruise's YAML paths.
class Mapper {
 public:
  Mapper(std::vector<std::string>* errors, std::string source)
      : errors_(errors), source_(std::move(source)) {}

  void Error(const std::string& path, absl::string_view why) {
    errors_->push_back(absl::StrCat(source_, ": ", path, ": ", why));
  }
  void Refuse(const std::string& path, absl::string_view why) {
    Error(path, absl::StrCat("refused: ", why));
  }
  void Unknown(const std::string& path, absl::string_view kind) {
    Error(path, absl::StrCat("unknown field (not in Kruise's ", kind, ")"));
  }

  // Calls `handle` for each entry of the mapping `node` (an error if it is not one).
  void Fields(const YAML::Node& node, const std::string& path, const Handler& handle) {
    if (!node.IsMap()) {
      Error(path, "expected a mapping");
      return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      handle(key, it->second, path.empty() ? key : absl::StrCat(path, ".", key));
    }
  }

  // Calls `handle` for each element of the sequence `node`, with the path "<path>[i]".
  void Items(const YAML::Node& node, const std::string& path,
             const std::function<void(const YAML::Node&, const std::string&)>& handle) {
    if (!node.IsSequence()) {
      Error(path, "expected a list");
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) handle(node[i], absl::StrCat(path, "[", i, "]"));
  }

  template <typename T>
  std::optional<T> Scalar(const YAML::Node& node, const std::string& path, absl::string_view type) {
    if (!node.IsScalar()) {
      Error(path, absl::StrCat("expected ", type));
      return std::nullopt;
    }
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      Error(path, absl::StrCat("expected ", type, ", got \"", node.Scalar(), "\""));
      return std::nullopt;
    }
  }
  std::string String(const YAML::Node& node, const std::string& path) {
    return Scalar<std::string>(node, path, "a string").value_or("");
  }
  std::optional<int64_t> Int(const YAML::Node& node, const std::string& path) {
    return Scalar<int64_t>(node, path, "an integer");
  }
  bool Bool(const YAML::Node& node, const std::string& path) {
    return Scalar<bool>(node, path, "true or false").value_or(false);
  }
  std::optional<absl::Time> Time(const YAML::Node& node, const std::string& path) {
    const std::string text = String(node, path);
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
      Error(path, absl::StrCat("expected an RFC 3339 time, got \"", text, "\""));
      return std::nullopt;
    }
    return time;
  }
  // A string -> string mapping (labels, annotations).
  void StringMap(const YAML::Node& node, const std::string& path,
                 google::protobuf::Map<std::string, std::string>* out) {
    Fields(node, path,
           [&](const std::string& key, const YAML::Node& value, const std::string& field) {
             (*out)[key] = String(value, field);
           });
  }

  // metadata fields that only the API server writes or acts on, the same for both kinds.
  bool ApiServerMetadata(const std::string& key, const std::string& path) {
    if (key == "uid" || key == "resourceVersion" || key == "generation" ||
        key == "creationTimestamp" || key == "deletionTimestamp" ||
        key == "deletionGracePeriodSeconds" || key == "managedFields" || key == "selfLink") {
      Refuse(path, kApiServerField);
    } else if (key == "generateName") {
      Refuse(path, "only the API server generates names; set metadata.name");
    } else if (key == "finalizers") {
      Refuse(path, "finalizers are enforced by the API server; inplaced has none");
    } else if (key == "ownerReferences") {
      Refuse(path, "garbage collection by owner is done by the API server; use a TTL instead");
    } else {
      return false;
    }
    return true;
  }

 private:
  std::vector<std::string>* errors_;
  std::string source_;
};

// ---------------------------------------------------------------------------------------------------
// ContainerRecreateRequest.

// A port: a number, or a name (Kubernetes' IntOrString).
template <typename Action>
void MapPort(Mapper& m, const YAML::Node& node, const std::string& path, Action* action) {
  if (!node.IsScalar()) {
    m.Error(path, "expected a port number or name");
    return;
  }
  try {
    action->set_port_number(node.as<int32_t>());
  } catch (const YAML::Exception&) {
    action->set_port_name(node.Scalar());
  }
}

void MapPreStop(Mapper& m, const YAML::Node& node, const std::string& path,
                v1::LifecycleHandler* out) {
  constexpr char kKind[] = "preStop handler";
  m.Fields(
      node, path, [&](const std::string& key, const YAML::Node& value, const std::string& field) {
        if (key == "exec") {
          m.Fields(value, field,
                   [&](const std::string& k, const YAML::Node& v, const std::string& f) {
                     if (k != "command") return m.Unknown(f, "ExecAction");
                     v1::ExecAction* exec = out->mutable_exec();
                     m.Items(v, f, [&](const YAML::Node& arg, const std::string& p) {
                       exec->add_command(m.String(arg, p));
                     });
                   });
        } else if (key == "httpGet") {
          v1::HttpGetAction* http = out->mutable_http_get();
          m.Fields(
              value, field, [&](const std::string& k, const YAML::Node& v, const std::string& f) {
                if (k == "path") {
                  http->set_path(m.String(v, f));
                } else if (k == "port") {
                  MapPort(m, v, f, http);
                } else if (k == "host") {
                  http->set_host(m.String(v, f));
                } else if (k == "scheme") {
                  http->set_scheme(m.String(v, f));
                } else if (k == "httpHeaders") {
                  m.Items(v, f, [&](const YAML::Node& header, const std::string& p) {
                    v1::HttpHeader* h = http->add_http_headers();
                    m.Fields(
                        header, p,
                        [&](const std::string& hk, const YAML::Node& hv, const std::string& hf) {
                          if (hk == "name") {
                            h->set_name(m.String(hv, hf));
                          } else if (hk == "value") {
                            h->set_value(m.String(hv, hf));
                          } else {
                            m.Unknown(hf, "HTTPHeader");
                          }
                        });
                  });
                } else {
                  m.Unknown(f, "HTTPGetAction");
                }
              });
        } else if (key == "tcpSocket") {
          v1::TcpSocketAction* tcp = out->mutable_tcp_socket();
          m.Fields(value, field,
                   [&](const std::string& k, const YAML::Node& v, const std::string& f) {
                     if (k == "port") {
                       MapPort(m, v, f, tcp);
                     } else if (k == "host") {
                       tcp->set_host(m.String(v, f));
                     } else {
                       m.Unknown(f, "TCPSocketAction");
                     }
                   });
        } else if (key == "grpc") {
          m.Refuse(field,
                   "a gRPC action is a probe, not a preStop hook (kubelet runs exec, httpGet, "
                   "tcpSocket)");
        } else {
          m.Unknown(field, kKind);
        }
      });
}

void MapPorts(Mapper& m, const YAML::Node& node, const std::string& path,
              v1::RecreateContainer* out) {
  m.Items(node, path, [&](const YAML::Node& item, const std::string& p) {
    v1::ContainerPort* port = out->add_ports();
    m.Fields(
        item, p, [&](const std::string& key, const YAML::Node& value, const std::string& field) {
          if (key == "name") {
            port->set_name(m.String(value, field));
          } else if (key == "containerPort") {
            port->set_container_port(static_cast<int32_t>(m.Int(value, field).value_or(0)));
          } else if (key == "protocol") {
            const std::string protocol = m.String(value, field);
            if (protocol == "TCP") {
              port->set_protocol(v1::PROTOCOL_TCP);
            } else if (protocol == "UDP") {
              port->set_protocol(v1::PROTOCOL_UDP);
            } else if (protocol == "SCTP") {
              port->set_protocol(v1::PROTOCOL_SCTP);
            } else {
              m.Error(field, absl::StrCat("expected TCP, UDP or SCTP, got \"", protocol, "\""));
            }
          } else if (key == "hostPort" || key == "hostIP") {
            m.Refuse(field, "only a port's name and number resolve a named preStop port");
          } else {
            m.Unknown(field, "ContainerPort");
          }
        });
  });
}

void MapContainer(Mapper& m, const YAML::Node& node, const std::string& path,
                  v1::RecreateContainer* out) {
  m.Fields(
      node, path, [&](const std::string& key, const YAML::Node& value, const std::string& field) {
        if (key == "name") {
          out->set_name(m.String(value, field));
        } else if (key == "preStop") {
          MapPreStop(m, value, field, out->mutable_pre_stop());
        } else if (key == "ports") {
          MapPorts(m, value, field, out);
        } else if (key == "statusContext") {
          v1::ContainerStatusContext* context = out->mutable_status_context();
          m.Fields(value, field,
                   [&](const std::string& k, const YAML::Node& v, const std::string& f) {
                     if (k == "containerID") {
                       context->set_container_id(m.String(v, f));
                     } else if (k == "restartCount") {
                       context->set_restart_count(static_cast<int32_t>(m.Int(v, f).value_or(0)));
                     } else {
                       m.Unknown(f, "ContainerRecreateRequestContainerContext");
                     }
                   });
        } else {
          m.Unknown(field, "ContainerRecreateRequestContainer");
        }
      });
}

void MapStrategy(Mapper& m, const YAML::Node& node, const std::string& path,
                 v1::RecreateStrategy* out) {
  m.Fields(node, path,
           [&](const std::string& key, const YAML::Node& value, const std::string& field) {
             if (key == "failurePolicy") {
               const std::string policy = m.String(value, field);
               if (policy == "Fail") {
                 out->set_failure_policy(v1::FAILURE_POLICY_FAIL);
               } else if (policy == "Ignore") {
                 out->set_failure_policy(v1::FAILURE_POLICY_IGNORE);
               } else {
                 m.Error(field, absl::StrCat("expected Fail or Ignore, got \"", policy, "\""));
               }
             } else if (key == "orderedRecreate") {
               out->set_ordered_recreate(m.Bool(value, field));
             } else if (key == "forceRecreate") {
               out->set_force_recreate(m.Bool(value, field));
             } else if (key == "terminationGracePeriodSeconds") {
               if (auto v = m.Int(value, field)) out->set_termination_grace_period_seconds(*v);
             } else if (key == "unreadyGracePeriodSeconds") {
               if (auto v = m.Int(value, field)) out->set_unready_grace_period_seconds(*v);
             } else if (key == "minStartedSeconds") {
               out->set_min_started_seconds(m.Int(value, field).value_or(0));
             } else {
               m.Unknown(field, "ContainerRecreateRequestStrategy");
             }
           });
}

void MapRecreateMetadata(Mapper& m, const YAML::Node& node, KruiseRecreate* out) {
  v1::CreateRecreateRequestRequest& create = out->create;
  m.Fields(
      node, "metadata",
      [&](const std::string& key, const YAML::Node& value, const std::string& field) {
        if (m.ApiServerMetadata(key, field)) return;
        if (key == "name") {
          create.set_name(m.String(value, field));
        } else if (key == "namespace") {
          create.set_namespace_(m.String(value, field));
        } else if (key == "labels") {
          m.Fields(
              value, field, [&](const std::string& label, const YAML::Node& v, const std::string&) {
                const std::string f = absl::StrCat(field, "[", label, "]");
                if (label == kPodUidLabel) {
                  create.mutable_spec()->set_pod_uid(m.String(v, f));
                } else if (label == "crr.apps.kruise.io/node-name") {
                  m.Refuse(f,
                           "Kruise's webhook sets it for kruise-daemon's watch; inplaced acts on "
                           "the node it runs on");
                } else if (label == "crr.apps.kruise.io/active") {
                  m.Refuse(f, "kept by Kruise's webhook and manager for kruise-daemon's watch");
                } else {
                  m.Refuse(f, "inplaced requests carry no labels");
                }
              });
        } else if (key == "annotations") {
          m.Fields(value, field,
                   [&](const std::string& annotation, const YAML::Node& v, const std::string&) {
                     const std::string f = absl::StrCat(field, "[", annotation, "]");
                     if (annotation == kUnreadyAnnotation) {
                       out->unready_acquired_at = m.Time(v, f);
                     } else if (annotation == "crr.apps.kruise.io/sync-container-statuses") {
                       m.Refuse(f,
                                "Kruise's manager copies it from the pod status; use `inplacectl "
                                "report-ready`");
                     } else {
                       m.Refuse(f, "inplaced requests carry no annotations");
                     }
                   });
        } else {
          m.Unknown(field, "ObjectMeta");
        }
      });
}

void MapRecreateSpec(Mapper& m, const YAML::Node& node, v1::RecreateSpec* spec) {
  m.Fields(node, "spec",
           [&](const std::string& key, const YAML::Node& value, const std::string& field) {
             if (key == "podName") {
               spec->set_pod_name(m.String(value, field));
             } else if (key == "containers") {
               m.Items(value, field, [&](const YAML::Node& item, const std::string& p) {
                 MapContainer(m, item, p, spec->add_containers());
               });
             } else if (key == "strategy") {
               MapStrategy(m, value, field, spec->mutable_strategy());
             } else if (key == "activeDeadlineSeconds") {
               if (auto v = m.Int(value, field)) spec->set_active_deadline_seconds(*v);
             } else if (key == "ttlSecondsAfterFinished") {
               if (auto v = m.Int(value, field)) spec->set_ttl_seconds_after_finished(*v);
             } else {
               m.Unknown(field, "ContainerRecreateRequestSpec");
             }
           });
}

// ---------------------------------------------------------------------------------------------------
// NodeImage.

void MapPullPolicy(Mapper& m, const YAML::Node& node, const std::string& path,
                   v1::PullPolicy* out) {
  m.Fields(node, path,
           [&](const std::string& key, const YAML::Node& value, const std::string& field) {
             const std::optional<int64_t> v = m.Int(value, field);
             if (!v) return;
             if (key == "timeoutSeconds") {
               out->set_timeout_seconds(*v);
             } else if (key == "backoffLimit") {
               out->set_backoff_limit(static_cast<int32_t>(*v));
             } else if (key == "ttlSecondsAfterFinished") {
               out->set_ttl_seconds_after_finished(*v);
             } else if (key == "activeDeadlineSeconds") {
               out->set_active_deadline_seconds(*v);
             } else {
               m.Unknown(field, "ImageTagPullPolicy");
             }
           });
}

void MapTag(Mapper& m, const YAML::Node& node, const std::string& path, v1::ImageTagSpec* out) {
  // Kruise's daemon skips the pull only for exactly IfNotPresent: an absent policy means always
  // pull.
  out->set_image_pull_policy(v1::IMAGE_PULL_POLICY_ALWAYS);
  m.Fields(
      node, path, [&](const std::string& key, const YAML::Node& value, const std::string& field) {
        if (key == "tag") {
          out->set_tag(m.String(value, field));
        } else if (key == "version") {
          out->set_version(m.Int(value, field).value_or(0));
        } else if (key == "createdAt") {
          if (auto t = m.Time(value, field)) *out->mutable_created_at() = ToProtoTime(*t);
        } else if (key == "pullPolicy") {
          MapPullPolicy(m, value, field, out->mutable_pull_policy());
        } else if (key == "imagePullPolicy") {
          const std::string policy = m.String(value, field);
          if (policy == "Always") {
            out->set_image_pull_policy(v1::IMAGE_PULL_POLICY_ALWAYS);
          } else if (policy == "IfNotPresent") {
            out->set_image_pull_policy(v1::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
          } else {
            m.Error(field, absl::StrCat("expected Always or IfNotPresent, got \"", policy, "\""));
          }
        } else if (key == "ownerReferences") {
          m.Refuse(field,
                   "ImagePullJob ownership is garbage-collected by the API server; use "
                   "pullPolicy.ttlSecondsAfterFinished");
        } else {
          m.Unknown(field, "ImageTagSpec");
        }
      });
}

void MapImage(Mapper& m, const std::string& name, const YAML::Node& node, const std::string& path,
              v1::ImageSpec* out) {
  out->set_name(name);
  m.Fields(node, path,
           [&](const std::string& key, const YAML::Node& value, const std::string& field) {
             if (key == "tags") {
               m.Items(value, field, [&](const YAML::Node& tag, const std::string& p) {
                 MapTag(m, tag, p, out->add_tags());
               });
             } else if (key == "sandboxConfig") {
               v1::SandboxConfig* sandbox = out->mutable_sandbox_config();
               m.Fields(value, field,
                        [&](const std::string& k, const YAML::Node& v, const std::string& f) {
                          if (k == "labels") {
                            m.StringMap(v, f, sandbox->mutable_labels());
                          } else if (k == "annotations") {
                            m.StringMap(v, f, sandbox->mutable_annotations());
                          } else {
                            m.Unknown(f, "SandboxConfig");
                          }
                        });
             } else if (key == "pullSecrets") {
               m.Refuse(field,
                        "a Secret reference needs the API server to read the Secret; pass the "
                        "docker config JSON "
                        "in the API's pull_secrets instead");
             } else {
               m.Unknown(field, "ImageSpec");
             }
           });
}

void MapNodeImage(Mapper& m, const YAML::Node& doc, KruiseNodeImage* out) {
  m.Fields(doc, "", [&](const std::string& key, const YAML::Node& value, const std::string& field) {
    if (key == "apiVersion" || key == "kind") return;
    if (key == "metadata") {
      m.Fields(value, field, [&](const std::string& k, const YAML::Node& v, const std::string& f) {
        if (m.ApiServerMetadata(k, f)) return;
        if (k == "name") {
          out->node_name = m.String(v, f);  // names the node; the socket already does
        } else if (k == "labels") {
          m.Refuse(f,
                   "NodeImage labels mirror the Node's for the API server's selectors; inplaced "
                   "has none");
        } else if (k == "annotations") {
          m.Refuse(f, "inplaced's NodeImage carries no annotations");
        } else if (k == "namespace") {
          m.Refuse(f, "NodeImage is cluster-scoped");
        } else {
          m.Unknown(f, "ObjectMeta");
        }
      });
    } else if (key == "spec") {
      m.Fields(value, field, [&](const std::string& k, const YAML::Node& v, const std::string& f) {
        if (k != "images") return m.Unknown(f, "NodeImageSpec");
        m.Fields(v, f, [&](const std::string& image, const YAML::Node& iv, const std::string&) {
          MapImage(m, image, iv, absl::StrCat(f, "[", image, "]"), out->spec.add_images());
        });
      });
    } else if (key == "status") {
      m.Refuse(field, kStatusField);
    } else {
      m.Unknown(field, "NodeImage");
    }
  });
}

void MapRecreate(Mapper& m, const YAML::Node& doc, KruiseRecreate* out) {
  m.Fields(doc, "", [&](const std::string& key, const YAML::Node& value, const std::string& field) {
    if (key == "apiVersion" || key == "kind") return;
    if (key == "metadata") {
      MapRecreateMetadata(m, value, out);
    } else if (key == "spec") {
      MapRecreateSpec(m, value, out->create.mutable_spec());
    } else if (key == "status") {
      m.Refuse(field, kStatusField);
    } else {
      m.Unknown(field, "ContainerRecreateRequest");
    }
  });
}

std::string ScalarOr(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

}  // namespace

absl::StatusOr<std::vector<KruiseObject>> ParseKruiseYaml(absl::string_view text,
                                                          const std::string& default_namespace) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("YAML: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  std::vector<KruiseObject> objects;
  std::vector<std::string> errors;
  for (size_t i = 0; i < docs.size(); ++i) {
    const YAML::Node& doc = docs[i];
    if (doc.IsNull()) continue;
    std::string source = absl::StrCat("document ", i + 1);
    if (!doc.IsMap()) {
      errors.push_back(source + ": expected a Kubernetes object (a mapping)");
      continue;
    }
    const std::string api_version = ScalarOr(doc, "apiVersion");
    const std::string kind = ScalarOr(doc, "kind");
    const std::string name =
        doc["metadata"] && doc["metadata"].IsMap() ? ScalarOr(doc["metadata"], "name") : "";
    if (api_version != absl::StrCat(kGroup, "v1alpha1") &&
        api_version != absl::StrCat(kGroup, "v1beta1")) {
      errors.push_back(
          absl::StrCat(source, ": apiVersion: expected apps.kruise.io/v1alpha1 or v1beta1, got \"",
                       api_version, "\""));
      continue;
    }
    if (kind == "ContainerRecreateRequest") {
      KruiseRecreate recreate;
      recreate.create.set_namespace_(default_namespace);
      std::string ns =
          doc["metadata"] && doc["metadata"].IsMap() ? ScalarOr(doc["metadata"], "namespace") : "";
      Mapper m(&errors, absl::StrCat(source, " (", kind, " ", ns.empty() ? default_namespace : ns,
                                     "/", name, ")"));
      MapRecreate(m, doc, &recreate);
      if (recreate.create.name().empty()) m.Error("metadata.name", "required");
      objects.push_back(
          {absl::StrCat(source, " (", kind, " ", recreate.create.namespace_(), "/", name, ")"),
           std::move(recreate)});
    } else if (kind == "NodeImage") {
      KruiseNodeImage node_image;
      Mapper m(&errors, absl::StrCat(source, " (", kind, " ", name, ")"));
      MapNodeImage(m, doc, &node_image);
      if (node_image.node_name.empty()) m.Error("metadata.name", "required (the node's name)");
      objects.push_back({absl::StrCat(source, " (", kind, " ", name, ")"), std::move(node_image)});
    } else {
      errors.push_back(absl::StrCat(
          source, ": kind: expected ContainerRecreateRequest or NodeImage, got \"", kind, "\""));
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  if (objects.empty())
    return absl::InvalidArgumentError("no ContainerRecreateRequest or NodeImage in the input");
  return objects;
}

}  // namespace inplaced::cli
