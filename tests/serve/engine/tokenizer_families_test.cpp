// Tokenizers of the model families, token for token against llama.cpp on a fixed multilingual
// text (English, contractions, code, CJK, emoji, whitespace runs, numbers, accents), and the
// chat templates the GGUFs carry against their Jinja rendering. The references are in
// tests/serve/engine/data/tokenizer_families_reference.json
// (bench/serve/make_tokenizer_reference.sh, llama-cpp-python); the Qwen2 (`qwen2`) and Llama 3
// (`llama-bpe`) and llama.cpp's `default` pre-tokenizers are checked on SmolLM2's real vocabulary
// and merges with tokenizer.ggml.pre set to theirs (built here as the reference script builds its
// vocabulary-only GGUF), so their split is what is exercised.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"
#include "gearbox/testing/data.hpp"
#include "gguf_writer.hpp"
#include "model_files.hpp"

namespace gearbox::serve {
namespace {

using Json = nlohmann::json;

const Json& reference() {
  static const Json ref = [] {
    std::ifstream in(std::string(GEARBOX_SOURCE_DIR) +
                     "/tests/serve/engine/data/tokenizer_families_reference.json");
    return in ? Json::parse(in) : Json();
  }();
  return ref;
}

// The tokenizer.* metadata of `src` as a vocabulary-only GGUF, tokenizer.ggml.pre = `pre`.
std::vector<std::uint8_t> tokenizer_only(const GgufFile& src, const std::string& pre,
                                         const std::string& chat_template = "") {
  testing::GgufWriter w;
  w.kv_string("general.architecture", "llama");
  w.kv_string("tokenizer.ggml.model", *src.get_string("tokenizer.ggml.model"));
  w.kv_string("tokenizer.ggml.pre", pre);
  w.kv_strings("tokenizer.ggml.tokens", *src.get_string_array("tokenizer.ggml.tokens"));
  w.kv_strings("tokenizer.ggml.merges", *src.get_string_array("tokenizer.ggml.merges"));
  std::vector<std::int32_t> types;
  for (double t : *src.get_number_array("tokenizer.ggml.token_type"))
    types.push_back(static_cast<std::int32_t>(t));
  w.kv_i32s("tokenizer.ggml.token_type", types);
  for (const char* k : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
    if (auto v = src.get_int(k)) w.kv_u32(k, static_cast<std::uint32_t>(*v));
  if (!chat_template.empty()) w.kv_string("tokenizer.chat_template", chat_template);
  return w.bytes();
}

void expect_ids_as_llama_cpp(const Tokenizer& tok, const std::string& model) {
  const Json& ref = reference();
  ASSERT_FALSE(ref.is_null()) << "tokenizer_families_reference.json missing";
  ASSERT_TRUE(ref["models"].contains(model)) << model;
  const Json& ids = ref["models"][model]["ids"];
  ASSERT_EQ(ids.size(), ref["texts"].size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string text = ref["texts"][i];
    EXPECT_EQ(tok.encode(text, false), ids[i].get<std::vector<std::int32_t>>())
        << model << ", text " << i << ": " << text;
    EXPECT_EQ(tok.decode(tok.encode(text, false)), text) << model << ", text " << i;
  }
}

void expect_chat_as_jinja(const Tokenizer& tok, const std::string& model) {
  const Json& chat = reference()["models"][model]["chat"];
  ASSERT_TRUE(chat.is_object()) << model << " has no chat template in the reference";
  ASSERT_EQ(tok.chat_template(), chat["template"].get<std::string>());
  ASSERT_GE(chat["renderings"].size(), 4u);
  for (const auto& r : chat["renderings"]) {
    std::vector<ChatMessage> msgs;
    for (const auto& m : r["messages"]) msgs.push_back({m["role"], m["content"]});
    EXPECT_EQ(tok.apply_chat_template(msgs, true), r["text"].get<std::string>())
        << model << ": " << r["messages"].dump();
  }
}

std::shared_ptr<GgufFile> smollm_file() {
  return GgufFile::open(*serve::testing::find_model_file("SmolLM2-135M-Instruct-Q4_1.gguf"));
}

#define REQUIRE_MODEL(file) GEARBOX_REQUIRE_FILE(serve::testing::find_model_file(file))

TEST(TokenizerFamilies, SmolLm2BpeMatchesLlamaCpp) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  auto f = smollm_file();
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "smollm");
  expect_ids_as_llama_cpp(*Tokenizer::from_gguf(*f), "SmolLM2-135M-Instruct-Q4_1");
}

TEST(TokenizerFamilies, Qwen2PreTokenizerMatchesLlamaCpp) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  const auto bytes = tokenizer_only(*smollm_file(), "qwen2");
  auto f = GgufFile::parse(bytes, "smollm2-vocab-qwen2.gguf");
  expect_ids_as_llama_cpp(*Tokenizer::from_gguf(*f), "SmolLM2-135M-Instruct-Q4_1@qwen2");
}

