// SlidingWindowKvCache: local layers hold a ring of window - 1 + max_step rows and give
// attention the rows it needs in order; global layers pass to the inner cache; at 32K tokens
// of Gemma 3's layer pattern the cache holds at most 1/4 of the bytes of keep-everything; and
// a tiny random Gemma 3's logits through it equal those through a cache keeping every row.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/cap/cap_cache.hpp"
#include "gearbox/serve/cap/cap_eval.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/model/sliding_window_kv_cache.hpp"
#include "gguf_writer.hpp"

namespace gearbox::serve {
namespace {

// Gemma 3's layer pattern (18 layers, five local then one global, window 512) at a small KV
// width so the test allocates little.
ModelConfig pattern(int window = 512, int kv_dim = 8) {
  ModelConfig c;
  c.n_layer = 18;
  c.n_head = 1;
  c.n_head_kv = 1;
  c.head_dim = kv_dim;
  c.n_embd = kv_dim;
  c.sliding_window = window;
  c.swa_period = 6;
  return c;
}

// One step of n tokens, every row of layer l, token t filled with 1000 * l + t.
void step(KvCache& cache, const ModelConfig& c, SeqId seq, int n) {
  const std::int64_t t0 = cache.n_past(seq);
  std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
  cache.begin(seq, n, pos);
  for (int i = 0; i < n; ++i) EXPECT_EQ(pos[static_cast<std::size_t>(i)], t0 + i);
  std::vector<float> k(static_cast<std::size_t>(n * c.kv_dim())), v(k.size());
  for (int l = 0; l < c.n_layer; ++l) {
    for (int i = 0; i < n; ++i)
      for (int d = 0; d < c.kv_dim(); ++d) {
        k[static_cast<std::size_t>(i * c.kv_dim() + d)] = static_cast<float>(1000 * l + t0 + i);
        v[static_cast<std::size_t>(i * c.kv_dim() + d)] = -static_cast<float>(1000 * l + t0 + i);
      }
    cache.write(l, seq, n, k.data(), v.data());
  }
  cache.commit(seq, n);
}

// The tokens of the rows in `view` (first value of each K row, minus the layer's offset).
std::vector<int> row_tokens(const KvView& view, int layer) {
  std::vector<int> out;
  for (const auto& s : view.spans)
    for (int i = 0; i < s.n; ++i) {
      EXPECT_EQ(s.v[static_cast<std::size_t>(i) * s.v_stride], -s.k[i * s.k_stride]);
      out.push_back(static_cast<int>(s.k[static_cast<std::size_t>(i) * s.k_stride]) - 1000 * layer);
    }
  return out;
}

TEST(SlidingWindowCache, LocalLayersSeeTheirWindowGlobalLayersEverything) {
  const ModelConfig c = pattern(/*window=*/5);
  const ModelConfig g = SlidingWindowKvCache::global_config(c);
  EXPECT_EQ(g.n_layer, 3);
  SlidingWindowKvCache cache(c, std::make_unique<ContiguousKvCache>(g, 100), /*max_step=*/3);
  EXPECT_EQ(cache.ring_rows(), 5 - 1 + 3);
  for (const int n : {3, 1, 2, 3, 1, 1, 3}) step(cache, c, 7, n);  // 14 tokens, ring wraps
  EXPECT_EQ(cache.n_past(7), 14);
  // A step in progress: 2 new tokens; local layers show the 4 rows before them, then them.
  std::vector<std::int32_t> pos(2);
  cache.begin(7, 2, pos);
  std::vector<float> k(2 * 8), v(k.size());
  for (int l = 0; l < c.n_layer; ++l) {
    for (int i = 0; i < 2; ++i)
      for (int d = 0; d < 8; ++d) k[i * 8 + d] = 1000.0f * l + 14 + i, v[i * 8 + d] = -k[i * 8 + d];
    cache.write(l, 7, 2, k.data(), v.data());
    const auto rows = row_tokens(cache.read(l, 7), l);
    if (c.is_local_layer(l)) {
      EXPECT_EQ(rows, (std::vector<int>{10, 11, 12, 13, 14, 15})) << "layer " << l;
    } else {
      std::vector<int> all(16);
      std::iota(all.begin(), all.end(), 0);
      EXPECT_EQ(rows, all) << "layer " << l;
    }
  }
  cache.abort(7, 2);
  EXPECT_EQ(cache.n_past(7), 14);
  EXPECT_EQ(row_tokens(cache.read(0, 7), 0), (std::vector<int>{10, 11, 12, 13}));
  std::vector<std::int32_t> four(4);
  EXPECT_THROW(cache.begin(7, 4, four), Error);  // steps above max_step are refused
  cache.remove(7);
  EXPECT_FALSE(cache.contains(7));
}

// Gemma 3's pattern at 32K tokens: 3 global layers keep every row, 15 local ones a ring of
// 511 + 512 rows: at most 1/4 of the bytes of a cache that keeps every layer's rows.
TEST(SlidingWindowCache, BytesAt32KAreAtMostAQuarterOfKeepEverything) {
  const ModelConfig c = pattern();
  SlidingWindowKvCache cache(
      c, std::make_unique<ContiguousKvCache>(SlidingWindowKvCache::global_config(c), 32768), 512);
  for (int i = 0; i < 64; ++i) step(cache, c, 0, 512);
  ASSERT_EQ(cache.n_past(0), 32768);
  const double keep_all = 18.0 * 2 * c.kv_dim() * sizeof(float) * 32768;
  const double ratio = static_cast<double>(cache.bytes_in_use()) / keep_all;
  EXPECT_LE(ratio, 0.25);
  EXPECT_NEAR(ratio, (3.0 * 32768 + 15.0 * 1023) / (18.0 * 32768), 0.01);
  std::cerr << "bytes per token at 32K: " << cache.bytes_in_use() / 32768.0 << " vs "
            << keep_all / 32768 << " keeping every row (ratio " << ratio << ")\n";
}

// A tiny Gemma 3 with random weights (6 layers: 5 local with window 8, 1 global), built in
// memory: 40 tokens in steps of 5 through the sliding-window cache give the same logits as
// through a cache that keeps every row (the window passes at token 8).
std::shared_ptr<Model> tiny_gemma3() {
  serve::testing::GgufWriter w;
  const int E = 64, H = 2, HKV = 1, D = 32, F = 96, L = 6, V = 48;
  w.kv_string("general.architecture", "gemma3");
  w.kv_u32("gemma3.context_length", 256);
  w.kv_u32("gemma3.embedding_length", E);
  w.kv_u32("gemma3.block_count", L);
  w.kv_u32("gemma3.feed_forward_length", F);
  w.kv_u32("gemma3.attention.head_count", H);
  w.kv_u32("gemma3.attention.head_count_kv", HKV);
  w.kv_u32("gemma3.attention.key_length", D);
  w.kv_u32("gemma3.attention.value_length", D);
  w.kv_u32("gemma3.attention.sliding_window", 8);
  w.kv_f32("gemma3.rope.freq_base", 1000000.0f);
  w.kv_f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6f);
  w.kv_string("tokenizer.ggml.model", "llama");
  std::vector<std::string> toks;
  for (int i = 0; i < V; ++i)
    toks.push_back(i < 3 ? "<s" + std::to_string(i) + ">"
                         : std::string(1, static_cast<char>('A' + i - 3)));
  w.kv_strings("tokenizer.ggml.tokens", toks);
  w.kv_f32s("tokenizer.ggml.scores", std::vector<float>(V, 0.0f));
  std::vector<std::int32_t> types(V, 1);
  types[0] = types[1] = types[2] = 3;
  w.kv_i32s("tokenizer.ggml.token_type", types);
  w.kv_u32("tokenizer.ggml.bos_token_id", 2);
  w.kv_u32("tokenizer.ggml.eos_token_id", 1);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  auto rnd = [&](std::size_t n, float mean = 0.0f) {
    std::vector<float> v(n);
    for (auto& x : v) x = mean + nd(rng);
    return v;
  };
  auto u = [](int x) { return static_cast<std::uint64_t>(x); };
  w.tensor_f32("token_embd.weight", {u(E), u(V)}, rnd(static_cast<std::size_t>(E * V)));
  w.tensor_f32("output_norm.weight", {u(E)}, rnd(E, 1.0f));
  for (int l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* n : {"attn_norm", "ffn_norm", "post_attention_norm", "post_ffw_norm"})
      w.tensor_f32(p + n + ".weight", {u(E)}, rnd(E, 1.0f));
    w.tensor_f32(p + "attn_q_norm.weight", {u(D)}, rnd(D, 1.0f));
    w.tensor_f32(p + "attn_k_norm.weight", {u(D)}, rnd(D, 1.0f));
    w.tensor_f32(p + "attn_q.weight", {u(E), u(H * D)}, rnd(static_cast<std::size_t>(E * H * D)));
    w.tensor_f32(p + "attn_k.weight", {u(E), u(HKV * D)}, rnd(static_cast<std::size_t>(E * D)));
    w.tensor_f32(p + "attn_v.weight", {u(E), u(HKV * D)}, rnd(static_cast<std::size_t>(E * D)));
    w.tensor_f32(p + "attn_output.weight", {u(H * D), u(E)},
                 rnd(static_cast<std::size_t>(E * H * D)));
    w.tensor_f32(p + "ffn_gate.weight", {u(E), u(F)}, rnd(static_cast<std::size_t>(E * F)));
    w.tensor_f32(p + "ffn_up.weight", {u(E), u(F)}, rnd(static_cast<std::size_t>(E * F)));
    w.tensor_f32(p + "ffn_down.weight", {u(F), u(E)}, rnd(static_cast<std::size_t>(E * F)));
  }
  return Model::from_gguf(GgufFile::parse(w.bytes(), "tiny-gemma3"));
}

