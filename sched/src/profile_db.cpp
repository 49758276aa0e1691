#include "gearbox/sched/profile_db.hpp"

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"

namespace gearbox::sched {

namespace {
nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw Error::runtime("cannot open profile data").at(p.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error::input(std::string("malformed JSON: ") + e.what()).at(p.string());
  }
}

double num_or_nan(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!j.at(key).is_number()) throw Error::input("not a number").field(key);
  return j.at(key).get<double>();
}
}  // namespace

ProfileDb ProfileDb::load(const std::filesystem::path& dir) {
  ProfileDb db;
  const auto opt_path = dir / "prof_database_optimal.json";
  const auto opt = read_json(opt_path);
  if (!opt.is_object()) throw Error::input("expected an object").at(opt_path.string());
  for (const auto& [mk, places] : opt.items()) {
    auto& row = db.optimal_[mk];
    for (const auto& [pk, plans] : places.items()) {
      if (!plans.is_array() || plans.empty()) continue;
      const double e2e = num_or_nan(plans.back(), "e2e_s");
      if (std::isfinite(e2e)) row[pk] = e2e;
    }
  }
  const auto est_path = dir / "prof_estimate_all.json";
  if (std::filesystem::exists(est_path)) {
    const auto est = read_json(est_path);
    for (const auto& [mk, places] : est.items()) {
      for (const auto& [pk, plans] : places.items()) {
        auto& out = db.estimate_all_[mk][pk];
        for (const auto& p : plans) {
          ProfiledPlan pl;
          pl.pp = p.value("pp", 1);
          pl.dp = p.value("dp", 1);
          pl.tp = p.value("tp", 1);
          pl.compute_s = num_or_nan(p, "compute_s");
          pl.intra_comm_s = num_or_nan(p, "intra_comm_s");
          pl.inter_comm_s = num_or_nan(p, "inter_comm_s");
          pl.e2e_s = num_or_nan(p, "e2e_s");
          out.push_back(pl);
        }
      }
    }
  }
  const auto mem_path = dir / "database" / "dp_mem.json";
  const auto mem = read_json(mem_path);
  if (!mem.is_array() || mem.empty() || !mem[0].is_object()) {
    throw Error::input("expected [{model_key: [m1..m16]}]").at(mem_path.string());
  }
  for (const auto& [mk, v] : mem[0].items()) {
    if (!v.is_array() || v.size() != 5) {
      throw Error::input("expected 5 values").at(mem_path.string()).field(mk);
    }
    std::array<double, 5> a{};
    for (std::size_t i = 0; i < 5; ++i) a[i] = v[i].get<double>();
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
