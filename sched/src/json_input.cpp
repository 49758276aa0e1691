#include "json_input.hpp"

#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/core/input_file.hpp"

namespace gearbox::sched {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_input_file(path, kMaxJsonInputBytes);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error::input(std::string("malformed JSON: ") + e.what()).at(path.string());
  }
}

std::string json_kind(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::binary:
      return "binary data";
    case nlohmann::json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

namespace {
Error wrong(const JsonField& at, const std::string& expected, const nlohmann::json& found) {
  Error e = Error::input("wrong type or value");
  std::string what = json_kind(found);
  if (found.is_primitive() && !found.is_null()) {  // the value itself, escaped and shortened
    const std::string text = found.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    what += " " + (text.size() > 40 ? text.substr(0, 40) + "..." : text);
  }
  e.at(at.file).field(at.field).expected(expected).found(what);
  return e;
}
}  // namespace

double json_number(const nlohmann::json& v, const JsonField& at) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) throw wrong(at, "a finite number", v);
  return v.get<double>();
}

long long json_int(const nlohmann::json& v, const JsonField& at, long long lo, long long hi) {
  const std::string range = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  if (!v.is_number_integer()) throw wrong(at, range, v);
  // Unsigned values above the signed range compare as out of range, not as wrapped negatives.
  if (v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(hi))
    throw wrong(at, range, v);
  const long long x = v.get<long long>();
  if (x < lo || x > hi) throw wrong(at, range, v);
  return x;
}

std::string json_string(const nlohmann::json& v, const JsonField& at) {
  if (!v.is_string()) throw wrong(at, "a string", v);
  return v.get<std::string>();
}

}  // namespace gearbox::sched
