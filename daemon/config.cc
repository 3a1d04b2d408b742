#include "daemon/config.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace inplaced::daemon {
namespace {

constexpr char kRedacted[] = "<redacted>";

// "path:line" for a node (yaml-cpp counts lines from 0); `fallback` when the node has no position.
std::string Where(const std::string& path, const YAML::Mark& mark, const YAML::Mark& fallback) {
  const YAML::Mark& at = mark.is_null() ? fallback : mark;
  if (at.is_null()) return path;
  return absl::StrCat(path, ":", at.line + 1);
}

absl::Status Invalid(const std::string& where, absl::string_view key, absl::string_view problem) {
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": ", problem));
}

std::string NodeKind(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "no value";
  return "a scalar";
}

// One setting's value from the file: checks its shape, then ApplySetting checks the value.
absl::Status ApplyValue(const std::string& path, const Setting& setting, const YAML::Node& key,
                        const YAML::Node& value, DaemonOptions& options) {
  // A null value has no text of its own (yaml-cpp places it after the key): the key's line.
  const std::string where =
      value.IsNull() ? Where(path, key.Mark(), key.Mark()) : Where(path, value.Mark(), key.Mark());
  std::vector<std::string> items;
  if (value.IsNull() && setting.is_optional()) {
    // Unset: no items.
  } else if (setting.is_list() && value.IsSequence()) {
    for (const YAML::Node& item : value) {
      if (!item.IsScalar()) {
        return Invalid(Where(path, item.Mark(), value.Mark()), setting.key,
                       absl::StrCat("every item must be a scalar, got ", NodeKind(item)));
      }
      items.push_back(item.Scalar());
    }
  } else if (setting.is_list()) {
    return Invalid(where, setting.key, absl::StrCat("must be a list, got ", NodeKind(value)));
  } else if (value.IsScalar()) {
    items.push_back(value.Scalar());
  } else {
    return Invalid(where, setting.key, absl::StrCat("must be a scalar, got ", NodeKind(value)));
  }
  return ApplySetting(setting, items, absl::StrCat(where, ": ", setting.key), options);
}

absl::Status ApplyDocument(const std::string& path, const YAML::Node& root,
                           DaemonOptions& options) {
  if (root.IsNull()) return absl::OkStatus();  // an empty file
  if (!root.IsMap()) {
    return Invalid(Where(path, root.Mark(), root.Mark()), "",
                   absl::StrCat("must be a map of settings, got ", NodeKind(root)));
  }
  std::set<std::string> seen;
  for (const auto& entry : root) {
    const YAML::Node& key = entry.first;
    const std::string where = Where(path, key.Mark(), root.Mark());
    if (!key.IsScalar()) {
      return Invalid(where, "", absl::StrCat("a key must be a scalar, got ", NodeKind(key)));
    }
    const Setting* setting = FindSetting(key.Scalar());
    if (setting == nullptr) {
      return Invalid(where, key.Scalar(), "unknown setting (inplaced --print-config lists them)");
    }
    if (!seen.insert(key.Scalar()).second) return Invalid(where, key.Scalar(), "given twice");
    if (absl::Status applied = ApplyValue(path, *setting, key, entry.second, options);
        !applied.ok()) {
      return applied;
    }
  }
  return absl::OkStatus();
}

// One YAML value on one line: a plain or quoted scalar, or a flow list.
std::string EmitValue(const Setting& setting, const std::vector<std::string>& items) {
  YAML::Emitter out;
  if (setting.is_list()) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const std::string& item : items) out << item;
    out << YAML::EndSeq;
  } else if (items.empty()) {
    out << YAML::Null;
  } else {
    out << items[0];  // the emitter quotes what needs it ("", "a: b")
  }
  return out.c_str();
}

}  // namespace

absl::Status ApplyConfigFile(const std::string& path, DaemonOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, ": cannot read: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": not a regular file"));
  }
  std::ifstream file(path);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << file.rdbuf();
  try {
    return ApplyDocument(path, YAML::Load(text.str()), options);
  } catch (const YAML::Exception& e) {
    // Syntax errors carry their position; e.msg is the message without it.
    return Invalid(Where(path, e.mark, e.mark), "", absl::StrCat("invalid YAML: ", e.msg));
  }
}

std::string FormatConfig(const DaemonOptions& options, absl::Span<const Setting> settings) {
  std::string text =
      "# inplaced's effective settings (flags > environment > config file > defaults).\n";
  for (const Setting& setting : settings) {
    std::vector<std::string> items = SettingItems(setting, options);
    if (setting.secret && !items.empty() && !(items.size() == 1 && items[0].empty())) {
      for (std::string& item : items) item = kRedacted;
    }
    absl::StrAppend(&text, "# ", setting.help, "\n", setting.key, ": ", EmitValue(setting, items),
                    "\n");
  }
  return text;
}

}  // namespace inplaced::daemon
