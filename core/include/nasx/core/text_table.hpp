#pragma once
/// Tables of results as people and programs read them: aligned text for the terminal,
/// CSV for pandas and R.

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace nasx::core {

/// `value` with `digits` decimals.
std::string fixed(double value, int digits);

/// Rows of cells, columns aligned (two spaces apart; UTF-8 aware for '±').
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

/// One CSV line (quoted where needed), newline included.
std::string csv_line(const std::vector<std::string>& cells);

/// A header and rows, printed to `out` and written as folder/NAME.txt and NAME.csv.
struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  void write(std::ostream& out, const std::filesystem::path& folder,
             const std::string& name) const;
};

}  // namespace nasx::core
