#include "gearbox/sched/profile_db.hpp"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "json_input.hpp"

namespace gearbox::sched {

namespace {
// An optional number of the plan object `j`: NaN when absent or null (the profiler's inf/nan).
double num_or_nan(const nlohmann::json& j, const char* key, const std::string& origin,
                  const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return std::numeric_limits<double>::quiet_NaN();
  return json_number(j.at(key), {origin, where + "." + key});
}

// An optional parallelism degree of the plan object `j` (1 when absent).
int degree_or_one(const nlohmann::json& j, const char* key, const std::string& origin,
                  const std::string& where) {
  if (!j.contains(key)) return 1;
  return static_cast<int>(json_int(j.at(key), {origin, where + "." + key}, 1, 1 << 20));
}

void expect_object(const nlohmann::json& j, const std::string& origin, const std::string& field) {
  if (!j.is_object()) {
    throw Error::input("not an object")
        .at(origin)
        .field(field)
        .expected("an object")
        .found(json_kind(j));
  }
}
}  // namespace

ProfileDb ProfileDb::load(const std::filesystem::path& dir) {
  ProfileDb db;
  const auto opt_path = dir / "prof_database_optimal.json";
  const std::string opt_origin = opt_path.string();
  const auto opt = read_json_file(opt_path);
  expect_object(opt, opt_origin, "(top level)");
  for (const auto& [mk, places] : opt.items()) {
    expect_object(places, opt_origin, printable(mk));
    auto& row = db.optimal_[mk];
    for (const auto& [pk, plans] : places.items()) {
      if (!plans.is_array() || plans.empty()) continue;
      const std::string where =
          printable(mk) + "." + printable(pk) + "[" + std::to_string(plans.size() - 1) + "]";
      expect_object(plans.back(), opt_origin, where);
      const double e2e = num_or_nan(plans.back(), "e2e_s", opt_origin, where);
      if (std::isfinite(e2e)) row[pk] = e2e;
    }
  }
  const auto est_path = dir / "prof_estimate_all.json";
  if (std::filesystem::exists(est_path)) {
    const std::string est_origin = est_path.string();
    const auto est = read_json_file(est_path);
    expect_object(est, est_origin, "(top level)");
    for (const auto& [mk, places] : est.items()) {
      expect_object(places, est_origin, printable(mk));
      for (const auto& [pk, plans] : places.items()) {
        const std::string at = printable(mk) + "." + printable(pk);
        if (!plans.is_array()) {
          throw Error::input("not an array").at(est_origin).field(at).found(json_kind(plans));
        }
        auto& out = db.estimate_all_[mk][pk];
        for (std::size_t i = 0; i < plans.size(); ++i) {
          const auto& p = plans[i];
          const std::string where = at + "[" + std::to_string(i) + "]";
          expect_object(p, est_origin, where);
          ProfiledPlan pl;
          pl.pp = degree_or_one(p, "pp", est_origin, where);
          pl.dp = degree_or_one(p, "dp", est_origin, where);
          pl.tp = degree_or_one(p, "tp", est_origin, where);
          pl.compute_s = num_or_nan(p, "compute_s", est_origin, where);
          pl.intra_comm_s = num_or_nan(p, "intra_comm_s", est_origin, where);
          pl.inter_comm_s = num_or_nan(p, "inter_comm_s", est_origin, where);
          pl.e2e_s = num_or_nan(p, "e2e_s", est_origin, where);
          out.push_back(pl);
        }
      }
    }
  }
  const auto mem_path = dir / "database" / "dp_mem.json";
  const std::string mem_origin = mem_path.string();
  const auto mem = read_json_file(mem_path);
  if (!mem.is_array() || mem.empty() || !mem[0].is_object()) {
    throw Error::input("expected [{model_key: [m1..m16]}]").at(mem_origin);
  }
  for (const auto& [mk, v] : mem[0].items()) {
    if (!v.is_array() || v.size() != 5) {
      throw Error::input("expected 5 values").at(mem_origin).field("[0]." + printable(mk));
    }
    std::array<double, 5> a{};
    for (std::size_t i = 0; i < 5; ++i) {
      a[i] =
          json_number(v[i], {mem_origin, "[0]." + printable(mk) + "[" + std::to_string(i) + "]"});
    }
    db.dp_mem_[mk] = a;
  }
  return db;
}

const ProfileDb& ProfileDb::shared() {
  static const ProfileDb db = [] {
    const auto dir = data_dir();
    if (!dir) throw Error::runtime("shared data folder not found (set GEARBOX_DATA)");
    return load(*dir / "crius");
  }();
  return db;
}

std::optional<double> ProfileDb::optimal(const std::string& mk, const std::string& pk) const {
  const auto it = optimal_.find(mk);
  if (it == optimal_.end()) return std::nullopt;
  const auto jt = it->second.find(pk);
  if (jt == it->second.end()) return std::nullopt;
  return jt->second;
}

const std::vector<ProfiledPlan>* ProfileDb::estimate_all(const std::string& mk,
                                                         const std::string& pk) const {
  const auto it = estimate_all_.find(mk);
  if (it == estimate_all_.end()) return nullptr;
  const auto jt = it->second.find(pk);
  return jt == it->second.end() ? nullptr : &jt->second;
}

const std::array<double, 5>* ProfileDb::dp_mem(const std::string& mk) const {
  const auto it = dp_mem_.find(mk);
  return it == dp_mem_.end() ? nullptr : &it->second;
}

}  // namespace gearbox::sched
