#pragma once

// The daemon's settings, in ONE table: every setting's config-file key, command-line flag,
// environment variable, help, default (the DaemonOptions member's initializer) and checks. The
// command line (options.cc), the config file (config.cc), --print-config and the README's table
// (SettingsMarkdownTable, compared with README.md by a unit test) are all generated from it, so
// they cannot drift apart.
//
// Every source hands a setting its value as text (a flag's argument, an environment variable, a
// YAML scalar), and ApplySetting parses and checks it the same way whatever the source; errors name
// the source (the flag, the variable, or the file, line and key).

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "daemon/options.h"

namespace inplaced::daemon {

struct Setting {
  // The DaemonOptions member a setting writes; its type is the setting's type.
  using Field =
      std::variant<std::string DaemonOptions::*, int DaemonOptions::*, double DaemonOptions::*,
                   bool DaemonOptions::*, std::vector<std::string> DaemonOptions::*,
                   std::optional<uint64_t> DaemonOptions::*>;
  // Extra check of a string (or of each item of a list): "" when fine, else what is wrong
  // ("must be an absolute path").
  using StringCheck = std::string (*)(const std::string& value);

  absl::string_view key;   // config file key: "max_open_requests"
  absl::string_view flag;  // "--max-open-requests"
  absl::string_view env;   // "INPLACED_MAX_OPEN_REQUESTS"
  absl::string_view help;
  Field field;
  // Numbers (int, double): the inclusive range.
  double min = 0;
  double max = 0;
  StringCheck check = nullptr;
  // Booleans: the setting is the member's negation (no_event_stream -> use_event_stream).
  bool negated = false;
  // Never printed (--print-config shows "<redacted>" when it is set).
  bool secret = false;

  bool is_list() const {
    return std::holds_alternative<std::vector<std::string> DaemonOptions::*>(field);
  }
  bool is_bool() const { return std::holds_alternative<bool DaemonOptions::*>(field); }
  bool is_optional() const {
    return std::holds_alternative<std::optional<uint64_t> DaemonOptions::*>(field);
  }
};

// Every setting, in the order of the README table and --print-config.
absl::Span<const Setting> AllSettings();

// The setting with config key `key`, or null.
const Setting* FindSetting(absl::string_view key);

// Parses `items` as `setting`'s value, checks it and stores it in `options`. A scalar setting takes
// exactly one item, a list any number (the list replaces the previous one). Booleans take
// true/false/yes/no/on/off/1/0 (any case). An empty `items` for an optional setting unsets it.
// Errors: INVALID_ARGUMENT "<origin>: <what is wrong>", e.g. "--fast-poll-ms: must be between 1
// and 60000, got 0"; `origin` says where the value came from.
absl::Status ApplySetting(const Setting& setting, const std::vector<std::string>& items,
                          absl::string_view origin, DaemonOptions& options);

// The setting's value in `options` as YAML-ready items: one for a scalar (booleans "true"/"false"),
// any number for a list, none for an unset optional.
std::vector<std::string> SettingItems(const Setting& setting, const DaemonOptions& options);

// Checks that relate several settings (slow_poll_ms >= fast_poll_ms; the tcp_* rules of
// CheckTcpSettings). INVALID_ARGUMENT naming the settings' keys and flags.
absl::Status CheckSettingCombination(const DaemonOptions& options);

// The README's settings table (Markdown): flag, environment variable, config key, default, meaning.
std::string SettingsMarkdownTable();

}  // namespace inplaced::daemon
