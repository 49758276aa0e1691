// The engine's JSON inputs (profile database, model catalog) with wrong types: every refusal is
// gearbox's input error (exit 2) naming the file and the field, never a library exception.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/model_catalog.hpp"
#include "gearbox/sched/profile_db.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox::sched {
namespace {

// A profile folder whose three files are given (the smallest valid content by default).
struct ProfileFolder {
  gearbox::testing::TempDir dir;
  explicit ProfileFolder(const std::string& optimal = R"({"bert_1.3B_256": {"1_a100_1_n_4_d":
                           [{"pp": null, "e2e_s": 1.5}]}})",
                         const std::string& estimate_all = R"({"bert_1.3B_256": {"1_a100_1_n_4_d":
                           [{"pp": 1, "dp": 4, "tp": 1, "compute_s": 1.0, "e2e_s": 1.6}]}})",
                         const std::string& dp_mem = R"([{"bert_1.3B_256": [-1, 30, 20, 0, 0]}])") {
    dir.write("prof_database_optimal.json", optimal);
    dir.write("prof_estimate_all.json", estimate_all);
    std::filesystem::create_directories(dir / "database");
    dir.write("database/dp_mem.json", dp_mem);
  }
};

Error profile_error(const ProfileFolder& f) {
  try {
    ProfileDb::load(f.dir.path());
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not gearbox's error: " << e.what();
    return Error::runtime("other");
  }
  ADD_FAILURE() << "accepted";
  return Error::runtime("accepted");
}

TEST(ProfileDbLoad, ValidFolderLoads) {
  const ProfileFolder f;
  const ProfileDb db = ProfileDb::load(f.dir.path());
  EXPECT_DOUBLE_EQ(*db.optimal("bert_1.3B_256", "1_a100_1_n_4_d"), 1.5);
  ASSERT_NE(db.estimate_all("bert_1.3B_256", "1_a100_1_n_4_d"), nullptr);
  EXPECT_EQ(db.estimate_all("bert_1.3B_256", "1_a100_1_n_4_d")->front().dp, 4);
  EXPECT_DOUBLE_EQ((*db.dp_mem("bert_1.3B_256"))[1], 30);
}

TEST(ProfileDbLoad, WrongTypesNameFileAndField) {
  struct Case {
    ProfileFolder folder;
    std::string file, field;
  };
  const std::string opt = "prof_database_optimal.json", est = "prof_estimate_all.json",
                    mem = "database/dp_mem.json";
  const std::string key = "bert_1.3B_256.1_a100_1_n_4_d";
  Case cases[] = {
      {ProfileFolder(R"({"bert_1.3B_256": {"1_a100_1_n_4_d": [{"e2e_s": "fast"}]}})"), opt,
       key + "[0].e2e_s"},
      {ProfileFolder(R"({"bert_1.3B_256": 7})"), opt, "bert_1.3B_256"},
      {ProfileFolder(R"([1, 2])"), opt, "(top level)"},
      {ProfileFolder(R"({"bert_1.3B_256": {"1_a100_1_n_4_d": [3]}})"), opt, key + "[0]"},
      {ProfileFolder(R"({})", R"({"bert_1.3B_256": {"1_a100_1_n_4_d": [{"pp": "two"}]}})"), est,
       key + "[0].pp"},
      {ProfileFolder(R"({})", R"({"bert_1.3B_256": {"1_a100_1_n_4_d": [{"tp": 1.5}]}})"), est,
       key + "[0].tp"},
      {ProfileFolder(R"({})", R"({"bert_1.3B_256": {"1_a100_1_n_4_d": {"pp": 1}}})"), est, key},
      {ProfileFolder(R"({})", R"({"bert_1.3B_256": {"1_a100_1_n_4_d": [{"compute_s": true}]}})"),
       est, key + "[0].compute_s"},
      {ProfileFolder(R"({})", R"({})", R"([{"bert_1.3B_256": [1, 2, "x", 4, 5]}])"), mem,
       "[0].bert_1.3B_256[2]"},
  };
  for (const Case& c : cases) {
    const Error e = profile_error(c.folder);
    EXPECT_EQ(e.exit_code(), 2) << c.field;
    EXPECT_EQ(e.file(), (c.folder.dir / c.file).string()) << c.field;
    EXPECT_EQ(e.field_name(), c.field) << e.what();
  }
}

// Profile files are regular files: a FIFO (which would block) or a device is refused.
TEST(ProfileDbLoad, OnlyRegularFiles) {
  ProfileFolder f;
  std::filesystem::remove(f.dir / "prof_database_optimal.json");
  std::filesystem::create_directory(f.dir / "prof_database_optimal.json");
  const Error e = profile_error(f);
  EXPECT_EQ(e.file(), (f.dir / "prof_database_optimal.json").string());
  EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
}

Error catalog_error(const std::string& json) {
  const gearbox::testing::TempDir dir;
  const auto path = dir.write("spec.json", json);
  try {
    ModelCatalog::load(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path.string()) << e.what();
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not gearbox's error: " << e.what();
    return Error::runtime("other");
  }
  ADD_FAILURE() << "accepted " << json;
  return Error::runtime("accepted");
}

TEST(ModelCatalogLoad, WrongTypesNameFileAndField) {
  const std::string cfgs = "models.supported_model_cfgs.bert";
  const std::string hyper = "models.model_hyperparams.bert.1.3B";
  struct Case {
    const char* json;
    std::string field;
  };
  const Case cases[] = {
      {R"({"models": {"supported_model_cfgs": {"bert": {"param_num": ["1.3B"],
          "batch_size": ["big"]}}}})",
       cfgs + ".batch_size[0]"},
      {R"({"models": {"supported_model_cfgs": {"bert": {"param_num": [13]}}}})",
       cfgs + ".param_num[0]"},
      {R"({"models": {"supported_model_cfgs": {"bert": [1]}}})", cfgs},
      {R"({"models": {"supported_model_cfgs": {"bert": {"param_num": ["1.3B"],
          "layer_num": "six"}}}})",
       cfgs + ".layer_num"},
      {R"({"models": {"supported_model_cfgs": {"bert": {"param_num": ["1.3B"]}},
          "model_hyperparams": {"bert": {"1.3B": {"hidden_size": "wide"}}}}})",
       hyper + ".hidden_size"},
      {R"({"models": {"supported_model_cfgs": {"bert": {"param_num": ["1.3B"]}},
          "model_hyperparams": {"bert": {"1.3B": {"dtype": 16}}}}})",
       hyper + ".dtype"},
      {R"({"models": {"supported_model_cfgs": {"bert": {"param_num": ["1.3B"]}},
          "model_hyperparams": {"bert": {"1.3B": {"num_layers": 1e40}}}}})",
       hyper + ".num_layers"},
      {R"({"models": []})", "models"},
  };
  for (const Case& c : cases) {
    const Error e = catalog_error(c.json);
    EXPECT_EQ(e.exit_code(), 2) << c.json;
    EXPECT_EQ(e.field_name(), c.field) << e.what();
  }
}

}  // namespace
}  // namespace gearbox::sched
