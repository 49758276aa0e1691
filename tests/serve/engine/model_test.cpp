// The model on stories260K (shared/models): the known greedy text, prefill equal to
// token-by-token decode, batched decode equal to single decode, cache refusal, model names,
// and the sampler.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/kv/paged_kv_cache.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/generate.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/model/model_registry.hpp"
#include "gearbox/serve/sampling/sampler.hpp"

namespace gearbox::serve {
namespace {

std::shared_ptr<Model> stories() {
  static std::shared_ptr<Model> m = Model::load(resolve_model("stories260K"));
  return m;
}

// llama2.c's doc/stories260K.md (shared/models/README.md): greedy from BOS, empty prompt.
constexpr const char* kKnownText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball.";

TEST(Stories, GreedyGenerationPrintsTheKnownText) {
  auto m = stories();
  ContiguousKvCache cache(m->config(), 128);
  GenerateOptions opt;
  opt.max_tokens = 64;
  std::string streamed;
  const auto r = generate(*m, cache, {m->tokenizer().bos()}, opt,
                          [&](const std::string& s) { streamed += s; });
  EXPECT_EQ(r.text.substr(0, std::string(kKnownText).size()), kKnownText) << r.text;
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.tokens.size(), 64u);
  EXPECT_EQ(cache.n_past(0), 64);  // BOS + 63 decoded (the last sampled token is not fed)
}

TEST(Stories, ConfigFromMetadata) {
  const auto& c = stories()->config();
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_FALSE(c.tied_embeddings);
}

TEST(Stories, PrefillEqualsTokenByTokenDecode) {
  auto m = stories();
  const auto toks = m->tokenizer().encode("Once upon a time, there was a dog", true);
  const std::size_t V = static_cast<std::size_t>(m->config().n_vocab);
  ContiguousKvCache a(m->config(), 64), b(m->config(), 64);
  std::vector<float> all(toks.size() * V), one(V);
  m->prefill(a, 0, toks, all, true);
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const DecodeItem item{0, toks[i], nullptr};
    m->decode(b, std::span(&item, 1), one);
    for (std::size_t v = 0; v < V; ++v) ASSERT_NEAR(all[i * V + v], one[v], 1e-4) << i << "," << v;
  }
  EXPECT_EQ(a.bytes_in_use(), b.bytes_in_use());
}

// An fp16 cache (llama.cpp's default) holds half the bytes and gives logits within 0.02 of
// the float cache over a 48-token prefill and 16 decode steps (logits span about 30).
TEST(Stories, F16CacheHalvesBytesAndStaysClose) {
  auto m = stories();
  const auto toks = m->tokenizer().encode(
      "Once upon a time, there was a little dog named Max. Max liked to run in the park with "
      "his friend, a small cat.",
      true);
  const std::size_t V = static_cast<std::size_t>(m->config().n_vocab);
  ContiguousKvCache f32(m->config(), 128), f16(m->config(), 128, KvElem::kF16);
  std::vector<float> a(V), b(V);
  m->prefill(f32, 0, toks, a);
  m->prefill(f16, 0, toks, b);
  double worst = 0;
  for (int step = 0; step < 16; ++step) {
    for (std::size_t v = 0; v < V; ++v)
      worst = std::max(worst, static_cast<double>(std::fabs(a[v] - b[v])));
    const auto next = static_cast<std::int32_t>(std::max_element(a.begin(), a.end()) - a.begin());
    const DecodeItem item{0, next, nullptr};
    m->decode(f32, std::span(&item, 1), a);
    m->decode(f16, std::span(&item, 1), b);
  }
  EXPECT_LT(worst, 0.02);
  EXPECT_GT(worst, 0.0);  // the rounding is real
  EXPECT_EQ(2 * f16.bytes_in_use(), f32.bytes_in_use());
}

TEST(Stories, BatchedDecodeEqualsSingleDecode) {
  auto m = stories();
  const auto& tok = m->tokenizer();
  const std::size_t V = static_cast<std::size_t>(m->config().n_vocab);
  const auto p1 = tok.encode("The cat", true), p2 = tok.encode("Tom and Sue went", true);
  ContiguousKvCache batched(m->config(), 64), single(m->config(), 64);
  std::vector<float> l(V);
  for (auto* c : {&batched, &single}) {
    m->prefill(*c, 1, p1, l);
    m->prefill(*c, 2, p2, l);
  }
  const DecodeItem items[2] = {{1, 42, nullptr}, {2, 77, nullptr}};
  std::vector<float> both(2 * V), s1(V), s2(V);
  m->decode(batched, items, both);
  m->decode(single, std::span(&items[0], 1), s1);
  m->decode(single, std::span(&items[1], 1), s2);
  for (std::size_t v = 0; v < V; ++v) {
    ASSERT_NEAR(both[v], s1[v], 1e-4);
    ASSERT_NEAR(both[V + v], s2[v], 1e-4);
  }
  EXPECT_EQ(batched.n_past(1), static_cast<std::int64_t>(p1.size() + 1));
}

