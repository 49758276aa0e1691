// `gearbox serve generate|perplexity` end to end through the built binary: the known
// stories260K text, the JSON document, and errors with exit code 2.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "../cli_run.hpp"
#include "../model_files.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace {

using gearbox::test::CliRun;

CliRun run(const std::string& args) {
  return gearbox::test::run_gearbox(args);
}

TEST(ServeCli, GenerateStoriesPrintsTheKnownText) {
  const CliRun r = run("serve generate --model stories260K --prompt \"\" -n 64 --temp 0");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily. She loved to play "
                        "outside in the park. One day, she saw a big, red ball.",
                        0),
            0u)
      << r.out;
}

TEST(ServeCli, GenerateJsonHasTheDocumentedFields) {
  const CliRun r =
      run("serve generate --model stories260K --prompt \"Tom\" -n 8 --temp 0.7 --seed 3 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = gearbox::Json::parse(r.out);
  for (const char* k :
       {"text", "tokens", "prompt_tokens", "ttft_ms", "prefill_tok_s", "decode_tok_s", "kv_bytes"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["tokens"].size(), 8u);
  EXPECT_GE(j["prompt_tokens"].get<int>(), 2);  // BOS + the pieces of "Tom"
  EXPECT_GT(j["kv_bytes"].get<double>(), 0);
  const CliRun again =
      run("serve generate --model stories260K --prompt \"Tom\" -n 8 --temp 0.7 --seed 3 --json");
  EXPECT_EQ(gearbox::Json::parse(again.out)["tokens"], j["tokens"]);
}

// `--chat` end to end on SmolLM2: the prompt is llama.cpp's 37 ids for the ChatML
// conversation and greedy decoding gives llama.cpp's tokens (tests/serve/engine/data/
// smollm2_reference.json, made by bench/serve/make_reference.sh). llama.cpp answers this
// question in French with this Q4_1 file too; the test pins agreement, not the answer.
// The CLI attends in float (llama.cpp rounds K, V and the weights to fp16), and the 8th token
// is a near-tie: its top two logits are 2.54 and 2.52 (margin 0.02, against 0.5 to 2.6 at the
// tokens before and after), so summation order alone may flip it and the test compares the 7
// tokens before it. The fp16-rounded model matches all 32 (smollm_test.cpp).
TEST(ServeCli, ChatGenerateMatchesLlamaCpp) {
  GEARBOX_REQUIRE_FILE(gearbox::test::find_model_file(gearbox::test::kSmolLmFile));
  std::ifstream in(std::filesystem::path(GEARBOX_SOURCE_DIR) /
                   "tests/serve/engine/data/smollm2_reference.json");
  ASSERT_TRUE(in) << "tests/serve/engine/data/smollm2_reference.json missing";
  const auto ref = gearbox::Json::parse(in)["greedy"][0];
  const CliRun r =
      run("serve generate --model SmolLM2-135M-Instruct-Q4_1 --chat --prompt "
          "\"What is the capital of France?\" -n 16 --temp 0 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = gearbox::Json::parse(r.out);
  EXPECT_EQ(j["prompt_tokens"].get<std::size_t>(), ref["prompt_tokens"].size());
  auto want = ref["tokens"].get<std::vector<int>>();
  want.resize(7);
  auto got = j["tokens"].get<std::vector<int>>();
  ASSERT_EQ(got.size(), 16u);
  got.resize(7);
  EXPECT_EQ(got, want) << j["text"];
}

TEST(ServeCli, ErrorsExitWithTwo) {
  const CliRun unknown = run("serve generate --model no-such-model -n 1");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_EQ(run("serve generate --model stories260K --top-p 2").code, 2);
  EXPECT_EQ(run("serve generate --bogus").code, 2);
  EXPECT_EQ(run("serve generate --model stories260K --ctx 4 --prompt \"a b c d e f\" -n 4").code,
            2);
}

TEST(ServeCli, PerplexityOfAStory) {
  const gearbox::testing::TempDir dir;
  const auto path = dir.write("story.txt",
                              "Once upon a time, there was a little girl named Lily. She loved to "
                              "play outside in the park.");
  const CliRun r =
      run("serve perplexity --model stories260K --text-file " + path.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = gearbox::Json::parse(r.out);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_LT(j["ppl"].get<double>(), 20.0);  // the model's own greedy text is very likely
  EXPECT_EQ(run("serve perplexity --model stories260K --text-file /nonexistent").code, 2);
}

}  // namespace
