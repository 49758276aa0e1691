// The CAP caches under the real forward pass of stories260K: the paged f32 cache gives the
// reference (contiguous) cache's logits; RoPE scaling at factor 1 gives bit-identical logits;
// full refuses past its limit; streaming and h2o run past it with constant memory; int8 stays
// close to full.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/serve/cap/cap_cache.hpp"
#include "gearbox/serve/cap/fidelity.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::serve::cap {
namespace {

std::shared_ptr<Model> stories() {
  static std::shared_ptr<Model> m = [] {
    const auto dir = models_dir();
    if (!dir || !std::filesystem::exists(*dir / "stories260K.gguf"))
      return std::shared_ptr<Model>();
    return Model::load(*dir / "stories260K.gguf");
  }();
  return m;
}

std::vector<std::int32_t> text_tokens(const Model& m, int n) {
  std::string text;
  while (static_cast<int>(m.tokenizer().encode(text, true).size()) < n)
    text +=
        "Once upon a time, there was a little girl named Lily. She loved to play outside. "
        "One day, she saw a big red ball in the park and ran to get it. ";
  auto t = m.tokenizer().encode(text, true);
  t.resize(static_cast<std::size_t>(n));
  return t;
}

// Logits of every position, prefilling in chunks of `chunk`.
std::vector<float> all_logits(Model& m, KvCache& cache, const std::vector<std::int32_t>& toks,
                              int chunk, const RopeSpec* rope) {
  const auto V = static_cast<std::size_t>(m.config().n_vocab);
  std::vector<float> out(toks.size() * V);
  for (std::size_t i = 0; i < toks.size(); i += static_cast<std::size_t>(chunk)) {
    const std::size_t n = std::min(static_cast<std::size_t>(chunk), toks.size() - i);
    m.prefill(cache, 0, std::span<const std::int32_t>(toks.data() + i, n),
              std::span<float>(out.data() + i * V, n * V), true, rope);
  }
  return out;
}

#define NEED_MODEL()      \
  auto model = stories(); \
  if (!model) GEARBOX_SKIP_ABSENT("stories260K.gguf in models_dir()")

TEST(CapModel, PagedFullCacheMatchesTheContiguousReference) {
  NEED_MODEL();
  const auto toks = text_tokens(*model, 150);
  ContiguousKvCache ref(model->config(), 512);
  const auto a = all_logits(*model, ref, toks, 150, nullptr);
  auto cc = make_cap_cache("full", model->config(), model->rope());
  const auto b = all_logits(*model, *cc.cache, toks, 37, cc.rope.get());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(cc.cache->bytes_in_use(),
            (150 + 15) / 16 * 16 * cc.cache->bytes_per_token());  // whole blocks
}

TEST(CapModel, RopeScaledAtFactorOneEqualsUnscaledExactly) {
  NEED_MODEL();
  const auto toks = text_tokens(*model, 64);
  ContiguousKvCache c0(model->config(), 512);
  const auto a = all_logits(*model, c0, toks, 64, nullptr);
  for (const char* m : {"linear", "ntk", "yarn"}) {
    auto cc =
        make_cap_cache(std::string("rope:") + m + ",factor=1", model->config(), model->rope());
    ContiguousKvCache c1(model->config(), 512);
    const auto b = all_logits(*model, c1, toks, 64, cc.rope.get());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << m;
  }
}

TEST(CapModel, FullRefusesPastItsLimitStreamingAndH2oDoNot) {
  NEED_MODEL();
  const auto toks = text_tokens(*model, 300);
  auto full = make_cap_cache("full:ctx=256", model->config(), model->rope());
  EXPECT_THROW(all_logits(*model, *full.cache, toks, 64, full.rope.get()), Error);
  EXPECT_EQ(full.cache->n_past(0), 256);  // the refused chunk left nothing behind

  for (const char* spelling :
       {"streaming:sink=4,window=60", "h2o:budget=64", "streaming:sink=4,window=60+quant:int8"}) {
    auto cc = make_cap_cache(spelling, model->config(), model->rope());
    std::size_t bytes = 0;
    const auto V = static_cast<std::size_t>(model->config().n_vocab);
    std::vector<float> logits(32 * V);
    for (std::size_t i = 0; i < toks.size(); i += 32) {
      const std::size_t n = std::min<std::size_t>(32, toks.size() - i);
      model->prefill(*cc.cache, 0, std::span<const std::int32_t>(toks.data() + i, n),
                     std::span<float>(logits.data(), n * V), true, cc.rope.get());
      for (float x : std::span<float>(logits.data(), n * V)) ASSERT_TRUE(std::isfinite(x));
      if (i >= 96) {
        if (bytes == 0) bytes = cc.cache->bytes_in_use();
        EXPECT_EQ(cc.cache->bytes_in_use(), bytes) << spelling << " at " << i;
      }
    }
    EXPECT_EQ(cc.cache->n_past(0), 300) << spelling;
    EXPECT_EQ(cc.cache->n_rows(0), 64) << spelling;
  }
}

TEST(CapModel, Int8StaysCloseToFullInt4Drifts) {
  NEED_MODEL();
  const auto toks = text_tokens(*model, 200);
  auto full = make_cap_cache("full", model->config(), model->rope());
  const auto a = all_logits(*model, *full.cache, toks, 200, full.rope.get());
  const auto V = static_cast<std::size_t>(model->config().n_vocab);
  double kl8 = 0;
  for (const char* spelling : {"quant:int8", "quant:int4"}) {
    auto q = make_cap_cache(spelling, model->config(), model->rope());
    const auto b = all_logits(*model, *q.cache, toks, 50, q.rope.get());
    FidelityAccumulator acc;
    for (std::size_t i = 0; i + 1 < toks.size(); ++i)
      acc.add(std::span<const float>(a.data() + i * V, V),
              std::span<const float>(b.data() + i * V, V), toks[i + 1]);
    const auto r = acc.report();
    std::printf("%s: kl %.5f top1 %.3f ppl %.3f (full %.3f)\n", spelling, r.kl, r.top1_agreement,
                r.ppl, r.ppl_full);
    if (std::string(spelling) == "quant:int8") {
      kl8 = r.kl;
      EXPECT_LT(r.kl, 5e-3);  // measured 0.00106 (top-1 0.995) on 2026-11-26
      EXPECT_GT(r.top1_agreement, 0.97);
    } else {
      EXPECT_GT(r.kl, kl8);
    }
  }
}

}  // namespace
}  // namespace gearbox::serve::cap
