// Gemma 3 270M Q4_K_M against llama.cpp: tokenizations (SentencePiece with byte fallback, no
// space prefix), logits at every position of a 128-token prompt, greedy continuations of a
// plain prompt and of Gemma turn markup, and perplexity on a fixed text, from
// tests/serve/engine/data/ gemma3_reference.json (made once by bench/serve/make_reference.sh).
// Skipped when the model is absent (scripts/fetch-models.sh fetches it), failed under
// GEARBOX_REQUIRE_DATA=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gearbox/core/output.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/model/perplexity.hpp"
#include "gearbox/serve/sampling/sampler.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"
#include "gearbox/testing/data.hpp"
#include "greedy_check.hpp"
#include "model_files.hpp"

namespace gearbox::serve {
namespace {

namespace fs = std::filesystem;
using serve::testing::find_model_file;

constexpr const char* kFile = "gemma-3-270m-Q4_K_M.gguf";
// As the SmolLM2 test: fp16 Q/K/V and attention weights as llama.cpp's default cache; float
// summation order and GELU's fp16 table in llama.cpp differ, amplified through 18 layers.
constexpr double kMeanLogitTol = 0.25;
constexpr double kMaxLogitTol = 2.0;
constexpr double kLogitTol = 0.25;  // a top-1 margin above 2x this must give the same token

struct Fixture {
  std::shared_ptr<Model> model;
  Json ref;
};

Fixture& fixture() {
  static Fixture f;
  if (!f.model) {
    f.model = Model::load(*find_model_file(kFile));
    f.model->set_f16_attention(true);
    std::ifstream in(fs::path(GEARBOX_SOURCE_DIR) /
                     "tests/serve/engine/data/gemma3_reference.json");
    if (in) f.ref = Json::parse(in);
  }
  return f;
}

#define GEMMA_FIXTURE()                         \
  GEARBOX_REQUIRE_FILE(find_model_file(kFile)); \
  Fixture& fx = fixture();                      \
  ASSERT_FALSE(fx.ref.is_null()) << "tests/serve/engine/data/gemma3_reference.json missing"

TEST(Gemma3, ConfigIsGemma3) {
  GEMMA_FIXTURE();
  const ModelConfig& c = fx.model->config();
  EXPECT_EQ(c.arch, "gemma3");
  EXPECT_EQ(c.n_layer, 18);
  EXPECT_EQ(c.n_embd, 640);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_head_kv, 1);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.n_vocab, 262144);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.post_norms);
  int local = 0;
  for (int l = 0; l < c.n_layer; ++l) local += c.is_local_layer(l);
  EXPECT_EQ(local, 15);  // five local layers per global one
  EXPECT_FALSE(c.is_local_layer(5));
  EXPECT_TRUE(fx.model->tokenizer().add_bos());
}

TEST(Gemma3, TokenizerMatchesLlamaCpp) {
  GEMMA_FIXTURE();
  for (const auto& t : fx.ref["tokenizations"]) {
    const auto want = t["tokens"].get<std::vector<std::int32_t>>();
    EXPECT_EQ(fx.model->tokenizer().encode(t["text"].get<std::string>(), false), want) << t["text"];
  }
}

// The GGUF carries no chat template (a base model); a Gemma turn written out with its control
// tokens and parsed with specials gives llama.cpp's ids (<start_of_turn> one token each).
TEST(Gemma3, TurnMarkupTokensMatchLlamaCpp) {
  GEMMA_FIXTURE();
  const Tokenizer& t = fx.model->tokenizer();
  const std::string chat =
      "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n"
      "<start_of_turn>model\n";
  const auto ids = t.encode(chat, t.add_bos(), true);
  EXPECT_EQ(ids, fx.ref["greedy"][0]["prompt_tokens"].get<std::vector<std::int32_t>>());
  const auto start = t.find_piece("<start_of_turn>");
  ASSERT_GE(start, 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), start), 2);
}

TEST(Gemma3, LogitsMatchLlamaCppAtEveryPosition) {
  GEMMA_FIXTURE();
  Model& m = *fx.model;
  const auto ids = fx.ref["prompt_tokens"].get<std::vector<std::int32_t>>();
  ASSERT_EQ(ids.size(), 128u);
  const std::size_t V = static_cast<std::size_t>(m.config().n_vocab);
  ContiguousKvCache cache(m.config(), 128);
  std::vector<float> logits(ids.size() * V);
  m.prefill(cache, 0, ids, logits, true);
  const auto a = serve::testing::compare_top5(logits, fx.ref["top5"], ids.size(), V, 2 * kLogitTol);
  const double mean = a.mean, worst = a.worst;
  const int top1_same = a.top1_same, decisive = a.decisive;
  EXPECT_LE(mean, kMeanLogitTol) << "mean |logit - llama.cpp| over the top-5 of 128 positions";
  EXPECT_LE(worst, kMaxLogitTol) << "largest |logit - llama.cpp| over the top-5";
  EXPECT_GE(top1_same, 118) << "top-1 agreement of 128 (measured 121: near-ties)";
  std::cerr << "Gemma 3: mean |logit diff| " << mean << ", max " << worst << ", top-1 agreement "
            << top1_same << "/128 (" << decisive << " decisive)\n";
}

// Greedy continuations follow llama.cpp's token for token; they may part only where our two
// candidates are a near-tie (logits within 2 x kLogitTol), after which the texts differ.
TEST(Gemma3, GreedyContinuationsMatchLlamaCpp) {
  GEMMA_FIXTURE();
  for (const auto& g : fx.ref["greedy"]) {
    const auto want = g["tokens"].get<std::vector<std::int32_t>>();
    const std::size_t same = serve::testing::greedy_agreement(
        *fx.model, g["prompt_tokens"].get<std::vector<std::int32_t>>(), want, 2 * kLogitTol);
    std::cerr << "Gemma 3 greedy: " << same << " of " << want.size()
              << " tokens equal to llama.cpp's (then a near-tie, or the end)\n";
  }
}

// Same tokens (the text's first 256, BOS first), same windows (128), within 1% of llama.cpp's
// perplexity.
TEST(Gemma3, PerplexityWithinOnePercentOfLlamaCpp) {
  GEMMA_FIXTURE();
  Model& m = *fx.model;
  std::ifstream in(fs::path(GEARBOX_SOURCE_DIR) / "tests/serve/engine/data/perplexity_text.txt",
                   std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto& ref = fx.ref["perplexity"];
  auto tokens = m.tokenizer().encode(ss.str(), m.tokenizer().add_bos());
  ASSERT_GE(tokens.size(), ref["n_tokens"].get<std::size_t>());
  tokens.resize(ref["n_tokens"].get<std::size_t>());  // the reference's cut of the text
  const auto r = perplexity(m, tokens, ref["ctx"].get<int>());
  EXPECT_EQ(r.scored, ref["tokens_scored"].get<std::size_t>());
  const double want = ref["ppl"].get<double>();
  EXPECT_NEAR(r.ppl(), want, 0.01 * want) << "ours " << r.ppl() << ", llama.cpp " << want;
  std::cerr << "Gemma 3 perplexity: ours " << r.ppl() << ", llama.cpp " << want << "\n";
}

}  // namespace
}  // namespace gearbox::serve
