#pragma once

// `-o table|wide|json|yaml` for the commands that show API objects. JSON is protobuf's canonical
// JSON mapping (lowerCamelCase fields, enums by name, int64 as strings), as `buf curl` prints it;
// YAML is the same document in YAML.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace inplaced::cli {

enum class OutputFormat { kTable, kWide, kJson, kYaml };

// "" and "table" -> kTable, "wide", "json", "yaml"; anything else is INVALID_ARGUMENT naming -o.
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);

// The message as indented JSON, ending in '\n'.
std::string ToJson(const google::protobuf::Message& message);
// The message as YAML, ending in '\n'.
std::string ToYaml(const google::protobuf::Message& message);

}  // namespace inplaced::cli