TEST(SlidingWindowCache, TinyGemma3LogitsEqualKeepEverything) {
  auto m = tiny_gemma3();
  const ModelConfig& c = m->config();
  ASSERT_EQ(c.arch, "gemma3");
  ASSERT_EQ(SlidingWindowKvCache::global_config(c).n_layer, 1);
  const std::size_t V = static_cast<std::size_t>(c.n_vocab);
  std::vector<std::int32_t> ids(40);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(3 + (i * 7) % 45);
  ContiguousKvCache full(c, 64);
  SlidingWindowKvCache sw(
      c, std::make_unique<ContiguousKvCache>(SlidingWindowKvCache::global_config(c), 64), 5);
  EXPECT_EQ(sw.ring_rows(), 8 - 1 + 5);
  std::vector<float> a(5 * V), b(5 * V);
  for (std::size_t at = 0; at < ids.size(); at += 5) {
    const auto part = std::span<const std::int32_t>(ids.data() + at, 5);
    m->prefill(full, 0, part, a, true);
    m->prefill(sw, 0, part, b, true);
    for (std::size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(a[i]))) << "tokens " << at << "+, value " << i;
  }
  // One-token decode steps past the window as well.
  for (int t = 0; t < 6; ++t) {
    const DecodeItem item{0, static_cast<std::int32_t>(5 + t), nullptr};
    m->decode(full, std::span(&item, 1), a);
    m->decode(sw, std::span(&item, 1), b);
    for (std::size_t i = 0; i < V; ++i) ASSERT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(a[i])));
  }
  EXPECT_LT(sw.bytes_in_use(), full.bytes_in_use());
}

