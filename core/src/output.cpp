#include "gearbox/core/output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace gearbox {

namespace {
Json sanitize(const Json& j) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    return std::isfinite(v) ? j : Json(nullptr);
  }
  if (j.is_array() || j.is_object()) {
    Json out = j;
    for (auto it = out.begin(); it != out.end(); ++it) *it = sanitize(*it);
    return out;
  }
  return j;
}
}  // namespace

void write_json(std::ostream& out, const Json& doc, int indent) {
  out << sanitize(doc).dump(indent, ' ', false, Json::error_handler_t::replace) << '\n';
  out.flush();
}

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

void write_csv_row(std::ostream& out, const std::vector<std::string>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out << ',';
    out << csv_escape(fields[i]);
  }
  out << '\n';
}

void TextTable::print(std::ostream& out) const {
  std::vector<std::size_t> width(header_.size(), 0);
  auto fit = [&](const std::vector<std::string>& row) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  fit(header_);
  for (const auto& r : rows_) fit(r);
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out << cell;
      if (i + 1 < width.size()) out << std::string(width[i] - cell.size() + 2, ' ');
    }
    out << '\n';
  };
  line(header_);
  std::vector<std::string> rule;
  for (auto w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& r : rows_) line(r);
}

std::string fmt_num(double v, int decimals) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace gearbox
