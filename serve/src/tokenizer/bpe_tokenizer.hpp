// GPT-2-style byte-level BPE tokenizer (`gpt2` in GGUF): bytes are mapped to printable code
// points, text is pre-split into words by the model's pre-tokenizer (tokenizer.ggml.pre:
// GPT-2's pattern, with digits split one by one for SmolLM and others, or the GPT-4-style
// pattern of Llama 3 and Qwen2; pre_tokenizer.hpp), and each word is merged by merge rank.
#pragma once

#include <unordered_map>

#include "gearbox/serve/tokenizer/tokenizer.hpp"
#include "pre_tokenizer.hpp"

namespace gearbox::serve {

class BpeTokenizer final : public Tokenizer {
 public:
  // `merges`: "left right" strings, rank = index; `pre`: the pre-tokenizer (kept by value).
  BpeTokenizer(std::vector<std::string> pieces, std::vector<std::int32_t> types,
               const std::vector<std::string>& merges, const PreTokenizer& pre,
               const std::string& origin);
  const std::string& kind() const override { return kind_; }
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos,
                                   bool parse_special) const override;
  std::string token_bytes(std::int32_t id) const override;

 private:
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;
  void encode_fragment(std::string_view text, std::vector<std::int32_t>& out) const;
  std::string kind_ = "gpt2";
  std::unordered_map<std::string, std::int32_t> index_;
  std::unordered_map<std::string, int> merge_rank_;
  std::string byte_to_cp_[256];  // UTF-8 of the code point standing for each byte
  std::unordered_map<std::uint32_t, std::uint8_t> cp_to_byte_;
  PreTokenizer pre_;
};

}  // namespace gearbox::serve
