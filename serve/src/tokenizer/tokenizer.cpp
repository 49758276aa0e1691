#include "gearbox/serve/tokenizer/tokenizer.hpp"

#include <algorithm>

#include "bpe_tokenizer.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "spm_tokenizer.hpp"
#include "utf8.hpp"

namespace gearbox::serve {

namespace {
constexpr std::int32_t kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeUserDefined = 4;

std::int32_t token_id(const GgufFile& f, const char* key, std::size_t n_vocab) {
  const auto v = f.get_int(key);
  if (!v) return -1;
  if (*v < 0 || static_cast<std::uint64_t>(*v) >= n_vocab) return -1;  // "none" (e.g. 2^32-1)
  return static_cast<std::int32_t>(*v);
}
}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  const auto model = f.get_string("tokenizer.ggml.model");
  if (!model)
    throw Error::input("no tokenizer in model file").at(f.origin()).field("tokenizer.ggml.model");
  const auto* tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty())
    throw Error::input("no vocabulary in model file").at(f.origin()).field("tokenizer.ggml.tokens");
  if (tokens->size() > (1u << 24))
    throw Error::input("vocabulary too large")
        .at(f.origin())
        .field("tokenizer.ggml.tokens")
        .found(std::to_string(tokens->size()));
  const std::size_t n = tokens->size();
  std::vector<std::int32_t> types(n, kTypeNormal);
  if (const auto* t = f.get_number_array("tokenizer.ggml.token_type")) {
    if (t->size() != n)
      throw Error::input("token types do not match the vocabulary")
          .at(f.origin())
          .field("tokenizer.ggml.token_type")
          .expected(std::to_string(n))
          .found(std::to_string(t->size()));
    for (std::size_t i = 0; i < n; ++i) types[i] = static_cast<std::int32_t>((*t)[i]);
  }
  std::unique_ptr<Tokenizer> tok;
  if (*model == "llama") {
    std::vector<float> scores(n, 0.0f);
    if (const auto* s = f.get_number_array("tokenizer.ggml.scores")) {
      if (s->size() != n)
        throw Error::input("token scores do not match the vocabulary")
            .at(f.origin())
            .field("tokenizer.ggml.scores")
            .expected(std::to_string(n))
            .found(std::to_string(s->size()));
      for (std::size_t i = 0; i < n; ++i) scores[i] = static_cast<float>((*s)[i]);
    }
    const bool prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    tok = std::make_unique<SpmTokenizer>(*tokens, std::move(scores), types, prefix);
    tok->add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
  } else if (*model == "gpt2") {
    const auto* merges = f.get_string_array("tokenizer.ggml.merges");
    if (!merges)
      throw Error::input("BPE tokenizer without merges")
          .at(f.origin())
          .field("tokenizer.ggml.merges");
    // The pre-tokenizers implemented (pre_tokenizer.hpp, llama.cpp's names). Any other is
    // refused rather than guessed.
    const std::string pre = f.get_string("tokenizer.ggml.pre").value_or("default");
    const PreTokenizer* pt = find_pre_tokenizer(pre);
    if (!pt)
      throw Error::input("unsupported pre-tokenizer")
          .at(f.origin())
          .field("tokenizer.ggml.pre")
          .expected("one of " + pre_tokenizer_names())
          .found(pre);
    tok = std::make_unique<BpeTokenizer>(*tokens, types, *merges, *pt, f.origin());
    tok->add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(false);
  } else {
    throw Error::input("unsupported tokenizer")
        .at(f.origin())
        .field("tokenizer.ggml.model")
        .expected("llama or gpt2")
        .found(*model);
  }
  tok->bos_ = token_id(f, "tokenizer.ggml.bos_token_id", n);
  tok->eos_ = token_id(f, "tokenizer.ggml.eos_token_id", n);
  if (tok->bos_ < 0) tok->add_bos_ = false;
  tok->add_eos_ = tok->eos_ >= 0 && f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  tok->chat_template_ = f.get_string("tokenizer.chat_template").value_or("");
  if (tok->eos_ >= 0) tok->end_tokens_.push_back(tok->eos_);
  if (const auto eot = token_id(f, "tokenizer.ggml.eot_token_id", n); eot >= 0)
    tok->end_tokens_.push_back(eot);
  for (const char* s : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"}) {
    const auto id = tok->find_piece(s);
    if (id >= 0 && tok->is_control(id)) tok->end_tokens_.push_back(id);
  }
  std::sort(tok->end_tokens_.begin(), tok->end_tokens_.end());
  tok->end_tokens_.erase(std::unique(tok->end_tokens_.begin(), tok->end_tokens_.end()),
                         tok->end_tokens_.end());
  return tok;
}

