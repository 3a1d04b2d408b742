#include "cli/table.h"

#include <algorithm>
#include <cstdint>

namespace inplaced::cli {

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = headers_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  auto append_line = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line.append(widths[i] - cells[i].size() + 3, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line;
    out += '\n';
  };
  append_line(headers_);
  for (const auto& row : rows_) append_line(row);
  return out;
}

std::string FormatAge(absl::Duration age) {
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(age));
  auto str = [](int64_t v) { return std::to_string(v); };
  if (s < 120) return str(s) + "s";
  if (s < 600) return str(s / 60) + "m" + (s % 60 ? str(s % 60) + "s" : "");
  if (s < 3 * 3600) return str(s / 60) + "m";
  if (s < 48 * 3600) return str(s / 3600) + "h" + (s / 60 % 60 ? str(s / 60 % 60) + "m" : "");
  return str(s / 86400) + "d";
}

}  // namespace inplaced::cli
