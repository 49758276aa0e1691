// `gearbox serve generate --model <tiny family model>` end to end for every architecture family
// (<model cache>/tiny/ from scripts/make-tiny-models.sh, see tiny_families_test.cpp): the binary loads each file,
// tokenizes the prompt as llama.cpp did and continues it greedily with llama.cpp's 8 tokens
// (<family>.json, made by bench/serve/make_tiny_reference.sh). The CLI attends in float, not
// in llama.cpp's fp16; these continuations have no near-tie, so the tokens must be equal.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gearbox/core/output.hpp"
#include "../model_files.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/run_cli.hpp"

namespace {

namespace fs = std::filesystem;

class TinyFamilyCli : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyFamilyCli, GenerateGivesLlamaCppsGreedyTokens) {
  const fs::path gguf = gearbox::test::find_model_file("tiny/" + GetParam() + ".gguf");
  GEARBOX_REQUIRE_FILE(gguf);
  const fs::path dir = fs::path(GEARBOX_SOURCE_DIR) / "tests/serve/engine/data/tiny";
  std::ifstream in(dir / (GetParam() + ".json"));
  ASSERT_TRUE(in) << GetParam() << ".json missing";
  const auto ref = gearbox::Json::parse(in);
  const auto& prompt = ref["prompts"][0];
  const auto r = gearbox::testing::run_argv(
      {GEARBOX_BINARY, "serve", "generate", "--model", gguf.string(),
       "--prompt", prompt["text"].get<std::string>(), "-n", "8", "--temp", "0", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = gearbox::Json::parse(r.out);
  EXPECT_EQ(j["prompt_tokens"].get<std::size_t>(), prompt["ids"].size());
  EXPECT_EQ(j["tokens"], ref["greedy"]["tokens"]);
}

INSTANTIATE_TEST_SUITE_P(Families, TinyFamilyCli,
                         ::testing::Values("qwen2", "llama3", "qwen3", "phi3", "gemma2", "mistral"),
                         [](const auto& info) { return info.param; });

}  // namespace
