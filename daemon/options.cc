#include "daemon/options.h"

#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <deque>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "daemon/config.h"
#include "daemon/settings.h"

namespace inplaced::daemon {
namespace {

// What CLI11 read for one setting's flag, as text for ApplySetting.
struct FlagValue {
  CLI::Option* option = nullptr;
  std::vector<std::string> items;  // scalar and list settings
  bool on = false;                 // boolean settings (a flag without a value)
};

// The value's kind in --help (CLI11 would say TEXT: every flag is bound to text).
struct HelpTypeName {
  const char* operator()(std::string DaemonOptions::*) const { return "TEXT"; }
  const char* operator()(int DaemonOptions::*) const { return "INT"; }
  const char* operator()(double DaemonOptions::*) const { return "NUMBER"; }
  const char* operator()(bool DaemonOptions::*) const { return ""; }
  const char* operator()(std::vector<std::string> DaemonOptions::*) const { return "TEXT"; }
  const char* operator()(std::optional<uint64_t> DaemonOptions::*) const { return "UINT"; }
};

// Environment, then flags, over `options` (which already holds the defaults and the config file):
// the later source wins.
absl::Status ApplyEnvironmentAndFlags(const std::deque<FlagValue>& flags, DaemonOptions& options) {
  absl::Span<const Setting> settings = AllSettings();
  for (const Setting& setting : settings) {
    const char* value = ::getenv(std::string(setting.env).c_str());
    // An empty variable counts as unset (as CLI11 treated them).
    if (value == nullptr || *value == '\0') continue;
    const std::vector<std::string> items =
        setting.is_list() ? std::vector<std::string>(absl::StrSplit(value, ','))
                          : std::vector<std::string>{value};
    if (absl::Status applied = ApplySetting(setting, items, setting.env, options); !applied.ok()) {
      return applied;
    }
  }
  for (size_t i = 0; i < settings.size(); ++i) {
    const Setting& setting = settings[i];
    const FlagValue& flag = flags[i];
    if (flag.option->count() == 0) continue;
    const std::vector<std::string> items =
        setting.is_bool() ? std::vector<std::string>{flag.on ? "true" : "false"} : flag.items;
    if (absl::Status applied = ApplySetting(setting, items, setting.flag, options); !applied.ok()) {
      return applied;
    }
  }
  return CheckSettingCombination(options);
}

}  // namespace

CommandLine ParseCommandLine(int argc, const char* const* argv) {
  CommandLine result;
  CLI::App app{"inplaced: node-local daemon that recreates containers in place over the CRI"};
  std::string config_path;
  bool print_config = false;
  app.add_option("--config", config_path,
                 "YAML config file: every setting below by its config key; flags and environment "
                 "variables win over it")
      ->envname("INPLACED_CONFIG");
  app.add_flag("--print-config", print_config,
               "Print the effective settings as a config file (secrets redacted) and exit");

  // Bound by address: a deque never moves its elements.
  std::deque<FlagValue> flags;
  const DaemonOptions defaults;
  for (const Setting& setting : AllSettings()) {
    FlagValue& flag = flags.emplace_back();
    const std::string name(setting.flag);
    const std::string help =
        absl::StrCat(setting.help, " (env ", setting.env, ", config key ", setting.key, ")");
    if (setting.is_bool()) {
      flag.option = app.add_flag(name, flag.on, help);
    } else if (setting.is_list()) {
      flag.option = app.add_option(name, flag.items, help)->delimiter(',')->allow_extra_args(false);
    } else {
      flag.option = app.add_option(name, flag.items, help)->expected(1);
    }
    flag.option->type_name(std::visit(HelpTypeName{}, setting.field));
    const std::vector<std::string> items = SettingItems(setting, defaults);
    if (!items.empty() && !setting.is_bool()) flag.option->default_str(absl::StrJoin(items, ","));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    result.output = app.help();
    result.exit_code = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    result.output = absl::StrCat("inplaced: ", e.what(), "\nRun with --help for the flags.");
    result.exit_code = kUsageExitCode;
    return result;
  }

  absl::Status status;
  if (!config_path.empty()) status = ApplyConfigFile(config_path, result.options);
  if (status.ok()) status = ApplyEnvironmentAndFlags(flags, result.options);
  if (!status.ok()) {
    result.output = absl::StrCat("inplaced: ", status.message());
    result.exit_code = kUsageExitCode;
    return result;
  }
  if (print_config) {
    result.output = FormatConfig(result.options);
    result.exit_code = 0;
    return result;
  }
  result.run = true;
  return result;
}

}  // namespace inplaced::daemon
