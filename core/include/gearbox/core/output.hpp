// Output helpers shared by every command: JSON documents on stdout (exactly one per command
// under --json, progress on stderr), CSV rows with proper quoting, and aligned text tables.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gearbox {

using Json = nlohmann::json;

// Writes `doc` to `out` as one JSON document followed by a newline; NaN/inf become null.
void write_json(std::ostream& out, const Json& doc, int indent = 2);

// Quotes a CSV field when it holds a comma, quote, CR or LF (RFC 4180).
std::string csv_escape(const std::string& field);

// Writes one CSV row (fields escaped, joined by commas, newline-terminated).
void write_csv_row(std::ostream& out, const std::vector<std::string>& fields);

// A plain text table: a header and rows of cells, printed with columns padded to fit.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Formats a double with `digits` significant decimals ("-" for NaN).
std::string fmt_num(double v, int decimals = 2);

}  // namespace gearbox
