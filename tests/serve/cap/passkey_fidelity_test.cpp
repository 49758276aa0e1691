// Passkey prompts are what they claim (key at the depth, question at the end, length within
// the target) and the fidelity metrics give hand-checked values.
#include <cmath>
#include <regex>

#include <gtest/gtest.h>

#include "../model_files.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/serve/cap/fidelity.hpp"
#include "gearbox/serve/cap/passkey.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::serve::cap {
namespace {

int count_words(std::string_view s) {  // a stand-in tokenizer: whitespace-separated words
  int n = 0;
  bool in = false;
  for (char c : s) {
    const bool sp = c == ' ' || c == '\n';
    n += !sp && !in;
    in = !sp;
  }
  return n;
}

int occurrences(const std::string& s, std::string_view what) {
  int n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(Passkey, PromptHoldsTheKeyAtItsDepthAndEndsWithTheQuestion) {
  for (double depth : {0.0, 0.25, 0.5, 1.0}) {
    const auto p = passkey_prompt(20, depth, "48213");
    EXPECT_EQ(occurrences(p.text, "The pass key is 48213. Remember it. 48213 is the pass key."), 1);
    EXPECT_EQ(occurrences(p.text, std::string(passkey_filler())), 20);
    const auto at = p.text.find("The pass key is 48213");
    const std::string before = p.text.substr(0, at);
    EXPECT_EQ(occurrences(before, std::string(passkey_filler())),
              static_cast<int>(std::lround(depth * 20)));
    EXPECT_TRUE(p.text.ends_with("What is the pass key? The pass key is"));
    EXPECT_TRUE(p.text.starts_with("There is an important info hidden"));
  }
}

// cap-eval joins the pieces (each tokenized on its own) so trials can share their prefix; the
// joined text is passkey_prompt's, and for SmolLM2's byte-level BPE the joined tokens are the
// whole prompt's tokens (every piece boundary is a newline or the text's end).
std::string joined(const PasskeyPieces& p, int repeats, int k) {
  std::string s(p.intro);
  for (int i = 0; i < k; ++i) s += p.filler;
  s += p.key_line;
  for (int i = k; i < repeats; ++i) s += p.filler;
  return s + std::string(p.question);
}

TEST(Passkey, PiecesJoinIntoThePrompt) {
  for (double depth : {0.0, 0.3, 1.0}) {
    const auto p = passkey_prompt(12, depth, "70431");
    EXPECT_EQ(joined(passkey_pieces("70431"), 12, p.key_after), p.text);
  }
  const auto smollm = gearbox::test::find_model_file(gearbox::test::kSmolLmFile);
  GEARBOX_REQUIRE_FILE(smollm);  // absent: skip; present but unloadable: the load fails the test
  const std::shared_ptr<Model> m = Model::load(smollm);
  const auto& tok = m->tokenizer();
  const auto pieces = passkey_pieces("70431");
  for (int k : {0, 3, 5}) {
    std::vector<std::int32_t> ids = tok.encode(pieces.intro, true);
    auto add = [&](std::string_view s) {
      const auto t = tok.encode(s, false);
      ids.insert(ids.end(), t.begin(), t.end());
    };
    for (int i = 0; i < k; ++i) add(pieces.filler);
    add(pieces.key_line);
    for (int i = k; i < 5; ++i) add(pieces.filler);
    add(pieces.question);
    EXPECT_EQ(ids, tok.encode(joined(pieces, 5, k), true)) << "key after " << k;
  }
}

TEST(Passkey, LengthIsTheLargestWithinTheTarget) {
  for (int target : {80, 200, 1000}) {
    const auto p = passkey_prompt_for_length(target, 0.5, "12345", count_words);
    EXPECT_LE(count_words(p.text), target);
    EXPECT_GT(count_words(passkey_prompt(p.filler_repeats + 1, 0.5, "12345").text), target);
  }
  EXPECT_THROW(passkey_prompt_for_length(10, 0.5, "12345", count_words), Error);
}

TEST(Passkey, KeysDepthsAndScoring) {
  for (std::uint64_t s = 0; s < 50; ++s) {
    const auto k = passkey_key(s);
    EXPECT_TRUE(std::regex_match(k, std::regex("[1-9][0-9]{4}"))) << k;
  }
  EXPECT_EQ(passkey_key(3), passkey_key(3));
  EXPECT_NE(passkey_key(3), passkey_key(4));
  EXPECT_DOUBLE_EQ(passkey_depth(0, 5), 0.0);
  EXPECT_DOUBLE_EQ(passkey_depth(2, 5), 0.5);
  EXPECT_DOUBLE_EQ(passkey_depth(4, 5), 1.0);
  EXPECT_DOUBLE_EQ(passkey_depth(0, 1), 0.5);
  EXPECT_TRUE(passkey_correct(" 48213. Remember", "48213"));
  EXPECT_FALSE(passkey_correct(" 482134", "48213"));
  EXPECT_FALSE(passkey_correct(" 12345 then 48213", "48213"));
  EXPECT_FALSE(passkey_correct("no digits", "48213"));
  EXPECT_THROW(passkey_prompt(5, 1.5, "12345"), Error);
  EXPECT_THROW(passkey_prompt(5, 0.5, "1234a"), Error);
}

TEST(Fidelity, HandCheckedValues) {
  const std::vector<float> uniform(8, 0.0f);
  EXPECT_NEAR(negative_log_likelihood(uniform, 3), std::log(8.0), 1e-12);
  // p = softmax(0, ln 3) = (1/4, 3/4); q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2).
  const std::vector<float> p = {0.0f, static_cast<float>(std::log(3.0))}, q = {1.0f, 1.0f};
  EXPECT_NEAR(kl_divergence(p, q), 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-6);
  EXPECT_NEAR(kl_divergence(p, p), 0.0, 1e-12);
  EXPECT_EQ(argmax(p), 1u);
  EXPECT_EQ(argmax(q), 0u);  // first on ties
  // Large logits stay finite.
  const std::vector<float> big = {1000.0f, 0.0f};
  EXPECT_NEAR(negative_log_likelihood(big, 0), 0.0, 1e-9);
  EXPECT_THROW(negative_log_likelihood(big, 2), Error);
  EXPECT_THROW(kl_divergence(p, uniform), Error);
}

TEST(Fidelity, AccumulatorAverages) {
  FidelityAccumulator acc;
  const std::vector<float> uniform(4, 0.0f), peaked = {0.0f, 0.0f, 0.0f, 5.0f};
  acc.add(uniform, uniform, 1);  // agree (both argmax 0), kl 0
  acc.add(uniform, peaked, 3);   // disagree
  const auto r = acc.report();
  EXPECT_EQ(r.positions, 2u);
  EXPECT_NEAR(r.ppl_full, 4.0, 1e-9);
  const double nll_peaked = std::log(3.0 + std::exp(5.0)) - 5.0;
  EXPECT_NEAR(r.ppl, std::exp((std::log(4.0) + nll_peaked) / 2), 1e-9);
  EXPECT_NEAR(r.kl, kl_divergence(uniform, peaked) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(r.top1_agreement, 0.5);
  EXPECT_EQ(FidelityAccumulator().report().positions, 0u);
}

}  // namespace
}  // namespace gearbox::serve::cap