TEST(TokenizerFamilies, Llama3PreTokenizerMatchesLlamaCpp) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  const auto bytes = tokenizer_only(*smollm_file(), "llama-bpe");
  auto f = GgufFile::parse(bytes, "smollm2-vocab-llama-bpe.gguf");
  expect_ids_as_llama_cpp(*Tokenizer::from_gguf(*f), "SmolLM2-135M-Instruct-Q4_1@llama-bpe");
}

// llama.cpp's "default" pre-type (punctuation runs split off first, then the GPT-2 pattern,
// then number runs and ASCII digits in threes), which gearbox once treated as plain gpt2.
TEST(TokenizerFamilies, DefaultPreTokenizerMatchesLlamaCpp) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  const auto bytes = tokenizer_only(*smollm_file(), "default");
  auto f = GgufFile::parse(bytes, "smollm2-vocab-default.gguf");
  expect_ids_as_llama_cpp(*Tokenizer::from_gguf(*f), "SmolLM2-135M-Instruct-Q4_1@default");
}

TEST(TokenizerFamilies, Gemma3SentencePieceMatchesLlamaCpp) {
  REQUIRE_MODEL("gemma-3-270m-Q4_K_M.gguf");
  auto f = GgufFile::open(*serve::testing::find_model_file("gemma-3-270m-Q4_K_M.gguf"));
  expect_ids_as_llama_cpp(*Tokenizer::from_gguf(*f), "gemma-3-270m-Q4_K_M");
}

TEST(TokenizerFamilies, UnknownPreTokenizerIsRefusedNamingTheField) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  const auto bytes = tokenizer_only(*smollm_file(), "tekken");
  auto f = GgufFile::parse(bytes, "smollm2-vocab-tekken.gguf");
  try {
    Tokenizer::from_gguf(*f);
    FAIL() << "an unknown pre-tokenizer was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.field_name(), "tokenizer.ggml.pre");
    EXPECT_NE(what.find("tekken"), std::string::npos) << what;
    EXPECT_NE(what.find("smollm2-vocab-tekken.gguf"), std::string::npos) << what;
    EXPECT_NE(what.find("qwen2"), std::string::npos) << "should list what is known: " << what;
  }
}

TEST(TokenizerFamilies, ChatMlTemplateRendersAsJinja) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  expect_chat_as_jinja(*Tokenizer::from_gguf(*smollm_file()), "SmolLM2-135M-Instruct-Q4_1");
}

// The Gemma 3 270M GGUF carries no chat template: Gemma 3's (as google/gemma-3 ships it, in the
// reference) is put into a vocabulary-only file; rendering is text, whatever the vocabulary.
TEST(TokenizerFamilies, GemmaTemplateRendersAsJinja) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  const Json& chat = reference()["models"]["gemma-3-270m-Q4_K_M"]["chat"];
  ASSERT_TRUE(chat.is_object());
  const auto bytes = tokenizer_only(*smollm_file(), "smollm", chat["template"]);
  auto f = GgufFile::parse(bytes, "gemma3-template.gguf");
  expect_chat_as_jinja(*Tokenizer::from_gguf(*f), "gemma-3-270m-Q4_K_M");
}

// The built-in llama3 template as llama.cpp's (llm_chat_apply_template, LLAMA_3): turns with
// their content trimmed, the generation prompt, and no <|begin_of_text|>: the BOS is the
// vocabulary's to add when the text is encoded, so a Llama 3 GGUF (add_bos_token true) gets one.
TEST(TokenizerFamilies, Llama3TemplateRendersAsLlamaCppsBuiltIn) {
  const ChatMessage msgs[] = {{"system", "Be brief. "}, {"user", "  Hi there\n"}};
  EXPECT_EQ(render_chat_template("llama3", msgs, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_chat_template("llama3", msgs, false).find("<|begin_of_text|>"),
            std::string::npos);
}

TEST(TokenizerFamilies, UnknownChatTemplateIsRefusedNamingTheField) {
  REQUIRE_MODEL("SmolLM2-135M-Instruct-Q4_1.gguf");
  const auto bytes = tokenizer_only(*smollm_file(), "smollm",
                                    "{% for m in messages %}{{ m.content }}{% endfor %}");
  auto f = GgufFile::parse(bytes, "odd-template.gguf");
  const auto tok = Tokenizer::from_gguf(*f);
  const ChatMessage msgs[] = {{"user", "hi"}};
  try {
    tok->apply_chat_template(msgs, true);
    FAIL() << "an unknown chat template was rendered";
  } catch (const Error& e) {
    EXPECT_EQ(e.field_name(), "tokenizer.chat_template");
  }
}

}  // namespace
}  // namespace gearbox::serve
