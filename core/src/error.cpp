#include "gearbox/core/error.hpp"

namespace gearbox {

Error::Error(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {
  reformat();
}

Error& Error::at(std::string file, std::optional<std::uint64_t> line) {
  file_ = std::move(file);
  line_ = line;
  reformat();
  return *this;
}

Error& Error::at_offset(std::string file, std::uint64_t byte_offset) {
  file_ = std::move(file);
  offset_ = byte_offset;
  reformat();
  return *this;
}

Error& Error::field(std::string name) {
  field_ = std::move(name);
  reformat();
  return *this;
}

Error& Error::expected(std::string what) {
  expected_ = std::move(what);
  reformat();
  return *this;
}

Error& Error::found(std::string what) {
  found_ = std::move(what);
  reformat();
  return *this;
}

void Error::reformat() {
  std::string out;
  if (!file_.empty()) {
    out += file_;
    if (line_) out += ":" + std::to_string(*line_);
    if (offset_) out += " at byte offset " + std::to_string(*offset_);
    out += ": ";
  }
  if (!field_.empty()) out += "field '" + field_ + "': ";
  out += message_;
  if (!expected_.empty() || !found_.empty()) {
    out += " (";
    if (!expected_.empty()) out += "expected " + expected_;
    if (!expected_.empty() && !found_.empty()) out += ", ";
    if (!found_.empty()) out += "found " + found_;
    out += ")";
  }
  formatted_ = std::move(out);
}

}  // namespace gearbox
