// Tokenizers from GGUF metadata: SentencePiece (stories260K) and GPT-2 byte-level BPE
// (SmolLM2, skipped when absent), round trips, known tokens, special tokens, chat template,
// streaming detokenization of split UTF-8.
#include <gtest/gtest.h>

#include <filesystem>

#include "../model_files.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/model/model_registry.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::serve {
namespace {

std::unique_ptr<Tokenizer> load(const std::string& name) {
  return Tokenizer::from_gguf(*GgufFile::open(resolve_model(name)));
}

// Skips the test when the SmolLM2 file is absent (fails under GEARBOX_REQUIRE_DATA=1), then
// loads its tokenizer: a present file that does not load fails the test.
#define SMOLLM_TOKENIZER_OR_SKIP(var)                                                 \
  const auto var##_path = gearbox::test::find_model_file(gearbox::test::kSmolLmFile); \
  GEARBOX_REQUIRE_FILE(var##_path);                                                   \
  const auto var = Tokenizer::from_gguf(*GgufFile::open(var##_path))

const char* kTexts[] = {
    "Once upon a time, there was a little girl named Lily.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew lines\n\n",
    "numbers 12345 and 3.14159, symbols #$%&*!?",
    "naïve café, Grüße, 日本語, emoji 🙂",
    "",
};

TEST(SpmTokenizer, RoundTripsAndKnownPieces) {
  const auto t = load("stories260K");
  EXPECT_EQ(t->kind(), "llama");
  EXPECT_EQ(t->n_vocab(), 512);
  EXPECT_EQ(t->bos(), 1);
  EXPECT_EQ(t->eos(), 2);
  EXPECT_TRUE(t->add_bos());
  for (const char* s : kTexts) {
    const auto ids = t->encode(s, true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(t->decode(ids), s) << s;
  }
  EXPECT_EQ(t->encode("", true), std::vector<std::int32_t>{1});
  // Known pieces: a space becomes "▁", bytes outside the vocabulary fall back to <0xNN>.
  const auto ids = t->encode("Once", false);
  std::string joined;
  for (auto id : ids) joined += t->piece(id);
  EXPECT_EQ(joined, "\xE2\x96\x81Once");
  const auto emoji = t->encode("🙂", false);
  ASSERT_GE(emoji.size(), 4u);
  EXPECT_EQ(t->piece(emoji[emoji.size() - 4]), "<0xF0>");
  EXPECT_TRUE(t->is_end_of_generation(2));
  EXPECT_FALSE(t->is_end_of_generation(100));
  EXPECT_THROW(t->token_bytes(512), Error);
}

TEST(BpeTokenizer, RoundTripsKnownTokensAndSpecials) {
  SMOLLM_TOKENIZER_OR_SKIP(t);
  EXPECT_EQ(t->kind(), "gpt2");
  EXPECT_FALSE(t->add_bos());
  for (const char* s : kTexts) EXPECT_EQ(t->decode(t->encode(s, false)), s) << s;
  // Known tokens: whole words with their leading space (Ġ), digits one by one.
  const auto hw = t->encode("Hello world", false);
  ASSERT_EQ(hw.size(), 2u);
  EXPECT_EQ(t->piece(hw[0]), "Hello");
  EXPECT_EQ(t->piece(hw[1]), "\xC4\xA0world");
  const auto digits = t->encode("2024", false);
  ASSERT_EQ(digits.size(), 4u);
  EXPECT_EQ(t->piece(digits[0]), "2");
  // Special tokens are text unless parse_special.
  const auto plain = t->encode("<|im_start|>", false);
  EXPECT_GT(plain.size(), 1u);
  const auto special = t->encode("<|im_start|>user\nhi<|im_end|>", false, true);
  EXPECT_EQ(special.front(), t->find_piece("<|im_start|>"));
  EXPECT_EQ(special.back(), t->find_piece("<|im_end|>"));
  EXPECT_TRUE(t->is_end_of_generation(t->find_piece("<|im_end|>")));
  EXPECT_TRUE(t->is_end_of_generation(t->find_piece("<|endoftext|>")));
  EXPECT_EQ(t->token_bytes(t->find_piece("<|im_end|>")), "");
}

TEST(BpeTokenizer, LongWordsEncodeInLinearishTime) {
  SMOLLM_TOKENIZER_OR_SKIP(t);
  const std::string word(200000, 'a');  // no pre-tokenizer split: one 200 KB word
  const auto ids = t->encode(word, false);
  EXPECT_LT(ids.size(), word.size() / 2);
  EXPECT_EQ(t->decode(ids), word);
}

TEST(BpeTokenizer, SmolLm2ChatTemplate) {
  SMOLLM_TOKENIZER_OR_SKIP(t);
  const ChatMessage user[] = {{"user", "Hi!"}};
  EXPECT_EQ(t->apply_chat_template(user, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n");
  const ChatMessage conv[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}};
  EXPECT_EQ(t->apply_chat_template(conv, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello<|im_end|>\n");
  const ChatMessage bad[] = {{"robot", "x"}};
  EXPECT_THROW(t->apply_chat_template(bad, true), Error);
}

TEST(Detokenize, HoldsSplitUtf8UntilComplete) {
  const auto t = load("stories260K");
  const auto ids = t->encode("é🙂", false);  // both fall back to bytes
  DetokenizeStream s(*t);
  std::string out;
  std::size_t emitted_pieces = 0;
  for (auto id : ids) {
    const std::string piece = s.push(id);
    if (!piece.empty()) ++emitted_pieces;
    out += piece;
  }
  out += s.flush();
  EXPECT_EQ(out, "é🙂");
  EXPECT_LE(emitted_pieces, 3u);  // " "/"é" and "🙂" come out whole, never half characters
}

}  // namespace
}  // namespace gearbox::serve
