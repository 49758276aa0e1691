// Plain prompts get BOS/EOS as each GGUF's tokenizer flags say, as llama.cpp does: prompt ids
// and the greedy continuation of "The capital of France is" follow llama.cpp's for every model
// in tests/serve/engine/data/prompt_ids_reference.json (bench/serve/make_reference.sh).
// SmolLM2 says add_bos_token = false (no BOS), Gemma 3 says true.
#include <gtest/gtest.h>

#include <fstream>

#include "gearbox/core/output.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/testing/data.hpp"
#include "greedy_check.hpp"
#include "model_files.hpp"

namespace gearbox::serve {
namespace {

Json reference() {
  std::ifstream in(std::string(GEARBOX_SOURCE_DIR) +
                   "/tests/serve/engine/data/prompt_ids_reference.json");
  if (!in) return Json();
  return Json::parse(in);
}

// min_same: greedy tokens that must equal llama.cpp's before any near-tie.
void check_model(const std::string& name, std::size_t min_same) {
  const Json ref = reference();
  ASSERT_FALSE(ref.is_null()) << "prompt_ids_reference.json missing";
  ASSERT_TRUE(ref["models"].contains(name));
  const Json& r = ref["models"][name];
  const auto path = serve::testing::find_model_file(name + ".gguf");
  auto model = Model::load(*path);
  model->set_f16_attention(true);
  const Tokenizer& tok = model->tokenizer();
  for (const auto& p : r["prompts"])
    EXPECT_EQ(tok.encode_prompt(p["text"].get<std::string>()),
              p["ids"].get<std::vector<std::int32_t>>())
        << p["text"];
  // The continuation of the plain prompt follows llama.cpp's (parting only at a near-tie).
  const auto prompt = r["greedy"]["prompt_ids"].get<std::vector<std::int32_t>>();
  EXPECT_EQ(tok.encode_prompt("The capital of France is"), prompt);
  const auto want = r["greedy"]["tokens"].get<std::vector<std::int32_t>>();
  const auto same = serve::testing::greedy_agreement(*model, prompt, want, 0.5);
  EXPECT_GE(same, min_same);
  std::cerr << name << ": " << same << " of " << want.size() << " greedy tokens as llama.cpp's\n";
}

TEST(PromptIds, SmolLM2HasNoBosAsItsFileSays) {
  GEARBOX_REQUIRE_FILE(serve::testing::find_model_file("SmolLM2-135M-Instruct-Q4_1.gguf"));
  check_model("SmolLM2-135M-Instruct-Q4_1", 12);  // " Paris.\n\nThe United States has ..."
}

TEST(PromptIds, Gemma3HasBosAsItsFileSays) {
  GEARBOX_REQUIRE_FILE(serve::testing::find_model_file("gemma-3-270m-Q4_K_M.gguf"));
  check_model("gemma-3-270m-Q4_K_M", 8);  // " the capital of the country of France."
}

}  // namespace
}  // namespace gearbox::serve