// A decode batch of three sequences through the sliding-window cache (views read together,
// attention in one parallel region) equals each sequence decoded alone through a cache that
// keeps every row, past the window.
TEST(SlidingWindowCache, TinyGemma3BatchedDecodeEqualsSingleDecode) {
  auto m = tiny_gemma3();
  const ModelConfig& c = m->config();
  const std::size_t V = static_cast<std::size_t>(c.n_vocab);
  SlidingWindowKvCache sw(
      c, std::make_unique<ContiguousKvCache>(SlidingWindowKvCache::global_config(c), 64), 16);
  ASSERT_TRUE(sw.stable_reads());
  ContiguousKvCache single(c, 64);
  std::vector<float> l(16 * V);
  for (int s = 0; s < 3; ++s) {
    std::vector<std::int32_t> p;
    for (int i = 0; i < 4 + 5 * s; ++i) p.push_back(3 + (7 * i + 11 * s) % 45);
    m->prefill(sw, s, p, l);
    m->prefill(single, s, p, l);
  }
  std::vector<float> batch(3 * V), one(V);
  for (int step = 0; step < 8; ++step) {
    DecodeItem items[3];
    for (int s = 0; s < 3; ++s) items[s] = {s, 3 + (5 * s + step) % 45, nullptr};
    m->decode(sw, items, batch);
    for (int s = 0; s < 3; ++s) {
      m->decode(single, std::span(&items[s], 1), one);
      for (std::size_t v = 0; v < V; ++v)
        ASSERT_NEAR(batch[static_cast<std::size_t>(s) * V + v], one[v],
                    1e-4 * (1 + std::fabs(one[v])))
            << "step " << step << ", sequence " << s << ", value " << v;
    }
  }
}

