// Internal to the sched engine: reading its JSON inputs (cluster files, the model catalog, the
// profile database) and their typed fields, with errors (Error::input, exit 2) that name the
// file and the field, what was expected and what was found.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gearbox::sched {

// Largest JSON input read (the artifact's largest, prof_estimate_all.json, is 0.4 MB).
inline constexpr std::uint64_t kMaxJsonInputBytes = std::uint64_t{64} << 20;

// Parses `path`: a regular file of at most kMaxJsonInputBytes (never a device or a FIFO).
// Error::input naming the file when it is absent, not a regular file, too large or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Where a JSON value comes from, for errors: the file and the field's path in it
// ("pools[2].nodes", "bert_1.3B_256.1_a100_1_n_4_d[0].pp").
struct JsonField {
  const std::string& file;
  std::string field;
};

// The value's type as a reader would name it ("a string", "an array", ...).
std::string json_kind(const nlohmann::json& v);

// `v` as a finite number, else Error::input naming the field.
double json_number(const nlohmann::json& v, const JsonField& at);
// `v` as an integer in [lo, hi], else Error::input naming the field.
long long json_int(const nlohmann::json& v, const JsonField& at, long long lo, long long hi);
// `v` as a string, else Error::input naming the field.
std::string json_string(const nlohmann::json& v, const JsonField& at);

}  // namespace gearbox::sched
