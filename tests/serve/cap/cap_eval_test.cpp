// cap-eval on stories260K at small lengths: the JSON has exactly the shape, full is
// refused past its limit with nulls, and full's fidelity to itself is perfect.
#include "gearbox/serve/cap/cap_eval.hpp"

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::serve::cap {
namespace {

TEST(CapEval, JsonShapeRefusalsAndSelfFidelity) {
  const auto dir = models_dir();
  if (!dir || !std::filesystem::exists(*dir / "stories260K.gguf"))
    GEARBOX_SKIP_ABSENT("stories260K.gguf in models_dir()");
  auto model = Model::load(*dir / "stories260K.gguf");
  CapEvalOptions o;
  o.lengths = {96, 160};
  o.policies = {"full", "streaming:sink=4,window=32+quant:int8"};
  o.fidelity_tokens = 16;
  o.decode_tokens = 4;
  o.chunk = 40;
  o.trained_ctx = 128;
  std::vector<std::size_t> seen;  // rows so far at each callback
  const auto rows =
      run_cap_eval(*model, o, [&](const std::vector<CapEvalRow>& r) { seen.push_back(r.size()); });
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(seen, (std::vector<std::size_t>{1, 2, 3, 4}));  // once per finished cell
  const Json j = cap_eval_json("stories260K", rows);
  EXPECT_EQ(j.size(), 2u);
  EXPECT_EQ(j["model"], "stories260K");
  const std::vector<std::string> keys = {
      "decode_tok_s", "kl",     "kv_bytes", "kv_keep_all_bytes", "length", "passkey_accuracy",
      "policy",       "ppl",    "ppl_full", "prefill_tok_s",     "served", "top1_agreement",
      "tpot_ms",      "ttft_ms"};
  for (const auto& r : j["results"]) {
    std::vector<std::string> got;
    for (const auto& [k, v] : r.items()) got.push_back(k);
    std::sort(got.begin(), got.end());
    auto want = keys;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
    EXPECT_TRUE(r["passkey_accuracy"].is_null());
  }
  // full @ 96: served, identical to the reference.
  EXPECT_TRUE(rows[0].served);
  EXPECT_DOUBLE_EQ(*rows[0].kl, 0.0);
  EXPECT_DOUBLE_EQ(*rows[0].top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(*rows[0].ppl, *rows[0].ppl_full);
  // Keep-all: 96 tokens x every layer x K and V x kv_dim floats; full keeps exactly that.
  const auto& c = model->config();
  EXPECT_EQ(*rows[0].kv_keep_all_bytes, 96u * static_cast<std::size_t>(c.n_layer) * 2 *
                                            static_cast<std::size_t>(c.kv_dim()) * 4);
  EXPECT_EQ(*rows[0].kv_bytes, *rows[0].kv_keep_all_bytes);
  // full @ 160 > 128: refused, nulls.
  EXPECT_FALSE(rows[2].served);
  EXPECT_TRUE(j["results"][2]["kl"].is_null());
  EXPECT_FALSE(j["results"][2]["served"].get<bool>());
  EXPECT_TRUE(j["results"][2]["kv_keep_all_bytes"].is_null());
  // streaming + int8 serves both, at constant KV bytes.
  EXPECT_TRUE(rows[1].served && rows[3].served);
  EXPECT_EQ(*rows[1].kv_bytes, *rows[3].kv_bytes);
  EXPECT_GT(*rows[3].kl, 0.0);
  std::ostringstream table;
  print_cap_eval(table, rows);
  EXPECT_NE(table.str().find("longest served"), std::string::npos);

  o.policies = {"nonsense"};
  EXPECT_THROW(run_cap_eval(*model, o), Error);
}

}  // namespace
}  // namespace gearbox::serve::cap
