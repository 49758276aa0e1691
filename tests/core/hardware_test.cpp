#include "gearbox/core/hardware.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gearbox/core/error.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox {

TEST(Hardware, BuiltinCatalogHasEveryRequiredTypeWithSources) {
  const auto& cat = GpuCatalog::builtin();
  for (const char* name :
       {"H200", "H100", "A100-40", "A100-80", "V100-16", "V100-32", "A40", "A10", "L20", "T4"}) {
    const GpuSpec* g = cat.find(name);
    ASSERT_NE(g, nullptr) << name;
    EXPECT_GT(g->memory_gb, 0) << name;
    EXPECT_GT(g->fp32_tflops, 0) << name;
    EXPECT_GT(g->fp16_tflops, g->fp32_tflops) << name;  // tensor cores beat fp32
    EXPECT_GT(g->mem_bw_gbs, 0) << name;
    EXPECT_GT(g->pcie_gbs, 0) << name;
    EXPECT_FALSE(g->source.empty()) << name;
  }
  EXPECT_EQ(cat.get("H200").memory_gb, 141);
  EXPECT_GT(cat.get("H200").mem_bw_gbs, cat.get("H100").mem_bw_gbs);
}

TEST(Hardware, AliasesAreCaseInsensitive) {
  const auto& cat = GpuCatalog::builtin();
  EXPECT_EQ(cat.get("a100").name, "A100-40");
  EXPECT_EQ(cat.get("A10").name, "A10");
  EXPECT_EQ(cat.get("v100").name, "V100-32");
  EXPECT_EQ(cat.find("nope"), nullptr);
}

TEST(Hardware, UnknownNameListsKnownOnes) {
  try {
    GpuCatalog::builtin().get("B300");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("H100"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("B300"), std::string::npos) << e.what();
  }
}

TEST(Hardware, BadEntriesNameTheField) {
  const auto doc = nlohmann::json::parse(R"({"gpus": [{"name": "X", "memory_gb": -1}]})");
  try {
    GpuCatalog::from_json(doc, "cat.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.field_name(), "memory_gb");
    EXPECT_NE(std::string(e.what()).find("cat.json gpus[0]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GpuCatalog::from_json(nlohmann::json::parse("[]"), "x"), Error);
}

TEST(Hardware, LoadsAFileAndReportsBadJson) {
  const gearbox::testing::TempDir tmp;
  const auto& dir = tmp.path();
  {
    std::ofstream(dir / "ok.json")
        << R"({"gpus": [{"name": "Z1", "memory_gb": 8, "bf16_tflops": 0, "fp16_tflops": 20,
        "fp32_tflops": 5, "mem_bw_gbs": 300, "nvlink_gbs": 0, "pcie_gbs": 16,
        "network_gbs": 10, "source": "test"}]})";
    std::ofstream(dir / "bad.json") << "{not json";
  }
  const GpuCatalog cat = GpuCatalog::load(dir / "ok.json");
  EXPECT_EQ(cat.gpus().size(), 1u);
  EXPECT_EQ(cat.get("z1").mem_bw_gbs, 300);
  EXPECT_THROW(GpuCatalog::load(dir / "bad.json"), Error);
  EXPECT_THROW(GpuCatalog::load(dir / "missing.json"), Error);
}

}  // namespace gearbox
