#include "cli/output_format.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/yaml.h"

namespace inplaced::cli {

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  if (text.empty() || text == "table") return OutputFormat::kTable;
  if (text == "wide") return OutputFormat::kWide;
  if (text == "json") return OutputFormat::kJson;
  if (text == "yaml") return OutputFormat::kYaml;
  return absl::InvalidArgumentError(
      absl::StrCat("-o: unknown output format \"", text, "\" (table, wide, json or yaml)"));
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = false;
  std::string json;
  // Cannot fail for a message of the generated API types (no Any fields).
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string ToYaml(const google::protobuf::Message& message) {
  // JSON is YAML: yaml-cpp reads the JSON form and writes it in block style. yaml-cpp reports
  // errors by exception; a document we just produced parses, but keep the exception inside this
  // adapter.
  try {
    YAML::Emitter emitter;
    emitter << YAML::Load(ToJson(message));
    return std::string(emitter.c_str()) + "\n";
  } catch (const YAML::Exception& e) {
    return ToJson(message);
  }
}

}  // namespace inplaced::cli