std::vector<std::int32_t> Tokenizer::encode_prompt(std::string_view text,
                                                   bool parse_special) const {
  auto ids = encode(text, add_bos_, parse_special);
  if (add_eos_) ids.push_back(eos_);
  return ids;
}

void Tokenizer::index_pieces() {
  sorted_pieces_.clear();
  sorted_pieces_.reserve(pieces_.size());
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    sorted_pieces_.emplace_back(pieces_[i], static_cast<std::int32_t>(i));
  std::sort(sorted_pieces_.begin(), sorted_pieces_.end());
  std::vector<std::int32_t> ids;
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    if (is_matched_whole(static_cast<std::int32_t>(i)) && !pieces_[i].empty())
      ids.push_back(static_cast<std::int32_t>(i));
  special_ = matcher_of(std::move(ids));
  // Every special token we know starts with '<' or '['; others are not matched as special.
  special_.may_start.fill(false);
  special_.may_start[static_cast<unsigned char>('<')] = true;
  special_.may_start[static_cast<unsigned char>('[')] = true;
}

Tokenizer::PieceMatcher Tokenizer::matcher_of(std::vector<std::int32_t> ids) const {
  PieceMatcher m;
  std::stable_sort(ids.begin(), ids.end(), [&](std::int32_t a, std::int32_t b) {
    return pieces_[static_cast<std::size_t>(a)].size() >
           pieces_[static_cast<std::size_t>(b)].size();
  });
  for (const auto id : ids)
    m.may_start[static_cast<unsigned char>(pieces_[static_cast<std::size_t>(id)][0])] = true;
  m.ids = std::move(ids);
  return m;
}

std::vector<std::pair<std::string_view, std::int32_t>> Tokenizer::split_matches(
    std::string_view text, const PieceMatcher& m) const {
  std::vector<std::pair<std::string_view, std::int32_t>> out;
  std::size_t start = 0, i = 0;
  while (i < text.size()) {
    std::int32_t hit = -1;
    if (m.may_start[static_cast<unsigned char>(text[i])])
      for (const auto id : m.ids) {
        const auto& p = pieces_[static_cast<std::size_t>(id)];
        if (text.compare(i, p.size(), p) == 0) {
          hit = id;
          break;
        }
      }
    if (hit < 0) {
      ++i;
      continue;
    }
    if (i > start) out.emplace_back(text.substr(start, i - start), -1);
    const std::size_t n = pieces_[static_cast<std::size_t>(hit)].size();
    out.emplace_back(text.substr(i, n), hit);
    i += n;
    start = i;
  }
  if (start < text.size()) out.emplace_back(text.substr(start), -1);
  return out;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids) const {
  DetokenizeStream s(*this);
  std::string out;
  for (const auto id : ids) out += s.push(id);
  out += s.flush();
  return out;
}

const std::string& Tokenizer::piece(std::int32_t id) const {
  if (id < 0 || id >= n_vocab())
    throw Error::input("token id out of range")
        .expected("0.." + std::to_string(n_vocab() - 1))
        .found(std::to_string(id));
  return pieces_[static_cast<std::size_t>(id)];
}

std::int32_t Tokenizer::find_piece(std::string_view p) const {
  auto it = std::lower_bound(sorted_pieces_.begin(), sorted_pieces_.end(), p,
                             [](const auto& a, std::string_view b) { return a.first < b; });
  return it != sorted_pieces_.end() && it->first == p ? it->second : -1;
}

bool Tokenizer::is_end_of_generation(std::int32_t id) const {
  return std::binary_search(end_tokens_.begin(), end_tokens_.end(), id);
}

bool Tokenizer::is_control(std::int32_t id) const {
  return id >= 0 && id < n_vocab() && token_type_[static_cast<std::size_t>(id)] == kTypeControl;
}

bool Tokenizer::is_matched_whole(std::int32_t id) const {
  if (id < 0 || id >= n_vocab()) return false;
  const auto type = token_type_[static_cast<std::size_t>(id)];
  return type == kTypeControl || type == kTypeUnknown || type == kTypeUserDefined;
}

std::string Tokenizer::prompt_spelling(std::int32_t id) const {
  const bool no_text =
      is_control(id) ||
      (id >= 0 && id < n_vocab() && token_type_[static_cast<std::size_t>(id)] == kTypeUnknown);
  return no_text ? piece(id) : token_bytes(id);
}

std::string DetokenizeStream::push(std::int32_t id) {
  std::string piece = tok_.token_bytes(id);
  if (first_ && !piece.empty()) {
    first_ = false;
    if (tok_.strips_leading_space() && piece[0] == ' ') piece.erase(0, 1);
  }
  pending_ += piece;
  // Emit all complete characters; hold back an unfinished one at the end.
  const std::size_t hold = utf8::incomplete_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string DetokenizeStream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace gearbox::serve