// StreamingLLM on the global layers renumbers their rows to cache slots; the local layers
// before the first global one see the same inputs under any policy, so their windows must hold
// the same keys as under `full`: rotated at each token's index in the sequence (with the slot
// positions every recent key sat at one position once the global cache was full).
TEST(SlidingWindowCache, StreamingOnGlobalLayersKeepsLocalLayersAtTokenPositions) {
  auto m = tiny_gemma3();
  const ModelConfig& c = m->config();
  ASSERT_TRUE(c.is_local_layer(0));
  auto full = cap::make_cap_cache("full", c, m->rope());
  auto streaming = cap::make_cap_cache("streaming:sink=2,window=8", c, m->rope());
  ASSERT_TRUE(full.windowed && streaming.windowed);
  const std::size_t V = static_cast<std::size_t>(c.n_vocab);
  std::vector<float> logits(5 * V);
  for (int at = 0; at < 40; at += 5) {
    std::vector<std::int32_t> part(5);
    for (int i = 0; i < 5; ++i) part[static_cast<std::size_t>(i)] = 3 + ((at + i) * 7) % 45;
    m->prefill(full.kv(), 0, part, logits, false, full.rope.get());
    m->prefill(streaming.kv(), 0, part, logits, false, streaming.rope.get());
  }
  ASSERT_LT(streaming.kv().n_rows(0), full.kv().n_rows(0));  // the global layer evicted
  auto keys = [&](KvCache& cache, int layer) {
    std::vector<float> out;
    for (const auto& s : cache.read(layer, 0).spans)
      for (int i = 0; i < s.n; ++i)
        out.insert(out.end(), s.k + static_cast<std::size_t>(i) * s.k_stride,
                   s.k + static_cast<std::size_t>(i) * s.k_stride + c.kv_dim());
    return out;
  };
  for (int l = 0; c.is_local_layer(l); ++l) {
    const std::vector<float> ka = keys(full.kv(), l), kb = keys(streaming.kv(), l);
    ASSERT_EQ(ka.size(), kb.size()) << "layer " << l;
    ASSERT_FALSE(ka.empty());
    for (std::size_t i = 0; i < ka.size(); ++i)
      ASSERT_NEAR(ka[i], kb[i], 1e-5 * (1 + std::fabs(ka[i]))) << "layer " << l << ", value " << i;
  }
}

// cap-eval's passkey trials fork and remove a trial sequence per trial: on a model with
// sliding-window layers the rings of the finished trial go too (the second trial's fork
// failed with "fork: child exists" when only the global layers' sequence was removed).
TEST(SlidingWindowCache, CapEvalRunsSeveralPasskeyTrials) {
  auto m = tiny_gemma3();
  cap::CapEvalOptions o;
  o.lengths = {1200};
  o.trained_ctx = 4096;
  o.policies = {"full"};
  o.passkey = true;
  o.trials = 3;
  o.fidelity_tokens = 4;
  o.decode_tokens = 2;
  o.chunk = 64;
  const auto rows = cap::run_cap_eval(*m, o);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].served) << rows[0].refusal;
  ASSERT_TRUE(rows[0].passkey_accuracy.has_value());
}

}  // namespace
}  // namespace gearbox::serve