// A decode batch over a paged f32 cache (its views read together, attention in one parallel
// region) equals each sequence decoded alone over the contiguous reference cache, for
// sequences spanning several blocks, over several steps.
TEST(Stories, PagedBatchedDecodeEqualsContiguousSingleDecode) {
  auto m = stories();
  const auto& cfg = m->config();
  const std::size_t V = static_cast<std::size_t>(cfg.n_vocab);
  kv::PagedKvConfig pc;
  pc.n_layer = cfg.n_layer;
  pc.kv_dim = cfg.kv_dim();
  pc.n_head_kv = cfg.n_head_kv;
  kv::PagedKvCache paged(pc);
  ContiguousKvCache single(cfg, 128);
  ASSERT_TRUE(paged.stable_reads());
  std::vector<float> l(V);
  const int lens[3] = {5, 23, 40};  // within one block, across two, across three
  for (int s = 0; s < 3; ++s) {
    std::vector<std::int32_t> p;
    for (int i = 0; i < lens[s]; ++i) p.push_back(1 + (37 * i + 11 * s) % (cfg.n_vocab - 1));
    m->prefill(paged, s, p, l);
    m->prefill(single, s, p, l);
  }
  std::vector<float> batch(3 * V), one(V);
  for (int step = 0; step < 4; ++step) {
    DecodeItem items[3];
    for (int s = 0; s < 3; ++s) items[s] = {s, 3 + 50 * s + step, nullptr};
    m->decode(paged, items, batch);
    for (int s = 0; s < 3; ++s) {
      m->decode(single, std::span(&items[s], 1), one);
      for (std::size_t v = 0; v < V; ++v)
        ASSERT_NEAR(batch[static_cast<std::size_t>(s) * V + v], one[v], 1e-4) << s << "," << v;
    }
  }
}

TEST(Stories, FullCacheRefusesAndStaysUnchanged) {
  auto m = stories();
  ContiguousKvCache cache(m->config(), 4);
  std::vector<float> l(static_cast<std::size_t>(m->config().n_vocab));
  const std::vector<std::int32_t> three = {1, 50, 60}, two = {70, 80};
  m->prefill(cache, 0, three, l);
  try {
    m->prefill(cache, 0, two, l);
    FAIL() << "expected the cache to refuse";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
  EXPECT_EQ(cache.n_past(0), 3);
  const std::vector<std::int32_t> one = {70};
  m->prefill(cache, 0, one, l);  // still usable
  EXPECT_EQ(cache.n_past(0), 4);
  const std::vector<std::int32_t> bad = {9999};
  EXPECT_THROW(m->prefill(cache, 1, bad, l), Error);
  EXPECT_FALSE(cache.contains(1));
}

TEST(ModelNames, ResolveKnownAndListWhenUnknown) {
  EXPECT_EQ(resolve_model("stories260K").filename(), "stories260K.gguf");
  EXPECT_EQ(resolve_model("STORIES260k.gguf").filename(), "stories260K.gguf");
  try {
    resolve_model("no-such-model");
    FAIL();
  } catch (const Error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("stories260K"), std::string::npos) << w;
    EXPECT_NE(w.find("looked in"), std::string::npos) << w;
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
}

TEST(Sampler, GreedyTopKOneAndSeeds) {
  std::vector<float> logits = {0.1f, 2.0f, 1.9f, -1.0f, 2.0f};
  EXPECT_EQ(argmax(logits), 1);  // lowest id on ties
  Sampler greedy({0.0f, 40, 1.0f, 1});
  EXPECT_EQ(greedy.sample(logits), 1);
  Sampler k1({1.0f, 1, 1.0f, 9});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(k1.sample(logits), 1);
  Sampler p_tiny({1.0f, 0, 1e-6f, 9});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p_tiny.sample(logits), 1);
  // Same seed, same draws; the draws follow the distribution (token 3 is e^-3 less likely).
  Sampler a({1.0f, 0, 1.0f, 123}), b({1.0f, 0, 1.0f, 123});
  std::vector<int> count(5, 0);
  for (int i = 0; i < 4000; ++i) {
    const auto x = a.sample(logits);
    EXPECT_EQ(x, b.sample(logits));
    ++count[static_cast<std::size_t>(x)];
  }
  EXPECT_GT(count[1], count[0]);
  EXPECT_GT(count[0], count[3]);
  EXPECT_NEAR(count[1] / 4000.0,
              std::exp(2.0) / (std::exp(0.1) + 2 * std::exp(2.0) + std::exp(1.9) + std::exp(-1.0)),
              0.03);
  // top_p = 0.5 keeps only the two tokens at logit 2.0 (each ~0.3 of the mass).
  Sampler nucleus({1.0f, 0, 0.5f, 5});
  for (int i = 0; i < 200; ++i) {
    const auto x = nucleus.sample(logits);
    EXPECT_TRUE(x == 1 || x == 4) << x;
  }
  EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 0}), Error);
}

TEST(Generate, StopStringsAndSampledRunsAreReproducible) {
  auto m = stories();
  GenerateOptions opt;
  opt.max_tokens = 64;
  opt.stop = {"Lily"};
  ContiguousKvCache c1(m->config(), 128);
  const auto r = generate(*m, c1, {m->tokenizer().bos()}, opt);
  EXPECT_EQ(r.text, "Once upon a time, there was a little girl named ");
  EXPECT_EQ(r.finish_reason, "stop");
  opt.stop.clear();
  opt.sampling = {0.8f, 40, 0.95f, 42};
  opt.max_tokens = 24;
  ContiguousKvCache c2(m->config(), 128), c3(m->config(), 128);
  const auto s1 = generate(*m, c2, {m->tokenizer().bos()}, opt);
  const auto s2 = generate(*m, c3, {m->tokenizer().bos()}, opt);
  EXPECT_EQ(s1.tokens, s2.tokens);
}

}  // namespace
}  // namespace gearbox::serve
