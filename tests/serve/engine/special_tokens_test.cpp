// Text prompts that spell special tokens, token for token against llama.cpp: control, unknown
// and user-defined tokens are matched whole and the text between them encoded as separate
// runs; a SentencePiece vocabulary with a space prefix (stories260K, like Llama 2's and
// Mistral's) puts that space in front of every run after such a token. The references are in
// tests/serve/engine/data/special_tokens_reference.json (bench/serve/special_tokens_reference.py,
// run by bench/serve/make_tokenizer_reference.sh; llama-cpp-python's tokenize(text,
// add_bos=False, special=True), as its servers parse a text prompt).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"
#include "gearbox/testing/data.hpp"
#include "model_files.hpp"

namespace gearbox::serve {
namespace {

using Json = nlohmann::json;

void expect_ids_as_llama_cpp(const std::string& model) {
  const auto path = serve::testing::find_model_file(model + ".gguf");
  GEARBOX_REQUIRE_FILE(path);
  std::ifstream in(std::string(GEARBOX_SOURCE_DIR) +
                   "/tests/serve/engine/data/special_tokens_reference.json");
  ASSERT_TRUE(in) << "special_tokens_reference.json missing";
  const Json ref = Json::parse(in);
  ASSERT_TRUE(ref["models"].contains(model));
  const auto file = GgufFile::open(*path);
  const auto tok = Tokenizer::from_gguf(*file);
  ASSERT_GE(ref["models"][model].size(), 5u);
  for (const auto& row : ref["models"][model]) {
    const std::string text = row["text"];
    EXPECT_EQ(tok->encode(text, false, true), row["ids"].get<std::vector<std::int32_t>>())
        << model << ": '" << text << "'";
  }
}

TEST(SpecialTokens, SentencePieceWithSpacePrefixAsLlamaCpp) {
  expect_ids_as_llama_cpp("stories260K");
}

TEST(SpecialTokens, SentencePieceWithoutSpacePrefixAsLlamaCpp) {
  expect_ids_as_llama_cpp("gemma-3-270m-Q4_K_M");
}

TEST(SpecialTokens, ByteLevelBpeAsLlamaCpp) {
  expect_ids_as_llama_cpp("SmolLM2-135M-Instruct-Q4_1");
}

}  // namespace
}  // namespace gearbox::serve
