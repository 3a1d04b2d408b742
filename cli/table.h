#pragma once

// A plain-text table in kubectl's style: upper-case headers, columns left-aligned and separated by
// three spaces, no borders, no trailing spaces.

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace inplaced::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // A row with as many cells as headers (missing cells are empty, extra cells are dropped).
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // Header line, then one line per row, each ending in '\n'. Widths are counted in bytes: cells are
  // expected to be ASCII (names, phases, durations).
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A kubectl-like age: "45s", "3m12s", "17m", "5h4m", "12d". Negative durations (clock skew) are
// "0s".
std::string FormatAge(absl::Duration age);

}  // namespace inplaced::cli
