// Tokenizers built from GGUF metadata (tokenizer.ggml.*): SentencePiece-style `llama`
// (scores, byte fallback <0xNN>, "▁" for spaces) and GPT-2 byte-level BPE `gpt2` (merges,
// byte-to-unicode mapping, pre-tokenizer split). Special tokens (BOS/EOS/EOT, control tokens)
// and the model's chat template.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gearbox::serve {

class GgufFile;

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

class Tokenizer {
 public:
  // Reads the tokenizer from `file`. Throws Error::input naming the key when the vocabulary,
  // scores, merges or token types are missing or inconsistent, or the model is unknown.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);
  virtual ~Tokenizer() = default;

  // "llama" or "gpt2" (tokenizer.ggml.model).
  virtual const std::string& kind() const = 0;
  int n_vocab() const { return static_cast<int>(pieces_.size()); }

  // Token ids for `text` (UTF-8; invalid bytes are encoded as bytes, and a byte that has no
  // token in a byte-level BPE vocabulary, e.g. 0xFF in SmolLM2's, is dropped: then
  // decode(encode(text)) lacks it; llama.cpp gives U+FFFD's token there instead). add_bos
  // prepends BOS
  // when the model uses one; parse_special turns the text of control tokens such as
  // "<|im_start|>" into their ids (only for trusted text such as chat templates).
  virtual std::vector<std::int32_t> encode(std::string_view text, bool add_bos,
                                           bool parse_special = false) const = 0;
  // The bytes of one token as it appears in text (control tokens such as BOS, EOS,
  // <|im_end|> give ""); may be part of a UTF-8 character. Throws Error::input for an
  // out-of-range id.
  virtual std::string token_bytes(std::int32_t id) const = 0;
  // Concatenated bytes of `ids` (SentencePiece: the space that encode() put in front of the
  // text is removed from the first text token).
  std::string decode(std::span<const std::int32_t> ids) const;

  // True when encode() puts a space in front of the text that decode() removes again.
  virtual bool strips_leading_space() const { return false; }

  // The raw vocabulary string of a token (as stored in the file).
  const std::string& piece(std::int32_t id) const;
  // The id of the vocabulary entry spelled exactly `piece`, or -1.
  std::int32_t find_piece(std::string_view piece) const;

  // The ids of a plain-text prompt as llama.cpp makes them: encode(text) with BOS in front
  // when the file's tokenizer.ggml.add_bos_token says so (SentencePiece default: yes, BPE:
  // no) and EOS at the end when add_eos_token does (default no); parse_special as encode()'s
  // (llama.cpp's servers parse a prompt's control tokens, its CLI tools do not by default).
  std::vector<std::int32_t> encode_prompt(std::string_view text, bool parse_special = false) const;

  std::int32_t bos() const { return bos_; }  // -1 when none
  std::int32_t eos() const { return eos_; }  // -1 when none
  bool add_bos() const { return add_bos_; }  // whether prompts start with BOS
  bool add_eos() const { return add_eos_; }  // whether prompts end with EOS
  // True for tokens that end generation (EOS, EOT, <|im_end|>, <|endoftext|>, ...).
  bool is_end_of_generation(std::int32_t id) const;
  // True for control tokens (not normal text).
  bool is_control(std::int32_t id) const;
  // True for the tokens a text prompt's spelling is matched to whole, before the rest is
  // encoded (control, unknown and user-defined tokens, as llama.cpp's special tokens): the
  // text after one is encoded as a fresh run (a SentencePiece space prefix in front).
  bool is_matched_whole(std::int32_t id) const;
  // How `id` is spelled in a text prompt: control and unknown tokens (no text of their own)
  // their piece, any other its token_bytes().
  std::string prompt_spelling(std::int32_t id) const;

  // The Jinja chat template stored in the file ("" when none).
  const std::string& chat_template() const { return chat_template_; }
  // Renders `messages` with the model's template family (ChatML, as SmolLM2 and Qwen use,
  // Llama-2 [INST], Llama-3, Gemma are recognised from the template text). Throws
  // Error::input when the file has no template or one of an unknown family.
  std::string apply_chat_template(std::span<const ChatMessage> messages,
                                  bool add_generation_prompt) const;

 protected:
  Tokenizer() = default;
  std::vector<std::string> pieces_;
  std::vector<std::int32_t> token_type_;  // GGUF token types (1 normal, 3 control, 6 byte,..)
  std::int32_t bos_ = -1, eos_ = -1;
  bool add_bos_ = false, add_eos_ = false;
  std::vector<std::int32_t> end_tokens_;
  std::string chat_template_;
  std::vector<std::pair<std::string, std::int32_t>> sorted_pieces_;  // for find_piece()
  // Tokens matched verbatim in text: their ids, longest text first, tried only where the text's
  // byte may start one of them.
  struct PieceMatcher {
    std::vector<std::int32_t> ids;
    std::array<bool, 256> may_start{};
  };
  PieceMatcher special_;  // control/user-defined tokens, tried at '<' and '[' only
  void index_pieces();
  // A matcher over `ids` (any order), each match allowed to begin at its own first byte.
  PieceMatcher matcher_of(std::vector<std::int32_t> ids) const;
  // Splits `text` into runs of plain text (id -1) and the tokens `m` matches (their id).
  std::vector<std::pair<std::string_view, std::int32_t>> split_matches(std::string_view text,
                                                                       const PieceMatcher& m) const;
  // split_matches over the special tokens.
  std::vector<std::pair<std::string_view, std::int32_t>> split_special(
      std::string_view text) const {
    return split_matches(text, special_);
  }
};

// Turns a stream of tokens into valid UTF-8 text pieces: bytes of a character split over
// tokens are held back until it is complete (for streaming output).
class DetokenizeStream {
 public:
  explicit DetokenizeStream(const Tokenizer& tok) : tok_(tok) {}
  // The text that is complete after `id` (possibly empty).
  std::string push(std::int32_t id);
  // Whatever is held back (incomplete UTF-8 at the end is returned as is).
  std::string flush();

 private:
  const Tokenizer& tok_;
  std::string pending_;
  bool first_ = true;
};

// The chat templates built in by name (`serve run --chat-template NAME`, spelled as llama.cpp's
// llama-server spells them): chatml, gemma, llama2, llama3.
const std::vector<std::string>& builtin_chat_template_names();
// True when render_chat_template() renders `tmpl`: a built-in name, or a Jinja template whose
// text carries the markers of one of those families.
bool is_renderable_chat_template(std::string_view tmpl);
// `messages` rendered with `tmpl` (a built-in name or a Jinja template of a family we render;
// a ChatML template that adds a default system message has it added). Throws Error::input
// for a role other than system/user/assistant, an empty template or an unknown family.
std::string render_chat_template(std::string_view tmpl, std::span<const ChatMessage> messages,
                                 bool add_generation_prompt);

}  // namespace gearbox::serve
