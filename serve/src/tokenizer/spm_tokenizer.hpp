// SentencePiece-style tokenizer (`llama` in GGUF): greedy merging of adjacent pieces by the
// highest vocabulary score, byte fallback to <0xNN> tokens, "▁" standing for spaces.
#pragma once

#include <unordered_map>

#include "gearbox/serve/tokenizer/tokenizer.hpp"

namespace gearbox::serve {

class SpmTokenizer final : public Tokenizer {
 public:
  // `scores`: one per piece; add_space_prefix: put "▁" before the text (SentencePiece default).
  SpmTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
               std::vector<std::int32_t> types, bool add_space_prefix);
  const std::string& kind() const override { return kind_; }
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos,
                                   bool parse_special) const override;
  std::string token_bytes(std::int32_t id) const override;
  bool strips_leading_space() const override { return add_space_prefix_; }

 private:
  void encode_fragment(std::string_view text, std::vector<std::int32_t>& out) const;
  std::string kind_ = "llama";
  std::vector<float> scores_;
  std::unordered_map<std::string, std::int32_t> index_;
  std::int32_t byte_tokens_[256];
  bool add_space_prefix_;
  // User-defined tokens, which llama.cpp matches in any text (Gemma's whitespace runs "  ",
  // "\n\n", ...): plain text is split at them by split_matches(text, user_).
  PieceMatcher user_;
};

}  // namespace gearbox::serve
