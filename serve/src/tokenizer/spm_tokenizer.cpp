#include "spm_tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <queue>

#include "gearbox/core/error.hpp"
#include "utf8.hpp"

namespace gearbox::serve {

namespace {
constexpr std::int32_t kTypeUnknown = 2, kTypeControl = 3, kTypeUserDefined = 4, kTypeUnused = 5,
                       kTypeByte = 6;
const std::string kSpace = "\xE2\x96\x81";  // U+2581 "▁"

struct Symbol {
  int prev, next;
  std::size_t start, len;
};
struct Bigram {
  int left, right;
  float score;
  std::size_t len;
  bool operator<(const Bigram& o) const {  // max-heap: higher score, then leftmost
    return score < o.score || (score == o.score && left > o.left);
  }
};
}  // namespace

SpmTokenizer::SpmTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                           std::vector<std::int32_t> types, bool add_space_prefix)
    : scores_(std::move(scores)), add_space_prefix_(add_space_prefix) {
  pieces_ = std::move(pieces);
  token_type_ = std::move(types);
  index_.reserve(pieces_.size());
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    index_.emplace(pieces_[i], static_cast<std::int32_t>(i));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = index_.find(name);
    byte_tokens_[b] = it == index_.end() ? -1 : it->second;
  }
  index_pieces();
  std::vector<std::int32_t> user;
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    if (token_type_[i] == kTypeUserDefined && !pieces_[i].empty())
      user.push_back(static_cast<std::int32_t>(i));
  user_ = matcher_of(std::move(user));
}

void SpmTokenizer::encode_fragment(std::string_view text, std::vector<std::int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> sym;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8::seq_len(text, i);
    sym.push_back({static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1, i, n});
    i += n;
  }
  sym.back().next = -1;
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const std::string_view s =
        text.substr(sym[static_cast<std::size_t>(l)].start,
                    sym[static_cast<std::size_t>(l)].len + sym[static_cast<std::size_t>(r)].len);
    auto it = index_.find(std::string(s));
    if (it == index_.end()) return;
    queue.push({l, r, scores_[static_cast<std::size_t>(it->second)], s.size()});
  };
  for (std::size_t i = 1; i < sym.size(); ++i)
    try_add(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[static_cast<std::size_t>(b.left)];
    Symbol& r = sym[static_cast<std::size_t>(b.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<std::size_t>(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next) {
    const Symbol& s = sym[static_cast<std::size_t>(i)];
    const std::string piece(text.substr(s.start, s.len));
    auto it = index_.find(piece);
    if (it != index_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (const char c : piece) {  // byte fallback (unknown token when the vocab has no bytes)
      const std::int32_t t = byte_tokens_[static_cast<unsigned char>(c)];
      out.push_back(t >= 0 ? t : 0);
    }
  }
}

std::vector<std::int32_t> SpmTokenizer::encode(std::string_view text, bool add_bos,
                                               bool parse_special) const {
  std::vector<std::int32_t> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  std::vector<std::pair<std::string_view, std::int32_t>> parts;
  if (parse_special)
    parts = split_special(text);
  else if (!text.empty())
    parts.emplace_back(text, -1);
  // User-defined tokens are matched in plain text too, as llama.cpp does.
  if (!user_.ids.empty()) {
    std::vector<std::pair<std::string_view, std::int32_t>> split;
    for (const auto& [frag, id] : parts) {
      if (id >= 0) {
        split.emplace_back(frag, id);
        continue;
      }
      for (const auto& p : split_matches(frag, user_)) split.push_back(p);
    }
    parts = std::move(split);
  }
  // As llama.cpp: the space prefix goes in front of the text and of every run of text that
  // follows a token matched whole (control, user-defined, unknown), not only the first.
  bool after_token = true;
  for (const auto& [frag, id] : parts) {
    if (id >= 0) {
      out.push_back(id);
      after_token = true;
      continue;
    }
    std::string s;
    s.reserve(frag.size() + 3);
    if (add_space_prefix_ && after_token) s += kSpace;
    after_token = false;
    for (const char c : frag) {
      if (c == ' ')
        s += kSpace;
      else
        s += c;
    }
    encode_fragment(s, out);
  }
  return out;
}

std::string SpmTokenizer::token_bytes(std::int32_t id) const {
  const std::string& p = piece(id);
  const auto type = token_type_[static_cast<std::size_t>(id)];
  if (type == kTypeControl || type == kTypeUnknown || type == kTypeUnused) return "";
  if (type == kTypeByte && p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
      std::isxdigit(static_cast<unsigned char>(p[3])) &&
      std::isxdigit(static_cast<unsigned char>(p[4])))
    return std::string(1, static_cast<char>(std::strtol(p.substr(3, 2).c_str(), nullptr, 16)));
  if (type == kTypeUserDefined) return p;
  std::string out;
  out.reserve(p.size());
  for (std::size_t i = 0; i < p.size();) {
    if (p.compare(i, 3, kSpace) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += p[i++];
    }
  }
  return out;
}

}  // namespace gearbox::serve
